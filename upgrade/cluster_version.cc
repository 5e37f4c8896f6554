#include "upgrade/cluster_version.h"

#include <algorithm>

#include "common/fault_point.h"

namespace coffer::upgrade {
namespace {

std::string Describe(const MemberVersion& m) {
  return "node " + m.name + " (" + std::to_string(m.node_id) + ")";
}

const MemberVersion* FindMember(const VersionView& view, uint32_t node_id) {
  for (const auto& m : view.members) {
    if (m.node_id == node_id) return &m;
  }
  return nullptr;
}

}  // namespace

std::optional<Release> TargetClusterVersion(const VersionView& view) {
  std::optional<Release> lowest;
  for (const auto& m : view.members) {
    if (!m.release) return std::nullopt;
    if (!lowest || m.release->Minor() < *lowest) lowest = m.release->Minor();
  }
  return lowest;
}

VersionStep Decide(const VersionView& view) {
  VersionStep step;
  const MemberVersion* self = FindMember(view, view.self);
  if (self == nullptr) return step;  // standalone, or not yet a member
  if (view.self_disabled) return step;
  if (self->release != view.binary.release) {
    step.record_release = view.binary.release;
    return step;
  }
  std::optional<Release> target = TargetClusterVersion(view);
  if (!view.cluster_version_recorded) {
    // Nothing rises: the version it runs at is written down.
    if (target && *target >= view.cluster_version.Minor()) step.bump_to = view.cluster_version;
    return step;
  }
  if (view.held) return step;
  // One minor at a time, and never past what this binary runs.
  if (!target || *target <= view.cluster_version.Minor()) return step;
  target = std::min(
      {*target, view.cluster_version.Minor().NextMinor(), view.binary.max_cluster_version()});
  if (!self->fence || *self->fence < *target) {
    step.record_fence = *target;
    return step;
  }
  const bool all_fenced = std::all_of(view.members.begin(), view.members.end(), [&](const auto& m) {
    return m.fence && *m.fence >= *target;
  });
  // Planted bug upgrade.never_bump (the simulation's checker must see it):
  // every member fenced, and the version is left where it is.
  if (all_fenced && !COFFER_FAULT_POINT("upgrade.never_bump")) step.bump_to = *target;
  return step;
}

Release VersionFloor(const VersionView& view) {
  Release floor = view.cluster_version.Minor();
  const MemberVersion* self = FindMember(view, view.self);
  if (self != nullptr && self->fence && *self->fence > floor) floor = self->fence->Minor();
  return floor;
}

std::vector<std::string> Holders(const VersionView& view) {
  std::vector<std::string> out;
  if (view.held) out.push_back("the hold set by `coffer cluster version hold`");
  const Release next = view.cluster_version.Minor().NextMinor();
  // Nothing is below the next version unless some member runs it.
  const bool some_member_runs_next =
      std::any_of(view.members.begin(), view.members.end(),
                  [&](const auto& m) { return m.release && m.release->Minor() >= next; });
  if (!some_member_runs_next) return out;
  // Members below the next version hold it first; once none is, those that
  // have not fenced it.
  std::vector<std::string> below;
  std::vector<std::string> unfenced;
  for (const auto& m : view.members) {
    if (!m.release) {
      below.push_back(Describe(m) + " has not recorded its release (not started since it joined?)");
    } else if (m.release->Minor() < next) {
      below.push_back(Describe(m) + " runs " + m.release->ToString());
    } else if (!m.fence || *m.fence < next) {
      unfenced.push_back(Describe(m) + " has not fenced " + next.MinorString() +
                         " yet (stopped or unreachable?)");
    }
  }
  const auto& members = below.empty() && !view.held ? unfenced : below;
  out.insert(out.end(), members.begin(), members.end());
  return out;
}

}  // namespace coffer::upgrade
