// Clusters of real `coffer node start` processes on loopback: induction with
// join tokens, restarts, read-only nodes, the pair guarantee under a cut link
// (through a userspace fault proxy), conflicts across pairs, and kill -9
// during a write burst. Every wait is a condition polled until a deadline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/ids.h"
#include "node/client/failover_client.h"
#include "node/config/config.h"
#include "tests/harness/fault_proxy.h"
#include "tests/harness/node_process.h"
#include "upgrade/version.h"

namespace coffer::integration {
namespace {

using namespace std::chrono_literals;

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

std::string NewRequestId() {
  static std::atomic<uint64_t> next{1};
  SystemRng rng;
  return Uuid::Generate(rng).str() + "-" + std::to_string(next++);
}

// One request on `node`: its response, or the error the node (or the
// connection) gave.
StatusOr<pb::Response> Ask(NodeProcess& node, const pb::Request& request) {
  COFFER_ASSIGN_OR_RETURN(pb::Response response, node.Call(request));
  COFFER_RETURN_IF_ERROR(node::StatusFromResponse(response));
  return response;
}

// A write on `node`: its result, or the error the node (or the connection) gave.
StatusOr<pb::OpResult> Write(NodeProcess& node, const pb::Op& op,
                             const std::string& request_id = NewRequestId()) {
  pb::Request request;
  request.set_request_id(request_id);
  *request.mutable_write() = op;
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return response.op_result();
}

StatusOr<pb::NodeStatus> StatusOf(NodeProcess& node) {
  pb::Request request;
  request.mutable_node_status();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return response.node_status();
}

bool InMode(NodeProcess& node, const std::string& mode) {
  auto status = StatusOf(node);
  return status.ok() && status->mode() == mode;
}

// `node` reports itself in `state` (PENDING, ACTIVE, DISABLING, ...).
bool InState(NodeProcess& node, const std::string& state) {
  auto status = StatusOf(node);
  return status.ok() && status->state() == state;
}

pb::Op WalletCreate(const std::string& name) {
  pb::Op op;
  op.mutable_wallet_create()->set_name(name);
  return op;
}

pb::Op RegisterSecret(const std::string& name, const std::string& material) {
  pb::Op op;
  auto* r = op.mutable_register_object();
  r->set_type(pb::SECRET_DATA);
  r->set_name(name);
  r->set_material(material);
  return op;
}

StatusOr<pb::WalletView> GetWallet(NodeProcess& node, const std::string& name) {
  pb::Request request;
  request.mutable_wallet_get()->set_wallet(name);
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return response.wallet();
}

StatusOr<pb::ObjectView> GetObject(NodeProcess& node, const std::string& uuid) {
  pb::Request request;
  request.mutable_get()->set_uuid(uuid);
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return response.object();
}

StatusOr<std::vector<pb::ConflictView>> Conflicts(NodeProcess& node) {
  pb::Request request;
  request.mutable_conflict_list();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return std::vector<pb::ConflictView>(response.conflicts().conflicts().begin(),
                                       response.conflicts().conflicts().end());
}

class ClusterTest : public ::testing::Test {
 protected:
  ClusterTest() : ca_(*node::CreateCertificateAuthority("cluster test CA")) {}

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
    ASSERT_TRUE(WaitFor([&] { return InState(b, "ACTIVE") && InState(c, "ACTIVE"); }, 30s));
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
    ASSERT_TRUE(WaitFor([&] { return Converged(all); }, 30s));
  }

  node::PemPair ca_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
};

// The seeds' cluster test with real processes: A; B inducted as A's peer;
// both restarted; C inducted through B as a read-only node; a wallet created
// on each read-write node becomes ACTIVE on all three; digests equal.
TEST_F(ClusterTest, InductRestartAndWalletsBecomeActiveEverywhere) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  NodeProcess& c = Add("gamma");
  Init(a);
  EXPECT_TRUE(InMode(a, "restricted")) << "the first node has no peer yet";
  EXPECT_EQ(Write(a, WalletCreate("early")).status().code(), Code::kReadOnlyRestricted);
  Join(b, a, pb::NODE_READ_WRITE);
  ASSERT_TRUE(WaitFor([&] { return InMode(a, "read-write") && InMode(b, "read-write"); }, 20s));

  a.Kill(SIGTERM);
  b.Kill(SIGTERM);
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());
  ASSERT_TRUE(WaitFor([&] { return InMode(a, "read-write") && InMode(b, "read-write"); }, 20s));

  Join(c, b, pb::NODE_READ_ONLY);
  ASSERT_TRUE(WaitFor([&] { return InMode(c, "read-only"); }, 20s));
  EXPECT_EQ(Write(c, WalletCreate("on-c")).status().code(), Code::kReadOnlyNode);

  auto wa = Write(a, WalletCreate("w-alpha"));
  auto wb = Write(b, WalletCreate("w-beta"));
  ASSERT_TRUE(wa.ok()) << wa.status().ToString();
  ASSERT_TRUE(wb.ok()) << wb.status().ToString();
  std::vector<NodeProcess*> all = {&a, &b, &c};
  EXPECT_TRUE(WaitFor(
      [&] {
        for (auto* n : all) {
          for (const char* name : {"w-alpha", "w-beta"}) {
            auto w = GetWallet(*n, name);
            if (!w.ok() || w->state() != "ACTIVE") return false;
          }
        }
        return true;
      },
      20s))
      << "both wallets ACTIVE on all three nodes";
  EXPECT_TRUE(WaitFor([&] { return Converged(all); }, 20s));

  // Membership as every node sees it: the pair on both sides, C read-only.
  pb::Request request;
  request.mutable_cluster_status();
  for (auto* n : all) {
    auto response = n->Call(request);
    ASSERT_TRUE(response.ok());
    std::map<std::string, pb::MemberView> by_name;
    for (const auto& m : response->cluster_status().members()) by_name[m.name()] = m;
    ASSERT_EQ(by_name.size(), 3u);
    EXPECT_EQ(by_name["alpha"].peer(), by_name["beta"].node_id());
    EXPECT_EQ(by_name["beta"].peer(), by_name["alpha"].node_id());
    EXPECT_EQ(by_name["gamma"].role(), "read-only");
  }
}

TEST_F(ClusterTest, JoinRefusalsChangeNothing) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  Init(a);
  auto token = Token(a, pb::NODE_READ_WRITE);
  ASSERT_TRUE(token.ok());
  Join(b, a, pb::NODE_READ_WRITE);
  // B's own step to ACTIVE is a record too: wait for it to settle.
  ASSERT_TRUE(WaitFor([&] { return InState(b, "ACTIVE") && Converged({&a, &b}); }, 20s));
  auto before = StatusOf(a);
  ASSERT_TRUE(before.ok());

  // A forged token, then a read-write join through a node that has a peer.
  NodeProcess& d = Add("delta");
  EXPECT_FALSE(d.Start({"--join", a.address(), "--token", "cjt1.forged"}));
  EXPECT_THAT(ReadWholeFile(d.dir() + "/node.out"), ::testing::HasSubstr("PERMISSION_DENIED"));
  EXPECT_FALSE(d.Start({"--join", a.address(), "--token", *token}));
  EXPECT_THAT(ReadWholeFile(d.dir() + "/node.out"), ::testing::HasSubstr("INVALID_STATE"));
  // A node that already holds data cannot be a candidate.
  NodeProcess& e = Add("epsilon");
  ASSERT_TRUE(e.Start());
  ASSERT_TRUE(Write(e, RegisterSecret("local", "data")).ok());
  e.Kill(SIGTERM);
  auto ro = Token(a, pb::NODE_READ_ONLY);
  ASSERT_TRUE(ro.ok());
  EXPECT_FALSE(e.Start({"--join", a.address(), "--token", *ro}));
  EXPECT_THAT(ReadWholeFile(e.dir() + "/node.out"), ::testing::HasSubstr("already holds data"));

  auto after = StatusOf(a);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->digest(), before->digest()) << "refused joins changed the controller";
}

// A node whose induction stopped after it got its id but before the snapshot
// was installed must not start as a standalone node under that id.
TEST_F(ClusterTest, UnfinishedInductionRefusesToStartWithoutJoin) {
  NodeProcess& n = Add("zeta");
  std::filesystem::create_directories(n.data_dir());
  WriteWholeFile(n.data_dir() + "/identity",
                 "node_id = 5\ncluster_id = 00000000-0000-4000-8000-000000000000\n");
  EXPECT_FALSE(n.Start());
  EXPECT_THAT(ReadWholeFile(n.dir() + "/node.out"),
              ::testing::HasSubstr("induction of this node did not finish"));
}

// The controller's status shows an open induction transfer: what it has sent
// of its estimate. A candidate that fetched one chunk and went silent stays
// listed (it was never heard on a link), its transfer not done.
TEST_F(ClusterTest, ControllerStatusShowsInductionProgress) {
  NodeProcess& a = Add("alpha");
  Init(a);
  auto token = Token(a, pb::NODE_READ_ONLY);
  ASSERT_TRUE(token.ok());
  auto cert = node::IssueCertificate(ca_, {"zeta", "node", {"127.0.0.1"}, {}, 30});
  ASSERT_TRUE(cert.ok());
  auto tls =
      node::MakeClientTlsContext(node::TlsCredentials{ca_.cert_pem, cert->cert_pem, cert->key_pem});
  ASSERT_TRUE(tls.ok());
  auto where = node::ParseHostPort(a.address());
  ASSERT_TRUE(where.ok());
  auto candidate = node::CofferClient::Connect(where->host, where->port, **tls, 5s);
  ASSERT_TRUE(candidate.ok()) << candidate.status().ToString();
  pb::Request join;
  join.mutable_join()->set_token(*token);
  join.mutable_join()->set_name("zeta");
  join.mutable_join()->set_peer_address("127.0.0.1:9");
  join.mutable_join()->set_client_address("127.0.0.1:9");
  join.mutable_join()->set_release_version(std::string(kReleaseVersion));
  auto joined = (*candidate)->Call(join, 5s);
  ASSERT_TRUE(joined.ok() && joined->code() == "OK") << joined->message();
  EXPECT_GT(joined->join_answer().snapshot_entries_estimate(), 0u);
  pb::Request chunk;
  chunk.mutable_snapshot_chunk()->set_node_id(joined->join_answer().node_id());
  chunk.mutable_snapshot_chunk()->set_max_entries(1);
  auto first = (*candidate)->Call(chunk, 5s);
  ASSERT_TRUE(first.ok() && first->code() == "OK") << first->message();
  ASSERT_FALSE(first->snapshot_chunk().last());
  EXPECT_FALSE(first->snapshot_chunk().checksum().empty());

  auto status = StatusOf(a);
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->inductions_size(), 1);
  const pb::InductionView& transfer = status->inductions(0);
  EXPECT_EQ(transfer.node_id(), joined->join_answer().node_id());
  EXPECT_EQ(transfer.entries_sent(), 1u);
  EXPECT_GT(transfer.bytes_sent(), 0u);
  EXPECT_EQ(transfer.entries_estimate(), joined->join_answer().snapshot_entries_estimate());
  EXPECT_FALSE(transfer.done());
}

// The open induction transfer on `controller`, if its status shows exactly one.
std::optional<pb::InductionView> OpenInduction(NodeProcess& controller) {
  auto status = StatusOf(controller);
  if (!status.ok() || status->inductions_size() != 1) return std::nullopt;
  return status->inductions(0);
}

// An induction survives kills at both ends. The candidate is killed mid-way
// and, run again, resumes after its last installed chunk; then the controller
// is killed mid-way and, restarted, continues from the snapshot checkpoint
// it keeps on disk while the candidate retries. The candidate reaches the
// controller through a proxy that delays every chunk (10 entries each), so
// both kills land in the middle of the transfer. Ends ACTIVE with equal
// digests, including writes made after the snapshot.
TEST_F(ClusterTest, InductionResumesAfterTheCandidateThenTheControllerIsKilled) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  Init(a);
  Join(b, a, pb::NODE_READ_WRITE);  // a lone node is restricted: writes need the pair
  ASSERT_TRUE(WaitFor([&] { return InState(b, "ACTIVE") && InMode(a, "read-write"); }, 30s));
  for (int i = 0; i < 600; ++i) {
    auto written = Write(a, WalletCreate("w-" + std::to_string(i)));
    ASSERT_TRUE(written.ok()) << written.status().ToString();
  }
  auto proxy = FaultProxy::Start("127.0.0.1", "127.0.0.1", a.port());
  ASSERT_TRUE(proxy);
  proxy->SetDelay(20ms);
  auto token = Token(a, pb::NODE_READ_ONLY);
  ASSERT_TRUE(token.ok());
  NodeProcess& c = Add("gamma");
  const std::vector<std::string> join = {"--join",
                                         "127.0.0.1:" + std::to_string(proxy->port()),
                                         "--token",
                                         *token,
                                         "--join-chunk-entries",
                                         "10"};
  c.Launch(join);
  std::optional<pb::InductionView> seen;
  ASSERT_TRUE(
      WaitFor([&] { return (seen = OpenInduction(a)) && seen->entries_sent() >= 300; }, 60s));
  const uint64_t estimate = seen->entries_estimate();
  ASSERT_GT(estimate, 500u);
  ASSERT_FALSE(seen->done());

  // 1. The candidate dies mid-transfer and is run again.
  c.Kill(SIGKILL);
  const uint64_t before_candidate_kill = OpenInduction(a)->entries_sent();
  c.Launch(join);
  ASSERT_TRUE(WaitFor(
      [&] {
        return (seen = OpenInduction(a)) && seen->entries_sent() >= before_candidate_kill + 200;
      },
      60s));
  EXPECT_EQ(seen->started_over(), 0u) << "the candidate resumed, it did not start over";
  ASSERT_FALSE(seen->done()) << "the controller must die mid-transfer";
  EXPECT_THAT(ReadWholeFile(c.log_file()), ::testing::HasSubstr("after its last installed chunk"));

  // 2. The controller dies mid-transfer and is started again.
  a.Kill(SIGKILL);
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(WaitFor([&] { return InMode(a, "read-write"); }, 30s));
  for (int i = 0; i < 20; ++i) {  // writes after the snapshot reach gamma by the log
    auto written = Write(a, WalletCreate("after-" + std::to_string(i)));
    ASSERT_TRUE(written.ok()) << written.status().ToString();
  }
  ASSERT_TRUE(WaitFor([&] { return (seen = OpenInduction(a)) && seen->entries_sent() > 0; }, 60s));
  EXPECT_TRUE(seen->reopened()) << "continued from the checkpoint on disk";
  EXPECT_EQ(seen->started_over(), 0u);

  ASSERT_TRUE(c.WaitServing(60s));
  ASSERT_TRUE(WaitFor([&] { return InState(c, "ACTIVE") && Converged({&a, &b, &c}); }, 30s));
  auto wallet = GetWallet(c, "after-19");
  EXPECT_TRUE(wallet.ok()) << wallet.status().ToString();
  EXPECT_THAT(ReadWholeFile(c.log_file()), ::testing::HasSubstr("controller unreachable"));
  // The finished transfer is closed and its checkpoint removed.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto status = StatusOf(a);
        return status.ok() && status->inductions_size() == 0 &&
               std::filesystem::is_empty(a.data_dir() + "/inductions");
      },
      10s));
}

// The pair guarantee: with the link between the two nodes of a pair cut (both
// peer addresses go through fault proxies that turn into black holes),
// critical writes on both are refused with READ_ONLY_RESTRICTED and none is
// acknowledged; after healing both return to read-write by themselves.
TEST_F(ClusterTest, PairCutRestrictsBothNodesUntilHealed) {
  uint16_t a_peer = FreePort();
  uint16_t b_peer = FreePort();
  auto proxy_a = FaultProxy::Start("127.0.0.1", "127.0.0.1", a_peer);
  auto proxy_b = FaultProxy::Start("127.0.0.1", "127.0.0.1", b_peer);
  ASSERT_TRUE(proxy_a && proxy_b);
  NodeProcess& a =
      Add("alpha", {.node_config = PeerAdvertise(proxy_a->port()), .peer_port = a_peer});
  NodeProcess& b =
      Add("beta", {.node_config = PeerAdvertise(proxy_b->port()), .peer_port = b_peer});
  Init(a);
  Join(b, a, pb::NODE_READ_WRITE);
  ASSERT_TRUE(WaitFor([&] { return InMode(a, "read-write") && InMode(b, "read-write"); }, 20s));
  ASSERT_TRUE(Write(a, WalletCreate("before-a")).ok());
  ASSERT_TRUE(Write(b, WalletCreate("before-b")).ok());

  proxy_a->SetMode(FaultProxy::Mode::kBlackhole);
  proxy_b->SetMode(FaultProxy::Mode::kBlackhole);
  auto cut = std::chrono::steady_clock::now();
  // A client keeps writing on both nodes during the cut: nothing may be
  // acknowledged (writes already waiting for the peer end OUTCOME_UNKNOWN).
  std::atomic<bool> healed{false};
  std::atomic<int> acknowledged{0}, refused{0};
  std::thread writer([&] {
    for (int i = 0; i < 10000 && !healed.load(); ++i) {
      NodeProcess& n = (i % 2 == 0) ? a : b;
      auto written = Write(n, WalletCreate(n.name() + "-cut-" + std::to_string(i)));
      if (healed.load()) break;
      if (written.ok()) acknowledged++;
      if (written.status().code() == Code::kReadOnlyRestricted) refused++;
    }
  });
  StopAndJoin join_writer{healed, writer};
  std::map<NodeProcess*, std::chrono::milliseconds> restricted_after;
  WaitFor(
      [&] {
        for (NodeProcess* n : {&a, &b}) {
          if (!restricted_after.contains(n) && InMode(*n, "restricted")) {
            restricted_after[n] = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - cut);
          }
        }
        return restricted_after.size() == 2;
      },
      15s);
  ASSERT_EQ(restricted_after.size(), 2u) << "both nodes must go to restricted mode";
  std::cout << "[ figures ] restricted after the cut: alpha " << restricted_after[&a].count()
            << " ms, beta " << restricted_after[&b].count()
            << " ms (detection bound 1000 ms, status polled every 20 ms)\n";
  EXPECT_EQ(Write(a, WalletCreate("refused-a")).status().code(), Code::kReadOnlyRestricted);
  EXPECT_EQ(Write(b, WalletCreate("refused-b")).status().code(), Code::kReadOnlyRestricted);
  EXPECT_TRUE(WaitFor([&] { return refused.load() >= 10; }, 15s));
  healed = true;
  writer.join();
  EXPECT_EQ(acknowledged.load(), 0) << "a write was acknowledged during the cut";

  proxy_a->SetMode(FaultProxy::Mode::kPass);
  proxy_b->SetMode(FaultProxy::Mode::kPass);
  ASSERT_TRUE(WaitFor([&] { return InMode(a, "read-write") && InMode(b, "read-write"); }, 30s))
      << "both nodes return to read-write by themselves";
  EXPECT_TRUE(Write(a, WalletCreate("after-a")).ok());
  EXPECT_TRUE(Write(b, WalletCreate("after-b")).ok());
  EXPECT_TRUE(WaitFor([&] { return Converged({&a, &b}); }, 20s));
}

// Two pairs write concurrently: the same wallet name, attribute updates of
// one object, and a revoke racing an activate. Every node converges to the
// same digest; the name conflict is listed everywhere and resolved.
TEST_F(ClusterTest, ConcurrentWritesOnTwoPairsConverge) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  NodeProcess& c = Add("gamma");
  NodeProcess& d = Add("delta");
  Init(a);
  Join(b, a, pb::NODE_READ_WRITE);
  Join(c, a, pb::NODE_READ_ONLY);
  Join(d, c, pb::NODE_READ_WRITE);  // c and d form the second pair
  std::vector<NodeProcess*> all = {&a, &b, &c, &d};
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto* n : all) {
          if (!InMode(*n, "read-write")) return false;
        }
        return true;
      },
      30s));

  // Runs `first` on pair one and `second` on pair two at the same moment.
  auto race = [](const std::function<void()>& first, const std::function<void()>& second) {
    std::barrier start(2);
    std::thread t([&] {
      start.arrive_and_wait();
      second();
    });
    start.arrive_and_wait();
    first();
    t.join();
  };

  // The same wallet name on both pairs. Whether two creations overlap is up
  // to timing, so try names until two conflicts happened (bounded).
  std::vector<std::string> conflicted;
  for (int i = 0; i < 60 && conflicted.size() < 2; ++i) {
    std::string name = "shared-" + std::to_string(i);
    StatusOr<pb::OpResult> on_a = Unavailable(""), on_c = Unavailable("");
    race([&] { on_a = Write(a, WalletCreate(name)); },
         [&] { on_c = Write(c, WalletCreate(name)); });
    if (on_a.ok() && on_c.ok()) conflicted.push_back(name);
  }
  ASSERT_EQ(conflicted.size(), 2u) << "no two creations of one name overlapped in 60 tries";

  // Concurrent attribute updates of one object, and revoke racing activate.
  auto key = Write(a, RegisterSecret("shared-secret", "s3cr3t"));
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(WaitFor([&] { return GetObject(c, key->uuid()).ok(); }, 20s));
  pb::Op red, blue, activate, revoke;
  red.mutable_set_attributes()->set_uuid(key->uuid());
  (*red.mutable_set_attributes()->mutable_attributes())["x-color"].set_text("red");
  blue = red;
  (*blue.mutable_set_attributes()->mutable_attributes())["x-color"].set_text("blue");
  race([&] { EXPECT_TRUE(Write(b, red).ok()); }, [&] { EXPECT_TRUE(Write(d, blue).ok()); });
  activate.mutable_activate()->set_uuid(key->uuid());
  revoke.mutable_revoke()->set_uuid(key->uuid());
  revoke.mutable_revoke()->set_reason(pb::CESSATION_OF_OPERATION);
  race([&] { (void)Write(a, activate); }, [&] { (void)Write(c, revoke); });

  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, 30s));
  std::set<std::string> colors;
  for (auto* n : all) {
    auto o = GetObject(*n, key->uuid());
    ASSERT_TRUE(o.ok());
    colors.insert(o->attributes().at("x-color").text());
  }
  EXPECT_EQ(colors.size(), 1u) << "one attribute value wins everywhere";

  // Each conflict is listed on every node; resolve one by accepting the
  // generated name and one by renaming.
  std::map<std::string, std::string> loser_by_name;  // supplied name -> uuid
  for (auto* n : all) {
    auto conflicts = Conflicts(*n);
    ASSERT_TRUE(conflicts.ok());
    ASSERT_EQ(conflicts->size(), 2u) << n->name();
    for (const auto& cv : *conflicts) {
      EXPECT_EQ(cv.kind(), pb::ENTITY_WALLET);
      loser_by_name[cv.supplied_name()] = cv.uuid();
    }
    // `cluster status` says so too, not only `conflict list`.
    pb::Request ask;
    ask.mutable_cluster_status();
    auto status = n->Call(ask);
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(status->cluster_status().name_conflicts(), 2u) << n->name();
  }
  ASSERT_EQ(loser_by_name.size(), 2u);
  pb::Op accept, rename;
  accept.mutable_rename()->set_kind(pb::ENTITY_WALLET);
  accept.mutable_rename()->set_uuid(loser_by_name[conflicted[0]]);
  accept.mutable_rename()->set_accept_generated(true);
  rename.mutable_rename()->set_kind(pb::ENTITY_WALLET);
  rename.mutable_rename()->set_uuid(loser_by_name[conflicted[1]]);
  rename.mutable_rename()->set_new_name("renamed-by-operator");
  ASSERT_TRUE(Write(b, accept).ok());
  ASSERT_TRUE(Write(d, rename).ok());
  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, 30s));
  for (auto* n : all) {
    auto conflicts = Conflicts(*n);
    ASSERT_TRUE(conflicts.ok());
    EXPECT_THAT(*conflicts, ::testing::IsEmpty()) << n->name();
    auto renamed = GetWallet(*n, "renamed-by-operator");
    ASSERT_TRUE(renamed.ok()) << n->name();
    EXPECT_EQ(renamed->uuid(), loser_by_name[conflicted[1]]);
  }
}

// A write whose outcome is unknown (its pair peer went silent) is retried on
// a node of the other pair, naming the record the OUTCOME_UNKNOWN answer
// named. While that node lacks the record it holds the retry and answers
// OUTCOME_UNKNOWN again; once the record has arrived, it answers with the
// original result. The write takes effect once.
TEST_F(ClusterTest, OutcomeUnknownRetryNamingItsRecordIsSafeOnAnotherNode) {
  // Every node's incoming peer traffic passes through its own fault proxy.
  std::vector<std::unique_ptr<FaultProxy>> proxies;
  auto add_proxied = [&](const std::string& name) -> NodeProcess& {
    uint16_t peer_port = FreePort();
    proxies.push_back(FaultProxy::Start("127.0.0.1", "127.0.0.1", peer_port));
    EXPECT_TRUE(proxies.back() != nullptr);
    return Add(name,
               {.node_config = PeerAdvertise(proxies.back()->port()), .peer_port = peer_port});
  };
  NodeProcess& a = add_proxied("alpha");
  NodeProcess& b = add_proxied("beta");
  NodeProcess& c = add_proxied("gamma");
  NodeProcess& d = add_proxied("delta");
  FaultProxy& into_a = *proxies[0];
  FaultProxy& into_c = *proxies[2];
  Init(a);
  Join(b, a, pb::NODE_READ_WRITE);
  Join(c, a, pb::NODE_READ_ONLY);
  Join(d, c, pb::NODE_READ_WRITE);  // c and d form the second pair
  std::vector<NodeProcess*> all = {&a, &b, &c, &d};
  auto all_read_write = [&] {
    for (auto* n : all) {
      if (!InMode(*n, "read-write")) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(all_read_write, 30s));

  // Cut everything into gamma, then everything into alpha: alpha's write
  // reaches beta and delta but not gamma, and beta's confirmation never
  // reaches alpha. A write accepted before alpha notices (1 s) ends
  // OUTCOME_UNKNOWN; one refused as restricted is tried again after healing.
  const pb::Op create = RegisterSecret("unknown-outcome", "secret material");
  pb::Request request;
  request.set_request_id(NewRequestId());
  *request.mutable_write() = create;
  std::optional<pb::RecordRef> record;
  for (int attempt = 0; attempt < 5 && !record; ++attempt) {
    into_c.SetMode(FaultProxy::Mode::kBlackhole);
    into_a.SetMode(FaultProxy::Mode::kBlackhole);
    auto answer = a.Call(request);
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    if (answer->code() == "OUTCOME_UNKNOWN") {
      ASSERT_TRUE(answer->has_outcome_record()) << "OUTCOME_UNKNOWN must name its record";
      record = answer->outcome_record();
      break;
    }
    ASSERT_EQ(answer->code(), "READ_ONLY_RESTRICTED") << answer->message();
    into_a.SetMode(FaultProxy::Mode::kPass);
    into_c.SetMode(FaultProxy::Mode::kPass);
    ASSERT_TRUE(WaitFor(all_read_write, 30s));
  }
  ASSERT_TRUE(record) << "no write was accepted before alpha noticed the cut, in 5 tries";
  auto alpha_status = StatusOf(a);
  ASSERT_TRUE(alpha_status.ok());
  EXPECT_EQ(record->origin(), alpha_status->node_id());

  // Gamma lacks the record: it holds the retry, then answers OUTCOME_UNKNOWN
  // naming the same record (without retry_of it would run the write again).
  pb::Request retry = request;
  *retry.mutable_retry_of() = *record;
  auto held = c.Call(retry);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(held->code(), "OUTCOME_UNKNOWN") << held->message();
  EXPECT_EQ(held->outcome_record().SerializeAsString(), record->SerializeAsString());

  // Heal: the record reaches gamma, and the retry gets the original result.
  into_a.SetMode(FaultProxy::Mode::kPass);
  into_c.SetMode(FaultProxy::Mode::kPass);
  StatusOr<pb::Response> answered = Unavailable("not asked yet");
  ASSERT_TRUE(WaitFor(
      [&] {
        answered = c.Call(retry);
        return answered.ok() && answered->code() == "OK";
      },
      30s))
      << (answered.ok() ? answered->code() + ": " + answered->message()
                        : answered.status().ToString());
  auto on_delta = Write(d, create, request.request_id());
  ASSERT_TRUE(on_delta.ok()) << on_delta.status().ToString();
  EXPECT_EQ(on_delta->uuid(), answered->op_result().uuid());

  // One object, the one alpha created, on every node.
  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, 30s));
  for (auto* n : all) {
    pb::Request locate;
    locate.mutable_locate()->set_name("unknown-outcome");
    auto found = Ask(*n, locate);
    ASSERT_TRUE(found.ok()) << n->name() << ": " << found.status().ToString();
    ASSERT_EQ(found->located().objects_size(), 1) << n->name();
    EXPECT_EQ(found->located().objects(0).uuid(), answered->op_result().uuid()) << n->name();
  }
}

pb::Op SetNodeState(uint32_t node_id, pb::NodeState state) {
  pb::Op op;
  op.mutable_node_state()->set_node_id(node_id);
  op.mutable_node_state()->set_state(state);
  return op;
}

// The state of member `node_id` as `asked` sees it ("" if not a member).
std::string MemberState(NodeProcess& asked, uint32_t node_id) {
  pb::Request request;
  request.mutable_cluster_status();
  auto response = Ask(asked, request);
  if (!response.ok()) return "?";
  for (const auto& m : response->cluster_status().members()) {
    if (m.node_id() == node_id) return m.state();
  }
  return "";
}

// Disable and enable a read-only node while a client writes on the pair:
// DISABLING -> DISABLED, writes go on, ENABLING (held there while its one
// link with alpha is cut, its link with beta up) -> ACTIVE once healed and
// caught up; digests equal. The nodes' peer links use 127.0.0.1, .2 and .3,
// and the proxies in front of alpha and gamma cut only what comes from the
// other one.
TEST_F(ClusterTest, DisableThenEnableUnderWriteLoad) {
  uint16_t a_peer = FreePort();
  uint16_t c_peer = FreePort();
  auto into_a = FaultProxy::Start("127.0.0.1", "127.0.0.1", a_peer);
  auto into_c = FaultProxy::Start("127.0.0.1", "127.0.0.3", c_peer);
  ASSERT_TRUE(into_a && into_c);
  NodeProcess& a =
      Add("alpha", {.node_config = PeerAdvertise(into_a->port()), .peer_port = a_peer});
  NodeProcessOptions beta_options;
  beta_options.peer_host = "127.0.0.2";
  NodeProcess& b = Add("beta", beta_options);
  NodeProcess& c = Add("gamma", {.node_config = PeerAdvertise(into_c->port()),
                                 .peer_port = c_peer,
                                 .peer_host = "127.0.0.3"});
  FormPairAndReadOnly(a, b, c);
  std::vector<NodeProcess*> all = {&a, &b, &c};
  auto c_status = StatusOf(c);
  ASSERT_TRUE(c_status.ok());
  const uint32_t c_id = c_status->node_id();
  auto a_status = StatusOf(a);
  ASSERT_TRUE(a_status.ok());
  const uint32_t a_id = a_status->node_id();

  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  std::thread writer([&] {
    for (int i = 0; i < 100000 && !stop.load(); ++i) {
      NodeProcess& n = (i % 2 == 0) ? a : b;
      if (Write(n, RegisterSecret("load-" + std::to_string(i), "material")).ok()) acknowledged++;
    }
  });
  StopAndJoin join_writer{stop, writer};
  auto acks_grow = [&](int by) {
    int start = acknowledged.load();
    return WaitFor([&] { return acknowledged.load() >= start + by; }, 30s);
  };
  ASSERT_TRUE(acks_grow(20));

  // Disable, issued on alpha about gamma.
  ASSERT_TRUE(Write(a, SetNodeState(c_id, pb::NODE_DISABLING)).ok());
  EXPECT_TRUE(WaitFor([&] { return MemberState(a, c_id) == "DISABLED"; }, 30s));
  EXPECT_TRUE(InState(c, "DISABLED"));
  EXPECT_EQ(Write(c, RegisterSecret("on-disabled", "x")).status().code(), Code::kUnavailable);
  pb::Request get;
  get.mutable_locate()->set_name("load-0");
  EXPECT_EQ(Ask(c, get).status().code(), Code::kUnavailable) << "a disabled node serves no reads";
  // A second disable is refused while one node is disabled.
  auto b_status = StatusOf(b);
  ASSERT_TRUE(b_status.ok());
  EXPECT_EQ(Write(a, SetNodeState(b_status->node_id(), pb::NODE_DISABLING)).status().code(),
            Code::kInvalidState);
  ASSERT_TRUE(acks_grow(20)) << "writes go on on the pair while gamma is disabled";
  auto c_applied = StatusOf(c);
  ASSERT_TRUE(c_applied.ok());

  // Enable on gamma itself with its link to alpha cut: it stays ENABLING.
  EXPECT_EQ(Write(a, SetNodeState(c_id, pb::NODE_ENABLING)).status().code(), Code::kInvalidArgument)
      << "enable is issued on the disabled node itself";
  into_c->SetModeFor("127.0.0.1", FaultProxy::Mode::kBlackhole);  // alpha -> gamma
  into_a->SetModeFor("127.0.0.3", FaultProxy::Mode::kBlackhole);  // gamma -> alpha
  ASSERT_TRUE(Write(c, SetNodeState(c_id, pb::NODE_ENABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return MemberState(b, c_id) == "ENABLING"; }, 30s))
      << "the ENABLING record reaches beta over gamma's other link";
  // Held for as long as that one link is cut (observed for 3 s, polled),
  // while the pair keeps taking writes.
  const int acks_at_cut = acknowledged.load();
  auto cut_until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < cut_until) {
    ASSERT_TRUE(InState(c, "ENABLING")) << "gamma left ENABLING with its link to alpha cut";
    std::this_thread::sleep_for(100ms);  // poll interval of a bounded observation
  }
  EXPECT_GT(acknowledged.load(), acks_at_cut);
  auto c_links = StatusOf(c);
  ASSERT_TRUE(c_links.ok());
  for (const auto& l : c_links->links()) {
    EXPECT_EQ(l.up(), l.peer() != a_id) << "only the link with alpha is down";
  }
  into_c->SetModeFor("127.0.0.1", std::nullopt);
  into_a->SetModeFor("127.0.0.3", std::nullopt);
  bool active = WaitFor([&] { return InState(c, "ACTIVE"); }, 60s);
  auto stuck = StatusOf(c);
  std::string log = ReadWholeFile(c.log_file());
  EXPECT_TRUE(active) << "gamma after healing: "
                      << (stuck.ok() ? stuck->DebugString() : stuck.status().ToString())
                      << "\nlog tail: " << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  EXPECT_TRUE(WaitFor([&] { return MemberState(a, c_id) == "ACTIVE"; }, 30s));
  ASSERT_TRUE(acks_grow(20));
  stop = true;
  writer.join();
  EXPECT_TRUE(WaitFor([&] { return Converged(all); }, 30s));
  auto after = StatusOf(c);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->applied().applied().at(a_id), c_applied->applied().applied().at(a_id))
      << "gamma caught up with what was written while it was disabled";
}

// The node id `node` reports (0 if it does not answer).
uint32_t NodeIdOf(NodeProcess& node) {
  auto status = StatusOf(node);
  return status.ok() ? status->node_id() : 0;
}

// A DISABLED node refuses every data read alike, `conflict list` included
// (docs/lifecycle.md; it once served that one and refused `wallet list`),
// and still answers status requests; an ACTIVE node answers the same reads.
TEST_F(ClusterTest, DisabledNodeRefusesEveryDataReadConflictListIncluded) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  NodeProcess& c = Add("gamma");
  FormPairAndReadOnly(a, b, c);
  auto c_status = StatusOf(c);
  ASSERT_TRUE(c_status.ok());
  const uint32_t c_id = c_status->node_id();
  ASSERT_TRUE(Write(a, SetNodeState(c_id, pb::NODE_DISABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return InState(c, "DISABLED"); }, 30s));

  std::vector<pb::Request> reads(4);
  reads[0].mutable_locate()->set_name("anything");
  reads[1].mutable_wallet_list();
  reads[2].mutable_endpoint_list();
  reads[3].mutable_conflict_list();
  for (const pb::Request& read : reads) {
    EXPECT_EQ(Ask(c, read).status().code(), Code::kUnavailable) << read.ShortDebugString();
    EXPECT_TRUE(Ask(a, read).ok()) << read.ShortDebugString();
  }
  EXPECT_EQ(Conflicts(c).status().code(), Code::kUnavailable);
  pb::Request cluster_status;
  cluster_status.mutable_cluster_status();
  EXPECT_TRUE(Ask(c, cluster_status).ok()) << "status requests are served in every state";
  EXPECT_TRUE(StatusOf(c).ok());
}

// Past the maximum disable duration a node is EXPIRED: enable is refused
// with DISABLE_EXPIRED and nothing of it is merged; force-delete, then the
// wiped node is inducted as a new node under the same name.
TEST_F(ClusterTest, ExpiredNodeIsRefusedThenForceDeletedAndInductedAnew) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  NodeProcess& c = Add("gamma");
  FormPairAndReadOnly(a, b, c);
  const uint32_t c_id = NodeIdOf(c);
  ASSERT_NE(c_id, 0u);
  SetMaxDisableSeconds(a, 2, {&a, &b, &c});

  ASSERT_TRUE(Write(b, SetNodeState(c_id, pb::NODE_DISABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return MemberState(a, c_id) == "DISABLED"; }, 30s));
  ASSERT_TRUE(Write(a, WalletCreate("written-while-disabled")).ok());
  ASSERT_TRUE(WaitFor([&] { return MemberState(a, c_id) == "EXPIRED"; }, 30s));
  ASSERT_TRUE(WaitFor([&] { return Converged({&a, &b}); }, 30s));
  auto before_a = StatusOf(a);
  auto before_b = StatusOf(b);
  ASSERT_TRUE(before_a.ok() && before_b.ok());

  auto refused = Write(c, SetNodeState(c_id, pb::NODE_ENABLING));
  EXPECT_EQ(refused.status().code(), Code::kDisableExpired) << refused.status().ToString();
  EXPECT_TRUE(InState(c, "EXPIRED"));
  auto after_a = StatusOf(a);
  auto after_b = StatusOf(b);
  ASSERT_TRUE(after_a.ok() && after_b.ok());
  EXPECT_EQ(after_a->digest(), before_a->digest());
  EXPECT_EQ(after_b->digest(), before_b->digest());

  // Wiped, it cannot come back under its old name while that member exists.
  c.Kill(SIGTERM);
  std::filesystem::remove_all(c.data_dir());
  auto token = Token(a, pb::NODE_READ_ONLY);
  ASSERT_TRUE(token.ok());
  EXPECT_FALSE(c.Start({"--join", a.address(), "--token", *token}));
  EXPECT_THAT(ReadWholeFile(c.output_file()), ::testing::HasSubstr("ALREADY_EXISTS"));
  EXPECT_EQ(StatusOf(a)->digest(), before_a->digest()) << "the refused join changed nothing";

  // A plain delete needs a DISABLED node within its window; force-delete works.
  pb::Op del;
  del.mutable_node_delete()->set_node_id(c_id);
  EXPECT_EQ(Write(a, del).status().code(), Code::kInvalidState);
  del.mutable_node_delete()->set_force(true);
  ASSERT_TRUE(Write(a, del).ok());
  ASSERT_TRUE(WaitFor([&] { return MemberState(b, c_id).empty(); }, 30s));

  // The wiped node comes back as a new node, with a new id, under its name.
  std::filesystem::remove_all(c.data_dir());
  Join(c, a, pb::NODE_READ_ONLY);
  auto reborn = StatusOf(c);
  ASSERT_TRUE(reborn.ok());
  EXPECT_GT(reborn->node_id(), c_id) << "a deleted node's id is never reused";
  EXPECT_TRUE(WaitFor([&] { return InState(c, "ACTIVE"); }, 30s));
  EXPECT_TRUE(WaitFor([&] { return Converged({&a, &b, &c}); }, 30s));
  auto wallet = GetWallet(c, "written-while-disabled");
  EXPECT_TRUE(wallet.ok()) << wallet.status().ToString();
}

// A deleted node says once that it was removed, serves nothing more and
// stops (it kept running and logged "membership: N nodes" every 100 ms).
TEST_F(ClusterTest, DeletedNodeReportsItsRemovalOnceAndStops) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  NodeProcess& c = Add("gamma");
  FormPairAndReadOnly(a, b, c);
  const uint32_t c_id = NodeIdOf(c);
  ASSERT_NE(c_id, 0u);
  ASSERT_TRUE(Write(b, SetNodeState(c_id, pb::NODE_DISABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return MemberState(a, c_id) == "DISABLED"; }, 30s));
  pb::Op del;
  del.mutable_node_delete()->set_node_id(c_id);
  ASSERT_TRUE(Write(a, del).ok());
  ASSERT_TRUE(WaitFor([&] { return MemberState(b, c_id).empty(); }, 30s));
  pb::Request status;
  status.mutable_node_status();
  ASSERT_TRUE(WaitFor([&] { return !c.Call(status).ok(); }, 30s))
      << "the deleted node still answers: " << [&] {
           std::string l = ReadWholeFile(c.log_file());
           return l.substr(l.size() > 3000 ? l.size() - 3000 : 0);
         }();
  const std::string log = ReadWholeFile(c.log_file());
  const std::string said = "was removed from the cluster";
  size_t first = log.find(said);
  ASSERT_NE(first, std::string::npos) << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  EXPECT_EQ(log.find(said, first + 1), std::string::npos) << "reported more than once";
  EXPECT_THAT(ReadWholeFile(c.output_file()), ::testing::HasSubstr("INVALID_STATE"));
}

// A client given every node's address (node/failover_client.h) keeps
// writing while its preferred node is killed (its pair peer is then
// restricted and skipped too) and while the node it uses is disabled. Every
// acknowledged write ends up on every node.
TEST_F(ClusterTest, FailoverClientKeepsWritingThroughKillAndDisable) {
  NodeProcess& a = Add("alpha", {.node_config = "subgroup = \"east\"\n"});
  NodeProcess& b = Add("beta", {.node_config = "subgroup = \"east\"\n"});
  NodeProcess& c = Add("gamma", {.node_config = "subgroup = \"west\"\n"});
  NodeProcess& d = Add("delta", {.node_config = "subgroup = \"west\"\n"});
  Init(a);
  Join(b, a, pb::NODE_READ_WRITE);
  Join(c, a, pb::NODE_READ_ONLY);
  Join(d, c, pb::NODE_READ_WRITE);
  std::vector<NodeProcess*> all = {&a, &b, &c, &d};
  auto all_writable = [&] {
    for (auto* n : all) {
      if (!InMode(*n, "read-write") || !InState(*n, "ACTIVE")) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(all_writable, 30s));

  storage::testing::TempDir certs;
  auto admin = node::IssueCertificate(ca_, {"admin", "admin", {}, {}, 30});
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE(node::WritePemPair(ca_, certs.path() + "/ca.pem", certs.path() + "/ca.key").ok());
  ASSERT_TRUE(
      node::WritePemPair(*admin, certs.path() + "/admin.pem", certs.path() + "/admin.key").ok());
  node::FailoverOptions options;
  options.addresses = {a.address(), b.address(), c.address(), d.address()};
  options.subgroup = "east";
  options.tls = {certs.path() + "/ca.pem", certs.path() + "/admin.pem",
                 certs.path() + "/admin.key"};
  options.call_timeout = 5s;

  std::mutex mu;
  std::vector<std::string> acknowledged;  // uuids
  std::string last_address;
  std::atomic<int> unknown{0}, failed{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto client = node::FailoverClient::Create(options);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    for (int i = 0; i < 100000 && !stop.load(); ++i) {
      pb::Request request;
      *request.mutable_write() = RegisterSecret("fo-" + std::to_string(i), "material");
      auto response = (*client)->Call(request);
      Status answered = response.ok() ? node::StatusFromResponse(*response) : response.status();
      std::lock_guard lock(mu);
      if (answered.ok()) {
        acknowledged.push_back(response->op_result().uuid());
        last_address = (*client)->last_address();
      } else if (answered.code() == Code::kOutcomeUnknown) {
        unknown++;  // the write in flight when a node died: allowed, not counted
      } else {
        failed++;
      }
    }
  });
  StopAndJoin join_writer{stop, writer};
  auto acks = [&] {
    std::lock_guard lock(mu);
    return acknowledged.size();
  };
  auto acks_grow = [&](size_t by) {
    size_t start = acks();
    return WaitFor([&] { return acks() >= start + by; }, 60s);
  };
  ASSERT_TRUE(acks_grow(20));
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(last_address == a.address() || last_address == b.address())
        << "the caller's subgroup first: " << last_address;
  }

  // Kill the preferred pair's first node: beta is restricted, writes move west.
  a.Kill(SIGKILL);
  EXPECT_TRUE(acks_grow(20)) << "writes stopped after alpha was killed";
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(WaitFor(all_writable, 60s));

  // Disable the node the client is using; writes go on elsewhere.
  NodeProcess* used = nullptr;
  {
    std::lock_guard lock(mu);
    for (auto* n : all) {
      if (n->address() == last_address) used = n;
    }
  }
  ASSERT_NE(used, nullptr);
  auto used_status = StatusOf(*used);
  ASSERT_TRUE(used_status.ok());
  NodeProcess& issuer = used == &a ? c : a;
  ASSERT_TRUE(Write(issuer, SetNodeState(used_status->node_id(), pb::NODE_DISABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return InState(*used, "DISABLED"); }, 30s));
  EXPECT_TRUE(acks_grow(20)) << "writes stopped while " << used->name() << " was disabled";
  ASSERT_TRUE(Write(*used, SetNodeState(used_status->node_id(), pb::NODE_ENABLING)).ok());
  bool writable = WaitFor(all_writable, 60s);
  stop = true;
  writer.join();
  ASSERT_TRUE(writable) << "after enabling " << used->name() << ": " << [&] {
    std::string text;
    for (auto* n : all) {
      auto s = StatusOf(*n);
      text += "\n" + n->name() + ": " + (s.ok() ? s->ShortDebugString() : s.status().ToString());
    }
    return text;
  }();
  std::cout << "[ figures ] failover client: " << acks() << " writes acknowledged, "
            << unknown.load() << " outcome unknown (in flight when a node died), " << failed.load()
            << " refused\n";

  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, 60s));
  std::lock_guard lock(mu);
  for (auto* n : all) {
    for (const auto& uuid : acknowledged) {
      ASSERT_TRUE(GetObject(*n, uuid).ok()) << uuid << " missing on " << n->name();
    }
  }
}

// Resident memory of a node process in KiB (from /proc), 0 if unknown.
uint64_t RssKib(NodeProcess& node) {
  std::string status = ReadWholeFile("/proc/" + std::to_string(node.pid()) + "/status");
  size_t at = status.find("VmRSS:");
  return at == std::string::npos ? 0 : std::strtoull(status.c_str() + at + 6, nullptr, 10);
}

// What `node` collected of origin `origin`'s log (Log GC), per its status.
uint64_t CollectedThrough(NodeProcess& node, uint32_t origin) {
  auto status = StatusOf(node);
  if (!status.ok()) return 0;
  auto it = status->log_collected_through().applied().find(origin);
  return it == status->log_collected_through().applied().end() ? 0 : it->second;
}

// Log GC: records every member has applied are deleted; while a node is
// disabled the others keep what it lacks (and status says how much), and
// once it is back and has caught up that is collected too. Prints disk and
// RSS of the pair during the disable under write load.
TEST_F(ClusterTest, LogIsCollectedButRetainedForADisabledNode) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  NodeProcess& c = Add("gamma");
  FormPairAndReadOnly(a, b, c);
  std::vector<NodeProcess*> all = {&a, &b, &c};
  auto a_status = StatusOf(a);
  auto c_status = StatusOf(c);
  ASSERT_TRUE(a_status.ok() && c_status.ok());
  const uint32_t a_id = a_status->node_id(), c_id = c_status->node_id();
  auto write_batch = [&](const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(Write(a, RegisterSecret(prefix + std::to_string(i), std::string(256, 'x'))).ok());
    }
  };
  write_batch("before-", 100);
  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, 30s));
  auto applied_of_a = [&] {
    auto s = StatusOf(a);
    return s.ok() ? s->applied().applied().at(a_id) : 0;
  };
  uint64_t written = applied_of_a();
  EXPECT_TRUE(WaitFor([&] { return CollectedThrough(a, a_id) >= written; }, 30s))
      << "every member has alpha's records: alpha's log of them is collected";

  // Disable gamma, keep writing: alpha retains what gamma lacks.
  ASSERT_TRUE(Write(a, SetNodeState(c_id, pb::NODE_DISABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return MemberState(a, c_id) == "DISABLED"; }, 30s));
  uint64_t gamma_had = applied_of_a();
  for (int round = 0; round < 5; ++round) {
    write_batch("during-" + std::to_string(round) + "-", 100);
    auto sa = StatusOf(a);
    ASSERT_TRUE(sa.ok());
    std::cout << "[ figures ] gamma disabled, " << (round + 1) * 100 << " writes since: alpha disk "
              << sa->disk_bytes() / 1024 << " KiB, RSS " << RssKib(a) << " KiB; beta RSS "
              << RssKib(b) << " KiB\n";
  }
  pb::Request cluster;
  cluster.mutable_cluster_status();
  auto seen = Ask(a, cluster);
  ASSERT_TRUE(seen.ok());
  for (const auto& m : seen->cluster_status().members()) {
    if (m.node_id() != c_id) continue;
    EXPECT_EQ(m.state(), "DISABLED");
    EXPECT_GE(m.retained_records(), 500u) << "what gamma lacks is retained for it";
    EXPECT_GT(m.retained_bytes(), 500u * 256);
    EXPECT_GT(m.disable_seconds_left(), 0);
  }
  EXPECT_LE(CollectedThrough(a, a_id), gamma_had) << "nothing gamma lacks is collected";

  // Enable gamma: it catches up from the retained log, and then it is collected.
  ASSERT_TRUE(Write(c, SetNodeState(c_id, pb::NODE_ENABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return InState(c, "ACTIVE"); }, 60s));
  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, 30s));
  uint64_t now_written = applied_of_a();
  EXPECT_TRUE(WaitFor([&] { return CollectedThrough(a, a_id) >= now_written; }, 30s));
}

// A disable that outlives its window, under write load (1 KiB secrets on the
// pair): the log retained for the disabled node grows until the window ends;
// once the node is EXPIRED it no longer counts and its log is collected. The
// figures (retained records and bytes, alpha's disk, both RSS) are printed
// once a second.
TEST_F(ClusterTest, DisablePastItsWindowUnderLoadFreesTheLogRetainedForIt) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  NodeProcess& c = Add("gamma");
  FormPairAndReadOnly(a, b, c);
  const uint32_t a_id = NodeIdOf(a), c_id = NodeIdOf(c);
  ASSERT_TRUE(a_id != 0 && c_id != 0);
  // COFFER_SOAK_WINDOW_SECONDS sets a longer window for a longer series.
  const char* window_env = std::getenv("COFFER_SOAK_WINDOW_SECONDS");
  const int kWindowSeconds = window_env != nullptr ? std::max(2, std::atoi(window_env)) : 6;
  SetMaxDisableSeconds(a, kWindowSeconds, {&a, &b, &c});

  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  std::thread writer([&] {
    for (int i = 0; i < 1'000'000 && !stop.load(); ++i) {
      NodeProcess& n = (i % 2 == 0) ? a : b;
      if (Write(n, RegisterSecret("soak-" + std::to_string(i), std::string(1024, 's'))).ok())
        acknowledged++;
    }
  });
  StopAndJoin join_writer{stop, writer};
  ASSERT_TRUE(Write(a, SetNodeState(c_id, pb::NODE_DISABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return MemberState(a, c_id) == "DISABLED"; }, 30s));
  const auto disabled_at = std::chrono::steady_clock::now();

  // One sample a second until 4 s past expiry (bounded: window + 30 samples).
  uint64_t most_retained = 0;
  uint64_t applied_at_expiry = 0;
  int samples_after_expiry = 0;
  for (int sample = 0; sample < kWindowSeconds + 30 && samples_after_expiry < 4; ++sample) {
    std::this_thread::sleep_for(1s);  // the sampling interval of a printed series
    pb::Request request;
    request.mutable_cluster_status();
    auto cluster = Ask(a, request);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    const pb::NodeStatus& self = cluster->cluster_status().self();
    std::string state;
    uint64_t retained = 0, retained_bytes = 0;
    for (const auto& m : cluster->cluster_status().members()) {
      if (m.node_id() != c_id) continue;
      state = m.state();
      retained = m.retained_records();
      retained_bytes = m.retained_bytes();
    }
    most_retained = std::max(most_retained, retained);
    if (state == "EXPIRED") {
      if (samples_after_expiry++ == 0) applied_at_expiry = self.applied().applied().at(a_id);
    }
    auto since = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - disabled_at);
    std::cout << "[ figures ] " << since.count() / 1000.0 << " s after DISABLED (" << state
              << "): " << acknowledged.load() << " writes acknowledged; retained for gamma "
              << retained << " records, " << retained_bytes / 1024 << " KiB; alpha log "
              << self.log_records() << " records, " << self.log_bytes() / 1024 << " KiB, disk "
              << self.disk_bytes() / 1024 << " KiB, RSS " << RssKib(a) << " KiB; beta RSS "
              << RssKib(b) << " KiB\n";
    if (state == "EXPIRED") {
      EXPECT_EQ(retained, 0u) << "nothing is kept for an EXPIRED node";
    }
  }
  ASSERT_GT(samples_after_expiry, 0) << "gamma never expired";
  EXPECT_GT(most_retained, 100u) << "the window kept what gamma lacks";
  // EXPIRED does not count: alpha collects its log past what gamma had.
  EXPECT_TRUE(WaitFor([&] { return CollectedThrough(a, a_id) >= applied_at_expiry; }, 30s))
      << "collected through " << CollectedThrough(a, a_id) << ", applied at expiry "
      << applied_at_expiry;
  stop = true;
}

// kill -9 of each node in turn during a write burst on the pair: no
// acknowledged write is lost, and the cluster converges after the restart.
TEST_F(ClusterTest, KillNineDuringWriteBurstLosesNoAcknowledgedWrite) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  NodeProcess& c = Add("gamma");
  Init(a);
  Join(b, a, pb::NODE_READ_WRITE);
  Join(c, a, pb::NODE_READ_ONLY);
  std::vector<NodeProcess*> all = {&a, &b, &c};
  ASSERT_TRUE(WaitFor([&] { return InMode(a, "read-write") && InMode(b, "read-write"); }, 20s));

  // A writer thread writes alternately on the two read-write nodes. While a
  // node is down, failures are expected (UNAVAILABLE, READ_ONLY_RESTRICTED,
  // OUTCOME_UNKNOWN); an acknowledgement must never be lost.
  std::mutex mu;
  std::vector<std::string> acknowledged;  // uuids
  std::atomic<int> attempts{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 20000 && !stop.load(); ++i) {
      NodeProcess& n = (i % 2 == 0) ? a : b;
      std::string name = "burst-" + std::to_string(i);
      auto written = Write(n, RegisterSecret(name, "material of " + name));
      attempts++;
      if (written.ok()) {
        std::lock_guard lock(mu);
        acknowledged.push_back(written->uuid());
      }
    }
  });
  StopAndJoin join_writer{stop, writer};
  auto acks = [&] {
    std::lock_guard lock(mu);
    return acknowledged.size();
  };
  for (NodeProcess* victim : {&b, &a, &c}) {
    size_t before = acks();
    ASSERT_TRUE(WaitFor([&] { return acks() >= before + 30; }, 60s));
    victim->Kill(SIGKILL);  // while the writer is in the middle of its burst
    int tried = attempts.load();
    ASSERT_TRUE(WaitFor([&] { return attempts.load() >= tried + 6; }, 60s));
    ASSERT_TRUE(victim->Start()) << victim->name();
    ASSERT_TRUE(WaitFor([&] { return InMode(a, "read-write") && InMode(b, "read-write"); }, 30s))
        << "after restarting " << victim->name();
  }
  size_t before = acks();
  EXPECT_TRUE(WaitFor([&] { return acks() >= before + 30; }, 60s));
  stop = true;
  writer.join();
  ASSERT_GE(acknowledged.size(), 120u);
  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, 30s));
  for (auto* n : all) {
    size_t missing = 0;
    for (const auto& uuid : acknowledged) {
      if (!GetObject(*n, uuid).ok()) ++missing;
    }
    EXPECT_EQ(missing, 0u) << "acknowledged writes missing on " << n->name();
  }
}

}  // namespace
}  // namespace coffer::integration
