#include "bench/coffer_bench/stats.h"

#include <algorithm>
#include <cmath>

namespace coffer::bench {

uint32_t NearestRank(const std::vector<uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size()) - 1e-9));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

Percentiles Summarize(const std::vector<uint32_t>& samples) {
  Percentiles p;
  if (samples.empty()) return p;
  std::vector<uint32_t> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  p.count = sorted.size();
  p.p50 = NearestRank(sorted, 0.50);
  p.p90 = NearestRank(sorted, 0.90);
  p.p99 = NearestRank(sorted, 0.99);
  p.p999 = NearestRank(sorted, 0.999);
  p.max = sorted.back();
  double sum = 0;
  for (uint32_t v : sorted) sum += v;
  p.mean = sum / static_cast<double>(sorted.size());
  return p;
}

}  // namespace coffer::bench
