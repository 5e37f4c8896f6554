// Performs the sans-IO node-state and log GC decisions
// (replication/core/node_lifecycle.h) on a node's store and replicator, and
// reads the membership they decide from out of the store's member rows. The
// node (node/node.cc) and the simulation (tests/sim/) both drive lifecycle and
// log GC through here, so the simulation runs what a node runs.
//
// Threading: the replicator's owner thread, as Replicator.
#pragma once

#include <optional>
#include <vector>

#include "common/clock.h"
#include "common/rng.h"
#include "common/status.h"
#include "proto/records.pb.h"
#include "replication/core/node_lifecycle.h"
#include "replication/core/replication_core.h"
#include "replication/replicator.h"
#include "storage/object_store.h"

namespace coffer::replication {

// The core's view of `nodes` (deleted rows are left out).
std::vector<Member> CoreMembers(const std::vector<pb::StoredNode>& nodes);

// What lifecycle and log GC need of `nodes` under `cluster`'s settings
// (deleted rows are left out).
std::vector<MemberRecord> MemberRecords(const std::vector<pb::StoredNode>& nodes,
                                        const pb::StoredCluster& cluster);

// This node's stored state (ACTIVE if it has no row: a standalone store).
pb::NodeState SelfState(const std::vector<pb::StoredNode>& nodes, uint32_t self);

// Performs `lifecycle`'s next step for this node: asks the replicator to
// start the catch-up, or writes the state change (DISABLED or ACTIVE, synced,
// request id "lifecycle-<uuid from rng>"). Returns the state written, nullopt
// if none; an error if the write failed (the step is decided again next time).
StatusOr<std::optional<pb::NodeState>> StepLifecycle(NodeLifecycle& lifecycle,
                                                     pb::NodeState self_state,
                                                     Replicator& replicator, Rng& rng);

// Runs log GC if `gc` is due (by the clock's monotonic time): deletes, per
// origin, the log records LogGc::CollectibleThrough allows (at most
// max_records_per_round each). Returns how many records were deleted.
StatusOr<uint64_t> RunLogGc(LogGc& gc, storage::ObjectStore& store, const Replicator& replicator,
                            const Clock& clock);

}  // namespace coffer::replication
