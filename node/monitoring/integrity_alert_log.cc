#include "node/monitoring/integrity_alert_log.h"

#include <spdlog/spdlog.h>

namespace coffer::node {

void IntegrityAlertLog::Report(const replication::IntegrityAlert& alert, int64_t now_micros) {
  if (now_micros - window_start_ >= 1'000'000) {
    window_start_ = now_micros;
    lines_in_window_ = 0;
  }
  if (lines_in_window_ >= kLinesPerSecond) {
    ++suppressed_;
    return;
  }
  ++lines_in_window_;
  if (suppressed_ > 0) {
    spdlog::warn("{}: {} (and {} more not logged)", kind_, alert.ToString(), suppressed_);
    suppressed_ = 0;
  } else {
    spdlog::warn("{}: {}", kind_, alert.ToString());
  }
}

}  // namespace coffer::node
