#include "node/monitoring/link_views.h"

#include <map>

namespace coffer::node {

void AddLinkViews(const replication::ReplicationCore& core,
                  const std::vector<PeerLinks::LinkStatus>& connections,
                  const std::vector<pb::StoredNode>& members, uint32_t self, int64_t now_micros,
                  pb::NodeStatus* status) {
  std::map<uint32_t, const PeerLinks::LinkStatus*> by_peer;
  for (const auto& c : connections) by_peer[c.peer] = &c;
  for (const auto& m : members) {
    if (m.node_id() == self) continue;
    replication::LinkView view = core.link(m.node_id());
    auto* l = status->add_links();
    l->set_peer(m.node_id());
    l->set_up(view.up);
    l->set_last_heard_ms_ago(
        view.last_heard_micros == 0 ? -1 : (now_micros - view.last_heard_micros) / 1000);
    *l->mutable_peer_applied() = replication::ToProto(view.peer_applied);
    l->set_inflight_records(view.inflight_records);
    l->set_replication_lag_ms(
        view.behind_since_micros == 0 ? 0 : (now_micros - view.behind_since_micros) / 1000);
    auto c = by_peer.find(m.node_id());
    if (c != by_peer.end()) {
      l->set_outgoing_connected(c->second->outgoing_connected);
      l->set_incoming_connected(c->second->incoming_connected);
      l->set_last_error(c->second->last_error);
    }
  }
}

}  // namespace coffer::node
