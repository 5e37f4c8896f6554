// The cluster version's decisions, without I/O (semantics.md section 6,
// upgrade/README.md): what this node writes next so that
//  - its membership row records the release of the binary it runs;
//  - the cluster version rises to the lowest release over every member,
//    never falls, and never rises past a member that has not proven it
//    supports the new value: each member first writes a fence (from then on
//    it refuses binaries below the new value), and once every member has,
//    any node writes the bump. Every step is a replicated record, persisted
//    before it takes effect, and idempotent: after a crash at any point the
//    same decision is taken again and the rerun completes.
// The node (node/) and the simulation (tests/sim/) perform what Decide
// returns, through upgrade/version_driver.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/release.h"
#include "upgrade/version.h"

namespace coffer::upgrade {

// What membership says of one member (deleted members are left out:
// disabled, unreachable and expired ones count).
struct MemberVersion {
  uint32_t node_id = 0;
  std::string name;
  std::optional<Release> release;  // nullopt: never recorded (holds the version)
  std::optional<Release> fence;    // the highest cluster version it fenced
};

struct VersionView {
  uint32_t self = 0;
  BinaryVersions binary;
  std::vector<MemberVersion> members;
  Release cluster_version;
  bool held = false;
  // False in a store written by 0.1 (no cluster version recorded; it runs
  // at the binary's lowest cluster version): the first step records it.
  bool cluster_version_recorded = true;
  // This node's own row is DISABLING or DISABLED (EXPIRED included): it
  // writes no step (replication/core: a disabled node writes nothing but
  // its state changes, and an EXPIRED node's records are never merged, so
  // one that reached only some nodes would leave them apart for good). Its
  // recorded release and fence still count, and hold the version until it
  // is enabled again.
  bool self_disabled = false;
};

// This node's next step; at most one field is set, in this order of
// priority (a step's record must be applied before the next is decided).
struct VersionStep {
  std::optional<Release> record_release;  // this node's row lacks its binary's release
  std::optional<Release> record_fence;    // this node fences the target
  std::optional<Release> bump_to;         // every member fenced: raise the version
  bool empty() const { return !record_release && !record_fence && !bump_to; }
};

// The cluster version every member supports (the lowest member release's
// major.minor), nullopt while a member's release is unknown.
std::optional<Release> TargetClusterVersion(const VersionView& view);

VersionStep Decide(const VersionView& view);

// The lowest release this node lets link to it or join through it: the
// cluster version, or the version this node fenced if higher (a fence is a
// promise to refuse binaries below it before any node bumps).
Release VersionFloor(const VersionView& view);

// What keeps the cluster version where it is, for an operator: one line per
// member below the next version (or with no release, or not yet fenced), or
// the hold. Empty when nothing does (the version is as high as this binary's
// or a step is under way).
std::vector<std::string> Holders(const VersionView& view);

}  // namespace coffer::upgrade
