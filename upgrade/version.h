// Release and protocol version constants, in one place (architecture.md #9).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace coffer {

// The release of this binary (major.minor.patch).
inline constexpr std::string_view kReleaseVersion = "0.1.0";
// Version of the client API frames (proto/api.proto).
inline constexpr int kClientApiVersion = 1;

// "major.minor" of a "major.minor.patch" release ("" if malformed).
inline std::string_view MajorMinor(std::string_view release) {
  size_t first = release.find('.');
  if (first == std::string_view::npos) return {};
  size_t second = release.find('.', first + 1);
  return release.substr(0, second);
}

// Orders "major.minor.patch" releases numerically: <0, 0 or >0. Missing or
// malformed parts count as 0.
inline int CompareReleases(std::string_view a, std::string_view b) {
  for (int part = 0; part < 3; ++part) {
    auto next = [](std::string_view& s) {
      uint64_t n = 0;
      size_t i = 0;
      for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) n = n * 10 + (s[i] - '0');
      s.remove_prefix(std::min(s.size(), i + 1));
      return n;
    };
    uint64_t x = next(a), y = next(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

// Whether a node of release `theirs` may link to or join a node of this
// release. Release 0.1: the same major.minor (rolling upgrades widen this).
inline Status CheckCompatibleRelease(std::string_view theirs) {
  if (!MajorMinor(theirs).empty() && MajorMinor(theirs) == MajorMinor(kReleaseVersion)) {
    return Status::Ok();
  }
  return Status(Code::kIncompatibleVersion,
                "release " + std::string(theirs) + " is not compatible with this node's release " +
                    std::string(kReleaseVersion) + " (needs the same major.minor)");
}

}  // namespace coffer
