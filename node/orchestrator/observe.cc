#include "node/orchestrator/observe.h"

#include <algorithm>

#include "node/client/client.h"

namespace coffer::node::orchestrator {
namespace {

StatusOr<pb::Response> Ask(const ClusterAccess& access, const std::string& address,
                           const pb::Request& request) {
  COFFER_ASSIGN_OR_RETURN(pb::Response response, access.call(address, request));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
  return response;
}

}  // namespace

void FillFromNodeStatus(const pb::NodeStatus& s, upgrade::NodeObservation* n) {
  n->reachable = true;
  // The node's own view of its state: it writes its DISABLED, ENABLING and
  // ACTIVE itself, and takes DISABLING through itself (the orchestrator's
  // disable), so it is never behind another node's view of it.
  if (!s.state().empty()) n->state = s.state();
  n->running_release = s.version();
  n->plan_revision = s.upgrade_plan_revision();
  n->disk_free_bytes = s.storage_free_bytes() != 0 ? s.storage_free_bytes() : -1;
  n->store_bytes = s.disk_bytes();
  n->cert_not_after = s.cert_not_after();
  n->applied_total = 0;
  for (const auto& [origin, seq] : s.applied().applied()) n->applied_total += seq;
  auto own = s.applied().applied().find(s.node_id());
  const uint64_t own_seq = own == s.applied().applied().end() ? 0 : own->second;
  n->links_down.clear();
  n->max_lag_ms = 0;
  n->unreplicated = 0;
  for (const auto& link : s.links()) {
    if (!link.up()) n->links_down.push_back(link.peer());
    n->max_lag_ms = std::max(n->max_lag_ms, link.replication_lag_ms());
    auto had = link.peer_applied().applied().find(s.node_id());
    uint64_t peer_seq = had == link.peer_applied().applied().end() ? 0 : had->second;
    if (own_seq > peer_seq) n->unreplicated = std::max(n->unreplicated, own_seq - peer_seq);
  }
}

StatusOr<Observed> ObserveCluster(const ClusterAccess& access, NodeController* controller,
                                  const ObserveOptions& options, int64_t now_micros,
                                  const std::map<uint32_t, std::string>& known) {
  std::vector<std::string> entries = access.entry_addresses;
  for (const auto& [id, address] : known) {
    if (std::find(entries.begin(), entries.end(), address) == entries.end()) {
      entries.push_back(address);
    }
  }
  pb::Request ask_cluster;
  ask_cluster.mutable_cluster_status();
  Observed out;
  std::optional<pb::ClusterStatus> cluster;
  std::string errors;
  for (const auto& address : entries) {
    auto response = Ask(access, address, ask_cluster);
    if (response.ok()) {
      cluster = response->cluster_status();
      out.answered_by = address;
      break;
    }
    errors += (errors.empty() ? "" : "; ") + address + ": " + response.status().ToString();
  }
  if (!cluster) return Unavailable("no node answered its cluster status: " + errors);
  if (cluster->cluster_id().empty()) return InvalidState("the node is standalone: no cluster");

  upgrade::ClusterObservation& o = out.observation;
  o.now_micros = now_micros;
  o.cluster_version = cluster->versions().cluster_version();
  o.version_held = cluster->versions().held();
  o.max_disable_seconds = cluster->max_disable_seconds();
  if (cluster->has_upgrade()) o.plan = cluster->upgrade();

  pb::Request ask_node;
  ask_node.mutable_node_status();
  for (const auto& m : cluster->members()) {
    if (m.state() == "DELETED") continue;
    upgrade::NodeObservation n;
    n.node_id = m.node_id();
    n.name = m.name();
    n.role = m.role() == "read-only" ? pb::NODE_READ_ONLY : pb::NODE_READ_WRITE;
    n.peer = m.peer();
    n.state = m.state();
    n.recorded_release = m.version();
    out.addresses[m.node_id()] = m.client_address();
    auto status = Ask(access, m.client_address(), ask_node);
    if (status.ok()) {
      FillFromNodeStatus(status->node_status(), &n);
    } else {
      n.reachable_error = status.status().ToString();
    }
    if (controller == nullptr) {
      o.nodes.push_back(std::move(n));
      continue;
    }
    auto process = controller->Observe(m.name());
    if (process.ok()) {
      n.process_running = process->running;
      n.installed_binary = process->installed_binary;
    } else {
      n.last_action_error = "controller: " + process.status().ToString();
    }
    if (options.binary_checks) {
      auto release = controller->BinaryRelease(m.name(), options.target_binary);
      if (release.ok()) {
        n.target_binary_release = *release;
        Status store = controller->CheckStore(m.name(), options.target_binary);
        if (!store.ok()) n.check_store_error = store.message();
      } else {
        n.check_store_error = "not run: " + release.status().message();
      }
    }
    o.nodes.push_back(std::move(n));
  }
  std::sort(o.nodes.begin(), o.nodes.end(),
            [](const auto& a, const auto& b) { return a.node_id < b.node_id; });
  // The plan: the newest any member has (the node that answered may lag
  // behind a write made through another; a takeover from a stale copy
  // would fork the plan and lose what the newer revisions recorded).
  const upgrade::NodeObservation* newest = nullptr;
  for (const auto& n : o.nodes) {
    if (n.reachable && (newest == nullptr || n.plan_revision > newest->plan_revision)) newest = &n;
  }
  const uint64_t have = o.plan ? o.plan->revision() : 0;
  if (newest != nullptr && newest->plan_revision > have) {
    auto response = Ask(access, out.addresses[newest->node_id], ask_cluster);
    if (!response.ok()) return response.status().Annotate("reading the newest upgrade plan");
    if (response->cluster_status().has_upgrade() &&
        response->cluster_status().upgrade().revision() > have) {
      o.plan = response->cluster_status().upgrade();
    }
  }
  return out;
}

}  // namespace coffer::node::orchestrator
