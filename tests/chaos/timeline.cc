#include "tests/chaos/timeline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "common/svg_text.h"

namespace coffer::chaos {
namespace {

// Geometry (px). The header holds the title and kLabelRows rows of fault
// labels; chart panels and the node panel follow, sharing the x mapping.
constexpr double kWidth = 1000;
constexpr double kLeft = 90, kRight = 240;  // plot area: [kLeft, kWidth - kRight]
constexpr int kLabelRows = 3;
constexpr double kLabelRowHeight = 14;
constexpr double kHeaderHeight = 40 + kLabelRows * kLabelRowHeight + 8;
constexpr double kPanelTitle = 26, kPlotHeight = 120, kPanelBottom = 46;
constexpr double kLaneHeight = 18, kLaneGap = 4;
constexpr size_t kMaxLabelBytes = 48;
constexpr size_t kMaxMarkedPoints = 300;  // more buckets: lines without dots
const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
// Error codes: no green (ok) and no blue (p50), so a code never reads as success.
const char* const kErrorColors[] = {"#d62728", "#ff7f0e", "#9467bd", "#8c564b",
                                    "#e377c2", "#bcbd22", "#17becf", "#7f7f7f"};
constexpr size_t kErrorColorCount = sizeof(kErrorColors) / sizeof(kErrorColors[0]);

// A drawn coordinate: one decimal, and never NaN or infinite.
std::string Num(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

// A figure as data (data-values, tables): shortest form, finite.
std::string Figure(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

std::string Seconds(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", v);
  return buf;
}

// At most `max` bytes of `text`, not cutting a UTF-8 sequence, "..." if cut.
std::string Shorten(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

// The nearest-rank percentile of sorted, non-empty `v`.
double Percentile(const std::vector<double>& v, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

// The bucket of a time, or -1 when it is not drawn.
long BucketOf(double t) {
  if (!std::isfinite(t) || t >= kMaxTimelineSeconds) return -1;
  return t < 0 ? 0 : static_cast<long>(std::floor(t));
}

// Maps run seconds and panel values to the plot area.
struct XAxis {
  double end = 1;  // the last time of the run (seconds), > 0
  std::vector<double> ticks;
  double Map(double t) const {
    const double max = ticks.back();
    const double x = kLeft + std::clamp(t, 0.0, max) / max * (kWidth - kRight - kLeft);
    return std::isfinite(x) ? x : kLeft;
  }
};

struct Series {
  std::string name;
  const char* color;
  const std::vector<double>* values;  // per bucket; < 0 is a gap
  bool dashed = false;
};

// The vertical extent of one panel's plot area, for the fault bands.
struct PanelBox {
  double top, bottom;
};

std::string Line(double x1, double y1, double x2, double y2, const std::string& attrs) {
  return "<line x1=\"" + Num(x1) + "\" y1=\"" + Num(y1) + "\" x2=\"" + Num(x2) + "\" y2=\"" +
         Num(y2) + "\" " + attrs + "/>";
}

std::string Text(double x, double y, const std::string& attrs, const std::string& text) {
  return "<text x=\"" + Num(x) + "\" y=\"" + Num(y) + "\"" + (attrs.empty() ? "" : " " + attrs) +
         ">" + XmlEscape(text) + "</text>";
}

// The x axis ticks and label under a plot area whose bottom is `bottom`.
void DrawXAxis(std::string& svg, const XAxis& x, double top, double bottom) {
  svg += Line(kLeft, bottom, kWidth - kRight, bottom, "stroke=\"black\"") + "\n";
  for (double t : x.ticks) {
    svg += Line(x.Map(t), top, x.Map(t), bottom, "stroke=\"#eee\"");
    svg += Line(x.Map(t), bottom, x.Map(t), bottom + 5, "stroke=\"black\"");
    svg += Text(x.Map(t), bottom + 18, "text-anchor=\"middle\"", TickText(t)) + "\n";
  }
  svg += Text((kLeft + kWidth - kRight) / 2, bottom + 36, "text-anchor=\"middle\"",
              "seconds since start") +
         "\n";
}

// One chart panel from `top`: title, axes, a line per series, legend;
// `note` (if any) is written in the middle of the plot area.
PanelBox DrawChart(std::string& svg, double top, const XAxis& x, const std::string& title,
                   const std::string& y_label, const std::vector<Series>& series,
                   const std::string& note) {
  const double plot_top = top + kPanelTitle, bottom = plot_top + kPlotHeight;
  const double right = kWidth - kRight;
  double y_high = 0;
  for (const Series& s : series) {
    for (double v : *s.values) {
      if (std::isfinite(v)) y_high = std::max(y_high, v);
    }
  }
  const std::vector<double> y_ticks = NiceTicks(0, y_high > 0 ? y_high : 1, 4);
  const double y_max = y_ticks.back();
  auto sy = [&](double v) { return bottom - std::clamp(v / y_max, 0.0, 1.0) * kPlotHeight; };

  svg += "<g class=\"panel\">\n";
  svg += Text(kLeft, plot_top - 8, "font-size=\"14\"", title) + "\n";
  svg += Line(kLeft, plot_top, kLeft, bottom, "stroke=\"black\"") + "\n";
  for (double v : y_ticks) {
    svg += Line(kLeft - 5, sy(v), right, sy(v), "stroke=\"#ddd\"");
    svg += Text(kLeft - 8, sy(v) + 4, "text-anchor=\"end\"", TickText(v)) + "\n";
  }
  DrawXAxis(svg, x, plot_top, bottom);
  svg += "<text transform=\"translate(" + Num(kLeft - 60) + "," + Num((plot_top + bottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + XmlEscape(y_label) + "</text>\n";

  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const std::vector<double>& values = *s.values;
    std::string data, points;
    const std::string style = std::string("fill=\"none\" stroke=\"") + s.color +
                              "\" stroke-width=\"1.5\"" +
                              (s.dashed ? " stroke-dasharray=\"4 3\"" : "");
    std::string segments;  // a polyline per run of values without a gap
    for (size_t b = 0; b < values.size(); ++b) {
      const bool gap = !(values[b] >= 0) || !std::isfinite(values[b]);
      data += (b ? " " : "") + (gap ? std::string("-") : Figure(values[b]));
      if (gap) {
        if (!points.empty()) segments += "<polyline " + style + " points=\"" + points + "\"/>";
        points.clear();
        continue;
      }
      if (!points.empty()) points += " ";
      points += Num(x.Map(static_cast<double>(b) + 0.5)) + "," + Num(sy(values[b]));
      if (values.size() <= kMaxMarkedPoints) {
        segments += "<circle cx=\"" + Num(x.Map(static_cast<double>(b) + 0.5)) + "\" cy=\"" +
                    Num(sy(values[b])) + "\" r=\"2\" fill=\"" + s.color + "\"/>";
      }
    }
    if (!points.empty()) segments += "<polyline " + style + " points=\"" + points + "\"/>";
    svg += "<g class=\"series\" data-name=\"" + XmlEscape(s.name) + "\" data-values=\"" + data +
           "\">" + segments + "</g>\n";
    const double ly = plot_top + 8 + 18 * static_cast<double>(i);
    svg += Line(right + 15, ly, right + 40, ly,
                std::string("stroke=\"") + s.color + "\" stroke-width=\"2\"" +
                    (s.dashed ? " stroke-dasharray=\"4 3\"" : ""));
    svg += Text(right + 46, ly + 4, "class=\"legend\"", Shorten(s.name, 24)) + "\n";
  }
  if (!note.empty()) {
    svg += Text((kLeft + right) / 2, (plot_top + bottom) / 2,
                "text-anchor=\"middle\" fill=\"#888\"", note) +
           "\n";
  }
  svg += "</g>\n";
  return {plot_top, bottom};
}

// The fill of a node state; `restricted` shades it darker (and a hatch is
// laid over it by the caller).
const char* StateColor(const std::string& state) {
  if (state == "ACTIVE") return "#2ca02c";
  if (state == "DISABLING" || state == "DISABLED" || state == "ENABLING") return "#e8b41c";
  if (state == "PENDING") return "#a0a0a0";
  if (state == "down") return "#d62728";
  if (state == "stopped") return "#9467bd";
  if (state == "unreachable") return "#ff7f0e";
  return "#6baed6";  // any other state (EXPIRED, DELETED, ...)
}

bool Restricted(const std::string& mode) {
  return mode == "read-only-restricted" || mode == "restricted";
}

// The node panel: one lane per node, in order of first sample.
PanelBox DrawNodes(std::string& svg, double top, const XAxis& x,
                   const std::vector<NodeSample>& samples) {
  std::vector<std::string> nodes;
  std::map<std::string, std::vector<NodeSample>> by_node;
  for (const NodeSample& s : samples) {
    if (!std::isfinite(s.t)) continue;
    auto [it, inserted] = by_node.try_emplace(s.node);
    if (inserted) nodes.push_back(s.node);
    it->second.push_back(s);
  }
  const double plot_top = top + kPanelTitle;
  const double lanes_height =
      std::max<double>(1, static_cast<double>(nodes.size())) * (kLaneHeight + kLaneGap) + kLaneGap;
  const double bottom = plot_top + lanes_height, right = kWidth - kRight;

  svg += "<g class=\"panel\">\n";
  svg += Text(kLeft, plot_top - 8, "font-size=\"14\"", "node states") + "\n";
  DrawXAxis(svg, x, plot_top, bottom);
  if (nodes.empty()) {
    svg += Text((kLeft + right) / 2, (plot_top + bottom) / 2 + 4,
                "text-anchor=\"middle\" fill=\"#888\"", "no node samples") +
           "\n";
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    std::vector<NodeSample>& lane = by_node[nodes[n]];
    std::stable_sort(lane.begin(), lane.end(),
                     [](const NodeSample& a, const NodeSample& b) { return a.t < b.t; });
    const double y = plot_top + kLaneGap + static_cast<double>(n) * (kLaneHeight + kLaneGap);
    svg += "<g class=\"lane\" data-node=\"" + XmlEscape(nodes[n]) + "\">";
    svg += Text(kLeft - 6, y + kLaneHeight / 2 + 4, "text-anchor=\"end\"", Shorten(nodes[n], 14));
    // A segment per run of samples with one state and mode: from its first
    // sample to the next run's (the last one to the end of the run).
    for (size_t i = 0, next = 0; i < lane.size(); i = next) {
      next = i + 1;
      while (next < lane.size() && lane[next].state == lane[i].state &&
             lane[next].mode == lane[i].mode) {
        ++next;
      }
      const double from = x.Map(lane[i].t);
      const double to = x.Map(next < lane.size() ? lane[next].t : x.end);
      const double width = std::max(to - from, 1.0);
      const std::string rect = "<rect x=\"" + Num(from) + "\" y=\"" + Num(y) + "\" width=\"" +
                               Num(width) + "\" height=\"" + Num(kLaneHeight) + "\"";
      const bool restricted = Restricted(lane[i].mode);
      svg += rect + " fill=\"" + StateColor(lane[i].state) + "\"" +
             (restricted ? " fill-opacity=\"0.7\"" : "") + "><title>" +
             XmlEscape(lane[i].node + " " + lane[i].state +
                       (lane[i].mode.empty() ? "" : " (" + lane[i].mode + ")") + " from " +
                       Seconds(lane[i].t) + " s") +
             "</title></rect>";
      if (restricted) svg += rect + " fill=\"url(#restricted)\"/>";
    }
    svg += "</g>\n";
  }
  // The legend of states.
  const std::pair<const char*, const char*> legend[] = {
      {"ACTIVE", "ACTIVE"},    {"DISABLED", "DISABLING/DISABLED/ENABLING"},
      {"PENDING", "PENDING"},  {"down", "down"},
      {"stopped", "stopped"},  {"unreachable", "unreachable"},
      {"other", "other state"}};
  double ly = plot_top;
  for (const auto& [state, label] : legend) {
    svg += "<rect x=\"" + Num(right + 15) + "\" y=\"" + Num(ly) +
           "\" width=\"20\" height=\"10\" fill=\"" + StateColor(state) + "\"/>";
    svg += Text(right + 40, ly + 9, "class=\"legend\" font-size=\"11\"", label) + "\n";
    ly += 14;
  }
  svg += "<rect x=\"" + Num(right + 15) + "\" y=\"" + Num(ly) +
         "\" width=\"20\" height=\"10\" fill=\"#2ca02c\" fill-opacity=\"0.7\"/>";
  svg += "<rect x=\"" + Num(right + 15) + "\" y=\"" + Num(ly) +
         "\" width=\"20\" height=\"10\" fill=\"url(#restricted)\"/>";
  svg +=
      Text(right + 40, ly + 9, "class=\"legend\" font-size=\"11\"", "restricted mode (hatched)") +
      "\n";
  svg += "</g>\n";
  return {plot_top, std::max(bottom, ly + 14)};
}

// The fault bands over every panel, each labelled in the header.
void DrawFaults(std::string& svg, const XAxis& x, const std::vector<FaultBand>& faults,
                const std::vector<PanelBox>& panels) {
  for (size_t i = 0; i < faults.size(); ++i) {
    const FaultBand& f = faults[i];
    // Clamped to [0, end of run]: a wild time draws at an edge.
    const double start = std::isfinite(f.start) ? std::clamp(f.start, 0.0, x.end) : 0;
    double end = f.end < 0 || !std::isfinite(f.end) ? x.end : std::min(f.end, x.end);
    if (end < start) end = start;
    const double x1 = x.Map(start), x2 = x.Map(end);
    const bool instant = end == start;
    const std::string text = (f.scenario.empty() ? "" : f.scenario + ": ") + f.fault;
    svg += "<g class=\"fault\" data-start=\"" + Figure(start) + "\" data-end=\"" +
           (f.end < 0 ? std::string("open") : Figure(end)) + "\"><title>" +
           XmlEscape(text + " [" + Seconds(start) + " s, " +
                     (f.end < 0 ? std::string("end of run") : Seconds(end) + " s") + "]") +
           "</title>";
    for (const PanelBox& p : panels) {
      if (instant) {
        svg += Line(x1, p.top, x1, p.bottom,
                    "stroke=\"#d62728\" stroke-width=\"1.5\" stroke-opacity=\"0.8\"");
      } else {
        svg += "<rect x=\"" + Num(x1) + "\" y=\"" + Num(p.top) + "\" width=\"" +
               Num(std::max(x2 - x1, 1.0)) + "\" height=\"" + Num(p.bottom - p.top) +
               "\" fill=\"#d62728\" fill-opacity=\"0.12\"/>";
      }
    }
    const double label_y = 44 + kLabelRowHeight * static_cast<double>(i % kLabelRows);
    svg += Line(x1, label_y + 3, x1, panels.empty() ? label_y : panels.front().top,
                "stroke=\"#d62728\" stroke-opacity=\"0.4\"");
    svg +=
        Text(x1 + 2, label_y, "font-size=\"11\" fill=\"#a01010\"", Shorten(text, kMaxLabelBytes));
    svg += "</g>\n";
  }
}

}  // namespace

TimelineBuckets BucketOps(const std::vector<OpEvent>& ops) {
  TimelineBuckets b;
  long last = -1;
  for (const OpEvent& e : ops) last = std::max(last, BucketOf(e.t));
  const size_t count = static_cast<size_t>(last + 1);
  b.ok.assign(count, 0);
  b.fail.assign(count, 0);
  b.unknown.assign(count, 0);
  b.p50_ms.assign(count, -1);
  b.p99_ms.assign(count, -1);
  b.max_ms.assign(count, -1);
  std::vector<std::vector<double>> latencies(count);
  for (const OpEvent& e : ops) {
    const long bucket = BucketOf(e.t);
    if (bucket < 0 || e.type == EventType::kInvoke) continue;
    const auto i = static_cast<size_t>(bucket);
    if (e.type == EventType::kOk) {
      b.ok[i] += 1;
      if (std::isfinite(e.latency_ms) && e.latency_ms >= 0) latencies[i].push_back(e.latency_ms);
      continue;
    }
    (e.type == EventType::kFail ? b.fail : b.unknown)[i] += 1;
    if (e.code == "OK") continue;
    auto [it, inserted] = b.errors.try_emplace(e.code.empty() ? "(none)" : e.code);
    if (inserted) it->second.assign(count, 0);
    it->second[i] += 1;
  }
  for (size_t i = 0; i < count; ++i) {
    std::vector<double>& v = latencies[i];
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    b.p50_ms[i] = Percentile(v, 0.50);
    b.p99_ms[i] = Percentile(v, 0.99);
    b.max_ms[i] = v.back();
  }
  return b;
}

std::string RenderTimelineSvg(const History& history, const std::string& title) {
  const std::vector<OpEvent> ops = history.ops();
  const std::vector<FaultBand> faults = history.faults();
  const std::vector<NodeSample> samples = history.samples();
  const TimelineBuckets buckets = BucketOps(ops);

  // The run's end: the last bucket, sample or fault time (within the cap).
  XAxis x;
  x.end = static_cast<double>(buckets.ok.size());
  auto extend = [&](double t) {
    if (std::isfinite(t) && t < kMaxTimelineSeconds) x.end = std::max(x.end, t);
  };
  for (const NodeSample& s : samples) extend(s.t);
  for (const FaultBand& f : faults) {
    extend(f.start);
    extend(f.end);
  }
  x.end = std::max(x.end, 1.0);
  x.ticks = NiceTicks(0, x.end, 8);

  std::string body;
  std::vector<PanelBox> panels;
  double top = kHeaderHeight;
  const double chart_height = kPanelTitle + kPlotHeight + kPanelBottom;

  panels.push_back(DrawChart(body, top, x, "operations per second", "ops/s",
                             {{"ok", kColors[2], &buckets.ok},
                              {"fail", kColors[1], &buckets.fail},
                              {"unknown", kColors[3], &buckets.unknown}},
                             ops.empty() ? "no operations" : ""));
  top += chart_height;
  bool any_ok = false;
  for (double v : buckets.ok) any_ok = any_ok || v > 0;
  panels.push_back(DrawChart(body, top, x, "latency of ok operations", "ms",
                             {{"p50", kColors[0], &buckets.p50_ms},
                              {"p99", kColors[4], &buckets.p99_ms},
                              {"max", kColors[5], &buckets.max_ms, true}},
                             any_ok ? "" : "no ok operations"));
  top += chart_height;
  std::vector<Series> errors;
  for (const auto& [code, values] : buckets.errors) {
    errors.push_back({code, kErrorColors[errors.size() % kErrorColorCount], &values});
  }
  panels.push_back(DrawChart(body, top, x, "errors by code (fail and unknown)", "errors/s", errors,
                             errors.empty() ? "no errors" : ""));
  top += chart_height;
  const PanelBox nodes = DrawNodes(body, top, x, samples);
  panels.push_back(nodes);
  const double height = nodes.bottom + kPanelBottom;
  DrawFaults(body, x, faults, panels);

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(kWidth) +
                    "\" height=\"" + Num(height) + "\" viewBox=\"0 0 " + Num(kWidth) + " " +
                    Num(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg +=
      "<defs><pattern id=\"restricted\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
      "patternTransform=\"rotate(45)\"><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"black\" "
      "stroke-width=\"2\" stroke-opacity=\"0.5\"/></pattern></defs>\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += Text(kWidth / 2, 24, "text-anchor=\"middle\" font-size=\"16\"", title) + "\n";
  svg += body;
  svg += "</svg>\n";
  return svg;
}

std::string RenderTimelineHtml(const History& history, const std::string& title) {
  const std::vector<OpEvent> ops = history.ops();
  const std::vector<FaultBand> faults = history.faults();
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      XmlEscape(title) +
      "</title>\n<style>\nbody{font-family:sans-serif;margin:1em 2em}\n"
      "table{border-collapse:collapse;margin:0.5em 0 1.5em}\n"
      "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}\n"
      "td.n{text-align:right}\n</style>\n</head>\n<body>\n<h1>" +
      XmlEscape(title) + "</h1>\n";
  html += RenderTimelineSvg(history, title);

  html += "<h2>Faults</h2>\n";
  if (faults.empty()) {
    html += "<p>no faults</p>\n";
  } else {
    html +=
        "<table class=\"faults\">\n<tr><th>start (s)</th><th>end (s)</th><th>scenario</th>"
        "<th>fault</th><th>nodes</th></tr>\n";
    for (const FaultBand& f : faults) {
      std::string nodes;
      for (const std::string& n : f.nodes) nodes += (nodes.empty() ? "" : ", ") + n;
      html += "<tr class=\"fault-row\"><td class=\"n\">" + Seconds(f.start) +
              "</td><td class=\"n\">" + (f.end < 0 ? std::string("end of run") : Seconds(f.end)) +
              "</td><td>" + XmlEscape(f.scenario) + "</td><td>" + XmlEscape(f.fault) + "</td><td>" +
              XmlEscape(nodes) + "</td></tr>\n";
    }
    html += "</table>\n";
  }

  html += "<h2>Operations</h2>\n";
  if (ops.empty()) {
    html += "<p>no operations</p>\n";
  } else {
    std::map<std::string, size_t> by_type;
    std::map<std::string, std::map<std::string, size_t>> by_code;  // code -> type -> count
    for (const OpEvent& e : ops) {
      ++by_type[EventTypeName(e.type)];
      if (e.type != EventType::kInvoke) {
        ++by_code[e.code.empty() ? "(none)" : e.code][EventTypeName(e.type)];
      }
    }
    html += "<table class=\"by-type\">\n<tr><th>type</th><th>events</th></tr>\n";
    for (const char* type : {"invoke", "ok", "fail", "unknown"}) {
      html += "<tr><td>" + std::string(type) + "</td><td class=\"n\">" +
              std::to_string(by_type[type]) + "</td></tr>\n";
    }
    html +=
        "</table>\n<table class=\"by-code\">\n<tr><th>code</th><th>ok</th><th>fail</th>"
        "<th>unknown</th></tr>\n";
    for (auto& [code, types] : by_code) {
      html += "<tr><td>" + XmlEscape(code) + "</td>";
      for (const char* type : {"ok", "fail", "unknown"}) {
        html += "<td class=\"n\">" + std::to_string(types[type]) + "</td>";
      }
      html += "</tr>\n";
    }
    html += "</table>\n";
  }
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace coffer::chaos
