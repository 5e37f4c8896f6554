// The core alone: messages in, decisions out, time given by the test.
#include "replication/core/replication_core.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/fault_point.h"

namespace coffer::replication {
namespace {

constexpr int64_t kMs = 1000;

std::vector<Member> Pair() { return {{1, Role::kReadWrite, 2}, {2, Role::kReadWrite, 1}}; }

pb::ReplicationMessage ReportOf(const VersionVector& v) {
  pb::ReplicationMessage m;
  *m.mutable_report()->mutable_applied() = ToProto(v);
  return m;
}

pb::LogRecord Record(uint32_t origin, uint64_t seq) {
  pb::LogRecord r;
  r.set_origin(origin);
  r.set_seq(seq);
  return r;
}

pb::ReplicationMessage Batch(std::vector<pb::LogRecord> records) {
  pb::ReplicationMessage m;
  for (auto& r : records) *m.mutable_records()->add_records() = r;
  return m;
}

// A regression: the retransmit clock was one per link, so while the peer kept
// acknowledging records of one origin, a lost record of another origin was
// never sent again (a re-enabled node waited for it as long as writes went on).
TEST(ReplicationCoreTest, LostRecordOfOneOriginIsResentWhileAnotherOriginProgresses) {
  std::vector<Member> three = {
      {1, Role::kReadWrite, 2}, {2, Role::kReadWrite, 1}, {3, Role::kReadOnly, 0}};
  ReplicationCore a(1, three, {{1, 1}, {4, 1}}, {}, 0);
  a.Receive(3, ReportOf({}), 1 * kMs);
  auto first = a.TakeOutput();
  auto sent_to_3 = [](const ReplicationCore::Output& out, uint32_t origin) {
    for (const auto& s : out.sends) {
      if (s.peer == 3 && s.origin == origin) return true;
    }
    return false;
  };
  ASSERT_TRUE(sent_to_3(first, 1));
  ASSERT_TRUE(sent_to_3(first, 4));
  // Node 3 acknowledges origin 4's records as they keep coming; 1:1 was lost.
  for (int i = 2; i <= 20; ++i) {
    int64_t now = i * 100 * kMs;
    a.OnApplied({{1, 1}, {4, static_cast<uint64_t>(i)}}, now);
    a.Receive(3, ReportOf({{4, static_cast<uint64_t>(i - 1)}}), now);
    a.Tick(now);
    if (sent_to_3(a.TakeOutput(), 1)) return;  // resent: fixed
  }
  FAIL() << "record 1:1 was never sent again while origin 4 made progress";
}

TEST(ReplicationCoreTest, UnpairedReadWriteNodeIsRestrictedAndReadOnlyNodeRefuses) {
  ReplicationCore alone(1, {{1, Role::kReadWrite, 0}}, {}, {}, 0);
  EXPECT_EQ(alone.CheckCriticalWrite().code(), Code::kReadOnlyRestricted);
  EXPECT_NE(alone.CheckCriticalWrite().message().find("no read-write peer"), std::string::npos);
  ReplicationCore ro(
      3, {{1, Role::kReadWrite, 2}, {2, Role::kReadWrite, 1}, {3, Role::kReadOnly, 0}}, {}, {}, 0);
  EXPECT_EQ(ro.CheckCriticalWrite().code(), Code::kReadOnlyNode);
}

TEST(ReplicationCoreTest, PairBecomesReadWriteWhenCaughtUpAndRestrictedAfterDetectionBound) {
  ReplicationCore a(1, Pair(), {}, {}, 0);
  EXPECT_EQ(a.mode(), WriteMode::kRestricted) << "peer not heard from yet";
  a.Receive(2, ReportOf({}), 10 * kMs);
  EXPECT_EQ(a.mode(), WriteMode::kReadWrite);
  a.Tick(10 * kMs + 900 * kMs);
  EXPECT_EQ(a.mode(), WriteMode::kReadWrite) << "within the detection bound";
  a.Tick(10 * kMs + 1001 * kMs);
  EXPECT_EQ(a.mode(), WriteMode::kRestricted);
  EXPECT_EQ(a.CheckCriticalWrite().code(), Code::kReadOnlyRestricted);
}

TEST(ReplicationCoreTest, ReturnsToReadWriteOnlyAfterThePairCaughtUp) {
  ReplicationCore a(1, Pair(), {{1, 5}}, {}, 0);
  a.Receive(2, ReportOf({{1, 3}}), 10 * kMs);
  EXPECT_EQ(a.mode(), WriteMode::kRestricted) << "peer lacks records 4 and 5";
  EXPECT_NE(a.mode_reason().find("catching up"), std::string::npos);
  a.Receive(2, ReportOf({{1, 5}, {2, 2}}), 20 * kMs);
  EXPECT_EQ(a.mode(), WriteMode::kRestricted) << "we lack the peer's records";
  a.OnApplied({{1, 5}, {2, 2}}, 30 * kMs);
  EXPECT_EQ(a.mode(), WriteMode::kReadWrite);
}

TEST(ReplicationCoreTest, CriticalWriteIsAckedOnlyWhenThePeerReportsIt) {
  ReplicationCore a(1, Pair(), {}, {}, 0);
  a.Receive(2, ReportOf({}), 1 * kMs);
  ASSERT_TRUE(a.CheckCriticalWrite().ok());
  a.OnLocalCommit(1, 77, 2 * kMs);
  auto out = a.TakeOutput();
  EXPECT_TRUE(out.acked.empty());
  ASSERT_EQ(out.sends.size(), 1u);
  EXPECT_EQ(out.sends[0].peer, 2u);
  EXPECT_EQ(out.sends[0].origin, 1u);
  EXPECT_EQ(out.sends[0].from_seq, 1u);
  EXPECT_EQ(out.sends[0].count, 1u);
  a.Receive(2, ReportOf({{1, 1}}), 3 * kMs);
  out = a.TakeOutput();
  ASSERT_EQ(out.acked.size(), 1u);
  EXPECT_EQ(out.acked[0], 77u);
}

TEST(ReplicationCoreTest, UnconfirmedCriticalWriteFailsWithOutcomeUnknown) {
  CoreOptions options;
  options.pair_ack_timeout_micros = 50 * kMs;
  ReplicationCore a(1, Pair(), {}, options, 0);
  a.Receive(2, ReportOf({}), 1 * kMs);
  a.OnLocalCommit(1, 5, 2 * kMs);
  a.Tick(40 * kMs);
  EXPECT_TRUE(a.TakeOutput().failed.empty());
  a.Tick(60 * kMs);
  auto out = a.TakeOutput();
  ASSERT_EQ(out.failed.size(), 1u);
  EXPECT_EQ(out.failed[0].first, 5u);
  EXPECT_EQ(out.failed[0].second.code(), Code::kOutcomeUnknown);
}

TEST(ReplicationCoreTest, PlantedBugAcksBeforeThePeerHasTheRecord) {
  if (!fault::Enabled()) GTEST_SKIP() << "fault points are compiled out of this build";
  ReplicationCore a(1, Pair(), {}, {}, 0);
  a.Receive(2, ReportOf({}), 1 * kMs);
  a.OnLocalCommit(1, 8, 2 * kMs);
  EXPECT_TRUE(a.TakeOutput().acked.empty()) << "unarmed: waits for the peer";
  fault::ScopedFaultPoint planted("replication.ack_before_peer_persisted", {});
  a.OnLocalCommit(2, 9, 3 * kMs);
  auto acked = a.TakeOutput().acked;
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0], 9u);
}

TEST(ReplicationCoreTest, RestrictedNodeRefusesCriticalWritesUnlessThePlantedBugIsArmed) {
  ReplicationCore a(1, Pair(), {}, {}, 0);  // the peer never heard from
  ASSERT_EQ(a.mode(), WriteMode::kRestricted);
  EXPECT_EQ(a.CheckCriticalWrite().code(), Code::kReadOnlyRestricted);
  if (!fault::Enabled()) return;
  fault::ScopedFaultPoint planted("replication.accept_write_in_restricted_mode", {});
  EXPECT_TRUE(a.CheckCriticalWrite().ok());
  EXPECT_EQ(planted.fires(), 1u);
}

TEST(ReplicationCoreTest, RecordsCollectedByLogGcAreNotOfferedAgain) {
  ReplicationCore a(1, Pair(), {{1, 10}}, {}, 0);
  a.OnLogCollected(1, 6);
  a.Receive(2, ReportOf({{1, 3}}), 1 * kMs);
  EXPECT_TRUE(a.TakeOutput().sends.empty()) << "1:4 is collected here: the peer asks elsewhere";
  a.Receive(2, ReportOf({{1, 6}}), 2 * kMs);
  auto sends = a.TakeOutput().sends;
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0].from_seq, 7u);
  EXPECT_EQ(sends[0].count, 4u);
}

TEST(ReplicationCoreTest, RecordsApplyInOrderExactlyOnceAndGapsWait) {
  ReplicationCore b(2, Pair(), {}, {}, 0);
  b.Receive(1, Batch({Record(1, 2), Record(1, 3)}), 1 * kMs);
  EXPECT_TRUE(b.TakeOutput().to_apply.empty()) << "seq 1 missing";
  b.Receive(1, Batch({Record(1, 1), Record(1, 2)}), 2 * kMs);
  auto out = b.TakeOutput();
  ASSERT_EQ(out.to_apply.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(out.to_apply[i].seq(), i + 1);
  b.OnApplied({{1, 3}}, 3 * kMs);
  b.Receive(1, Batch({Record(1, 3)}), 4 * kMs);
  EXPECT_TRUE(b.TakeOutput().to_apply.empty()) << "duplicate";
}

TEST(ReplicationCoreTest, RecordsTheStoreRefusedAreReceivedAgain) {
  ReplicationCore b(2, Pair(), {}, {}, 0);
  b.Receive(1, Batch({Record(1, 1)}), 1 * kMs);
  ASSERT_EQ(b.TakeOutput().to_apply.size(), 1u);
  b.OnApplied({}, 2 * kMs);  // the store did not apply it
  b.Receive(1, Batch({Record(1, 1)}), 3 * kMs);
  EXPECT_EQ(b.TakeOutput().to_apply.size(), 1u);
}

// The highest applied seq of `origin` in the reports `out` sends to `to`
// (0: no report to `to`).
uint64_t ReportedTo(const ReplicationCore::Output& out, uint32_t to, uint32_t origin) {
  uint64_t reported = 0;
  for (const auto& m : out.messages) {
    if (m.to != to || !m.message.has_report()) continue;
    auto applied = ToVector(m.message.report().applied());
    if (applied.count(origin)) reported = std::max(reported, applied.at(origin));
  }
  return reported;
}

// Group commit on the apply side: records applied but not yet synced are
// never reported (a report acknowledges the sender's critical writes), yet
// the records after them are handed out at once, and a sync that covers
// only part of them reports that part.
TEST(ReplicationCoreTest, AppliedRecordsAreReportedOnlyOnceASyncCoversThem) {
  ReplicationCore b(2, Pair(), {}, {}, 0);
  b.Receive(1, ReportOf({}), 1 * kMs);
  b.TakeOutput();
  b.Receive(1, Batch({Record(1, 1), Record(1, 2)}), 2 * kMs);
  ASSERT_EQ(b.TakeOutput().to_apply.size(), 2u);
  b.OnAppliedUnsynced({{1, 2}}, 3 * kMs);
  EXPECT_EQ(ReportedTo(b.TakeOutput(), 1, 1), 0u) << "applied, not durable";
  b.Receive(1, Batch({Record(1, 2), Record(1, 3)}), 4 * kMs);
  auto out = b.TakeOutput();
  ASSERT_EQ(out.to_apply.size(), 1u) << "1:2 is applied: only 1:3 is new";
  EXPECT_EQ(out.to_apply[0].seq(), 3u);
  EXPECT_EQ(ReportedTo(out, 1, 1), 0u);
  b.OnAppliedUnsynced({{1, 3}}, 5 * kMs);
  b.OnDurable({{1, 2}}, 6 * kMs);  // a sync taken before 1:3 was applied
  EXPECT_EQ(ReportedTo(b.TakeOutput(), 1, 1), 2u);
  EXPECT_EQ(b.durable().at(1), 2u);
  b.Receive(1, Batch({Record(1, 3)}), 7 * kMs);
  EXPECT_TRUE(b.TakeOutput().to_apply.empty()) << "that sync did not make 1:3 a stranger";
  b.OnDurable({{1, 3}}, 8 * kMs);
  EXPECT_EQ(ReportedTo(b.TakeOutput(), 1, 1), 3u);
}

// Each origin sends its own records to every node; another node relays
// them only once they have been durable there for relay_delay and the peer
// has still not reported them (catch-up from anyone, without every record
// crossing the network once per node in steady state).
TEST(ReplicationCoreTest, AnotherOriginsRecordsAreRelayedOnlyAfterTheRelayDelay) {
  std::vector<Member> three = {
      {1, Role::kReadWrite, 2}, {2, Role::kReadWrite, 1}, {3, Role::kReadOnly, 0}};
  CoreOptions options;
  options.relay_delay_micros = 50 * kMs;
  ReplicationCore c(3, three, {}, options, 0);
  c.Receive(1, ReportOf({}), 1 * kMs);
  c.Receive(2, ReportOf({}), 1 * kMs);
  c.TakeOutput();
  auto relayed_to_2 = [](const ReplicationCore::Output& out) {
    std::vector<ReplicationCore::SendRecords> relays;
    for (const auto& s : out.sends) {
      if (s.peer == 2 && s.origin == 1) relays.push_back(s);
    }
    return relays;
  };
  c.Receive(1, Batch({Record(1, 1), Record(1, 2)}), 2 * kMs);
  ASSERT_EQ(c.TakeOutput().to_apply.size(), 2u);
  c.OnApplied({{1, 2}}, 3 * kMs);
  EXPECT_TRUE(relayed_to_2(c.TakeOutput()).empty()) << "node 1 sends its own records to node 2";
  c.Receive(2, ReportOf({}), 40 * kMs);
  c.Tick(40 * kMs);
  EXPECT_TRUE(relayed_to_2(c.TakeOutput()).empty()) << "37 ms durable here: not yet";
  c.Receive(2, ReportOf({}), 54 * kMs);
  c.Tick(54 * kMs);
  auto relays = relayed_to_2(c.TakeOutput());
  ASSERT_EQ(relays.size(), 1u) << "51 ms durable here and node 2 still lacks them";
  EXPECT_EQ(relays[0].from_seq, 1u);
  EXPECT_EQ(relays[0].count, 2u);

  // A record node 2 reports before the delay is never relayed.
  c.Receive(1, Batch({Record(1, 3)}), 60 * kMs);
  c.TakeOutput();
  c.OnApplied({{1, 3}}, 61 * kMs);
  c.TakeOutput();
  c.Receive(2, ReportOf({{1, 3}}), 70 * kMs);
  c.Tick(200 * kMs);
  EXPECT_TRUE(relayed_to_2(c.TakeOutput()).empty());
}

TEST(ReplicationCoreTest, SendsWhatThePeerLacksFromAnyOriginWithinTheWindow) {
  CoreOptions options;
  options.max_batch_records = 10;
  options.max_inflight_records = 25;
  ReplicationCore c(3,
                    {{1, Role::kReadWrite, 2}, {2, Role::kReadWrite, 1}, {3, Role::kReadOnly, 0}},
                    {{1, 100}, {2, 4}}, options, 0);
  c.Receive(2, ReportOf({{1, 90}, {2, 4}}), 1 * kMs);
  auto out = c.TakeOutput();
  uint64_t to_peer2 = 0;
  for (const auto& s : out.sends) {
    if (s.peer == 2) {
      EXPECT_EQ(s.origin, 1u);
      to_peer2 += s.count;
    }
  }
  EXPECT_EQ(to_peer2, 10u) << "origin 1 records 91..100, nothing of origin 2";
  c.Receive(1, ReportOf({{2, 0}}), 2 * kMs);
  out = c.TakeOutput();
  uint64_t to_peer1 = 0;
  for (const auto& s : out.sends) {
    if (s.peer == 1) to_peer1 += s.count;
  }
  EXPECT_EQ(to_peer1, 25u) << "bounded by the in-flight window";
  EXPECT_EQ(c.link(1).inflight_records, 25u);
}

TEST(ReplicationCoreTest, UnacknowledgedRecordsAreResentAfterTheRetransmitTimeout) {
  ReplicationCore a(1, Pair(), {{1, 3}}, {}, 0);
  a.Receive(2, ReportOf({}), 1 * kMs);
  ASSERT_EQ(a.TakeOutput().sends.size(), 1u);
  a.Receive(2, ReportOf({}), 100 * kMs);
  EXPECT_TRUE(a.TakeOutput().sends.empty()) << "still in flight";
  a.Receive(2, ReportOf({}), 400 * kMs);
  auto out = a.TakeOutput();
  ASSERT_EQ(out.sends.size(), 1u);
  EXPECT_EQ(out.sends[0].from_seq, 1u);
}

TEST(ReplicationCoreTest, NamesConfirmOnceEveryEnabledNodeReportedAndWeAppliedTheirReports) {
  std::vector<Member> three = {
      {1, Role::kReadWrite, 2}, {2, Role::kReadWrite, 1}, {3, Role::kReadOnly, 0}};
  ReplicationCore a(1, three, {{1, 1}}, {}, 0);
  a.Receive(2, ReportOf({{1, 1}, {2, 1}}), 1 * kMs);
  EXPECT_FALSE(Covers(a.confirm_frontier(), {{1, 1}})) << "node 3 has not reported";
  a.Receive(3, ReportOf({{1, 1}}), 2 * kMs);
  EXPECT_FALSE(Covers(a.confirm_frontier(), {{1, 1}})) << "we lack node 2's record 2:1";
  a.OnApplied({{1, 1}, {2, 1}}, 3 * kMs);
  EXPECT_TRUE(Covers(a.confirm_frontier(), {{1, 1}}));
  EXPECT_FALSE(Covers(a.confirm_frontier(), {{2, 1}})) << "node 3 lacks 2:1";
  // A disabled node does not hold confirmation back.
  three[2].state = MemberState::kDisabled;
  ReplicationCore b(1, three, {{1, 1}, {2, 1}}, {}, 0);
  b.Receive(2, ReportOf({{1, 1}, {2, 1}}), 1 * kMs);
  EXPECT_TRUE(Covers(b.confirm_frontier(), {{1, 1}, {2, 1}}));
}

TEST(ReplicationCoreTest, AnInductedMemberGetsLinkedAndHoldsConfirmationUntilItReports) {
  ReplicationCore a(1, Pair(), {{1, 2}}, {}, 0);
  a.Receive(2, ReportOf({{1, 2}}), 1 * kMs);
  EXPECT_TRUE(Covers(a.confirm_frontier(), {{1, 2}}));
  std::vector<Member> three = Pair();
  three.push_back({3, Role::kReadOnly, 0});
  a.SetMembers(three, 2 * kMs);
  a.OnLocalCommit(3, std::nullopt, 3 * kMs);
  a.Receive(2, ReportOf({{1, 3}}), 4 * kMs);
  EXPECT_FALSE(Covers(a.confirm_frontier(), {{1, 3}})) << "node 3 has not reported yet";
  a.Receive(3, ReportOf({{1, 2}}), 5 * kMs);
  auto out = a.TakeOutput();
  bool sent_to_new = false;
  for (const auto& s : out.sends) sent_to_new |= s.peer == 3 && s.from_seq == 3;
  EXPECT_TRUE(sent_to_new) << "the new node gets the log from its position";
  a.Receive(3, ReportOf({{1, 3}}), 6 * kMs);
  EXPECT_TRUE(Covers(a.confirm_frontier(), {{1, 3}}));
}

}  // namespace
}  // namespace coffer::replication
