#include "node/api/request_handler.h"

#include <spdlog/spdlog.h>

#include "node/api/endpoint_access.h"
#include "node/api/feature_gates.h"
#include "node/api/input_limits.h"
#include "node/api/list_pages.h"
#include "node/api/request_audit.h"
#include "node/audit/audit_log.h"
#include "storage/membership.h"
#include "upgrade/binary_profile.h"
#include "upgrade/version.h"
#include "upgrade/version_driver.h"

namespace coffer::node {

pb::Response ResponseFor(const Status& status) {
  pb::Response response;
  response.set_code(std::string(CodeName(status.code())));
  response.set_message(status.message());
  return response;
}

namespace {

template <typename T, typename Fill>
pb::Response Answer(const StatusOr<T>& result, Fill fill) {
  if (!result.ok()) return ResponseFor(result.status());
  pb::Response response = ResponseFor(Status::Ok());
  fill(response, *result);
  return response;
}

// A page of a wallet's members with their material (WalletObjectsRequest):
// a member whose material the node never serves is listed with why.
StatusOr<pb::WalletObjects> WalletObjectsPage(const storage::ObjectStore& store,
                                              const pb::WalletObjectsRequest& request) {
  if (request.purpose() == pb::WALLET_OBJECTS_PURPOSE_UNSPECIFIED ||
      !pb::WalletObjectsPurpose_IsValid(request.purpose())) {
    return InvalidArgument("wallet_objects needs a purpose (download or export)");
  }
  COFFER_ASSIGN_OR_RETURN(std::string wallet_uuid, store.ResolveWallet(request.wallet()));
  pb::WalletObjects page;
  COFFER_ASSIGN_OR_RETURN(*page.mutable_wallet(),
                          store.GetWallet(wallet_uuid, /*with_members=*/false));
  COFFER_ASSIGN_OR_RETURN(std::vector<std::string> members, store.WalletMembers(wallet_uuid));
  size_t used = 0;
  for (const std::string& uuid : members) {  // in uuid order
    if (!request.after().empty() && uuid <= request.after()) continue;
    pb::WalletObject member;
    member.set_uuid(uuid);
    auto object = store.Get(uuid, /*include_material=*/true);
    if (object.ok()) {
      *member.mutable_object() = std::move(*object);
    } else if (object.status().code() == Code::kPermissionDenied) {
      member.set_left_out("not extractable");
    } else if (object.status().code() == Code::kInvalidState) {
      member.set_left_out("destroyed: no material");
    } else if (object.status().code() == Code::kNotFound) {
      continue;  // a membership whose object has not arrived here yet
    } else {
      return object.status().Annotate(uuid);
    }
    // Cut by bytes as a list is (list_pages.h): the first member always goes.
    const size_t bytes = member.ByteSizeLong() + 8;
    if (page.objects_size() > 0 && used + bytes > limits::kListResponseBytes) {
      page.set_next_after(page.objects().rbegin()->uuid());
      break;
    }
    used += bytes;
    *page.add_objects() = std::move(member);
  }
  return page;
}

// `scope`: the endpoint a request comes from (null: an admin or the node),
// already authorized (endpoint_access.h); lists hold only what it may see.
pb::Response Dispatch(storage::ObjectStore& store, const pb::Request& request, const NodeInfo& info,
                      storage::Durability durability, const Clock& clock,
                      const EndpointScope* scope) {
  switch (request.kind_case()) {
    case pb::Request::kWrite: {
      auto op = PrepareWrite(request.write(), info);
      if (!op.ok()) return ResponseFor(op.status());
      return ResponseForWrite(store.Execute(*op, request.request_id(), durability));
    }
    case pb::Request::kGet:
      return Answer(store.Get(request.get().uuid(), request.get().include_material()),
                    [](pb::Response& r, const pb::ObjectView& v) { *r.mutable_object() = v; });
    // Lists: cut by bytes, with a continuation cursor (list_pages.h).
    case pb::Request::kLocate: {
      std::function<StatusOr<bool>(const std::string&)> visible;
      if (scope != nullptr) {
        visible = [&](const std::string& uuid) { return EndpointSees(store, *scope, uuid); };
      }
      return Answer(
          store.Locate(request.locate(), visible),
          [&](pb::Response& r, const std::vector<pb::ObjectView>& v) {
            auto* page = r.mutable_located();
            page->set_next_after(FillPage(v, request.locate().after(), page->mutable_objects()));
          });
    }
    case pb::Request::kWalletList: {
      auto wallets = store.ListWallets();
      if (wallets.ok() && scope != nullptr) {
        std::erase_if(*wallets, [&](const pb::WalletView& w) { return !scope->MayRead(w.uuid()); });
      }
      return Answer(wallets, [&](pb::Response& r, const std::vector<pb::WalletView>& v) {
        auto* page = r.mutable_wallets();
        page->set_next_after(FillPage(v, request.wallet_list().after(), page->mutable_wallets()));
      });
    }
    case pb::Request::kWalletGet:
      return Answer(store.GetWallet(request.wallet_get().wallet()),
                    [](pb::Response& r, const pb::WalletView& v) { *r.mutable_wallet() = v; });
    case pb::Request::kWalletObjects:
      return Answer(
          WalletObjectsPage(store, request.wallet_objects()),
          [](pb::Response& r, pb::WalletObjects v) { *r.mutable_wallet_objects() = std::move(v); });
    case pb::Request::kEndpointList:
      return Answer(store.ListEndpoints(),
                    [&](pb::Response& r, const std::vector<pb::EndpointView>& v) {
                      auto* page = r.mutable_endpoints();
                      page->set_next_after(
                          FillPage(v, request.endpoint_list().after(), page->mutable_endpoints()));
                    });
    case pb::Request::kConflictList:
      return Answer(store.ListConflicts(),
                    [&](pb::Response& r, const std::vector<pb::ConflictView>& v) {
                      auto* page = r.mutable_conflicts();
                      page->set_next_after(
                          FillPage(v, request.conflict_list().after(), page->mutable_conflicts()));
                    });
    case pb::Request::kClusterStatus: {
      auto cluster = store.Cluster();
      if (!cluster.ok()) return ResponseFor(cluster.status());
      auto members = store.Members();
      if (!members.ok()) return ResponseFor(members.status());
      pb::Request self_status;
      self_status.mutable_node_status();
      pb::Response response = Dispatch(store, self_status, info, durability, clock, nullptr);
      pb::NodeStatus self = response.node_status();
      auto* c = response.mutable_cluster_status();
      *c->mutable_self() = self;
      if (*cluster) {
        c->set_cluster_id((*cluster)->cluster_id());
        c->set_name((*cluster)->name());
        c->set_max_disable_seconds(
            static_cast<uint64_t>(storage::MaxDisableMicros(**cluster) / 1'000'000));
        if ((*cluster)->has_upgrade_plan()) *c->mutable_upgrade() = (*cluster)->upgrade_plan();
      }
      auto conflicts = store.ListConflicts();
      if (!conflicts.ok()) return ResponseFor(conflicts.status());
      c->set_name_conflicts(static_cast<uint32_t>(conflicts->size()));
      auto versions = upgrade::ReadVersionView(store, upgrade::ThisBinary().versions);
      if (!versions.ok()) return ResponseFor(versions.status());
      *c->mutable_versions() = upgrade::DescribeVersions(*versions, upgrade::ThisBinary().registry);
      for (const auto& n : *members) {
        auto* m = c->add_members();
        m->set_node_id(n.node_id());
        m->set_name(n.name().name());
        m->set_role(n.role() == pb::NODE_READ_ONLY ? "read-only" : "read-write");
        m->set_peer(n.peer());
        m->set_subgroup(n.subgroup());
        m->set_peer_address(n.peer_address());
        m->set_client_address(n.client_address());
        m->set_version(n.release_version());
        m->set_fence_version(n.fence_version());
        const pb::StoredCluster settings = *cluster ? **cluster : pb::StoredCluster();
        const int64_t now = clock.WallMicros();
        m->set_state(std::string(storage::NodeStateName(n, settings, now)));
        int64_t left = storage::DisableTimeLeftMicros(n, settings, now);
        m->set_disable_seconds_left(left < 0 ? -1 : left / 1'000'000);
        if (left > 0) {  // DISABLED within its window (0: EXPIRED, nothing kept for it)
          for (const auto& [origin, seq] : store.Applied()) {
            auto had = n.disabled_applied().applied().find(origin);
            auto span = store.LogAfter(
                origin, had == n.disabled_applied().applied().end() ? 0 : had->second);
            if (!span.ok()) return ResponseFor(span.status());
            m->set_retained_records(m->retained_records() + span->records);
            m->set_retained_bytes(m->retained_bytes() + span->bytes);
          }
        }
      }
      return response;
    }
    case pb::Request::kNodeStatus: {
      pb::Response response = ResponseFor(Status::Ok());
      auto* s = response.mutable_node_status();
      s->set_node_name(info.node_name);
      s->set_node_id(store.node_id().value);
      s->set_version(upgrade::ThisBinary().versions.release.ToString());
      s->set_mode("read-write");
      s->set_peer_listen(info.peer_listen);
      auto cluster = store.Cluster();
      if (cluster.ok() && *cluster) {
        s->set_cluster_id((*cluster)->cluster_id());
        s->set_cluster_version((*cluster)->cluster_version());
        s->set_upgrade_plan_revision((*cluster)->upgrade_plan().revision());
      }
      s->set_cert_not_after(info.cert_not_after);
      if (info.fill_replication) info.fill_replication(s);
      if (info.fill_storage) info.fill_storage(s);
      for (const auto& [origin, seq] : store.Applied())
        (*s->mutable_applied()->mutable_applied())[origin] = seq;
      s->set_digest(store.StateDigest().Hex());
      s->set_object_count(store.ObjectCount());
      s->set_disk_bytes(store.ApproximateDiskBytes());
      for (const auto& [origin, seq] : store.Applied()) {
        auto log = store.LogAfter(origin, 0);
        if (!log.ok()) return ResponseFor(log.status());
        s->set_log_records(s->log_records() + log->records);
        s->set_log_bytes(s->log_bytes() + log->bytes);
      }
      s->set_uptime_seconds((clock.WallMicros() - info.started_micros) / 1'000'000);
      s->set_listen(info.listen);
      return response;
    }
    default:
      return ResponseFor(InvalidArgument("request names no operation"));
  }
}

}  // namespace

Status AdmitRequest(const storage::ObjectStore& store, const pb::Request& request,
                    const ClientIdentity& who, ServingState state,
                    const upgrade::GateSnapshot& gate) {
  COFFER_RETURN_IF_ERROR(CheckInputLimits(request));
  COFFER_RETURN_IF_ERROR(AuthorizeRequest(request, who));
  COFFER_RETURN_IF_ERROR(CheckServes(request, state));
  COFFER_RETURN_IF_ERROR(CheckFeatureGates(request, gate));
  COFFER_RETURN_IF_ERROR(CheckCallerGate(who, gate));
  return AuthorizeCaller(store, request, who);
}

pb::Response HandleRequest(storage::ObjectStore& store, const pb::Request& request,
                           const ClientIdentity& who, const NodeInfo& info,
                           storage::Durability durability, const Clock& clock) {
  Status allowed = CheckInputLimits(request);
  if (allowed.ok()) allowed = AuthorizeRequest(request, who);
  std::optional<EndpointScope> scope;
  if (allowed.ok()) {
    auto endpoint = EndpointScopeOf(store, who);
    if (!endpoint.ok()) allowed = endpoint.status();
    if (endpoint.ok() && *endpoint) {
      scope = std::move(**endpoint);
      allowed = AuthorizeEndpoint(store, *scope, request);
    }
  }
  if (allowed.ok()) {
    allowed =
        CheckServes(request, info.serving_state ? info.serving_state() : ServingState::kStandalone);
  }
  if (allowed.ok() && request.write().has_cluster_init() &&
      !request.write().cluster_init().node_name().empty() &&
      request.write().cluster_init().node_name() != info.node_name) {
    // The node's name is its certificate's CN and its data directory's
    // (cluster/startup_identity.h): a member row of another name could
    // never link, nor restart.
    allowed = InvalidArgument(
        "cluster init --node-name '" + request.write().cluster_init().node_name() +
        "' is not this node's name '" + info.node_name + "' ([node] name); leave --node-name out");
  }
  pb::Response response =
      allowed.ok() ? Dispatch(store, request, info, durability, clock, scope ? &*scope : nullptr)
                   : ResponseFor(allowed);
  AuditRequest(info, request, who, response);
  return response;
}

StatusOr<pb::Op> PrepareWrite(pb::Op op, const NodeInfo& info) {
  if (op.has_endpoint_bind()) return PrepareEndpointBind(std::move(op));
  if (op.has_cluster_init()) {
    auto* c = op.mutable_cluster_init();
    if (c->node_name().empty()) c->set_node_name(info.node_name);
    c->set_client_address(info.listen);
    c->set_peer_address(info.peer_address);
    c->set_subgroup(info.subgroup);
    c->set_release_version(upgrade::ThisBinary().versions.release.ToString());
  }
  return op;
}

pb::Response ResponseForWrite(const StatusOr<pb::OpResult>& result) {
  return Answer(result, [](pb::Response& r, const pb::OpResult& v) { *r.mutable_op_result() = v; });
}

pb::Response ResponseForWrite(const replication::WriteAnswer& answer) {
  pb::Response response = ResponseForWrite(answer.result);
  if (answer.record) {
    response.mutable_outcome_record()->set_origin(answer.record->origin);
    response.mutable_outcome_record()->set_seq(answer.record->seq);
  }
  return response;
}

std::optional<replication::RecordRef> RetryOf(const pb::Request& request) {
  if (!request.has_retry_of()) return std::nullopt;
  return replication::RecordRef{request.retry_of().origin(), request.retry_of().seq()};
}

void AuditRequest(const NodeInfo& info, const pb::Request& request, const ClientIdentity& who,
                  const pb::Response& response) {
  if (info.audit == nullptr || !IsAudited(request, response)) return;
  info.audit->Append(AuditEventFor(request, who, response));
}

}  // namespace coffer::node
