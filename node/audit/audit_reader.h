// Reading a node's audit files back (`coffer audit tail|search`): the
// current file and its rotated ones, line by line, each line parsed as the
// JSON object AuditLog wrote. Local files only: the reader needs read access
// to the node's audit directory (docs/audit.md says why).
//
// A line that is not a JSON object, or longer than
// limits::kMaxAuditReadLineBytes, is passed to `bad` (file, line number,
// reason) and skipped; a reader never stops on one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace coffer::node::audit {

// A line as read back: its keys in the order AuditLog wrote them.
using AuditJson = nlohmann::ordered_json;
using BadLineFn =
    std::function<void(const std::string& file, uint64_t line, const std::string& why)>;
using LineFn = std::function<void(const AuditJson& line)>;

// The files of the audit log whose current file is `file`, oldest first:
// FILE.N, ..., FILE.1, FILE (those that exist).
std::vector<std::string> AuditFiles(const std::string& file);

// What `coffer audit search` selects; empty members select everything.
struct AuditFilter {
  std::string op;          // the op, or the op before "+" ("get" matches "get+material")
  std::string client;      // certificate CN, exact
  std::string code;        // response code, exact (case-insensitive)
  std::string uuid;        // one of the line's object ids, exact
  std::string request_id;  // exact
  std::string since;       // AuditTime text or a prefix of it: lines at or after it
  std::string until;       // lines before it
};
bool Matches(const AuditJson& line, const AuditFilter& filter);

// "2026-11-30", "2026-11-30T01:02:03Z", ... as they are (a prefix of an
// AuditTime); "15m", "2h", "3d", "30s" as that long before `now_micros`.
// INVALID_ARGUMENT otherwise.
StatusOr<std::string> ParseAuditSince(const std::string& text, int64_t now_micros);

// Every line of every file, oldest first. NOT_FOUND if the current file
// does not exist.
Status ScanAuditLog(const std::string& file, const LineFn& each, const BadLineFn& bad);

// The last `n` lines, oldest first, reading the newest files only as far
// back as needed.
StatusOr<std::vector<AuditJson>> TailAuditLog(const std::string& file, size_t n,
                                              const BadLineFn& bad);

// `tail --follow`: the lines appended to the current file after Start, in
// order, across rotations (when FILE is renamed to FILE.1 the rest of the old
// file is read, then the new FILE from its start).
class AuditFollower {
 public:
  explicit AuditFollower(std::string file);
  ~AuditFollower();
  AuditFollower(const AuditFollower&) = delete;
  AuditFollower& operator=(const AuditFollower&) = delete;
  // Opens the current file at its end.
  Status Start();
  // Reads what was appended since the last call; calls `each` per whole line.
  Status Poll(const LineFn& each, const BadLineFn& bad);

 private:
  Status ReadAvailable(const LineFn& each, const BadLineFn& bad);
  std::string file_;
  int fd_ = -1;
  ino_t inode_ = 0;
  std::string partial_;  // bytes after the last newline read
  uint64_t line_number_ = 0;
  bool skipping_long_line_ = false;
};

}  // namespace coffer::node::audit
