// The signed form of a log record, signing and checking (record_auth.h), and
// the simulation's fake scheme. The ECDSA scheme is in record_auth_ecdsa.cc.
#include "storage/record_auth.h"

#include <openssl/evp.h>

#include "storage/crypto.h"
#include "storage/object_store.h"

namespace coffer::storage {

uint32_t RecordFormatOf(const pb::LogRecord& record) {
  if (record.has_endpoint_bound() || record.has_members_moved()) return kRecordFormatRekey;
  if (!record.has_object_created()) return kRecordFormatChained;
  const pb::ObjectCreated& created = record.object_created();
  if (!created.comment().empty()) return kRecordFormatObjectComment;
  if (!created.replaces().empty() || created.in_wallets_size() > 0 ||
      created.replaced_deactivation_micros() != 0) {
    return kRecordFormatRekey;
  }
  return kRecordFormatChained;
}
std::string SignedForm(const pb::LogRecord& record) {
  pb::LogRecord form = record;
  form.clear_signature();
  if (form.has_object_created()) {
    form.mutable_object_created()->clear_sealed_material();
    form.mutable_object_created()->clear_material();
  }
  return DeterministicBytes(form);
}

std::string ChainDigest(const pb::LogRecord& record) { return Sha256(SignedForm(record)); }

std::string SignedFormInPlace(pb::LogRecord* record) {
  // proto3 bytes without presence: an empty field is not serialized, so the
  // bytes are those of a copy with the fields cleared.
  std::string signature, material, sealed;
  signature.swap(*record->mutable_signature());
  pb::ObjectCreated* created =
      record->has_object_created() ? record->mutable_object_created() : nullptr;
  if (created != nullptr) {
    material.swap(*created->mutable_material());
    sealed.swap(*created->mutable_sealed_material());
  }
  std::string form = DeterministicBytes(*record);
  signature.swap(*record->mutable_signature());
  if (created != nullptr) {
    material.swap(*created->mutable_material());
    sealed.swap(*created->mutable_sealed_material());
  }
  return form;
}

std::string ChainDigestInPlace(pb::LogRecord* record) { return Sha256(SignedFormInPlace(record)); }

const std::string& ChainStart() {
  static const std::string kZero(32, '\0');
  return kZero;
}

std::string MaterialDigest(std::string_view material) { return Sha256(material); }

bool MaterialMatches(const pb::LogRecord& record) {
  if (!record.has_object_created() || record.object_created().material().empty()) return true;
  return MaterialDigest(record.object_created().material()) ==
         record.object_created().material_digest();
}

Status SignRecord(const RecordSigner& signer, pb::LogRecord* record) {
  COFFER_ASSIGN_OR_RETURN(std::string signature, signer.Sign(SignedForm(*record)));
  record->set_signature(std::move(signature));
  return Status::Ok();
}

bool SignatureVerifies(const pb::LogRecord& record, std::string_view origin_key,
                       SignatureVerifier& verifier) {
  return !origin_key.empty() && !record.signature().empty() &&
         verifier.Verify(origin_key, SignedForm(record), record.signature());
}

namespace {

uint64_t Fnv1a(std::string_view a, std::string_view b) {
  uint64_t h = 14695981039346656037ULL;
  for (std::string_view part : {a, std::string_view("\0", 1), b}) {
    for (unsigned char c : part) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  }
  return h;
}

std::string FakeSignature(std::string_view key, std::string_view message) {
  return "fake-sig:" + std::to_string(Fnv1a(key, message));
}

class FakeRecordSigner final : public RecordSigner {
 public:
  explicit FakeRecordSigner(std::string key) : key_(std::move(key)) {}
  const std::string& PublicKey() const override { return key_; }
  StatusOr<std::string> Sign(std::string_view message) const override {
    return FakeSignature(key_, message);
  }

 private:
  std::string key_;
};

class FakeSignatureVerifier final : public SignatureVerifier {
 public:
  bool Verify(std::string_view public_key, std::string_view message,
              std::string_view signature) override {
    return public_key.starts_with("fake-key:") && FakeSignature(public_key, message) == signature;
  }
};

}  // namespace

std::string FakePublicKey(uint32_t node_id) { return "fake-key:" + std::to_string(node_id); }

std::unique_ptr<RecordSigner> MakeFakeRecordSigner(std::string public_key) {
  return std::make_unique<FakeRecordSigner>(std::move(public_key));
}

std::unique_ptr<SignatureVerifier> MakeFakeSignatureVerifier() {
  return std::make_unique<FakeSignatureVerifier>();
}

}  // namespace coffer::storage
