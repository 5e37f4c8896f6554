#include "node/audit/audit_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/limits.h"

namespace coffer::node::audit {

namespace {

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view CutUtf8(std::string_view text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  // Back off continuation bytes (10xxxxxx), then the lead byte they follow.
  size_t back = 0;
  while (end > 0 && back < 3 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
    ++back;
  }
  return text.substr(0, end);
}

Status ErrnoStatus(const std::string& what) {
  return Unavailable(what + ": " + std::strerror(errno));
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("audit log directory '" + dir + "'");
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : ErrnoStatus("fsync of audit log directory '" + dir + "'");
}

}  // namespace

AuditOptions AuditOptionsFor(const NodeConfig& config, const Clock* clock) {
  AuditOptions options;
  options.file = AuditFilePath(config);
  options.node = config.node.name;
  options.max_file_bytes = static_cast<uint64_t>(config.audit.max_file_bytes);
  options.keep_files = static_cast<int>(config.audit.keep_files);
  options.sync_interval = std::chrono::milliseconds(config.audit.sync_interval_ms);
  options.clock = clock;
  return options;
}

std::string AuditTime(int64_t micros) {
  int64_t seconds = micros >= 0 ? micros / 1'000'000 : (micros - 999'999) / 1'000'000;
  int64_t fraction = micros - seconds * 1'000'000;
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%06lldZ", date, static_cast<long long>(fraction));
  return out;
}

std::string AuditLine(const AuditEvent& event, std::string_view node, int64_t time_micros) {
  nlohmann::ordered_json line;
  nlohmann::ordered_json truncated = nlohmann::ordered_json::object();
  auto field = [&](const std::string& key, std::string_view value) {
    std::string_view kept = CutUtf8(value, limits::kMaxAuditFieldBytes);
    if (kept.size() < value.size()) truncated[key] = value.size();
    return std::string(kept);
  };
  line["time"] = AuditTime(time_micros);
  line["node"] = field("node", node);
  line["client"] = field("client", event.client);
  line["role"] = field("role", event.role);
  line["op"] = field("op", event.op);
  nlohmann::ordered_json objects = nlohmann::ordered_json::array();
  for (size_t i = 0; i < event.objects.size() && i < limits::kMaxAuditObjects; ++i) {
    objects.push_back(field("objects[" + std::to_string(i) + "]", event.objects[i]));
  }
  if (event.objects.size() > limits::kMaxAuditObjects) {
    truncated["objects"] = event.objects.size();  // how many there were
  }
  line["objects"] = std::move(objects);
  line["code"] = field("code", event.code);
  line["request_id"] = field("request_id", event.request_id);
  if (!truncated.empty()) line["truncated"] = std::move(truncated);
  // ensure_ascii: every control character, DEL and non-ASCII code point is
  // written as \uXXXX; invalid UTF-8 is replaced (U+FFFD), never an error.
  return line.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace) + "\n";
}

StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(AuditOptions options) {
  if (options.file.empty()) return InvalidArgument("audit log: no file given");
  if (options.max_file_bytes < limits::kMinAuditFileBytes ||
      options.max_file_bytes > limits::kMaxAuditFileBytes) {
    return InvalidArgument("audit log: max_file_bytes must be in [" +
                           std::to_string(limits::kMinAuditFileBytes) + ", " +
                           std::to_string(limits::kMaxAuditFileBytes) + "]");
  }
  if (options.keep_files < 1 || options.keep_files > 1000) {
    return InvalidArgument("audit log: keep_files must be in [1, 1000]");
  }
  if (options.sync_interval.count() < 1) {
    return InvalidArgument("audit log: sync_interval must be at least 1 ms");
  }
  std::filesystem::path dir = std::filesystem::path(options.file).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Unavailable("audit log directory '" + dir.string() + "': " + ec.message());
  }
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options)));
  COFFER_RETURN_IF_ERROR(log->OpenCurrent());
  // The file's directory entry is durable before any line is acknowledged.
  COFFER_RETURN_IF_ERROR(SyncDirectory(dir.empty() ? "." : dir.string()));
  log->writer_ = std::thread([raw = log.get()] { raw->WriterLoop(); });
  return log;
}

AuditLog::AuditLog(AuditOptions options)
    : options_(std::move(options)), clock_(options_.clock ? *options_.clock : system_clock_) {}

Status AuditLog::OpenCurrent() {
  fd_ = ::open(options_.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return ErrnoStatus("audit log '" + options_.file + "'");
  off_t size = ::lseek(fd_, 0, SEEK_END);
  file_bytes_ = size > 0 ? static_cast<uint64_t>(size) : 0;
  return Status::Ok();
}

void AuditLog::Append(const AuditEvent& event) {
  std::string line = AuditLine(event, options_.node, clock_.WallMicros());
  std::unique_lock lock(mu_);
  // Backpressure, bounded: the writer empties pending_ every sync_interval.
  progress_.wait(lock, [&] {
    return pending_bytes_ + line.size() <= limits::kMaxAuditPendingBytes || pending_.empty() ||
           stopping_;
  });
  pending_bytes_ += line.size();
  pending_.push_back(std::move(line));
  ++appended_;
  if (pending_bytes_ >= limits::kMaxAuditPendingBytes / 2) wake_writer_.notify_one();
}

Status AuditLog::Flush() {
  std::unique_lock lock(mu_);
  uint64_t target = appended_;
  flush_asked_ = true;
  wake_writer_.notify_one();
  progress_.wait(lock, [&] { return done_ >= target; });
  return last_error_;
}

uint64_t AuditLog::lost_lines() const {
  std::lock_guard lock(mu_);
  return lost_;
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_writer_.notify_one();
  progress_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (fd_ >= 0) ::close(fd_);
}

void AuditLog::WriterLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_writer_.wait_for(lock, options_.sync_interval, [&] {
      return stopping_ || flush_asked_ || pending_bytes_ >= limits::kMaxAuditPendingBytes / 2;
    });
    flush_asked_ = false;
    std::vector<std::string> batch;
    batch.swap(pending_);
    pending_bytes_ = 0;
    bool stop = stopping_;
    if (!batch.empty()) {
      lock.unlock();
      progress_.notify_all();  // room for appenders while this batch is written
      Status written = WriteBatch(batch);
      lock.lock();
      if (!written.ok()) {
        if (last_error_.ok()) {
          spdlog::error("audit log: {} lines could not be written: {}", batch.size(),
                        written.ToString());
        }
        lost_ += batch.size();
      } else if (!last_error_.ok()) {
        spdlog::warn("audit log: writing again after {} lost lines", lost_);
      }
      last_error_ = written;
    }
    done_ += batch.size();
    progress_.notify_all();
    if (stop && pending_.empty()) return;
  }
}

Status AuditLog::WriteBatch(const std::vector<std::string>& batch) {
  if (fd_ < 0) COFFER_RETURN_IF_ERROR(OpenCurrent());  // a failed rotation left it closed
  for (const std::string& line : batch) {
    if (file_bytes_ > 0 && file_bytes_ + line.size() > options_.max_file_bytes) {
      COFFER_RETURN_IF_ERROR(Rotate());
    }
    size_t written = 0;
    while (written < line.size()) {
      ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoStatus("write to audit log '" + options_.file + "'");
      written += static_cast<size_t>(n);
    }
    file_bytes_ += line.size();
  }
  if (::fdatasync(fd_) != 0) return ErrnoStatus("fsync of audit log '" + options_.file + "'");
  return Status::Ok();
}

Status AuditLog::Rotate() {
  if (::fdatasync(fd_) != 0) return ErrnoStatus("fsync of audit log '" + options_.file + "'");
  ::close(fd_);
  fd_ = -1;
  const std::string& file = options_.file;
  auto rotated = [&](int n) { return file + "." + std::to_string(n); };
  std::error_code ec;
  std::filesystem::remove(rotated(options_.keep_files), ec);
  for (int n = options_.keep_files - 1; n >= 1; --n) {
    if (std::filesystem::exists(rotated(n), ec)) {
      std::filesystem::rename(rotated(n), rotated(n + 1), ec);
      if (ec) return Unavailable("audit log rotation: " + ec.message());
    }
  }
  std::filesystem::rename(file, rotated(1), ec);
  if (ec) return Unavailable("audit log rotation: " + ec.message());
  COFFER_RETURN_IF_ERROR(OpenCurrent());
  std::string dir = std::filesystem::path(file).parent_path().string();
  return SyncDirectory(dir.empty() ? "." : dir);
}

}  // namespace coffer::node::audit
