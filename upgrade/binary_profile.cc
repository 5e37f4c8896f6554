#include "upgrade/binary_profile.h"

#include <atomic>

#include "storage/record_auth.h"

namespace coffer::upgrade {
namespace {

std::atomic<bool> run_as_next{false};

}  // namespace

const BinaryProfile& CurrentRelease() {
  static const BinaryProfile profile{kThisBinary, kRegistry, storage::kRecordFormat};
  return profile;
}

const BinaryProfile& NextRelease() {
  static const BinaryProfile profile{kNextReleaseBinary, kNextReleaseFeatures,
                                     storage::kRecordFormatObjectComment};
  return profile;
}

const BinaryProfile& ThisBinary() { return run_as_next.load() ? NextRelease() : CurrentRelease(); }

void RunAsNextRelease() { run_as_next.store(true); }

}  // namespace coffer::upgrade
