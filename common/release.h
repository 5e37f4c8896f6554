// A Coffer release number (major.minor.patch) and the cluster versions built
// from it. A cluster version is a release's major.minor: patch releases never
// change a format or gate a feature (upgrade/README.md).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coffer {

struct Release {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t patch = 0;

  auto operator<=>(const Release&) const = default;

  // "major.minor.patch", or "major.minor" (patch 0): each part 1 to 4
  // decimal digits, nothing else. nullopt for anything else, "" included.
  static constexpr std::optional<Release> Parse(std::string_view text) {
    Release r;
    uint32_t* parts[3] = {&r.major, &r.minor, &r.patch};
    int part = 0;
    int digits = 0;
    for (char c : text) {
      if (c == '.') {
        if (digits == 0 || part == 2) return std::nullopt;
        ++part;
        digits = 0;
      } else if (c >= '0' && c <= '9') {
        if (++digits > 4) return std::nullopt;
        *parts[part] = *parts[part] * 10 + static_cast<uint32_t>(c - '0');
      } else {
        return std::nullopt;
      }
    }
    if (digits == 0 || part == 0) return std::nullopt;
    return r;
  }

  // The cluster version this release runs at when it is the lowest member:
  // its major.minor (patch 0).
  constexpr Release Minor() const { return Release{major, minor, 0}; }
  // The next minor release (x.y+1.0) and the one before (x.y-1.0; x.0 has
  // none: itself).
  constexpr Release NextMinor() const { return Release{major, minor + 1, 0}; }
  constexpr Release PreviousMinor() const {
    return minor == 0 ? Minor() : Release{major, minor - 1, 0};
  }

  std::string ToString() const;     // "0.2.1"
  std::string MinorString() const;  // "0.2": how cluster versions print
};

}  // namespace coffer
