#include "upgrade/gate.h"

#include <utility>

namespace coffer::upgrade {

GateSnapshot::GateSnapshot(std::span<const FeatureInfo> registry, Release cluster_version,
                           bool held, std::vector<std::string> holders)
    : registry_(registry),
      cluster_version_(cluster_version),
      held_(held),
      holders_(std::move(holders)) {}

const FeatureInfo* GateSnapshot::Find(Feature feature) const {
  for (const auto& f : registry_) {
    if (f.feature == feature) return &f;
  }
  return nullptr;
}

bool GateSnapshot::IsActive(Feature feature) const {
  const FeatureInfo* f = Find(feature);
  return f != nullptr && cluster_version_.Minor() >= f->introduced;
}

Status GateSnapshot::Require(Feature feature) const {
  const FeatureInfo* f = Find(feature);
  if (f != nullptr && IsActive(feature)) return Status::Ok();
  std::string why;
  if (held_) why = "the cluster version is held (`coffer cluster version release` lets it rise)";
  for (const auto& h : holders_) why += (why.empty() ? "" : "; ") + h;
  if (f == nullptr) {
    // A feature of a later release than this binary's: the version it needs
    // is not known here, what holds the cluster back is.
    std::string_view name = FeatureName(feature);
    return Status(
        Code::kFeatureNotActive,
        "feature " +
            (name.empty() ? std::to_string(static_cast<int>(feature)) : std::string(name)) +
            " is not known to this node's binary (a later release); the cluster "
            "version is " +
            cluster_version_.MinorString() +
            (why.empty() ? std::string(": upgrade this node") : ". Held back by: " + why));
  }
  if (why.empty()) why = "every member supports it: it rises within seconds";
  return Status(Code::kFeatureNotActive,
                "feature " + std::string(f->name) + " needs cluster version " +
                    f->introduced.MinorString() + "; the cluster version is " +
                    cluster_version_.MinorString() + ". Held back by: " + why);
}

}  // namespace coffer::upgrade
