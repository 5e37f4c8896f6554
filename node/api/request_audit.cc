#include "node/api/request_audit.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "node/api/request_kinds.h"

namespace coffer::node {

namespace {

// The only fields of a request's sub-message (the op of a write, or the read)
// that become object ids: they name entities. Everything else (material,
// attributes, descriptions, tokens, addresses) stays out of the audit log.
constexpr std::array<std::string_view, 8> kIdFields = {
    "uuid", "name", "wallet", "object", "endpoint", "new_name", "node_name", "node_id"};

void AddIds(const google::protobuf::Message& message, std::vector<std::string>* out) {
  const google::protobuf::Descriptor* descriptor = message.GetDescriptor();
  const google::protobuf::Reflection* reflection = message.GetReflection();
  for (std::string_view name : kIdFields) {
    const google::protobuf::FieldDescriptor* field = descriptor->FindFieldByName(std::string(name));
    if (field == nullptr || field->is_repeated()) continue;
    std::string value;
    if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
      value = reflection->GetString(message, field);
    } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_UINT32) {
      uint32_t id = reflection->GetUInt32(message, field);
      if (id != 0) value = "node:" + std::to_string(id);
    }
    if (!value.empty() && std::find(out->begin(), out->end(), value) == out->end()) {
      out->push_back(std::move(value));
    }
  }
}

// The message set in `message`'s oneof `kind` (or `op`), or null.
const google::protobuf::Message* SetOneofMessage(const google::protobuf::Message& message,
                                                 std::string_view oneof_name) {
  const google::protobuf::OneofDescriptor* oneof =
      message.GetDescriptor()->FindOneofByName(std::string(oneof_name));
  if (oneof == nullptr) return nullptr;
  const google::protobuf::FieldDescriptor* field =
      message.GetReflection()->GetOneofFieldDescriptor(message, oneof);
  if (field == nullptr || field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
    return nullptr;
  }
  return &message.GetReflection()->GetMessage(message, field);
}

bool ReadsMaterial(const pb::Request& request) {
  return (request.has_get() && request.get().include_material()) || request.has_wallet_objects();
}

// What a wallet_objects read or a register is for, in its audit line: a
// keystore download or upload and an export or import under a secret are
// told apart from plain requests.
std::string_view PurposeOf(const pb::Request& request) {
  if (request.write().has_register_object()) {
    switch (request.write().register_object().source()) {
      case pb::REGISTER_KEYSTORE_UPLOAD:
        return ":upload";
      case pb::REGISTER_EXPORT_IMPORT:
        return ":import";
      default:
        return {};
    }
  }
  if (!request.has_wallet_objects()) return {};
  switch (request.wallet_objects().purpose()) {
    case pb::WALLET_OBJECTS_DOWNLOAD:
      return ":download";
    case pb::WALLET_OBJECTS_EXPORT:
      return ":export";
    default:
      return ":unspecified";
  }
}

}  // namespace

bool IsAudited(const pb::Request& request, const pb::Response& response) {
  return KindOf(request).audited || ReadsMaterial(request) || response.code() != "OK";
}

audit::AuditEvent AuditEventFor(const pb::Request& request, const ClientIdentity& who,
                                const pb::Response& response) {
  audit::AuditEvent event;
  event.client = who.common_name;
  event.role = who.organizational_unit;
  event.op = std::string(RequestKindName(request)) + std::string(PurposeOf(request)) +
             (ReadsMaterial(request) ? "+material" : "");
  if (const auto* kind = SetOneofMessage(request, "kind")) {
    const google::protobuf::Message* op = request.has_write() ? SetOneofMessage(*kind, "op") : kind;
    if (op != nullptr) AddIds(*op, &event.objects);
  }
  if (response.has_op_result() && !response.op_result().uuid().empty() &&
      std::find(event.objects.begin(), event.objects.end(), response.op_result().uuid()) ==
          event.objects.end()) {
    event.objects.push_back(response.op_result().uuid());
  }
  event.code = response.code();
  event.request_id = request.request_id();
  return event;
}

}  // namespace coffer::node
