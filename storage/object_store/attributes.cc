// Attribute checks: what a client may set, attribute values as text (the form
// Locate compares and the CLI prints), extractability and state matching.
#include <cctype>
#include <string>

#include "storage/keys.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {
namespace {

Status ValidateClientAttribute(const std::string& name, const pb::AttributeValue& value) {
  auto is_text = value.value_case() == pb::AttributeValue::kText;
  if (value.deleted()) {
    if (name.rfind("x-", 0) == 0 || name.rfind("tag:", 0) == 0 || name == "description" ||
        name == "contact") {
      return Status::Ok();
    }
    return InvalidArgument("attribute '" + name + "' cannot be deleted");
  }
  if (is_text && value.text().size() > kMaxAttributeTextBytes) {
    return InvalidArgument("attribute '" + name + "' is longer than 4096 bytes");
  }
  if (name.rfind("x-", 0) == 0) {
    if (name.size() < 3 || name.size() > 64) {
      return InvalidArgument("custom attribute names are x-<1..62 characters>");
    }
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
        return InvalidArgument("custom attribute name '" + name +
                               "' has a character other than "
                               "letters, digits, '-', '_' or '.'");
      }
    }
    if (!is_text) return InvalidArgument("custom attribute '" + name + "' takes a text value");
    return Status::Ok();
  }
  if (name.rfind("tag:", 0) == 0) {
    if (name.size() < 5 || name.size() > 68) return InvalidArgument("tags are 1..64 bytes long");
    if (value.value_case() != pb::AttributeValue::kBoolean || !value.boolean()) {
      return InvalidArgument("tag '" + name + "' takes the value true (delete it to remove)");
    }
    return Status::Ok();
  }
  if (name == "usage_mask") {
    if (value.value_case() != pb::AttributeValue::kInteger || value.integer() < 0) {
      return InvalidArgument("usage_mask takes a non-negative integer");
    }
    return Status::Ok();
  }
  if (name == "extractable") {
    if (value.value_case() != pb::AttributeValue::kBoolean) {
      return InvalidArgument("extractable takes true or false");
    }
    return Status::Ok();
  }
  if (name == "description" || name == "contact") {
    if (!is_text) return InvalidArgument("attribute '" + name + "' takes a text value");
    return Status::Ok();
  }
  return InvalidArgument("unknown attribute '" + name +
                         "' (settable: usage_mask, extractable, description, contact, "
                         "tag:<name>, x-<name>)");
}

}  // namespace

std::string AttributeText(const pb::AttributeValue& v) {
  switch (v.value_case()) {
    case pb::AttributeValue::kText:
      return v.text();
    case pb::AttributeValue::kInteger:
      return std::to_string(v.integer());
    case pb::AttributeValue::kBoolean:
      return v.boolean() ? "true" : "false";
    default:
      return "";
  }
}

pb::AttributeValue TextValue(std::string s) {
  pb::AttributeValue v;
  v.set_text(std::move(s));
  return v;
}

pb::AttributeValue IntValue(int64_t i) {
  pb::AttributeValue v;
  v.set_integer(i);
  return v;
}

pb::AttributeValue BoolValue(bool b) {
  pb::AttributeValue v;
  v.set_boolean(b);
  return v;
}

Status ValidateClientAttributes(const google::protobuf::Map<std::string, pb::AttributeValue>& a) {
  if (a.size() > kMaxAttributesPerOp) {
    return InvalidArgument("at most 64 attributes per request");
  }
  for (const auto& [name, value] : a) COFFER_RETURN_IF_ERROR(ValidateClientAttribute(name, value));
  return Status::Ok();
}

bool IsClientAttribute(const std::string& name, const pb::AttributeValue& value) {
  return ValidateClientAttribute(name, value).ok();
}

pb::State StateAt(const pb::StoredObject& o, int64_t now_micros) {
  pb::State state = merge::ToState(LifecycleOf(o));
  if (state != pb::ACTIVE && state != pb::PRE_ACTIVE) return state;
  auto it = o.attributes().find("deactivation_date");
  if (it == o.attributes().end() || it->second.value().deleted() ||
      it->second.value().value_case() != pb::AttributeValue::kInteger) {
    return state;
  }
  return it->second.value().integer() <= now_micros ? pb::DEACTIVATED : state;
}

bool IsExtractable(const pb::StoredObject& o) {
  auto it = o.attributes().find("extractable");
  if (it == o.attributes().end() || it->second.value().deleted()) return true;
  return it->second.value().boolean();
}

std::string AttrIndexPrefix(const std::string& name, const std::string& value) {
  std::string k(keys::kIndexAttrPrefix);
  k.append(name).push_back('\0');
  k.append(value).push_back('\0');
  return k;
}

bool StateMatches(pb::State wanted, pb::State actual) {
  return actual == wanted || (wanted == pb::DESTROYED && actual == pb::DESTROYED_COMPROMISED);
}

}  // namespace coffer::storage
