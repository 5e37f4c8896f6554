#include "node/api/feature_gates.h"

#include "node/api/request_kinds.h"

namespace coffer::node {

std::optional<upgrade::Feature> FeatureNeededBy(const pb::Request& request) {
  if (request.has_wallet_objects()) {
    return request.wallet_objects().purpose() == pb::WALLET_OBJECTS_EXPORT
               ? upgrade::Feature::kWalletExport
               : upgrade::Feature::kWalletKeystore;
  }
  if (!request.has_write()) return std::nullopt;
  const pb::Op& op = request.write();
  if ((op.has_create_key() && !op.create_key().comment().empty()) ||
      (op.has_register_object() && !op.register_object().comment().empty())) {
    return upgrade::Feature::kObjectComment;
  }
  if (op.has_rekey()) return upgrade::Feature::kKeyRekey;
  if (op.has_wallet_transfer() ||
      (op.has_register_object() && op.register_object().source() == pb::REGISTER_EXPORT_IMPORT)) {
    return upgrade::Feature::kWalletExport;
  }
  if (op.has_register_object() && op.register_object().source() == pb::REGISTER_KEYSTORE_UPLOAD) {
    return upgrade::Feature::kWalletKeystore;
  }
  if (op.has_endpoint_bind() || (op.has_create_key() && !op.create_key().wallet().empty()) ||
      (op.has_register_object() && !op.register_object().wallet().empty())) {
    return upgrade::Feature::kEndpointAccess;
  }
  return std::nullopt;
}

Status CheckFeatureGates(const pb::Request& request, const upgrade::GateSnapshot& gate) {
  auto feature = FeatureNeededBy(request);
  return feature ? gate.Require(*feature) : Status::Ok();
}

Status CheckCallerGate(const ClientIdentity& who, const upgrade::GateSnapshot& gate) {
  if (who.organizational_unit != kEndpointRole) return Status::Ok();
  return gate.Require(upgrade::Feature::kEndpointAccess);
}

}  // namespace coffer::node
