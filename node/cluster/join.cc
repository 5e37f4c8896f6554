#include "node/cluster/join.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "node/client/client.h"
#include "node/cluster/startup_identity.h"
#include "node/config/data_dir.h"
#include "node/net/tls.h"
#include "upgrade/binary_profile.h"

namespace coffer::node {

namespace {

// Requests to the controller on one connection, made again after a failure
// (a failed call closes it; node/client.h).
class ControllerConnection {
 public:
  ControllerConnection(const JoinOptions& options, boost::asio::ssl::context& tls)
      : options_(options), tls_(tls) {}

  StatusOr<pb::Response> Call(const pb::Request& request) {
    if (!client_) {
      COFFER_ASSIGN_OR_RETURN(HostPort address, ParseHostPort(options_.controller));
      COFFER_ASSIGN_OR_RETURN(
          client_, CofferClient::Connect(address.host, address.port, tls_, options_.call_timeout));
    }
    auto response = client_->Call(request, options_.call_timeout);
    if (!response.ok()) client_.reset();
    COFFER_ASSIGN_OR_RETURN(pb::Response answered, std::move(response));
    COFFER_RETURN_IF_ERROR(StatusFromResponse(answered));
    return answered;
  }

 private:
  const JoinOptions& options_;
  boost::asio::ssl::context& tls_;
  std::unique_ptr<CofferClient> client_;
};

// Fetches one chunk, retrying with backoff (0.1 s doubling to 2 s) while the
// controller is unreachable, for at most options.controller_retry_for.
StatusOr<pb::Response> FetchChunk(ControllerConnection& controller, const pb::Request& request,
                                  const JoinOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto backoff = std::chrono::milliseconds(100);
  auto next_warning = started;
  while (true) {
    auto response = controller.Call(request);
    Code code = response.ok() ? Code::kOk : response.status().code();
    if (code != Code::kUnavailable && code != Code::kOutcomeUnknown) return response;
    auto waited = Clock::now() - started;
    if (waited >= options.controller_retry_for) {
      return Unavailable(
          "the controller has not answered for " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(waited).count()) +
          " s (" + response.status().message() +
          "); run the same command again to resume the transfer where it stopped");
    }
    if (Clock::now() >= next_warning) {
      spdlog::warn(
          "controller unreachable ({}); retrying for up to {} s more", response.status().message(),
          std::chrono::duration_cast<std::chrono::seconds>(options.controller_retry_for - waited)
              .count());
      next_warning = Clock::now() + std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(backoff);  // backoff between attempts, bounded above
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace

Status JoinCluster(const NodeConfig& config, const SecretBytes& passphrase,
                   const JoinOptions& options,
                   const std::function<void(const JoinProgress&)>& progress) {
  SystemClock clock;
  SystemRng rng;
  // Who this node is (certificate, data directory): refused before the store
  // is opened or the controller is asked.
  COFFER_RETURN_IF_ERROR(CheckIdentityBeforeStart(config));
  COFFER_ASSIGN_OR_RETURN(auto identity, ReadIdentity(config.node.data_dir));
  uint64_t entries_estimate = 0;  // from the JoinAnswer; unknown on a resumed join
  // The node id matters only for local writes, which an install makes none of.
  NodeId node_id{identity ? identity->node_id : 1};
  COFFER_ASSIGN_OR_RETURN(OpenedStore opened,
                          OpenNodeStore(config, passphrase, node_id,
                                        /*confirm_names_on_apply=*/false, clock, rng));
  storage::ObjectStore& store = *opened.store;
  COFFER_ASSIGN_OR_RETURN(auto resume, store.InstallResumePoint());
  COFFER_ASSIGN_OR_RETURN(auto cluster, store.Cluster());
  if (identity && cluster && !resume) {
    spdlog::info("node {} is already a member of cluster {}; --join ignored", identity->node_id,
                 cluster->cluster_id());
    return Status::Ok();
  }
  COFFER_ASSIGN_OR_RETURN(
      auto tls, MakeClientTlsContext(
                    TlsFiles{config.tls.ca_file, config.tls.cert_file, config.tls.key_file}));
  ControllerConnection controller(options, *tls);
  if (!identity) {
    if (!store.Applied().empty() || cluster || resume) {
      return InvalidState("data directory " + config.node.data_dir +
                          " already holds data: a candidate must start from an empty data "
                          "directory");
    }
    pb::Request request;
    auto* join = request.mutable_join();
    join->set_token(options.token);
    join->set_name(config.node.name);
    join->set_subgroup(config.node.subgroup);
    join->set_peer_address(config.node.peer_advertise.empty() ? config.node.peer_listen
                                                              : config.node.peer_advertise);
    join->set_client_address(config.node.listen);
    join->set_release_version(upgrade::ThisBinary().versions.release.ToString());
    COFFER_ASSIGN_OR_RETURN(pb::Response response, controller.Call(request));
    const pb::JoinAnswer& answer = response.join_answer();
    if (answer.node_id() == 0) return Internal("the controller answered without a node id");
    identity = NodeIdentity{answer.node_id(), answer.cluster_id(), config.node.name};
    entries_estimate = answer.snapshot_entries_estimate();
    COFFER_RETURN_IF_ERROR(WriteIdentity(config.node.data_dir, *identity));
    spdlog::info("joined cluster '{}' ({}) as node {} ({}), through node {}", answer.cluster_name(),
                 answer.cluster_id(), answer.node_id(),
                 answer.role() == pb::NODE_READ_ONLY
                     ? "read-only"
                     : "read-write peer of node " + std::to_string(answer.peer()),
                 answer.controller_id());
  } else {
    spdlog::info("resuming the induction of node {} {}", identity->node_id,
                 resume ? "after its last installed chunk" : "from the start (no chunk installed)");
  }

  JoinProgress state;
  state.node_id = identity->node_id;
  state.entries_estimate = entries_estimate;
  const auto started = std::chrono::steady_clock::now();
  std::string after = resume.value_or("");
  // Each round installs one chunk and advances `after`; the controller's
  // snapshot is finite, and a chunk that does not advance is an error.
  while (true) {
    pb::Request request;
    request.mutable_snapshot_chunk()->set_node_id(identity->node_id);
    request.mutable_snapshot_chunk()->set_after(after);
    request.mutable_snapshot_chunk()->set_max_entries(options.chunk_entries);
    COFFER_ASSIGN_OR_RETURN(pb::Response response, FetchChunk(controller, request, options));
    const pb::SnapshotChunk& chunk = response.snapshot_chunk();
    COFFER_RETURN_IF_ERROR(store.InstallSnapshotChunk(chunk));
    state.chunks++;
    state.entries += static_cast<uint64_t>(chunk.entries_size());
    state.bytes += chunk.ByteSizeLong();
    state.done = chunk.last();
    state.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (progress) progress(state);
    if (chunk.last()) break;
    if (chunk.resume_after() <= after) {
      return DataLoss("the controller sent a snapshot chunk that does not advance");
    }
    after = chunk.resume_after();
  }
  spdlog::info("snapshot installed: {} entries in {} chunks, digest {}", state.entries,
               state.chunks, store.StateDigest().Hex());
  return Status::Ok();
}

std::string RenderJoinProgress(const JoinProgress& p, bool terminal) {
  char text[256];
  double rate = p.seconds > 0 ? static_cast<double>(p.bytes) / p.seconds : 0;
  double entry_rate = p.seconds > 0 ? static_cast<double>(p.entries) / p.seconds : 0;
  std::string eta;
  double fraction = -1;
  if (p.entries_estimate > 0) {
    fraction =
        std::min(1.0, static_cast<double>(p.entries) / static_cast<double>(p.entries_estimate));
    if (!p.done && entry_rate > 0 && p.entries < p.entries_estimate) {
      eta = ", ETA " +
            std::to_string(static_cast<int64_t>(
                static_cast<double>(p.entries_estimate - p.entries) / entry_rate + 0.5)) +
            " s";
    }
  }
  if (p.done) fraction = 1;
  std::snprintf(
      text, sizeof text, "%llu%s entries, %.1f MiB, %.1f MiB/s%s%s",
      static_cast<unsigned long long>(p.entries),
      p.entries_estimate > 0 ? (" of ~" + std::to_string(p.entries_estimate)).c_str() : "",
      static_cast<double>(p.bytes) / (1 << 20), rate / (1 << 20), eta.c_str(),
      p.done ? ", installed" : "");
  if (!terminal) return "snapshot: " + std::string(text) + "\n";
  std::string bar;
  if (fraction >= 0) {
    constexpr int kWidth = 30;
    int filled = static_cast<int>(fraction * kWidth);
    bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] " +
          std::to_string(static_cast<int>(fraction * 100)) + "% ";
  }
  // \r redraws the line; \x1b[K clears what a longer earlier line left.
  return "\rsnapshot " + bar + text + "\x1b[K" + (p.done ? "\n" : "");
}

}  // namespace coffer::node
