// StorageWatch: a node's storage faults (docs/storage-faults.md). Performs
// replication::StorageGuard's decisions (sans-IO; the simulation runs the
// same ones): observes the store's fault every tick, says so once at warn
// (naming the data directory and its free space, and again every 30 s while
// it lasts), refuses writes while the store cannot write, runs the resume
// attempts off the store thread (through `post_resume`, which hands the
// result back through `post_back`), and reports the state in NodeStatus
// (/health, /readyz, `cluster status`) and the metrics.
//
// Threading: every method on the store thread (the thread running
// `store_io`); its timer ticks there; a resume attempt runs on `sync_io`'s
// thread (the node's group-commit sync thread), its result comes back to
// the store thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>

#include "common/clock.h"
#include "node/monitoring/metrics.h"
#include "proto/api.pb.h"
#include "replication/core/storage_guard.h"
#include "storage/object_store.h"

namespace coffer::node {

class StorageWatch {
 public:
  // Everything passed must outlive the watch.
  StorageWatch(storage::ObjectStore& store, std::string data_dir, const Clock& clock,
               NodeMetrics& metrics, boost::asio::io_context& store_io,
               boost::asio::io_context& sync_io);

  // Called on the store thread when the store is writable again (the node:
  // Replicator::StorageResumed).
  void SetOnResumed(std::function<void()> on_resumed) { on_resumed_ = std::move(on_resumed); }
  // Starts and stops the timer that calls Tick every 50 ms.
  void Start();
  void Stop();
  // Looks at the store's fault and does what the guard decides.
  void Tick();
  // OK while the store can write; else the answer for a write.
  Status CheckWrite() const { return guard_.CheckWrite(); }
  // storage_state, storage_fault and storage_free_bytes.
  void Fill(pb::NodeStatus* status) const;
  const replication::StorageGuard& guard() const { return guard_; }

 private:
  void ResumeDone(const Status& result);
  std::string FreeText() const;

  storage::ObjectStore& store_;
  std::string data_dir_;
  const Clock& clock_;
  NodeMetrics& metrics_;
  boost::asio::io_context& store_io_;
  boost::asio::io_context& sync_io_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
  std::function<void()> on_resumed_;
  replication::StorageGuard guard_;
  int64_t last_warned_ = 0;
};

}  // namespace coffer::node
