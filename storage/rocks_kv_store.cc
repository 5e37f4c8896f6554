// The only file that includes RocksDB. Converts rocksdb::Status to
// coffer::Status in one place (ToStatus).
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

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
  RocksKvStore(std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db, bool in_memory,
               bool read_only)
      : env_(std::move(env)),
        db_(std::move(db)),
        reader_(db_.get(), nullptr),
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
      rocksdb::Status s = e.is_delete ? rocks_batch.Delete(e.key) : rocks_batch.Put(e.key, e.value);
      if (!s.ok()) return ToStatus(s, "batch");
    }
    rocksdb::WriteOptions options;
    options.sync = sync;
    return ToStatus(db_->Write(options, &rocks_batch), "write");
  }

  Status Sync() override {
    if (read_only_) return InvalidState("sync: the store is open read-only");
    return ToStatus(db_->SyncWAL(), "sync WAL");
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
  bool in_memory_;
  bool read_only_;
};

}  // namespace

StatusOr<std::unique_ptr<KvStore>> OpenRocksKvStore(const RocksOptions& options) {
  if (options.path.empty()) return InvalidArgument("storage path is empty");
  rocksdb::Options rocks;
  rocks.create_if_missing = true;
  rocks.IncreaseParallelism(2);
  rocks.max_log_file_size = 8 << 20;
  rocks.keep_log_file_num = 4;
  // Values are mostly ciphertext, which does not compress; without compression
  // a scan of the files for plaintext (the at-rest test) sees every byte.
  rocks.compression = rocksdb::kNoCompression;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocks.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

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
      std::move(env), std::unique_ptr<rocksdb::DB>(raw), options.in_memory, options.read_only));
}

}  // namespace coffer::storage
