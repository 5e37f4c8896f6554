// Percentiles of latency and lag samples (microseconds), as coffer-bench
// prints them: nearest rank on the sorted samples, so every figure is a
// value that was measured.
#pragma once

#include <cstdint>
#include <vector>

namespace coffer::bench {

// The sample at quantile `q` (0 < q <= 1) of `sorted` (ascending) by the
// nearest-rank rule: the ceil(q * n)-th smallest; 0 for no samples.
uint32_t NearestRank(const std::vector<uint32_t>& sorted, double q);

struct Percentiles {
  uint64_t count = 0;
  uint32_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  double mean = 0;
};

// Summarises `samples` (unsorted; the caller's vector is left alone).
Percentiles Summarize(const std::vector<uint32_t>& samples);

}  // namespace coffer::bench
