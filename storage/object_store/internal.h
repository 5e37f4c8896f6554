// Private to the ObjectStore implementation (storage/object_store/*.cc): the
// helpers its files share and ObjectStore::Txn, the pending changes of one
// atomic batch. Nothing outside storage/object_store/ includes this header;
// the public API is storage/object_store.h.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/limits.h"
#include "common/status.h"
#include "proto/records.pb.h"
#include "storage/crypto.h"
#include "storage/keys.h"
#include "storage/kv_store.h"
#include "storage/merge.h"
#include "storage/object_store.h"
#include "storage/record_auth.h"

namespace coffer::storage {

// Field limits: common/limits.h is their one source (the node checks them at
// the API boundary, node/api/input_limits.h; the store keeps its own checks).
using limits::kMaxAttributesPerOp;
using limits::kMaxAttributeTextBytes;
using limits::kMaxDescriptionBytes;
using limits::kMaxMaterialBytes;
using limits::kMaxRequestIdBytes;

// ---- Sealing: the additional data that binds a ciphertext to its row ----

inline std::string ObjectAad(std::string_view uuid) {
  return "coffer/object/v1|" + std::string(uuid);
}
inline std::string LogAad(uint32_t origin, uint64_t seq, std::string_view uuid) {
  return "coffer/log/v1|" + std::to_string(origin) + "|" + std::to_string(seq) + "|" +
         std::string(uuid);
}

// ---- Rows ----

// The row at `key` parsed as Msg; nullopt if absent; DATA_LOSS if it does not
// parse.
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

// The applied vector stored under keys::kAppliedPrefix (open.cc), and with
// `heads`, per origin the chain digest of the record at its applied seq
// (record_auth.h). DATA_LOSS for a row that is not a be32 origin with a be64
// seq and a 32-byte digest.
StatusOr<VersionVector> ReadAppliedVector(const KvReader& reader,
                                          std::map<uint32_t, std::string>* heads = nullptr);

// ---- Digest (digest.cc) ----

// Canonical replicated form: node-local fields cleared, deterministic bytes.
std::string CanonicalOf(pb::StoredObject o);
std::string CanonicalOf(pb::StoredWallet w);
template <typename Msg>
std::string CanonicalOf(const Msg& m) {
  return DeterministicBytes(m);
}

// SHA-256 of `key`, a NUL and `canonical`, as four big-endian 64-bit lanes.
std::array<uint64_t, 4> EntityHash(std::string_view key, std::string_view canonical);

// ---- Objects and attributes (attributes.cc) ----

inline merge::Lifecycle LifecycleOf(const pb::StoredObject& o) {
  return {o.stage(), o.compromised()};
}
// The state a client sees at wall time `now_micros`: the stored lifecycle,
// except that a PRE_ACTIVE or ACTIVE object whose deactivation_date (an
// integer of wall micros) has passed is DEACTIVATED (KMIP: a scheduled deactivation, as
// `key rekey --deactivate-old-in` sets).
pb::State StateAt(const pb::StoredObject& o, int64_t now_micros);
inline bool IsLive(const pb::StoredObject& o) {
  return o.created() && o.stage() != pb::STAGE_DESTROYED;
}
// True if a client may set attribute `name` to `value` (the settable names
// of ValidateClientAttributes): what a rekey copies to the new key.
bool IsClientAttribute(const std::string& name, const pb::AttributeValue& value);
// True unless the object's "extractable" attribute is false.
bool IsExtractable(const pb::StoredObject& o);

pb::AttributeValue TextValue(std::string s);
pb::AttributeValue IntValue(int64_t i);
pb::AttributeValue BoolValue(bool b);

// OK if a client may set every attribute in `a` (names, types, sizes);
// INVALID_ARGUMENT naming the first one it may not. Algorithm, length and
// the lifecycle dates are set by the node itself.
Status ValidateClientAttributes(const google::protobuf::Map<std::string, pb::AttributeValue>& a);

// The prefix of the locate index entries for attribute `name` = `value`.
std::string AttrIndexPrefix(const std::string& name, const std::string& value);

// True if an object in state `actual` answers a locate for `wanted`:
// DESTROYED also finds DESTROYED_COMPROMISED (both are destroyed).
bool StateMatches(pb::State wanted, pb::State actual);

// ---- Index entries: what a row implies in the name and locate indexes ----

// The name claim of an entity: keys::NameClaim(kind, supplied name, creation
// stamp, uuid). None unless the entity is created, named and live: an object
// until it is destroyed, a node until it is deleted, wallets and endpoints
// always.
std::optional<std::string> NameClaimOf(const pb::StoredObject& o);
std::optional<std::string> NameClaimOf(const pb::StoredWallet& w);
std::optional<std::string> NameClaimOf(const pb::StoredEndpoint& e);
std::optional<std::string> NameClaimOf(const pb::StoredNode& n);

// Index key -> value implied by a row: the name claim (value: the uuid) and,
// for an object, its type, state and attribute entries (value: empty).
using IndexEntries = std::map<std::string, std::string>;
IndexEntries IndexEntriesOf(const pb::StoredObject& o);
IndexEntries IndexEntriesOf(const pb::StoredWallet& w);
IndexEntries IndexEntriesOf(const pb::StoredEndpoint& e);
IndexEntries IndexEntriesOf(const pb::StoredNode& n);
template <typename Msg>
IndexEntries IndexEntriesOf(const Msg&) {
  return {};  // members, grants, the cluster row: no index entries
}

// ---- The transaction ----

// Pending changes of one atomic batch, read-your-writes over the store. Every
// entity row goes through PutEntity, which keeps the digest and the index
// entries (IndexEntriesOf) in step with the row.
class ObjectStore::Txn {
 public:
  Txn(const KvReader& base, const ObjectStore& store)
      : applied(store.applied_),
        chain_heads(store.chain_heads_),
        digest(store.digest_),
        object_count(store.object_count_),
        base_(base) {}

  // A transaction nested in `parent`: it reads through the parent's pending
  // changes, starts from its state, and its changes reach the parent only by
  // parent.Absorb(child) (a record that fails halfway leaves none).
  struct NestedIn {
    const Txn& parent;
  };
  explicit Txn(NestedIn nested)
      : applied(nested.parent.applied),
        chain_heads(nested.parent.chain_heads),
        digest(nested.parent.digest),
        object_count(nested.parent.object_count),
        base_(nested.parent.reader()) {}
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // Takes a nested transaction's changes and state.
  void Absorb(Txn&& child) {
    for (auto& [key, value] : child.pending_) pending_[key] = std::move(value);
    applied = std::move(child.applied);
    chain_heads = std::move(child.chain_heads);
    digest = child.digest;
    object_count = child.object_count;
  }
  bool empty() const { return pending_.empty(); }

  const KvReader& reader() const { return overlay_; }
  void Put(std::string key, std::string value) { pending_[std::move(key)] = std::move(value); }
  void Delete(std::string key) { pending_[std::move(key)] = std::nullopt; }

  // Replaces an entity row (`old`: what was there, nullopt if none), moves
  // the digest from its old to its new hash and its index entries from the
  // old row's to the new row's.
  template <typename Msg>
  void PutEntity(const std::string& key, const std::optional<Msg>& old, const Msg& now) {
    if (old) Subtract(EntityHash(key, CanonicalOf(*old)));
    Add(EntityHash(key, CanonicalOf(now)));
    Put(key, now.SerializeAsString());
    ReplaceIndex(old ? IndexEntriesOf(*old) : IndexEntries{}, IndexEntriesOf(now));
  }

  // Records the batch as one record's application: the applied row of its
  // origin, with the chain digest of that record (`head`, 32 bytes).
  void SetApplied(uint32_t origin, uint64_t seq, std::string head) {
    applied[origin] = seq;
    std::string value;
    keys::AppendBe64(&value, seq);
    value += head;
    chain_heads[origin] = std::move(head);
    Put(keys::Applied(origin), value);
  }

  // The batch: every pending change plus the digest and object count rows.
  WriteBatch ToBatch() const;

  // Calls visit(key, value) for every pending put whose key starts with
  // `prefix`, in key order.
  template <typename Visit>
  void ForEachPut(std::string_view prefix, Visit visit) const {
    for (auto it = pending_.lower_bound(std::string(prefix));
         it != pending_.end() && std::string_view(it->first).substr(0, prefix.size()) == prefix;
         ++it) {
      if (it->second) visit(it->first, *it->second);
    }
  }

  VersionVector applied;
  std::map<uint32_t, std::string> chain_heads;
  Digest digest;
  uint64_t object_count;

 private:
  // Deletes entries only in `before`, puts entries only in `after`.
  void ReplaceIndex(const IndexEntries& before, const IndexEntries& after) {
    for (const auto& [k, v] : before) {
      if (!after.count(k)) Delete(k);
    }
    for (const auto& [k, v] : after) {
      if (!before.count(k)) Put(k, v);
    }
  }
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
    Status Get(std::string_view key, std::string* value) const override;
    Status Scan(std::string_view, std::string_view, const KvVisitor&) const override {
      return Internal("scan inside a transaction");
    }

   private:
    const Txn& txn_;
  };

  const KvReader& base_;
  std::map<std::string, std::optional<std::string>> pending_;
  Overlay overlay_{*this};
};

}  // namespace coffer::storage
