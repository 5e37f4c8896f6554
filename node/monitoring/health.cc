#include "node/monitoring/health.h"

namespace coffer::node {

bool StorageFaulted(const pb::NodeStatus& self) {
  return !self.storage_state().empty() && self.storage_state() != "writable";
}

Health HealthOf(const pb::NodeStatus& self) {
  if (StorageFaulted(self)) return {507, "storage-fault"};
  if (self.state() == "PENDING" || self.state() == "ENABLING") return {473, "catching-up"};
  if (self.mode() == "read-write") return {200, "read-write"};
  if (self.mode() == "read-only") return {429, "read-only"};
  if (self.mode() == "restricted") return {472, "restricted"};
  return {503, "unavailable"};
}

bool IsReady(const pb::NodeStatus& self) {
  return self.mode() == "read-write" && !StorageFaulted(self);
}

std::string MemberHealth(const pb::MemberView& m, const pb::NodeStatus* s, bool unreachable) {
  if (m.state() == "EXPIRED") return "expired";
  if (m.state() == "DISABLING" || m.state() == "DISABLED") return "disabled";
  if (s == nullptr) return unreachable ? "down" : "unknown";
  Health health = HealthOf(*s);
  switch (health.code) {
    case 507:
      return "storage-fault";
    case 473:
      return "catching-up";
    case 472:
      return "restricted";
    case 503:
      return "disabled";
    default:
      break;
  }
  for (const auto& link : s->links()) {
    if (!link.up()) return "degraded";
  }
  return "healthy";
}

}  // namespace coffer::node
