// Storage faults in the simulation (docs/storage-faults.md): a node's disk
// fills or fails with I/O errors (storage/mem_kv_store.h models both as
// RocksDB meets them), the node's StorageGuard refuses writes and resumes
// the store once the disk is fixed, as node/monitoring/storage_watch.h does.
#include "tests/sim/sim_internal.h"

namespace coffer::sim {

void Simulation::DiskFault() {
  // The first members only: an inducting node's snapshot install is not
  // what this fault is about.
  std::vector<uint32_t> ids;
  for (auto& [id, node] : nodes_) {
    if (id <= topology_.size() && !node->deleted) ids.push_back(id);
  }
  if (ids.empty()) return;
  uint32_t id = ids[disk_rng_.Uniform(ids.size())];
  SimNode& node = *nodes_[id];
  if (node.disk->free_bytes() || node.disk_io_error) return;  // one fault per disk at a time
  const bool full = disk_rng_.Uniform(4) != 0;
  if (full) {
    // Room for a few more writes at most.
    node.disk->SetFreeBytes(disk_rng_.Uniform(3000));
  } else {
    node.disk->SetIoError(true);
    node.disk_io_error = true;
  }
  ++result_.disk_faults;
  Trace(full ? "disk-full" : "disk-io-error", id, 0, 0);
  int64_t lasts = 100 * kMs + static_cast<int64_t>(disk_rng_.Uniform(1500 * kMs));
  At(now_ + lasts, [this, id] {
    SimNode& fixed = *nodes_[id];
    fixed.disk->SetFreeBytes(std::nullopt);
    fixed.disk->SetIoError(false);
    fixed.disk_io_error = false;
    Trace("disk-fixed", id, 0, 0);
  });
}

void Simulation::FixDisks() {
  for (auto& [id, node] : nodes_) {
    node->disk->SetFreeBytes(std::nullopt);
    node->disk->SetIoError(false);
    node->disk_io_error = false;
  }
}

void Simulation::StepStorage(SimNode& node) {
  switch (node.storage.Observe(node.store->StorageFault(), now_)) {
    case replication::StorageGuard::Step::kFaulted:
      ++result_.storage_faults;
      Trace("storage-fault", node.id, static_cast<uint64_t>(node.storage.fault().code()), 0);
      return;
    case replication::StorageGuard::Step::kResume: {
      node.storage.ResumeStarted(now_);
      // The resume runs on the node's sync thread and takes a little time.
      int64_t takes = 200 + static_cast<int64_t>(disk_rng_.Uniform(5 * kMs));
      At(now_ + takes, [this, id = node.id, incarnation = node.incarnation] {
        SimNode* n = Node(id);
        if (n == nullptr || !n->up() || n->incarnation != incarnation) return;  // crashed meanwhile
        Status resumed = n->store->ResumeStorage();
        if (n->storage.ResumeDone(resumed, now_)) {
          ++result_.storage_resumes;
          Trace("storage-resumed", id, 0, 0);
          n->replicator->StorageResumed();
          ScheduleFlush(*n);
        }
      });
      return;
    }
    case replication::StorageGuard::Step::kNone:
      return;
  }
}

void Simulation::CheckStorageResumed() {
  for (auto& [id, node] : nodes_) {
    if (!node->up()) continue;
    if (!node->storage.writable() || !node->store->StorageFault().ok()) {
      Violation("node " + std::to_string(id) +
                " is still in a storage fault after healing: " + node->storage.fault().ToString());
    }
  }
}

}  // namespace coffer::sim
