// The admission check of incoming peer links: which members may link to this
// node. The node sets the membership whenever it changes; the peer links ask
// on the network thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "common/release.h"
#include "common/status.h"
#include "node/net/tls.h"
#include "proto/records.pb.h"
#include "proto/replication.pb.h"

namespace coffer::node {

// Thread-safe.
class PeerAdmission {
 public:
  // Replaces the members admitted (deleted nodes are not members).
  void SetMembers(const std::vector<pb::StoredNode>& members);
  // Replaces the lowest release admitted (upgrade::VersionFloor).
  void SetVersionFloor(Release floor);

  // May the sender of `hello`, whose certificate is `certificate`, link to
  // this node? NOT_FOUND if its node id is no member (unknown or deleted);
  // PERMISSION_DENIED if the certificate CN is not that member's name; the
  // error of CheckCompatibleRelease (this binary, the version floor) for an
  // incompatible release; else OK.
  Status Admit(const pb::PeerHello& hello, const ClientIdentity& certificate) const;

 private:
  mutable std::mutex mu_;
  std::map<uint32_t, pb::StoredNode> admitted_;  // GUARDED_BY(mu_)
  Release floor_;                                // GUARDED_BY(mu_)
};

}  // namespace coffer::node
