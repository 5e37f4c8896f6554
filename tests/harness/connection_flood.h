// ConnectionFlood: what an attacker without credentials does to a listener:
// holds many plain TCP connections open to one port, from several loopback
// source addresses, sending nothing (or only the first bytes of something,
// e.g. half a TLS record), and reopens every connection the server closes,
// on a thread of its own until stopped. Everything is bounded: the number of
// connections, the reopening rate, and the run time.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace coffer::integration {

// Raises this process's soft RLIMIT_NOFILE to at least `wanted` (up to the
// hard limit). Returns the soft limit now in force.
inline rlim_t RaiseOpenFileLimit(rlim_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = std::min(wanted, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

struct ConnectionFloodOptions {
  // The target: 127.0.0.1:port.
  uint16_t port = 0;
  // Connections held open at once.
  int connections = 2000;
  // Loopback source addresses, used in turn.
  std::vector<std::string> sources = {"127.0.0.2"};
  // Sent once on every `first_bytes_every`-th connection right after it
  // connects (0: never), then nothing more.
  std::string first_bytes;
  int first_bytes_every = 0;
  // Closed connections reopened per 10 ms round, at most.
  int max_reopen_per_round = 50;
  // The flood stops by itself after this long.
  std::chrono::milliseconds max_duration{60000};
};

class ConnectionFlood {
 public:
  explicit ConnectionFlood(ConnectionFloodOptions options) : options_(std::move(options)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ConnectionFlood() { Stop(); }
  ConnectionFlood(const ConnectionFlood&) = delete;
  ConnectionFlood& operator=(const ConnectionFlood&) = delete;

  // Closes every connection and joins the thread. Idempotent.
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // Connections that completed the TCP handshake, in all.
  uint64_t connected() const { return connected_.load(); }
  // Connections the server closed (EOF or reset), in all.
  uint64_t closed_by_server() const { return closed_by_server_.load(); }
  // Connections open right now (connected, not closed).
  int open_now() const { return open_now_.load(); }

 private:
  enum class SlotState { kEmpty, kConnecting, kOpen };
  struct Slot {
    int fd = -1;
    SlotState state = SlotState::kEmpty;
  };

  // Starts a non-blocking connect for slot `i` from its source address.
  void Open(std::vector<Slot>& slots, int i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    const std::string& source = options_.sources[i % options_.sources.size()];
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(options_.port);
    remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
        (::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0 &&
         errno != EINPROGRESS)) {
      ::close(fd);
      return;
    }
    slots[i] = {fd, SlotState::kConnecting};
  }

  void Drop(Slot& slot) {
    if (slot.state == SlotState::kOpen) --open_now_;
    ::close(slot.fd);
    slot = {};
  }

  void Run() {
    const auto end = std::chrono::steady_clock::now() + options_.max_duration;
    std::vector<Slot> slots(options_.connections);
    std::vector<pollfd> fds;
    std::vector<int> index;
    while (!stop_ && std::chrono::steady_clock::now() < end) {
      int reopened = 0;
      for (int i = 0; i < options_.connections && reopened < options_.max_reopen_per_round; ++i) {
        if (slots[i].state == SlotState::kEmpty) {
          Open(slots, i);
          ++reopened;
        }
      }
      fds.clear();
      index.clear();
      for (int i = 0; i < options_.connections; ++i) {
        if (slots[i].state == SlotState::kEmpty) continue;
        short events = slots[i].state == SlotState::kConnecting ? POLLOUT : POLLIN;
        fds.push_back({slots[i].fd, events, 0});
        index.push_back(i);
      }
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      for (size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents == 0) continue;
        Slot& slot = slots[index[k]];
        if (slot.state == SlotState::kConnecting) {
          int error = 0;
          socklen_t length = sizeof(error);
          getsockopt(slot.fd, SOL_SOCKET, SO_ERROR, &error, &length);
          if (error != 0) {
            Drop(slot);
            continue;
          }
          slot.state = SlotState::kOpen;
          ++open_now_;
          ++connected_;
          if (options_.first_bytes_every > 0 && index[k] % options_.first_bytes_every == 0) {
            (void)::send(slot.fd, options_.first_bytes.data(), options_.first_bytes.size(),
                         MSG_NOSIGNAL);
          }
          continue;
        }
        char buffer[4096];
        ssize_t n = ::recv(slot.fd, buffer, sizeof(buffer), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          ++closed_by_server_;
          Drop(slot);
        }
      }
    }
    for (Slot& slot : slots) {
      if (slot.state != SlotState::kEmpty) Drop(slot);
    }
  }

  const ConnectionFloodOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> connected_{0};
  std::atomic<uint64_t> closed_by_server_{0};
  std::atomic<int> open_now_{0};
  std::thread thread_;
};

}  // namespace coffer::integration
