// The only file that includes RocksDB. Converts rocksdb::Status to
// coffer::Status in one place (ToStatus).
//
// Storage faults (kv_store.h, docs/storage-faults.md): RocksDB's own log
// goes to the node log, never to a file in the data directory (a failed
// append to that file aborts the next log line in Debian's build of
// librocksdb 7.8, which keeps its assertions); RocksDB's own recovery from
// a full disk is off (it waits for 2 x write_buffer_size of free space,
// which a small filesystem never has, and refuses a manual Resume meanwhile):
// the caller resumes with Resume(). After a failed write or sync nothing
// touches the WAL again until Resume() succeeds: a second write or a
// SyncWAL on a WAL writer that saw an error aborts the process (the same
// assertion). Write, Sync, Resume and Checkpoint hold io_mu_, so a sync on
// the group-commit thread never starts while a write that is about to fail
// is in flight.
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "storage/kv_store.h"

namespace coffer::storage {
namespace {

Status ToStatus(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string message = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return NotFound(message);
  if (s.IsCorruption()) return DataLoss(message);
  if (s.IsNoSpace() || s.IsMemoryLimit()) return ResourceExhausted(message);
  if (s.IsInvalidArgument()) return InvalidArgument(message);
  return Unavailable(message);
}

// Whether a failed write or sync failed on the medium (disk full, I/O
// error, a damaged file): the store is then in a fault until Resume().
bool IsMediumError(const rocksdb::Status& s) { return s.IsIOError() || s.IsCorruption(); }

// RocksDB's log lines from WARN up, into the node log (spdlog).
class NodeLogLogger final : public rocksdb::Logger {
 public:
  NodeLogLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char line[1024];
    std::vsnprintf(line, sizeof(line), format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      spdlog::error("rocksdb: {}", line);
    } else if (level == rocksdb::InfoLogLevel::WARN_LEVEL) {
      spdlog::warn("rocksdb: {}", line);
    } else {
      spdlog::debug("rocksdb: {}", line);
    }
  }
};

// The store's fault, shared by the store and the listener (which RocksDB
// calls on its own threads). OK while the store can write.
class FaultState {
 public:
  Status Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fault_;
  }
  void Set(Status fault) {
    std::lock_guard<std::mutex> lock(mu_);
    fault_ = std::move(fault);
  }

 private:
  mutable std::mutex mu_;
  Status fault_;
};

// Records background errors (a failed flush or compaction, or the WAL
// write a foreground write reports too) and turns RocksDB's own recovery
// off: Resume() is the caller's, on its own schedule.
class FaultListener final : public rocksdb::EventListener {
 public:
  explicit FaultListener(std::shared_ptr<FaultState> state) : state_(std::move(state)) {}
  void OnBackgroundError(rocksdb::BackgroundErrorReason, rocksdb::Status* error) override {
    if (error != nullptr && !error->ok()) state_->Set(ToStatus(*error, "background error"));
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    if (auto_recovery != nullptr) *auto_recovery = false;
  }

 private:
  std::shared_ptr<FaultState> state_;
};

class RocksReader : public KvReader {
 public:
  RocksReader(rocksdb::DB* db, const rocksdb::Snapshot* snapshot) : db_(db), snapshot_(snapshot) {}
  ~RocksReader() override {
    if (snapshot_ != nullptr) db_->ReleaseSnapshot(snapshot_);
  }

  Status Get(std::string_view key, std::string* value) const override {
    rocksdb::ReadOptions options;
    options.snapshot = snapshot_;
    return ToStatus(db_->Get(options, rocksdb::Slice(key.data(), key.size()), value), "get");
  }

  Status Scan(std::string_view prefix, std::string_view start,
              const KvVisitor& visit) const override {
    rocksdb::ReadOptions options;
    options.snapshot = snapshot_;
    // The iterator stops at the prefix's end instead of stepping on through
    // the next prefix (and every tombstone there) until the check below
    // sees a live key outside it. The bound must outlive the iterator.
    const std::string upper = PrefixSuccessor(prefix);
    rocksdb::Slice upper_slice(upper);
    if (!upper.empty()) options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    std::string_view seek = start.empty() ? prefix : start;
    for (it->Seek(rocksdb::Slice(seek.data(), seek.size())); it->Valid(); it->Next()) {
      rocksdb::Slice key = it->key();
      std::string_view k(key.data(), key.size());
      if (k.substr(0, prefix.size()) != prefix) break;
      rocksdb::Slice value = it->value();
      if (!visit(k, std::string_view(value.data(), value.size()))) break;
    }
    return ToStatus(it->status(), "scan");
  }

 protected:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

class RocksKvStore final : public KvStore {
 public:
  RocksKvStore(std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db,
               std::shared_ptr<FaultState> fault, std::string path, bool in_memory, bool read_only)
      : env_(std::move(env)),
        db_(std::move(db)),
        reader_(db_.get(), nullptr),
        fault_(std::move(fault)),
        path_(std::move(path)),
        in_memory_(in_memory),
        read_only_(read_only) {}
  ~RocksKvStore() override {
    db_->Close().PermitUncheckedError();
    db_.reset();
  }

  Status Get(std::string_view key, std::string* value) const override {
    return reader_.Get(key, value);
  }
  Status Scan(std::string_view prefix, std::string_view start,
              const KvVisitor& visit) const override {
    return reader_.Scan(prefix, start, visit);
  }

  Status Write(const WriteBatch& batch, bool sync) override {
    if (read_only_) return InvalidState("write: the store is open read-only");
    rocksdb::WriteBatch rocks_batch;
    for (const auto& e : batch.entries()) {
      rocksdb::Status s;
      switch (e.kind) {
        case WriteBatch::Kind::kPut:
          s = rocks_batch.Put(e.key, e.value);
          break;
        case WriteBatch::Kind::kDelete:
          s = rocks_batch.Delete(e.key);
          break;
        case WriteBatch::Kind::kDeleteRange:
          // RocksDB refuses a range whose end is before its begin; an empty
          // range deletes nothing.
          if (e.value <= e.key) continue;
          s = rocks_batch.DeleteRange(e.key, e.value);
          break;
      }
      if (!s.ok()) return ToStatus(s, "batch");
    }
    rocksdb::WriteOptions options;
    options.sync = sync;
    std::lock_guard<std::mutex> io(io_mu_);
    COFFER_RETURN_IF_ERROR(fault_->Get());
    rocksdb::Status s = db_->Write(options, &rocks_batch);
    if (s.ok()) return Status::Ok();
    Status failed = ToStatus(s, "write");
    if (IsMediumError(s)) fault_->Set(failed);
    return failed;
  }

  Status Sync() override {
    if (read_only_) return InvalidState("sync: the store is open read-only");
    std::lock_guard<std::mutex> io(io_mu_);
    COFFER_RETURN_IF_ERROR(fault_->Get());
    rocksdb::Status s = db_->SyncWAL();
    if (s.ok()) return Status::Ok();
    Status failed = ToStatus(s, "sync WAL");
    if (IsMediumError(s)) fault_->Set(failed);
    return failed;
  }

  Status Fault() const override { return fault_->Get(); }

  Status Resume() override {
    std::lock_guard<std::mutex> io(io_mu_);
    if (fault_->Get().ok()) return Status::Ok();
    rocksdb::Status s = db_->Resume();
    if (s.ok()) {
      fault_->Set(Status::Ok());
      return Status::Ok();
    }
    // A failed resume (a flush that still finds no space) reported its own
    // background error through the listener; keep the first if not.
    Status failed = fault_->Get();
    return failed.ok() ? ToStatus(s, "resume") : failed;
  }

  std::optional<uint64_t> FreeBytes() const override {
    if (in_memory_) return std::nullopt;
    std::error_code ec;
    std::filesystem::space_info space = std::filesystem::space(path_, ec);
    if (ec) return std::nullopt;
    return static_cast<uint64_t>(space.available);
  }

  std::unique_ptr<KvReader> NewSnapshot() const override {
    return std::make_unique<RocksReader>(db_.get(), db_->GetSnapshot());
  }

  uint64_t ApproximateDiskBytes() const override {
    if (in_memory_) return 0;
    uint64_t sst = 0;
    db_->GetIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
    rocksdb::VectorLogPtr wal_files;
    uint64_t wal = 0;
    if (db_->GetSortedWalFiles(wal_files).ok()) {
      for (const auto& f : wal_files) wal += f->SizeFileBytes();
    }
    return sst + wal;
  }

  Status Checkpoint(const std::string& dir) const override {
    if (in_memory_) return InvalidState("checkpoint: the store is not on disk");
    // The checkpoint flushes the memtable, which switches the WAL: never
    // after a failed write (see the top of this file).
    std::lock_guard<std::mutex> io(io_mu_);
    COFFER_RETURN_IF_ERROR(fault_->Get());
    std::error_code ec;
    if (std::filesystem::exists(dir, ec)) return AlreadyExists("checkpoint: " + dir + " exists");
    rocksdb::Checkpoint* raw = nullptr;
    COFFER_RETURN_IF_ERROR(ToStatus(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    // log_size_for_flush = 0: flush the memtable first, so the copy is SST
    // files only (hard links) and no WAL is copied.
    return ToStatus(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0),
                    "checkpoint to " + dir);
  }

 private:
  std::unique_ptr<rocksdb::Env> env_;  // must outlive db_ (in-memory mode)
  std::unique_ptr<rocksdb::DB> db_;
  RocksReader reader_;
  std::shared_ptr<FaultState> fault_;
  std::string path_;
  // Held by whatever may write to the WAL: Write, Sync, Resume, Checkpoint.
  mutable std::mutex io_mu_;
  bool in_memory_;
  bool read_only_;
};

}  // namespace

void CountRocksIteratorWorkOnThisThread() {
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
}

RocksIteratorWork TakeRocksIteratorWorkOnThisThread() {
  rocksdb::PerfContext* perf = rocksdb::get_perf_context();
  RocksIteratorWork work;
  work.internal_keys_skipped =
      perf->internal_key_skipped_count + perf->internal_delete_skipped_count;
  work.seeks = perf->seek_on_memtable_count;
  perf->Reset();
  return work;
}

StatusOr<std::unique_ptr<KvStore>> OpenRocksKvStore(const RocksOptions& options) {
  if (options.path.empty()) return InvalidArgument("storage path is empty");
  rocksdb::Options rocks;
  rocks.create_if_missing = true;
  rocks.IncreaseParallelism(2);
  rocks.max_log_file_size = 8 << 20;
  rocks.keep_log_file_num = 4;
  rocks.write_buffer_size = options.write_buffer_bytes;
  // Values are mostly ciphertext, which does not compress; without compression
  // a scan of the files for plaintext (the at-rest test) sees every byte.
  rocks.compression = rocksdb::kNoCompression;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Most point reads on the write path miss (a new object's row, a new
  // request id): Bloom filters answer those without reading blocks, in the
  // files and in the memtable.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocks.memtable_prefix_bloom_size_ratio = 0.02;
  rocks.memtable_whole_key_filtering = true;
  rocks.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Storage faults: see the top of this file.
  rocks.info_log = std::make_shared<NodeLogLogger>();
  auto fault = std::make_shared<FaultState>();
  rocks.listeners.push_back(std::make_shared<FaultListener>(fault));

  std::unique_ptr<rocksdb::Env> env;
  if (options.in_memory) {
    env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    rocks.env = env.get();
  } else if (options.read_only) {
    rocks.create_if_missing = false;
    std::error_code ec;
    if (!std::filesystem::is_directory(options.path, ec))
      return NotFound("open " + options.path + ": no such database");
  } else {
    std::error_code ec;
    std::filesystem::create_directories(options.path, ec);
    if (ec) return Unavailable("cannot create " + options.path + ": " + ec.message());
  }
  rocksdb::DB* raw = nullptr;
  Status s = ToStatus(options.read_only ? rocksdb::DB::OpenForReadOnly(rocks, options.path, &raw)
                                        : rocksdb::DB::Open(rocks, options.path, &raw),
                      "open " + options.path);
  if (!s.ok()) return s;
  return std::unique_ptr<KvStore>(std::make_unique<RocksKvStore>(
      std::move(env), std::unique_ptr<rocksdb::DB>(raw), std::move(fault), options.path,
      options.in_memory, options.read_only));
}

}  // namespace coffer::storage
