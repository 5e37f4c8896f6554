// Origin authentication of log records (replication/README.md, "Records
// authenticated by their origin").
//
// Records of one origin form a hash chain: each carries `prev_digest`, the
// SHA-256 (ChainDigest) of the signed form of the origin's previous record.
// The origin signs (ObjectStore) the last record of each group commit and at
// least every limits::kChainSignEveryRecords records or kChainSignEveryBytes
// bytes; a signature on record S vouches, through the chain, for every record
// of that origin back to the previous signed one. Signatures travel and are
// stored with their records, so any node relays them unchanged; a receiver
// admits an origin's records only once a signed record that chains to them
// verifies with the origin's public key from membership
// (replication/chain_admission.h).
//
// The signed form is the deterministic protobuf serialization of the
// LogRecord with `signature`, the ObjectCreated `material` and the node-local
// `sealed_material` cleared; the material is covered by `material_digest`
// (its SHA-256) instead. So a log copy whose material a destroy erased has
// the same signed form and chain digest as the original, and a receiver
// checks received material against the digest (MaterialMatches). Receivers
// re-serialize what they parsed, so a receiver must know every field the
// origin set: a new LogRecord field (or a field of a body) needs a record
// format bump (`LogRecord.format`), and records of a newer format are refused
// before they are checked (INCOMPATIBLE_VERSION).
//
// Sans-IO: the decisions take the signature scheme as an interface; nodes use
// ECDSA P-256 over SHA-256 (their node certificate's key,
// record_auth_ecdsa.cc), the simulation a cheap fake with the same
// accept/refuse behaviour (record_auth_test.cc runs both on one suite). The
// chain digest is always SHA-256 (both schemes).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "proto/records.pb.h"

namespace coffer::storage {

// LogRecord.format: 3 since records are chained (prev_digest,
// material_digest; 2 was one signature per record). A record is written in
// the lowest format that carries it, so a binary that reads format N reads
// every record that uses no field added after N:
//  - 4: ObjectCreated.replaces, in_wallets, replaced_deactivation_micros
//    (feature key-rekey, release 0.3); EndpointBound (feature
//    endpoint-access, release 0.3).
//  - 5: ObjectCreated.comment (feature object-comment of the tests'
//    next-release binary, upgrade/features.h).
// Which formats a store accepts is ObjectStoreOptions::max_record_format;
// writers emit a newer format only once its feature is active (upgrade/).
inline constexpr uint32_t kRecordFormatChained = 3;
inline constexpr uint32_t kRecordFormatRekey = 4;
inline constexpr uint32_t kRecordFormatObjectComment = 5;
// The newest format this release reads and writes.
inline constexpr uint32_t kRecordFormat = kRecordFormatRekey;
// The newest format of any binary built from this source (coffer-next's).
inline constexpr uint32_t kNewestRecordFormat = kRecordFormatObjectComment;

// The lowest format that carries `record`.
uint32_t RecordFormatOf(const pb::LogRecord& record);

// The bytes an origin signs for `record` (see above).
std::string SignedForm(const pb::LogRecord& record);

// SHA-256 of SignedForm(record): the next record's prev_digest.
std::string ChainDigest(const pb::LogRecord& record);
// The same two without copying the record (SignedForm copies it: its
// attribute map, its material): the fields outside the signed form are
// moved out of `*record` and back, so it is unchanged afterwards. For the
// hot paths that hold a record of their own (receiving, applying).
std::string SignedFormInPlace(pb::LogRecord* record);
std::string ChainDigestInPlace(pb::LogRecord* record);
// The prev_digest of an origin's first record (seq 1): 32 zero bytes.
const std::string& ChainStart();
// SHA-256 of material (ObjectCreated.material_digest).
std::string MaterialDigest(std::string_view material);
// False if `record` is an ObjectCreated whose material does not match its
// material_digest (a record without material matches: it was erased, or
// never had any and then has no digest either).
bool MaterialMatches(const pb::LogRecord& record);

// Signs with one node's private key. Thread-safe.
class RecordSigner {
 public:
  virtual ~RecordSigner() = default;
  // What membership records for this node (ECDSA: DER SubjectPublicKeyInfo).
  virtual const std::string& PublicKey() const = 0;
  virtual StatusOr<std::string> Sign(std::string_view message) const = 0;
};

// Checks a signature with a node's public key, as membership records it.
// Not thread-safe (implementations may cache parsed keys).
class SignatureVerifier {
 public:
  virtual ~SignatureVerifier() = default;
  // False for a bad signature, or a public key that does not parse.
  virtual bool Verify(std::string_view public_key, std::string_view message,
                      std::string_view signature) = 0;
};

// Sets record->signature over its signed form. The record must be complete
// (origin, seq, hlc, prev_digest, body, result, material_digest).
Status SignRecord(const RecordSigner& signer, pb::LogRecord* record);

// Whether `record` carries a signature of the node whose public key is
// `origin_key` over its signed form. A record without a signature is not.
bool SignatureVerifies(const pb::LogRecord& record, std::string_view origin_key,
                       SignatureVerifier& verifier);

// The real scheme: ECDSA P-256 with SHA-256, signatures DER-encoded.
// `private_key_pem` is a node's key file (EC P-256, node/net/certs.cc).
// INVALID_ARGUMENT if it does not parse or is not an EC P-256 key.
StatusOr<std::unique_ptr<RecordSigner>> MakeEcdsaRecordSigner(std::string_view private_key_pem);
std::unique_ptr<SignatureVerifier> MakeEcdsaSignatureVerifier();
// The DER SubjectPublicKeyInfo of a PEM certificate's key (INVALID_ARGUMENT
// if it does not parse).
StatusOr<std::string> CertificatePublicKey(std::string_view certificate_pem);

// The simulation's scheme: no cryptography, same decisions. A "public key"
// is a string starting "fake-key:" (FakePublicKey: "fake-key:<node id>") and
// a signature a 64-bit hash of key and message, so only a signer given that
// key produces it. (Not secure: the simulation's Byzantine node relays and
// tampers, it does not compute other nodes' signatures.)
std::unique_ptr<RecordSigner> MakeFakeRecordSigner(std::string public_key);
std::unique_ptr<SignatureVerifier> MakeFakeSignatureVerifier();
std::string FakePublicKey(uint32_t node_id);

}  // namespace coffer::storage
