// Release and protocol version constants, in one place (architecture.md #9).
#pragma once

#include <string_view>

namespace coffer {

// The release of this binary (major.minor.patch).
inline constexpr std::string_view kReleaseVersion = "0.1.0";
// Version of the client API frames (proto/api.proto).
inline constexpr int kClientApiVersion = 1;

}  // namespace coffer
