// The controller side of induction snapshot transfers: one consistent
// snapshot per candidate, served in chunks, that survives the controller's
// restart.
//
// Contract:
//  - A transfer is opened only by Begin(), which the controller calls for a
//    join that redeemed a valid token (InductionController::Join). Chunk()
//    of a candidate with no open transfer is PERMISSION_DENIED: it never
//    makes a snapshot by itself (issue 11: a member's node certificate read
//    the whole store, material included, long after its induction).
//  - A transfer's snapshot is a checkpoint of the store on disk
//    (ObjectStore::CheckpointTo) in <dir>/node-<id>, made by Begin(), right
//    after the join wrote NodeAdded. RocksDB hard-links its files, so the
//    copy is cheap and shares disk with the store until compaction replaces
//    them. The checkpoint is what keeps a transfer open across a restart of
//    this node: a restarted controller (whose tokens are void) continues a
//    transfer whose checkpoint is on disk (the view's `reopened`), and none
//    other.
//  - Chunk() with a non-empty `after` continues the transfer; a candidate
//    restarted mid-way asks from its last installed chunk, so nothing is
//    sent twice but the chunk in flight. Chunk() with an empty `after`
//    starts from the beginning of the open snapshot (counted in the view's
//    `started_over` when entries were sent already).
//  - Begin() drops an earlier transfer of the same id: a repeated join
//    starts afresh.
//  - A transfer expires `max_age` after its checkpoint was made: Chunk()
//    then closes it and is PERMISSION_DENIED.
//  - Close() and Prune() close transfers; Prune() those that are finished
//    (the caller's predicate: the candidate was heard on a link or is no
//    longer PENDING), whose candidate is no longer a member, or that
//    expired. Their directories are removed. Entries of <dir> that are not a
//    transfer's directory (e.g. a checkpoint interrupted by a crash) are
//    removed too.
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
  static constexpr std::chrono::hours kDefaultMaxAge{24};

  // `dir` holds the checkpoints (created when first needed); `store` must
  // outlive this object. A transfer expires `max_age` after it began.
  InductionTransfers(const storage::ObjectStore& store, std::string dir,
                     std::chrono::system_clock::duration max_age = kDefaultMaxAge);

  // A join of candidate `id` (its token was valid): forgets any earlier
  // transfer of it, checkpoints the store for it and records the estimate
  // given to the candidate. UNAVAILABLE if the checkpoint cannot be made
  // (nothing is left open then).
  Status Begin(uint32_t id, uint64_t entries_estimate);

  // Whether a transfer of `id` is open: begun here, or its checkpoint is on
  // disk (this node restarted since it began). Expiry is checked by Chunk().
  bool IsOpen(uint32_t id) const;

  // Up to `max_entries` snapshot entries after key `after` for candidate
  // `id`, at most limits::kSnapshotChunkBytes of them (StoreSnapshot::ReadChunk).
  // PERMISSION_DENIED when no transfer of `id` is open (never begun, closed,
  // or expired: closed now).
  StatusOr<pb::SnapshotChunk> Chunk(uint32_t id, const std::string& after, size_t max_entries);

  // Closes the transfer of `id` if one is open (removes its checkpoint).
  void Close(uint32_t id);

  struct PruneRules {
    std::function<bool(uint32_t id)> is_member;
    std::function<bool(uint32_t id)> finished;
  };
  // Closes transfers as described above; returns how many it closed.
  size_t Prune(const PruneRules& rules);

  // One view per open transfer, by candidate id.
  std::vector<pb::InductionView> Views() const;
  // Closes every snapshot (the store is about to close); keeps directories.
  void CloseAll();

 private:
  std::string CheckpointDir(uint32_t id) const;
  bool Expired(uint32_t id) const;

  const storage::ObjectStore& store_;
  std::string dir_;
  const std::chrono::system_clock::duration max_age_;
  std::map<uint32_t, std::unique_ptr<storage::StoreSnapshot>> open_;
  std::map<uint32_t, pb::InductionView> views_;
};

}  // namespace coffer::node
