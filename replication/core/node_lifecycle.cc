#include "replication/core/node_lifecycle.h"

#include <algorithm>

#include "common/fault_point.h"

namespace coffer::replication {

bool Expired(const MemberRecord& member, int64_t wall_now_micros) {
  return member.state == pb::NODE_DISABLED && wall_now_micros >= member.window_end_wall_micros;
}

MemberState ProtocolState(pb::NodeState state) {
  switch (state) {
    case pb::NODE_DISABLING:
      return MemberState::kDisabling;
    case pb::NODE_DISABLED:
      return MemberState::kDisabled;
    default:
      return MemberState::kActive;
  }
}

LifecycleStep NodeLifecycle::Decide(pb::NodeState self_state, const ReplicationCore& core) {
  LifecycleStep step;
  if (self_state == pb::NODE_DISABLING && core.mode() == WriteMode::kUnavailable &&
      core.pending_critical_writes() == 0 && core.OwnRecordsEverywhere()) {
    step.next = pb::NODE_DISABLED;
  }
  if (self_state == pb::NODE_PENDING || self_state == pb::NODE_ENABLING) {
    if (!catching_up_) {
      step.start_catch_up = true;
      catching_up_ = true;
    } else if (core.CaughtUp() ||
               // Planted bug: ACTIVE before replication works both ways.
               COFFER_FAULT_POINT("lifecycle.active_before_caught_up")) {
      step.next = pb::NODE_ACTIVE;
    }
  } else {
    catching_up_ = false;
  }
  return step;
}

bool LogGc::Due(int64_t now_micros) {
  if (last_run_ && now_micros - *last_run_ < options_.interval_micros) return false;
  last_run_ = now_micros;
  return true;
}

std::optional<VersionVector> LogGc::CollectibleThrough(uint32_t self, const VersionVector& applied,
                                                       const std::vector<MemberRecord>& members,
                                                       const ReplicationCore& core,
                                                       int64_t wall_now_micros) const {
  VersionVector through = applied;
  for (const auto& m : members) {
    if (m.id == self) continue;
    const VersionVector* has = nullptr;
    VersionVector reported;
    if (m.state == pb::NODE_DISABLED) {
      if (Expired(m, wall_now_micros)) continue;
      // Planted bug: a DISABLED node within its window loses the records it
      // has not applied (the simulation's GC checker must see it).
      if (COFFER_FAULT_POINT("log_gc.drop_before_disabled_node_has_it")) continue;
      has = &m.disabled_applied;
    } else {
      LinkView view = core.link(m.id);
      if (view.last_heard_micros == 0) return std::nullopt;
      reported = std::move(view.peer_applied);
      has = &reported;
    }
    for (auto& [origin, seq] : through) {
      auto it = has->find(origin);
      seq = std::min(seq, it == has->end() ? uint64_t{0} : it->second);
    }
  }
  return through;
}

bool GroupCommit::WritesArrived(int64_t now_micros) {
  if (in_flight_) return false;  // the running or scheduled sync's SyncDone decides
  in_flight_ = true;
  last_start_ = now_micros;
  return true;
}

std::optional<int64_t> GroupCommit::SyncDone(int64_t now_micros, bool work_waiting) {
  in_flight_ = false;
  if (!work_waiting) return std::nullopt;
  in_flight_ = true;
  int64_t start = now_micros;
  if (last_start_) start = std::max(start, *last_start_ + options_.min_interval_micros);
  last_start_ = start;
  return start;
}

}  // namespace coffer::replication
