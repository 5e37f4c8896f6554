// The node's audit log: its own sink, separate from the diagnostic log
// (quality.md: "a separate audit log, never a secret"). One JSON object per
// line (schema in docs/audit.md), appended to a file, fsync'd in batches by
// a writer thread (group commit), rotated by size.
//
// Contracts:
//  - Every string is escaped by the JSON encoder with ensure_ascii, so a line
//    is printable ASCII and holds no raw newline, CR, ESC or other control
//    character, whatever a client sent; invalid UTF-8 becomes U+FFFD.
//  - Each string field is cut to limits::kMaxAuditFieldBytes (at a UTF-8
//    boundary) and at most limits::kMaxAuditObjects object ids are kept; a
//    line that was cut says so under "truncated" (field -> original bytes).
//    So no line exceeds limits::kMaxAuditLineBytes.
//  - Durability bound: a line given to Append is written and fsync'd within
//    sync_interval (plus the time of the write and fsync itself), or when
//    Flush or the destructor returns. A crash may lose the lines of at most
//    the last sync_interval.
//  - The caller never passes secret material: AuditEvent has no field for it.
//  - Rotation: before a line would take the current file past
//    max_file_bytes, the file is renamed to FILE.1 (FILE.1 to FILE.2, ...) and
//    a new FILE begins; FILE.keep_files is the oldest kept, older ones are
//    deleted. Files are created 0600.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "node/config/config.h"

namespace coffer::node::audit {

struct AuditOptions {
  std::string file;  // the current file; rotated ones are FILE.1 .. FILE.keep_files
  std::string node;  // this node's name, in every line
  uint64_t max_file_bytes = 64ull << 20;
  int keep_files = 8;
  std::chrono::milliseconds sync_interval{50};
  const Clock* clock = nullptr;  // stamps each line; null: the system clock
};

// The options of a node's audit log from its [audit] config section.
AuditOptions AuditOptionsFor(const NodeConfig& config, const Clock* clock);

// What a line records besides time and node. No material, no payloads.
struct AuditEvent {
  std::string client;                // certificate subject CN
  std::string role;                  // certificate OU: admin, node, endpoint
  std::string op;                    // request kind name ("get+material", "create_key", ...)
  std::vector<std::string> objects;  // uuids or names the request names or made
  std::string code;                  // the response code ("OK", "PERMISSION_DENIED", ...)
  std::string request_id;
};

// The JSON line of `event` (with '\n'), as AuditLog writes it.
std::string AuditLine(const AuditEvent& event, std::string_view node, int64_t time_micros);

// "2026-11-30T01:02:03.123456Z": the "time" of a line (fixed width, so
// lines compare by time as strings).
std::string AuditTime(int64_t micros);

class AuditLog {
 public:
  // Creates the file's directory if needed, opens FILE for appending and
  // starts the writer thread. INVALID_ARGUMENT for bad options, UNAVAILABLE
  // if the file cannot be opened.
  static StatusOr<std::unique_ptr<AuditLog>> Open(AuditOptions options);

  // Queues the line of `event`. Thread-safe; does not wait for the disk
  // unless limits::kMaxAuditPendingBytes are already waiting (then it waits
  // for the writer, which frees them by writing or, on a write error, by
  // counting them lost).
  void Append(const AuditEvent& event);

  // Waits until every line appended before the call is written and synced
  // (or counted lost). The error of the last failed write or sync, if any.
  Status Flush();

  // Lines that could not be written (a write or sync failed); each failure
  // is also logged at error level in the node log (without the line).
  uint64_t lost_lines() const;

  // Flushes and stops the writer thread.
  ~AuditLog();

 private:
  explicit AuditLog(AuditOptions options);
  void WriterLoop();
  // Writer thread: writes `batch` (rotating as needed) and syncs.
  Status WriteBatch(const std::vector<std::string>& batch);
  Status Rotate();
  Status OpenCurrent();

  AuditOptions options_;
  SystemClock system_clock_;
  const Clock& clock_;

  mutable std::mutex mu_;
  std::condition_variable wake_writer_;  // lines waiting, flush asked, stopping
  std::condition_variable progress_;     // a batch is done
  std::vector<std::string> pending_;
  size_t pending_bytes_ = 0;
  uint64_t appended_ = 0;  // lines appended so far
  uint64_t done_ = 0;      // lines written and synced (or lost) so far
  uint64_t lost_ = 0;
  bool flush_asked_ = false;
  bool stopping_ = false;
  Status last_error_ = Status::Ok();

  // Writer thread only.
  int fd_ = -1;
  uint64_t file_bytes_ = 0;

  std::thread writer_;
};

}  // namespace coffer::node::audit
