#include "node/api/input_limits.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <string>
#include <unordered_map>

#include "common/limits.h"

namespace coffer::node {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Field (protobuf full name) -> its maximum in bytes. A field that takes a
// name or a uuid has the name limit; fields that take only a uuid the uuid
// limit.
const std::unordered_map<std::string_view, size_t>& Limits() {
  using namespace limits;
  static const auto* table = new std::unordered_map<std::string_view, size_t>{
      // Requests (proto/api.proto).
      {"coffer.pb.Request.request_id", kMaxRequestIdBytes},
      {"coffer.pb.GetRequest.uuid", kMaxUuidBytes},
      {"coffer.pb.LocateRequest.name", kMaxNameBytes},
      {"coffer.pb.LocateRequest.AttributesEntry.key", kMaxNameBytes},
      {"coffer.pb.LocateRequest.AttributesEntry.value", kMaxAttributeTextBytes},
      {"coffer.pb.LocateRequest.after", kMaxCursorBytes},
      {"coffer.pb.WalletListRequest.after", kMaxCursorBytes},
      {"coffer.pb.WalletGetRequest.wallet", kMaxNameBytes},
      {"coffer.pb.WalletObjectsRequest.wallet", kMaxNameBytes},
      {"coffer.pb.WalletObjectsRequest.after", kMaxCursorBytes},
      {"coffer.pb.EndpointListRequest.after", kMaxCursorBytes},
      {"coffer.pb.ConflictListRequest.after", kMaxCursorBytes},
      {"coffer.pb.JoinRequest.token", kMaxAddressBytes},
      {"coffer.pb.JoinRequest.name", kMaxNameBytes},
      {"coffer.pb.JoinRequest.subgroup", kMaxAddressBytes},
      {"coffer.pb.JoinRequest.peer_address", kMaxAddressBytes},
      {"coffer.pb.JoinRequest.client_address", kMaxAddressBytes},
      {"coffer.pb.JoinRequest.release_version", kMaxAddressBytes},
      {"coffer.pb.SnapshotChunkRequest.after", kMaxCursorBytes},
      // Write ops (proto/records.proto).
      {"coffer.pb.AttributeValue.text", kMaxAttributeTextBytes},
      {"coffer.pb.CreateKeyOp.algorithm", kMaxNameBytes},
      {"coffer.pb.CreateKeyOp.name", kMaxNameBytes},
      {"coffer.pb.CreateKeyOp.AttributesEntry.key", kMaxNameBytes},
      {"coffer.pb.RegisterOp.name", kMaxNameBytes},
      {"coffer.pb.RegisterOp.material", kMaxMaterialBytes},
      {"coffer.pb.RegisterOp.AttributesEntry.key", kMaxNameBytes},
      {"coffer.pb.SetAttributesOp.uuid", kMaxUuidBytes},
      {"coffer.pb.SetAttributesOp.AttributesEntry.key", kMaxNameBytes},
      {"coffer.pb.ActivateOp.uuid", kMaxUuidBytes},
      {"coffer.pb.RevokeOp.uuid", kMaxUuidBytes},
      {"coffer.pb.RevokeOp.message", kMaxDescriptionBytes},
      {"coffer.pb.DestroyOp.uuid", kMaxUuidBytes},
      {"coffer.pb.WalletCreateOp.name", kMaxNameBytes},
      {"coffer.pb.WalletCreateOp.description", kMaxDescriptionBytes},
      {"coffer.pb.WalletMemberOp.wallet", kMaxNameBytes},
      {"coffer.pb.WalletMemberOp.object", kMaxUuidBytes},
      {"coffer.pb.WalletTransferOp.source", kMaxNameBytes},
      {"coffer.pb.WalletTransferOp.target", kMaxNameBytes},
      {"coffer.pb.EndpointCreateOp.name", kMaxNameBytes},
      {"coffer.pb.EndpointCreateOp.certificate_subject", kMaxCertificateSubjectBytes},
      {"coffer.pb.EndpointCreateOp.description", kMaxDescriptionBytes},
      {"coffer.pb.EndpointBindOp.endpoint", kMaxNameBytes},
      {"coffer.pb.EndpointBindOp.certificate_pem", kMaxCertificatePemBytes},
      {"coffer.pb.EndpointBindOp.public_key_sha256", kMaxSha256Bytes},
      {"coffer.pb.EndpointBindOp.certificate_subject", kMaxCertificateSubjectBytes},
      {"coffer.pb.CreateKeyOp.wallet", kMaxNameBytes},
      {"coffer.pb.RegisterOp.wallet", kMaxNameBytes},
      {"coffer.pb.EndpointGrantOp.endpoint", kMaxNameBytes},
      {"coffer.pb.EndpointGrantOp.wallet", kMaxNameBytes},
      {"coffer.pb.RenameOp.uuid", kMaxUuidBytes},
      {"coffer.pb.RekeyOp.uuid", kMaxUuidBytes},
      {"coffer.pb.RekeyOp.name", kMaxNameBytes},
      {"coffer.pb.RenameOp.new_name", kMaxNameBytes},
      {"coffer.pb.ClusterInitOp.name", kMaxNameBytes},
      {"coffer.pb.ClusterInitOp.node_name", kMaxNameBytes},
      {"coffer.pb.ClusterInitOp.peer_address", kMaxAddressBytes},
      {"coffer.pb.ClusterInitOp.client_address", kMaxAddressBytes},
      {"coffer.pb.ClusterInitOp.subgroup", kMaxAddressBytes},
      {"coffer.pb.ClusterInitOp.release_version", kMaxAddressBytes},
      {"coffer.pb.NodeAddOp.name", kMaxNameBytes},
      {"coffer.pb.NodeAddOp.subgroup", kMaxAddressBytes},
      {"coffer.pb.NodeAddOp.peer_address", kMaxAddressBytes},
      {"coffer.pb.NodeAddOp.client_address", kMaxAddressBytes},
      {"coffer.pb.NodeAddOp.release_version", kMaxAddressBytes},
      {"coffer.pb.NodeVersionOp.release", kMaxAddressBytes},
      {"coffer.pb.CreateKeyOp.comment", kMaxDescriptionBytes},
      {"coffer.pb.RegisterOp.comment", kMaxDescriptionBytes},
      {"coffer.pb.NodeVersionOp.fence", kMaxAddressBytes},
      {"coffer.pb.ClusterVersionOp.version", kMaxAddressBytes},
      {"coffer.pb.NodeAddOp.public_key", kMaxPublicKeyBytes},
      {"coffer.pb.NodeStateOp.upgrade_plan_id", kMaxUuidBytes},
      // The upgrade plan (the whole plan is also held to kMaxUpgradePlanBytes).
      {"coffer.pb.UpgradePlan.plan_id", kMaxUuidBytes},
      {"coffer.pb.UpgradePlan.owner", kMaxAddressBytes},
      {"coffer.pb.UpgradePlan.from_release", kMaxAddressBytes},
      {"coffer.pb.UpgradePlan.to_release", kMaxAddressBytes},
      {"coffer.pb.UpgradePlan.from_cluster_version", kMaxAddressBytes},
      {"coffer.pb.UpgradePlan.binary", kMaxDescriptionBytes},
      {"coffer.pb.UpgradeNode.old_binary", kMaxDescriptionBytes},
      {"coffer.pb.UpgradePause.observed", kMaxDescriptionBytes},
      {"coffer.pb.UpgradeCheck.observed", kMaxDescriptionBytes},
      {"coffer.pb.UpgradeCheck.name", kMaxNameBytes},
      {"coffer.pb.UpgradeNode.name", kMaxNameBytes},
      {"coffer.pb.UpgradePause.check", kMaxNameBytes},
      {"coffer.pb.UpgradePlan.overrides", kMaxNameBytes},
  };
  return *table;
}

Status TooLarge(const std::string& path, size_t size, size_t limit, std::string_view unit) {
  return InvalidArgument(path + " is " + std::to_string(size) + " " + std::string(unit) +
                         "; the limit is " + std::to_string(limit) + " (docs/limits.md)");
}

// Checks every set field of `m`, depth first, in field order.
Status CheckMessage(const Message& m, const std::string& path) {
  const auto* reflection = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string field_path = path.empty() ? field->name() : path + "." + field->name();
    const bool text = field->type() == FieldDescriptor::TYPE_STRING ||
                      field->type() == FieldDescriptor::TYPE_BYTES;
    const size_t limit = text ? InputLimitOf(field->full_name()) : 0;
    // A text field missing from the table gets the name limit (fail closed).
    const size_t text_limit = limit == 0 ? limits::kMaxNameBytes : limit;
    if (field->is_repeated()) {
      const int n = reflection->FieldSize(m, field);
      if (static_cast<size_t>(n) > limits::kMaxRepeatedPerRequest) {
        return TooLarge(field_path, static_cast<size_t>(n), limits::kMaxRepeatedPerRequest,
                        "entries");
      }
      for (int i = 0; i < n; ++i) {
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          COFFER_RETURN_IF_ERROR(
              CheckMessage(reflection->GetRepeatedMessage(m, field, i), field_path));
        } else if (text) {
          std::string scratch;
          const std::string& v = reflection->GetRepeatedStringReference(m, field, i, &scratch);
          if (v.size() > text_limit) return TooLarge(field_path, v.size(), text_limit, "bytes");
        }
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      COFFER_RETURN_IF_ERROR(CheckMessage(reflection->GetMessage(m, field), field_path));
    } else if (text) {
      std::string scratch;
      const std::string& v = reflection->GetStringReference(m, field, &scratch);
      if (v.size() > text_limit) return TooLarge(field_path, v.size(), text_limit, "bytes");
    }
  }
  return Status::Ok();
}

}  // namespace

size_t InputLimitOf(std::string_view full_name) {
  auto it = Limits().find(full_name);
  return it == Limits().end() ? 0 : it->second;
}

Status CheckInputLimits(const pb::Request& request) { return CheckMessage(request, ""); }

}  // namespace coffer::node
