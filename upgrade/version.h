// Release and protocol version constants, in one place (architecture.md #9).
#pragma once

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
