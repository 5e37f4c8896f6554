// "Did you mean" hints: the Levenshtein distance between two words, and the
// known words nearest to an unknown one. Used by the config parser (unknown
// tables and keys) and the CLI (unknown commands).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace coffer {

// The number of single-character insertions, deletions and substitutions
// that turn `a` into `b`.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidates within `max_distance` edits of `word`, nearest first (ties
// in the candidates' order), at most `max_results` of them.
std::vector<std::string> NearestWords(std::string_view word,
                                      const std::vector<std::string_view>& candidates,
                                      size_t max_distance = 2, size_t max_results = 3);

// " (did you mean 'x'?)" for the nearest candidate within 2 edits, else "".
std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace coffer
