#include "tests/chaos/reaper.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace coffer::chaos::reaper {
namespace {

constexpr size_t kPathBytes = 512;

struct Slot {
  std::atomic<pid_t> pid{0};
  std::atomic<pid_t> thaw_pid{0};
  // A path is written while `*_set` is false, then published by setting it.
  std::atomic<bool> pid_file_set{false};
  char pid_file[kPathBytes] = {};
  std::atomic<bool> mount_set{false};
  char mount[kPathBytes] = {};
};

Slot slots[kSlots];

void Publish(std::atomic<bool>& set, char* to, const std::string& path) {
  set.store(false);
  if (path.empty() || path.size() >= kPathBytes) return;
  std::memcpy(to, path.c_str(), path.size() + 1);
  set.store(true);
}

// Reads a decimal pid from `path` (async-signal-safe); 0 if none.
pid_t ReadPid(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[32];
  ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  pid_t pid = 0;
  for (ssize_t i = 0; i < n && text[i] >= '0' && text[i] <= '9'; ++i)
    pid = pid * 10 + (text[i] - '0');
  return pid;
}

void OnSignal(int signal) {
  for (auto& slot : slots) {
    if (pid_t pid = slot.pid.load(); pid > 0) ::kill(pid, SIGKILL);
    if (pid_t pid = slot.thaw_pid.load(); pid > 0) ::kill(pid, SIGCONT);
    if (slot.pid_file_set.load()) {
      if (pid_t pid = ReadPid(slot.pid_file); pid > 0) ::kill(pid, SIGKILL);
    }
  }
  for (auto& slot : slots) {
    if (slot.mount_set.load()) ::umount2(slot.mount, MNT_DETACH);
  }
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

}  // namespace

void Install() {
  ::signal(SIGINT, OnSignal);
  ::signal(SIGTERM, OnSignal);
}

void SetPid(int slot, pid_t pid) {
  if (slot >= 0 && slot < kSlots) slots[slot].pid.store(pid);
}

void SetPidFile(int slot, const std::string& path) {
  if (slot >= 0 && slot < kSlots) Publish(slots[slot].pid_file_set, slots[slot].pid_file, path);
}

void SetThawPid(int slot, pid_t pid) {
  if (slot >= 0 && slot < kSlots) slots[slot].thaw_pid.store(pid);
}

void SetMount(int slot, const std::string& path) {
  if (slot >= 0 && slot < kSlots) Publish(slots[slot].mount_set, slots[slot].mount, path);
}

}  // namespace coffer::chaos::reaper
