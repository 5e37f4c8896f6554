// The rolling upgrade's per-node steps, without I/O (semantics.md section 7,
// upgrade/orchestrator/README.md). Given the persisted plan and a fresh
// observation, Next returns one action to perform and the plan to persist
// once it has succeeded. The driver (node/orchestrator/, or the simulation)
// observes, asks, performs, persists, and asks again.
//
// Crash safety: a node's `step` is the first step not known to be done, and
// every step first checks whether reality already shows it done (DISABLE:
// the node is DISABLING or DISABLED; STOP: no process; SWAP: the plan's
// binary installed; START: a process runs). So an orchestrator killed
// between an action and its persist repeats nothing when it resumes: it
// observes, finds the action done, and persists the next step. The plan
// stops a node only in STOP, which finds a stopped node done, and in SWAP
// when STOP found it stopped (crashed) but it runs again (its supervisor
// restarted it): no node is restarted twice by one plan (one the plan
// stopped that runs again before its swap pauses the plan).
//
// Safety: one node at a time, in plan order (read-only nodes first); a
// read-write node is disabled only while its pair peer is ACTIVE and
// reachable, so one node of every pair takes writes throughout.
//
// Every wait has a timeout whose outcome is PAUSED, naming the check, the
// node, the step and what was observed. A wait that sees progress (the
// node catching up: fewer records left to apply than ever seen) starts its
// timeout again.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "proto/records.pb.h"
#include "upgrade/orchestrator/observation.h"

namespace coffer::upgrade {

struct StepOptions {
  // How long each wait may go without progress before the plan pauses.
  int64_t wait_disabled_micros = 120'000'000;  // Default: 2 min
  int64_t wait_started_micros = 60'000'000;    // reachable after start. Default: 1 min
  int64_t wait_active_micros = 120'000'000;    // Default: 2 min
  int64_t wait_canary_micros = 30'000'000;     // Default: 30 s
  int64_t wait_release_micros = 30'000'000;    // Default: 30 s
  int64_t wait_peer_micros = 60'000'000;       // pair peer ACTIVE before disable. Default: 1 min
  // The orchestrator's lease: renewed by every write, at least every third
  // of it. Default: 10 s.
  int64_t lease_micros = 10'000'000;

  // These options with every wait set to `wait_micros` (`--step-timeout`).
  static StepOptions EveryWait(int64_t wait_micros) {
    StepOptions o;
    o.wait_disabled_micros = o.wait_started_micros = o.wait_active_micros = wait_micros;
    o.wait_canary_micros = o.wait_release_micros = o.wait_peer_micros = wait_micros;
    return o;
  }
};

enum class Action {
  kWait,      // nothing to do now; observe again after a poll interval
  kPersist,   // only write the plan (through `persist_via` if set)
  kDisable,   // ask DISABLING for `node_id` (carrying the plan id)
  kStop,      // stop `node_id`'s process
  kSwap,      // install `binary` for `node_id`, keeping the old one
  kStart,     // start `node_id`'s process with its installed binary
  kEnable,    // ask `node_id` itself to enable (ENABLING)
  kFinished,  // the plan left RUNNING/ROLLING_BACK: the driver stops
};

struct Decision {
  Action action = Action::kWait;
  uint32_t node_id = 0;
  std::string binary;  // kSwap
  // Written after the action succeeded (for kPersist: the action). Its
  // revision is one above the plan given to Next.
  std::optional<pb::UpgradePlan> persist;
  uint32_t persist_via = 0;  // write the plan through this node (0: any)
  std::string waiting_for;   // what a kWait waits on, for progress lines
};

const char* ActionName(Action action);

class Stepper {
 public:
  explicit Stepper(StepOptions options = {}) : options_(options) {}

  // The next action for `plan` (RUNNING or ROLLING_BACK; anything else
  // gives kFinished) given `observation`. Remembers each node's smallest
  // gap (records left to apply) to notice progress during waits.
  Decision Next(const pb::UpgradePlan& plan, const ClusterObservation& observation);

  const StepOptions& options() const { return options_; }

 private:
  StepOptions options_;
  // node id -> (smallest gap seen, when it was seen)
  std::map<uint32_t, std::pair<uint64_t, int64_t>> progress_;
};

// The plan one revision on: revision + 1, updated now, lease renewed.
pb::UpgradePlan NextRevision(const pb::UpgradePlan& plan, int64_t now_micros, int64_t lease_micros);

}  // namespace coffer::upgrade
