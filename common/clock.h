// Time sources. Everything that reads time takes a Clock& so tests and the
// simulation can drive time by hand; only node/ and main() create a SystemClock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace coffer {

// Thread-safe. Returns microseconds since the Unix epoch (wall time, may jump)
// and a monotonic reading for timeouts.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t WallMicros() const = 0;
  virtual int64_t MonotonicMicros() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t WallMicros() const override {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  }
  int64_t MonotonicMicros() const override {
    using namespace std::chrono;
    return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
  }
};

// A clock moved only by Advance()/SetWall(); for tests and simulation.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_micros = 1'700'000'000'000'000)
      : wall_(start_micros), mono_(0) {}
  int64_t WallMicros() const override { return wall_.load(); }
  int64_t MonotonicMicros() const override { return mono_.load(); }
  void Advance(int64_t micros) {
    wall_ += micros;
    mono_ += micros;
  }
  // Jumps wall time only (monotonic time never goes back).
  void SetWall(int64_t micros) { wall_ = micros; }

 private:
  std::atomic<int64_t> wall_;
  std::atomic<int64_t> mono_;
};

// The system clock with its wall time moved by an offset that a harness
// writes into a file (coffer-chaos R8 jumps one node's clock forward and
// back): the file holds a signed integer of microseconds ("" or missing: 0).
// Monotonic time is the system's, untouched. The file is read at most every
// 20 ms. Only a node started with COFFER_TEST_CLOCK_OFFSET_FILE in a build
// with fault points uses it (node/cli/node_cmd.cc).
class OffsetFileClock final : public Clock {
 public:
  explicit OffsetFileClock(std::string path) : path_(std::move(path)) {}
  int64_t WallMicros() const override { return system_.WallMicros() + Offset(); }
  int64_t MonotonicMicros() const override { return system_.MonotonicMicros(); }

 private:
  int64_t Offset() const;

  SystemClock system_;
  std::string path_;
  mutable std::atomic<int64_t> offset_{0};
  mutable std::atomic<int64_t> read_at_{-1};  // monotonic micros of the last read
};

inline constexpr const char* kClockOffsetFileVariable = "COFFER_TEST_CLOCK_OFFSET_FILE";

}  // namespace coffer
