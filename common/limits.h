// Every byte limit of Coffer, in one place (issue 11: "every stream, message,
// list and string has a byte limit stated in one place"). docs/limits.md is
// the operator's table of these; a limit that an operator can change says
// which configuration key sets it, and the value here is its default.
//
// Rules the constants below keep (checked by static_asserts at the end):
//  - a message built from budgets (a replication batch, a snapshot chunk, a
//    list response) always fits the smallest frame a node accepts, so no
//    sender ever builds a message the receiver's limit refuses;
//  - the largest single record (one object at every field's maximum) fits a
//    budget, so it travels alone in its batch or chunk.
#pragma once

#include <cstddef>
#include <cstdint>

namespace coffer::limits {

inline constexpr size_t kKiB = 1024;
inline constexpr size_t kMiB = 1024 * kKiB;

// ---- Frames (node/net/framing.h) ----

// Largest frame a connection accepts: config [limits] max_frame_bytes,
// default 4 MiB, allowed range [kMinFrameBytes, kMaxFrameBytes].
inline constexpr size_t kDefaultFrameBytes = 4 * kMiB;
inline constexpr size_t kMinFrameBytes = 2 * kMiB;
inline constexpr size_t kMaxFrameBytes = 64 * kMiB;
// Handshake frames on peer links (PeerHello/Welcome/Refusal).
inline constexpr size_t kHandshakeFrameBytes = 64 * kKiB;

// ---- Requests in flight (node/net/client_server.h) ----

// Requests one client connection may have unanswered (handed to the handler,
// response not yet written). At this many the node stops reading the
// connection until a response is written (backpressure). So a connection
// holds at most this many requests and responses in memory, each at most
// one frame. Not a byte limit, but one of the per-connection bounds.
inline constexpr size_t kMaxRequestsInFlightPerConnection = 64;
// Bytes of requests one client connection may have in flight (their frames'
// payloads, from when each is read until its reply is produced). Once the
// requests in flight hold this many the node reads no further frame from
// the connection until a reply frees some; one request is always read, so a
// connection holds at most this plus one frame of requests.
inline constexpr size_t kMaxRequestBytesInFlightPerConnection = 16 << 20;

// ---- Budgets: where a stream is cut (a message may exceed its budget only
// by holding a single item larger than the budget) ----

// Records in one replication batch, by encoded size.
inline constexpr size_t kReplicationBatchBytes = 512 * kKiB;
// Entries in one snapshot chunk of an induction, by encoded size.
inline constexpr size_t kSnapshotChunkBytes = 512 * kKiB;
// Items in one list response (objects, wallets, endpoints, conflicts...).
inline constexpr size_t kListResponseBytes = 1 * kMiB;

// ---- Memory ----

// The in-memory copy of the newest log records of each origin that a node
// sends to its peers from (storage/object_store/log_tail.h), per store, by
// stored bytes plus a fixed per-record overhead: at 256-byte secrets about
// 10,000 records, several seconds of replication at full rate.
inline constexpr size_t kLogTailBytes = 8 * kMiB;

// ---- Strings and bytes a client can set, checked once at the API boundary ----

inline constexpr size_t kMaxRequestIdBytes = 128;
inline constexpr size_t kMaxNameBytes = 256;  // object, wallet and endpoint names
inline constexpr size_t kMaxUuidBytes = 64;
inline constexpr size_t kMaxDescriptionBytes = 4 * kKiB;
inline constexpr size_t kMaxCertificateSubjectBytes = 1 * kKiB;
// A PKCS#12 keystore file `wallet upload` reads.
inline constexpr size_t kMaxKeystoreBytes = 16 * kMiB;
// Pages of kListResponseBytes a `wallet download|export` reads at most:
// twice what fits in one keystore or export file.
inline constexpr size_t kMaxWalletPages = 2 * kMaxKeystoreBytes / kListResponseBytes;
// An endpoint's certificate in `endpoint bind` (PEM; a leaf with a chain).
inline constexpr size_t kMaxCertificatePemBytes = 16 * kKiB;
// A SHA-256 (32 bytes), e.g. an endpoint's certificate key.
inline constexpr size_t kMaxSha256Bytes = 32;
inline constexpr size_t kMaxAttributeTextBytes = 4 * kKiB;  // tags, x- values
inline constexpr size_t kMaxAttributesPerOp = 64;
inline constexpr size_t kMaxMaterialBytes = 64 * kKiB;  // key or secret material
// Host:port addresses, subgroups, release versions and join tokens.
inline constexpr size_t kMaxAddressBytes = 256;
// A node's public key (DER SubjectPublicKeyInfo; P-256 is 91 bytes) in
// membership records (replication/README.md, records authenticated by
// their origin).
inline constexpr size_t kMaxPublicKeyBytes = 1 * kKiB;
// Continuation cursors (`after` of list and snapshot chunk requests): a
// store key or an entity id.
inline constexpr size_t kMaxCursorBytes = 1 * kKiB;
// Entries in any repeated or map field of one request (attributes of an op
// or of a locate query).
inline constexpr size_t kMaxRepeatedPerRequest = kMaxAttributesPerOp;

// Wallets a key being replaced by `key rekey` may be in: the new key joins
// each of them in the rekey's one record (ObjectCreated.in_wallets);
// a key in more is refused RESOURCE_EXHAUSTED.
inline constexpr size_t kMaxWalletsPerRekey = 64;

// Members one `wallet merge|move` record carries (WalletTransferOp,
// MembersMoved): a larger wallet moves in several records, each whole.
inline constexpr size_t kMaxMembersPerTransfer = 1024;

// One rolling-upgrade plan with its progress (upgrade/orchestrator/), as
// written by the orchestrator: about 200 bytes per node plus paths and
// observed values.
inline constexpr size_t kMaxUpgradePlanBytes = 32 * kKiB;

// One encoded record at every field's maximum, with room for the envelope
// (origin, seq, stamp, result, signature).
inline constexpr size_t kMaxRecordBytes =
    kMaxMaterialBytes + kMaxAttributesPerOp * (kMaxAttributeTextBytes + 128) + 4 * kMaxNameBytes +
    kMaxDescriptionBytes + kMaxCertificateSubjectBytes + kMaxWalletsPerRekey * (kMaxUuidBytes + 2) +
    kMaxMembersPerTransfer * (kMaxUuidBytes + 2) + 4 * kKiB;

// ---- The audit log (node/audit/audit_log.h) ----

// Each string field of an audit line (client, role, op, code, request id,
// each object id) is cut to this many bytes; the line then names the field
// under "truncated" with its original length.
inline constexpr size_t kMaxAuditFieldBytes = 512;
// Object ids (uuids or names a request names) kept in one audit line.
inline constexpr size_t kMaxAuditObjects = 8;
// Longest audit line: every string field at its maximum, each byte escaped
// by the JSON encoder to at most 6 characters (\u0001), plus the keys.
inline constexpr size_t kMaxAuditLineBytes = 64 * kKiB;
// Rotation: config [audit] max_file_bytes (default, and allowed range) and
// keep_files (rotated files kept besides the current one).
inline constexpr size_t kDefaultAuditFileBytes = 64 * kMiB;
inline constexpr size_t kMinAuditFileBytes = kMaxAuditLineBytes;
inline constexpr size_t kMaxAuditFileBytes = 4096 * kMiB;
// Lines waiting for the audit writer thread; above this, a request's audit
// line waits (backpressure) rather than be dropped.
inline constexpr size_t kMaxAuditPendingBytes = 8 * kMiB;
// `coffer audit tail|search`: longest line read back from an audit file
// (longer lines are reported, not parsed).
inline constexpr size_t kMaxAuditReadLineBytes = kMaxAuditLineBytes;

// ---- CLI inputs (files, pipes and devices read by the coffer CLI) ----

inline constexpr size_t kMaxCliInputBytes = 1 * kMiB;

// ---- Origin authentication (replication/README.md, "Records authenticated by
// their origin") ----

// An origin signs at least every this many of its records (and the last of
// each group commit): the longest run of records one signature vouches for.
inline constexpr size_t kChainSignEveryRecords = 256;
// ... and once the records since its last signature reach this many encoded
// bytes (so a run is at most this plus one record).
inline constexpr size_t kChainSignEveryBytes = 256 * kKiB;
// A receiver holds at most this many not-yet-vouched records per origin and
// sending node (and kMaxUnvouchedBytes of them); more is a chain no honest
// origin makes: refused as an integrity alert.
inline constexpr size_t kMaxUnvouchedRecords = kChainSignEveryRecords;
inline constexpr size_t kMaxUnvouchedBytes = kChainSignEveryBytes + kMaxRecordBytes + 4 * kKiB;

static_assert(kReplicationBatchBytes + kMaxRecordBytes < kMinFrameBytes,
              "a replication batch must fit the smallest frame a node accepts");
static_assert(kSnapshotChunkBytes + kMaxRecordBytes < kMinFrameBytes,
              "a snapshot chunk must fit the smallest frame a node accepts");
static_assert(kListResponseBytes + kMaxRecordBytes < kMinFrameBytes,
              "a list response must fit the smallest frame a node accepts");
static_assert((8 + kMaxAuditObjects) * kMaxAuditFieldBytes * 6 + 1 * kKiB <= kMaxAuditLineBytes,
              "an audit line at every field's maximum fits kMaxAuditLineBytes");
static_assert(kMaxRecordBytes <= kReplicationBatchBytes, "one record fits a batch budget");

}  // namespace coffer::limits
