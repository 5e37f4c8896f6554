// The timeline picture of a coffer-chaos run: panels stacked on one x axis
// (seconds since start): ops/s (ok, fail, unknown per 1 s bucket), ok latency
// (p50, p99, max ms per bucket), errors by non-OK code per bucket, and one lane
// per node colored by its sampled state (restricted mode hatched). Faults are
// translucent bands over every panel, labelled at the top (instant: a line).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tests/chaos/history.h"

namespace coffer::chaos {

// Operations are counted in buckets of one second: bucket i holds the events
// with i <= t < i + 1 (t < 0 counts in bucket 0). Events at or after
// kMaxTimelineSeconds, and events with a non-finite t, are left out, so a
// corrupt time cannot make the picture unbounded.
inline constexpr double kMaxTimelineSeconds = 100000;

// Per-bucket figures of a run's operations. Every vector has one entry per
// bucket, from bucket 0 to the bucket of the last event drawn (any type);
// empty when there is none.
struct TimelineBuckets {
  std::vector<double> ok, fail, unknown;  // events of that type per bucket
  // Latencies (ms) of the ok events in the bucket: p50 and p99 by nearest
  // rank, and the max; -1 where the bucket has no ok event (a gap when drawn).
  std::vector<double> p50_ms, p99_ms, max_ms;
  // Every non-OK code of a fail or unknown event ("" is named "(none)"): its
  // count per bucket.
  std::map<std::string, std::vector<double>> errors;
};

TimelineBuckets BucketOps(const std::vector<OpEvent>& ops);

// A self-contained SVG document (no scripts, no external references). Every
// number in it is finite; text from the history is escaped (and invalid UTF-8
// or control characters replaced). An empty history gives a valid document
// saying "no operations". Series polylines carry their figures for tools and
// tests: <g class="series" data-name="ok" data-values="3 0 1">...</g>
// (gaps written as "-"); each fault is one <g class="fault">, each node lane
// one <g class="lane">.
std::string RenderTimelineSvg(const History& history, const std::string& title);

// An HTML page: the SVG above inline, a table of the faults (start, end,
// scenario, fault, nodes; one <tr class="fault-row"> each) and a summary of
// the operations by type and by code.
std::string RenderTimelineHtml(const History& history, const std::string& title);

// Text is escaped with XmlEscape (common/svg_text.h).

}  // namespace coffer::chaos
