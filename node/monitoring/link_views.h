// The per-link part of a node's status (NodeStatus.links): what the
// replication core knows of each other member, joined with what the peer
// links know of the connections.
#pragma once

#include <cstdint>
#include <vector>

#include "node/net/peer_links.h"
#include "proto/api.pb.h"
#include "proto/records.pb.h"
#include "replication/core/replication_core.h"

namespace coffer::node {

// Appends one LinkView per member other than `self`, as seen at monotonic
// time `now_micros`.
void AddLinkViews(const replication::ReplicationCore& core,
                  const std::vector<PeerLinks::LinkStatus>& connections,
                  const std::vector<pb::StoredNode>& members, uint32_t self, int64_t now_micros,
                  pb::NodeStatus* status);

}  // namespace coffer::node
