#include "storage/mem_kv_store.h"

#include <utility>

namespace coffer::storage {
namespace {

using Map = std::map<std::string, std::string, std::less<>>;

// Applies `batch` to `map` in order; keeps `*bytes` (if set) equal to the sum
// of key and value sizes in `map`.
void ApplyBatch(const WriteBatch& batch, Map& map, uint64_t* bytes) {
  uint64_t unused = 0;
  uint64_t& total = bytes != nullptr ? *bytes : unused;
  for (const auto& e : batch.entries()) {
    if (e.kind == WriteBatch::Kind::kDeleteRange) {
      if (e.value <= e.key) continue;  // an empty range
      auto first = map.lower_bound(e.key);
      auto last = map.lower_bound(e.value);
      for (auto it = first; it != last; ++it) total -= it->first.size() + it->second.size();
      map.erase(first, last);
      continue;
    }
    const bool is_delete = e.kind == WriteBatch::Kind::kDelete;
    auto it = map.find(e.key);
    if (it != map.end()) {
      total -= it->first.size() + it->second.size();
      if (is_delete) {
        map.erase(it);
      } else {
        it->second = e.value;
        total += it->first.size() + it->second.size();
      }
    } else if (!is_delete) {
      map.emplace(e.key, e.value);
      total += e.key.size() + e.value.size();
    }
  }
}

// Same rules as the RocksDB store: seek to `start` (or `prefix` when `start` is
// empty), stop at the first key outside `prefix`. A map holds no tombstones,
// so the first key outside the prefix is the bound.
Status ScanMap(const Map& map, std::string_view prefix, std::string_view start,
               const KvVisitor& visit) {
  std::string_view seek = start.empty() ? prefix : start;
  for (auto it = map.lower_bound(seek); it != map.end(); ++it) {
    std::string_view key = it->first;
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!visit(key, it->second)) break;
  }
  return Status::Ok();
}

}  // namespace

// Keeps one version readable without the mutex until destroyed.
class MemKvDisk::Pin {
 public:
  explicit Pin(std::shared_ptr<const MemKvDisk> disk)
      : disk_(std::move(disk)), version_(disk_->PinCurrent()) {}
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  ~Pin() { disk_->Unpin(*version_); }
  const Map& map() const { return version_->map; }

 private:
  std::shared_ptr<const MemKvDisk> disk_;
  std::shared_ptr<Version> version_;
};

// A snapshot: reads one pinned version.
class MemKvDisk::Reader final : public KvReader {
 public:
  explicit Reader(std::shared_ptr<const MemKvDisk> disk) : pin_(std::move(disk)) {}

  Status Get(std::string_view key, std::string* value) const override {
    auto it = pin_.map().find(key);
    if (it == pin_.map().end()) return NotFound("get: " + std::string(key));
    *value = it->second;
    return Status::Ok();
  }
  Status Scan(std::string_view prefix, std::string_view start,
              const KvVisitor& visit) const override {
    return ScanMap(pin_.map(), prefix, start, visit);
  }

 private:
  Pin pin_;
};

class MemKvDisk::Store final : public KvStore {
 public:
  explicit Store(std::shared_ptr<MemKvDisk> disk) : disk_(std::move(disk)) {}
  ~Store() override {
    std::lock_guard<std::mutex> lock(disk_->mu_);
    disk_->open_ = false;
  }

  Status Get(std::string_view key, std::string* value) const override {
    return disk_->Get(key, value);
  }
  // Reads a pinned version, like a RocksDB iterator's implicit snapshot, so
  // the visitor may read and write the store.
  Status Scan(std::string_view prefix, std::string_view start,
              const KvVisitor& visit) const override {
    Pin pin(disk_);
    return ScanMap(pin.map(), prefix, start, visit);
  }
  Status Write(const WriteBatch& batch, bool sync) override { return disk_->Write(batch, sync); }
  Status Fault() const override { return disk_->Fault(); }
  Status Resume() override { return disk_->Resume(); }
  std::optional<uint64_t> FreeBytes() const override { return disk_->free_bytes(); }
  std::unique_ptr<KvReader> NewSnapshot() const override { return std::make_unique<Reader>(disk_); }
  uint64_t ApproximateDiskBytes() const override { return disk_->DurableBytes(); }
  Status Checkpoint(const std::string&) const override {
    return InvalidState("checkpoint: the store is not on disk");
  }

 private:
  std::shared_ptr<MemKvDisk> disk_;
};

MemKvDisk::MemKvDisk() : live_(std::make_shared<Version>()) {}
MemKvDisk::~MemKvDisk() = default;

std::shared_ptr<MemKvDisk> NewMemKvDisk() { return std::shared_ptr<MemKvDisk>(new MemKvDisk()); }

StatusOr<std::unique_ptr<KvStore>> OpenMemKvStore(std::shared_ptr<MemKvDisk> disk) {
  if (disk == nullptr) return InvalidArgument("open: no disk");
  {
    std::lock_guard<std::mutex> lock(disk->mu_);
    if (disk->open_) return Unavailable("open: another store is open on this disk");
    disk->open_ = true;
    disk->fault_ = Status::Ok();  // a new process: RocksDB's background error is gone
  }
  return std::unique_ptr<KvStore>(std::make_unique<MemKvDisk::Store>(std::move(disk)));
}

Status MemKvDisk::Crash() {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_) return InvalidState("crash: a store is open on this disk; destroy it first");
  if (unsynced_.empty()) return Status::Ok();  // live_ already equals durable_
  unsynced_writes_lost_ += unsynced_.size();
  unsynced_.clear();
  auto version = std::make_shared<Version>();
  version->map = durable_;
  live_ = std::move(version);
  return Status::Ok();
}

uint64_t MemKvDisk::synced_writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return synced_writes_;
}

uint64_t MemKvDisk::unsynced_writes_lost() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unsynced_writes_lost_;
}

bool MemKvDisk::is_open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

void MemKvDisk::SetFreeBytes(std::optional<uint64_t> free_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  free_bytes_ = free_bytes;
}

std::optional<uint64_t> MemKvDisk::free_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_bytes_;
}

void MemKvDisk::SetIoError(bool failing) {
  std::lock_guard<std::mutex> lock(mu_);
  io_error_ = failing;
}

uint64_t MemKvDisk::failed_writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_writes_;
}

Status MemKvDisk::Fault() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fault_;
}

Status MemKvDisk::Resume() {
  std::lock_guard<std::mutex> lock(mu_);
  if (fault_.ok()) return Status::Ok();
  if (io_error_) return fault_;
  uint64_t unsynced_bytes = 0;
  for (const auto& batch : unsynced_) unsynced_bytes += batch.ByteSize();
  // The flush of the memtable needs room for what it holds.
  if (free_bytes_ && *free_bytes_ <= unsynced_bytes) return fault_;
  if (free_bytes_) *free_bytes_ -= unsynced_bytes;
  for (const auto& earlier : unsynced_) ApplyBatch(earlier, durable_, &durable_bytes_);
  unsynced_.clear();
  fault_ = Status::Ok();
  return Status::Ok();
}

Status MemKvDisk::Get(std::string_view key, std::string* value) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_->map.find(key);
  if (it == live_->map.end()) return NotFound("get: " + std::string(key));
  *value = it->second;
  return Status::Ok();
}

Status MemKvDisk::Write(const WriteBatch& batch, bool sync) {
  std::lock_guard<std::mutex> lock(mu_);
  // A store in a fault touches nothing until Resume(), as RocksDB.
  if (!fault_.ok()) return fault_;
  if (io_error_ && (sync || !batch.empty())) {
    ++failed_writes_;
    fault_ = Unavailable(std::string(sync ? "sync WAL" : "write") +
                         ": IO error: Input/output error (injected)");
    return fault_;
  }
  if (free_bytes_ && !batch.empty()) {
    if (batch.ByteSize() > *free_bytes_) {
      ++failed_writes_;
      fault_ = ResourceExhausted("write: IO error: No space left on device (injected)");
      return fault_;
    }
    *free_bytes_ -= batch.ByteSize();
  }
  if (!batch.empty()) {
    if (live_->pins > 0) {
      // A scan or snapshot reads this version without the mutex: copy on write.
      auto copy = std::make_shared<Version>();
      copy->map = live_->map;
      live_ = std::move(copy);
    }
    ApplyBatch(batch, live_->map, nullptr);
  }
  if (!sync) {
    if (!batch.empty()) unsynced_.push_back(batch);
    return Status::Ok();
  }
  // The WAL is sequential: syncing this write makes every earlier one durable.
  for (const auto& earlier : unsynced_) ApplyBatch(earlier, durable_, &durable_bytes_);
  unsynced_.clear();
  ApplyBatch(batch, durable_, &durable_bytes_);
  ++synced_writes_;
  return Status::Ok();
}

std::shared_ptr<MemKvDisk::Version> MemKvDisk::PinCurrent() const {
  std::lock_guard<std::mutex> lock(mu_);
  ++live_->pins;
  return live_;
}

void MemKvDisk::Unpin(Version& version) const {
  std::lock_guard<std::mutex> lock(mu_);
  --version.pins;
}

uint64_t MemKvDisk::DurableBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return durable_bytes_;
}

}  // namespace coffer::storage
