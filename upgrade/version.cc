#include "upgrade/version.h"

#include <string>

namespace coffer {

Status CheckCompatibleRelease(std::string_view theirs, const BinaryVersions& self, Release floor) {
  const std::string mine = self.release.ToString();
  auto parsed = Release::Parse(theirs);
  if (!parsed) {
    return Status(
        Code::kIncompatibleVersion,
        "release '" + std::string(theirs) + "' is not a release number; this node runs " + mine);
  }
  const Release their_minor = parsed->Minor();
  const bool adjacent = their_minor == self.release.Minor() ||
                        their_minor == self.release.NextMinor() ||
                        their_minor == self.release.PreviousMinor();
  // Below this binary's lowest cluster version, the two share none (0.1
  // against 0.2: a full restart).
  if (adjacent && their_minor >= self.min_cluster_version) {
    if (their_minor >= floor.Minor()) return Status::Ok();
    return Status(Code::kIncompatibleVersion, "release " + parsed->ToString() +
                                                  " is below this cluster's version " +
                                                  floor.MinorString() + " (this node runs " + mine +
                                                  "): start that node on a binary of release " +
                                                  floor.MinorString() + " or later");
  }
  return Status(Code::kIncompatibleVersion,
                "release " + parsed->ToString() + " is not compatible with this node's release " +
                    mine + ": nodes may differ by one minor release at most, and never below " +
                    self.min_cluster_version.MinorString());
}

}  // namespace coffer
