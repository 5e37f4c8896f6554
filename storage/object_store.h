// ObjectStore: a node's key-management objects, wallets and endpoints on a
// KvStore, with the replicated log written in the same atomic batch as every
// change it describes.
//
// Two ways in:
//  - Execute(): a client's intent (pb::Op), validated against local state
//    (KMIP lifecycle, unique names, existence), turned into a log record
//    stamped (this node, next seq, HLC) and applied.
//  - ApplyRemote(): a record from another origin, applied with the pure merge
//    rules of storage/merge.h. Idempotent (seq <= applied is a duplicate) and
//    commutative across origins; a gap (seq > applied + 1) is refused so the
//    caller can wait for the missing records.
// Both paths share one Apply() so local and remote effects cannot differ.
//
// Threading: not thread-safe. One owner thread calls every method (the node's
// store thread; the simulation's single thread).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/hlc.h"
#include "common/ids.h"
#include "common/limits.h"
#include "common/rng.h"
#include "common/secret.h"
#include "common/status.h"
#include "proto/api.pb.h"
#include "proto/records.pb.h"
#include "storage/crypto.h"
#include "storage/kv_store.h"
#include "storage/record_auth.h"

namespace coffer::storage {

// Order-independent digest of the replicated state: the lane-wise sum
// (mod 2^64) of SHA-256 over each entity's canonical replicated form.
struct Digest {
  std::array<uint64_t, 4> lanes{};
  bool operator==(const Digest&) const = default;
  std::string Hex() const;
};

// An attribute value as text: Locate compares values in this form, and the
// CLI prints them so. Booleans are "true"/"false", integers decimal.
std::string AttributeText(const pb::AttributeValue& value);

// The deterministic encoding of a message (map entries sorted): equal
// messages give equal bytes, which the digest and tests rely on.
std::string DeterministicBytes(const google::protobuf::Message& message);

// The checksum a snapshot chunk carries (pb::SnapshotChunk.checksum): SHA-256
// over the chunk's deterministic bytes with that field empty.
std::string SnapshotChunkChecksum(pb::SnapshotChunk chunk);

enum class Durability {
  kSync,   // fsync before returning: for acknowledged writes
  kAsync,  // may be lost on a crash (replicated copies, benchmarks)
};

enum class ApplyOutcome { kApplied, kDuplicate };

struct ObjectStoreOptions {
  NodeId node_id{1};
  // A node alone in its cluster confirms new names at once (it is the only
  // enabled node); a clustered node leaves that to replication. Default: true.
  bool confirm_names_on_apply = true;
  // Locate answers at most this many objects when the query sets no limit.
  uint32_t default_locate_limit = 1000;  // Default: 1000
  // Signs the records this node makes (storage/record_auth.h: every record
  // Execute makes durable at once, the last of each group commit through
  // SignChainTip, and at least every limits::kChainSignEveryRecords records or
  // kChainSignEveryBytes bytes), and gives the public key a new cluster
  // records for its first node. Must outlive the store. Null: records are
  // unsigned, which only a standalone node or a test may use (every receiver
  // refuses them).
  const RecordSigner* signer = nullptr;
  // Bytes of newest log records kept in memory for ReadLog
  // (storage/object_store/log_tail.h); 0 turns the copy off.
  size_t log_tail_bytes = limits::kLogTailBytes;
  // The newest LogRecord.format this binary reads (record_auth.h): a
  // received record above it is refused (INCOMPATIBLE_VERSION), never
  // skipped. The node sets its binary's (upgrade/binary_profile.h).
  // Default: kRecordFormat.
  uint32_t max_record_format = kRecordFormat;
};

// The store format (M/format) this binary writes and opens: 2 when records
// began to carry their origin's signature and members their public key, 3
// since applied rows carry the chain head. Any other is refused
// (INCOMPATIBLE_VERSION), and upgrade/store_check.h says so before the store
// is opened for writing.
inline constexpr uint32_t kStoreFormat = 3;

// Applied version vector: origin -> highest contiguous seq applied.
using VersionVector = std::map<uint32_t, uint64_t>;

class StoreSnapshot;
class LogTail;

class ObjectStore {
 public:
  // Opens the store on `kv`, unwrapping the node's data key with `root` (or
  // creating and wrapping a new one on first open). PERMISSION_DENIED if the
  // root of trust cannot unwrap the key; DATA_LOSS if the store is damaged.
  static StatusOr<std::unique_ptr<ObjectStore>> Open(std::unique_ptr<KvStore> kv,
                                                     const RootOfTrust& root, const Clock& clock,
                                                     Rng& rng, ObjectStoreOptions options = {});

  // Validates and applies a client intent. `request_id` (1..128 bytes) makes a
  // retry safe: a repeated id returns the original result and changes nothing.
  StatusOr<pb::OpResult> Execute(const pb::Op& op, const std::string& request_id,
                                 Durability durability = Durability::kSync);

  // Applies a record from another origin (material in plaintext, as received
  // inside TLS). INVALID_ARGUMENT for a malformed record or a record from this
  // node's own origin; UNAVAILABLE for a gap (the caller retries after the
  // missing records).
  StatusOr<ApplyOutcome> ApplyRemote(const pb::LogRecord& record,
                                     Durability durability = Durability::kSync);
  // Applies received records in order as one write to the store (group
  // commit on the apply side): for each, what ApplyRemote does, its outcome
  // at its index. A refused record is left out with every later record of
  // its origin (they would follow a gap); the other records are applied.
  // An error of the write itself leaves every record unapplied.
  StatusOr<std::vector<StatusOr<ApplyOutcome>>> ApplyRemoteBatch(
      const std::vector<pb::LogRecord>& records, Durability durability);

  // Where the record that answered `request_id` is, and its result; nullopt if
  // no record here carries that id.
  struct RequestRecord {
    uint32_t origin;
    uint64_t seq;
    pb::OpResult result;
  };
  StatusOr<std::optional<RequestRecord>> FindRequest(const std::string& request_id) const;

  // Marks wallets ACTIVE whose creation record is covered by `frontier` (the
  // replication core's name-confirmation frontier). Node-local; idempotent.
  Status ConfirmNames(const VersionVector& frontier);

  // Switches name confirmation to replication (ConfirmNames) once the node
  // joins a cluster (see ObjectStoreOptions::confirm_names_on_apply).
  void set_confirm_names_on_apply(bool confirm) { options_.confirm_names_on_apply = confirm; }

  // Makes every applied record durable (one fsync for many kAsync applies).
  // The one method that may be called from another thread, concurrently with
  // the owner's calls (group commit syncs on its own thread): it covers every
  // write that returned before it started.
  Status Sync() { return kv_->Sync(); }

  // Storage faults (KvStore::Fault, docs/storage-faults.md): the store's
  // fault (OK while it can write), an attempt to leave it, and the free
  // bytes of its filesystem. Like Sync, callable from any thread.
  Status StorageFault() const { return kv_->Fault(); }
  Status ResumeStorage() { return kv_->Resume(); }
  std::optional<uint64_t> FreeDiskBytes() const { return kv_->FreeBytes(); }

  // ---- Reads ----
  // NOT_FOUND if absent; PERMISSION_DENIED for material of a non-extractable
  // object; INVALID_STATE for material of a destroyed object; DATA_LOSS if the
  // sealed material fails to open.
  StatusOr<pb::ObjectView> Get(const std::string& uuid, bool include_material) const;
  // Objects matching every criterion of `query`, in uuid order, at most its
  // limit, only those whose uuid sorts after `query.after` when it is set
  // (the continuation of a list cut by bytes). A state of DESTROYED also
  // finds DESTROYED_COMPROMISED objects. With `visible`, only objects it
  // answers true for count and are returned (an endpoint's wallets).
  StatusOr<std::vector<pb::ObjectView>> Locate(
      const pb::LocateRequest& query,
      const std::function<StatusOr<bool>(const std::string& uuid)>& visible = {}) const;
  StatusOr<std::vector<pb::WalletView>> ListWallets() const;
  // `with_members` false: name, state and description only (no member
  // rows or rekey links read).
  StatusOr<pb::WalletView> GetWallet(const std::string& name_or_uuid,
                                     bool with_members = true) const;
  // The uuid of wallet (endpoint) `name_or_uuid`; NOT_FOUND if there is none.
  StatusOr<std::string> ResolveWallet(const std::string& name_or_uuid) const;
  StatusOr<std::string> ResolveEndpoint(const std::string& name_or_uuid) const;
  // The members of wallet `wallet_uuid` now, in uuid order: one scan of its
  // membership rows (GetWallet also reads each member for its rekey link).
  StatusOr<std::vector<std::string>> WalletMembers(const std::string& wallet_uuid) const;
  // Whether object `object_uuid` is a member of wallet `wallet_uuid` now.
  StatusOr<bool> InWallet(const std::string& wallet_uuid, const std::string& object_uuid) const;
  // Every endpoint with its grants; DATA_LOSS if a row (endpoint, grant or a
  // granted wallet) does not parse.
  StatusOr<std::vector<pb::EndpointView>> ListEndpoints() const;
  StatusOr<std::vector<pb::ConflictView>> ListConflicts() const;
  // The cluster this node belongs to, if any (after `cluster init` or induction).
  StatusOr<std::optional<pb::StoredCluster>> Cluster() const;
  // Every member, by node id. Names are effective (unique) names; a read-write
  // node's peer is filled in from either side of the pair.
  StatusOr<std::vector<pb::StoredNode>> Members() const;
  // node id -> public key of every node this cluster ever recorded, deleted
  // ones included: a record its origin signed before it was deleted still
  // verifies, so what the other nodes hold of it still reaches every node
  // (only records that the deleted node alone held are lost).
  StatusOr<std::map<uint32_t, std::string>> OriginKeys() const;

  // The records of `origin` after `after_seq` in this node's log, and their
  // size: what the node retains for a member that applied up to after_seq.
  // Cheap, so status and metrics may ask on every scrape: `records` is
  // exact from one seek (an origin's log is contiguous from its first
  // retained record to the applied seq); `bytes` is exact up to
  // kLogSpanSampleRecords records (a bounded scan) and beyond that their
  // mean size times the count. (RocksDB's own range-size estimate was tried:
  // it counted 2.5 MiB for 12 MiB of log still in the memtable.)
  struct LogSpan {
    uint64_t records = 0;
    uint64_t bytes = 0;
  };
  StatusOr<LogSpan> LogAfter(uint32_t origin, uint64_t after_seq) const;
  static constexpr uint64_t kLogSpanSampleRecords = 1024;

  // Log GC: deletes this node's log records of `origin` with seq <=
  // `through_seq`, at most `max_records` per call (the caller passes what
  // every counted member has applied). Returns how many were deleted. Not
  // synced: a crash may bring some back, and they are collected again.
  // Object state, request ids and the applied vector are untouched.
  StatusOr<uint64_t> CollectLog(uint32_t origin, uint64_t through_seq, size_t max_records);

  // Records of `origin` with seq >= from_seq, at most `limit`, material in
  // plaintext (for sending inside TLS). Records written since the store was
  // opened come from an in-memory copy while it holds them (log_tail.h;
  // ObjectStoreOptions::log_tail_bytes), older ones from the store: the
  // same records either way.
  StatusOr<std::vector<pb::LogRecord>> ReadLog(uint32_t origin, uint64_t from_seq,
                                               size_t limit) const;

  VersionVector Applied() const { return applied_; }
  // The chain digest (record_auth.h) of the record at Applied()[origin]:
  // what the origin's next record must carry as prev_digest. ChainStart()
  // for an origin with nothing applied. Persisted with the applied vector
  // and carried by snapshots (SnapshotChunk.chain_heads).
  const std::string& ChainHead(uint32_t origin) const;
  // Group commit (kAsync Executes): signs this node's last record if it is
  // not signed yet (a write to its log copy, unsynced), so the sync that
  // follows makes the signature durable with the records it vouches for.
  // The owner calls it before that sync starts (Replicator::TakeUnsynced);
  // records are never sent before it. A no-op without a signer.
  Status SignChainTip();
  // Whether this node's last record waits for SignChainTip.
  bool HasUnsignedTip() const { return own_unsigned_tip_ != 0; }
  // Whether this node holds object `uuid` as destroyed (a creation record
  // without its material is legitimate only then).
  StatusOr<bool> ObjectDestroyed(const std::string& uuid) const;
  // The digest kept up to date by every apply (O(1)).
  Digest StateDigest() const { return digest_; }
  // The digest recomputed from every entity row (O(entities)); equals
  // StateDigest() unless the store is damaged. Used by verification and tests.
  StatusOr<Digest> RecomputeDigest() const;
  uint64_t ObjectCount() const { return object_count_; }
  NodeId node_id() const { return options_.node_id; }
  uint32_t max_record_format() const { return options_.max_record_format; }
  uint64_t ApproximateDiskBytes() const { return kv_->ApproximateDiskBytes(); }
  // Per origin, the highest seq CollectLog deleted through in this process.
  const VersionVector& log_collected() const { return log_collected_; }
  // Bytes held by the in-memory copy of the newest log records.
  size_t log_tail_bytes() const;

  // A consistent view of every entity plus the applied vector (for induction).
  std::unique_ptr<StoreSnapshot> NewSnapshot() const;
  // A durable snapshot: the store as it is now, copied to the new directory
  // `dir` (KvStore::Checkpoint). It outlives a restart: OpenSnapshotAt(dir)
  // reads it again, in this process or a later one. The caller removes the
  // directory when done. INVALID_STATE for a store that is not on disk.
  Status CheckpointTo(const std::string& dir) const;
  // Reads the checkpoint in `dir` (read-only). NOT_FOUND if there is none.
  // The snapshot's HLC is this store's current one, which is at least the
  // checkpoint's (an HLC only grows), so a node installing it never stamps
  // below a stamp it holds.
  StatusOr<std::unique_ptr<StoreSnapshot>> OpenSnapshotAt(const std::string& dir) const;

  // ---- Induction: installing another node's snapshot on this fresh store ----
  // Writes one chunk (chunks in order; each chunk is one atomic batch). The
  // last chunk also sets the applied vector, after checking that the installed
  // state has the sender's digest (DATA_LOSS otherwise: nothing is marked
  // applied). INVALID_STATE unless the store is fresh (no records, no cluster)
  // or in the middle of an install whose resume point is chunk.resume_after of
  // the previous chunk.
  Status InstallSnapshotChunk(const pb::SnapshotChunk& chunk);
  // The key after which an interrupted install continues; nullopt if none.
  StatusOr<std::optional<std::string>> InstallResumePoint() const;

  ~ObjectStore();

 private:
  // Defined in storage/object_store/internal.h.
  class Txn;
  ObjectStore(std::unique_ptr<KvStore> kv, std::unique_ptr<Sealer> sealer, const Clock& clock,
              Rng& rng, ObjectStoreOptions options);
  // open.cc
  Status LoadState();
  Status SignUnsignedTipAtOpen();

  // Planning: a validated client intent -> the log record that carries it
  // (no origin, seq or stamp yet). plan.cc dispatches to one PlanX per op.
  StatusOr<pb::LogRecord> Plan(const pb::Op& op);
  // The uuid of a new object, wallet or endpoint: time-ordered (version 7,
  // common/ids.h), so the rows of new entities go in next to each other.
  std::string NewEntityUuid();
  // plan_objects.cc
  StatusOr<pb::LogRecord> PlanCreateKey(const pb::CreateKeyOp& c);
  StatusOr<pb::LogRecord> PlanRekey(const pb::RekeyOp& c);
  StatusOr<pb::LogRecord> PlanRegister(const pb::RegisterOp& c);
  StatusOr<pb::LogRecord> PlanSetAttributes(const pb::SetAttributesOp& c);
  StatusOr<pb::LogRecord> PlanActivate(const pb::ActivateOp& c);
  StatusOr<pb::LogRecord> PlanRevoke(const pb::RevokeOp& c);
  StatusOr<pb::LogRecord> PlanDestroy(const pb::DestroyOp& c);
  // The creation record shared by create-key and register; `wallet` (name
  // or uuid, "": none) is the wallet the object joins (in_wallets).
  StatusOr<pb::LogRecord> PlanObjectCreation(
      pb::ObjectType type, const std::string& name,
      google::protobuf::Map<std::string, pb::AttributeValue> attributes, bool activate,
      const std::string& material, const std::string& comment, const std::string& wallet);
  // plan_entities.cc
  StatusOr<pb::LogRecord> PlanWalletCreate(const pb::WalletCreateOp& c);
  StatusOr<pb::LogRecord> PlanWalletMember(const pb::WalletMemberOp& c);
  StatusOr<pb::LogRecord> PlanWalletTransfer(const pb::WalletTransferOp& c);
  StatusOr<pb::LogRecord> PlanEndpointCreate(const pb::EndpointCreateOp& c);
  StatusOr<pb::LogRecord> PlanEndpointGrant(const pb::EndpointGrantOp& c);
  StatusOr<pb::LogRecord> PlanEndpointBind(const pb::EndpointBindOp& c);
  StatusOr<pb::LogRecord> PlanRename(const pb::RenameOp& c);
  // plan_cluster.cc
  StatusOr<pb::LogRecord> PlanClusterInit(const pb::ClusterInitOp& c);
  StatusOr<pb::LogRecord> PlanNodeAdd(const pb::NodeAddOp& c);
  StatusOr<pb::LogRecord> PlanNodeState(const pb::NodeStateOp& c);
  StatusOr<pb::LogRecord> PlanNodeDelete(const pb::NodeDeleteOp& c);
  StatusOr<pb::LogRecord> PlanClusterSet(const pb::ClusterSetOp& c);
  StatusOr<pb::LogRecord> PlanNodeVersion(const pb::NodeVersionOp& c);
  StatusOr<pb::LogRecord> PlanClusterVersion(const pb::ClusterVersionOp& c);
  StatusOr<pb::LogRecord> PlanUpgradePlan(const pb::UpgradePlanOp& c);
  // plan.cc: checks shared by the PlanX functions.
  // The created object `uuid`: INVALID_ARGUMENT for a bad uuid, NOT_FOUND if
  // there is none.
  StatusOr<pb::StoredObject> LoadCreatedObject(const std::string& uuid) const;
  // OK if `name` is a valid supplied name that no live entity of `kind`
  // holds; ALREADY_EXISTS naming the holder otherwise.
  Status CheckFreeName(pb::EntityKind kind, const std::string& name, std::string_view what) const;

  // Applying (apply.cc): one record's effect, log copy, applied seq and
  // request id into `txn`; Commit writes it in one batch.
  Status Apply(Txn& txn, const pb::LogRecord& record);
  // ApplyRemote's checks, then Apply into a transaction nested in `batch`,
  // whose changes join `batch` only if the whole record applied.
  StatusOr<ApplyOutcome> ApplyRemoteInto(Txn& batch, const pb::LogRecord& record);
  Status Commit(Txn& txn, Durability durability);
  template <typename Element>
  Status MergeElement(Txn& txn, const std::string& key, const Element& incoming,
                      void (*merge_fn)(Element*, const Element&));
  // apply_entities.cc
  Status ApplyObjectCreated(Txn& txn, const pb::LogRecord& r, const pb::Stamp& stamp);
  // The old key's side of a rekey (ObjectCreated.replaces): its link to the
  // new key and its deactivation.
  Status ApplyReplacement(Txn& txn, const pb::ObjectCreated& b, const pb::Stamp& stamp);
  Status ApplyAttributesSet(Txn& txn, const pb::AttributesSet& b, const pb::Stamp& stamp);
  Status ApplyLifecycle(Txn& txn, const pb::LifecycleRaised& b);
  Status ApplyWalletCreated(Txn& txn, const pb::WalletCreated& b, const pb::Stamp& stamp,
                            uint64_t seq);
  Status ApplyEndpointCreated(Txn& txn, const pb::EndpointCreated& b, const pb::Stamp& stamp);
  Status ApplyEndpointBound(Txn& txn, const pb::EndpointBound& b, const pb::Stamp& stamp);
  Status ApplyMembersMoved(Txn& txn, const pb::MembersMoved& b, const pb::Stamp& stamp);
  Status ApplyRenamed(Txn& txn, const pb::Renamed& b, const pb::Stamp& stamp);
  // apply_cluster.cc
  Status ApplyClusterCreated(Txn& txn, const pb::ClusterCreated& b, const pb::Stamp& stamp);
  Status ApplyNodeAdded(Txn& txn, const pb::NodeAdded& b, const pb::Stamp& stamp);
  Status ApplyNodeStateSet(Txn& txn, const pb::NodeStateSet& b, const pb::Stamp& stamp);
  Status ApplyNodeDeleted(Txn& txn, const pb::NodeDeleted& b);
  Status ApplyClusterSettingSet(Txn& txn, const pb::ClusterSettingSet& b, const pb::Stamp& stamp);
  Status ApplyNodeVersionSet(Txn& txn, const pb::NodeVersionSet& b, const pb::Stamp& stamp);
  Status ApplyClusterVersionSet(Txn& txn, const pb::ClusterVersionSet& b);
  Status ApplyUpgradePlanSet(Txn& txn, const pb::UpgradePlanSet& b, const pb::Stamp& stamp);
  StatusOr<pb::StoredNode> NodeRowOrPlaceholder(Txn& txn, uint32_t node_id,
                                                std::optional<pb::StoredNode>* old);

  // Reads (names.cc, reads.cc).
  StatusOr<std::optional<pb::StoredObject>> ReadObject(const KvReader& r,
                                                       const std::string& uuid) const;
  StatusOr<pb::ObjectView> ViewObject(const pb::StoredObject& o, bool include_material) const;
  // The uuid of the live entity whose effective name is `name`, if any.
  StatusOr<std::optional<std::string>> ResolveName(pb::EntityKind kind,
                                                   const std::string& name) const;
  // True if the entity holds its supplied name (wins its claim group).
  StatusOr<bool> HoldsName(pb::EntityKind kind, const std::string& supplied,
                           const std::string& uuid) const;
  StatusOr<pb::WalletView> ViewWallet(const pb::StoredWallet& w, bool with_members = true) const;

  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<Sealer> sealer_;
  const Clock& clock_;
  Rng& rng_;
  HybridLogicalClock hlc_;
  ObjectStoreOptions options_;
  VersionVector applied_;
  std::map<uint32_t, std::string> chain_heads_;  // see ChainHead()
  // This node's records since its last signed one (Execute, SignChainTip).
  uint64_t own_unsigned_tip_ = 0;  // seq of the last unsigned one, 0: none
  uint64_t own_unsigned_records_ = 0;
  uint64_t own_unsigned_bytes_ = 0;
  VersionVector log_collected_;  // see log_collected()
  // The newest log records as stored; every log row written goes through
  // Commit or CollectLog, which keep it exact (log_tail.h).
  std::unique_ptr<LogTail> log_tail_;
  Digest digest_;
  uint64_t object_count_ = 0;
};

// A consistent point-in-time view of a store. Material is opened (plaintext)
// because a snapshot is read to send to an inducted node inside TLS.
class StoreSnapshot {
 public:
  virtual ~StoreSnapshot() = default;
  // The applied vector at the snapshot's point; DATA_LOSS for a damaged row.
  virtual StatusOr<VersionVector> Applied() const = 0;
  virtual Status ForEachObject(
      const std::function<bool(const pb::StoredObject&, const SecretBytes&)>& visit) const = 0;
  virtual Status ForEachWallet(const std::function<bool(const pb::StoredWallet&)>& visit) const = 0;
  virtual Status ForEachEndpoint(
      const std::function<bool(const pb::StoredEndpoint&)>& visit) const = 0;
  // Membership and grant elements with their keys (wallet/object, endpoint/wallet).
  // Up to `max_entries` entities after key `after` ("" = from the start), with
  // material opened for transfer, and at most `max_bytes` of encoded entries
  // (an entry larger than that comes alone), so a chunk always fits a frame.
  // The last chunk carries applied and digest.
  virtual StatusOr<pb::SnapshotChunk> ReadChunk(
      const std::string& after, size_t max_entries,
      size_t max_bytes = limits::kSnapshotChunkBytes) const = 0;
  virtual Status ForEachMember(
      const std::function<bool(const std::string& wallet, const std::string& object,
                               const pb::StoredMember&)>& visit) const = 0;
  virtual Status ForEachGrant(
      const std::function<bool(const std::string& endpoint, const std::string& wallet,
                               const pb::StoredGrant&)>& visit) const = 0;
};

}  // namespace coffer::storage
