// Pieces of the SVG charts the tools draw (coffer-bench --scale,
// coffer-chaos's timeline): axis ticks and their labels, and escaping text.
#pragma once

#include <string>
#include <vector>

namespace coffer {

// "Nice" tick values (1, 2 or 5 times a power of ten) covering [low, high],
// about `target` of them (at least 2 asked); always at least two values.
// low > high is swapped; a non-finite bound counts as 0 (low) or low + 1
// (high); an empty range becomes a unit range. At most 4 * target + 3 values.
std::vector<double> NiceTicks(double low, double high, int target = 5);

// The label of a tick: whole numbers (and everything from 1000 up) without
// decimals, others as %g.
std::string TickText(double v);

// Escapes text for XML/HTML character data and attributes (& < > " ');
// invalid UTF-8 becomes U+FFFD and control characters other than tab and
// newline become a space.
std::string XmlEscape(const std::string& text);

}  // namespace coffer
