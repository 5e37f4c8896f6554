// Loopback ports and small file helpers for anything that starts real node
// processes: the integration tests (node_process.h) and coffer-bench
// (bench/coffer_bench/). No gtest here, so non-test binaries can include it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace coffer::integration {

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteWholeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// A loopback port held for this test process: a socket bound to
// 127.0.0.1:port with SO_REUSEADDR, never listening. While it is held,
// another test process's ReservePort cannot pick the same port (its bind,
// without SO_REUSEADDR, fails), yet the node this port is for can bind and
// listen on it (it sets SO_REUSEADDR too, and the holder does not listen).
// Without the hold, two test processes running at once (ctest -j) could
// pick the same port between one's check and its node's bind.
class PortHold {
 public:
  PortHold() = default;
  PortHold(int fd, uint16_t port) : fd_(fd), port_(port) {}
  PortHold(PortHold&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), port_(std::exchange(other.port_, 0)) {}
  PortHold& operator=(PortHold&& other) noexcept {
    if (this != &other) {
      Release();
      fd_ = std::exchange(other.fd_, -1);
      port_ = std::exchange(other.port_, 0);
    }
    return *this;
  }
  ~PortHold() { Release(); }
  uint16_t port() const { return port_; }

 private:
  void Release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  uint16_t port_ = 0;
};

// Picks a free loopback port, outside the kernel's ephemeral range, so an
// outgoing connection (whose local port comes from that range) can never be
// holding it when a node binds it, or binds it again after a restart; and
// holds it (PortHold) until the returned hold is destroyed. A collision with
// anything that ignores holds makes Start() fail loudly, never silently pass.
inline PortHold ReservePort() {
  unsigned ephemeral_low = 32768;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    unsigned low = 0, high = 0;
    if (std::fscanf(f, "%u %u", &low, &high) == 2 && low > 12000) ephemeral_low = low;
    std::fclose(f);
  }
  static std::mt19937 pick(
      static_cast<unsigned>(::getpid()) * 2654435761u ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  for (int attempt = 0; attempt < 2000; ++attempt) {
    auto port = static_cast<uint16_t>(10000 + pick() % (ephemeral_low - 10000));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Probe without SO_REUSEADDR: fails while anyone (a node, or another
    // process's hold) has the port.
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd);
      continue;
    }
    // Bound; now mark it reusable so the node can bind beside the hold.
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    return PortHold(fd, port);
  }
  return PortHold();  // port 0: the node's bind fails loudly
}

// A port held for the rest of this test process (for ports a test passes to
// NodeProcessOptions or to a proxy itself).
inline uint16_t FreePort() {
  static std::mutex mu;
  static std::vector<PortHold> held;
  PortHold hold = ReservePort();
  uint16_t port = hold.port();
  std::lock_guard<std::mutex> lock(mu);
  held.push_back(std::move(hold));
  return port;
}

}  // namespace coffer::integration
