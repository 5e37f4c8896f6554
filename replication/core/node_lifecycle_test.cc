// The node-state steps, the log GC choice and group commit, decided without
// I/O: the core's view and the membership in, the decision out.
#include "replication/core/node_lifecycle.h"

#include <gtest/gtest.h>

#include "common/fault_point.h"

namespace coffer::replication {
namespace {

constexpr int64_t kMs = 1000;
constexpr int64_t kWall = 1'800'000'000'000'000;

std::vector<Member> Three(MemberState self_state, MemberState third_state = MemberState::kActive) {
  return {{1, Role::kReadWrite, 2, self_state},
          {2, Role::kReadWrite, 1, MemberState::kActive},
          {3, Role::kReadOnly, 0, third_state}};
}

pb::ReplicationMessage Report(const VersionVector& v, int64_t sent, int64_t echo) {
  pb::ReplicationMessage m;
  *m.mutable_report()->mutable_applied() = ToProto(v);
  m.mutable_report()->set_sent_micros(sent);
  m.mutable_report()->set_echo_micros(echo);
  return m;
}

TEST(NodeLifecycleTest, DisablingBecomesDisabledOnceEveryEnabledMemberHasItsRecords) {
  ReplicationCore core(1, Three(MemberState::kDisabling), {{1, 5}}, {}, 0);
  NodeLifecycle lifecycle;
  EXPECT_FALSE(lifecycle.Decide(pb::NODE_DISABLING, core).next) << "nobody reported yet";
  core.Receive(2, Report({{1, 5}}, 1 * kMs, 0), 1 * kMs);
  EXPECT_FALSE(lifecycle.Decide(pb::NODE_DISABLING, core).next) << "node 3 lacks 1:5";
  core.Receive(3, Report({{1, 4}}, 2 * kMs, 0), 2 * kMs);
  EXPECT_FALSE(lifecycle.Decide(pb::NODE_DISABLING, core).next) << "node 3 lacks 1:5";
  core.Receive(3, Report({{1, 5}}, 3 * kMs, 0), 3 * kMs);
  LifecycleStep step = lifecycle.Decide(pb::NODE_DISABLING, core);
  ASSERT_TRUE(step.next);
  EXPECT_EQ(*step.next, pb::NODE_DISABLED);
  EXPECT_FALSE(step.start_catch_up);
}

TEST(NodeLifecycleTest, DisabledMembersAreNotWaitedForByTheHandOff) {
  ReplicationCore core(1, Three(MemberState::kDisabling, MemberState::kDisabled), {{1, 5}}, {}, 0);
  core.Receive(2, Report({{1, 5}}, 1 * kMs, 0), 1 * kMs);
  NodeLifecycle lifecycle;
  EXPECT_EQ(lifecycle.Decide(pb::NODE_DISABLING, core).next, pb::NODE_DISABLED);
}

TEST(NodeLifecycleTest, EnablingBecomesActiveOnlyAfterBothDirectionsWorkedWithEveryEnabledMember) {
  ReplicationCore core(1, Three(MemberState::kActive), {{1, 5}}, {}, 0);
  NodeLifecycle lifecycle;
  LifecycleStep first = lifecycle.Decide(pb::NODE_ENABLING, core);
  EXPECT_TRUE(first.start_catch_up);
  EXPECT_FALSE(first.next);
  core.StartCatchUp(10 * kMs);
  EXPECT_FALSE(lifecycle.Decide(pb::NODE_ENABLING, core).start_catch_up) << "asked once";
  // Node 2 echoes a report of ours from after the start; node 3 only one
  // from before it (its direction from us is not proven yet).
  core.Receive(2, Report({{1, 5}, {2, 7}}, 11 * kMs, 10 * kMs), 11 * kMs);
  core.Receive(3, Report({{1, 5}}, 11 * kMs, 5 * kMs), 11 * kMs);
  EXPECT_FALSE(lifecycle.Decide(pb::NODE_ENABLING, core).next);
  core.Receive(3, Report({{1, 5}}, 12 * kMs, 10 * kMs), 12 * kMs);
  EXPECT_FALSE(lifecycle.Decide(pb::NODE_ENABLING, core).next) << "2:1..7 not applied here yet";
  core.OnApplied({{1, 5}, {2, 7}}, 13 * kMs);
  EXPECT_EQ(lifecycle.Decide(pb::NODE_ENABLING, core).next, pb::NODE_ACTIVE);
}

TEST(NodeLifecycleTest, LeavingPendingOrEnablingForgetsTheCatchUp) {
  ReplicationCore core(1, Three(MemberState::kActive), {}, {}, 0);
  NodeLifecycle lifecycle;
  EXPECT_TRUE(lifecycle.Decide(pb::NODE_PENDING, core).start_catch_up);
  EXPECT_TRUE(lifecycle.catching_up());
  EXPECT_FALSE(lifecycle.Decide(pb::NODE_ACTIVE, core).next);
  EXPECT_FALSE(lifecycle.catching_up());
  EXPECT_TRUE(lifecycle.Decide(pb::NODE_ENABLING, core).start_catch_up) << "a new catch-up";
}

MemberRecord Disabled(uint32_t id, VersionVector had, int64_t window_end) {
  return MemberRecord{.id = id,
                      .state = pb::NODE_DISABLED,
                      .window_end_wall_micros = window_end,
                      .disabled_applied = std::move(had)};
}

TEST(LogGcTest, CollectsWhatEveryCountedMemberHasApplied) {
  ReplicationCore core(1, Three(MemberState::kActive), {{1, 10}, {2, 8}}, {}, 0);
  std::vector<MemberRecord> members = {{.id = 1}, {.id = 2}, {.id = 3}};
  LogGc gc;
  EXPECT_FALSE(gc.CollectibleThrough(1, {{1, 10}, {2, 8}}, members, core, kWall))
      << "nobody heard from: what they have is unknown";
  core.Receive(2, Report({{1, 9}, {2, 8}}, 1 * kMs, 0), 1 * kMs);
  EXPECT_FALSE(gc.CollectibleThrough(1, {{1, 10}, {2, 8}}, members, core, kWall))
      << "node 3 not heard from";
  core.Receive(3, Report({{1, 6}, {2, 8}}, 1 * kMs, 0), 1 * kMs);
  auto through = gc.CollectibleThrough(1, {{1, 10}, {2, 8}}, members, core, kWall);
  ASSERT_TRUE(through);
  EXPECT_EQ(*through, (VersionVector{{1, 6}, {2, 8}}));
}

TEST(LogGcTest, KeepsWhatADisabledMemberLacksUntilItsWindowEnds) {
  ReplicationCore core(1, Three(MemberState::kActive, MemberState::kDisabled), {{1, 10}}, {}, 0);
  core.Receive(2, Report({{1, 10}}, 1 * kMs, 0), 1 * kMs);
  std::vector<MemberRecord> members = {{.id = 1}, {.id = 2}, Disabled(3, {{1, 4}}, kWall + 100)};
  LogGc gc;
  EXPECT_EQ(gc.CollectibleThrough(1, {{1, 10}}, members, core, kWall + 99), (VersionVector{{1, 4}}))
      << "within the window: what node 3 had when disabled";
  EXPECT_EQ(gc.CollectibleThrough(1, {{1, 10}}, members, core, kWall + 100),
            (VersionVector{{1, 10}}))
      << "EXPIRED: nothing kept for it";
  EXPECT_TRUE(Expired(members[2], kWall + 100));
  EXPECT_FALSE(Expired(members[2], kWall + 99));
  if (!fault::Enabled()) return;
  fault::ScopedFaultPoint planted("log_gc.drop_before_disabled_node_has_it", {});
  EXPECT_EQ(gc.CollectibleThrough(1, {{1, 10}}, members, core, kWall + 99),
            (VersionVector{{1, 10}}))
      << "the planted bug drops what the disabled node still needs";
}

TEST(LogGcTest, RunsAtMostOncePerInterval) {
  LogGc gc(LogGcOptions{.interval_micros = 1000 * kMs});
  EXPECT_TRUE(gc.Due(5 * kMs));
  EXPECT_FALSE(gc.Due(500 * kMs));
  EXPECT_FALSE(gc.Due(1004 * kMs));
  EXPECT_TRUE(gc.Due(1005 * kMs));
}

TEST(GroupCommitTest, OneSyncAtATimeAndWorkDuringItStartsTheNext) {
  GroupCommit group;  // no interval: back to back
  EXPECT_TRUE(group.WritesArrived(0));
  EXPECT_TRUE(group.sync_in_flight());
  EXPECT_FALSE(group.WritesArrived(100)) << "joins the next sync";
  EXPECT_FALSE(group.WritesArrived(200));
  EXPECT_EQ(group.SyncDone(1000, /*work_waiting=*/true), 1000) << "the next sync starts at once";
  EXPECT_TRUE(group.sync_in_flight());
  EXPECT_EQ(group.SyncDone(2000, /*work_waiting=*/false), std::nullopt) << "nothing came in";
  EXPECT_FALSE(group.sync_in_flight());
  EXPECT_TRUE(group.WritesArrived(3000));
  group.NothingToSync();
  EXPECT_FALSE(group.sync_in_flight());
  EXPECT_TRUE(group.WritesArrived(4000));
}

TEST(GroupCommitTest, ABackToBackSyncWaitsTheIntervalAfterThePreviousStart) {
  GroupCommit group({.min_interval_micros = 2000});
  EXPECT_TRUE(group.WritesArrived(10'000)) << "after an idle moment: at once";
  EXPECT_FALSE(group.WritesArrived(10'300));
  // Done 700 us later with work waiting: put off to 2 ms after the start.
  EXPECT_EQ(group.SyncDone(10'700, true), 12'000);
  EXPECT_TRUE(group.sync_in_flight()) << "scheduled counts as in flight";
  EXPECT_FALSE(group.WritesArrived(11'000)) << "joins the scheduled sync";
  // That one ran from 12,000 and took 2.5 ms: longer than the interval.
  EXPECT_EQ(group.SyncDone(14'500, true), 14'500);
  // Calls came in during it, but that sync took their work: no next sync.
  EXPECT_FALSE(group.WritesArrived(14'600));
  EXPECT_EQ(group.SyncDone(15'000, false), std::nullopt);
  EXPECT_FALSE(group.sync_in_flight());
  // Idle, then work within the interval of the last start: still at once
  // (the interval spaces back-to-back syncs only, a lone write never waits).
  EXPECT_TRUE(group.WritesArrived(15'100));
}

TEST(ProtocolStateTest, MapsStoredStatesToTheProtocol) {
  EXPECT_EQ(ProtocolState(pb::NODE_PENDING), MemberState::kActive);
  EXPECT_EQ(ProtocolState(pb::NODE_ENABLING), MemberState::kActive);
  EXPECT_EQ(ProtocolState(pb::NODE_DISABLING), MemberState::kDisabling);
  EXPECT_EQ(ProtocolState(pb::NODE_DISABLED), MemberState::kDisabled);
}

}  // namespace
}  // namespace coffer::replication
