// The record of one coffer-chaos run: every client operation (invoke, then
// ok, fail or unknown), every fault injected (a band in time), and samples of
// every node's state. Written as JSON lines into the report folder
// (history.jsonl, faults.jsonl, nodes.jsonl) and read back by `coffer-chaos
// report DIR` and the timeline renderer (timeline.h).
//
// Times are seconds since the start of the run (a steady clock), so a report
// never depends on the machine's wall clock (R8 moves a node's clock).
//
// Thread-safety: History is thread-safe (one mutex); the structs are values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace coffer::chaos {

// Limits of ReadFrom (and WriteTo, so that what is written reads back): a
// line longer than kMaxHistoryLineBytes or a file larger than
// kMaxHistoryFileBytes is refused with an error rather than read, so a
// corrupt or hostile report cannot exhaust memory.
inline constexpr size_t kMaxHistoryLineBytes = 64 * 1024;               // 64 KiB
inline constexpr uint64_t kMaxHistoryFileBytes = 256ull * 1024 * 1024;  // 256 MiB

// The three files of a report folder.
inline constexpr const char* kHistoryFile = "history.jsonl";
inline constexpr const char* kFaultsFile = "faults.jsonl";
inline constexpr const char* kNodesFile = "nodes.jsonl";

// What happened to an operation, as a client saw it (Jepsen's vocabulary):
// invoke when sent; then exactly one of ok (acknowledged), fail (refused:
// it did not happen) or unknown (its outcome could not be learned, e.g.
// OUTCOME_UNKNOWN or the connection broke after sending).
enum class EventType { kInvoke, kOk, kFail, kUnknown };

const char* EventTypeName(EventType type);
StatusOr<EventType> ParseEventType(const std::string& name);

struct OpEvent {
  double t = 0;    // seconds since the run started
  int client = 0;  // the client thread (0, 1, ...)
  std::string op;  // "register", "read", "claim", "activate", "revoke", "destroy"
  EventType type = EventType::kInvoke;
  std::string node;  // the node that answered ("" for invoke and transport errors)
  std::string code;  // "OK", "READ_ONLY_RESTRICTED", "OUTCOME_UNKNOWN", ...
  std::string request_id;
  std::string key;        // the object's uuid or the claimed name
  double latency_ms = 0;  // from invoke to this event (0 for invoke)
};

// A fault held over [start, end] (end == start for an instant fault like
// kill -9; end < 0 while it still holds).
struct FaultBand {
  double start = 0;
  double end = -1;
  std::string scenario;            // "R1"
  std::string fault;               // "kill -9 node3", "cut node1<->node2"
  std::vector<std::string> nodes;  // the nodes it touched
};

// One sample of one node: its state and mode as it answered, or "down"
// (not running), "stopped" (SIGSTOP) or "unreachable" (running, no answer).
struct NodeSample {
  double t = 0;
  std::string node;
  std::string state;  // ACTIVE, DISABLED, ... or down/stopped/unreachable
  std::string mode;   // read-write, restricted, read-only, unavailable, or ""
};

class History {
 public:
  History() : start_(std::chrono::steady_clock::now()) {}
  // Copies take a snapshot of the records (under the other's lock) and keep
  // its start, so Now() of the copy counts from the same instant.
  History(const History& other);
  History& operator=(const History& other);

  // Seconds since this History was made.
  double Now() const;

  void Add(OpEvent event);
  // Returns the index of the band, for EndFault.
  size_t BeginFault(FaultBand band);
  // Sets the band's end to Now(); an index that BeginFault did not return is
  // ignored.
  void EndFault(size_t index);
  void AddSample(NodeSample sample);

  std::vector<OpEvent> ops() const;
  std::vector<FaultBand> faults() const;
  std::vector<NodeSample> samples() const;

  // Writes history.jsonl, faults.jsonl and nodes.jsonl into `dir` (which must
  // exist), one JSON object per line, each file through a temporary file and
  // a rename. Non-finite numbers are written as 0 (JSON has none); invalid
  // UTF-8 in a string is replaced by U+FFFD. A record whose line would exceed
  // kMaxHistoryLineBytes is refused (INVALID_ARGUMENT naming it).
  Status WriteTo(const std::string& dir) const;
  // Reads what WriteTo wrote; a missing or malformed file is an error naming
  // the file and line ("DIR/history.jsonl:3: key \"t\" is missing"):
  // NOT_FOUND for a missing file, RESOURCE_EXHAUSTED over the limits above,
  // INVALID_ARGUMENT for bad JSON, a missing key or a wrong type. Blank lines
  // are skipped and unknown keys ignored. The History read has its start at
  // the call; its records keep their times.
  static StatusOr<History> ReadFrom(const std::string& dir);

 private:
  std::chrono::steady_clock::time_point start_;
  mutable std::mutex mu_;
  std::vector<OpEvent> ops_;
  std::vector<FaultBand> faults_;
  std::vector<NodeSample> samples_;
};

}  // namespace coffer::chaos
