#include "node/audit/audit_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <filesystem>

#include "common/limits.h"
#include "node/audit/audit_log.h"

namespace coffer::node::audit {

namespace {

constexpr size_t kReadChunk = 64 * 1024;

// Splits what `read` returns into lines. A line longer than
// kMaxAuditReadLineBytes is reported (once) and skipped up to its newline.
class LineSplitter {
 public:
  LineSplitter(std::string file, const LineFn& each, const BadLineFn& bad, uint64_t* line_number,
               std::string* partial, bool* skipping)
      : file_(std::move(file)),
        each_(each),
        bad_(bad),
        line_number_(*line_number),
        partial_(*partial),
        skipping_(*skipping) {}

  void Feed(std::string_view data) {
    while (!data.empty()) {
      size_t newline = data.find('\n');
      std::string_view piece = data.substr(0, newline);
      if (!skipping_) {
        if (partial_.size() + piece.size() > limits::kMaxAuditReadLineBytes) {
          ++line_number_;
          bad_(file_, line_number_,
               "longer than " + std::to_string(limits::kMaxAuditReadLineBytes) + " bytes");
          partial_.clear();
          skipping_ = true;
        } else {
          partial_.append(piece);
        }
      }
      if (newline == std::string_view::npos) return;
      if (skipping_) {
        skipping_ = false;
      } else {
        ++line_number_;
        Emit(partial_);
        partial_.clear();
      }
      data.remove_prefix(newline + 1);
    }
  }

 private:
  void Emit(const std::string& text) {
    AuditJson parsed = AuditJson::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      bad_(file_, line_number_, "not a JSON object");
      return;
    }
    each_(parsed);
  }
  std::string file_;
  const LineFn& each_;
  const BadLineFn& bad_;
  uint64_t& line_number_;
  std::string& partial_;
  bool& skipping_;
};

// An errno from opening, positioning or reading an audit file, as a Status.
Status ReaderErrnoStatus(const std::string& what) {
  if (errno == ENOENT) return NotFound(what + ": no such file");
  if (errno == EACCES) return PermissionDenied(what + ": permission denied");
  return Unavailable(what + ": " + std::strerror(errno));
}

// Every whole line of `path`, in order (a last line without its newline,
// one being written, is left out).
Status ReadLines(const std::string& path, const LineFn& each, const BadLineFn& bad) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ReaderErrnoStatus("audit file '" + path + "'");
  uint64_t line_number = 0;
  std::string partial;
  bool skipping = false;
  LineSplitter splitter(path, each, bad, &line_number, &partial, &skipping);
  std::string buf(kReadChunk, '\0');
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status error = ReaderErrnoStatus("reading audit file '" + path + "'");
      ::close(fd);
      return error;
    }
    if (n == 0) break;
    splitter.Feed(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return Status::Ok();
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string StringAt(const AuditJson& line, const char* key) {
  auto it = line.find(key);
  return it != line.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::vector<std::string> AuditFiles(const std::string& file) {
  std::vector<std::string> files;
  std::error_code ec;
  // Rotated files are numbered without gaps from 1 (AuditLog::Rotate).
  for (int n = 1; n <= 1000 && std::filesystem::exists(file + "." + std::to_string(n), ec); ++n) {
    files.push_back(file + "." + std::to_string(n));
  }
  std::reverse(files.begin(), files.end());
  files.push_back(file);
  return files;
}

bool Matches(const AuditJson& line, const AuditFilter& f) {
  if (!f.op.empty()) {
    std::string op = StringAt(line, "op");
    if (op != f.op && op.rfind(f.op + "+", 0) != 0) return false;
  }
  if (!f.client.empty() && StringAt(line, "client") != f.client) return false;
  if (!f.code.empty() && Lower(StringAt(line, "code")) != Lower(f.code)) return false;
  if (!f.request_id.empty() && StringAt(line, "request_id") != f.request_id) return false;
  std::string time = StringAt(line, "time");
  if (!f.since.empty() && time < f.since) return false;
  if (!f.until.empty() && time >= f.until) return false;
  if (!f.uuid.empty()) {
    auto objects = line.find("objects");
    if (objects == line.end() || !objects->is_array()) return false;
    bool found = std::any_of(objects->begin(), objects->end(), [&](const AuditJson& o) {
      return o.is_string() && o.get<std::string>() == f.uuid;
    });
    if (!found) return false;
  }
  return true;
}

StatusOr<std::string> ParseAuditSince(const std::string& text, int64_t now_micros) {
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0])) &&
      !std::isdigit(static_cast<unsigned char>(text.back()))) {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    std::string unit(end, text.data() + text.size());
    int64_t unit_micros = unit == "s"   ? 1'000'000
                          : unit == "m" ? 60'000'000
                          : unit == "h" ? 3'600'000'000
                          : unit == "d" ? 86'400'000'000
                                        : 0;
    if (ec == std::errc() && unit_micros > 0 && n >= 0 && n <= 100'000) {
      return AuditTime(now_micros - n * unit_micros);
    }
  }
  // A prefix of "YYYY-MM-DDTHH:MM:SS.ffffffZ": digits where the template
  // has digits, the same separators elsewhere.
  static constexpr std::string_view kTemplate = "0000-00-00T00:00:00.000000Z";
  bool ok = text.size() >= 4 && text.size() <= kTemplate.size();
  for (size_t i = 0; ok && i < text.size(); ++i) {
    ok = kTemplate[i] == '0' ? std::isdigit(static_cast<unsigned char>(text[i])) != 0
                             : text[i] == kTemplate[i];
  }
  if (!ok) {
    return InvalidArgument("'" + text +
                           "' is neither a UTC time such as 2026-11-30T01:02:03 (or a prefix of "
                           "one) nor a duration ago such as 30s, 15m, 2h, 3d");
  }
  return text;
}

Status ScanAuditLog(const std::string& file, const LineFn& each, const BadLineFn& bad) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return NotFound("no audit file '" + file + "'");
  for (const std::string& path : AuditFiles(file)) {
    Status read = ReadLines(path, each, bad);
    // A rotated file may vanish while it is read (the node rotated again).
    if (!read.ok() && !(read.code() == Code::kNotFound && path != file)) return read;
  }
  return Status::Ok();
}

StatusOr<std::vector<AuditJson>> TailAuditLog(const std::string& file, size_t n,
                                              const BadLineFn& bad) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return NotFound("no audit file '" + file + "'");
  std::vector<std::string> files = AuditFiles(file);
  std::deque<AuditJson> kept;  // oldest first
  for (auto it = files.rbegin(); it != files.rend() && kept.size() < n; ++it) {
    std::deque<AuditJson> lines;  // the last (n - kept) of this file
    size_t want = n - kept.size();
    Status read = ReadLines(
        *it,
        [&](const AuditJson& line) {
          lines.push_back(line);
          if (lines.size() > want) lines.pop_front();
        },
        bad);
    if (!read.ok() && !(read.code() == Code::kNotFound && *it != file)) return read;
    kept.insert(kept.begin(), lines.begin(), lines.end());
  }
  return std::vector<AuditJson>(kept.begin(), kept.end());
}

AuditFollower::AuditFollower(std::string file) : file_(std::move(file)) {}

AuditFollower::~AuditFollower() {
  if (fd_ >= 0) ::close(fd_);
}

Status AuditFollower::Start() {
  fd_ = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return ReaderErrnoStatus("audit file '" + file_ + "'");
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return ReaderErrnoStatus("audit file '" + file_ + "'");
  inode_ = st.st_ino;
  if (::lseek(fd_, 0, SEEK_END) < 0) return ReaderErrnoStatus("audit file '" + file_ + "'");
  return Status::Ok();
}

Status AuditFollower::ReadAvailable(const LineFn& each, const BadLineFn& bad) {
  LineSplitter splitter(file_, each, bad, &line_number_, &partial_, &skipping_long_line_);
  std::string buf(kReadChunk, '\0');
  while (true) {
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ReaderErrnoStatus("reading audit file '" + file_ + "'");
    if (n == 0) return Status::Ok();
    splitter.Feed(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
}

Status AuditFollower::Poll(const LineFn& each, const BadLineFn& bad) {
  if (fd_ < 0) return InvalidState("AuditFollower::Poll before Start");
  COFFER_RETURN_IF_ERROR(ReadAvailable(each, bad));
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0 || st.st_ino == inode_) return Status::Ok();
  // Rotated: the old file was complete before the rename; read its rest,
  // then continue with the new one.
  COFFER_RETURN_IF_ERROR(ReadAvailable(each, bad));
  int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Ok();  // not created yet: next time
  ::close(fd_);
  fd_ = fd;
  inode_ = st.st_ino;
  partial_.clear();
  skipping_long_line_ = false;
  return ReadAvailable(each, bad);
}

}  // namespace coffer::node::audit
