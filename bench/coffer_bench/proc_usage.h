// CPU time and resident memory of a process, read from /proc (Linux).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coffer::bench {

// User + system CPU seconds `pid` has used so far (/proc/PID/stat fields 14
// and 15); nullopt if the process is gone or unreadable.
std::optional<double> CpuSeconds(pid_t pid);
// Resident set size in bytes (VmRSS of /proc/PID/status); nullopt likewise.
std::optional<uint64_t> RssBytes(pid_t pid);

// RSS of each measured process over a run's window: a sample at the
// window's start, one every `interval`, and one at its end (so a run shows
// whether memory stays flat). `bytes[i]` belongs to LoadResult::processes[i].
struct RssTimeline {
  std::chrono::milliseconds interval{0};
  std::vector<std::vector<uint64_t>> bytes;
};

// The interval of a window of `window`: a tenth of it, at least 1 s (at
// most ~11 samples, e.g. every 60 s over 10 minutes).
std::chrono::milliseconds RssSampleInterval(std::chrono::milliseconds window);

// Parses the text of /proc/PID/stat: utime + stime in clock ticks (the
// command name may hold spaces and parentheses; fields count from the last
// ')'). nullopt if malformed.
std::optional<uint64_t> CpuTicksFromStat(const std::string& stat);

}  // namespace coffer::bench
