#include "common/edit_distance.h"

#include <algorithm>
#include <utility>

namespace coffer {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::vector<std::string> NearestWords(std::string_view word,
                                      const std::vector<std::string_view>& candidates,
                                      size_t max_distance, size_t max_results) {
  std::vector<std::pair<size_t, std::string_view>> near;
  for (std::string_view candidate : candidates) {
    size_t d = EditDistance(word, candidate);
    if (d <= max_distance) near.emplace_back(d, candidate);
  }
  std::stable_sort(near.begin(), near.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < near.size() && i < max_results; ++i) out.emplace_back(near[i].second);
  return out;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::vector<std::string> nearest = NearestWords(word, candidates, 2, 1);
  return nearest.empty() ? "" : " (did you mean '" + nearest.front() + "'?)";
}

}  // namespace coffer
