#include "node/cluster/admission.h"

#include <string>

#include "upgrade/binary_profile.h"

namespace coffer::node {

void PeerAdmission::SetMembers(const std::vector<pb::StoredNode>& members) {
  std::lock_guard lock(mu_);
  admitted_.clear();
  for (const auto& m : members) admitted_[m.node_id()] = m;
}

void PeerAdmission::SetVersionFloor(Release floor) {
  std::lock_guard lock(mu_);
  floor_ = floor;
}

Status PeerAdmission::Admit(const pb::PeerHello& hello, const ClientIdentity& certificate) const {
  std::lock_guard lock(mu_);
  auto it = admitted_.find(hello.node_id());
  if (it == admitted_.end()) {
    return NotFound("node " + std::to_string(hello.node_id()) +
                    " is not a member of this cluster (unknown or deleted)");
  }
  if (certificate.common_name != it->second.name().name()) {
    return PermissionDenied("certificate CN '" + certificate.common_name +
                            "' does not match the name of node " + std::to_string(hello.node_id()) +
                            " ('" + it->second.name().name() + "')");
  }
  return CheckCompatibleRelease(hello.release_version(), upgrade::ThisBinary().versions, floor_);
}

}  // namespace coffer::node
