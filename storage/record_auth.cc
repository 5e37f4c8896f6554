// The signed form of a log record, signing and checking (record_auth.h), and
// the simulation's fake scheme. The ECDSA scheme is in record_auth_ecdsa.cc.
#include "storage/record_auth.h"

#include "storage/object_store.h"

namespace coffer::storage {

std::string SignedForm(const pb::LogRecord& record, bool erased) {
  pb::LogRecord form = record;
  form.clear_signature();
  form.clear_erased_signature();
  if (form.has_object_created()) {
    form.mutable_object_created()->clear_sealed_material();
    if (erased) form.mutable_object_created()->clear_material();
  }
  return DeterministicBytes(form);
}

Status SignRecord(const RecordSigner& signer, pb::LogRecord* record) {
  COFFER_ASSIGN_OR_RETURN(std::string signature, signer.Sign(SignedForm(*record, false)));
  record->set_signature(std::move(signature));
  record->clear_erased_signature();
  if (record->has_object_created() && !record->object_created().material().empty()) {
    COFFER_ASSIGN_OR_RETURN(std::string erased, signer.Sign(SignedForm(*record, true)));
    record->set_erased_signature(std::move(erased));
  }
  return Status::Ok();
}

bool IsAuthentic(const pb::LogRecord& record, std::string_view origin_key,
                 SignatureVerifier& verifier) {
  if (origin_key.empty()) return false;
  if (!record.signature().empty() &&
      verifier.Verify(origin_key, SignedForm(record, false), record.signature())) {
    return true;
  }
  return record.has_object_created() && record.object_created().material().empty() &&
         !record.erased_signature().empty() &&
         verifier.Verify(origin_key, SignedForm(record, true), record.erased_signature());
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
