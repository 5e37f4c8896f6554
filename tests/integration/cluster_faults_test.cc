// Faults in a cluster of real `coffer node start` processes: the pair
// guarantee under a cut link (through a userspace fault proxy), an
// OUTCOME_UNKNOWN write retried on a node of the other pair, and kill -9 of
// each node during a write burst.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/cluster_fixture.h"

namespace coffer::integration {
namespace {

using namespace std::chrono_literals;

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
