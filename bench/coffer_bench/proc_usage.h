// CPU time and resident memory of a process, read from /proc (Linux).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace coffer::bench {

// User + system CPU seconds `pid` has used so far (/proc/PID/stat fields 14
// and 15); nullopt if the process is gone or unreadable.
std::optional<double> CpuSeconds(pid_t pid);
// Resident set size in bytes (VmRSS of /proc/PID/status); nullopt likewise.
std::optional<uint64_t> RssBytes(pid_t pid);

// Parses the text of /proc/PID/stat: utime + stime in clock ticks (the
// command name may hold spaces and parentheses; fields count from the last
// ')'). nullopt if malformed.
std::optional<uint64_t> CpuTicksFromStat(const std::string& stat);

}  // namespace coffer::bench
