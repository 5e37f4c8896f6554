// The narrow ordered key-value interface the object store is written against.
// One implementation wraps RocksDB (rocks_kv_store.cc, the only file that
// includes <rocksdb/...>); it runs on a real directory or on RocksDB's
// in-memory Env. The contract test (kv_store_test.cc) runs on both.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace coffer::storage {

// An ordered set of puts, deletes and range deletes applied atomically by
// KvStore::Write.
class WriteBatch {
 public:
  enum class Kind { kPut, kDelete, kDeleteRange };
  struct Entry {
    Kind kind;
    std::string key;    // kDeleteRange: the first key deleted
    std::string value;  // kDeleteRange: the end of the range (excluded)
  };
  void Put(std::string_view key, std::string_view value) {
    entries_.push_back({Kind::kPut, std::string(key), std::string(value)});
  }
  void Delete(std::string_view key) { entries_.push_back({Kind::kDelete, std::string(key), {}}); }
  // Deletes every key in [begin, end) (none if end <= begin), whatever keys
  // exist there, in O(1): RocksDB writes one range tombstone, which reads
  // skip as a whole instead of stepping over one tombstone per key.
  void DeleteRange(std::string_view begin, std::string_view end) {
    entries_.push_back({Kind::kDeleteRange, std::string(begin), std::string(end)});
  }
  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  size_t ByteSize() const {
    size_t n = 0;
    for (const auto& e : entries_) n += e.key.size() + e.value.size();
    return n;
  }

 private:
  std::vector<Entry> entries_;
};

// The first key after every key that starts with `prefix` (the exclusive upper
// bound of a prefix scan); empty when there is none (a prefix of only 0xff
// bytes, or the empty prefix).
std::string PrefixSuccessor(std::string_view prefix);

// Visitor for Scan: return false to stop early.
using KvVisitor = std::function<bool(std::string_view key, std::string_view value)>;

// Read access. Thread-safe.
class KvReader {
 public:
  virtual ~KvReader() = default;
  // NOT_FOUND if absent; DATA_LOSS on corruption; UNAVAILABLE on I/O errors.
  virtual Status Get(std::string_view key, std::string* value) const = 0;
  // Visits keys starting with `prefix`, in key order, beginning at the first key
  // >= `start` (or at `prefix` when `start` is empty). The scan is bounded by
  // the prefix: it never reads (or steps over deleted keys) beyond it, so its
  // cost is that of the keys and tombstones inside the prefix.
  virtual Status Scan(std::string_view prefix, std::string_view start,
                      const KvVisitor& visit) const = 0;
};

class KvStore : public KvReader {
 public:
  // Applies every entry or none. sync=true returns only after the write is on
  // stable storage (fsync of the WAL). RESOURCE_EXHAUSTED when the disk is full.
  virtual Status Write(const WriteBatch& batch, bool sync) = 0;
  // Makes every write so far durable (as if the last one had been synced).
  // Lets a caller apply many records unsynced and sync once (group commit).
  virtual Status Sync() { return Write(WriteBatch(), /*sync=*/true); }
  // A consistent point-in-time view; valid while the store is open.
  virtual std::unique_ptr<KvReader> NewSnapshot() const = 0;
  // Storage faults (docs/storage-faults.md). A Write or Sync that fails on
  // the medium (disk full: RESOURCE_EXHAUSTED; I/O error: UNAVAILABLE) puts
  // the store in a fault: from then on every Write and Sync returns that
  // fault at once, touching no file, until Resume() succeeds. Reads keep
  // working. A write that failed changed nothing; writes that succeeded
  // before the fault (synced or not) stay readable, and those synced stay
  // durable. Thread-safe, like Write and Sync.
  //
  // The current fault; OK while the store can write.
  virtual Status Fault() const = 0;
  // Tries to leave the fault (RocksDB: DB::Resume, which flushes the
  // memtable and so needs some free space). OK if the store can write now
  // (also when it was not in a fault); else the fault, still in force.
  virtual Status Resume() = 0;
  // Free bytes on the filesystem that holds the store; nullopt when unknown
  // or not on a filesystem (in memory).
  virtual std::optional<uint64_t> FreeBytes() const = 0;
  // Approximate bytes on disk (SST + WAL); 0 for in-memory stores.
  virtual uint64_t ApproximateDiskBytes() const = 0;
  // Writes a consistent, durable copy of the store as it is now to the new
  // directory `dir` (which must not exist; its parent must). RocksDB
  // hard-links its immutable files, so this is cheap and the copy shares disk
  // with the store until compaction replaces them. Open the copy with
  // OpenRocksKvStore({.path = dir, .read_only = true}). INVALID_STATE for a
  // store that is not on disk; ALREADY_EXISTS if `dir` exists.
  virtual Status Checkpoint(const std::string& dir) const = 0;
};

struct RocksOptions {
  // Directory of the database; created if missing.
  std::string path;
  // Run on RocksDB's in-memory Env (tests, simulation). Default: false.
  bool in_memory = false;
  // Block cache size. Default: 64 MiB.
  size_t block_cache_bytes = 64 << 20;
  // Memtable size (RocksDB write_buffer_size): how much is written before a
  // flush to a table file; up to two are held in memory (one flushing).
  // Smaller: less memory, more flushes and compactions. 4 to 32 MiB gave the
  // same write rate as 64 on the 2-core bench machine (bench/README.md).
  // Default: 64 MiB.
  size_t write_buffer_bytes = 64 << 20;
  // Open an existing database (e.g. a Checkpoint) for reading only: nothing
  // is created, Write and Sync fail with INVALID_STATE, and any number of
  // read-only opens may share the directory. Default: false.
  bool read_only = false;
};

// RocksDB iterator work on the calling thread, for tests and benchmarks that
// check what a read costs. Counting is per thread and off until
// CountRocksIteratorWorkOnThisThread() turns it on for this thread.
struct RocksIteratorWork {
  // Deleted entries (point tombstones and the keys they hide) and older
  // versions the iterators of this thread stepped over.
  uint64_t internal_keys_skipped = 0;
  // Iterator seeks (counted on the memtable, which every seek reads).
  uint64_t seeks = 0;
};
void CountRocksIteratorWorkOnThisThread();
// The work since the last call (or since counting was turned on).
RocksIteratorWork TakeRocksIteratorWorkOnThisThread();

// Opens (creating if needed) a RocksDB-backed store. UNAVAILABLE if the
// directory is locked by another process or cannot be opened.
StatusOr<std::unique_ptr<KvStore>> OpenRocksKvStore(const RocksOptions& options);

}  // namespace coffer::storage
