// The ClusterTest fixture and its helpers, shared by the cluster integration
// tests (tests/integration/cluster_*_test.cc): clusters of real `coffer node
// start` processes on loopback sharing one CA, requests and writes on a node,
// its status and state, and the common cluster shapes (a pair and a read-only
// node; two pairs; nodes behind fault proxies). Every wait is a condition
// polled until a deadline.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "node/config/config.h"
#include "tests/harness/fault_proxy.h"
#include "tests/harness/node_process.h"

namespace coffer::integration {

// Stops and joins a worker thread however the test ends: an ASSERT that
// returns early must not leave a joinable std::thread (std::terminate would
// leave the test's node processes running).
struct StopAndJoin {
  std::atomic<bool>& stop;
  std::thread& thread;
  ~StopAndJoin() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

// A request id no other request of this test process uses.
inline std::string NewRequestId() {
  static std::atomic<uint64_t> next{1};
  SystemRng rng;
  return Uuid::Generate(rng).str() + "-" + std::to_string(next++);
}

// One request on `node`: its response, or the error the node (or the
// connection) gave.
inline StatusOr<pb::Response> Ask(NodeProcess& node, const pb::Request& request) {
  COFFER_ASSIGN_OR_RETURN(pb::Response response, node.Call(request));
  COFFER_RETURN_IF_ERROR(node::StatusFromResponse(response));
  return response;
}

// A write on `node`: its result, or the error the node (or the connection) gave.
inline StatusOr<pb::OpResult> Write(NodeProcess& node, const pb::Op& op,
                                    const std::string& request_id = NewRequestId()) {
  pb::Request request;
  request.set_request_id(request_id);
  *request.mutable_write() = op;
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return response.op_result();
}

// `node`'s status, or the error the node (or the connection) gave.
inline StatusOr<pb::NodeStatus> StatusOf(NodeProcess& node) {
  pb::Request request;
  request.mutable_node_status();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return response.node_status();
}

// `node` reports itself in `mode` (read-write, read-only, ...).
inline bool InMode(NodeProcess& node, const std::string& mode) {
  auto status = StatusOf(node);
  return status.ok() && status->mode() == mode;
}

// `node` reports itself in `state` (PENDING, ACTIVE, DISABLING, ...).
inline bool InState(NodeProcess& node, const std::string& state) {
  auto status = StatusOf(node);
  return status.ok() && status->state() == state;
}

// The op that creates wallet `name`.
inline pb::Op WalletCreate(const std::string& name) {
  pb::Op op;
  op.mutable_wallet_create()->set_name(name);
  return op;
}

// The op that registers secret data `name` holding `material`.
inline pb::Op RegisterSecret(const std::string& name, const std::string& material) {
  pb::Op op;
  auto* r = op.mutable_register_object();
  r->set_type(pb::SECRET_DATA);
  r->set_name(name);
  r->set_material(material);
  return op;
}

// Wallet `name` as `node` sees it.
inline StatusOr<pb::WalletView> GetWallet(NodeProcess& node, const std::string& name) {
  pb::Request request;
  request.mutable_wallet_get()->set_wallet(name);
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return response.wallet();
}

// Object `uuid` as `node` sees it.
inline StatusOr<pb::ObjectView> GetObject(NodeProcess& node, const std::string& uuid) {
  pb::Request request;
  request.mutable_get()->set_uuid(uuid);
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return response.object();
}

// The conflicts `node` lists.
inline StatusOr<std::vector<pb::ConflictView>> Conflicts(NodeProcess& node) {
  pb::Request request;
  request.mutable_conflict_list();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return std::vector<pb::ConflictView>(response.conflicts().conflicts().begin(),
                                       response.conflicts().conflicts().end());
}

class ClusterTest : public ::testing::Test {
 protected:
  ClusterTest() : ca_(*node::CreateCertificateAuthority("cluster test CA")) {}

  // A node `name` of this test's CA (started by the test), kept until the test ends.
  NodeProcess& Add(const std::string& name, NodeProcessOptions options = {}) {
    options.name = name;
    options.ca = &ca_;
    nodes_.push_back(std::make_unique<NodeProcess>(options));
    return *nodes_.back();
  }

  // Starts `node` and makes it the first node of cluster "prod".
  void Init(NodeProcess& node) {
    ASSERT_TRUE(node.Start());
    pb::Op op;
    op.mutable_cluster_init()->set_name("prod");
    auto created = Write(node, op);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  // A join token for `role` from `controller`.
  StatusOr<std::string> Token(NodeProcess& controller, pb::NodeRole role) {
    pb::Request request;
    request.mutable_join_token()->set_role(role);
    COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(controller, request));
    return response.join_token().token();
  }

  // Inducts `candidate` through `controller` and waits until it serves.
  void Join(NodeProcess& candidate, NodeProcess& controller, pb::NodeRole role) {
    auto token = Token(controller, role);
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    ASSERT_TRUE(candidate.Start({"--join", controller.address(), "--token", *token}));
  }

  // The common three-node shape: `a` first, `b` its read-write peer, `c` a
  // read-only node inducted through `a`; waits until both joiners are ACTIVE.
  void FormPairAndReadOnly(NodeProcess& a, NodeProcess& b, NodeProcess& c) {
    Init(a);
    Join(b, a, pb::NODE_READ_WRITE);
    Join(c, a, pb::NODE_READ_ONLY);
    ASSERT_TRUE(WaitFor([&] { return InState(b, "ACTIVE") && InState(c, "ACTIVE"); },
                        std::chrono::seconds(30)));
  }

  // Two pairs: `a` first and `b` its peer; `c` inducted through `a`, and
  // `d` through `c` as its peer. Waits until all four are read-write.
  void FormTwoPairs(NodeProcess& a, NodeProcess& b, NodeProcess& c, NodeProcess& d) {
    Init(a);
    Join(b, a, pb::NODE_READ_WRITE);
    Join(c, a, pb::NODE_READ_ONLY);
    Join(d, c, pb::NODE_READ_WRITE);  // c and d form the second pair
    ASSERT_TRUE(WaitFor(
        [&] {
          for (auto* n : {&a, &b, &c, &d}) {
            if (!InMode(*n, "read-write")) return false;
          }
          return true;
        },
        std::chrono::seconds(30)));
  }

  // Adds `name` with its peer links on `peer_host` (a loopback address of
  // its own) behind a FaultProxy of its own (proxies_, in the order added),
  // which can cut what comes from one source address.
  NodeProcess& AddBehindProxy(const std::string& name, const std::string& peer_host) {
    uint16_t peer_port = FreePort();
    proxies_.push_back(FaultProxy::Start("127.0.0.1", peer_host, peer_port));
    EXPECT_TRUE(proxies_.back() != nullptr);
    return Add(name, {.node_config = PeerAdvertise(proxies_.back()->port()),
                      .peer_port = peer_port,
                      .peer_host = peer_host});
  }

  // Every running node in `nodes` reports the same digest and applied vector.
  static bool Converged(const std::vector<NodeProcess*>& nodes) {
    std::set<std::string> digests;
    std::set<std::string> applied;
    for (auto* n : nodes) {
      auto status = StatusOf(*n);
      if (!status.ok()) return false;
      digests.insert(status->digest());
      std::map<uint32_t, uint64_t> sorted(status->applied().applied().begin(),
                                          status->applied().applied().end());
      std::string text;
      for (const auto& [origin, seq] : sorted)
        text += std::to_string(origin) + ":" + std::to_string(seq) + " ";
      applied.insert(text);
    }
    return digests.size() == 1 && applied.size() == 1;
  }

  // Sets the cluster's maximum disable duration through `via` and waits
  // until `all` have converged on it.
  static void SetMaxDisableSeconds(NodeProcess& via, int seconds,
                                   const std::vector<NodeProcess*>& all) {
    pb::Op settings;
    settings.mutable_cluster_set()->set_max_disable_seconds(seconds);
    auto written = Write(via, settings);
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    ASSERT_TRUE(WaitFor([&] { return Converged(all); }, std::chrono::seconds(30)));
  }

  node::PemPair ca_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::vector<std::unique_ptr<FaultProxy>> proxies_;  // AddBehindProxy
};

// The open induction transfer on `controller`, if its status shows exactly one.
inline std::optional<pb::InductionView> OpenInduction(NodeProcess& controller) {
  auto status = StatusOf(controller);
  if (!status.ok() || status->inductions_size() != 1) return std::nullopt;
  return status->inductions(0);
}

// The op that moves member `node_id` to `state` (disable, enable, delete, ...).
inline pb::Op SetNodeState(uint32_t node_id, pb::NodeState state) {
  pb::Op op;
  op.mutable_node_state()->set_node_id(node_id);
  op.mutable_node_state()->set_state(state);
  return op;
}

// The state of member `node_id` as `asked` sees it ("" if not a member).
inline std::string MemberState(NodeProcess& asked, uint32_t node_id) {
  pb::Request request;
  request.mutable_cluster_status();
  auto response = Ask(asked, request);
  if (!response.ok()) return "?";
  for (const auto& m : response->cluster_status().members()) {
    if (m.node_id() == node_id) return m.state();
  }
  return "";
}

// The node id `node` reports (0 if it does not answer).
inline uint32_t NodeIdOf(NodeProcess& node) {
  auto status = StatusOf(node);
  return status.ok() ? status->node_id() : 0;
}

// Resident memory of a node process in KiB (from /proc), 0 if unknown.
inline uint64_t RssKib(NodeProcess& node) {
  std::string status = ReadWholeFile("/proc/" + std::to_string(node.pid()) + "/status");
  size_t at = status.find("VmRSS:");
  return at == std::string::npos ? 0 : std::strtoull(status.c_str() + at + 6, nullptr, 10);
}

// What `node` collected of origin `origin`'s log (Log GC), per its status.
inline uint64_t CollectedThrough(NodeProcess& node, uint32_t origin) {
  auto status = StatusOf(node);
  if (!status.ok()) return 0;
  auto it = status->log_collected_through().applied().find(origin);
  return it == status->log_collected_through().applied().end() ? 0 : it->second;
}

}  // namespace coffer::integration
