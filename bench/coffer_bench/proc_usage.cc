#include "bench/coffer_bench/proc_usage.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace coffer::bench {
namespace {

std::optional<std::string> ReadProc(pid_t pid, const char* file) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

std::optional<uint64_t> CpuTicksFromStat(const std::string& stat) {
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(close + 1));
  // After the command: field 3 (state) ... field 14 utime, 15 stime.
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int index = 3; index <= 15; ++index) {
    if (!(in >> field)) return std::nullopt;
    if (index == 14 || index == 15) {
      char* end = nullptr;
      const uint64_t value = std::strtoull(field.c_str(), &end, 10);
      if (end == field.c_str() || *end != '\0') return std::nullopt;
      (index == 14 ? utime : stime) = value;
    }
  }
  return utime + stime;
}

std::optional<double> CpuSeconds(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto stat = ReadProc(pid, "stat");
  if (!stat) return std::nullopt;
  auto ticks = CpuTicksFromStat(*stat);
  if (!ticks) return std::nullopt;
  const long hz = ::sysconf(_SC_CLK_TCK);
  return static_cast<double>(*ticks) / static_cast<double>(hz > 0 ? hz : 100);
}

std::optional<uint64_t> RssBytes(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto status = ReadProc(pid, "status");
  if (!status) return std::nullopt;
  const size_t at = status->find("VmRSS:");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(status->c_str() + at + 6, nullptr, 10) * 1024;
}

std::chrono::milliseconds RssSampleInterval(std::chrono::milliseconds window) {
  return std::max<std::chrono::milliseconds>(window / 10, std::chrono::seconds(1));
}

}  // namespace coffer::bench
