// The controller side of induction snapshot transfers: one consistent
// snapshot per candidate, served in chunks, that survives the controller's
// restart.
//
// Contract:
//  - A transfer's snapshot is a checkpoint of the store on disk
//    (ObjectStore::CheckpointTo) in <dir>/node-<id>, made when the candidate
//    asks for its first chunk. RocksDB hard-links its files, so the copy is
//    cheap and shares disk with the store until compaction replaces them.
//  - Chunk() with a non-empty `after` continues the transfer: from the open
//    snapshot, or, after this node restarted, from the checkpoint reopened
//    (the view's `reopened`). A candidate restarted mid-way asks from its
//    last installed chunk, so nothing is sent twice but the chunk in flight.
//  - Chunk() with an empty `after` starts from the beginning of the open
//    snapshot, or makes one (a restart from zero of a transfer already under
//    way is counted in the view's `started_over`).
//  - Begin() (a join, which assigns the id) drops an earlier transfer of the
//    same id: a repeated join starts afresh.
//  - Prune() closes transfers that are finished (the caller's predicate:
//    the candidate was heard on a link or is ACTIVE), whose candidate is no
//    longer a member, or whose checkpoint is older than `max_age`; their
//    directories are removed. Entries of <dir> that are not a transfer's
//    directory (e.g. a checkpoint interrupted by a crash) are removed too.
//  - Not thread-safe: the node calls it from its store thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto/api.pb.h"
#include "storage/object_store.h"

namespace coffer::node {

class InductionTransfers {
 public:
  // `dir` holds the checkpoints (created when first needed); `store` must
  // outlive this object.
  InductionTransfers(const storage::ObjectStore& store, std::string dir);

  // A join of candidate `id`: forgets any earlier transfer of it and records
  // the estimate given to the candidate.
  void Begin(uint32_t id, uint64_t entries_estimate);

  // Up to `max_entries` snapshot entries after key `after` for candidate
  // `id`, at most limits::kSnapshotChunkBytes of them (StoreSnapshot::ReadChunk). INVALID_STATE
  // when a transfer that should be open is not (it was pruned): the candidate must be wiped and
  // inducted again.
  StatusOr<pb::SnapshotChunk> Chunk(uint32_t id, const std::string& after, size_t max_entries);

  struct PruneRules {
    std::function<bool(uint32_t id)> is_member;
    std::function<bool(uint32_t id)> finished;
    std::chrono::system_clock::duration max_age = std::chrono::hours(24);
  };
  // Closes transfers as described above; returns how many it closed.
  size_t Prune(const PruneRules& rules);

  // One view per open transfer, by candidate id.
  std::vector<pb::InductionView> Views() const;
  // Closes every snapshot (the store is about to close); keeps directories.
  void CloseAll();

 private:
  std::string CheckpointDir(uint32_t id) const;
  void Remove(uint32_t id);

  const storage::ObjectStore& store_;
  std::string dir_;
  std::map<uint32_t, std::unique_ptr<storage::StoreSnapshot>> open_;
  std::map<uint32_t, pb::InductionView> views_;
};

}  // namespace coffer::node
