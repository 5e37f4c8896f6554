// What a node derives from the membership rows it reads: a change
// fingerprint, and whether this node was removed from the cluster (the
// replication protocol's member list is replication::CoreMembers, in
// replication/lifecycle_driver.h, shared with the simulation).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/net/peer_links.h"
#include "proto/records.pb.h"
#include "replication/core/replication_core.h"

namespace coffer::node {

// Equal for equal rows: serialized deterministically (map fields otherwise
// serialize in any order, and an unchanged membership would look changed).
std::string MembershipFingerprint(const std::vector<pb::StoredNode>& nodes);

// Tells, once, that this node was removed (deleted or force-deleted
// elsewhere). A deleted node may never receive the record that deletes it
// (the others drop their links to it first), so it also learns it from its
// links: every other member refuses them as "not a member" (PeerAdmission's
// NOT_FOUND). The controller that added a joining node never refuses it, so
// a node still joining is never taken for removed. Not thread-safe.
class RemovalWatch {
 public:
  // True the first time `members` lacks `self_id` after an earlier call saw
  // it, or every other member of `members` refused this node's links in
  // `links` (last_error "NOT_FOUND: ... not a member ..."); false after that.
  bool Removed(const std::vector<pb::StoredNode>& members, uint32_t self_id,
               const std::vector<PeerLinks::LinkStatus>& links);

 private:
  bool was_member_ = false;
  bool reported_ = false;
};

}  // namespace coffer::node
