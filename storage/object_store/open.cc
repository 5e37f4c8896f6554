// Opening a store: format check, the node's data key (unwrapped, or created
// and wrapped on first open) and the state kept in memory (applied vector,
// digest, object count, the HLC's floor).
#include <string>
#include <utility>

#include "storage/keys.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"
#include "storage/object_store/log_tail.h"

namespace coffer::storage {

StatusOr<VersionVector> ReadAppliedVector(const KvReader& reader,
                                          std::map<uint32_t, std::string>* heads) {
  VersionVector applied;
  Status inner = Status::Ok();
  COFFER_RETURN_IF_ERROR(reader.Scan(keys::kAppliedPrefix, "", [&](auto key, auto value) {
    if (key.size() != keys::kAppliedPrefix.size() + 4 || value.size() != 8 + 32) {
      inner = DataLoss("malformed applied row " + std::string(key));
      return false;
    }
    uint32_t origin = keys::ReadBe32(key.substr(keys::kAppliedPrefix.size()));
    applied[origin] = keys::ReadBe64(value);
    if (heads != nullptr) (*heads)[origin] = std::string(value.substr(8));
    return true;
  }));
  COFFER_RETURN_IF_ERROR(inner);
  return applied;
}

ObjectStore::ObjectStore(std::unique_ptr<KvStore> kv, std::unique_ptr<Sealer> sealer,
                         const Clock& clock, Rng& rng, ObjectStoreOptions options)
    : kv_(std::move(kv)),
      sealer_(std::move(sealer)),
      clock_(clock),
      rng_(rng),
      hlc_(clock),
      options_(options),
      log_tail_(std::make_unique<LogTail>(options.log_tail_bytes)) {}

ObjectStore::~ObjectStore() = default;

StatusOr<std::unique_ptr<ObjectStore>> ObjectStore::Open(std::unique_ptr<KvStore> kv,
                                                         const RootOfTrust& root,
                                                         const Clock& clock, Rng& rng,
                                                         ObjectStoreOptions options) {
  if (!options.node_id.valid()) return InvalidArgument("node id 0 is reserved");
  std::string format;
  Status s = kv->Get(keys::kMetaFormat, &format);
  if (s.ok() && format != std::to_string(kStoreFormat)) {
    return Status(Code::kIncompatibleVersion, "store format " + format +
                                                  " is not supported by this binary (supports " +
                                                  std::to_string(kStoreFormat) + ")");
  }
  if (!s.ok() && s.code() != Code::kNotFound) return s;

  COFFER_ASSIGN_OR_RETURN(auto wrapped,
                          LoadMessage<pb::WrappedDataKey>(*kv, std::string(keys::kMetaDataKey)));
  SecretBytes data_key;
  if (wrapped) {
    COFFER_ASSIGN_OR_RETURN(data_key, root.Unwrap(*wrapped));
  } else {
    bool has_data = false;
    COFFER_RETURN_IF_ERROR(kv->Scan(keys::kAppliedPrefix, "", [&](auto, auto) {
      has_data = true;
      return false;
    }));
    if (has_data) return DataLoss("store holds records but its wrapped data key is missing");
    COFFER_ASSIGN_OR_RETURN(data_key, RandomSecret(kDataKeyBytes));
    COFFER_ASSIGN_OR_RETURN(pb::WrappedDataKey new_wrapped, root.Wrap(data_key));
    WriteBatch batch;
    batch.Put(keys::kMetaDataKey, new_wrapped.SerializeAsString());
    batch.Put(keys::kMetaFormat, std::to_string(kStoreFormat));
    COFFER_RETURN_IF_ERROR(kv->Write(batch, /*sync=*/true));
  }
  COFFER_ASSIGN_OR_RETURN(auto sealer, Sealer::Create(data_key));
  std::unique_ptr<ObjectStore> store(
      new ObjectStore(std::move(kv), std::move(sealer), clock, rng, options));
  COFFER_RETURN_IF_ERROR(store->LoadState());
  COFFER_RETURN_IF_ERROR(store->SignUnsignedTipAtOpen());
  return store;
}

Status ObjectStore::LoadState() {
  chain_heads_.clear();
  COFFER_ASSIGN_OR_RETURN(applied_, ReadAppliedVector(*kv_, &chain_heads_));
  std::string value;
  Status s = kv_->Get(keys::kMetaDigest, &value);
  if (s.ok() && value.size() == 32) {
    for (int i = 0; i < 4; ++i)
      digest_.lanes[i] = keys::ReadBe64(std::string_view(value).substr(8 * i));
  } else if (s.ok() || s.code() != Code::kNotFound) {
    return s.ok() ? DataLoss("digest row has the wrong size") : s;
  }
  s = kv_->Get(keys::kMetaObjectCount, &value);
  if (s.ok() && value.size() == 8) {
    object_count_ = keys::ReadBe64(value);
  } else if (s.ok() || s.code() != Code::kNotFound) {
    return s.ok() ? DataLoss("object count row has the wrong size") : s;
  }
  // New stamps must stay above every stamp this node has issued or applied,
  // across restarts and even if the wall clock went back.
  for (const auto& [origin, seq] : applied_) {
    COFFER_ASSIGN_OR_RETURN(auto last, LoadMessage<pb::LogRecord>(*kv_, keys::Log(origin, seq)));
    if (last) hlc_.Restore({last->hlc().wall_micros(), last->hlc().logical()});
  }
  return Status::Ok();
}

// A crash can keep this node's last records without the signature the next
// group commit would have put on the last of them (RocksDB may keep part of
// the unsynced writes). They were never sent; they are signed now, before
// any replicator reads them.
Status ObjectStore::SignUnsignedTipAtOpen() {
  auto own = applied_.find(options_.node_id.value);
  if (options_.signer == nullptr || own == applied_.end()) return Status::Ok();
  COFFER_ASSIGN_OR_RETURN(
      auto tip, LoadMessage<pb::LogRecord>(*kv_, keys::Log(options_.node_id.value, own->second)));
  if (!tip || !tip->signature().empty()) return Status::Ok();
  own_unsigned_tip_ = own->second;
  COFFER_RETURN_IF_ERROR(SignChainTip());
  return kv_->Sync();
}

}  // namespace coffer::storage
