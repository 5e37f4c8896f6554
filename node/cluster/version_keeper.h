// The node's side of the cluster version (semantics.md section 6): each
// round it performs the step upgrade::Decide takes (record this binary's
// release, fence, bump), then refreshes what the rest of the node reads from
// it: the version floor the peer admission enforces and the gate snapshot
// client requests are checked against.
//
// Threading: the store thread (the replicator's owner).
#pragma once

#include <memory>

#include "common/rng.h"
#include "node/cluster/admission.h"
#include "replication/replicator.h"
#include "storage/object_store.h"
#include "upgrade/binary_profile.h"
#include "upgrade/gate.h"

namespace coffer::node {

class VersionKeeper {
 public:
  explicit VersionKeeper(const upgrade::BinaryProfile& binary);

  // One round; failures are logged and the step is decided again next round.
  void Round(storage::ObjectStore& store, replication::Replicator& replicator,
             PeerAdmission& admission, Rng& rng);

  // Re-reads the version floor and the gate from `store` (what Round ends
  // with): at start, before any round, and on a standalone node.
  void Refresh(const storage::ObjectStore& store, PeerAdmission& admission);

  // The snapshot of the last round (before any: this binary's own version
  // with nothing active above it). A request keeps the one it took.
  std::shared_ptr<const upgrade::GateSnapshot> gate() const { return gate_; }

 private:
  const upgrade::BinaryProfile& binary_;
  std::shared_ptr<const upgrade::GateSnapshot> gate_;
};

}  // namespace coffer::node
