// What this process runs as: its release, the cluster versions it supports,
// its feature registry and the newest record format it reads. One value per
// process, chosen before anything else runs:
//  - the `coffer` binary runs this release (CurrentRelease());
//  - `coffer-next`, built only for tests (CMake option
//    COFFER_BUILD_NEXT_RELEASE), runs as the next minor release
//    (NextRelease()): the same source with one more gated feature, so
//    mixed-version clusters run real processes of two releases.
// The simulation passes profiles to its nodes instead of using the global.
#pragma once

#include <cstdint>
#include <span>

#include "upgrade/features.h"
#include "upgrade/version.h"

namespace coffer::upgrade {

struct BinaryProfile {
  BinaryVersions versions;
  std::span<const FeatureInfo> registry;
  uint32_t max_record_format = 0;  // storage/record_auth.h
};

const BinaryProfile& CurrentRelease();
const BinaryProfile& NextRelease();

// The profile of this process: CurrentRelease() unless RunAsNextRelease()
// was called. Any thread.
const BinaryProfile& ThisBinary();

// coffer-next's main() only, before anything else: this process runs as
// NextRelease().
void RunAsNextRelease();

}  // namespace coffer::upgrade
