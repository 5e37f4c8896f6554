// Where a name given to a newly created entity stands (semantics 4.3, 4.5),
// for the create commands: in a cluster the name is PENDING until
// replication confirms it, and a concurrent creation of the same name on
// another pair may still take it. `--wait DURATION` polls until it is
// confirmed, lost or the duration is over.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/status.h"
#include "node/cli/cli_output.h"

namespace coffer::node::cli {

enum class NameState {
  kPending,  // not yet confirmed: a concurrent claim may still take it
  kActive,   // confirmed: final everywhere (semantics 4.5)
  kLost,     // a concurrent creation kept it; the entity has a generated name
};

// "PENDING", "ACTIVE" or "LOST" (the `name_state` of `-o json`).
std::string NameStateName(NameState state);

// What one node shows of the created entity.
struct NameView {
  std::string name;        // its effective (unique) name
  bool confirmed = false;  // the node shows it ACTIVE
};

// The decision from one view: LOST if the effective name is not the
// supplied one (it carries the generated name, and `conflict list` shows
// it); else ACTIVE if confirmed; else PENDING. LOST is checked first: a
// losing entity is confirmed too once replication covers it.
NameState DecideName(const std::string& supplied, const NameView& view);

// What the command reports: the outcome and what it prints.
struct NameReport {
  int exit_code = 0;
  std::string out;  // stdout: the uuid, then the verdict (or one JSON document)
  std::string err;  // stderr: the error line of a lost name
};

// The report of `kind` ("wallet") `uuid` created as `supplied`, in state
// `state` (effective name `name`), after waiting `waited` (0: no --wait).
//   ACTIVE  -> exit 0, "name 'X' confirmed".
//   PENDING -> without --wait exit 0, with how to check and to wait; with
//              --wait exit 2 (kExitDegraded, "not yet"), "still PENDING after".
//   LOST    -> exit 1 with ALREADY_EXISTS (as when the name was already
//              taken), naming the generated name, `coffer conflict list` and
//              `conflict accept|rename`.
// JSON: {"uuid", "name_state", "name" (the supplied name), "generated_name"
// (the name the entity carries, only when LOST)} with the same exit codes.
NameReport RenderNameReport(const std::string& kind, const std::string& uuid,
                            const std::string& supplied, NameState state, const std::string& name,
                            std::chrono::milliseconds waited, OutputFormat format);

// Parses a --wait DURATION: a whole number with unit ms, s or m ("10s",
// "500ms", "2m"); "0" alone is allowed. INVALID_ARGUMENT otherwise.
StatusOr<std::chrono::milliseconds> ParseWait(const std::string& text);

// Asks a node for the entity's view. NOT_FOUND (the node asked has not
// applied the creation yet) and UNAVAILABLE count as "still pending".
using NameProbe = std::function<StatusOr<NameView>()>;

struct NameWait {
  NameState state = NameState::kPending;
  std::string name;  // the effective name last seen
};

// Probes once, then every `poll` until the name is ACTIVE or LOST or `wait`
// is over. Another error of the probe is returned.
StatusOr<NameWait> WaitForName(const std::string& supplied, const NameProbe& probe,
                               std::chrono::milliseconds wait,
                               std::chrono::milliseconds poll = std::chrono::milliseconds(200));

}  // namespace coffer::node::cli
