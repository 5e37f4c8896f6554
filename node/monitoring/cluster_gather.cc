#include "node/monitoring/cluster_gather.h"

#include "node/client/client.h"

namespace coffer::node {

void GatherMemberStatuses(pb::ClusterStatus& status, const AskMember& ask) {
  for (const auto& m : status.members()) {
    if (m.node_id() == status.self().node_id()) continue;
    pb::Request request;
    request.mutable_node_status();
    auto answer = ask(m.client_address(), request);
    Status s = answer.ok() ? StatusFromResponse(*answer) : answer.status();
    if (!s.ok()) {
      (*status.mutable_unreachable())[m.node_id()] = s.ToString();
      continue;
    }
    *status.add_nodes() = answer->node_status();
  }
}

}  // namespace coffer::node
