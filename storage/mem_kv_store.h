// An in-memory KvStore for the deterministic cluster simulation, which models
// what survives a crash.
//
// A MemKvDisk is the "disk" of one simulated node. It outlives the KvStore
// opened on it, so a simulation can destroy a node, Crash() its disk (dropping
// the writes that were not synced) and open a new store on what is left:
//
//   std::shared_ptr<MemKvDisk> disk = NewMemKvDisk();
//   std::unique_ptr<KvStore> kv = OpenMemKvStore(disk).value();
//   ...                                  // writes, some with sync=false
//   kv.reset();                          // the node goes away
//   Status crashed = disk->Crash();      // drops what was not synced
//   kv = OpenMemKvStore(disk).value();   // sees the durable state only
//
// Durability follows RocksDB's sequential WAL: a write with sync=true makes it
// and every earlier write durable; writes with sync=false after the last synced
// write are lost by Crash(), whole batches at a time (never half a batch). A
// synced empty batch is a sync barrier: it makes the earlier writes durable.
//
// Reads see every write, synced or not. Scan has the same prefix/start rules
// as the RocksDB store (the contract test in kv_store_test.cc runs on both).
// Snapshots are copy-on-write: NewSnapshot is O(1) and the first write after
// it copies the map once (O(n)). Unlike RocksDB, a snapshot stays readable
// after its store is closed.
//
// Unlike the RocksDB store on MemEnv, ApproximateDiskBytes() is not 0: it is
// the sum of key and value sizes of the durable state (what a crash keeps).
// Checkpoint is INVALID_STATE, as on RocksDB's MemEnv: there is no directory
// to copy to.
//
// Thread-safety: MemKvDisk and the stores and snapshots opened on it are
// thread-safe (one mutex per disk); the simulation uses them from one thread.
// Every operation is deterministic.
//
// Storage faults (kv_store.h, docs/storage-faults.md), injected by the
// simulation as RocksDB meets them on a real disk: SetFreeBytes(n) makes the
// disk full once n more bytes (keys and values of non-empty batches) are
// written, SetIoError(true) fails every write and sync. The write that
// meets the fault fails (RESOURCE_EXHAUSTED or UNAVAILABLE) and changes
// nothing, and puts the open store in a fault, as RocksDB's background
// error does: every later Write and Sync returns it, even after the disk is
// fixed, until Resume() succeeds (it fails while the I/O error lasts, or
// while the disk has no room for the writes not yet synced, which it makes
// durable, as RocksDB's flush of the memtable does). A new open clears the
// fault (a restart). A synced empty batch (a sync) on a full disk succeeds.
//
// Not modelled: corruption.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/kv_store.h"

namespace coffer::storage {

class MemKvDisk;

// A fresh, empty disk.
std::shared_ptr<MemKvDisk> NewMemKvDisk();

// Opens a store on `disk`, which it holds until it is destroyed. UNAVAILABLE if
// another store is open on the disk (as RocksDB's LOCK file refuses a second
// open); INVALID_ARGUMENT if `disk` is null.
StatusOr<std::unique_ptr<KvStore>> OpenMemKvStore(std::shared_ptr<MemKvDisk> disk);

class MemKvDisk {
 public:
  MemKvDisk(const MemKvDisk&) = delete;
  MemKvDisk& operator=(const MemKvDisk&) = delete;
  ~MemKvDisk();

  // Simulates a power loss: drops every write made with sync=false after the
  // last synced write. Only allowed while no store is open on the disk (a
  // crashed node's store is destroyed first): returns INVALID_STATE and
  // changes nothing otherwise.
  Status Crash();

  // Writes made with sync=true (including empty synced batches, which is what
  // KvStore::Sync() writes).
  uint64_t synced_writes() const;
  // Writes (batches) dropped by every Crash() so far.
  uint64_t unsynced_writes_lost() const;
  // True while a store is open on the disk.
  bool is_open() const;

  // Injected faults (see the top of this file). nullopt: no limit (the
  // default).
  void SetFreeBytes(std::optional<uint64_t> free_bytes);
  std::optional<uint64_t> free_bytes() const;
  void SetIoError(bool failing);
  // Writes and syncs that failed on an injected fault.
  uint64_t failed_writes() const;

 private:
  using Map = std::map<std::string, std::string, std::less<>>;
  // One version of the readable map. Scans and snapshots pin it and read it
  // without the mutex; a write to a pinned version copies it first.
  struct Version {
    Map map;
    uint64_t pins = 0;  // GUARDED_BY(MemKvDisk::mu_)
  };
  class Pin;
  class Reader;
  class Store;
  friend std::shared_ptr<MemKvDisk> NewMemKvDisk();
  friend StatusOr<std::unique_ptr<KvStore>> OpenMemKvStore(std::shared_ptr<MemKvDisk> disk);

  MemKvDisk();

  Status Get(std::string_view key, std::string* value) const;
  Status Write(const WriteBatch& batch, bool sync);
  Status Fault() const;
  Status Resume();
  // The current version, pinned until the returned Pin is destroyed.
  std::shared_ptr<Version> PinCurrent() const;  // takes mu_
  void Unpin(Version& version) const;           // takes mu_
  uint64_t DurableBytes() const;

  mutable std::mutex mu_;
  // What reads see: every write, synced or not.
  std::shared_ptr<Version> live_;  // GUARDED_BY(mu_)
  // What survives a crash: every write up to the last synced one.
  Map durable_;                 // GUARDED_BY(mu_)
  uint64_t durable_bytes_ = 0;  // GUARDED_BY(mu_); sum of key + value sizes in durable_
  // Batches written with sync=false since the last synced write, in order.
  std::vector<WriteBatch> unsynced_;    // GUARDED_BY(mu_)
  bool open_ = false;                   // GUARDED_BY(mu_)
  std::optional<uint64_t> free_bytes_;  // GUARDED_BY(mu_); nullopt: no limit
  bool io_error_ = false;               // GUARDED_BY(mu_)
  Status fault_;                        // GUARDED_BY(mu_); the open store's fault
  uint64_t failed_writes_ = 0;          // GUARDED_BY(mu_)
  uint64_t synced_writes_ = 0;          // GUARDED_BY(mu_)
  uint64_t unsynced_writes_lost_ = 0;   // GUARDED_BY(mu_)
};

}  // namespace coffer::storage
