// Integrity alerts in the node log: one warn line per refused record
// (replication::IntegrityAlert: origin, seq, the node that sent it, why), at
// most kLinesPerSecond a second; the lines a flood would add are counted and
// said in the next line written. The count in /metrics and `cluster status`
// is exact (replication::Replicator::integrity_alerts).
#pragma once

#include <cstdint>

#include "replication/replicator.h"

namespace coffer::node {

class IntegrityAlertLog {
 public:
  static constexpr int kLinesPerSecond = 10;
  // `kind` starts each line ("integrity alert", "clock refusal").
  explicit IntegrityAlertLog(std::string kind = "integrity alert") : kind_(std::move(kind)) {}
  // Called on the store thread for every alert; `now_micros` is monotonic.
  void Report(const replication::IntegrityAlert& alert, int64_t now_micros);

 private:
  int64_t window_start_ = 0;
  int lines_in_window_ = 0;
  uint64_t suppressed_ = 0;
  std::string kind_;
};

}  // namespace coffer::node
