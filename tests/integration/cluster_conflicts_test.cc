// Conflicts across two pairs of real `coffer node start` processes:
// concurrent writes converging and resolved, and `wallet create --wait`
// saying which of two concurrent claims kept the name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <barrier>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/cluster_fixture.h"
#include "tests/harness/coffer_cli.h"

namespace coffer::integration {
namespace {

using namespace std::chrono_literals;

// Two pairs write concurrently: the same wallet name, attribute updates of
// one object, and a revoke racing an activate. Every node converges to the
// same digest; the name conflict is listed everywhere and resolved.
TEST_F(ClusterTest, ConcurrentWritesOnTwoPairsConverge) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  NodeProcess& c = Add("gamma");
  NodeProcess& d = Add("delta");
  FormTwoPairs(a, b, c, d);
  std::vector<NodeProcess*> all = {&a, &b, &c, &d};

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
  // Every node has it before the racing updates (nodes b and d write them).
  ASSERT_TRUE(WaitFor(
      [&] {
        for (NodeProcess* node : all) {
          if (!GetObject(*node, key->uuid()).ok()) return false;
        }
        return true;
      },
      20s));
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

// `coffer wallet create SAME --wait` on each pair while the pairs are cut
// from each other (both claims concurrent), then healed: one command ends
// with the name confirmed (exit 0), the other with it lost (exit 1,
// ALREADY_EXISTS) naming the generated name that `conflict list` shows.
TEST_F(ClusterTest, CreateWaitSaysWhichOfTwoConcurrentClaimsKeptTheName) {
  NodeProcess& a = AddBehindProxy("alpha", "127.0.0.1");
  NodeProcess& b = AddBehindProxy("beta", "127.0.0.2");
  NodeProcess& c = AddBehindProxy("gamma", "127.0.0.3");
  NodeProcess& d = AddBehindProxy("delta", "127.0.0.4");
  FormTwoPairs(a, b, c, d);
  std::vector<NodeProcess*> all = {&a, &b, &c, &d};
  // Cuts (or, with nullopt, heals) everything between pair one (.1, .2)
  // and pair two (.3, .4), both ways; each pair's own link stays up.
  auto cut_pairs = [&](std::optional<FaultProxy::Mode> mode) {
    for (size_t into = 0; into < 4; ++into) {
      for (const char* from : into < 2 ? std::vector{"127.0.0.3", "127.0.0.4"}
                                       : std::vector{"127.0.0.1", "127.0.0.2"}) {
        proxies_[into]->SetModeFor(from, mode);
      }
    }
  };
  cut_pairs(FaultProxy::Mode::kBlackhole);

  // Both commands run at once, one on each pair; each waits up to 20 s.
  struct Run {
    int exit_code = -1;
    std::string out;
  };
  std::map<std::string, Run> runs = {{a.name(), {}}, {c.name(), {}}};
  {
    std::vector<std::jthread> commands;  // joined at the end of the block
    for (NodeProcess* n : {&a, &c}) {
      commands.emplace_back([n, run = &runs[n->name()]] {
        run->exit_code = Coffer("wallet create payroll --wait 20s" + CofferFlags(*n), &run->out);
      });
    }
    // Each pair has its own wallet named payroll (neither sees the other's):
    // two concurrent claims. Then heal, while both commands wait.
    bool both_created = WaitFor(
        [&] {
          auto on_a = GetWallet(a, "payroll");
          auto on_c = GetWallet(c, "payroll");
          return on_a.ok() && on_c.ok() && on_a->uuid() != on_c->uuid() &&
                 on_a->state() == "PENDING" && on_c->state() == "PENDING";
        },
        15s);
    cut_pairs(std::nullopt);
    ASSERT_TRUE(both_created) << runs[a.name()].out << runs[c.name()].out;
  }

  // One keeps the name, the other is told it lost it and to what.
  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, 30s));
  auto conflicts = Conflicts(a);
  ASSERT_TRUE(conflicts.ok()) << conflicts.status().ToString();
  ASSERT_EQ(conflicts->size(), 1u);
  const pb::ConflictView& lost = conflicts->front();
  EXPECT_EQ(lost.supplied_name(), "payroll");
  int confirmed = 0;
  for (const auto& [node_name, run] : runs) {
    SCOPED_TRACE(node_name + ": " + run.out);
    ASSERT_TRUE(Uuid::IsValid(run.out.substr(0, 36)));
    if (run.out.substr(0, 36) == lost.uuid()) {
      EXPECT_EQ(run.exit_code, 1);
      EXPECT_THAT(run.out, ::testing::HasSubstr("ALREADY_EXISTS: name 'payroll' was taken"));
      EXPECT_THAT(run.out, ::testing::HasSubstr("'" + lost.generated_name() + "'"));
      EXPECT_THAT(run.out, ::testing::HasSubstr("coffer conflict rename wallet " + lost.uuid()));
    } else {
      ++confirmed;
      EXPECT_EQ(run.exit_code, 0);
      EXPECT_THAT(run.out, ::testing::HasSubstr("name 'payroll' confirmed"));
    }
  }
  EXPECT_EQ(confirmed, 1);
}

}  // namespace
}  // namespace coffer::integration
