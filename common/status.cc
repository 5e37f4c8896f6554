#include "common/status.h"

#include <array>

namespace coffer {
namespace {
constexpr std::array<std::string_view, 18> kNames = {
    "OK",
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "INVALID_STATE",
    "PERMISSION_DENIED",
    "READ_ONLY_RESTRICTED",
    "READ_ONLY_NODE",
    "OUTCOME_UNKNOWN",
    "UNAVAILABLE",
    "FEATURE_NOT_ACTIVE",
    "INCOMPATIBLE_VERSION",
    "DISABLE_EXPIRED",
    "UPGRADE_IN_PROGRESS",
    "PRECHECK_FAILED",
    "DATA_LOSS",
    "RESOURCE_EXHAUSTED",
    "INTERNAL",
};
}  // namespace

std::string_view CodeName(Code code) {
  auto index = static_cast<size_t>(code);
  return index < kNames.size() ? kNames[index] : "INTERNAL";
}

Code CodeFromName(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Code>(i);
  }
  return Code::kInternal;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status Status::Annotate(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace coffer
