// Induction, receiving side: installing another node's snapshot on this fresh
// store, one chunk per atomic batch, resumable after a crash, with the
// sender's digest checked before anything is marked applied.
#include <string>

#include "storage/keys.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"
#include "storage/object_store/log_tail.h"

namespace coffer::storage {

StatusOr<std::optional<std::string>> ObjectStore::InstallResumePoint() const {
  std::string value;
  Status s = kv_->Get(keys::kMetaInstalling, &value);
  if (s.code() == Code::kNotFound) return std::optional<std::string>();
  if (!s.ok()) return s;
  return std::optional<std::string>(value);
}

Status ObjectStore::InstallSnapshotChunk(const pb::SnapshotChunk& chunk) {
  if (chunk.checksum() != SnapshotChunkChecksum(chunk)) {
    return DataLoss("snapshot chunk after '" + chunk.after() +
                    "' does not match its checksum: it was damaged on the way; nothing of it was "
                    "installed (fetch it again)");
  }
  COFFER_ASSIGN_OR_RETURN(auto resume, InstallResumePoint());
  if (resume) {
    if (chunk.after() != *resume) {
      return InvalidState("the install continues after key '" + *resume +
                          "', but this chunk starts after '" + chunk.after() + "'");
    }
  } else {
    COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
    if (!applied_.empty() || cluster || !chunk.after().empty()) {
      return InvalidState("a snapshot installs only on a fresh node (no records, no cluster)");
    }
  }
  // Every row is new (a fresh store); PutEntity adds its index entries.
  Txn txn(*kv_, *this);
  for (const auto& entry : chunk.entries()) {
    switch (entry.entry_case()) {
      case pb::SnapshotEntry::kObject: {
        pb::StoredObject o = entry.object();
        if (!Uuid::IsValid(o.uuid())) return InvalidArgument("snapshot object with a bad uuid");
        if (!entry.material().empty() && o.stage() != pb::STAGE_DESTROYED) {
          COFFER_ASSIGN_OR_RETURN(std::string sealed,
                                  sealer_->Seal(entry.material(), ObjectAad(o.uuid())));
          o.set_sealed_material(std::move(sealed));
        }
        txn.PutEntity(keys::Object(o.uuid()), std::optional<pb::StoredObject>(), o);
        if (o.created()) ++txn.object_count;
        break;
      }
      case pb::SnapshotEntry::kWallet: {
        pb::StoredWallet w = entry.wallet();
        w.set_confirmed(options_.confirm_names_on_apply);
        txn.PutEntity(keys::Wallet(w.uuid()), std::optional<pb::StoredWallet>(), w);
        break;
      }
      case pb::SnapshotEntry::kEndpoint:
        txn.PutEntity(keys::Endpoint(entry.endpoint().uuid()), std::optional<pb::StoredEndpoint>(),
                      entry.endpoint());
        break;
      case pb::SnapshotEntry::kMember:
        txn.PutEntity(keys::Member(entry.member().first(), entry.member().second()),
                      std::optional<pb::StoredMember>(), entry.member().member());
        break;
      case pb::SnapshotEntry::kGrant:
        txn.PutEntity(keys::Grant(entry.grant().first(), entry.grant().second()),
                      std::optional<pb::StoredGrant>(), entry.grant().grant());
        break;
      case pb::SnapshotEntry::kNode:
        txn.PutEntity(keys::Node(entry.node().node_id()), std::optional<pb::StoredNode>(),
                      entry.node());
        break;
      case pb::SnapshotEntry::kCluster:
        txn.PutEntity(std::string(keys::kClusterKey), std::optional<pb::StoredCluster>(),
                      entry.cluster());
        break;
      case pb::SnapshotEntry::kRequest:
        txn.Put(keys::Request(entry.request().request_id()),
                entry.request().row().SerializeAsString());
        break;
      default:
        return InvalidArgument("snapshot entry of an unknown kind");
    }
  }
  if (!chunk.last()) {
    txn.Put(std::string(keys::kMetaInstalling), chunk.resume_after());
    return Commit(txn, Durability::kSync);
  }
  std::string expected;
  for (uint64_t lane : txn.digest.lanes) keys::AppendBe64(&expected, lane);
  if (expected != chunk.digest()) {
    return DataLoss(
        "the installed snapshot's digest differs from the sender's; the transfer "
        "was damaged: wipe this node's data directory and induct it again");
  }
  for (const auto& [origin, seq] : chunk.applied().applied()) {
    auto head = chunk.chain_heads().find(origin);
    if (head == chunk.chain_heads().end() || head->second.size() != 32) {
      return DataLoss("the snapshot lacks the chain head of origin " + std::to_string(origin) +
                      ": wipe this node's data directory and induct it again");
    }
    txn.SetApplied(origin, seq, head->second);
  }
  txn.Delete(std::string(keys::kMetaInstalling));
  COFFER_RETURN_IF_ERROR(Commit(txn, Durability::kSync));
  // The log restarts after the installed applied vector.
  log_tail_->Clear();
  // New stamps must stay above everything the snapshot holds.
  hlc_.Restore({chunk.hlc().wall_micros(), chunk.hlc().logical()});
  return LoadState();
}

}  // namespace coffer::storage
