#include "storage/object_store.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "common/fault_point.h"
#include "storage/keys.h"
#include "storage/membership.h"
#include "storage/merge.h"

namespace coffer::storage {
namespace {

constexpr uint32_t kStoreFormat = 1;
constexpr uint32_t kRecordFormat = 1;
constexpr size_t kMaxMaterialBytes = 64 * 1024;
constexpr size_t kMaxRequestIdBytes = 128;
constexpr size_t kMaxAttributeTextBytes = 4096;
constexpr size_t kMaxAttributesPerOp = 64;

std::string ObjectAad(std::string_view uuid) { return "coffer/object/v1|" + std::string(uuid); }
std::string LogAad(uint32_t origin, uint64_t seq, std::string_view uuid) {
  return "coffer/log/v1|" + std::to_string(origin) + "|" + std::to_string(seq) + "|" +
         std::string(uuid);
}

template <typename Msg>
StatusOr<std::optional<Msg>> LoadMessage(const KvReader& reader, const std::string& key) {
  std::string value;
  Status s = reader.Get(key, &value);
  if (s.code() == Code::kNotFound) return std::optional<Msg>();
  if (!s.ok()) return s;
  Msg msg;
  if (!msg.ParseFromString(value)) return DataLoss("cannot parse stored row " + key);
  return std::optional<Msg>(std::move(msg));
}

// Visits every row under `prefix`, parsed as Msg, in key order; `visit`
// returns false to stop. DATA_LOSS for a row that does not parse.
template <typename Msg, typename Visit>
Status ForEachRow(const KvReader& reader, std::string_view prefix, Visit visit) {
  Status inner = Status::Ok();
  COFFER_RETURN_IF_ERROR(reader.Scan(prefix, "", [&](std::string_view key, std::string_view value) {
    Msg m;
    if (!m.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      inner = DataLoss("cannot parse row " + std::string(key));
      return false;
    }
    return visit(key, m);
  }));
  return inner;
}

// Canonical replicated form: node-local fields cleared, deterministic bytes.
std::string CanonicalOf(pb::StoredObject o) {
  o.clear_sealed_material();
  o.clear_create_origin();
  o.clear_create_seq();
  return DeterministicBytes(o);
}
std::string CanonicalOf(pb::StoredWallet w) {
  w.clear_confirmed();
  return DeterministicBytes(w);
}
template <typename Msg>
std::string CanonicalOf(Msg m) {
  return DeterministicBytes(m);
}

std::array<uint64_t, 4> EntityHash(std::string_view key, std::string_view canonical) {
  // Fetched once: an explicit fetch avoids a provider lookup on every hash.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  // These fail only when memory runs out; a wrong digest would silently hide
  // divergence, so the process stops instead.
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), key.data(), key.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), "\0", 1) != 1 ||
      EVP_DigestUpdate(ctx.get(), canonical.data(), canonical.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &md_len) != 1 || md_len < 32) {
    std::fputs("coffer: SHA-256 failed (out of memory?)\n", stderr);
    std::abort();
  }
  std::array<uint64_t, 4> lanes{};
  for (int i = 0; i < 4; ++i) {
    lanes[i] = keys::ReadBe64(std::string_view(reinterpret_cast<char*>(md) + 8 * i, 8));
  }
  return lanes;
}

}  // namespace

std::string SnapshotChunkChecksum(pb::SnapshotChunk chunk) {
  chunk.clear_checksum();
  std::string out;
  for (uint64_t lane : EntityHash("snapshot-chunk", DeterministicBytes(chunk))) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(lane >> shift));
  }
  return out;
}

namespace {

merge::Lifecycle LifecycleOf(const pb::StoredObject& o) { return {o.stage(), o.compromised()}; }

bool IsLive(const pb::StoredObject& o) { return o.created() && o.stage() != pb::STAGE_DESTROYED; }

pb::AttributeValue TextValue(std::string s) {
  pb::AttributeValue v;
  v.set_text(std::move(s));
  return v;
}
pb::AttributeValue IntValue(int64_t i) {
  pb::AttributeValue v;
  v.set_integer(i);
  return v;
}
pb::AttributeValue BoolValue(bool b) {
  pb::AttributeValue v;
  v.set_boolean(b);
  return v;
}

// Attributes a client may set. Algorithm, length and the lifecycle dates are
// set by the node itself.
Status ValidateClientAttribute(const std::string& name, const pb::AttributeValue& value) {
  auto is_text = value.value_case() == pb::AttributeValue::kText;
  if (value.deleted()) {
    if (name.rfind("x-", 0) == 0 || name.rfind("tag:", 0) == 0 || name == "description" ||
        name == "contact") {
      return Status::Ok();
    }
    return InvalidArgument("attribute '" + name + "' cannot be deleted");
  }
  if (is_text && value.text().size() > kMaxAttributeTextBytes) {
    return InvalidArgument("attribute '" + name + "' is longer than 4096 bytes");
  }
  if (name.rfind("x-", 0) == 0) {
    if (name.size() < 3 || name.size() > 64) {
      return InvalidArgument("custom attribute names are x-<1..62 characters>");
    }
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
        return InvalidArgument("custom attribute name '" + name +
                               "' has a character other than "
                               "letters, digits, '-', '_' or '.'");
      }
    }
    if (!is_text) return InvalidArgument("custom attribute '" + name + "' takes a text value");
    return Status::Ok();
  }
  if (name.rfind("tag:", 0) == 0) {
    if (name.size() < 5 || name.size() > 68) return InvalidArgument("tags are 1..64 bytes long");
    if (value.value_case() != pb::AttributeValue::kBoolean || !value.boolean()) {
      return InvalidArgument("tag '" + name + "' takes the value true (delete it to remove)");
    }
    return Status::Ok();
  }
  if (name == "usage_mask") {
    if (value.value_case() != pb::AttributeValue::kInteger || value.integer() < 0) {
      return InvalidArgument("usage_mask takes a non-negative integer");
    }
    return Status::Ok();
  }
  if (name == "extractable") {
    if (value.value_case() != pb::AttributeValue::kBoolean) {
      return InvalidArgument("extractable takes true or false");
    }
    return Status::Ok();
  }
  if (name == "description" || name == "contact") {
    if (!is_text) return InvalidArgument("attribute '" + name + "' takes a text value");
    return Status::Ok();
  }
  return InvalidArgument("unknown attribute '" + name +
                         "' (settable: usage_mask, extractable, description, contact, "
                         "tag:<name>, x-<name>)");
}

Status ValidateClientAttributes(const google::protobuf::Map<std::string, pb::AttributeValue>& a) {
  if (a.size() > kMaxAttributesPerOp) {
    return InvalidArgument("at most 64 attributes per request");
  }
  for (const auto& [name, value] : a) COFFER_RETURN_IF_ERROR(ValidateClientAttribute(name, value));
  return Status::Ok();
}

bool IsExtractable(const pb::StoredObject& o) {
  auto it = o.attributes().find("extractable");
  if (it == o.attributes().end() || it->second.value().deleted()) return true;
  return it->second.value().boolean();
}

std::set<std::string> ObjectIndexKeys(const pb::StoredObject& o) {
  std::set<std::string> out;
  if (!o.created()) return out;
  out.insert(std::string(keys::kIndexTypePrefix) + std::to_string(o.type()) + "/" + o.uuid());
  out.insert(std::string(keys::kIndexStatePrefix) + std::to_string(merge::ToState(LifecycleOf(o))) +
             "/" + o.uuid());
  for (const auto& [name, attr] : o.attributes()) {
    if (attr.value().deleted()) continue;
    std::string k(keys::kIndexAttrPrefix);
    k.append(name).push_back('\0');
    k.append(AttributeText(attr.value())).push_back('\0');
    k.append(o.uuid());
    out.insert(std::move(k));
  }
  return out;
}

std::string AttrIndexPrefix(const std::string& name, const std::string& value) {
  std::string k(keys::kIndexAttrPrefix);
  k.append(name).push_back('\0');
  k.append(value).push_back('\0');
  return k;
}

// The name-index key of a live, created, named entity.
template <typename Entity>
std::optional<std::string> NameKeyOf(pb::EntityKind kind, const Entity& e, bool live) {
  if (!e.created() || !live || e.name().name().empty()) return std::nullopt;
  return keys::NameClaim(kind, e.name().name(), e.created_stamp(), e.uuid());
}

}  // namespace

std::string AttributeText(const pb::AttributeValue& v) {
  switch (v.value_case()) {
    case pb::AttributeValue::kText:
      return v.text();
    case pb::AttributeValue::kInteger:
      return std::to_string(v.integer());
    case pb::AttributeValue::kBoolean:
      return v.boolean() ? "true" : "false";
    default:
      return "";
  }
}

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

std::string Digest::Hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint64_t lane : lanes) {
    for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(lane >> shift) & 0xf]);
  }
  return out;
}

// Pending changes of one atomic batch, read-your-writes over the store.
class ObjectStore::Txn {
 public:
  Txn(const KvReader& base, const ObjectStore& store)
      : base_(base),
        applied(store.applied_),
        digest(store.digest_),
        object_count(store.object_count_) {}

  const KvReader& reader() const { return overlay_; }
  void Put(std::string key, std::string value) { pending_[std::move(key)] = std::move(value); }
  void Delete(std::string key) { pending_[std::move(key)] = std::nullopt; }

  // Replaces an entity row and moves the digest from its old to its new hash.
  template <typename Msg>
  void PutEntity(const std::string& key, const std::optional<Msg>& old, const Msg& now) {
    if (old) Subtract(EntityHash(key, CanonicalOf(*old)));
    Add(EntityHash(key, CanonicalOf(now)));
    Put(key, now.SerializeAsString());
  }

  // Moves index entries from `before` to `after`.
  void ReplaceIndex(const std::set<std::string>& before, const std::set<std::string>& after,
                    const std::string& value = "") {
    for (const auto& k : before) {
      if (!after.count(k)) Delete(k);
    }
    for (const auto& k : after) {
      if (!before.count(k)) Put(k, value);
    }
  }

  WriteBatch ToBatch() const {
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

 private:
  void Add(const std::array<uint64_t, 4>& h) {
    for (int i = 0; i < 4; ++i) digest.lanes[i] += h[i];
  }
  void Subtract(const std::array<uint64_t, 4>& h) {
    for (int i = 0; i < 4; ++i) digest.lanes[i] -= h[i];
  }

  // Reads pending changes first. Scans are not needed inside a transaction.
  class Overlay : public KvReader {
   public:
    explicit Overlay(const Txn& txn) : txn_(txn) {}
    Status Get(std::string_view key, std::string* value) const override {
      auto it = txn_.pending_.find(std::string(key));
      if (it == txn_.pending_.end()) return txn_.base_.Get(key, value);
      if (!it->second) return NotFound(std::string(key));
      *value = *it->second;
      return Status::Ok();
    }
    Status Scan(std::string_view, std::string_view, const KvVisitor&) const override {
      return Internal("scan inside a transaction");
    }

   private:
    const Txn& txn_;
  };

  const KvReader& base_;
  std::map<std::string, std::optional<std::string>> pending_;
  Overlay overlay_{*this};

 public:
  VersionVector applied;
  Digest digest;
  uint64_t object_count;
};

// ---------------------------------------------------------------- opening

ObjectStore::ObjectStore(std::unique_ptr<KvStore> kv, std::unique_ptr<Sealer> sealer,
                         const Clock& clock, Rng& rng, ObjectStoreOptions options)
    : kv_(std::move(kv)),
      sealer_(std::move(sealer)),
      clock_(clock),
      rng_(rng),
      hlc_(clock),
      options_(options) {}

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
  return store;
}

Status ObjectStore::LoadState() {
  COFFER_RETURN_IF_ERROR(kv_->Scan(keys::kAppliedPrefix, "", [&](auto key, auto value) {
    if (key.size() == keys::kAppliedPrefix.size() + 4 && value.size() == 8) {
      applied_[keys::ReadBe32(key.substr(keys::kAppliedPrefix.size()))] = keys::ReadBe64(value);
    }
    return true;
  }));
  std::string value;
  Status s = kv_->Get(keys::kMetaDigest, &value);
  if (s.ok() && value.size() == 32) {
    for (int i = 0; i < 4; ++i)
      digest_.lanes[i] = keys::ReadBe64(std::string_view(value).substr(8 * i));
  } else if (s.ok() || s.code() != Code::kNotFound) {
    return s.ok() ? DataLoss("digest row has the wrong size") : s;
  }
  s = kv_->Get(keys::kMetaObjectCount, &value);
  if (s.ok() && value.size() == 8) object_count_ = keys::ReadBe64(value);
  // New stamps must stay above every stamp this node has issued or applied,
  // across restarts and even if the wall clock went back.
  for (const auto& [origin, seq] : applied_) {
    COFFER_ASSIGN_OR_RETURN(auto last, LoadMessage<pb::LogRecord>(*kv_, keys::Log(origin, seq)));
    if (last) hlc_.Restore({last->hlc().wall_micros(), last->hlc().logical()});
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- writes

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
  record.set_format(kRecordFormat);
  Txn txn(*kv_, *this);
  COFFER_RETURN_IF_ERROR(Apply(txn, record));
  COFFER_RETURN_IF_ERROR(Commit(txn, durability));
  return record.result();
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
  if (record.origin() == 0 || record.origin() == options_.node_id.value) {
    return InvalidArgument("record origin " + std::to_string(record.origin()) +
                           " is not a remote node");
  }
  if (record.seq() == 0 || record.body_case() == pb::LogRecord::BODY_NOT_SET) {
    return InvalidArgument("record without seq or body");
  }
  if (record.format() > kRecordFormat) {
    return Status(Code::kIncompatibleVersion, "record format " + std::to_string(record.format()) +
                                                  " is newer than " +
                                                  std::to_string(kRecordFormat));
  }
  if (record.has_object_created() && !record.object_created().sealed_material().empty()) {
    return InvalidArgument("a replicated record carries material sealed by another node");
  }
  uint64_t have = applied_.count(record.origin()) ? applied_.at(record.origin()) : 0;
  if (record.seq() <= have) return ApplyOutcome::kDuplicate;
  if (record.seq() != have + 1) {
    return Unavailable("gap in origin " + std::to_string(record.origin()) + ": have " +
                       std::to_string(have) + ", got " + std::to_string(record.seq()));
  }
  COFFER_RETURN_IF_ERROR(hlc_.Observe({record.hlc().wall_micros(), record.hlc().logical()}));
  Txn txn(*kv_, *this);
  COFFER_RETURN_IF_ERROR(Apply(txn, record));
  COFFER_RETURN_IF_ERROR(Commit(txn, durability));
  return ApplyOutcome::kApplied;
}

Status ObjectStore::Commit(Txn& txn, Durability durability) {
  COFFER_RETURN_IF_ERROR(kv_->Write(txn.ToBatch(), durability == Durability::kSync));
  applied_ = std::move(txn.applied);
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
    case pb::LogRecord::kEndpointCreated:
      COFFER_RETURN_IF_ERROR(ApplyEndpointCreated(txn, record.endpoint_created(), stamp));
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
    default:
      return InvalidArgument("record has no known body");
  }

  // The log copy never holds plaintext: material is sealed to this position.
  // A creation applied after its object's destroy (the destroy came from
  // another origin first) is logged without material, as ApplyLifecycle
  // rewrites it when the destroy comes second.
  pb::LogRecord logged = record;
  if (logged.has_object_created()) {
    COFFER_ASSIGN_OR_RETURN(auto row, ReadObject(txn.reader(), logged.object_created().uuid()));
    if (row && row->stage() == pb::STAGE_DESTROYED) {
      logged.mutable_object_created()->clear_material();
      logged.mutable_object_created()->set_stage(pb::STAGE_DESTROYED);
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
  txn.applied[record.origin()] = record.seq();
  std::string seq;
  keys::AppendBe64(&seq, record.seq());
  txn.Put(keys::Applied(record.origin()), seq);
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

Status ObjectStore::ApplyObjectCreated(Txn& txn, const pb::LogRecord& r, const pb::Stamp& stamp) {
  const auto& b = r.object_created();
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad object uuid");
  std::string key = keys::Object(b.uuid());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredObject>(txn.reader(), key));
  if (old && old->created()) return Status::Ok();  // uuids are unique; a second create is void
  pb::StoredObject o = old.value_or(pb::StoredObject());
  o.set_uuid(b.uuid());
  o.set_created(true);
  o.set_type(b.type());
  *o.mutable_created_stamp() = stamp;
  pb::NameRegister name;
  name.set_name(b.name());
  *name.mutable_stamp() = stamp;
  merge::MergeName(o.mutable_name(), name);
  for (const auto& [attr_name, value] : b.attributes()) {
    pb::LwwAttribute incoming;
    *incoming.mutable_value() = value;
    *incoming.mutable_stamp() = stamp;
    merge::MergeAttribute(&(*o.mutable_attributes())[attr_name], incoming);
  }
  o.set_stage(std::max(o.stage(), b.stage()));
  o.set_material_length(b.material_length());
  o.set_create_origin(r.origin());
  o.set_create_seq(r.seq());
  if (o.stage() != pb::STAGE_DESTROYED && !b.material().empty()) {
    COFFER_ASSIGN_OR_RETURN(std::string sealed, sealer_->Seal(b.material(), ObjectAad(b.uuid())));
    o.set_sealed_material(std::move(sealed));
  }
  txn.PutEntity(key, old, o);
  txn.ReplaceIndex(old ? ObjectIndexKeys(*old) : std::set<std::string>{}, ObjectIndexKeys(o));
  auto old_name = old ? NameKeyOf(pb::ENTITY_OBJECT, *old, IsLive(*old)) : std::nullopt;
  auto new_name = NameKeyOf(pb::ENTITY_OBJECT, o, IsLive(o));
  txn.ReplaceIndex(old_name ? std::set{*old_name} : std::set<std::string>{},
                   new_name ? std::set{*new_name} : std::set<std::string>{}, o.uuid());
  ++txn.object_count;
  return Status::Ok();
}

Status ObjectStore::ApplyAttributesSet(Txn& txn, const pb::AttributesSet& b,
                                       const pb::Stamp& stamp) {
  if (b.attributes().empty()) return Status::Ok();
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad object uuid");
  std::string key = keys::Object(b.uuid());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredObject>(txn.reader(), key));
  pb::StoredObject o = old.value_or(pb::StoredObject());
  o.set_uuid(b.uuid());
  for (const auto& [attr_name, value] : b.attributes()) {
    pb::LwwAttribute incoming;
    *incoming.mutable_value() = value;
    *incoming.mutable_stamp() = stamp;
    merge::MergeAttribute(&(*o.mutable_attributes())[attr_name], incoming);
  }
  txn.PutEntity(key, old, o);
  txn.ReplaceIndex(old ? ObjectIndexKeys(*old) : std::set<std::string>{}, ObjectIndexKeys(o));
  return Status::Ok();
}

Status ObjectStore::ApplyLifecycle(Txn& txn, const pb::LifecycleRaised& b) {
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad object uuid");
  std::string key = keys::Object(b.uuid());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredObject>(txn.reader(), key));
  pb::StoredObject o = old.value_or(pb::StoredObject());
  o.set_uuid(b.uuid());
  merge::Lifecycle joined = merge::Join(LifecycleOf(o), {b.stage(), b.compromised()});
  o.set_stage(joined.stage);
  o.set_compromised(joined.compromised);
  o.set_revocation_reason(merge::JoinReason(o.revocation_reason(), b.reason()));
  bool newly_destroyed =
      o.stage() == pb::STAGE_DESTROYED && (!old || old->stage() != pb::STAGE_DESTROYED);
  if (newly_destroyed) {
    o.clear_sealed_material();
    // Erase the material from this node's copy of the creation record too. The
    // record now also says DESTROYED, which is what the creation joined with
    // this destroy means, so a node that receives it still converges.
    if (o.create_seq() > 0) {
      std::string log_key = keys::Log(o.create_origin(), o.create_seq());
      COFFER_ASSIGN_OR_RETURN(auto created, LoadMessage<pb::LogRecord>(txn.reader(), log_key));
      if (created && created->has_object_created()) {
        created->mutable_object_created()->clear_sealed_material();
        created->mutable_object_created()->set_stage(pb::STAGE_DESTROYED);
        txn.Put(log_key, created->SerializeAsString());
      }
    }
  }
  txn.PutEntity(key, old, o);
  txn.ReplaceIndex(old ? ObjectIndexKeys(*old) : std::set<std::string>{}, ObjectIndexKeys(o));
  auto old_name = old ? NameKeyOf(pb::ENTITY_OBJECT, *old, IsLive(*old)) : std::nullopt;
  auto new_name = NameKeyOf(pb::ENTITY_OBJECT, o, IsLive(o));
  txn.ReplaceIndex(old_name ? std::set{*old_name} : std::set<std::string>{},
                   new_name ? std::set{*new_name} : std::set<std::string>{}, o.uuid());
  return Status::Ok();
}

namespace {
// Wallets and endpoints share their shape: created flag, stamp, name register.
template <typename Entity, typename Body>
void FillNamedEntity(Entity* e, const Body& b, const pb::Stamp& stamp) {
  e->set_uuid(b.uuid());
  e->set_created(true);
  *e->mutable_created_stamp() = stamp;
  pb::NameRegister name;
  name.set_name(b.name());
  *name.mutable_stamp() = stamp;
  merge::MergeName(e->mutable_name(), name);
  e->set_description(b.description());
}
}  // namespace

Status ObjectStore::ApplyWalletCreated(Txn& txn, const pb::WalletCreated& b, const pb::Stamp& stamp,
                                       uint64_t seq) {
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad wallet uuid");
  std::string key = keys::Wallet(b.uuid());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredWallet>(txn.reader(), key));
  if (old && old->created()) return Status::Ok();
  pb::StoredWallet w = old.value_or(pb::StoredWallet());
  FillNamedEntity(&w, b, stamp);
  w.set_confirmed(options_.confirm_names_on_apply);
  w.set_create_origin(stamp.origin());
  w.set_create_seq(seq);
  txn.PutEntity(key, old, w);
  auto old_name = old ? NameKeyOf(pb::ENTITY_WALLET, *old, true) : std::nullopt;
  auto new_name = NameKeyOf(pb::ENTITY_WALLET, w, true);
  txn.ReplaceIndex(old_name ? std::set{*old_name} : std::set<std::string>{},
                   new_name ? std::set{*new_name} : std::set<std::string>{}, w.uuid());
  return Status::Ok();
}

Status ObjectStore::ApplyEndpointCreated(Txn& txn, const pb::EndpointCreated& b,
                                         const pb::Stamp& stamp) {
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad endpoint uuid");
  std::string key = keys::Endpoint(b.uuid());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredEndpoint>(txn.reader(), key));
  if (old && old->created()) return Status::Ok();
  pb::StoredEndpoint e = old.value_or(pb::StoredEndpoint());
  FillNamedEntity(&e, b, stamp);
  e.set_certificate_subject(b.certificate_subject());
  txn.PutEntity(key, old, e);
  auto old_name = old ? NameKeyOf(pb::ENTITY_ENDPOINT, *old, true) : std::nullopt;
  auto new_name = NameKeyOf(pb::ENTITY_ENDPOINT, e, true);
  txn.ReplaceIndex(old_name ? std::set{*old_name} : std::set<std::string>{},
                   new_name ? std::set{*new_name} : std::set<std::string>{}, e.uuid());
  return Status::Ok();
}

Status ObjectStore::ApplyRenamed(Txn& txn, const pb::Renamed& b, const pb::Stamp& stamp) {
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad uuid");
  pb::NameRegister incoming;
  incoming.set_name(b.name());
  *incoming.mutable_stamp() = stamp;
  auto rename = [&](auto entity_tag, const std::string& key, auto live) -> Status {
    using Entity = decltype(entity_tag);
    COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<Entity>(txn.reader(), key));
    Entity e = old.value_or(Entity());
    e.set_uuid(b.uuid());
    merge::MergeName(e.mutable_name(), incoming);
    txn.PutEntity(key, old, e);
    auto old_name = old ? NameKeyOf(b.kind(), *old, live(*old)) : std::nullopt;
    auto new_name = NameKeyOf(b.kind(), e, live(e));
    txn.ReplaceIndex(old_name ? std::set{*old_name} : std::set<std::string>{},
                     new_name ? std::set{*new_name} : std::set<std::string>{}, e.uuid());
    return Status::Ok();
  };
  switch (b.kind()) {
    case pb::ENTITY_OBJECT:
      return rename(pb::StoredObject(), keys::Object(b.uuid()),
                    [](const pb::StoredObject& o) { return IsLive(o); });
    case pb::ENTITY_WALLET:
      return rename(pb::StoredWallet(), keys::Wallet(b.uuid()),
                    [](const pb::StoredWallet&) { return true; });
    case pb::ENTITY_ENDPOINT:
      return rename(pb::StoredEndpoint(), keys::Endpoint(b.uuid()),
                    [](const pb::StoredEndpoint&) { return true; });
    default:
      return InvalidArgument("rename of an unknown entity kind");
  }
}

Status ObjectStore::ApplyClusterCreated(Txn& txn, const pb::ClusterCreated& b,
                                        const pb::Stamp& stamp) {
  std::string key(keys::kClusterKey);
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredCluster>(txn.reader(), key));
  // One cluster per store: the earliest creation wins, whatever the order.
  if (!old || merge::CompareStamps(stamp, old->created_stamp()) < 0) {
    pb::StoredCluster cluster = old.value_or(pb::StoredCluster());  // keeps the settings
    cluster.set_cluster_id(b.cluster_id());
    cluster.set_name(b.name());
    *cluster.mutable_created_stamp() = stamp;
    txn.PutEntity(key, old, cluster);
  }
  return ApplyNodeAdded(txn, b.first_node(), stamp);
}

Status ObjectStore::ApplyNodeAdded(Txn& txn, const pb::NodeAdded& b, const pb::Stamp& stamp) {
  if (b.node_id() == 0) return InvalidArgument("record adds node id 0");
  std::string key = keys::Node(b.node_id());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredNode>(txn.reader(), key));
  // Node ids are unique; should two additions claim one id, the earlier keeps it.
  if (old && old->created() && merge::CompareStamps(old->created_stamp(), stamp) <= 0) {
    return Status::Ok();
  }
  // Records from other origins may have come first (the node's own state
  // changes, a deletion): the row keeps them.
  pb::StoredNode n = old.value_or(pb::StoredNode());
  if (!n.has_state_stamp()) {
    n.set_state(b.state() == pb::NODE_STATE_UNSPECIFIED ? pb::NODE_ACTIVE : b.state());
    *n.mutable_state_stamp() = stamp;
  }
  n.set_uuid(std::to_string(b.node_id()));
  n.set_created(true);
  *n.mutable_created_stamp() = stamp;
  n.mutable_name()->set_name(b.name());
  *n.mutable_name()->mutable_stamp() = stamp;
  n.set_node_id(b.node_id());
  n.set_role(b.role());
  n.set_peer(b.peer());
  n.set_subgroup(b.subgroup());
  n.set_peer_address(b.peer_address());
  n.set_client_address(b.client_address());
  n.set_release_version(b.release_version());
  txn.PutEntity(key, old, n);
  auto old_name = old && old->created() ? NameKeyOf(pb::ENTITY_NODE, *old, true) : std::nullopt;
  auto new_name = n.deleted() ? std::nullopt : NameKeyOf(pb::ENTITY_NODE, n, true);
  txn.ReplaceIndex(old_name ? std::set{*old_name} : std::set<std::string>{},
                   new_name ? std::set{*new_name} : std::set<std::string>{}, n.uuid());
  return Status::Ok();
}

// A node's row, or a placeholder for records that arrived before its NodeAdded.
StatusOr<pb::StoredNode> ObjectStore::NodeRowOrPlaceholder(Txn& txn, uint32_t node_id,
                                                           std::optional<pb::StoredNode>* old) {
  if (node_id == 0) return InvalidArgument("record names node id 0");
  COFFER_ASSIGN_OR_RETURN(*old, LoadMessage<pb::StoredNode>(txn.reader(), keys::Node(node_id)));
  if (*old) return **old;
  pb::StoredNode n;
  n.set_uuid(std::to_string(node_id));
  n.set_node_id(node_id);
  return n;
}

Status ObjectStore::ApplyNodeStateSet(Txn& txn, const pb::NodeStateSet& b, const pb::Stamp& stamp) {
  std::optional<pb::StoredNode> old;
  COFFER_ASSIGN_OR_RETURN(pb::StoredNode n, NodeRowOrPlaceholder(txn, b.node_id(), &old));
  if (n.deleted()) return Status::Ok();
  if (n.has_state_stamp() && merge::CompareStamps(stamp, n.state_stamp()) <= 0) {
    return Status::Ok();  // an older state change: the newer one stays
  }
  n.set_state(b.state());
  *n.mutable_state_stamp() = stamp;
  if (b.state() == pb::NODE_DISABLED) {
    n.set_disabled_at_micros(stamp.hlc().wall_micros());
    *n.mutable_disabled_applied() = b.applied();
  }
  txn.PutEntity(keys::Node(b.node_id()), old, n);
  return Status::Ok();
}

Status ObjectStore::ApplyNodeDeleted(Txn& txn, const pb::NodeDeleted& b) {
  std::optional<pb::StoredNode> old;
  COFFER_ASSIGN_OR_RETURN(pb::StoredNode n, NodeRowOrPlaceholder(txn, b.node_id(), &old));
  if (n.deleted()) return Status::Ok();
  n.set_deleted(true);
  txn.PutEntity(keys::Node(b.node_id()), old, n);
  // The name is free again (a wiped node comes back as a new node).
  auto old_name = old && old->created() ? NameKeyOf(pb::ENTITY_NODE, *old, true) : std::nullopt;
  if (old_name) txn.ReplaceIndex(std::set{*old_name}, {}, n.uuid());
  return Status::Ok();
}

Status ObjectStore::ApplyClusterSettingSet(Txn& txn, const pb::ClusterSettingSet& b,
                                           const pb::Stamp& stamp) {
  std::string key(keys::kClusterKey);
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredCluster>(txn.reader(), key));
  pb::StoredCluster cluster = old.value_or(pb::StoredCluster());
  if (b.max_disable_seconds() != 0 &&
      (!cluster.has_max_disable_stamp() ||
       merge::CompareStamps(cluster.max_disable_stamp(), stamp) < 0)) {
    cluster.set_max_disable_seconds(b.max_disable_seconds());
    *cluster.mutable_max_disable_stamp() = stamp;
  }
  txn.PutEntity(key, old, cluster);
  return Status::Ok();
}

// ---------------------------------------------------------------- planning

StatusOr<pb::LogRecord> ObjectStore::Plan(const pb::Op& op) {
  pb::LogRecord record;
  auto now_micros = [&] { return clock_.WallMicros(); };
  auto load_live_object = [&](const std::string& uuid) -> StatusOr<pb::StoredObject> {
    if (!Uuid::IsValid(uuid)) return InvalidArgument("'" + uuid + "' is not a uuid");
    COFFER_ASSIGN_OR_RETURN(auto o, ReadObject(*kv_, uuid));
    if (!o || !o->created()) return NotFound("no object " + uuid);
    return *o;
  };
  auto check_free_name = [&](pb::EntityKind kind, const std::string& name,
                             std::string_view what) -> Status {
    COFFER_RETURN_IF_ERROR(merge::ValidateSuppliedName(name, what));
    COFFER_ASSIGN_OR_RETURN(auto holder, ResolveName(kind, name));
    if (holder)
      return AlreadyExists(std::string(what) + " name '" + name + "' is taken by " + *holder);
    return Status::Ok();
  };
  auto raise = [&](const std::string& uuid, const merge::Lifecycle& to, pb::RevocationReason reason,
                   const std::string& date_attribute) {
    auto* b = record.mutable_lifecycle_raised();
    b->set_uuid(uuid);
    b->set_stage(to.stage);
    b->set_compromised(to.compromised);
    b->set_reason(reason);
    (*b->mutable_attributes())[date_attribute] = IntValue(now_micros());
    record.mutable_result()->set_uuid(uuid);
  };

  // The creation record shared by create-key and register.
  auto created = [&](pb::ObjectType type, const std::string& name,
                     google::protobuf::Map<std::string, pb::AttributeValue> attributes,
                     bool activate, const std::string& material) -> StatusOr<pb::LogRecord> {
    if (!name.empty()) COFFER_RETURN_IF_ERROR(check_free_name(pb::ENTITY_OBJECT, name, "object"));
    if (!attributes.count("extractable")) attributes["extractable"] = BoolValue(true);
    if (activate) attributes["activation_date"] = IntValue(now_micros());
    auto* b = record.mutable_object_created();
    b->set_uuid(Uuid::Generate(rng_).str());
    b->set_type(type);
    b->set_name(name);
    *b->mutable_attributes() = std::move(attributes);
    b->set_stage(activate ? pb::STAGE_ACTIVE : pb::STAGE_PRE_ACTIVE);
    b->set_material(material);
    b->set_material_length(static_cast<uint32_t>(material.size()));
    record.mutable_result()->set_uuid(b->uuid());
    return record;
  };

  switch (op.op_case()) {
    case pb::Op::kCreateKey: {
      const auto& c = op.create_key();
      if (c.type() != pb::SYMMETRIC_KEY && c.type() != pb::OBJECT_TYPE_UNSPECIFIED) {
        return InvalidArgument("create key makes symmetric keys; register other objects");
      }
      std::string algorithm = c.algorithm().empty() ? "AES" : c.algorithm();
      if (algorithm != "AES") return InvalidArgument("algorithm must be AES");
      int bits = c.length_bits() == 0 ? 256 : c.length_bits();
      if (bits != 128 && bits != 192 && bits != 256) {
        return InvalidArgument("AES key length must be 128, 192 or 256 bits");
      }
      google::protobuf::Map<std::string, pb::AttributeValue> attributes = c.attributes();
      COFFER_RETURN_IF_ERROR(ValidateClientAttributes(attributes));
      COFFER_ASSIGN_OR_RETURN(SecretBytes material, RandomSecret(bits / 8));
      attributes["algorithm"] = TextValue(algorithm);
      attributes["length"] = IntValue(bits);
      return created(pb::SYMMETRIC_KEY, c.name(), std::move(attributes), c.activate(),
                     material.reveal());
    }
    case pb::Op::kRegisterObject: {
      const auto& c = op.register_object();
      if (c.type() == pb::OBJECT_TYPE_UNSPECIFIED || !pb::ObjectType_IsValid(c.type())) {
        return InvalidArgument("register needs an object type");
      }
      if (c.material().empty()) return InvalidArgument("register needs material");
      if (c.material().size() > kMaxMaterialBytes) {
        return ResourceExhausted("material is " + std::to_string(c.material().size()) +
                                 " bytes; the limit is 65536");
      }
      COFFER_RETURN_IF_ERROR(ValidateClientAttributes(c.attributes()));
      return created(c.type(), c.name(), c.attributes(), c.activate(), c.material());
    }
    case pb::Op::kSetAttributes: {
      const auto& c = op.set_attributes();
      COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, load_live_object(c.uuid()));
      if (o.stage() == pb::STAGE_DESTROYED) {
        return InvalidState("object " + c.uuid() + " is " +
                            std::string(merge::StateName(merge::ToState(LifecycleOf(o)))) +
                            "; its attributes are frozen");
      }
      if (c.attributes().empty()) return InvalidArgument("no attributes given");
      COFFER_RETURN_IF_ERROR(ValidateClientAttributes(c.attributes()));
      // Only false may be set after creation: with last-writer-wins, a
      // concurrent "true" could otherwise undo another node's "false".
      auto ex = c.attributes().find("extractable");
      if (ex != c.attributes().end() && ex->second.boolean()) {
        return PermissionDenied(IsExtractable(o)
                                    ? "extractable is already true; after creation it can only be "
                                      "set to false"
                                    : "extractable cannot be turned back on once false");
      }
      auto* b = record.mutable_attributes_set();
      b->set_uuid(c.uuid());
      *b->mutable_attributes() = c.attributes();
      record.mutable_result()->set_uuid(c.uuid());
      return record;
    }
    case pb::Op::kActivate: {
      COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, load_live_object(op.activate().uuid()));
      COFFER_ASSIGN_OR_RETURN(merge::Lifecycle to, merge::Activate(LifecycleOf(o)));
      raise(o.uuid(), to, pb::REVOCATION_REASON_UNSPECIFIED, "activation_date");
      return record;
    }
    case pb::Op::kRevoke: {
      const auto& c = op.revoke();
      COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, load_live_object(c.uuid()));
      pb::RevocationReason reason =
          c.reason() == pb::REVOCATION_REASON_UNSPECIFIED ? pb::CESSATION_OF_OPERATION : c.reason();
      COFFER_ASSIGN_OR_RETURN(merge::Lifecycle to, merge::Revoke(LifecycleOf(o), reason));
      raise(o.uuid(), to, reason,
            reason == pb::KEY_COMPROMISE ? "compromise_date" : "deactivation_date");
      return record;
    }
    case pb::Op::kDestroy: {
      COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, load_live_object(op.destroy().uuid()));
      COFFER_ASSIGN_OR_RETURN(merge::Lifecycle to, merge::Destroy(LifecycleOf(o)));
      raise(o.uuid(), to, pb::REVOCATION_REASON_UNSPECIFIED, "destroy_date");
      return record;
    }
    case pb::Op::kWalletCreate: {
      const auto& c = op.wallet_create();
      COFFER_RETURN_IF_ERROR(check_free_name(pb::ENTITY_WALLET, c.name(), "wallet"));
      if (c.description().size() > kMaxAttributeTextBytes)
        return InvalidArgument("description too long");
      auto* b = record.mutable_wallet_created();
      b->set_uuid(Uuid::Generate(rng_).str());
      b->set_name(c.name());
      b->set_description(c.description());
      record.mutable_result()->set_uuid(b->uuid());
      return record;
    }
    case pb::Op::kWalletMember: {
      const auto& c = op.wallet_member();
      COFFER_ASSIGN_OR_RETURN(std::string wallet, ResolveWallet(c.wallet()));
      COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, load_live_object(c.object()));
      COFFER_ASSIGN_OR_RETURN(auto member,
                              LoadMessage<pb::StoredMember>(*kv_, keys::Member(wallet, o.uuid())));
      bool is_member = member && member->present();
      if (c.present() && is_member) {
        return AlreadyExists("object " + o.uuid() + " is already in wallet " + c.wallet());
      }
      if (!c.present() && !is_member) {
        return NotFound("object " + o.uuid() + " is not in wallet " + c.wallet());
      }
      auto* b = record.mutable_member_set();
      b->set_wallet(wallet);
      b->set_object(o.uuid());
      b->set_present(c.present());
      record.mutable_result()->set_uuid(wallet);
      return record;
    }
    case pb::Op::kEndpointCreate: {
      const auto& c = op.endpoint_create();
      COFFER_RETURN_IF_ERROR(check_free_name(pb::ENTITY_ENDPOINT, c.name(), "endpoint"));
      if (c.description().size() > kMaxAttributeTextBytes)
        return InvalidArgument("description too long");
      auto* b = record.mutable_endpoint_created();
      b->set_uuid(Uuid::Generate(rng_).str());
      b->set_name(c.name());
      b->set_certificate_subject(c.certificate_subject().empty() ? c.name()
                                                                 : c.certificate_subject());
      b->set_description(c.description());
      record.mutable_result()->set_uuid(b->uuid());
      return record;
    }
    case pb::Op::kEndpointGrant: {
      const auto& c = op.endpoint_grant();
      if (!pb::Access_IsValid(c.access())) return InvalidArgument("unknown access level");
      COFFER_ASSIGN_OR_RETURN(std::string endpoint, ResolveEndpoint(c.endpoint()));
      COFFER_ASSIGN_OR_RETURN(std::string wallet, ResolveWallet(c.wallet()));
      auto* b = record.mutable_grant_set();
      b->set_endpoint(endpoint);
      b->set_wallet(wallet);
      b->set_access(c.access());
      b->set_manage_wallet(c.manage_wallet());
      record.mutable_result()->set_uuid(endpoint);
      return record;
    }
    case pb::Op::kRename: {
      const auto& c = op.rename();
      if (!Uuid::IsValid(c.uuid())) return InvalidArgument("'" + c.uuid() + "' is not a uuid");
      std::string supplied;
      bool created = false;
      if (c.kind() == pb::ENTITY_OBJECT) {
        COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, load_live_object(c.uuid()));
        supplied = o.name().name();
        created = IsLive(o);
      } else if (c.kind() == pb::ENTITY_WALLET) {
        COFFER_ASSIGN_OR_RETURN(auto w,
                                LoadMessage<pb::StoredWallet>(*kv_, keys::Wallet(c.uuid())));
        if (w && w->created()) supplied = w->name().name(), created = true;
      } else if (c.kind() == pb::ENTITY_ENDPOINT) {
        COFFER_ASSIGN_OR_RETURN(auto e,
                                LoadMessage<pb::StoredEndpoint>(*kv_, keys::Endpoint(c.uuid())));
        if (e && e->created()) supplied = e->name().name(), created = true;
      } else {
        return InvalidArgument("rename needs an entity kind (object, wallet or endpoint)");
      }
      if (!created) return NotFound("no live entity " + c.uuid());
      std::string name;
      if (c.accept_generated()) {
        COFFER_ASSIGN_OR_RETURN(bool holds, HoldsName(c.kind(), supplied, c.uuid()));
        if (holds || supplied.empty()) {
          return InvalidState("entity " + c.uuid() + " is not in the conflict list");
        }
        name = merge::GeneratedName(supplied, c.uuid());
      } else {
        COFFER_RETURN_IF_ERROR(check_free_name(c.kind(), c.new_name(), "new"));
        name = c.new_name();
      }
      auto* b = record.mutable_renamed();
      b->set_kind(c.kind());
      b->set_uuid(c.uuid());
      b->set_name(name);
      record.mutable_result()->set_uuid(c.uuid());
      return record;
    }
    case pb::Op::kClusterInit: {
      const auto& c = op.cluster_init();
      COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
      if (cluster) {
        return AlreadyExists("this node already belongs to cluster '" + cluster->name() + "' (" +
                             cluster->cluster_id() + ")");
      }
      COFFER_RETURN_IF_ERROR(merge::ValidateSuppliedName(c.name(), "cluster"));
      COFFER_RETURN_IF_ERROR(merge::ValidateSuppliedName(c.node_name(), "node"));
      auto* b = record.mutable_cluster_created();
      b->set_cluster_id(Uuid::Generate(rng_).str());
      b->set_name(c.name());
      auto* first = b->mutable_first_node();
      first->set_node_id(options_.node_id.value);
      first->set_name(c.node_name());
      first->set_role(pb::NODE_READ_WRITE);
      first->set_subgroup(c.subgroup());
      first->set_peer_address(c.peer_address());
      first->set_client_address(c.client_address());
      first->set_release_version(c.release_version());
      record.mutable_result()->set_uuid(b->cluster_id());
      return record;
    }
    case pb::Op::kNodeAdd: {
      const auto& c = op.node_add();
      COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
      if (!cluster) {
        return InvalidState(
            "this node is standalone: run `coffer cluster init` before adding nodes");
      }
      if (c.role() != pb::NODE_READ_WRITE && c.role() != pb::NODE_READ_ONLY) {
        return InvalidArgument("a new node's role must be read-write or read-only");
      }
      COFFER_RETURN_IF_ERROR(check_free_name(pb::ENTITY_NODE, c.name(), "node"));
      COFFER_ASSIGN_OR_RETURN(auto members, Members());
      // Ids are never reused: above every member (deleted ones too) and
      // every origin seen here.
      uint32_t highest = options_.node_id.value;
      COFFER_RETURN_IF_ERROR(
          ForEachRow<pb::StoredNode>(*kv_, keys::kNodePrefix, [&](auto, const pb::StoredNode& n) {
            highest = std::max(highest, n.node_id());
            return true;
          }));
      const pb::StoredNode* self = nullptr;
      for (const auto& m : members) {
        if (m.node_id() == options_.node_id.value) self = &m;
      }
      for (const auto& [origin, seq] : applied_) highest = std::max(highest, origin);
      if (self == nullptr) return InvalidState("this node is not a member of its cluster");
      auto* b = record.mutable_node_added();
      b->set_node_id(highest + 1);
      b->set_name(c.name());
      b->set_role(c.role());
      b->set_state(pb::NODE_PENDING);
      if (c.role() == pb::NODE_READ_WRITE) {
        // The pairing induction: the candidate becomes this node's peer.
        if (self->peer() != 0) {
          return InvalidState("node " + self->name().name() + " already has read-write peer " +
                              std::to_string(self->peer()) +
                              "; induct the candidate as read-only, or through a node without a "
                              "peer");
        }
        b->set_peer(options_.node_id.value);
      }
      b->set_subgroup(c.subgroup());
      b->set_peer_address(c.peer_address());
      b->set_client_address(c.client_address());
      b->set_release_version(c.release_version());
      record.mutable_result()->set_uuid(std::to_string(b->node_id()));
      return record;
    }
    case pb::Op::kNodeState:
      return PlanNodeState(op.node_state(), std::move(record));
    case pb::Op::kNodeDelete:
      return PlanNodeDelete(op.node_delete(), std::move(record));
    case pb::Op::kClusterSet: {
      const auto& c = op.cluster_set();
      COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
      if (!cluster) return InvalidState("this node is standalone: there are no cluster settings");
      constexpr uint64_t kMaxSeconds = 365ULL * 24 * 3600;
      if (c.max_disable_seconds() == 0 || c.max_disable_seconds() > kMaxSeconds) {
        return InvalidArgument("the maximum disable duration must be 1 s to 365 days");
      }
      record.mutable_cluster_setting_set()->set_max_disable_seconds(c.max_disable_seconds());
      record.mutable_result()->set_uuid(cluster->cluster_id());
      return record;
    }
    default:
      return InvalidArgument("request has no operation");
  }
}

StatusOr<pb::LogRecord> ObjectStore::PlanNodeState(const pb::NodeStateOp& c, pb::LogRecord record) {
  COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
  if (!cluster) return InvalidState("this node is standalone: it has no node states");
  COFFER_ASSIGN_OR_RETURN(auto members, Members());
  const uint32_t self = options_.node_id.value;
  const int64_t now = clock_.WallMicros();
  const pb::StoredNode* target = nullptr;
  for (const auto& m : members) {
    if (m.node_id() == c.node_id()) target = &m;
  }
  if (target == nullptr)
    return NotFound("node " + std::to_string(c.node_id()) + " is not a member");
  const std::string who =
      "node " + target->name().name() + " (" + std::to_string(c.node_id()) + ")";
  const pb::NodeState current = StoredState(*target);
  const std::string current_name(NodeStateName(*target, *cluster, now));
  auto must_be_self = [&](std::string_view step) -> Status {
    if (c.node_id() == self) return Status::Ok();
    return InvalidArgument(std::string(step) + " is issued on the node itself: run it on " + who);
  };
  auto* b = record.mutable_node_state_set();
  switch (c.state()) {
    case pb::NODE_DISABLING: {
      if (current != pb::NODE_ACTIVE) {
        return InvalidState(who + " is " + current_name + "; only an ACTIVE node can be disabled");
      }
      int others_enabled = 0;
      for (const auto& m : members) {
        if (m.node_id() == c.node_id()) continue;
        pb::NodeState s = StoredState(m);
        if (s != pb::NODE_DISABLED) ++others_enabled;
        bool disabled = s == pb::NODE_DISABLING || s == pb::NODE_DISABLED || s == pb::NODE_ENABLING;
        if (disabled && !c.allow_multiple_disabled()) {
          return InvalidState("node " + m.name().name() + " is already " +
                              std::string(NodeStateName(m, *cluster, now)) +
                              "; only one node may be disabled at a time (override: "
                              "--allow-multiple)");
        }
      }
      if (others_enabled == 0) {
        return InvalidState(who +
                            " is the only enabled node: there is no node to hand its records to");
      }
      break;
    }
    case pb::NODE_DISABLED:
      COFFER_RETURN_IF_ERROR(must_be_self("DISABLED"));
      if (current != pb::NODE_DISABLING)
        return InvalidState(who + " is " + current_name + ", not DISABLING");
      for (const auto& [origin, seq] : applied_)
        (*b->mutable_applied()->mutable_applied())[origin] = seq;
      break;
    case pb::NODE_ENABLING:
      COFFER_RETURN_IF_ERROR(must_be_self("enable"));
      if (current != pb::NODE_DISABLED) {
        return InvalidState(who + " is " + current_name + "; only a DISABLED node can be enabled");
      }
      if (DisableExpired(*target, *cluster, now) &&
          !COFFER_FAULT_POINT("storage.enable_expired_node")) {
        return Status(Code::kDisableExpired,
                      who + " was disabled longer than the maximum disable duration (" +
                          std::to_string(MaxDisableMicros(*cluster) / 1'000'000) +
                          " s): its data is never merged again. Force-delete it on another node, "
                          "wipe its data directory and induct it as a new node");
      }
      break;
    case pb::NODE_ACTIVE:
      COFFER_RETURN_IF_ERROR(must_be_self("ACTIVE"));
      if (current != pb::NODE_ENABLING && current != pb::NODE_PENDING) {
        return InvalidState(who + " is " + current_name +
                            "; only PENDING or ENABLING become ACTIVE");
      }
      break;
    default:
      return InvalidArgument("a node can be set to DISABLING, DISABLED, ENABLING or ACTIVE");
  }
  b->set_node_id(c.node_id());
  b->set_state(c.state());
  record.mutable_result()->set_uuid(std::to_string(c.node_id()));
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanNodeDelete(const pb::NodeDeleteOp& c,
                                                    pb::LogRecord record) {
  COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
  if (!cluster) return InvalidState("this node is standalone: it has no members to delete");
  COFFER_ASSIGN_OR_RETURN(auto members, Members());
  const pb::StoredNode* target = nullptr;
  for (const auto& m : members) {
    if (m.node_id() == c.node_id()) target = &m;
  }
  if (target == nullptr) {
    return NotFound("node " + std::to_string(c.node_id()) +
                    " is not a member (or already deleted)");
  }
  const std::string who =
      "node " + target->name().name() + " (" + std::to_string(c.node_id()) + ")";
  if (c.node_id() == options_.node_id.value) {
    return InvalidArgument("a node cannot delete itself: run the delete on another node");
  }
  const int64_t now = clock_.WallMicros();
  if (!c.force() &&
      (StoredState(*target) != pb::NODE_DISABLED || DisableExpired(*target, *cluster, now))) {
    return InvalidState(who + " is " + std::string(NodeStateName(*target, *cluster, now)) +
                        ": delete removes a DISABLED node; force-delete removes any other node "
                        "(dead, unreachable or EXPIRED; records only it holds are lost)");
  }
  record.mutable_node_deleted()->set_node_id(c.node_id());
  record.mutable_result()->set_uuid(std::to_string(c.node_id()));
  return record;
}

// ---------------------------------------------------------------- reads

StatusOr<std::optional<pb::StoredObject>> ObjectStore::ReadObject(const KvReader& r,
                                                                  const std::string& uuid) const {
  return LoadMessage<pb::StoredObject>(r, keys::Object(uuid));
}

StatusOr<bool> ObjectStore::HoldsName(pb::EntityKind kind, const std::string& supplied,
                                      const std::string& uuid) const {
  if (supplied.empty()) return false;
  std::optional<std::string> first;
  COFFER_RETURN_IF_ERROR(kv_->Scan(keys::NameGroup(kind, supplied), "", [&](auto, auto value) {
    first = std::string(value);
    return false;
  }));
  return first && *first == uuid;
}

StatusOr<std::optional<std::string>> ObjectStore::ResolveName(pb::EntityKind kind,
                                                              const std::string& name) const {
  std::optional<std::string> holder;
  COFFER_RETURN_IF_ERROR(kv_->Scan(keys::NameGroup(kind, name), "", [&](auto, auto value) {
    holder = std::string(value);
    return false;
  }));
  if (holder) return holder;
  // A generated name "<supplied>~<uuid>" names the losing claimant directly.
  constexpr size_t kUuidLen = 36;
  if (name.size() > kUuidLen + 1 && name[name.size() - kUuidLen - 1] == '~') {
    std::string uuid = name.substr(name.size() - kUuidLen);
    std::string supplied = name.substr(0, name.size() - kUuidLen - 1);
    if (!Uuid::IsValid(uuid)) return std::optional<std::string>();
    std::string group = keys::NameGroup(kind, supplied);
    bool claims = false;
    COFFER_RETURN_IF_ERROR(kv_->Scan(group, "", [&](auto, auto value) {
      if (value == uuid) claims = true;
      return !claims;
    }));
    if (claims) return std::optional<std::string>(uuid);
  }
  return std::optional<std::string>();
}

StatusOr<std::string> ObjectStore::ResolveWallet(const std::string& name_or_uuid) const {
  if (Uuid::IsValid(name_or_uuid)) {
    COFFER_ASSIGN_OR_RETURN(auto w,
                            LoadMessage<pb::StoredWallet>(*kv_, keys::Wallet(name_or_uuid)));
    if (w && w->created()) return name_or_uuid;
  }
  COFFER_ASSIGN_OR_RETURN(auto uuid, ResolveName(pb::ENTITY_WALLET, name_or_uuid));
  if (!uuid) return NotFound("no wallet '" + name_or_uuid + "'");
  return *uuid;
}

StatusOr<std::string> ObjectStore::ResolveEndpoint(const std::string& name_or_uuid) const {
  if (Uuid::IsValid(name_or_uuid)) {
    COFFER_ASSIGN_OR_RETURN(auto e,
                            LoadMessage<pb::StoredEndpoint>(*kv_, keys::Endpoint(name_or_uuid)));
    if (e && e->created()) return name_or_uuid;
  }
  COFFER_ASSIGN_OR_RETURN(auto uuid, ResolveName(pb::ENTITY_ENDPOINT, name_or_uuid));
  if (!uuid) return NotFound("no endpoint '" + name_or_uuid + "'");
  return *uuid;
}

StatusOr<pb::ObjectView> ObjectStore::ViewObject(const pb::StoredObject& o,
                                                 bool include_material) const {
  pb::ObjectView v;
  v.set_uuid(o.uuid());
  v.set_type(o.type());
  v.set_supplied_name(o.name().name());
  if (!o.name().name().empty()) {
    bool holds = true;
    if (IsLive(o)) {
      COFFER_ASSIGN_OR_RETURN(holds, HoldsName(pb::ENTITY_OBJECT, o.name().name(), o.uuid()));
    }
    v.set_name(holds ? o.name().name() : merge::GeneratedName(o.name().name(), o.uuid()));
    v.set_name_in_conflict(!holds);
  }
  v.set_state(merge::ToState(LifecycleOf(o)));
  for (const auto& [name, attr] : o.attributes()) {
    if (!attr.value().deleted()) (*v.mutable_attributes())[name] = attr.value();
  }
  v.set_material_length(o.material_length());
  v.set_created_micros(o.created_stamp().hlc().wall_micros());
  if (include_material) {
    if (o.stage() == pb::STAGE_DESTROYED) {
      return InvalidState("object " + o.uuid() + " is " + std::string(merge::StateName(v.state())) +
                          "; its material is erased");
    }
    if (!IsExtractable(o)) {
      return PermissionDenied("object " + o.uuid() + " is not extractable");
    }
    COFFER_ASSIGN_OR_RETURN(SecretBytes material,
                            sealer_->Open(o.sealed_material(), ObjectAad(o.uuid())));
    v.set_material(material.reveal());
  }
  return v;
}

StatusOr<pb::ObjectView> ObjectStore::Get(const std::string& uuid, bool include_material) const {
  if (!Uuid::IsValid(uuid)) return InvalidArgument("'" + uuid + "' is not a uuid");
  COFFER_ASSIGN_OR_RETURN(auto o, ReadObject(*kv_, uuid));
  if (!o || !o->created()) return NotFound("no object " + uuid);
  return ViewObject(*o, include_material);
}

StatusOr<std::vector<pb::ObjectView>> ObjectStore::Locate(const pb::LocateRequest& q) const {
  uint32_t limit = q.limit() == 0 ? options_.default_locate_limit : q.limit();
  std::vector<std::string> candidates;
  auto collect_suffix = [&](const std::string& prefix) -> Status {
    return kv_->Scan(prefix, "", [&](auto key, auto) {
      candidates.emplace_back(key.substr(prefix.size()));
      return true;
    });
  };
  if (!q.name().empty()) {
    COFFER_ASSIGN_OR_RETURN(auto uuid, ResolveName(pb::ENTITY_OBJECT, q.name()));
    if (uuid) candidates.push_back(*uuid);
  } else if (q.type() != pb::OBJECT_TYPE_UNSPECIFIED) {
    COFFER_RETURN_IF_ERROR(
        collect_suffix(std::string(keys::kIndexTypePrefix) + std::to_string(q.type()) + "/"));
  } else if (q.state() != pb::STATE_UNSPECIFIED) {
    COFFER_RETURN_IF_ERROR(
        collect_suffix(std::string(keys::kIndexStatePrefix) + std::to_string(q.state()) + "/"));
  } else if (!q.attributes().empty()) {
    // Deterministic choice of the index: the smallest attribute name.
    std::map<std::string, std::string> sorted(q.attributes().begin(), q.attributes().end());
    COFFER_RETURN_IF_ERROR(
        collect_suffix(AttrIndexPrefix(sorted.begin()->first, sorted.begin()->second)));
  } else {
    COFFER_RETURN_IF_ERROR(collect_suffix(std::string(keys::kObjectPrefix)));
  }
  std::vector<pb::ObjectView> out;
  for (const auto& uuid : candidates) {
    if (out.size() >= limit) break;
    COFFER_ASSIGN_OR_RETURN(auto o, ReadObject(*kv_, uuid));
    if (!o || !o->created()) continue;
    if (q.type() != pb::OBJECT_TYPE_UNSPECIFIED && o->type() != q.type()) continue;
    if (q.state() != pb::STATE_UNSPECIFIED && merge::ToState(LifecycleOf(*o)) != q.state())
      continue;
    bool match = true;
    for (const auto& [name, value] : q.attributes()) {
      auto it = o->attributes().find(name);
      if (it == o->attributes().end() || it->second.value().deleted() ||
          AttributeText(it->second.value()) != value) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    COFFER_ASSIGN_OR_RETURN(pb::ObjectView view, ViewObject(*o, false));
    out.push_back(std::move(view));
  }
  return out;
}

StatusOr<pb::WalletView> ObjectStore::ViewWallet(const pb::StoredWallet& w) const {
  pb::WalletView v;
  v.set_uuid(w.uuid());
  v.set_supplied_name(w.name().name());
  COFFER_ASSIGN_OR_RETURN(bool holds, HoldsName(pb::ENTITY_WALLET, w.name().name(), w.uuid()));
  v.set_name(holds ? w.name().name() : merge::GeneratedName(w.name().name(), w.uuid()));
  v.set_state(w.confirmed() ? "ACTIVE" : "PENDING");
  v.set_description(w.description());
  std::string prefix = keys::MemberPrefix(w.uuid());
  COFFER_RETURN_IF_ERROR(
      ForEachRow<pb::StoredMember>(*kv_, prefix, [&](auto key, const pb::StoredMember& m) {
        if (m.present()) v.add_members(std::string(key.substr(prefix.size())));
        return true;
      }));
  return v;
}

StatusOr<std::vector<pb::WalletView>> ObjectStore::ListWallets() const {
  std::vector<pb::StoredWallet> wallets;
  COFFER_RETURN_IF_ERROR(
      ForEachRow<pb::StoredWallet>(*kv_, keys::kWalletPrefix, [&](auto, const pb::StoredWallet& w) {
        if (w.created()) wallets.push_back(w);
        return true;
      }));
  std::vector<pb::WalletView> out;
  for (const auto& w : wallets) {
    COFFER_ASSIGN_OR_RETURN(pb::WalletView v, ViewWallet(w));
    out.push_back(std::move(v));
  }
  return out;
}

StatusOr<pb::WalletView> ObjectStore::GetWallet(const std::string& name_or_uuid) const {
  COFFER_ASSIGN_OR_RETURN(std::string uuid, ResolveWallet(name_or_uuid));
  COFFER_ASSIGN_OR_RETURN(auto w, LoadMessage<pb::StoredWallet>(*kv_, keys::Wallet(uuid)));
  if (!w) return NotFound("no wallet '" + name_or_uuid + "'");
  return ViewWallet(*w);
}

StatusOr<std::vector<pb::EndpointView>> ObjectStore::ListEndpoints() const {
  std::vector<pb::EndpointView> out;
  Status inner = Status::Ok();
  COFFER_RETURN_IF_ERROR(kv_->Scan(keys::kEndpointPrefix, "", [&](auto key, auto value) {
    pb::StoredEndpoint e;
    if (!e.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      inner = DataLoss("cannot parse endpoint row " + std::string(key));
      return false;
    }
    if (!e.created()) return true;
    pb::EndpointView v;
    v.set_uuid(e.uuid());
    v.set_certificate_subject(e.certificate_subject());
    v.set_description(e.description());
    auto holds = HoldsName(pb::ENTITY_ENDPOINT, e.name().name(), e.uuid());
    if (!holds.ok()) {
      inner = holds.status();
      return false;
    }
    v.set_name(*holds ? e.name().name() : merge::GeneratedName(e.name().name(), e.uuid()));
    out.push_back(std::move(v));
    return true;
  }));
  COFFER_RETURN_IF_ERROR(inner);
  for (auto& v : out) {
    std::string prefix = keys::GrantPrefix(v.uuid());
    COFFER_RETURN_IF_ERROR(kv_->Scan(prefix, "", [&](auto key, auto value) {
      pb::StoredGrant g;
      if (g.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
          g.access() != pb::ACCESS_NONE) {
        auto* gv = v.add_grants();
        gv->set_wallet(std::string(key.substr(prefix.size())));
        gv->set_access(g.access());
        gv->set_manage_wallet(g.manage_wallet());
      }
      return true;
    }));
    for (auto& gv : *v.mutable_grants()) {
      auto w = GetWallet(gv.wallet());
      if (w.ok()) gv.set_wallet_name(w->name());
    }
  }
  return out;
}

StatusOr<std::vector<pb::ConflictView>> ObjectStore::ListConflicts() const {
  std::vector<pb::ConflictView> out;
  std::string current_group;
  COFFER_RETURN_IF_ERROR(kv_->Scan(keys::kNamePrefix, "", [&](auto key, auto value) {
    size_t end = key.find('\0');
    std::string_view group = key.substr(0, end + 1);
    if (group == current_group) {
      pb::ConflictView c;
      std::string_view after_prefix = group.substr(keys::kNamePrefix.size());
      c.set_kind(static_cast<pb::EntityKind>(after_prefix[0] - '0'));
      c.set_uuid(std::string(value));
      c.set_supplied_name(std::string(after_prefix.substr(2, after_prefix.size() - 3)));
      c.set_generated_name(merge::GeneratedName(c.supplied_name(), c.uuid()));
      out.push_back(std::move(c));
    } else {
      current_group = std::string(group);
    }
    return true;
  }));
  return out;
}

StatusOr<std::optional<pb::StoredCluster>> ObjectStore::Cluster() const {
  return LoadMessage<pb::StoredCluster>(*kv_, std::string(keys::kClusterKey));
}

StatusOr<std::vector<pb::StoredNode>> ObjectStore::Members() const {
  std::vector<pb::StoredNode> nodes;
  COFFER_RETURN_IF_ERROR(
      ForEachRow<pb::StoredNode>(*kv_, keys::kNodePrefix, [&](auto, const pb::StoredNode& n) {
        if (n.created() && !n.deleted()) nodes.push_back(n);
        return true;
      }));
  const std::vector<pb::StoredNode> recorded = nodes;
  for (auto& n : nodes) {
    // A deleted peer leaves its partner unpaired (it may induct a new peer).
    bool peer_present = false;
    for (const auto& other : recorded) peer_present |= other.node_id() == n.peer();
    if (!peer_present) n.set_peer(0);
    // A pair is recorded on the node that joined; show it on both sides. A
    // read-only node that inducted a read-write peer is read-write from then on.
    if (n.peer() == 0) {
      for (const auto& other : recorded) {
        if (other.peer() == n.node_id()) {
          n.set_peer(other.node_id());
          n.set_role(pb::NODE_READ_WRITE);
        }
      }
    }
    COFFER_ASSIGN_OR_RETURN(bool holds, HoldsName(pb::ENTITY_NODE, n.name().name(), n.uuid()));
    if (!holds) n.mutable_name()->set_name(merge::GeneratedName(n.name().name(), n.uuid()));
  }
  return nodes;
}

StatusOr<ObjectStore::LogSpan> ObjectStore::LogAfter(uint32_t origin, uint64_t after_seq) const {
  LogSpan span;
  uint64_t first = 0;
  COFFER_RETURN_IF_ERROR(
      kv_->Scan(keys::LogOrigin(origin), keys::Log(origin, after_seq + 1), [&](auto key, auto) {
        first = keys::ReadBe64(key.substr(key.size() - 8));
        return false;
      }));
  auto applied = applied_.find(origin);
  if (first == 0 || applied == applied_.end() || applied->second < first) return span;
  span.records = applied->second - first + 1;
  // Exact for up to kLogSpanSampleRecords; beyond, their mean size times the
  // count.
  uint64_t sampled = 0, sampled_bytes = 0;
  COFFER_RETURN_IF_ERROR(
      kv_->Scan(keys::LogOrigin(origin), keys::Log(origin, first), [&](auto key, auto value) {
        sampled_bytes += key.size() + value.size();
        return ++sampled < kLogSpanSampleRecords;
      }));
  span.bytes = sampled == 0 ? 0 : sampled_bytes * span.records / sampled;
  return span;
}

StatusOr<uint64_t> ObjectStore::CollectLog(uint32_t origin, uint64_t through_seq,
                                           size_t max_records) {
  uint64_t& collected = log_collected_[origin];
  if (through_seq <= collected) return 0;
  WriteBatch batch;
  uint64_t last = collected;
  COFFER_RETURN_IF_ERROR(
      kv_->Scan(keys::LogOrigin(origin), keys::Log(origin, collected + 1), [&](auto key, auto) {
        uint64_t seq = keys::ReadBe64(key.substr(key.size() - 8));
        if (seq > through_seq || batch.entries().size() >= max_records) {
          return false;
        }
        batch.Delete(key);
        last = seq;
        return true;
      }));
  uint64_t deleted = batch.entries().size();
  if (deleted > 0) COFFER_RETURN_IF_ERROR(kv_->Write(batch, /*sync=*/false));
  // Done through `through_seq` unless the batch stopped early.
  collected = deleted < max_records ? through_seq : last;
  return deleted;
}

StatusOr<std::vector<pb::LogRecord>> ObjectStore::ReadLog(uint32_t origin, uint64_t from_seq,
                                                          size_t limit) const {
  std::vector<pb::LogRecord> out;
  Status inner = Status::Ok();
  COFFER_RETURN_IF_ERROR(
      kv_->Scan(keys::LogOrigin(origin), keys::Log(origin, from_seq), [&](auto key, auto value) {
        if (out.size() >= limit) return false;
        pb::LogRecord r;
        if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          inner = DataLoss("cannot parse log row");
          return false;
        }
        if (r.has_object_created() && !r.object_created().sealed_material().empty()) {
          auto* c = r.mutable_object_created();
          auto opened = sealer_->Open(c->sealed_material(), LogAad(r.origin(), r.seq(), c->uuid()));
          if (!opened.ok()) {
            inner = opened.status();
            return false;
          }
          c->set_material(opened->reveal());
          c->clear_sealed_material();
        }
        out.push_back(std::move(r));
        return true;
      }));
  COFFER_RETURN_IF_ERROR(inner);
  return out;
}

StatusOr<Digest> ObjectStore::RecomputeDigest() const {
  Digest digest;
  auto add = [&](std::string_view key, const std::string& canonical) {
    auto h = EntityHash(key, canonical);
    for (int i = 0; i < 4; ++i) digest.lanes[i] += h[i];
  };
  auto scan = [&](std::string_view prefix, auto message_tag) -> Status {
    using Msg = decltype(message_tag);
    return ForEachRow<Msg>(*kv_, prefix, [&](auto key, const Msg& m) {
      add(key, CanonicalOf(m));
      return true;
    });
  };
  COFFER_RETURN_IF_ERROR(scan(keys::kObjectPrefix, pb::StoredObject()));
  COFFER_RETURN_IF_ERROR(scan(keys::kWalletPrefix, pb::StoredWallet()));
  COFFER_RETURN_IF_ERROR(scan(keys::kEndpointPrefix, pb::StoredEndpoint()));
  COFFER_RETURN_IF_ERROR(scan(keys::kMemberPrefix, pb::StoredMember()));
  COFFER_RETURN_IF_ERROR(scan(keys::kGrantPrefix, pb::StoredGrant()));
  COFFER_RETURN_IF_ERROR(scan(keys::kNodePrefix, pb::StoredNode()));
  COFFER_RETURN_IF_ERROR(scan(keys::kClusterKey, pb::StoredCluster()));
  return digest;
}

// ---------------------------------------------------------------- induction

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
        txn.ReplaceIndex({}, ObjectIndexKeys(o));
        if (auto name = NameKeyOf(pb::ENTITY_OBJECT, o, IsLive(o))) txn.Put(*name, o.uuid());
        if (o.created()) ++txn.object_count;
        break;
      }
      case pb::SnapshotEntry::kWallet: {
        pb::StoredWallet w = entry.wallet();
        w.set_confirmed(options_.confirm_names_on_apply);
        txn.PutEntity(keys::Wallet(w.uuid()), std::optional<pb::StoredWallet>(), w);
        if (auto name = NameKeyOf(pb::ENTITY_WALLET, w, true)) txn.Put(*name, w.uuid());
        break;
      }
      case pb::SnapshotEntry::kEndpoint: {
        const auto& e = entry.endpoint();
        txn.PutEntity(keys::Endpoint(e.uuid()), std::optional<pb::StoredEndpoint>(), e);
        if (auto name = NameKeyOf(pb::ENTITY_ENDPOINT, e, true)) txn.Put(*name, e.uuid());
        break;
      }
      case pb::SnapshotEntry::kMember:
        txn.PutEntity(keys::Member(entry.member().first(), entry.member().second()),
                      std::optional<pb::StoredMember>(), entry.member().member());
        break;
      case pb::SnapshotEntry::kGrant:
        txn.PutEntity(keys::Grant(entry.grant().first(), entry.grant().second()),
                      std::optional<pb::StoredGrant>(), entry.grant().grant());
        break;
      case pb::SnapshotEntry::kNode: {
        const auto& n = entry.node();
        txn.PutEntity(keys::Node(n.node_id()), std::optional<pb::StoredNode>(), n);
        auto name = n.deleted() ? std::nullopt : NameKeyOf(pb::ENTITY_NODE, n, true);
        if (name) txn.Put(*name, n.uuid());
        break;
      }
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
    txn.applied[origin] = seq;
    std::string value;
    keys::AppendBe64(&value, seq);
    txn.Put(keys::Applied(origin), value);
  }
  txn.Delete(std::string(keys::kMetaInstalling));
  COFFER_RETURN_IF_ERROR(Commit(txn, Durability::kSync));
  // New stamps must stay above everything the snapshot holds.
  hlc_.Restore({chunk.hlc().wall_micros(), chunk.hlc().logical()});
  return LoadState();
}

// ---------------------------------------------------------------- snapshots

namespace {
class KvStoreSnapshot final : public StoreSnapshot {
 public:
  KvStoreSnapshot(std::unique_ptr<KvReader> reader, const Sealer& sealer, HlcStamp hlc)
      : reader_(std::move(reader)), sealer_(sealer), hlc_(hlc) {}

  VersionVector Applied() const override {
    VersionVector v;
    reader_
        ->Scan(keys::kAppliedPrefix, "",
               [&](auto key, auto value) {
                 if (value.size() == 8)
                   v[keys::ReadBe32(key.substr(keys::kAppliedPrefix.size()))] =
                       keys::ReadBe64(value);
                 return true;
               })
        .ok();
    return v;
  }

  Status ForEachObject(const std::function<bool(const pb::StoredObject&, const SecretBytes&)>&
                           visit) const override {
    Status inner = Status::Ok();
    COFFER_RETURN_IF_ERROR(reader_->Scan(keys::kObjectPrefix, "", [&](auto, auto value) {
      pb::StoredObject o;
      if (!o.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        inner = DataLoss("cannot parse object row");
        return false;
      }
      SecretBytes material;
      if (!o.sealed_material().empty()) {
        auto opened = sealer_.Open(o.sealed_material(), ObjectAad(o.uuid()));
        if (!opened.ok()) {
          inner = opened.status();
          return false;
        }
        material = std::move(opened).value();
      }
      return visit(o, material);
    }));
    return inner;
  }

  StatusOr<pb::SnapshotChunk> ReadChunk(const std::string& after,
                                        size_t max_entries) const override {
    // Entity prefixes in key order, so `after` orders the whole snapshot.
    static constexpr std::string_view kPrefixes[] = {keys::kClusterKey.substr(0, 2),
                                                     keys::kEndpointPrefix,
                                                     keys::kGrantPrefix,
                                                     keys::kNodePrefix,
                                                     keys::kObjectPrefix,
                                                     keys::kRequestPrefix,
                                                     keys::kWalletPrefix,
                                                     keys::kMemberPrefix};
    pb::SnapshotChunk chunk;
    chunk.set_after(after);
    std::string start = after.empty() ? "" : after + std::string(1, '\0');
    Status inner = Status::Ok();
    bool full = false;
    for (std::string_view prefix : kPrefixes) {
      if (full) break;
      std::string from = std::max(std::string(prefix), start);
      COFFER_RETURN_IF_ERROR(reader_->Scan(prefix, from, [&](auto key, auto value) {
        Status s = AddEntry(prefix, key, value, chunk.add_entries());
        if (!s.ok()) {
          inner = s;
          return false;
        }
        if (static_cast<size_t>(chunk.entries_size()) >= max_entries) {
          chunk.set_resume_after(std::string(key));
          full = true;
          return false;
        }
        return true;
      }));
      COFFER_RETURN_IF_ERROR(inner);
    }
    if (!full) {
      chunk.set_last(true);
      chunk.set_resume_after(after);
      for (const auto& [origin, seq] : Applied())
        (*chunk.mutable_applied()->mutable_applied())[origin] = seq;
      std::string digest;
      Status s = reader_->Get(keys::kMetaDigest, &digest);
      if (!s.ok() && s.code() != Code::kNotFound) return s;
      chunk.set_digest(s.ok() ? digest : std::string(32, '\0'));
      chunk.mutable_hlc()->set_wall_micros(hlc_.wall_micros);
      chunk.mutable_hlc()->set_logical(hlc_.logical);
    }
    chunk.set_checksum(SnapshotChunkChecksum(chunk));
    return chunk;
  }

  Status ForEachWallet(const std::function<bool(const pb::StoredWallet&)>& visit) const override {
    return ForEachRow<pb::StoredWallet>(keys::kWalletPrefix, visit);
  }
  Status ForEachEndpoint(
      const std::function<bool(const pb::StoredEndpoint&)>& visit) const override {
    return ForEachRow<pb::StoredEndpoint>(keys::kEndpointPrefix, visit);
  }
  Status ForEachMember(const std::function<bool(const std::string&, const std::string&,
                                                const pb::StoredMember&)>& visit) const override {
    return ForEachPair<pb::StoredMember>(keys::kMemberPrefix, visit);
  }
  Status ForEachGrant(const std::function<bool(const std::string&, const std::string&,
                                               const pb::StoredGrant&)>& visit) const override {
    return ForEachPair<pb::StoredGrant>(keys::kGrantPrefix, visit);
  }

 private:
  template <typename Msg>
  Status ForEachRow(std::string_view prefix, const std::function<bool(const Msg&)>& visit) const {
    return ForEachRowWithKey<Msg>(prefix, [&](std::string_view, const Msg& m) { return visit(m); });
  }

  Status AddEntry(std::string_view prefix, std::string_view key, std::string_view value,
                  pb::SnapshotEntry* entry) const {
    auto parse = [&](google::protobuf::Message* m) -> Status {
      if (!m->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        return DataLoss("cannot parse row " + std::string(key));
      }
      return Status::Ok();
    };
    auto element = [&](pb::SnapshotElement* e) {
      std::string_view rest = key.substr(prefix.size());
      size_t slash = rest.find('/');
      e->set_first(std::string(rest.substr(0, slash)));
      e->set_second(slash == std::string_view::npos ? "" : std::string(rest.substr(slash + 1)));
    };
    if (prefix == keys::kObjectPrefix) {
      pb::StoredObject* o = entry->mutable_object();
      COFFER_RETURN_IF_ERROR(parse(o));
      if (!o->sealed_material().empty()) {
        COFFER_ASSIGN_OR_RETURN(SecretBytes material,
                                sealer_.Open(o->sealed_material(), ObjectAad(o->uuid())));
        entry->set_material(material.reveal());
      }
      o->clear_sealed_material();
      o->clear_create_origin();
      o->clear_create_seq();
    } else if (prefix == keys::kWalletPrefix) {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_wallet()));
      entry->mutable_wallet()->clear_confirmed();  // node-local
    } else if (prefix == keys::kEndpointPrefix) {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_endpoint()));
    } else if (prefix == keys::kMemberPrefix) {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_member()->mutable_member()));
      element(entry->mutable_member());
    } else if (prefix == keys::kGrantPrefix) {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_grant()->mutable_grant()));
      element(entry->mutable_grant());
    } else if (prefix == keys::kNodePrefix) {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_node()));
    } else if (prefix == keys::kRequestPrefix) {
      entry->mutable_request()->set_request_id(std::string(key.substr(prefix.size())));
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_request()->mutable_row()));
    } else {
      COFFER_RETURN_IF_ERROR(parse(entry->mutable_cluster()));
    }
    return Status::Ok();
  }

  // Rows keyed "<prefix><first uuid>/<second uuid>".
  template <typename Msg>
  Status ForEachPair(
      std::string_view prefix,
      const std::function<bool(const std::string&, const std::string&, const Msg&)>& visit) const {
    return ForEachRowWithKey<Msg>(prefix, [&](std::string_view key, const Msg& m) {
      std::string_view rest = key.substr(prefix.size());
      size_t slash = rest.find('/');
      if (slash == std::string_view::npos) return true;
      return visit(std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1)), m);
    });
  }
  template <typename Msg>
  Status ForEachRowWithKey(std::string_view prefix,
                           const std::function<bool(std::string_view, const Msg&)>& visit) const {
    return storage::ForEachRow<Msg>(*reader_, prefix, visit);
  }

  std::unique_ptr<KvReader> reader_;
  const Sealer& sealer_;
  HlcStamp hlc_;
};
}  // namespace

std::unique_ptr<StoreSnapshot> ObjectStore::NewSnapshot() const {
  return std::make_unique<KvStoreSnapshot>(kv_->NewSnapshot(), *sealer_, hlc_.Last());
}

Status ObjectStore::CheckpointTo(const std::string& dir) const { return kv_->Checkpoint(dir); }

StatusOr<std::unique_ptr<StoreSnapshot>> ObjectStore::OpenSnapshotAt(const std::string& dir) const {
  RocksOptions options;
  options.path = dir;
  options.read_only = true;
  options.block_cache_bytes = 8 << 20;  // read once, front to back
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<KvStore> checkpoint, OpenRocksKvStore(options));
  return std::unique_ptr<StoreSnapshot>(
      std::make_unique<KvStoreSnapshot>(std::move(checkpoint), *sealer_, hlc_.Last()));
}

}  // namespace coffer::storage
