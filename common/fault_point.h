// Named fault points (architecture.md example 5), in the manner of RocksDB's
// TEST_SYNC_POINT and FoundationDB's BUGGIFY: a line of production code names
// a step,
//
//   if (COFFER_FAULT_POINT("replication.ack_before_peer_persisted")) { ...faulty path... }
//
// and a test arms that name to make the step fail, wait, crash the process or
// run a callback, at an exact hit:
//
//   fault::ScopedFaultPoint armed("group_commit.skip_fsync", {.action = fault::Action::kFail});
//
// Builds with the compile definition COFFER_FAULT_POINTS (CMake sets it for
// every build type but Release: dev and asan have it, so CI tests can arm
// points) evaluate the point against the registry; without it the macro is the
// constant `false` and the name is not even kept in the binary. An unarmed
// point costs one relaxed atomic load.
//
// Determinism: whether an armed point fires depends only on its arming and on
// how often it was hit (skip, times, and a probability drawn from a generator
// seeded by the arming), so a single-threaded simulation that hits points in
// the same order fires them the same way for the same seed.
//
// Threading: every function is thread-safe. A callback or a delay runs on the
// thread that hit the point, without the registry lock held.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace coffer::fault {

// What an armed point does when it fires.
enum class Action {
  kFail,      // the point evaluates to true: the code takes its faulty path
  kDelay,     // sleeps delay_micros, then evaluates to false
  kCrash,     // ends the process at once with kCrashExitCode (no destructors, no flush)
  kCallback,  // runs `callback`, then evaluates to its return value
};

// The exit code of a kCrash fault, so a harness can tell it from other exits.
inline constexpr int kCrashExitCode = 86;

struct Arming {
  Action action = Action::kFail;
  // Hits that pass before the point may fire. Default: 0.
  uint64_t skip = 0;
  // Fires at most this many times, then stays armed but quiet. Default: no limit.
  uint64_t times = std::numeric_limits<uint64_t>::max();
  // Each eligible hit fires with this chance, drawn from a generator seeded
  // with `seed` when the point is armed. Default: 1 (every eligible hit).
  double probability = 1.0;
  uint64_t seed = 0;
  // kDelay: how long. Default: 0.
  int64_t delay_micros = 0;
  // kCallback: runs on the hitting thread; its result is the point's value.
  std::function<bool()> callback{};
};

// The process-wide set of armed points, a global as RocksDB's SyncPoint is:
// the points sit deep in code that must not grow a parameter for tests. Tests arm through
// ScopedFaultPoint so nothing stays armed after the test.
class Registry {
 public:
  static Registry& Global();

  // Arms `name` (replacing an earlier arming of it, and zeroing its counts).
  void Arm(std::string_view name, Arming arming);
  void Disarm(std::string_view name);
  void DisarmAll();

  // Evaluates the point `name`: false unless it is armed and fires (see Action).
  bool Hit(std::string_view name);

  // How many times `name` was hit / fired since it was last armed (0 if it
  // was never armed). Hits are counted only while the point is armed.
  uint64_t hits(std::string_view name) const;
  uint64_t fires(std::string_view name) const;

 private:
  struct Point {
    Arming arming;
    std::mt19937_64 rng;
    uint64_t hits = 0;
    uint64_t fires = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Point, std::less<>> points_;  // guarded by mu_
  std::atomic<int> armed_{0};                         // points_.size(), read without mu_
};

// Arms a point for its lifetime; the destructor disarms it.
class ScopedFaultPoint {
 public:
  ScopedFaultPoint(std::string name, Arming arming);
  ~ScopedFaultPoint();
  ScopedFaultPoint(const ScopedFaultPoint&) = delete;
  ScopedFaultPoint& operator=(const ScopedFaultPoint&) = delete;

  uint64_t hits() const { return Registry::Global().hits(name_); }
  uint64_t fires() const { return Registry::Global().fires(name_); }

 private:
  std::string name_;
};

// The environment variable through which a harness plants bugs in a real
// node process (coffer-chaos R11): a comma-separated list of point names,
// each armed to fail at every hit for the life of the process.
inline constexpr const char* kArmEnvironmentVariable = "COFFER_FAULT_POINTS_ARM";

// Arms every name of `spec` ("a.b,c.d"; blanks around names ignored) with
// Action::kFail. Returns the names armed. INVALID_ARGUMENT (nothing armed)
// for an empty name or one over 128 bytes, more than 32 names, or any
// name in a build without fault points (a planted bug must never be
// silently absent).
StatusOr<std::vector<std::string>> ArmFromSpec(std::string_view spec);

// True if this build evaluates fault points (COFFER_FAULT_POINTS).
constexpr bool Enabled() {
#ifdef COFFER_FAULT_POINTS
  return true;
#else
  return false;
#endif
}

}  // namespace coffer::fault

#ifdef COFFER_FAULT_POINTS
#define COFFER_FAULT_POINT(name) (::coffer::fault::Registry::Global().Hit(name))
#else
#define COFFER_FAULT_POINT(name) false
#endif
