// CPU and RSS of a set of processes over a measured window, read from
// /proc/PID/stat (utime + stime) and /proc/PID/status (VmRSS): what fills
// LoadResult::processes (load_result.h). Header-only; Linux only.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/load/load_result.h"

namespace coffer::bench {

// User + system CPU seconds the process has used so far; -1 if it is gone.
inline double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // The command name (field 2) may hold spaces; fields resume after its ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3..13 are skipped; 14 is utime, 15 stime (proc(5)).
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Resident set size in bytes (VmRSS); 0 if the process is gone.
inline uint64_t ProcessRssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // kB
  }
  return 0;
}

// Samples the given processes from Start() to Stop(): CPU is the difference
// between the two, RSS is read at both ends and every `interval` between
// (for the maximum). Start and Stop are called once each, from one thread.
class ProcessSampler {
 public:
  explicit ProcessSampler(std::vector<std::pair<std::string, pid_t>> processes,
                          std::chrono::milliseconds interval = std::chrono::milliseconds(100))
      : processes_(std::move(processes)), interval_(interval) {}
  ~ProcessSampler() { StopThread(); }

  void Start() {
    usage_.clear();
    cpu_start_.clear();
    for (const auto& [name, pid] : processes_) {
      ProcessUsage u;
      u.name = name;
      u.rss_start_bytes = u.rss_max_bytes = ProcessRssBytes(pid);
      usage_.push_back(u);
      cpu_start_.push_back(ProcessCpuSeconds(pid));
    }
    thread_ = std::thread([this] { SampleLoop(); });
  }

  std::vector<ProcessUsage> Stop() {
    StopThread();
    for (size_t i = 0; i < processes_.size(); ++i) {
      pid_t pid = processes_[i].second;
      double cpu = ProcessCpuSeconds(pid);
      usage_[i].cpu_seconds = (cpu >= 0 && cpu_start_[i] >= 0) ? cpu - cpu_start_[i] : 0;
      usage_[i].rss_end_bytes = ProcessRssBytes(pid);
      if (usage_[i].rss_end_bytes > usage_[i].rss_max_bytes) {
        usage_[i].rss_max_bytes = usage_[i].rss_end_bytes;
      }
    }
    return usage_;
  }

 private:
  void SampleLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      // Bounded wait: wakes every interval, or at once on Stop().
      cv_.wait_for(lock, interval_, [this] { return stop_; });
      for (size_t i = 0; i < processes_.size(); ++i) {
        uint64_t rss = ProcessRssBytes(processes_[i].second);
        if (rss > usage_[i].rss_max_bytes) usage_[i].rss_max_bytes = rss;
      }
    }
  }
  void StopThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::vector<std::pair<std::string, pid_t>> processes_;
  std::chrono::milliseconds interval_;
  std::vector<ProcessUsage> usage_;
  std::vector<double> cpu_start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace coffer::bench
