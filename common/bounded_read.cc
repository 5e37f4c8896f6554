#include "common/bounded_read.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace coffer {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status TooLarge(const std::string& name, size_t max_bytes) {
  return InvalidArgument(name + " is larger than the limit of " + std::to_string(max_bytes) +
                         " bytes");
}

}  // namespace

StatusOr<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes,
                                      std::string_view what, std::chrono::milliseconds wait) {
  const std::string name = std::string(what) + " '" + path + "'";
  if (path.empty()) return InvalidArgument(std::string(what) + " is not set");
  const auto deadline = std::chrono::steady_clock::now() + wait;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return NotFound(name + " does not exist");
    if (err == EACCES || err == EPERM) return PermissionDenied(name + ": " + std::strerror(err));
    return Unavailable(name + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Unavailable(name + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return InvalidArgument(name + " is a directory");
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) {
    return TooLarge(name, max_bytes);
  }
  std::string data;
  char buffer[64 * 1024];
  // The buffer may hold a passphrase or a key: wiped however the read ends.
  struct Wipe {
    char* p;
    size_t n;
    ~Wipe() { explicit_bzero(p, n); }
  } wipe{buffer, sizeof buffer};
  // Each round reads data (at most max_bytes + 1 in all), ends at EOF, or
  // waits for data until the deadline: the loop is bounded.
  while (true) {
    const size_t room = std::min(sizeof buffer, max_bytes + 1 - data.size());
    ssize_t n = ::read(fd.get(), buffer, room);
    if (n > 0) {
      data.append(buffer, static_cast<size_t>(n));
      if (data.size() > max_bytes) return TooLarge(name, max_bytes);
      continue;
    }
    if (n == 0) {
      // EOF. A FIFO no writer has opened yet also reads as EOF: wait for one
      // (poll reports nothing until a writer comes and writes or leaves).
      if (!S_ISFIFO(st.st_mode) || !data.empty()) break;
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      int err = errno;
      if (err == EISDIR) return InvalidArgument(name + " is a directory");
      return Unavailable("error reading " + name + ": " + std::strerror(err));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Unavailable("nothing to read from " + name + " within " +
                         std::to_string(wait.count()) + " ms (is anything writing to it?)");
    }
    pollfd p{fd.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1'000'000)));
    if (ready < 0 && errno != EINTR) return Unavailable(name + ": " + std::strerror(errno));
    if (ready > 0 && (p.revents & POLLHUP) != 0 && (p.revents & POLLIN) == 0) {
      // A writer came and left without writing: an empty FIFO.
      ssize_t last = ::read(fd.get(), buffer, 1);
      if (last <= 0) break;
      data.append(buffer, 1);
    }
  }
  return data;
}

}  // namespace coffer
