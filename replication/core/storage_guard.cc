#include "replication/core/storage_guard.h"

#include <algorithm>

namespace coffer::replication {

int64_t StorageGuard::RetryDelay() const {
  int64_t delay = options_.first_retry_micros;
  for (int i = 0; i < failures_ && delay < options_.max_retry_micros; ++i) delay *= 2;
  return std::min(delay, options_.max_retry_micros);
}

StorageGuard::Step StorageGuard::Observe(const Status& fault, int64_t now_micros) {
  switch (state_) {
    case State::kWritable:
      if (fault.ok()) return Step::kNone;
      state_ = State::kFault;
      fault_ = fault;
      fault_since_ = now_micros;
      ++faults_;
      // A fault soon after a recovery continues the backoff; a fault after
      // a stable stretch starts it again.
      if (recovered_at_ < 0 || now_micros - recovered_at_ >= options_.stable_micros) failures_ = 0;
      next_attempt_ = now_micros + RetryDelay();
      return Step::kFaulted;
    case State::kFault:
      if (!fault.ok()) fault_ = fault;
      // A store that reports no fault (e.g. reopened) still goes through a
      // resume: it decides, and it is cheap when there is nothing to do.
      return now_micros >= next_attempt_ ? Step::kResume : Step::kNone;
    case State::kResuming:
      return Step::kNone;
  }
  return Step::kNone;
}

void StorageGuard::ResumeStarted(int64_t) {
  if (state_ != State::kFault) return;
  state_ = State::kResuming;
  ++resume_attempts_;
}

bool StorageGuard::ResumeDone(const Status& result, int64_t now_micros) {
  if (state_ != State::kResuming) return false;
  if (result.ok()) {
    state_ = State::kWritable;
    fault_ = Status::Ok();
    fault_since_ = 0;
    recovered_at_ = now_micros;
    return true;
  }
  state_ = State::kFault;
  fault_ = result;
  ++failures_;
  next_attempt_ = now_micros + RetryDelay();
  return false;
}

Status StorageGuard::CheckWrite() const {
  if (state_ == State::kWritable) return Status::Ok();
  Code code =
      fault_.code() == Code::kResourceExhausted ? Code::kResourceExhausted : Code::kUnavailable;
  return Status(code, "storage fault on this node (" + fault_.message() +
                          "): writes are refused and reads served until the store can write "
                          "again, which the node retries by itself");
}

std::string_view StorageStateName(StorageGuard::State state) {
  switch (state) {
    case StorageGuard::State::kWritable:
      return "writable";
    case StorageGuard::State::kFault:
      return "storage-fault";
    case StorageGuard::State::kResuming:
      return "resuming";
  }
  return "storage-fault";
}

}  // namespace coffer::replication
