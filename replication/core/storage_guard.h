// StorageGuard: the decisions about a node's storage faults
// (docs/storage-faults.md), without I/O: time is passed in, the store's
// fault is observed by the caller (ObjectStore::StorageFault) and the resume
// attempts are the caller's to perform. node/ and the simulation drive it
// the same way:
//
//   every tick, and after a write failed:
//     switch (guard.Observe(store.StorageFault(), now)) {
//       case StorageGuard::Step::kFaulted: log the fault (warn); break;
//       case StorageGuard::Step::kResume:
//         guard.ResumeStarted(now);
//         ... later, maybe on another thread: result = store.ResumeStorage();
//         if (guard.ResumeDone(result, now)) log "writable again";
//         break;
//       case StorageGuard::Step::kNone: break;
//     }
//   before a client or lifecycle write: Status ok = guard.CheckWrite();
//
// States: kWritable -> (the store reports a fault) kFault -> (a retry is
// due) kResuming -> (Resume succeeded) kWritable, or (it failed) kFault with
// the next retry after a longer wait: first_retry_micros, doubled per
// failure up to max_retry_micros. A fault within stable_micros of the last
// recovery continues the backoff where it was (a disk that is still nearly
// full does not make the node flap every 100 ms).
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace coffer::replication {

class StorageGuard {
 public:
  enum class State { kWritable, kFault, kResuming };
  enum class Step {
    kNone,
    kFaulted,  // the store just entered a fault: report it
    kResume,   // a resume attempt is due: ResumeStarted, then ResumeDone
  };
  struct Options {
    int64_t first_retry_micros = 100'000;
    int64_t max_retry_micros = 2'000'000;
    int64_t stable_micros = 10'000'000;
  };

  StorageGuard() : StorageGuard(Options{}) {}
  explicit StorageGuard(Options options) : options_(options) {}

  // The store's fault as it is now (OK: it can write). While kResuming the
  // observation is ignored (the attempt decides).
  Step Observe(const Status& fault, int64_t now_micros);
  void ResumeStarted(int64_t now_micros);
  // The attempt's result (ObjectStore::ResumeStorage). True: the store is
  // writable again.
  bool ResumeDone(const Status& result, int64_t now_micros);

  // OK while writable; else the answer for a write: the fault's code
  // (RESOURCE_EXHAUSTED for a full disk, UNAVAILABLE for an I/O error) with
  // a message saying that writes resume by themselves.
  Status CheckWrite() const;

  State state() const { return state_; }
  bool writable() const { return state_ == State::kWritable; }
  // The fault in force (OK while writable).
  const Status& fault() const { return fault_; }
  // Since when the store is not writable (0 while writable).
  int64_t fault_since_micros() const { return fault_since_; }
  // When the next resume attempt is due (kFault only).
  int64_t next_attempt_micros() const { return next_attempt_; }
  // Faults entered and resume attempts made since the start.
  uint64_t faults() const { return faults_; }
  uint64_t resume_attempts() const { return resume_attempts_; }

 private:
  int64_t RetryDelay() const;

  Options options_;
  State state_ = State::kWritable;
  Status fault_;
  int64_t fault_since_ = 0;
  int64_t next_attempt_ = 0;
  int64_t recovered_at_ = -1;  // last recovery; -1: never
  int failures_ = 0;           // failed attempts in this streak (drives the backoff)
  uint64_t faults_ = 0;
  uint64_t resume_attempts_ = 0;
};

// "writable", "storage-fault" or "resuming": the names in NodeStatus,
// /health and the metrics.
std::string_view StorageStateName(StorageGuard::State state);

}  // namespace coffer::replication
