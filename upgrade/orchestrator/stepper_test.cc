// The per-node steps (stepper.h): each step's "already done" path, timeouts
// that pause naming the check and what was seen, progress that restarts a
// timeout, operator requests at a step boundary, the pair-peer guard, the
// canaries.
#include "upgrade/orchestrator/stepper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "upgrade/orchestrator/control.h"
#include "upgrade/orchestrator/plan_builder.h"
#include "upgrade/orchestrator/test_nodes.h"

namespace coffer::upgrade {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kStepperNow = 1'800'000'000'000'000;
constexpr int64_t kSec = 1'000'000;

NodeObservation ObservedNode(uint32_t id, pb::NodeRole role, uint32_t peer) {
  NodeObservation n = testing::HealthyNode(id, role, peer, kStepperNow);
  n.plan_revision = 10;
  return n;
}

// Pair (1,2) and read-only 3 (upgraded already); the plan upgrades 1 at
// `step`.
struct Fixture {
  ClusterObservation o;
  pb::UpgradePlan plan;

  explicit Fixture(pb::UpgradeStep step, int64_t now = kStepperNow) {
    o.now_micros = now;
    o.cluster_version = "0.2";
    o.nodes = {ObservedNode(1, pb::NODE_READ_WRITE, 2), ObservedNode(2, pb::NODE_READ_WRITE, 1),
               ObservedNode(3, pb::NODE_READ_ONLY, 0)};
    o.nodes[2].running_release = o.nodes[2].recorded_release = "0.3.0";  // upgraded first
    plan.set_plan_id("p");
    plan.set_revision(10);
    plan.set_owner("orch");
    plan.set_lease_until_micros(now + 10 * kSec);
    plan.set_from_release("0.2.0");
    plan.set_to_release("0.3.0");
    plan.set_binary("coffer-next");
    plan.set_state(pb::UPGRADE_RUNNING);
    for (uint32_t id : {1u, 2u}) {
      auto* n = plan.add_nodes();
      n->set_node_id(id);
      n->set_name("n" + std::to_string(id));
      n->set_step(id == 1 ? step : pb::STEP_PENDING);
      n->set_step_started_micros(now);
    }
  }
  NodeObservation& N(uint32_t id) { return o.nodes[id - 1]; }
};

// A decision that only persists node 1 one step on.
void ExpectAdvance(const Decision& d, pb::UpgradeStep to) {
  EXPECT_EQ(d.action, Action::kPersist) << ActionName(d.action);
  ASSERT_TRUE(d.persist.has_value());
  EXPECT_EQ(d.persist->revision(), 11u);
  EXPECT_EQ(d.persist->nodes(0).step(), to);
}

TEST(StepperTest, EachStepFindsItsActionAlreadyDone) {
  {
    Fixture f(pb::STEP_DISABLE);
    f.N(1).state = "DISABLING";  // the disable took effect before the crash
    ExpectAdvance(Stepper().Next(f.plan, f.o), pb::STEP_WAIT_DISABLED);
  }
  {
    Fixture f(pb::STEP_WAIT_DISABLED);
    f.N(1).state = "DISABLED";
    ExpectAdvance(Stepper().Next(f.plan, f.o), pb::STEP_STOP);
  }
  {
    Fixture f(pb::STEP_STOP);
    f.N(1).state = "DISABLED";
    f.N(1).process_running = false;  // stopped already: not stopped again
    Decision d = Stepper().Next(f.plan, f.o);
    ExpectAdvance(d, pb::STEP_SWAP);
    EXPECT_EQ(d.persist->nodes(0).stops(), 0u);
  }
  {
    Fixture f(pb::STEP_SWAP);
    f.N(1).process_running = false;
    f.N(1).installed_binary = "coffer-next";
    ExpectAdvance(Stepper().Next(f.plan, f.o), pb::STEP_START);
  }
  {
    Fixture f(pb::STEP_START);
    f.N(1).state = "DISABLED";  // running already
    ExpectAdvance(Stepper().Next(f.plan, f.o), pb::STEP_ENABLE);
  }
  {
    Fixture f(pb::STEP_ENABLE);
    f.N(1).state = "ENABLING";
    ExpectAdvance(Stepper().Next(f.plan, f.o), pb::STEP_WAIT_ACTIVE);
  }
  {
    Fixture f(pb::STEP_WAIT_RELEASE);
    f.N(1).running_release = f.N(1).recorded_release = "0.3.0";
    ExpectAdvance(Stepper().Next(f.plan, f.o), pb::STEP_DONE);
  }
}

TEST(StepperTest, EachStepActsWhenNotYetDone) {
  {
    Fixture f(pb::STEP_DISABLE);
    Decision d = Stepper().Next(f.plan, f.o);
    EXPECT_EQ(d.action, Action::kDisable);
    EXPECT_EQ(d.node_id, 1u);
    EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_WAIT_DISABLED);
  }
  {
    Fixture f(pb::STEP_STOP);
    Decision d = Stepper().Next(f.plan, f.o);
    EXPECT_EQ(d.action, Action::kStop);
    EXPECT_EQ(d.persist->nodes(0).stops(), 1u);
    EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_SWAP);
  }
  {
    // SWAP records the old binary first, then installs the new one.
    Fixture f(pb::STEP_SWAP);
    f.N(1).process_running = false;
    Decision d = Stepper().Next(f.plan, f.o);
    EXPECT_EQ(d.action, Action::kPersist);
    EXPECT_EQ(d.persist->nodes(0).old_binary(), "coffer");
    EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_SWAP);
    d = Stepper().Next(*d.persist, f.o);
    EXPECT_EQ(d.action, Action::kSwap);
    EXPECT_EQ(d.binary, "coffer-next");
  }
  {
    Fixture f(pb::STEP_START);
    f.N(1).process_running = false;
    EXPECT_EQ(Stepper().Next(f.plan, f.o).action, Action::kStart);
  }
  {
    Fixture f(pb::STEP_ENABLE);
    f.N(1).state = "DISABLED";
    EXPECT_EQ(Stepper().Next(f.plan, f.o).action, Action::kEnable);
  }
}

// STOP found the node without a process (it had crashed) and went on
// without stopping it; its supervisor started it again, on the old binary,
// before SWAP. Swapping under it would leave it running the old release
// (START then finds a process, WAIT_ACTIVE waits for the new release for
// ever): SWAP stops it first, the plan's one stop of it.
TEST(StepperTest, ASwapStopsANodeRestartedSinceStopFoundItStopped) {
  Fixture f(pb::STEP_SWAP);
  f.N(1).state = "DISABLED";
  f.N(1).process_running = true;  // restarted by its supervisor
  Decision d = Stepper().Next(f.plan, f.o);
  ASSERT_EQ(d.action, Action::kStop);
  EXPECT_EQ(d.node_id, 1u);
  EXPECT_EQ(d.persist->nodes(0).stops(), 1u);
  EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_SWAP);
  // Stopped: the swap goes on (the old binary recorded first).
  f.N(1).process_running = false;
  d = Stepper().Next(*d.persist, f.o);
  EXPECT_EQ(d.action, Action::kPersist);
  EXPECT_EQ(d.persist->nodes(0).old_binary(), "coffer");
  // A node the plan stopped already is not stopped a second time: PAUSED.
  Fixture g(pb::STEP_SWAP);
  g.plan.mutable_nodes(0)->set_stops(1);
  g.N(1).process_running = true;
  d = Stepper().Next(g.plan, g.o);
  ASSERT_EQ(d.action, Action::kPersist);
  EXPECT_EQ(d.persist->state(), pb::UPGRADE_PAUSED);
  EXPECT_EQ(d.persist->pause().check(), "node-stopped");
  EXPECT_THAT(d.persist->pause().observed(), HasSubstr("n1 runs again (0.2.0)"));
}

TEST(StepperTest, ATimedOutWaitPausesNamingTheCheckAndWhatWasSeen) {
  Fixture f(pb::STEP_WAIT_DISABLED);
  f.N(1).state = "DISABLING";
  f.N(1).unreplicated = 7;
  Stepper stepper;
  // Within the bound: a wait.
  Decision d = stepper.Next(f.plan, f.o);
  EXPECT_EQ(d.action, Action::kWait);
  EXPECT_THAT(d.waiting_for, HasSubstr("n1: DISABLED (state DISABLING, 7 of its records"));
  // Past it, no progress: PAUSED.
  f.o.now_micros = kStepperNow + stepper.options().wait_disabled_micros + kSec;
  f.plan.set_lease_until_micros(f.o.now_micros + 10 * kSec);
  d = stepper.Next(f.plan, f.o);
  ASSERT_EQ(d.action, Action::kPersist);
  EXPECT_EQ(d.persist->state(), pb::UPGRADE_PAUSED);
  EXPECT_EQ(d.persist->pause().check(), "node-disabled");
  EXPECT_EQ(d.persist->pause().node_id(), 1u);
  EXPECT_EQ(d.persist->pause().step(), pb::STEP_WAIT_DISABLED);
  EXPECT_THAT(d.persist->pause().observed(), HasSubstr("state DISABLING, 7 of its records"));
  EXPECT_EQ(d.persist->lease_until_micros(), f.o.now_micros);  // the lease let go
}

// Progress is the node catching up: its gap to the most advanced node
// reaching a new low.
TEST(StepperTest, ProgressRestartsTheTimeout) {
  const int64_t limit = StepOptions().wait_active_micros;
  for (bool progress : {true, false}) {
    Fixture f(pb::STEP_WAIT_ACTIVE);
    f.N(1).state = "ENABLING";
    f.N(1).running_release = "0.3.0";
    f.N(1).applied_total = 100;
    f.N(2).applied_total = 200;  // 100 records ahead
    Stepper stepper;
    f.o.now_micros = kStepperNow + kSec;
    f.plan.set_lease_until_micros(f.o.now_micros + 10 * kSec);
    EXPECT_EQ(stepper.Next(f.plan, f.o).action, Action::kWait);
    // Past the bound from the step's start and from the last sight.
    f.o.now_micros = kStepperNow + limit + 2 * kSec;
    f.plan.set_lease_until_micros(f.o.now_micros + 10 * kSec);
    if (progress) f.N(1).applied_total = 150;  // catching up
    Decision d = stepper.Next(f.plan, f.o);
    if (progress) {
      EXPECT_EQ(d.action, Action::kWait);
    } else {
      ASSERT_EQ(d.action, Action::kPersist);
      EXPECT_EQ(d.persist->state(), pb::UPGRADE_PAUSED);
      EXPECT_EQ(d.persist->pause().check(), "node-active");
      EXPECT_THAT(d.persist->pause().observed(), HasSubstr("state ENABLING"));
    }
  }
}

// The orchestrator's own plan writes (lease renewals every third of the
// lease, each one record every node applies) are not the node's progress:
// a wait on a node that applies nothing else still times out.
TEST(StepperTest, ThePlansOwnWritesAreNotProgress) {
  Fixture f(pb::STEP_WAIT_ACTIVE);
  f.N(1).state = "ENABLING";
  f.N(1).running_release = "0.3.0";
  f.N(1).applied_total = 100;
  Stepper stepper;
  const int64_t limit = stepper.options().wait_active_micros;
  Decision d;
  // Every 3 s the lease is renewed (one plan revision more, applied by the
  // node); nothing else arrives.
  for (int64_t t = kSec; t <= limit + 4 * kSec; t += 3 * kSec) {
    f.o.now_micros = kStepperNow + t;
    f.plan.set_lease_until_micros(f.o.now_micros + 9 * kSec);  // renewed (below)
    d = stepper.Next(f.plan, f.o);
    if (d.action != Action::kWait) break;
    f.plan.set_revision(f.plan.revision() + 1);
    for (auto& n : f.o.nodes) {
      ++n.plan_revision;
      ++n.applied_total;
    }
  }
  ASSERT_EQ(d.action, Action::kPersist);
  ASSERT_TRUE(d.persist.has_value());
  EXPECT_EQ(d.persist->state(), pb::UPGRADE_PAUSED);
  EXPECT_EQ(d.persist->pause().check(), "node-active");
}

TEST(StepperTest, AWaitRenewsTheLeaseWhenAThirdIsLeft) {
  Fixture f(pb::STEP_WAIT_DISABLED);
  f.N(1).state = "DISABLING";
  f.plan.set_lease_until_micros(kStepperNow + 3 * kSec);  // of 10 s
  Decision d = Stepper().Next(f.plan, f.o);
  ASSERT_EQ(d.action, Action::kPersist);
  EXPECT_EQ(d.persist->lease_until_micros(), kStepperNow + 10 * kSec);
  EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_WAIT_DISABLED);
}

TEST(StepperTest, APauseRequestPausesAtTheBoundary) {
  Fixture f(pb::STEP_STOP);
  f.plan.set_pause_requested(true);
  Decision d = Stepper().Next(f.plan, f.o);
  ASSERT_EQ(d.action, Action::kPersist);  // not the stop
  EXPECT_EQ(d.persist->state(), pb::UPGRADE_PAUSED);
  EXPECT_EQ(d.persist->pause().check(), "operator");
  EXPECT_FALSE(d.persist->pause_requested());
  // Resumed by another orchestrator: RUNNING again, the step's timeout anew.
  auto resumed = TakeOver(*d.persist, "orch-2", kStepperNow + kSec, 10 * kSec);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->state(), pb::UPGRADE_RUNNING);
  EXPECT_EQ(resumed->owner(), "orch-2");
  EXPECT_EQ(resumed->nodes(0).step_started_micros(), kStepperNow + kSec);
}

TEST(StepperTest, AnAbortRequestEndsAtABoundaryWithTheNodeBack) {
  {
    // Not started: ABORTED at once.
    Fixture f(pb::STEP_PENDING);
    f.plan.set_abort_requested(true);
    Decision d = Stepper().Next(f.plan, f.o);
    ASSERT_EQ(d.action, Action::kPersist);
    EXPECT_EQ(d.persist->state(), pb::UPGRADE_ABORTED);
    EXPECT_FALSE(d.persist->abort_requested());
  }
  {
    // Stopped, not swapped: started again (on the binary it has), not stopped.
    Fixture f(pb::STEP_STOP);
    f.N(1).state = "DISABLED";
    f.plan.set_abort_requested(true);
    Decision d = Stepper().Next(f.plan, f.o);
    ASSERT_EQ(d.action, Action::kPersist);
    EXPECT_EQ(d.persist->state(), pb::UPGRADE_RUNNING);
    EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_START);
    EXPECT_EQ(d.persist->nodes(0).stops(), 0u);
  }
  {
    // Back ACTIVE: ABORTED there, the rest of the plan left PENDING.
    Fixture f(pb::STEP_WAIT_ACTIVE);
    f.N(1).running_release = "0.3.0";
    f.plan.set_abort_requested(true);
    Decision d = Stepper().Next(f.plan, f.o);
    ASSERT_EQ(d.action, Action::kPersist);
    EXPECT_EQ(d.persist->state(), pb::UPGRADE_ABORTED);
    EXPECT_EQ(d.persist->nodes(1).step(), pb::STEP_PENDING);
  }
}

// An abort with the plan's node at PENDING or DISABLE while the cluster sees
// it disabled (the orchestrator died between the disable and its persist,
// or an abort written from a lagging copy of the plan won over the step):
// the node is brought back, never left disabled by an ABORTED plan
// (simulation seed 58 of the upgrade seeds with wallet operations).
TEST(StepperTest, AnAbortBringsBackANodeDisabledAheadOfItsStep) {
  for (pb::UpgradeStep step : {pb::STEP_PENDING, pb::STEP_DISABLE}) {
    Fixture f(step);
    f.plan.set_abort_requested(true);
    f.N(1).state = "DISABLING";
    Decision d = Stepper().Next(f.plan, f.o);
    ASSERT_EQ(d.action, Action::kPersist) << d.waiting_for;
    EXPECT_EQ(d.persist->state(), pb::UPGRADE_RUNNING) << pb::UpgradeStep_Name(step);
    EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_WAIT_DISABLED) << pb::UpgradeStep_Name(step);
    f.N(1).state = "DISABLED";
    d = Stepper().Next(f.plan, f.o);
    ASSERT_EQ(d.action, Action::kPersist) << d.waiting_for;
    EXPECT_EQ(d.persist->state(), pb::UPGRADE_RUNNING) << pb::UpgradeStep_Name(step);
    EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_START) << pb::UpgradeStep_Name(step);
  }
}

// An abort that found the node stopped and not yet swapped brings it back
// on its old binary: WAIT_ACTIVE takes it ACTIVE on either release, and the
// plan ends ABORTED (not waiting for ever for the new release).
TEST(StepperTest, AnAbortedNodeBackOnTheOldBinaryEndsThePlan) {
  Fixture f(pb::STEP_WAIT_ACTIVE);
  f.plan.set_abort_requested(true);
  ASSERT_EQ(f.N(1).running_release, "0.2.0");
  Decision d = Stepper().Next(f.plan, f.o);
  ASSERT_EQ(d.action, Action::kPersist) << d.waiting_for;
  EXPECT_EQ(d.persist->state(), pb::UPGRADE_ABORTED);
  // Without an abort, the old release is not ACTIVE enough.
  Fixture g(pb::STEP_WAIT_ACTIVE);
  d = Stepper().Next(g.plan, g.o);
  EXPECT_EQ(d.action, Action::kWait);
  EXPECT_THAT(d.waiting_for, HasSubstr("runs 0.2.0, expected 0.3.0"));
}

// An abort right after DISABLE (the node still ACTIVE to the observer)
// went START, ENABLE (ACTIVE: done) without an enable; the disable then
// took effect. WAIT_ACTIVE seeing it DISABLED goes back to ENABLE rather
// than wait for ever.
TEST(StepperTest, ADisabledNodeInWaitActiveIsEnabled) {
  Fixture f(pb::STEP_WAIT_ACTIVE);
  f.plan.set_abort_requested(true);
  f.N(1).state = "DISABLED";
  Decision d = Stepper().Next(f.plan, f.o);
  ASSERT_EQ(d.action, Action::kPersist) << d.waiting_for;
  EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_ENABLE);
  d = Stepper().Next(*d.persist, f.o);
  EXPECT_EQ(d.action, Action::kEnable);
  // Still DISABLING: it waits (ENABLING is only asked of a DISABLED node).
  f.N(1).state = "DISABLING";
  EXPECT_EQ(Stepper().Next(f.plan, f.o).action, Action::kWait);
}

// An abort during WAIT_DISABLED waits for the disable to take effect: the
// node may look ACTIVE to a view that has not seen it (then ending would
// leave it DISABLED), and only a DISABLED node can be enabled.
TEST(StepperTest, AnAbortWaitsForTheDisableInFlight) {
  Fixture f(pb::STEP_WAIT_DISABLED);
  f.plan.set_abort_requested(true);
  for (const char* state : {"ACTIVE", "DISABLING"}) {
    f.N(1).state = state;
    Decision d = Stepper().Next(f.plan, f.o);
    EXPECT_EQ(d.action, Action::kWait) << state;
    EXPECT_THAT(d.waiting_for, HasSubstr("DISABLED (state")) << state;
  }
  f.N(1).state = "DISABLED";
  Decision d = Stepper().Next(f.plan, f.o);
  ASSERT_EQ(d.action, Action::kPersist);
  EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_START);  // not STOP
  EXPECT_EQ(d.persist->state(), pb::UPGRADE_RUNNING);
}

TEST(StepperTest, ANodeIsNotDisabledUnlessItsPairPeerIsActiveAndReachable) {
  for (pb::UpgradeStep step : {pb::STEP_PENDING, pb::STEP_DISABLE}) {
    Fixture f(step);
    f.N(2).state = "ENABLING";
    Stepper stepper;
    Decision d = stepper.Next(f.plan, f.o);
    EXPECT_EQ(d.action, Action::kWait) << StepName(step);
    EXPECT_THAT(d.waiting_for, HasSubstr("pair peer n2 is ENABLING"));
    f.N(2).state = "ACTIVE";
    f.N(2).reachable = false;
    d = stepper.Next(f.plan, f.o);
    EXPECT_EQ(d.action, Action::kWait);
    EXPECT_THAT(d.waiting_for, HasSubstr("pair peer n2 is unreachable"));
    // Past the bound: PAUSED naming the check.
    f.o.now_micros = kStepperNow + stepper.options().wait_peer_micros + kSec;
    f.plan.set_lease_until_micros(f.o.now_micros + 10 * kSec);
    d = stepper.Next(f.plan, f.o);
    ASSERT_EQ(d.action, Action::kPersist);
    EXPECT_EQ(d.persist->pause().check(), "pair-peer-active");
    // Peer back: on.
    f.N(2).reachable = true;
    EXPECT_NE(Stepper().Next(f.plan, f.o).action, Action::kWait);
  }
  // A read-only node has no peer to wait for.
  Fixture f(pb::STEP_DISABLE);
  f.plan.mutable_nodes(0)->set_node_id(3);
  f.N(1).state = "DISABLED";
  f.N(2).state = "DISABLED";
  EXPECT_EQ(Stepper().Next(f.plan, f.o).action, Action::kDisable);
}

TEST(StepperTest, TheCanaryGoesOutThroughTheNodeAndBackThroughItsPeer) {
  Fixture f(pb::STEP_CANARY);
  f.N(1).running_release = "0.3.0";
  Stepper stepper;
  // Out: a plan write through the node itself.
  Decision d = stepper.Next(f.plan, f.o);
  ASSERT_EQ(d.action, Action::kPersist);
  EXPECT_EQ(d.persist_via, 1u);
  EXPECT_EQ(d.persist->nodes(0).canary_out_revision(), 11u);
  pb::UpgradePlan plan = *d.persist;
  // Not yet on n3: a wait naming it.
  f.N(1).plan_revision = 11;
  f.N(2).plan_revision = 11;
  d = stepper.Next(plan, f.o);
  EXPECT_EQ(d.action, Action::kWait);
  EXPECT_THAT(d.waiting_for, HasSubstr("the write through n1 is not yet on n3"));
  // Everywhere: back, through its pair peer n2.
  f.N(3).plan_revision = 11;
  d = stepper.Next(plan, f.o);
  ASSERT_EQ(d.action, Action::kPersist);
  EXPECT_EQ(d.persist_via, 2u);
  EXPECT_EQ(d.persist->nodes(0).canary_in_revision(), 12u);
  plan = *d.persist;
  // Not yet on n1.
  d = stepper.Next(plan, f.o);
  EXPECT_EQ(d.action, Action::kWait);
  EXPECT_THAT(d.waiting_for, HasSubstr("n1 has plan revision 11"));
  // On n1: the canary is done.
  f.N(1).plan_revision = 12;
  d = stepper.Next(plan, f.o);
  ASSERT_EQ(d.action, Action::kPersist);
  EXPECT_EQ(d.persist->nodes(0).step(), pb::STEP_WAIT_RELEASE);
}

TEST(StepperTest, EveryNodeDoneIsDoneAndAFinishedPlanIsFinished) {
  Fixture f(pb::STEP_DONE);
  f.plan.mutable_nodes(1)->set_step(pb::STEP_DONE);
  Decision d = Stepper().Next(f.plan, f.o);
  ASSERT_EQ(d.action, Action::kPersist);
  EXPECT_EQ(d.persist->state(), pb::UPGRADE_DONE);
  EXPECT_EQ(Stepper().Next(*d.persist, f.o).action, Action::kFinished);
}

}  // namespace
}  // namespace coffer::upgrade
