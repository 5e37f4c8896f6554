#include "node/cluster/record_key.h"

#include <string>

namespace coffer::node {

Status CheckRecordKey(const std::vector<pb::StoredNode>& members, uint32_t self,
                      const storage::RecordSigner& signer) {
  for (const auto& m : members) {
    if (m.node_id() != self || m.public_key().empty()) continue;
    if (m.public_key() != signer.PublicKey()) {
      return InvalidState(
          "the node key (tls.key_file) is not the key the cluster recorded for "
          "node " +
          std::to_string(self) +
          " at its induction: every other node would refuse its records. Start "
          "it with the key of the certificate it joined with, or induct it anew");
    }
  }
  return Status::Ok();
}

}  // namespace coffer::node
