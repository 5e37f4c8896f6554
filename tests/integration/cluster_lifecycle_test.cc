// Node lifecycle in a cluster of real `coffer node start` processes:
// disable and enable under write load, a disabled node's reads, expiry and
// force-delete, a deleted node stopping, log GC around a disabled node, and
// a failover client writing through a kill and a disable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "node/client/failover_client.h"
#include "tests/harness/cluster_fixture.h"

namespace coffer::integration {
namespace {

using namespace std::chrono_literals;

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
  ASSERT_TRUE(c.WaitExited(30s)) << "the deleted node stopped serving but did not exit";
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
  // Every write acknowledged from here on is in alpha's log (a pair write is
  // on both pair nodes at acknowledgement) and after what gamma had when it
  // was disabled, but for the one write that may have been in flight.
  const int acknowledged_at_disabled = acknowledged.load();

  // One sample a second until 4 s past expiry (bounded: window + 30 samples).
  uint64_t most_retained = 0;
  uint64_t applied_at_expiry = 0;
  int samples_after_expiry = 0;
  for (int sample = 0; sample < kWindowSeconds + 30 && samples_after_expiry < 4; ++sample) {
    std::this_thread::sleep_for(1s);  // the sampling interval of a printed series
    const int acknowledged_before_ask = acknowledged.load();
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
    } else if (state == "DISABLED") {
      const uint64_t acknowledged_since = static_cast<uint64_t>(
          std::max(0, acknowledged_before_ask - acknowledged_at_disabled - 1));
      EXPECT_GE(retained, acknowledged_since) << "the window keeps every write gamma lacks";
    }
  }
  ASSERT_GT(samples_after_expiry, 0) << "gamma never expired";
  EXPECT_GT(most_retained, 0u) << "the window kept what gamma lacks";
  // EXPIRED does not count: alpha collects its log past what gamma had.
  EXPECT_TRUE(WaitFor([&] { return CollectedThrough(a, a_id) >= applied_at_expiry; }, 30s))
      << "collected through " << CollectedThrough(a, a_id) << ", applied at expiry "
      << applied_at_expiry;
  stop = true;
}

}  // namespace
}  // namespace coffer::integration
