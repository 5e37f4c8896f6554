// Origin authentication of log records (replication/README.md, "Records
// authenticated by their origin").
//
// An origin signs every record it makes, at creation (ObjectStore::Execute),
// with its node key. The signature travels and is stored with the record, so
// any node relays it unchanged; every receiver checks it against the origin's
// public key from membership (StoredNode.public_key) before the record
// reaches the replication core.
//
// The signed form is the deterministic protobuf serialization of the
// LogRecord with `signature`, `erased_signature` and the ObjectCreated
// `sealed_material` cleared (sealing is node-local). Receivers re-serialize
// what they parsed, so a receiver must know every field the origin set: a new
// LogRecord field (or a field of a body) needs a record format bump
// (`LogRecord.format`), and records of a newer format are refused before they
// are checked (INCOMPATIBLE_VERSION).
//
// An ObjectCreated with material carries a second signature, over the form
// with the material cleared: a node whose log copy lost the material to a
// destroy still relays a record that verifies. Known limit: a relaying node
// may so withhold an object's material (relay the erased form of a creation
// record); it cannot author or change anything else.
//
// Sans-IO: the decision (CheckRecord) takes the signature scheme as an
// interface; nodes use ECDSA P-256 over SHA-256 (their node certificate's
// key, record_auth_ecdsa.cc), the simulation a cheap fake with the same
// accept/refuse behaviour (record_auth_test.cc runs both on one suite).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "proto/records.pb.h"

namespace coffer::storage {

// The bytes an origin signs for `record`; with `erased`, the ObjectCreated
// material is cleared too.
std::string SignedForm(const pb::LogRecord& record, bool erased);

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

// Sets record->signature (and erased_signature for an ObjectCreated with
// material). The record must be complete (origin, seq, hlc, body, result).
Status SignRecord(const RecordSigner& signer, pb::LogRecord* record);

// Whether `record` was made by the node whose public key is `origin_key`:
// `signature` over the signed form, or (an ObjectCreated without material)
// `erased_signature` over the erased form. A record without a signature is
// not authentic.
bool IsAuthentic(const pb::LogRecord& record, std::string_view origin_key,
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
