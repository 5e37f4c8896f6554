#include "replication/core/storage_guard.h"

#include <gtest/gtest.h>

namespace coffer::replication {
namespace {

constexpr int64_t kMs = 1000;
using State = StorageGuard::State;
using Step = StorageGuard::Step;

const Status kFull = ResourceExhausted("write: IO error: No space left on device");

TEST(StorageGuard, WritableUntilTheStoreReportsAFault) {
  StorageGuard guard;
  EXPECT_EQ(guard.Observe(Status::Ok(), 0), Step::kNone);
  EXPECT_TRUE(guard.writable());
  EXPECT_TRUE(guard.CheckWrite().ok());
  EXPECT_EQ(StorageStateName(guard.state()), "writable");
}

TEST(StorageGuard, FaultRefusesWritesWithTheFaultsCodeThenResumes) {
  StorageGuard guard;
  EXPECT_EQ(guard.Observe(kFull, 1000 * kMs), Step::kFaulted);
  EXPECT_EQ(guard.state(), State::kFault);
  EXPECT_EQ(StorageStateName(guard.state()), "storage-fault");
  EXPECT_EQ(guard.faults(), 1u);
  Status refused = guard.CheckWrite();
  EXPECT_EQ(refused.code(), Code::kResourceExhausted);
  EXPECT_NE(refused.message().find("No space left on device"), std::string::npos);
  EXPECT_NE(refused.message().find("by itself"), std::string::npos);
  // Not yet due.
  EXPECT_EQ(guard.Observe(kFull, 1050 * kMs), Step::kNone);
  EXPECT_EQ(guard.Observe(kFull, 1100 * kMs), Step::kResume);
  guard.ResumeStarted(1100 * kMs);
  EXPECT_EQ(guard.state(), State::kResuming);
  EXPECT_EQ(StorageStateName(guard.state()), "resuming");
  EXPECT_FALSE(guard.CheckWrite().ok());
  EXPECT_EQ(guard.Observe(kFull, 1200 * kMs), Step::kNone);  // the attempt decides
  EXPECT_TRUE(guard.ResumeDone(Status::Ok(), 1200 * kMs));
  EXPECT_TRUE(guard.writable());
  EXPECT_TRUE(guard.CheckWrite().ok());
  EXPECT_EQ(guard.resume_attempts(), 1u);
}

TEST(StorageGuard, FailedResumesBackOffUpToTheMaximum) {
  StorageGuard guard;
  int64_t now = 0;
  ASSERT_EQ(guard.Observe(kFull, now), Step::kFaulted);
  std::vector<int64_t> waits;
  for (int i = 0; i < 8; ++i) {
    int64_t due = guard.next_attempt_micros();
    EXPECT_EQ(guard.Observe(kFull, due - 1), Step::kNone);
    ASSERT_EQ(guard.Observe(kFull, due), Step::kResume);
    guard.ResumeStarted(due);
    EXPECT_FALSE(guard.ResumeDone(kFull, due));
    EXPECT_EQ(guard.state(), State::kFault);
    waits.push_back(guard.next_attempt_micros() - due);
    now = due;
  }
  EXPECT_EQ(waits.front(), 200 * kMs);  // 100 ms, then doubled per failure
  EXPECT_EQ(waits.back(), 2000 * kMs);  // capped
  EXPECT_EQ(guard.resume_attempts(), 8u);
}

TEST(StorageGuard, AnIoErrorIsRefusedAsUnavailable) {
  StorageGuard guard;
  ASSERT_EQ(guard.Observe(Unavailable("write: IO error: Input/output error"), 0), Step::kFaulted);
  EXPECT_EQ(guard.CheckWrite().code(), Code::kUnavailable);
}

TEST(StorageGuard, AFaultSoonAfterARecoveryKeepsTheBackoff) {
  StorageGuard guard;
  ASSERT_EQ(guard.Observe(kFull, 0), Step::kFaulted);
  int64_t now = guard.next_attempt_micros();
  for (int i = 0; i < 3; ++i) {  // three failures: the next wait is 800 ms
    ASSERT_EQ(guard.Observe(kFull, now), Step::kResume);
    guard.ResumeStarted(now);
    guard.ResumeDone(kFull, now);
    now = guard.next_attempt_micros();
  }
  ASSERT_EQ(guard.Observe(kFull, now), Step::kResume);
  guard.ResumeStarted(now);
  ASSERT_TRUE(guard.ResumeDone(Status::Ok(), now));
  // Full again a moment later: the wait does not drop back to 100 ms.
  ASSERT_EQ(guard.Observe(kFull, now + 10 * kMs), Step::kFaulted);
  EXPECT_GT(guard.next_attempt_micros() - (now + 10 * kMs), 100 * kMs);
  // After a stable stretch it does.
  int64_t later = guard.next_attempt_micros();
  ASSERT_EQ(guard.Observe(kFull, later), Step::kResume);
  guard.ResumeStarted(later);
  ASSERT_TRUE(guard.ResumeDone(Status::Ok(), later));
  ASSERT_EQ(guard.Observe(kFull, later + 60'000 * kMs), Step::kFaulted);
  EXPECT_EQ(guard.next_attempt_micros() - (later + 60'000 * kMs), 100 * kMs);
}

}  // namespace
}  // namespace coffer::replication
