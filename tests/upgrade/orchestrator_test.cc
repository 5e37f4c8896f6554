// The rolling-upgrade orchestrator against real node processes (issue 14,
// "What it must show"): two read-write pairs and a read-only node on this
// release, a writer acknowledging critical writes throughout, upgraded node
// by node to `coffer-next` (the next minor release) by the orchestrator
// (node/orchestrator/, over the harness's NodeProcessController). Sampled
// throughout: at least one node of every pair takes writes. At the end every
// node runs the next release, the cluster version rises only at finalize,
// every acknowledged write is on every node and the digests agree. Also:
// rollback before finalize, its refusal after, and the refusals of a
// skipped release, a second plan, a disabled or unreachable node and a
// membership change during a plan.
#include "node/orchestrator/orchestrator.h"

#include "tests/upgrade/orchestrator_fixture.h"

namespace coffer::integration {
namespace {

using storage::testing::FilesUnder;
using ::testing::HasSubstr;

TEST_F(OrchestratorTest, UpgradesEveryNodeUnderLoadOnePairNodeAtATime) {
  ASSERT_NO_FATAL_FAILURE(FormCluster());
  Writer writer({a_, b_, c_, d_});
  PairSampler sampler({{a_, b_}, {c_, d_}});
  auto o = NewOrchestrator("test-orchestrator");
  auto prepared = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  ASSERT_TRUE(prepared->verdict.ok()) << prepared->verdict.ToString();
  // Read-only first, then the pairs, one node at a time.
  ASSERT_EQ(prepared->plan.nodes_size(), 5);
  EXPECT_EQ(prepared->plan.nodes(0).name(), "e");
  auto written = o->Begin(*prepared);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  auto ran = o->Run(*written, Log());
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  ASSERT_EQ(ran->state(), pb::UPGRADE_DONE)
      << ran->pause().check() << ": " << ran->pause().observed();
  // Held until finalize: every node on the next release, the version not yet.
  for (NodeProcess* n : all_) {
    auto status = StatusOf(*n);
    ASSERT_TRUE(status.ok()) << n->name();
    EXPECT_EQ(status->version(), kNew.ToString()) << n->name();
    EXPECT_EQ(status->cluster_version(), kOld.MinorString()) << n->name();
  }
  sampler.Stop();
  writer.Stop();
  EXPECT_GT(sampler.samples(), 20);
  EXPECT_THAT(sampler.gaps(), ::testing::IsEmpty());
  // Critical writes were acknowledged throughout (by the pair not upgrading).
  EXPECT_LT(writer.longest_gap(), std::chrono::seconds(5));
  for (const auto& n : ran->nodes()) {
    EXPECT_EQ(n.stops(), 1u) << n.name();
    EXPECT_EQ(controller_->StopsOf(n.name()), 1) << n.name();
  }
  auto acked = writer.acked();
  EXPECT_GT(acked.size(), 50u);
  ASSERT_NO_FATAL_FAILURE(ExpectNothingLost(acked));

  auto version = o->FinalizePlan(std::chrono::seconds(60));
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, kNew.MinorString());
  auto plan = PlanOn(*a_);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->state(), pb::UPGRADE_FINALIZED);
  // No rollback after finalize; an old binary refuses the store untouched.
  auto rollback = upgrade::StartRollback(*plan, "late", orch::NowMicros(), 10'000'000);
  EXPECT_EQ(rollback.status().code(), Code::kInvalidState);
  EXPECT_THAT(rollback.status().message(), HasSubstr("finalized"));
  ASSERT_TRUE(WaitFor(
      [&] {
        return PlanOn(*e_) && PlanOn(*e_)->state() == pb::UPGRADE_FINALIZED &&
               StatusOf(*e_)->cluster_version() == kNew.MinorString();
      },
      std::chrono::seconds(30)));
  e_->Kill(SIGTERM);
  auto before = FilesUnder(e_->data_dir());
  auto refused = orch::RunCommand({COFFER_BIN, "node", "check-store", "--data-dir", e_->data_dir()},
                                  std::chrono::seconds(30));
  ASSERT_TRUE(refused.ok());
  EXPECT_NE(refused->exit_code, 0) << refused->output;
  EXPECT_EQ(FilesUnder(e_->data_dir()), before);
}

TEST_F(OrchestratorTest, RollbackBeforeFinalizeReturnsEveryNodeToTheOldRelease) {
  ASSERT_NO_FATAL_FAILURE(FormCluster());
  Writer writer({a_, b_, c_, d_});
  auto o = NewOrchestrator("first");
  auto prepared = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(prepared.ok() && prepared->verdict.ok());
  auto written = o->Begin(*prepared);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  // Pause once three nodes are done (the read-only node and one pair).
  std::thread pauser([&] {
    auto requester = NewOrchestrator("operator");
    WaitFor(
        [&] {
          auto plan = PlanOn(*a_);
          if (!plan) return false;
          int done = 0;
          for (const auto& n : plan->nodes()) done += n.step() == pb::STEP_DONE;
          if (done < 3) return false;
          auto paused = upgrade::RequestPause(*plan, orch::NowMicros());
          return paused.ok() && requester->Write(*paused).ok();
        },
        std::chrono::seconds(240));
  });
  auto ran = o->Run(*written, Log());
  pauser.join();
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  ASSERT_EQ(ran->state(), pb::UPGRADE_PAUSED);
  EXPECT_EQ(ran->pause().check(), "operator");

  auto back = NewOrchestrator("second");
  auto rollback = upgrade::StartRollback(*ran, back->owner(), orch::NowMicros(), 10'000'000);
  ASSERT_TRUE(rollback.ok()) << rollback.status().ToString();
  EXPECT_GE(rollback->rollback_size(), 3);
  auto started = back->Write(*rollback);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto done = back->Run(*started, Log());
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_EQ(done->state(), pb::UPGRADE_ROLLED_BACK)
      << done->pause().check() << ": " << done->pause().observed();
  ASSERT_TRUE(back->SetVersionHold(false).ok());
  writer.Stop();
  for (NodeProcess* n : all_) {
    auto status = StatusOf(*n);
    ASSERT_TRUE(status.ok()) << n->name();
    EXPECT_EQ(status->version(), kOld.ToString()) << n->name();
    EXPECT_EQ(status->cluster_version(), kOld.MinorString()) << n->name();
  }
  ASSERT_NO_FATAL_FAILURE(ExpectNothingLost(writer.acked()));
}

TEST_F(OrchestratorTest, RefusesWhatTheChecklistForbids) {
  ASSERT_NO_FATAL_FAILURE(FormCluster());
  auto o = NewOrchestrator("refusals");
  // A skipped release.
  auto skipped = o->Prepare(SpecTo(kNew.NextMinor()));
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(skipped->verdict.code(), Code::kPrecheckFailed);
  EXPECT_THAT(skipped->verdict.message(), HasSubstr("target-release"));
  // A disabled node.
  auto disabled = Write(*e_, SetNodeState(NodeIdOf(*e_), pb::NODE_DISABLING));
  ASSERT_TRUE(disabled.ok()) << disabled.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return InState(*e_, "DISABLED"); }, std::chrono::seconds(30)));
  auto with_disabled = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(with_disabled.ok());
  EXPECT_EQ(with_disabled->verdict.code(), Code::kPrecheckFailed);
  EXPECT_THAT(with_disabled->verdict.message(), HasSubstr("no-disabled"));
  EXPECT_EQ(o->Begin(*with_disabled).status().code(), Code::kPrecheckFailed);
  EXPECT_FALSE(PlanOn(*a_).has_value()) << "a refused plan was written";
  ASSERT_TRUE(Write(*e_, SetNodeState(NodeIdOf(*e_), pb::NODE_ENABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return InState(*e_, "ACTIVE"); }, std::chrono::seconds(30)));
  // An unreachable node.
  e_->Kill(SIGKILL);
  auto unreachable = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(unreachable.ok());
  EXPECT_THAT(unreachable->verdict.message(), HasSubstr("members-reachable"));
  ASSERT_TRUE(e_->Start());
  ASSERT_TRUE(
      WaitFor([&] { return InState(*e_, "ACTIVE") && Converged(all_); }, std::chrono::seconds(30)));

  // A plan is written (not run): a second one is refused, and so are
  // membership changes, other disables and the version's release.
  auto prepared = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(prepared.ok());
  ASSERT_TRUE(prepared->verdict.ok()) << prepared->verdict.ToString();
  auto first = o->Begin(*prepared);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return Converged(all_); }, std::chrono::seconds(30)));
  auto second = NewOrchestrator("second")->Prepare(SpecTo(kNew));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->verdict.code(), Code::kUpgradeInProgress);
  EXPECT_THAT(second->verdict.message(), HasSubstr(first->plan_id()));
  pb::UpgradePlan racing = prepared->plan;  // written over the same revision
  racing.set_plan_id("another-plan");
  EXPECT_EQ(o->Write(racing).status().code(), Code::kUpgradeInProgress);
  auto other_disable = Write(*a_, SetNodeState(NodeIdOf(*e_), pb::NODE_DISABLING));
  EXPECT_EQ(other_disable.status().code(), Code::kUpgradeInProgress);
  EXPECT_THAT(other_disable.status().message(), HasSubstr(first->plan_id()));
  pb::Op remove;
  remove.mutable_node_delete()->set_node_id(NodeIdOf(*e_));
  remove.mutable_node_delete()->set_force(true);
  EXPECT_EQ(Write(*a_, remove).status().code(), Code::kUpgradeInProgress);
  pb::Op release;
  release.mutable_cluster_set()->set_version_hold(pb::VERSION_HOLD_RELEASE);
  EXPECT_EQ(Write(*a_, release).status().code(), Code::kUpgradeInProgress);
  auto& f = Add("f");
  auto token = Token(*a_, pb::NODE_READ_ONLY);
  if (token.ok()) {
    f.Launch({"--join", a_->address(), "--token", *token});
    EXPECT_TRUE(f.WaitExited(std::chrono::seconds(30)));
    EXPECT_THAT(ReadWholeFile(f.output_file()), HasSubstr("UPGRADE_IN_PROGRESS"));
  } else {
    EXPECT_EQ(token.status().code(), Code::kUpgradeInProgress);
  }
  // Nothing changed: every member ACTIVE, the plan where it was.
  for (NodeProcess* n : all_) EXPECT_TRUE(InState(*n, "ACTIVE")) << n->name();
  auto plan = PlanOn(*a_);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->revision(), first->revision());
  EXPECT_EQ(plan->plan_id(), first->plan_id());
}

TEST_F(OrchestratorTest, ACutLinkDuringTheWaitForActivePausesAndResumeCompletes) {
  // One pair and a read-only node, each behind a fault proxy; the read-only
  // node is upgraded first, and its link with `a` is cut (both ways) while it
  // is down for its upgrade.
  a_ = &AddBehindProxy("a", "127.0.0.1");
  b_ = &AddBehindProxy("b", "127.0.0.2");
  e_ = &AddBehindProxy("e", "127.0.0.3");
  Init(*a_);
  Join(*b_, *a_, pb::NODE_READ_WRITE);
  Join(*e_, *a_, pb::NODE_READ_ONLY);
  all_ = {a_, b_, e_};
  ASSERT_TRUE(WaitFor(
      [&] { return InState(*e_, "ACTIVE") && InMode(*a_, "read-write") && Converged(all_); },
      std::chrono::seconds(30)));
  controller_ = std::make_unique<NodeProcessController>(all_);
  FaultProxy& to_a = *proxies_[0];
  FaultProxy& to_e = *proxies_[2];

  auto o = NewOrchestrator("first", 5'000'000);  // waits pause after 5 s
  auto prepared = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(prepared.ok() && prepared->verdict.ok());
  ASSERT_EQ(prepared->plan.nodes(0).name(), "e");
  auto written = o->Begin(*prepared);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  std::atomic<bool> cut{false};
  std::thread cutter([&] {
    WaitFor(
        [&] {
          auto plan = PlanOn(*a_);
          if (!plan || plan->nodes(0).step() < pb::STEP_STOP) return false;
          to_e.SetModeFor("127.0.0.1", FaultProxy::Mode::kBlackhole);
          to_a.SetModeFor("127.0.0.3", FaultProxy::Mode::kBlackhole);
          cut = true;
          return true;
        },
        std::chrono::seconds(60));
  });
  auto ran = o->Run(*written, Log());
  cutter.join();
  ASSERT_TRUE(cut);
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  ASSERT_EQ(ran->state(), pb::UPGRADE_PAUSED);
  EXPECT_EQ(ran->pause().check(), "node-active");
  EXPECT_EQ(ran->pause().node_id(), ran->nodes(0).node_id());
  EXPECT_EQ(ran->pause().step(), pb::STEP_WAIT_ACTIVE);
  // The observed values name the link: e does not hear a, a does not hear e.
  EXPECT_THAT(ran->pause().observed(), HasSubstr("does not hear a"));
  EXPECT_THAT(ran->pause().observed(), HasSubstr("not heard by a"));

  to_e.SetModeFor("127.0.0.1", std::nullopt);
  to_a.SetModeFor("127.0.0.3", std::nullopt);
  auto again = NewOrchestrator("second", 60'000'000);
  auto resumed = upgrade::TakeOver(*ran, again->owner(), orch::NowMicros(), 10'000'000);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  auto continued = again->Write(*resumed);
  ASSERT_TRUE(continued.ok()) << continued.status().ToString();
  auto done = again->Run(*continued, Log());
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_EQ(done->state(), pb::UPGRADE_DONE)
      << done->pause().check() << ": " << done->pause().observed();
  for (const auto& n : done->nodes()) EXPECT_EQ(n.stops(), 1u) << n.name();
  for (NodeProcess* n : all_) EXPECT_EQ(StatusOf(*n)->version(), kNew.ToString()) << n->name();
}

}  // namespace
}  // namespace coffer::integration
