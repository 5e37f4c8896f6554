#include "node/node.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "node/api/request_handler.h"
#include "node/cli/cli_output.h"
#include "node/client/client.h"
#include "node/cluster/induction_transfers.h"
#include "node/cluster/join_tokens.h"
#include "node/config/data_dir.h"
#include "node/monitoring/cluster_gather.h"
#include "node/monitoring/metrics.h"
#include "node/net/client_server.h"
#include "node/net/http_endpoint.h"
#include "node/net/peer_links.h"
#include "node/net/tls.h"
#include "replication/lifecycle_driver.h"
#include "replication/replicator.h"
#include "storage/membership.h"
#include "upgrade/version.h"

namespace coffer::node {

namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(10);
constexpr int64_t kMembershipRefreshMicros = 100'000;
constexpr uint32_t kDefaultSnapshotChunkEntries = 512;
constexpr uint32_t kMaxSnapshotChunkEntries = 4096;
constexpr int64_t kInductionPruneIntervalMicros = 1'000'000;
// /status: how long one other member may take to connect, then to answer.
constexpr auto kMemberStatusTimeout = std::chrono::milliseconds(1000);

}  // namespace

struct Node::Impl {
  NodeConfig config;
  SystemClock clock;
  SystemRng rng;
  OpenedStore opened;
  storage::ObjectStore* store = nullptr;
  uint32_t node_id = 1;
  NodeInfo info;

  boost::asio::io_context net_io;
  boost::asio::io_context store_io;
  std::unique_ptr<boost::asio::ssl::context> tls;
  std::unique_ptr<boost::asio::ssl::context> peer_client_tls;
  std::unique_ptr<ClientServer> server;
  std::atomic<int64_t> queued{0};
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::optional<WorkGuard> net_work;
  std::optional<WorkGuard> store_work;
  std::thread net_thread;
  std::thread store_thread;
  std::promise<void> net_done;
  bool stopped = false;
  std::atomic<bool> stopping{false};

  // ---- Cluster mode (store thread, except where noted) ----
  std::unique_ptr<PeerLinks> links;
  std::unique_ptr<replication::Replicator> replicator;
  boost::asio::steady_timer tick_timer{store_io};
  int64_t last_membership_refresh = 0;
  std::string members_fingerprint;
  replication::NodeLifecycle lifecycle;  // the node-state steps (sans-IO)
  replication::LogGc log_gc;             // when GC runs, what it drops (sans-IO)
  std::vector<pb::StoredNode> members;
  replication::GroupCommit group_commit;  // a group-commit fsync runs on sync_thread
  boost::asio::io_context sync_io;
  std::optional<WorkGuard> sync_work;
  std::thread sync_thread;
  // /status asks the other members for their status here, off the store
  // and network threads (each ask bounded by kMemberStatusTimeout).
  boost::asio::io_context gather_io;
  std::optional<WorkGuard> gather_work;
  std::thread gather_thread;
  JoinTokens join_tokens;
  // Induction snapshots being sent (checkpoints in <data_dir>/inductions);
  // closed once the candidate is heard on a link or is ACTIVE.
  std::unique_ptr<InductionTransfers> inductions;
  int64_t last_induction_prune = 0;
  // Read by the links' admission check on the network thread.
  mutable std::mutex admit_mu;
  std::map<uint32_t, pb::StoredNode> admitted;

  // ---- Monitoring ----
  NodeMetrics metrics;
  std::unique_ptr<HttpEndpoint> http;
  std::set<uint32_t> metric_links;  // peers with link series (store thread)
  uint64_t apply_errors_counted = 0;

  // ---- Client requests ----

  void Handle(pb::Request request, ClientIdentity who, ReplyFn reply) {
    // Every answer is counted, with the time from arrival to the reply.
    reply = [this, reply = std::move(reply), kind = std::string(RequestKindName(request)),
             started = std::chrono::steady_clock::now()](pb::Response response) {
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
      metrics.ObserveRequest(kind, response.code(), took.count());
      reply(std::move(response));
    };
    if (queued.fetch_add(1) >= config.limits.max_queued_requests) {
      queued.fetch_sub(1);
      reply(ResponseFor(
          ResourceExhausted("node is busy: " + std::to_string(config.limits.max_queued_requests) +
                            " requests queued; retry later")));
      return;
    }
    boost::asio::post(store_io, [this, request = std::move(request), who = std::move(who),
                                 reply = std::move(reply)]() mutable {
      queued.fetch_sub(1);
      Serve(request, who, std::move(reply));
    });
  }

  // Store thread.
  void Serve(const pb::Request& request, const ClientIdentity& who, ReplyFn reply) {
    auto answer = [&](pb::Response response) {
      AuditRequest(request, who, response);
      reply(std::move(response));
    };
    Status allowed = AuthorizeRequest(request, who);
    if (!allowed.ok()) return answer(ResponseFor(allowed));
    switch (request.kind_case()) {
      case pb::Request::kJoinToken: {
        auto issued = IssueJoinToken(request.join_token());
        if (!issued.ok()) return answer(ResponseFor(issued.status()));
        pb::Response response = ResponseFor(Status::Ok());
        *response.mutable_join_token() = *issued;
        return answer(std::move(response));
      }
      case pb::Request::kJoin: {
        auto joined = Join(request.join(), who);
        if (!joined.ok()) return answer(ResponseFor(joined.status()));
        pb::Response response = ResponseFor(Status::Ok());
        *response.mutable_join_answer() = *joined;
        return answer(std::move(response));
      }
      case pb::Request::kSnapshotChunk: {
        auto chunk = ServeSnapshotChunk(request.snapshot_chunk(), who);
        if (!chunk.ok()) return answer(ResponseFor(chunk.status()));
        pb::Response response = ResponseFor(Status::Ok());
        *response.mutable_snapshot_chunk() = std::move(chunk).value();
        return answer(std::move(response));
      }
      case pb::Request::kGet:
      case pb::Request::kLocate:
      case pb::Request::kWalletList:
      case pb::Request::kWalletGet:
      case pb::Request::kEndpointList:
        if (Status serving = CheckServesData(); !serving.ok()) return answer(ResponseFor(serving));
        break;
      case pb::Request::kWrite:
        if (replicator && IsLifecycleOp(request.write())) {
          return answer(ResponseForWrite(WriteLifecycle(request.write(), request.request_id())));
        }
        if (replicator && !request.write().has_cluster_init()) {
          // A critical write: acknowledged once the pair peer has it.
          std::optional<replication::RecordRef> retry_of;
          if (request.has_retry_of()) {
            retry_of =
                replication::RecordRef{request.retry_of().origin(), request.retry_of().seq()};
          }
          replicator->Write(
              PrepareWrite(request.write(), info), request.request_id(), retry_of,
              [request, who, reply](replication::WriteAnswer answer) {
                pb::Response response = ResponseForWrite(answer.result);
                if (answer.record) {
                  response.mutable_outcome_record()->set_origin(answer.record->origin);
                  response.mutable_outcome_record()->set_seq(answer.record->seq);
                }
                AuditRequest(request, who, response);
                reply(std::move(response));
              });
          ScheduleFlush();
          return;
        }
        break;
      default:
        break;
    }
    auto durability =
        config.storage.sync_writes ? storage::Durability::kSync : storage::Durability::kAsync;
    pb::Response response = HandleRequest(*store, request, who, info, durability, clock);
    bool initialized =
        request.has_write() && request.write().has_cluster_init() && response.code() == "OK";
    reply(std::move(response));
    if (initialized && !replicator) {
      Status entered = EnterClusterMode();
      if (!entered.ok()) spdlog::error("cannot start replication: {}", entered.ToString());
    }
  }

  // ---- Monitoring endpoint (node/http_endpoint.h) ----

  // Network thread. /livez answers there (the node's threads are alive if it
  // does); the rest is built on the store thread.
  void ServeHttp(std::string_view path, std::function<void(HttpReply)> respond) {
    if (path == "/livez") return respond(HttpReply{200, "text/plain; charset=utf-8", "ok\n"});
    std::string page(path);
    if (page != "/metrics" && page != "/readyz" && page != "/health" && page != "/status") {
      return respond(HttpReply{404, "text/plain; charset=utf-8",
                               "no such page; try /metrics /livez /readyz /health /status\n"});
    }
    if (stopping.load()) return respond(HttpReply{503, "text/plain; charset=utf-8", "stopping\n"});
    boost::asio::post(store_io, [this, page = std::move(page), respond = std::move(respond)] {
      if (page != "/status") return respond(HttpPage(page));
      boost::asio::post(gather_io, [this, cluster = LocalClusterStatus(), respond]() mutable {
        GatherMemberStatuses(cluster,
                             [this](const std::string& address,
                                    const pb::Request& request) -> StatusOr<pb::Response> {
                               COFFER_ASSIGN_OR_RETURN(HostPort where, ParseHostPort(address));
                               COFFER_ASSIGN_OR_RETURN(
                                   auto client,
                                   CofferClient::Connect(where.host, where.port, *peer_client_tls,
                                                         kMemberStatusTimeout));
                               return client->Call(request, kMemberStatusTimeout);
                             });
        respond(HttpReply{200, "application/json", RenderJson(cluster)});
      });
    });
  }

  // Store thread. This node's view of the cluster, as `cluster status` asks it.
  pb::ClusterStatus LocalClusterStatus() {
    pb::Request request;
    request.mutable_cluster_status();
    const ClientIdentity internal{"http-endpoint", std::string(kAdminRole)};
    pb::Response response =
        HandleRequest(*store, request, internal, info, storage::Durability::kSync, clock);
    return response.cluster_status();
  }

  // /health: an HTTP code per condition, so a load balancer or probe can
  // tell them apart without parsing the body.
  struct Health {
    int code;
    const char* verdict;
  };
  static Health HealthOf(const pb::NodeStatus& self) {
    if (self.state() == "PENDING" || self.state() == "ENABLING") return {473, "catching-up"};
    if (self.mode() == "read-write") return {200, "read-write"};
    if (self.mode() == "read-only") return {429, "read-only"};
    if (self.mode() == "restricted") return {472, "restricted"};
    return {503, "unavailable"};
  }

  HttpReply HttpPage(const std::string& page) {
    pb::ClusterStatus cluster = LocalClusterStatus();
    const pb::NodeStatus& self = cluster.self();
    if (page == "/readyz") {
      bool ready = self.mode() == "read-write";
      return HttpReply{
          ready ? 200 : 503, "text/plain; charset=utf-8",
          ready ? "ready\n"
                : "not ready: " + self.mode() +
                      (self.mode_reason().empty() ? "" : " (" + self.mode_reason() + ")") + "\n"};
    }
    if (page == "/health") {
      Health health = HealthOf(self);
      nlohmann::json body = {{"node", self.node_name()},
                             {"health", health.verdict},
                             {"mode", self.mode()},
                             {"state", self.state()},
                             {"reason", self.mode_reason()}};
      return HttpReply{health.code, "application/json", body.dump() + "\n"};
    }
    UpdateMetrics(cluster);
    return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", metrics.Render()};
  }

  // Store thread: gauges from the current status (counters and histograms
  // are updated as things happen).
  void UpdateMetrics(const pb::ClusterStatus& cluster) {
    const pb::NodeStatus& self = cluster.self();
    metrics.SetMode(self.mode());
    metrics.SetNodeState(self.state().empty() ? "ACTIVE" : self.state());
    metrics.SetObjects(self.object_count());
    metrics.SetPendingCriticalWrites(self.pending_critical_writes());
    uint64_t applied = 0;
    for (const auto& [origin, seq] : self.applied().applied()) applied += seq;
    metrics.SetAppliedRecords(applied);
    uint64_t retained_records = 0, retained_bytes = 0;
    for (const auto& m : cluster.members()) {
      retained_records += m.retained_records();
      retained_bytes += m.retained_bytes();
    }
    metrics.SetLogRecordsRetained(retained_records);
    metrics.SetLogBytesRetained(retained_bytes);
    std::set<uint32_t> seen;
    for (const auto& l : self.links()) {
      seen.insert(l.peer());
      double heartbeat_lag = l.last_heard_ms_ago() < 0 ? 0 : l.last_heard_ms_ago() / 1000.0;
      metrics.SetLink(l.peer(), l.up(), heartbeat_lag, l.replication_lag_ms() / 1000.0);
    }
    for (uint32_t gone : metric_links) {
      if (!seen.contains(gone)) metrics.RemoveLink(gone);
    }
    metric_links = std::move(seen);
    if (replicator && replicator->apply_errors() > apply_errors_counted) {
      metrics.AddReplicationApplyErrors(replicator->apply_errors() - apply_errors_counted);
      apply_errors_counted = replicator->apply_errors();
    }
  }

  // ---- Node lifecycle (semantics.md section 5) ----

  const pb::StoredNode* Self() const {
    for (const auto& m : members) {
      if (m.node_id() == node_id) return &m;
    }
    return nullptr;
  }

  // A node that is not ACTIVE (or PENDING) may hold stale data: client reads
  // go to another node.
  Status CheckServesData() const {
    const pb::StoredNode* me = replicator ? Self() : nullptr;
    if (me == nullptr) return Status::Ok();
    pb::NodeState state = storage::StoredState(*me);
    if (state == pb::NODE_ACTIVE || state == pb::NODE_PENDING) return Status::Ok();
    return Unavailable("this node is " + StateName(*me) +
                       ": its data may be stale; ask another node");
  }

  std::string StateName(const pb::StoredNode& node) const {
    auto cluster = store->Cluster();
    pb::StoredCluster settings = cluster.ok() && *cluster ? **cluster : pb::StoredCluster();
    return std::string(storage::NodeStateName(node, settings, clock.WallMicros()));
  }

  // Disable (DISABLING), enable (ENABLING), delete, force-delete and cluster
  // settings: written on this node without waiting for the pair peer (they
  // must work on a disabled or restricted node) and replicated like any
  // record. DISABLED and ACTIVE are the lifecycle driver's, not a client's.
  StatusOr<pb::OpResult> WriteLifecycle(const pb::Op& op, const std::string& request_id) {
    if (op.has_node_state() && op.node_state().state() != pb::NODE_DISABLING &&
        op.node_state().state() != pb::NODE_ENABLING) {
      return InvalidArgument(
          "a client may set DISABLING (disable) or ENABLING (enable); DISABLED and ACTIVE follow "
          "by themselves");
    }
    COFFER_ASSIGN_OR_RETURN(pb::OpResult result, replicator->WriteUnpaired(op, request_id));
    RefreshMembership(/*force=*/true);
    return result;
  }

  // Tick: this node's own steps. DISABLING -> DISABLED once every other
  // enabled node has all of its records; PENDING or ENABLING -> ACTIVE once
  // replication works both ways with every other enabled node and this node
  // has caught up (ReplicationCore::CaughtUp). Decided by
  // replication::NodeLifecycle (sans-IO, run by the simulation too); this
  // only performs the step.
  void DriveLifecycle() {
    // A catching-up node decides ACTIVE from the membership as stored now:
    // a member added a moment ago must be replicated with too.
    if (lifecycle.catching_up()) RefreshMembership();
    const pb::StoredNode* me = Self();
    if (me == nullptr) return;
    SystemRng ids;
    auto written =
        replication::StepLifecycle(lifecycle, storage::StoredState(*me), *replicator, ids);
    if (!written.ok()) {
      spdlog::warn("cannot record node state change: {}", written.status().ToString());
      return;
    }
    if (!*written) return;
    spdlog::info("node {} is now {}", config.node.name,
                 **written == pb::NODE_ACTIVE ? "ACTIVE" : "DISABLED");
    RefreshMembership(/*force=*/true);
  }

  // ---- Induction transfers, controller side ----

  // Closes the induction transfers that are over (see InductionTransfers):
  // the candidate was heard on a link or is ACTIVE, or left the cluster.
  void PruneInductions() {
    int64_t now = clock.MonotonicMicros();
    if (now - last_induction_prune < kInductionPruneIntervalMicros) return;
    last_induction_prune = now;
    std::map<uint32_t, const pb::StoredNode*> by_id;
    for (const auto& m : members) by_id[m.node_id()] = &m;
    InductionTransfers::PruneRules rules;
    rules.is_member = [&](uint32_t id) { return by_id.contains(id); };
    rules.finished = [&](uint32_t id) {
      return replicator->core().link(id).last_heard_micros != 0 ||
             storage::StoredState(*by_id.at(id)) == pb::NODE_ACTIVE;
    };
    if (size_t closed = inductions->Prune(rules); closed > 0)
      spdlog::info("closed {} finished induction transfer(s)", closed);
  }

  // ---- Log GC ----

  // Tick, at most once a second: deletes the log records every counted
  // member has applied (semantics.md section 5). Counted: every member but
  // EXPIRED ones; a DISABLED one counts with the vector its DISABLED record
  // carries, the others with what they last reported. A member not heard
  // from since this node started stops GC (what it has is unknown). Decided
  // by replication::LogGc (sans-IO, run by the simulation too).
  void CollectLog() {
    auto deleted = replication::RunLogGc(log_gc, *store, *replicator, clock);
    if (!deleted.ok()) spdlog::warn("log GC: {}", deleted.status().ToString());
  }

  // Group commit. The fsync runs on the sync thread while the store thread
  // goes on executing writes; those wait for the next sync, which starts as
  // soon as the previous one is done. One fsync covers every write that came
  // in while the previous one ran. When to sync is replication::GroupCommit's
  // decision (the simulation runs it the same way).
  void ScheduleFlush() {
    if (group_commit.WritesArrived()) StartSync();
  }

  void StartSync() {
    auto batch = replicator->TakeUnsynced();
    if (batch.empty()) return group_commit.NothingToSync();
    boost::asio::post(sync_io, [this, batch = std::move(batch)]() mutable {
      Status synced = replication::Replicator::SyncGroupCommit(*store);
      boost::asio::post(store_io, [this, batch = std::move(batch), synced] {
        if (replicator) replicator->Committed(batch, synced);
        if (group_commit.SyncDone()) {
          if (replicator) {
            StartSync();
          } else {
            group_commit.NothingToSync();
          }
        }
      });
    });
  }

  // ---- Cluster mode ----

  // Starts the peer links and the replicator. The store has a cluster record.
  Status EnterClusterMode() {
    COFFER_ASSIGN_OR_RETURN(auto cluster, store->Cluster());
    if (!cluster) return Internal("no cluster record");
    COFFER_ASSIGN_OR_RETURN(auto identity, ReadIdentity(config.node.data_dir));
    if (!identity) {
      COFFER_RETURN_IF_ERROR(
          WriteIdentity(config.node.data_dir, NodeIdentity{node_id, cluster->cluster_id()}));
    } else if (identity->cluster_id != cluster->cluster_id()) {
      return DataLoss("identity file names cluster " + identity->cluster_id +
                      " but the store belongs to cluster " + cluster->cluster_id());
    }
    store->set_confirm_names_on_apply(false);
    COFFER_ASSIGN_OR_RETURN(HostPort peer_listen, ParseHostPort(config.node.peer_listen));
    PeerLinksOptions options;
    options.listen_host = peer_listen.host;
    // Replication leaves from the address it listens on (a concrete IP).
    boost::system::error_code not_ip;
    auto listen_ip = boost::asio::ip::make_address(peer_listen.host, not_ip);
    if (!not_ip && !listen_ip.is_unspecified()) options.source_ip = peer_listen.host;
    options.port = peer_listen.port;
    options.cluster_id = cluster->cluster_id();
    options.self_id = node_id;
    options.release_version = std::string(kReleaseVersion);
    options.handshake_timeout = std::chrono::milliseconds(config.tls.handshake_timeout_ms);
    COFFER_ASSIGN_OR_RETURN(
        links, PeerLinks::Start(
                   net_io, *tls, *peer_client_tls, options,
                   [this](const pb::PeerHello& hello, const ClientIdentity& certificate) {
                     return Admit(hello, certificate);
                   },
                   [this](uint32_t from, pb::ReplicationMessage message) {
                     Deliver(from, std::move(message));
                   }));
    COFFER_ASSIGN_OR_RETURN(members, store->Members());
    replicator = std::make_unique<replication::Replicator>(
        *store, replication::CoreMembers(members), replication::CoreOptions{}, *links, clock);
    replicator->EnableGroupCommit();
    replicator->SetAppliedObserver([this](const pb::LogRecord& record) {
      double lag = static_cast<double>(clock.WallMicros() - record.hlc().wall_micros()) / 1e6;
      metrics.ObserveReplicationLag(record.origin(), lag);
    });
    members_fingerprint.clear();
    RefreshMembership();
    info.fill_replication = [this](pb::NodeStatus* status) { FillReplication(status); };
    spdlog::info("cluster '{}' ({}): node id {}, peer links on {}", cluster->name(),
                 cluster->cluster_id(), node_id, config.node.peer_listen);
    ArmTick();
    return Status::Ok();
  }

  // Re-reads membership; on a change, tells the replicator, the links and the
  // admission check.
  void RefreshMembership(bool force = false) {
    if (force) members_fingerprint.clear();
    last_membership_refresh = clock.MonotonicMicros();
    auto current = store->Members();
    if (!current.ok()) {
      spdlog::warn("cannot read membership: {}", current.status().ToString());
      return;
    }
    std::string fingerprint;
    for (const auto& m : *current) fingerprint += m.SerializeAsString() + "|";
    if (fingerprint == members_fingerprint) return;
    members_fingerprint = std::move(fingerprint);
    members = *current;
    std::map<uint32_t, std::string> peers;
    {
      std::lock_guard lock(admit_mu);
      admitted.clear();
      for (const auto& m : members) {
        admitted[m.node_id()] = m;
        if (m.node_id() != node_id) peers[m.node_id()] = m.peer_address();
      }
    }
    replicator->SetMembers(replication::CoreMembers(members));
    links->SetPeers(std::move(peers));
    spdlog::info("membership: {} nodes", members.size());
  }

  // Network thread: may `hello`'s sender link to this node?
  Status Admit(const pb::PeerHello& hello, const ClientIdentity& certificate) const {
    std::lock_guard lock(admit_mu);
    auto it = admitted.find(hello.node_id());
    if (it == admitted.end()) {
      return NotFound("node " + std::to_string(hello.node_id()) +
                      " is not a member of this cluster (unknown or deleted)");
    }
    if (certificate.common_name != it->second.name().name()) {
      return PermissionDenied(
          "certificate CN '" + certificate.common_name + "' does not match the name of node " +
          std::to_string(hello.node_id()) + " ('" + it->second.name().name() + "')");
    }
    return CheckCompatibleRelease(hello.release_version());
  }

  // Network thread: hands a message to the store thread.
  void Deliver(uint32_t from, pb::ReplicationMessage message) {
    if (stopping.load()) return;
    boost::asio::post(store_io, [this, from, message = std::move(message)] {
      if (!replicator) return;
      replicator->Receive(from, message);
      ScheduleFlush();  // retries released by the record's arrival
    });
  }

  void ArmTick() {
    tick_timer.expires_after(kTickInterval);
    tick_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping.load()) return;
      replicator->Tick();
      ScheduleFlush();  // retries released by Tick
      DriveLifecycle();
      CollectLog();
      if (clock.MonotonicMicros() - last_membership_refresh >= kMembershipRefreshMicros) {
        RefreshMembership();
      }
      PruneInductions();
      ArmTick();
    });
  }

  void FillReplication(pb::NodeStatus* status) const {
    const auto& core = replicator->core();
    status->set_mode(std::string(replication::WriteModeName(core.mode())));
    status->set_mode_reason(core.mode_reason());
    status->set_pending_critical_writes(core.pending_critical_writes());
    if (const pb::StoredNode* me = Self()) status->set_state(StateName(*me));
    for (const auto& transfer : inductions->Views()) *status->add_inductions() = transfer;
    *status->mutable_log_collected_through() = replication::ToProto(store->log_collected());
    std::map<uint32_t, PeerLinks::LinkStatus> link_statuses;
    for (const auto& l : links->LinkStatuses()) link_statuses[l.peer] = l;
    int64_t now = clock.MonotonicMicros();
    for (const auto& m : members) {
      if (m.node_id() == node_id) continue;
      replication::LinkView view = core.link(m.node_id());
      auto* l = status->add_links();
      l->set_peer(m.node_id());
      l->set_up(view.up);
      l->set_last_heard_ms_ago(view.last_heard_micros == 0 ? -1
                                                           : (now - view.last_heard_micros) / 1000);
      *l->mutable_peer_applied() = replication::ToProto(view.peer_applied);
      l->set_inflight_records(view.inflight_records);
      l->set_replication_lag_ms(
          view.behind_since_micros == 0 ? 0 : (now - view.behind_since_micros) / 1000);
      auto s = link_statuses.find(m.node_id());
      if (s != link_statuses.end()) {
        l->set_outgoing_connected(s->second.outgoing_connected);
        l->set_incoming_connected(s->second.incoming_connected);
        l->set_last_error(s->second.last_error);
      }
    }
  }

  // ---- Induction, controller side ----

  StatusOr<pb::JoinToken> IssueJoinToken(const pb::JoinTokenRequest& request) {
    if (!replicator) {
      return InvalidState("this node is standalone: run `coffer cluster init` before inducting");
    }
    COFFER_ASSIGN_OR_RETURN(
        auto issued, join_tokens.Issue(request.role(), request.ttl_seconds(), clock.WallMicros()));
    pb::JoinToken token;
    token.set_token(issued.token);
    token.set_expires_micros(issued.expires_micros);
    token.set_role(request.role());
    return token;
  }

  StatusOr<pb::JoinAnswer> Join(const pb::JoinRequest& join, const ClientIdentity& who) {
    if (!replicator) {
      return InvalidState("this node is standalone; a controller must be a cluster member");
    }
    if (who.common_name != join.name()) {
      return PermissionDenied("certificate CN '" + who.common_name +
                              "' does not match the joining node's name '" + join.name() + "'");
    }
    COFFER_RETURN_IF_ERROR(CheckCompatibleRelease(join.release_version()));
    COFFER_ASSIGN_OR_RETURN(auto redeemed,
                            join_tokens.Redeem(join.token(), join.name(), clock.WallMicros()));
    pb::Op op;
    auto* add = op.mutable_node_add();
    add->set_name(join.name());
    add->set_role(redeemed.role);
    add->set_subgroup(join.subgroup());
    add->set_peer_address(join.peer_address());
    add->set_client_address(join.client_address());
    add->set_release_version(join.release_version());
    COFFER_ASSIGN_OR_RETURN(pb::OpResult added, replicator->WriteUnpaired(op, redeemed.id));
    uint32_t id = static_cast<uint32_t>(std::stoul(added.uuid()));
    RefreshMembership();
    COFFER_ASSIGN_OR_RETURN(auto cluster, store->Cluster());
    pb::JoinAnswer answer;
    answer.set_cluster_id(cluster->cluster_id());
    answer.set_cluster_name(cluster->name());
    answer.set_node_id(id);
    answer.set_controller_id(node_id);
    for (const auto& m : members) {
      if (m.node_id() != id) continue;
      answer.set_role(m.role());
      answer.set_peer(m.peer());
    }
    uint64_t estimate = store->ObjectCount();
    for (const auto& [origin, seq] : store->Applied()) estimate += seq;  // ~ one request id each
    answer.set_snapshot_entries_estimate(estimate);
    inductions->Begin(id, estimate);  // a repeated join starts a fresh transfer
    spdlog::info(
        "inducting node {} '{}' as {}", id, join.name(),
        redeemed.role == pb::NODE_READ_WRITE ? "this node's read-write peer" : "a read-only node");
    return answer;
  }

  StatusOr<pb::SnapshotChunk> ServeSnapshotChunk(const pb::SnapshotChunkRequest& request,
                                                 const ClientIdentity& who) {
    if (!replicator) return InvalidState("this node is standalone");
    const pb::StoredNode* member = nullptr;
    for (const auto& m : members) {
      if (m.node_id() == request.node_id()) member = &m;
    }
    if (member == nullptr)
      return NotFound("node " + std::to_string(request.node_id()) +
                      " is not a member of this cluster");
    if (member->name().name() != who.common_name) {
      return PermissionDenied("certificate CN '" + who.common_name + "' is not node " +
                              std::to_string(request.node_id()));
    }
    uint32_t n = request.max_entries() == 0
                     ? kDefaultSnapshotChunkEntries
                     : std::min(request.max_entries(), kMaxSnapshotChunkEntries);
    COFFER_ASSIGN_OR_RETURN(pb::SnapshotChunk chunk,
                            inductions->Chunk(request.node_id(), request.after(), n));
    return chunk;
  }
};

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() { Stop(); }

StatusOr<std::unique_ptr<Node>> Node::Start(const NodeConfig& config, SecretBytes passphrase) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  COFFER_ASSIGN_OR_RETURN(HostPort listen, ParseHostPort(config.node.listen));
  COFFER_ASSIGN_OR_RETURN(auto identity, ReadIdentity(config.node.data_dir));
  if (identity) impl->node_id = identity->node_id;
  COFFER_ASSIGN_OR_RETURN(impl->opened,
                          OpenNodeStore(config, std::move(passphrase), NodeId{impl->node_id},
                                        /*confirm_names_on_apply=*/true, impl->clock, impl->rng));
  impl->store = impl->opened.store.get();
  impl->inductions =
      std::make_unique<InductionTransfers>(*impl->store, config.node.data_dir + "/inductions");
  COFFER_ASSIGN_OR_RETURN(auto install_point, impl->store->InstallResumePoint());
  COFFER_ASSIGN_OR_RETURN(auto joined_cluster, impl->store->Cluster());
  if (install_point || (identity && !joined_cluster)) {
    return InvalidState(
        "the induction of this node did not finish: run `coffer node start` "
        "with --join and --token again to resume it");
  }

  TlsFiles tls_files{config.tls.ca_file, config.tls.cert_file, config.tls.key_file};
  COFFER_ASSIGN_OR_RETURN(impl->tls, MakeServerTlsContext(tls_files));
  COFFER_ASSIGN_OR_RETURN(impl->peer_client_tls, MakeClientTlsContext(tls_files));
  ServerOptions server_options;
  server_options.listen_host = listen.host;
  server_options.port = listen.port;
  server_options.max_frame_bytes = static_cast<size_t>(config.limits.max_frame_bytes);
  server_options.handshake_timeout = std::chrono::milliseconds(config.tls.handshake_timeout_ms);
  server_options.idle_timeout = std::chrono::milliseconds(config.tls.idle_timeout_ms);
  server_options.max_connections = static_cast<size_t>(config.limits.max_connections);
  Impl* raw = impl.get();
  COFFER_ASSIGN_OR_RETURN(
      impl->server,
      ClientServer::Start(impl->net_io, *impl->tls, server_options,
                          [raw](pb::Request request, ClientIdentity who, ReplyFn reply) {
                            raw->Handle(std::move(request), std::move(who), std::move(reply));
                          }));
  impl->info.node_name = config.node.name;
  impl->info.listen = listen.host + ":" + std::to_string(impl->server->port());
  impl->info.peer_listen = config.node.peer_listen;
  impl->info.peer_address =
      config.node.peer_advertise.empty() ? config.node.peer_listen : config.node.peer_advertise;
  impl->info.subgroup = config.node.subgroup;
  impl->info.started_micros = impl->clock.WallMicros();

  if (joined_cluster) COFFER_RETURN_IF_ERROR(impl->EnterClusterMode());
  if (!config.node.http_listen.empty()) {
    COFFER_ASSIGN_OR_RETURN(HostPort http_listen, ParseHostPort(config.node.http_listen));
    HttpEndpointOptions http_options;
    http_options.listen_host = http_listen.host;
    http_options.port = http_listen.port;
    COFFER_ASSIGN_OR_RETURN(
        impl->http,
        HttpEndpoint::Start(impl->net_io, http_options,
                            [raw](std::string_view path, std::function<void(HttpReply)> respond) {
                              raw->ServeHttp(path, std::move(respond));
                            }));
  }

  // Logged before the threads start: afterwards only the store thread may
  // touch the store.
  spdlog::info("node {} (release {}) serving on {}, data in {}, {} objects, digest {}",
               config.node.name, kReleaseVersion, impl->info.listen, config.node.data_dir,
               impl->store->ObjectCount(), impl->store->StateDigest().Hex());
  impl->store_work.emplace(boost::asio::make_work_guard(impl->store_io));
  impl->net_work.emplace(boost::asio::make_work_guard(impl->net_io));
  impl->sync_work.emplace(boost::asio::make_work_guard(impl->sync_io));
  impl->sync_thread = std::thread([raw] { raw->sync_io.run(); });
  impl->gather_work.emplace(boost::asio::make_work_guard(impl->gather_io));
  impl->gather_thread = std::thread([raw] { raw->gather_io.run(); });
  impl->store_thread = std::thread([raw] { raw->store_io.run(); });
  impl->net_thread = std::thread([raw] {
    raw->net_io.run();
    raw->net_done.set_value();
  });
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

uint16_t Node::port() const { return impl_->server->port(); }

Status Node::RunUntilSignal() {
  boost::asio::io_context signal_io;
  boost::asio::signal_set signals(signal_io, SIGINT, SIGTERM);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) received = signal;
  });
  signal_io.run();
  spdlog::info("signal {} received; stopping", received);
  Stop();
  return Status::Ok();
}

void Node::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->stopping = true;
  // 1. No new connections, requests or replication messages.
  impl_->server->Stop();
  if (impl_->http) impl_->http->Stop();
  if (impl_->links) impl_->links->Stop();
  // 2. Requests already queued for the store finish; their replies go to the
  //    network thread, so a committed write is still answered. Writes still
  //    waiting for the pair peer end with OUTCOME_UNKNOWN.
  Impl* raw = impl_.get();
  boost::asio::post(raw->store_io, [raw] {
    raw->tick_timer.cancel();
    if (raw->replicator) {
      raw->replicator->Flush();
      raw->replicator->AbandonWaiting(
          Status(Code::kOutcomeUnknown,
                 "the node stopped before its pair peer confirmed the write; retry with the same "
                 "request id"));
    }
  });
  impl_->store_work.reset();
  impl_->store_thread.join();
  // A sync still running finishes before the store closes.
  impl_->sync_work.reset();
  impl_->sync_thread.join();
  // A /status gather finishes (its asks are bounded) before the network
  // thread that writes its reply stops.
  impl_->gather_work.reset();
  impl_->gather_thread.join();
  // 3. The network thread writes those replies and closes the connections.
  //    A peer that does not read its reply gets 5 s, then is cut off.
  impl_->net_work.reset();
  if (impl_->net_done.get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    spdlog::warn("connections still open 5 s after stop; closing them");
    impl_->net_io.stop();
  }
  impl_->net_thread.join();
  // 4. Release the ports and close the store (the RocksDB lock goes with it).
  impl_->server.reset();
  impl_->http.reset();
  impl_->replicator.reset();
  impl_->links.reset();
  impl_->inductions.reset();  // closes the checkpoints before the store
  impl_->opened.store.reset();
  spdlog::info("node {} stopped", impl_->config.node.name);
}

}  // namespace coffer::node
