// The write paths: Execute (plan, stamp, apply) and ApplyRemote (checks,
// apply), both through one Apply() that writes a record's effect, its sealed
// log copy, the applied seq and the request id into one transaction, which
// Commit writes as one batch.
#include <map>
#include <string>
#include <utility>

#include "common/limits.h"
#include "storage/keys.h"
#include "storage/merge.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"
#include "storage/object_store/log_tail.h"
#include "storage/record_auth.h"

namespace coffer::storage {

Status ObjectStore::Txn::Overlay::Get(std::string_view key, std::string* value) const {
  auto it = txn_.pending_.find(std::string(key));
  if (it == txn_.pending_.end()) return txn_.base_.Get(key, value);
  if (!it->second) return NotFound(std::string(key));
  *value = *it->second;
  return Status::Ok();
}

WriteBatch ObjectStore::Txn::ToBatch() const {
  WriteBatch batch;
  for (const auto& [k, v] : pending_) {
    if (v) {
      batch.Put(k, *v);
    } else {
      batch.Delete(k);
    }
  }
  std::string d;
  for (uint64_t lane : digest.lanes) keys::AppendBe64(&d, lane);
  batch.Put(keys::kMetaDigest, d);
  std::string count;
  keys::AppendBe64(&count, object_count);
  batch.Put(keys::kMetaObjectCount, count);
  return batch;
}

StatusOr<pb::OpResult> ObjectStore::Execute(const pb::Op& op, const std::string& request_id,
                                            Durability durability) {
  if (request_id.empty() || request_id.size() > kMaxRequestIdBytes) {
    return InvalidArgument("a write needs a request id of 1 to 128 bytes");
  }
  COFFER_ASSIGN_OR_RETURN(auto original, FindRequest(request_id));
  if (original) return original->result;

  COFFER_ASSIGN_OR_RETURN(pb::LogRecord record, Plan(op));
  uint32_t self = options_.node_id.value;
  HlcStamp now = hlc_.Now();
  record.set_origin(self);
  auto own = applied_.find(self);
  record.set_seq((own == applied_.end() ? 0 : own->second) + 1);
  record.mutable_hlc()->set_wall_micros(now.wall_micros);
  record.mutable_hlc()->set_logical(now.logical);
  record.set_request_id(request_id);
  record.set_format(RecordFormatOf(record));
  record.set_prev_digest(ChainHead(self));
  if (record.has_object_created() && !record.object_created().material().empty()) {
    auto* created = record.mutable_object_created();
    created->set_material_digest(MaterialDigest(created->material()));
  }
  // Signed now if nothing else will sign it: a synced write is a group
  // commit of its own; a run reaching the bounds is cut here.
  const uint64_t size = record.ByteSizeLong();
  const bool sign_now =
      options_.signer != nullptr && (durability == Durability::kSync ||
                                     own_unsigned_records_ + 1 >= limits::kChainSignEveryRecords ||
                                     own_unsigned_bytes_ + size >= limits::kChainSignEveryBytes);
  if (sign_now) COFFER_RETURN_IF_ERROR(SignRecord(*options_.signer, &record));
  Txn txn(*kv_, *this);
  COFFER_RETURN_IF_ERROR(Apply(txn, record));
  COFFER_RETURN_IF_ERROR(Commit(txn, durability));
  if (sign_now || options_.signer == nullptr) {
    own_unsigned_tip_ = own_unsigned_records_ = own_unsigned_bytes_ = 0;
  } else {
    own_unsigned_tip_ = record.seq();
    ++own_unsigned_records_;
    own_unsigned_bytes_ += size;
  }
  return record.result();
}

const std::string& ObjectStore::ChainHead(uint32_t origin) const {
  auto it = chain_heads_.find(origin);
  return it == chain_heads_.end() ? ChainStart() : it->second;
}

Status ObjectStore::SignChainTip() {
  if (options_.signer == nullptr || own_unsigned_tip_ == 0) return Status::Ok();
  const std::string key = keys::Log(options_.node_id.value, own_unsigned_tip_);
  COFFER_ASSIGN_OR_RETURN(auto logged, LoadMessage<pb::LogRecord>(*kv_, key));
  if (logged) {
    // The log copy's signed form is the record's (sealed material and
    // material are outside it), so its signature is the record's.
    COFFER_RETURN_IF_ERROR(SignRecord(*options_.signer, &*logged));
    const std::string signed_row = logged->SerializeAsString();
    WriteBatch batch;
    batch.Put(key, signed_row);
    COFFER_RETURN_IF_ERROR(kv_->Write(batch, /*sync=*/false));
    // The in-memory tail holds the unsigned copy: replace it, or peers
    // served from the tail would never get the signature that vouches for
    // the records before it.
    log_tail_->Rewrite(options_.node_id.value, own_unsigned_tip_, signed_row);
  }
  own_unsigned_tip_ = own_unsigned_records_ = own_unsigned_bytes_ = 0;
  return Status::Ok();
}

StatusOr<bool> ObjectStore::ObjectDestroyed(const std::string& uuid) const {
  COFFER_ASSIGN_OR_RETURN(auto row, ReadObject(*kv_, uuid));
  return row.has_value() && row->stage() == pb::STAGE_DESTROYED;
}

StatusOr<std::optional<ObjectStore::RequestRecord>> ObjectStore::FindRequest(
    const std::string& request_id) const {
  COFFER_ASSIGN_OR_RETURN(auto row,
                          LoadMessage<pb::StoredRequest>(*kv_, keys::Request(request_id)));
  if (!row) return std::optional<RequestRecord>();
  return std::optional<RequestRecord>(RequestRecord{row->origin(), row->seq(), row->result()});
}

Status ObjectStore::ConfirmNames(const VersionVector& frontier) {
  WriteBatch batch;
  COFFER_RETURN_IF_ERROR(
      ForEachRow<pb::StoredWallet>(*kv_, keys::kWalletPrefix, [&](auto key, auto w) {
        auto covered = frontier.find(w.create_origin());
        if (w.created() && !w.confirmed() && covered != frontier.end() &&
            covered->second >= w.create_seq()) {
          w.set_confirmed(true);  // node-local: the digest does not change
          batch.Put(key, w.SerializeAsString());
        }
        return true;
      }));
  if (batch.empty()) return Status::Ok();
  return kv_->Write(batch, /*sync=*/false);
}

StatusOr<ApplyOutcome> ObjectStore::ApplyRemote(const pb::LogRecord& record,
                                                Durability durability) {
  Txn txn(*kv_, *this);
  COFFER_ASSIGN_OR_RETURN(ApplyOutcome outcome, ApplyRemoteInto(txn, record));
  if (outcome == ApplyOutcome::kApplied) COFFER_RETURN_IF_ERROR(Commit(txn, durability));
  return outcome;
}

StatusOr<std::vector<StatusOr<ApplyOutcome>>> ObjectStore::ApplyRemoteBatch(
    const std::vector<pb::LogRecord>& records, Durability durability) {
  Txn batch(*kv_, *this);
  std::vector<StatusOr<ApplyOutcome>> outcomes;
  outcomes.reserve(records.size());
  std::map<uint32_t, Status> refused;  // origin -> why its records stopped
  for (const auto& record : records) {
    auto stopped = refused.find(record.origin());
    if (stopped != refused.end()) {
      outcomes.emplace_back(
          Unavailable("an earlier record of origin " + std::to_string(record.origin()) +
                      " in the batch was refused: " + stopped->second.ToString()));
      continue;
    }
    StatusOr<ApplyOutcome> outcome = ApplyRemoteInto(batch, record);
    if (!outcome.ok()) refused.emplace(record.origin(), outcome.status());
    outcomes.push_back(std::move(outcome));
  }
  if (!batch.empty()) COFFER_RETURN_IF_ERROR(Commit(batch, durability));
  return outcomes;
}

StatusOr<ApplyOutcome> ObjectStore::ApplyRemoteInto(Txn& batch, const pb::LogRecord& record) {
  if (record.origin() == 0 || record.origin() == options_.node_id.value) {
    return InvalidArgument("record origin " + std::to_string(record.origin()) +
                           " is not a remote node");
  }
  if (record.seq() == 0 || record.body_case() == pb::LogRecord::BODY_NOT_SET) {
    return InvalidArgument("record without seq or body");
  }
  if (record.format() > options_.max_record_format) {
    return Status(Code::kIncompatibleVersion, "record format " + std::to_string(record.format()) +
                                                  " is newer than this binary reads (" +
                                                  std::to_string(options_.max_record_format) +
                                                  "): upgrade this node");
  }
  if (record.has_object_created() && !record.object_created().sealed_material().empty()) {
    return InvalidArgument("a replicated record carries material sealed by another node");
  }
  if (!MaterialMatches(record)) {
    return InvalidArgument("a replicated record's material does not match its material digest");
  }
  auto applied = batch.applied.find(record.origin());
  uint64_t have = applied == batch.applied.end() ? 0 : applied->second;
  if (record.seq() <= have) return ApplyOutcome::kDuplicate;
  if (record.seq() != have + 1) {
    return Unavailable("gap in origin " + std::to_string(record.origin()) + ": have " +
                       std::to_string(have) + ", got " + std::to_string(record.seq()));
  }
  COFFER_RETURN_IF_ERROR(hlc_.Observe({record.hlc().wall_micros(), record.hlc().logical()}));
  Txn txn(Txn::NestedIn{batch});
  COFFER_RETURN_IF_ERROR(Apply(txn, record));
  batch.Absorb(std::move(txn));
  return ApplyOutcome::kApplied;
}

Status ObjectStore::Commit(Txn& txn, Durability durability) {
  COFFER_RETURN_IF_ERROR(kv_->Write(txn.ToBatch(), durability == Durability::kSync));
  // Written: the log rows of this batch go to the in-memory tail too, as
  // stored: the record applied (its origin's newest) and any older record
  // rewritten in place (a destroy erasing a creation record's material).
  txn.ForEachPut(keys::kLogPrefix, [&](const std::string& key, const std::string& value) {
    uint32_t origin = keys::ReadBe32(std::string_view(key).substr(keys::kLogPrefix.size(), 4));
    uint64_t seq = keys::ReadBe64(std::string_view(key).substr(key.size() - 8));
    auto before = applied_.find(origin);
    if (before == applied_.end() || seq > before->second) {
      log_tail_->Append(origin, seq, value);
    } else {
      log_tail_->Rewrite(origin, seq, value);
    }
  });
  applied_ = std::move(txn.applied);
  chain_heads_ = std::move(txn.chain_heads);
  digest_ = txn.digest;
  object_count_ = txn.object_count;
  return Status::Ok();
}

// Merges one element of a membership set (a member, a grant) into its row.
template <typename Element>
Status ObjectStore::MergeElement(Txn& txn, const std::string& key, const Element& incoming,
                                 void (*merge_fn)(Element*, const Element&)) {
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<Element>(txn.reader(), key));
  Element now = old.value_or(Element());
  merge_fn(&now, incoming);
  txn.PutEntity(key, old, now);
  return Status::Ok();
}

Status ObjectStore::ApplyMembersMoved(Txn& txn, const pb::MembersMoved& b, const pb::Stamp& stamp) {
  if (!Uuid::IsValid(b.source()) || !Uuid::IsValid(b.target())) {
    return InvalidArgument("record with a bad wallet uuid");
  }
  if (static_cast<size_t>(b.objects_size()) > limits::kMaxMembersPerTransfer) {
    return InvalidArgument("record moving more than " +
                           std::to_string(limits::kMaxMembersPerTransfer) + " members");
  }
  for (const std::string& object : b.objects()) {
    if (!Uuid::IsValid(object)) return InvalidArgument("record with a bad object uuid");
    pb::StoredMember joins;  // each as a MemberSet with this record's stamp
    joins.set_present(true);
    *joins.mutable_stamp() = stamp;
    COFFER_RETURN_IF_ERROR(
        MergeElement(txn, keys::Member(b.target(), object), joins, merge::MergeMember));
    if (!b.move()) continue;
    pb::StoredMember leaves = joins;
    leaves.set_present(false);
    COFFER_RETURN_IF_ERROR(
        MergeElement(txn, keys::Member(b.source(), object), leaves, merge::MergeMember));
  }
  return Status::Ok();
}

Status ObjectStore::Apply(Txn& txn, const pb::LogRecord& record) {
  pb::Stamp stamp =
      merge::MakeStamp({record.hlc().wall_micros(), record.hlc().logical()}, record.origin());
  switch (record.body_case()) {
    case pb::LogRecord::kObjectCreated:
      COFFER_RETURN_IF_ERROR(ApplyObjectCreated(txn, record, stamp));
      break;
    case pb::LogRecord::kAttributesSet:
      COFFER_RETURN_IF_ERROR(ApplyAttributesSet(txn, record.attributes_set(), stamp));
      break;
    case pb::LogRecord::kLifecycleRaised: {
      pb::AttributesSet dates;
      dates.set_uuid(record.lifecycle_raised().uuid());
      *dates.mutable_attributes() = record.lifecycle_raised().attributes();
      COFFER_RETURN_IF_ERROR(ApplyAttributesSet(txn, dates, stamp));
      COFFER_RETURN_IF_ERROR(ApplyLifecycle(txn, record.lifecycle_raised()));
      break;
    }
    case pb::LogRecord::kWalletCreated:
      COFFER_RETURN_IF_ERROR(ApplyWalletCreated(txn, record.wallet_created(), stamp, record.seq()));
      break;
    case pb::LogRecord::kMemberSet: {
      const auto& b = record.member_set();
      pb::StoredMember incoming;
      incoming.set_present(b.present());
      *incoming.mutable_stamp() = stamp;
      COFFER_RETURN_IF_ERROR(
          MergeElement(txn, keys::Member(b.wallet(), b.object()), incoming, merge::MergeMember));
      break;
    }
    case pb::LogRecord::kMembersMoved:
      COFFER_RETURN_IF_ERROR(ApplyMembersMoved(txn, record.members_moved(), stamp));
      break;
    case pb::LogRecord::kEndpointCreated:
      COFFER_RETURN_IF_ERROR(ApplyEndpointCreated(txn, record.endpoint_created(), stamp));
      break;
    case pb::LogRecord::kEndpointBound:
      COFFER_RETURN_IF_ERROR(ApplyEndpointBound(txn, record.endpoint_bound(), stamp));
      break;
    case pb::LogRecord::kGrantSet: {
      const auto& b = record.grant_set();
      pb::StoredGrant incoming;
      incoming.set_access(b.access());
      incoming.set_manage_wallet(b.manage_wallet());
      *incoming.mutable_stamp() = stamp;
      COFFER_RETURN_IF_ERROR(
          MergeElement(txn, keys::Grant(b.endpoint(), b.wallet()), incoming, merge::MergeGrant));
      break;
    }
    case pb::LogRecord::kRenamed:
      COFFER_RETURN_IF_ERROR(ApplyRenamed(txn, record.renamed(), stamp));
      break;
    case pb::LogRecord::kClusterCreated:
      COFFER_RETURN_IF_ERROR(ApplyClusterCreated(txn, record.cluster_created(), stamp));
      break;
    case pb::LogRecord::kNodeAdded:
      COFFER_RETURN_IF_ERROR(ApplyNodeAdded(txn, record.node_added(), stamp));
      break;
    case pb::LogRecord::kNodeStateSet:
      COFFER_RETURN_IF_ERROR(ApplyNodeStateSet(txn, record.node_state_set(), stamp));
      break;
    case pb::LogRecord::kNodeDeleted:
      COFFER_RETURN_IF_ERROR(ApplyNodeDeleted(txn, record.node_deleted()));
      break;
    case pb::LogRecord::kClusterSettingSet:
      COFFER_RETURN_IF_ERROR(ApplyClusterSettingSet(txn, record.cluster_setting_set(), stamp));
      break;
    case pb::LogRecord::kNodeVersionSet:
      COFFER_RETURN_IF_ERROR(ApplyNodeVersionSet(txn, record.node_version_set(), stamp));
      break;
    case pb::LogRecord::kClusterVersionSet:
      COFFER_RETURN_IF_ERROR(ApplyClusterVersionSet(txn, record.cluster_version_set()));
      break;
    case pb::LogRecord::kUpgradePlanSet:
      COFFER_RETURN_IF_ERROR(ApplyUpgradePlanSet(txn, record.upgrade_plan_set(), stamp));
      break;
    default:
      return InvalidArgument("record has no known body");
  }

  // The log copy never holds plaintext: material is sealed to this position.
  // A creation applied after its object's destroy (the destroy came from
  // another origin first) is logged without material, as ApplyLifecycle
  // rewrites it when the destroy comes second. Only the material goes: the
  // signed form covers its digest, so the copy still chains and verifies.
  pb::LogRecord logged = record;
  if (logged.has_object_created()) {
    COFFER_ASSIGN_OR_RETURN(auto row, ReadObject(txn.reader(), logged.object_created().uuid()));
    if (row && row->stage() == pb::STAGE_DESTROYED) {
      logged.mutable_object_created()->clear_material();
    }
  }
  if (logged.has_object_created() && !logged.object_created().material().empty()) {
    auto* created = logged.mutable_object_created();
    COFFER_ASSIGN_OR_RETURN(
        std::string sealed,
        sealer_->Seal(created->material(), LogAad(record.origin(), record.seq(), created->uuid())));
    created->set_sealed_material(std::move(sealed));
    created->clear_material();
  }
  txn.Put(keys::Log(record.origin(), record.seq()), logged.SerializeAsString());
  txn.SetApplied(record.origin(), record.seq(), ChainDigestInPlace(&logged));
  if (!record.request_id().empty()) {
    // Two nodes may each have accepted the same request id (two clients chose
    // it). Every node keeps the record with the smaller stamp, so a retry gets
    // the same answer everywhere whatever the order of application.
    std::string key = keys::Request(record.request_id());
    COFFER_ASSIGN_OR_RETURN(auto existing, LoadMessage<pb::StoredRequest>(txn.reader(), key));
    if (!existing || merge::CompareStamps(stamp, existing->stamp()) < 0) {
      pb::StoredRequest row;
      row.set_origin(record.origin());
      row.set_seq(record.seq());
      *row.mutable_stamp() = stamp;
      *row.mutable_result() = record.result();
      txn.Put(key, row.SerializeAsString());
    }
  }
  return Status::Ok();
}

}  // namespace coffer::storage
