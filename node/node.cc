#include "node/node.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "node/api/request_handler.h"
#include "node/api/request_kinds.h"
#include "node/audit/audit_log.h"
#include "node/cli/cli_output.h"
#include "node/client/client.h"
#include "node/cluster/admission.h"
#include "node/cluster/controller.h"
#include "node/cluster/membership.h"
#include "node/cluster/record_key.h"
#include "node/cluster/startup_identity.h"
#include "node/cluster/version_keeper.h"
#include "node/config/data_dir.h"
#include "node/monitoring/cluster_gather.h"
#include "node/monitoring/integrity_alert_log.h"
#include "node/monitoring/link_views.h"
#include "node/monitoring/metrics.h"
#include "node/monitoring/status_pages.h"
#include "node/monitoring/storage_watch.h"
#include "node/net/certs.h"
#include "node/net/client_server.h"
#include "node/net/http_endpoint.h"
#include "node/net/listener_limits.h"
#include "node/net/peer_links.h"
#include "node/net/tls.h"
#include "replication/lifecycle_driver.h"
#include "replication/replicator.h"
#include "storage/membership.h"
#include "upgrade/binary_profile.h"
#include "upgrade/version.h"

namespace coffer::node {

namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(10);
constexpr int64_t kMembershipRefreshMicros = 100'000;
// /status: how long one other member may take to connect, then to answer.
constexpr auto kMemberStatusTimeout = std::chrono::milliseconds(1000);

}  // namespace

struct Node::Impl {
  explicit Impl(NodeEnv env)
      : clock(env.clock ? *env.clock : system_clock), rng(env.rng ? *env.rng : system_rng) {}

  NodeConfig config;
  SystemClock system_clock;
  SystemRng system_rng;
  const Clock& clock;  // env.clock, or system_clock
  Rng& rng;            // env.rng, or system_rng
  OpenedStore opened;
  // Audit lines of client requests (info.audit points here); outlives the
  // threads that append to it.
  std::unique_ptr<audit::AuditLog> audit_log;
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
  // Origin authentication of received records (replication/README.md).
  std::unique_ptr<storage::SignatureVerifier> record_verifier =
      storage::MakeEcdsaSignatureVerifier();
  IntegrityAlertLog alert_log;
  IntegrityAlertLog clock_log{"clock refusal"};
  boost::asio::steady_timer tick_timer{store_io};
  boost::asio::steady_timer group_commit_timer{store_io};  // a sync SyncDone put off
  int64_t last_membership_refresh = 0;
  std::string members_fingerprint;
  replication::NodeLifecycle lifecycle;  // the node-state steps (sans-IO)
  replication::LogGc log_gc;             // when GC runs, what it drops (sans-IO)
  RemovalWatch removal;
  // Set once this node was removed (RemovalWatch): it serves nothing more
  // and RunUntilSignal returns. Any thread.
  std::atomic<bool> removed{false};
  std::mutex run_mu;
  boost::asio::io_context* run_io = nullptr;  // RunUntilSignal's, while it waits
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
  // Join tokens, joins and the induction snapshots being sent (checkpoints
  // in <data_dir>/inductions).
  std::unique_ptr<InductionController> controller;
  // Asked by the peer links on the network thread.
  PeerAdmission admission;
  VersionKeeper versions{upgrade::ThisBinary()};  // store thread

  // ---- Monitoring ----
  NodeMetrics metrics;
  std::unique_ptr<HttpEndpoint> http;
  StatusPages pages{metrics};  // store thread
  // Storage faults: writes refused while the store cannot write, resumed
  // on the sync thread (docs/storage-faults.md). Store thread.
  std::unique_ptr<StorageWatch> storage_watch;

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
      pb::Response busy = ResponseFor(
          ResourceExhausted("node is busy: " + std::to_string(config.limits.max_queued_requests) +
                            " requests queued; retry later"));
      AuditRequest(info, request, who, busy);  // a refusal (info.audit is set before serving)
      reply(std::move(busy));
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
      AuditRequest(info, request, who, response);
      reply(std::move(response));
    };
    Status allowed = AdmitRequest(*store, request, who, ServingStateNow(), *versions.gate());
    if (allowed.ok() && WritesStore(request)) allowed = storage_watch->CheckWrite();
    if (!allowed.ok()) return answer(ResponseFor(allowed));
    switch (KindOf(request).request_class) {
      case RequestClass::kInduction:
        return answer(controller->Serve(request, who));
      case RequestClass::kLifecycle:
        if (replicator) {
          return answer(ResponseForWrite(WriteLifecycle(request.write(), request.request_id())));
        }
        break;
      case RequestClass::kDataWrite:
        if (replicator) {
          auto op = PrepareWrite(request.write(), info);
          if (!op.ok()) return answer(ResponseFor(op.status()));
          // A critical write: acknowledged once the pair peer has it.
          replicator->Write(*op, request.request_id(), RetryOf(request),
                            [this, request, who, reply](replication::WriteAnswer answer) {
                              pb::Response response = ResponseForWrite(answer);
                              AuditRequest(info, request, who, response);
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
    if (!IsStatusPage(path)) return respond(NoSuchPage());
    std::string page(path);
    if (stopping.load()) return respond(HttpReply{503, "text/plain; charset=utf-8", "stopping\n"});
    boost::asio::post(store_io, [this, page = std::move(page), respond = std::move(respond)] {
      pb::ClusterStatus cluster = LocalClusterStatus(*store, info, clock);
      if (page != "/status") {
        return respond(pages.Page(page, cluster, replicator ? replicator->apply_errors() : 0));
      }
      boost::asio::post(gather_io, [this, cluster = std::move(cluster), respond]() mutable {
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

  // ---- Node lifecycle (semantics.md section 5) ----

  const pb::StoredNode* Self() const {
    for (const auto& m : members) {
      if (m.node_id() == node_id) return &m;
    }
    return nullptr;
  }

  // The state this node serves requests in (CheckServes). Store thread.
  ServingState ServingStateNow() const {
    // A removed node's data is no longer replicated to: stale, like an
    // EXPIRED node's.
    if (removed.load()) return ServingState::kExpired;
    const pb::StoredNode* me = replicator ? Self() : nullptr;
    if (me == nullptr) return ServingState::kStandalone;
    // Asked for every request: the settings are read only when the window
    // of a DISABLED node matters.
    pb::StoredCluster settings;
    if (storage::StoredState(*me) == pb::NODE_DISABLED) {
      auto cluster = store->Cluster();
      if (cluster.ok() && *cluster) settings = **cluster;
    }
    return ServingStateOf(*me, settings, clock.WallMicros());
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
    auto written =
        replication::StepLifecycle(lifecycle, storage::StoredState(*me), *replicator, rng);
    if (!written.ok()) {
      spdlog::warn("cannot record node state change: {}", written.status().ToString());
      return;
    }
    if (!*written) return;
    spdlog::info("node {} is now {}", config.node.name,
                 **written == pb::NODE_ACTIVE ? "ACTIVE" : "DISABLED");
    RefreshMembership(/*force=*/true);
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

  // Group commit: the fsync runs on the sync thread while the store thread goes
  // on; when each starts is replication::GroupCommit's decision (the sim's too).
  void ScheduleFlush() {
    if (group_commit.WritesArrived(clock.MonotonicMicros())) StartSync();
  }

  void StartSync() {
    auto batch = replicator->TakeUnsynced();
    if (batch.empty()) return group_commit.NothingToSync();
    boost::asio::post(sync_io, [this, batch = std::move(batch)]() mutable {
      Status synced = replication::Replicator::SyncGroupCommit(*store);
      boost::asio::post(store_io, [this, batch = std::move(batch), synced] {
        if (!replicator) return group_commit.NothingToSync();
        replicator->Committed(batch, synced);
        auto next = group_commit.SyncDone(clock.MonotonicMicros(),
                                          synced.ok() && replicator->HasUnsynced());
        if (!next) return;
        if (*next <= clock.MonotonicMicros()) return StartSync();
        group_commit_timer.expires_after(
            std::chrono::microseconds(*next - clock.MonotonicMicros()));
        group_commit_timer.async_wait([this](const boost::system::error_code& ec) {
          if (ec || !replicator) return group_commit.NothingToSync();
          StartSync();
        });
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
      COFFER_RETURN_IF_ERROR(WriteIdentity(
          config.node.data_dir, NodeIdentity{node_id, cluster->cluster_id(), config.node.name}));
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
    options.release_version = upgrade::ThisBinary().versions.release.ToString();
    ApplyConnectionLimits(config, &options);
    COFFER_ASSIGN_OR_RETURN(
        links, PeerLinks::Start(
                   net_io, *tls, *peer_client_tls, options,
                   [this](const pb::PeerHello& hello, const ClientIdentity& certificate) {
                     return admission.Admit(hello, certificate);
                   },
                   [this](uint32_t from, pb::ReplicationMessage message) {
                     Deliver(from, std::move(message));
                   }));
    COFFER_ASSIGN_OR_RETURN(members, store->Members());
    COFFER_RETURN_IF_ERROR(CheckRecordKey(members, node_id, *opened.signer));
    replicator = std::make_unique<replication::Replicator>(
        *store, replication::CoreMembers(members), replication::CoreOptions{}, *links, clock);
    replicator->EnableGroupCommit();
    group_commit =
        replication::GroupCommit({.min_interval_micros = config.storage.group_commit_interval_us});
    replicator->SetSignatureVerifier(record_verifier.get());
    replicator->SetIntegrityAlertObserver([this](const replication::IntegrityAlert& alert) {
      alert_log.Report(alert, clock.MonotonicMicros());
    });
    replicator->SetClockRefusalObserver([this](const replication::IntegrityAlert& refusal) {
      clock_log.Report(refusal, clock.MonotonicMicros());
    });
    replicator->SetAppliedObserver([this](const pb::LogRecord& record) {
      double lag = static_cast<double>(clock.WallMicros() - record.hlc().wall_micros()) / 1e6;
      metrics.ObserveReplicationLag(record.origin(), lag);
    });
    members_fingerprint.clear();
    RefreshMembership();
    info.fill_replication = [this](pb::NodeStatus* status) { FillReplication(status); };
    info.serving_state = [this] { return ServingStateNow(); };
    controller->EnterCluster(InductionController::Cluster{
        .write_unpaired = [this](
                              const pb::Op& op,
                              const std::string& id) { return replicator->WriteUnpaired(op, id); },
        .refresh_membership = [this] { RefreshMembership(); },
        .members = [this]() -> const std::vector<pb::StoredNode>& { return members; },
        .heard_from =
            [this](uint32_t id) { return replicator->core().link(id).last_heard_micros != 0; },
    });
    spdlog::info("cluster '{}' ({}): node id {}, peer links on {}", cluster->name(),
                 cluster->cluster_id(), node_id, config.node.peer_listen);
    ArmTick();
    return Status::Ok();
  }

  // Re-reads membership; on a change, tells the replicator, the links and the
  // admission check.
  void RefreshMembership(bool force = false) {
    if (removed.load()) return;
    if (force) members_fingerprint.clear();
    last_membership_refresh = clock.MonotonicMicros();
    auto current = store->Members();
    if (!current.ok()) {
      spdlog::warn("cannot read membership: {}", current.status().ToString());
      return;
    }
    std::string fingerprint = MembershipFingerprint(*current);
    if (fingerprint == members_fingerprint) return;
    members_fingerprint = std::move(fingerprint);
    members = *current;
    if (removal.Removed(members, node_id, {})) return ReportRemoved();
    std::map<uint32_t, std::string> peers;
    for (const auto& m : members) {
      if (m.node_id() != node_id) peers[m.node_id()] = m.peer_address();
    }
    admission.SetMembers(members);
    replicator->SetMembers(replication::CoreMembers(members));
    links->SetPeers(std::move(peers));
    spdlog::info("membership: {} nodes", members.size());
  }

  // Store thread, once: this node was deleted from the cluster. It says so,
  // drops its links and ends RunUntilSignal (which then stops the node).
  void ReportRemoved() {
    removed = true;
    spdlog::error(
        "node {} (id {}) was removed from the cluster: it no longer serves and stops; to bring "
        "it back, wipe its data directory and induct it again (coffer node start --join)",
        config.node.name, node_id);
    links->SetPeers({});
    std::lock_guard<std::mutex> lock(run_mu);
    if (run_io != nullptr) run_io->stop();
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
      ScheduleFlush();                          // retries released by Tick
      if (storage_watch->guard().writable()) {  // both write to the store
        DriveLifecycle();
        CollectLog();
      }
      if (clock.MonotonicMicros() - last_membership_refresh >= kMembershipRefreshMicros) {
        RefreshMembership();
        if (!removed && removal.Removed(members, node_id, links->LinkStatuses())) ReportRemoved();
        // The cluster version's steps, the version floor and the gate.
        if (!removed && storage_watch->guard().writable()) {
          versions.Round(*store, *replicator, admission, rng);
        }
      }
      controller->PruneInductions();
      ArmTick();
    });
  }

  void FillReplication(pb::NodeStatus* status) const {
    const auto& core = replicator->core();
    status->set_mode(std::string(replication::WriteModeName(core.mode())));
    status->set_mode_reason(core.mode_reason());
    status->set_pending_critical_writes(core.pending_critical_writes());
    status->set_integrity_alerts(replicator->integrity_alerts());
    status->set_unvouched_records(replicator->unvouched_records());
    status->set_unverified_records(replicator->unverified_records());
    status->set_withheld_material_records(replicator->withheld_material_records());
    if (const auto& alert = replicator->last_integrity_alert()) {
      status->set_last_integrity_alert(alert->ToString());
    }
    status->set_clock_refusals(replicator->clock_refusals());
    if (const auto& r = replicator->last_clock_refusal())
      status->set_last_clock_refusal(r->ToString());
    if (const pb::StoredNode* me = Self()) status->set_state(StateName(*me));
    for (const auto& transfer : controller->transfers().Views())
      *status->add_inductions() = transfer;
    *status->mutable_log_collected_through() = replication::ToProto(store->log_collected());
    AddLinkViews(core, links->LinkStatuses(), members, node_id, clock.MonotonicMicros(), status);
  }
};

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() { Stop(); }

StatusOr<std::unique_ptr<Node>> Node::Start(const NodeConfig& config, SecretBytes passphrase,
                                            NodeEnv env) {
  auto impl = std::make_unique<Impl>(env);
  impl->config = config;
  COFFER_ASSIGN_OR_RETURN(HostPort listen, ParseHostPort(config.node.listen));
  // Who this node is (certificate, data directory): refused before anything
  // is written.
  COFFER_RETURN_IF_ERROR(CheckIdentityBeforeStart(config));
  COFFER_ASSIGN_OR_RETURN(auto identity, ReadIdentity(config.node.data_dir));
  if (identity) impl->node_id = identity->node_id;
  COFFER_ASSIGN_OR_RETURN(impl->opened,
                          OpenNodeStore(config, std::move(passphrase), NodeId{impl->node_id},
                                        /*confirm_names_on_apply=*/true, impl->clock, impl->rng));
  impl->store = impl->opened.store.get();
  impl->versions.Refresh(*impl->store, impl->admission);
  COFFER_ASSIGN_OR_RETURN(auto stored_members, impl->store->Members());
  COFFER_RETURN_IF_ERROR(CheckStoredIdentity(config.node.name, impl->node_id, stored_members));
  impl->storage_watch =
      std::make_unique<StorageWatch>(*impl->store, config.node.data_dir, impl->clock, impl->metrics,
                                     impl->store_io, impl->sync_io);
  impl->info.fill_storage = [w = impl->storage_watch.get()](pb::NodeStatus* s) { w->Fill(s); };
  impl->storage_watch->SetOnResumed([raw = impl.get()] {
    if (raw->replicator) raw->replicator->StorageResumed();
  });
  impl->controller = std::make_unique<InductionController>(
      *impl->store, config.node.data_dir + "/inductions", impl->clock, impl->node_id);
  COFFER_ASSIGN_OR_RETURN(auto install_point, impl->store->InstallResumePoint());
  COFFER_ASSIGN_OR_RETURN(auto joined_cluster, impl->store->Cluster());
  if (install_point || (identity && !joined_cluster)) {
    return InvalidState(
        "the induction of this node did not finish: run `coffer node start` "
        "with --join and --token again to resume it");
  }

  COFFER_ASSIGN_OR_RETURN(impl->audit_log,
                          audit::AuditLog::Open(audit::AuditOptionsFor(config, &impl->clock)));
  impl->info.audit = impl->audit_log.get();

  TlsFiles tls_files{config.tls.ca_file, config.tls.cert_file, config.tls.key_file};
  COFFER_ASSIGN_OR_RETURN(impl->tls, MakeServerTlsContext(tls_files));
  COFFER_ASSIGN_OR_RETURN(impl->peer_client_tls, MakeClientTlsContext(tls_files));
  ServerOptions server_options;
  server_options.listen_host = listen.host;
  server_options.port = listen.port;
  server_options.max_frame_bytes = static_cast<size_t>(config.limits.max_frame_bytes);
  ApplyConnectionLimits(config, &server_options);
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
  auto not_after = CertificateNotAfter(config.tls.cert_file);
  impl->info.cert_not_after = not_after.ok() ? not_after.value() : 0;

  if (joined_cluster) COFFER_RETURN_IF_ERROR(impl->EnterClusterMode());
  if (!config.node.http_listen.empty()) {
    COFFER_ASSIGN_OR_RETURN(HostPort http_listen, ParseHostPort(config.node.http_listen));
    HttpEndpointOptions http_options;
    http_options.listen_host = http_listen.host;
    http_options.port = http_listen.port;
    ApplyConnectionLimits(config, &http_options);
    COFFER_ASSIGN_OR_RETURN(
        impl->http,
        HttpEndpoint::Start(impl->net_io, http_options,
                            [raw](std::string_view path, std::function<void(HttpReply)> respond) {
                              raw->ServeHttp(path, std::move(respond));
                            }));
  }

  impl->storage_watch->Start();
  // Logged before the threads start: afterwards only the store thread may
  // touch the store.
  spdlog::info("node {} (release {}) serving on {}, data in {}, {} objects, digest {}",
               config.node.name, upgrade::ThisBinary().versions.release.ToString(),
               impl->info.listen, config.node.data_dir, impl->store->ObjectCount(),
               impl->store->StateDigest().Hex());
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
  {
    std::lock_guard<std::mutex> lock(impl_->run_mu);
    impl_->run_io = &signal_io;
    if (impl_->removed.load()) signal_io.stop();
  }
  signal_io.run();
  {
    std::lock_guard<std::mutex> lock(impl_->run_mu);
    impl_->run_io = nullptr;
  }
  const bool removed = impl_->removed.load();
  if (!removed) spdlog::info("signal {} received; stopping", received);
  Stop();
  return removed ? InvalidState("node " + impl_->config.node.name +
                                " was removed from the cluster; wipe its data directory and "
                                "induct it again to bring it back")
                 : Status::Ok();
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
    raw->group_commit_timer.cancel();  // Flush() below syncs what it would have
    raw->storage_watch->Stop();
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
  impl_->controller.reset();  // closes the checkpoints before the store
  impl_->opened.store.reset();
  spdlog::info("node {} stopped", impl_->config.node.name);
}

}  // namespace coffer::node
