// Whether this binary may run a node's store, answered without changing a
// byte of it (semantics.md section 6): the node checks before it opens its
// store for writing, and `coffer node check-store` (the orchestrator's
// pre-check) reports the same.
#pragma once

#include <string>

#include "common/release.h"
#include "common/status.h"
#include "upgrade/binary_profile.h"

namespace coffer::upgrade {

struct StoreCheck {
  bool exists = false;       // a store is there (else a new node: it passes)
  std::string store_format;  // M/format as stored
  bool clustered = false;    // the store belongs to a cluster
  std::string cluster_name;
  // The cluster version as stored; "" in a clustered store written by 0.1
  // (before cluster versions), which only a 0.2 binary opens (a full
  // restart, docs/upgrade.md).
  std::string cluster_version;
  // The highest version any member fenced (every member ran at least that
  // release when it did): a binary below it is refused too.
  std::string highest_fence;
  Status verdict;  // OK, or why this binary may not run it
};

// Opens the RocksDB directory `db_path` read-only (nothing is created or
// written), reads the store format, the cluster row and the member rows,
// and decides whether `binary` may run the store. An error only when the
// store cannot be read at all (DATA_LOSS, UNAVAILABLE...).
StatusOr<StoreCheck> CheckStore(const std::string& db_path, const BinaryProfile& binary);

}  // namespace coffer::upgrade
