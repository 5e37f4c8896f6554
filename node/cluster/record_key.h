// The node's record-signing key against the key its membership row records
// (replication/README.md, "Records authenticated by their origin").
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "proto/records.pb.h"
#include "storage/record_auth.h"

namespace coffer::node {

// OK if member `self` records `signer`'s public key (or no key, or is not
// listed). INVALID_STATE otherwise: the node key (tls.key_file) is not the one
// the cluster verifies this node's records with, so every other node would
// refuse its records; the node must not start on it.
Status CheckRecordKey(const std::vector<pb::StoredNode>& members, uint32_t self,
                      const storage::RecordSigner& signer);

}  // namespace coffer::node
