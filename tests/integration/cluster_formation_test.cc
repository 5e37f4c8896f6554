// Cluster formation with real `coffer node start` processes on loopback:
// induction with join tokens, restarts, a read-only node, join refusals, an
// unfinished induction refusing a plain start, the controller's view of an
// open induction, and an induction resuming after kills at both ends.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>

#include "tests/harness/cluster_fixture.h"
#include "upgrade/version.h"

namespace coffer::integration {
namespace {

using namespace std::chrono_literals;

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

}  // namespace
}  // namespace coffer::integration
