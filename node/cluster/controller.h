// The controller side of induction: join tokens, joins and the snapshot
// chunks a candidate fetches (docs/cluster.md). Any cluster member may be a
// controller. A standalone node answers INVALID_STATE until EnterCluster.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "node/cluster/induction_transfers.h"
#include "node/cluster/join_tokens.h"
#include "node/net/tls.h"
#include "proto/api.pb.h"
#include "proto/records.pb.h"
#include "storage/object_store.h"

namespace coffer::node {

// Not thread-safe: one caller thread (the node's store thread, the store's
// owner).
class InductionController {
 public:
  // Default chunk size in entries, and the most a candidate may ask for.
  // Chunks are also cut by bytes (limits::kSnapshotChunkBytes), whatever
  // the entry count asked for.
  static constexpr uint32_t kDefaultSnapshotChunkEntries = 512;
  static constexpr uint32_t kMaxSnapshotChunkEntries = 4096;
  // Finished transfers are looked for at most this often.
  static constexpr int64_t kPruneIntervalMicros = 1'000'000;

  // What the controller needs of the running cluster.
  struct Cluster {
    // Writes `op` on this node without waiting for the pair peer (the
    // candidate's snapshot is the second copy).
    std::function<StatusOr<pb::OpResult>(const pb::Op& op, const std::string& request_id)>
        write_unpaired;
    // Re-reads the membership after a write changed it.
    std::function<void()> refresh_membership;
    // The membership as last read.
    std::function<const std::vector<pb::StoredNode>&()> members;
    // Whether node `id` has been heard from on a peer link.
    std::function<bool(uint32_t id)> heard_from;
  };

  // `store` must outlive the controller; open transfers keep their
  // checkpoints in `inductions_dir`. `self_id` is this node's id.
  InductionController(storage::ObjectStore& store, std::string inductions_dir, const Clock& clock,
                      uint32_t self_id);

  // The node runs replication from now on.
  void EnterCluster(Cluster cluster);

  // Answers a join-token, join or snapshot-chunk request (the
  // induction rows of request_kinds.h) with the functions below; any other
  // request is INVALID_ARGUMENT. The caller has authorized it.
  pb::Response Serve(const pb::Request& request, const ClientIdentity& who);

  // A one-time token for a candidate of `request.role()`. INVALID_STATE on a
  // standalone node, and for a read-write token on a node that already has a
  // read-write peer (as membership last read shows it); INVALID_ARGUMENT for
  // a TTL out of range.
  StatusOr<pb::JoinToken> IssueJoinToken(const pb::JoinTokenRequest& request);

  // Adds the candidate `join` (whose certificate is `who`) to the
  // membership and opens its snapshot transfer (the only way a transfer
  // opens). INVALID_STATE on a standalone node; PERMISSION_DENIED if the
  // certificate CN is not the candidate's name or the token is not valid for
  // it; the release check's error for an incompatible release;
  // ALREADY_EXISTS for a name in use (a member of that name that has joined,
  // InductionOver, is refused before its token is looked at, so a joined
  // member's still-valid token reopens nothing).
  StatusOr<pb::JoinAnswer> Join(const pb::JoinRequest& join, const ClientIdentity& who);

  // The next chunk of the snapshot of member `request.node_id()`, asked by
  // `who`, served only inside the open transfer its join opened.
  // INVALID_STATE on a standalone node; PERMISSION_DENIED (audited by the
  // caller, as every refusal) if the certificate CN is not that member's
  // name, if it is no member, if its induction is over (InductionOver: the
  // transfer is closed at once), or if no transfer is open for it (never
  // opened, closed, or expired).
  StatusOr<pb::SnapshotChunk> ServeSnapshotChunk(const pb::SnapshotChunkRequest& request,
                                                 const ClientIdentity& who);

  // At most once per kPruneIntervalMicros: closes the transfers that are over
  // (InductionOver, or the candidate left the cluster) or expired.
  void PruneInductions();

  // A member's induction is over once it has left PENDING (ACTIVE, or any
  // later state) or has been heard on a peer link (a candidate links only
  // after installing its whole snapshot).
  bool InductionOver(const pb::StoredNode& member) const;

  const InductionTransfers& transfers() const { return *transfers_; }

 private:
  storage::ObjectStore& store_;
  const Clock& clock_;
  const uint32_t self_id_;
  std::unique_ptr<InductionTransfers> transfers_;
  JoinTokens join_tokens_;
  std::optional<Cluster> cluster_;
  int64_t last_prune_ = 0;
};

}  // namespace coffer::node
