#include "upgrade/orchestrator/stepper.h"

#include <algorithm>
#include <functional>

#include "upgrade/orchestrator/plan_builder.h"

namespace coffer::upgrade {
namespace {

std::string NamesOf(const ClusterObservation& o, const std::vector<uint32_t>& ids) {
  std::string out;
  for (uint32_t id : ids) {
    const NodeObservation* n = o.Find(id);
    if (!out.empty()) out += ", ";
    out += n != nullptr ? n->name : "node " + std::to_string(id);
  }
  return out;
}

// Why the pair peer of `node` cannot take writes alone ("" when it can, or
// when `node` has no pair).
std::string PeerDown(const NodeObservation& node, const ClusterObservation& o) {
  if (node.role != pb::NODE_READ_WRITE || node.peer == 0) return "";
  const NodeObservation* peer = o.Find(node.peer);
  if (peer == nullptr) return "";
  if (!peer->reachable) return "pair peer " + peer->name + " is unreachable";
  if (peer->state != "ACTIVE") return "pair peer " + peer->name + " is " + peer->state;
  return "";
}

// Why `node` is not yet ACTIVE with links up both ways to every member
// ("" when it is), on `release` ("": any release).
std::string NotActive(const NodeObservation& node, const ClusterObservation& o,
                      const std::string& release) {
  if (!node.reachable) return "unreachable: " + node.reachable_error;
  std::vector<std::string> why;
  if (node.state != "ACTIVE") why.push_back("state " + node.state);
  if (!release.empty() && node.running_release != release) {
    why.push_back("runs " + node.running_release + ", expected " + release);
  }
  if (!node.links_down.empty()) why.push_back("does not hear " + NamesOf(o, node.links_down));
  std::vector<uint32_t> deaf, unknown;
  for (const auto& other : o.nodes) {
    if (other.node_id == node.node_id) continue;
    if (!other.reachable) {
      unknown.push_back(other.node_id);
    } else if (std::find(other.links_down.begin(), other.links_down.end(), node.node_id) !=
               other.links_down.end()) {
      deaf.push_back(other.node_id);
    }
  }
  if (!deaf.empty()) why.push_back("not heard by " + NamesOf(o, deaf));
  if (!unknown.empty()) why.push_back("links unknown: unreachable " + NamesOf(o, unknown));
  std::string out;
  for (const auto& w : why) out += (out.empty() ? "" : "; ") + w;
  return out;
}

}  // namespace

const char* ActionName(Action action) {
  switch (action) {
    case Action::kWait:
      return "wait";
    case Action::kPersist:
      return "persist";
    case Action::kDisable:
      return "disable";
    case Action::kStop:
      return "stop";
    case Action::kSwap:
      return "swap";
    case Action::kStart:
      return "start";
    case Action::kEnable:
      return "enable";
    case Action::kFinished:
      return "finished";
  }
  return "?";
}

pb::UpgradePlan NextRevision(const pb::UpgradePlan& plan, int64_t now_micros,
                             int64_t lease_micros) {
  pb::UpgradePlan next = plan;
  next.set_revision(plan.revision() + 1);
  next.set_updated_micros(now_micros);
  next.set_lease_until_micros(now_micros + lease_micros);
  return next;
}

Decision Stepper::Next(const pb::UpgradePlan& plan, const ClusterObservation& o) {
  Decision d;
  if (!PlanRunning(plan)) {
    d.action = Action::kFinished;
    return d;
  }
  const int64_t now = o.now_micros;
  // Progress: a node's gap to the most advanced reachable node (records it
  // has yet to apply) reaching a new low. A node that keeps up with new
  // writes but is stuck (a link down) makes none, so its wait times out.
  uint64_t most = 0;
  for (const auto& n : o.nodes) {
    if (n.reachable) most = std::max(most, n.applied_total);
  }
  for (const auto& n : o.nodes) {
    if (!n.reachable) continue;
    const uint64_t gap = most - std::min(most, n.applied_total);
    auto [it, fresh] = progress_.try_emplace(n.node_id, gap, now);
    if (!fresh && gap < it->second.first) it->second = {gap, now};
  }
  const bool rollback = plan.state() == pb::UPGRADE_ROLLING_BACK;
  const auto& list = rollback ? plan.rollback() : plan.nodes();
  const std::string& release = rollback ? plan.from_release() : plan.to_release();
  auto next = [&] { return NextRevision(plan, now, options_.lease_micros); };
  auto persist = [&](pb::UpgradePlan p, Action action = Action::kPersist) {
    d.action = action;
    d.persist = std::move(p);
    return d;
  };
  // The plan leaves RUNNING/ROLLING_BACK: the orchestrator lets its lease go.
  auto finish = [&](pb::UpgradePlanState state) {
    pb::UpgradePlan p = next();
    p.set_state(state);
    p.set_abort_requested(false);
    p.set_pause_requested(false);
    p.set_lease_until_micros(now);
    return persist(std::move(p));
  };

  int index = 0;
  while (index < list.size() && list[index].step() == pb::STEP_DONE) ++index;
  if (index == list.size()) {
    return finish(rollback ? pb::UPGRADE_ROLLED_BACK : pb::UPGRADE_DONE);
  }
  const pb::UpgradeNode& node = list[index];
  auto mutable_node = [&](pb::UpgradePlan& p) {
    return rollback ? p.mutable_rollback(index) : p.mutable_nodes(index);
  };
  auto advance = [&](pb::UpgradeStep step) {
    pb::UpgradePlan p = next();
    mutable_node(p)->set_step(step);
    mutable_node(p)->set_step_started_micros(now);
    return p;
  };
  auto pause = [&](std::string check, std::string observed) {
    pb::UpgradePlan p = next();
    p.set_state(pb::UPGRADE_PAUSED);
    p.set_pause_requested(false);
    p.set_lease_until_micros(now);
    auto* why = p.mutable_pause();
    why->set_check(std::move(check));
    why->set_node_id(node.node_id());
    why->set_step(node.step());
    why->set_observed(std::move(observed));
    why->set_at_micros(now);
    return persist(std::move(p));
  };
  // A wait: renews the lease when a third of it is left.
  auto wait = [&](std::string what) {
    d.waiting_for = node.name() + ": " + what;
    if (plan.lease_until_micros() - now < options_.lease_micros * 2 / 3) return persist(next());
    d.action = Action::kWait;
    return d;
  };
  auto timed_out = [&](int64_t limit) {
    int64_t since = node.step_started_micros();
    auto it = progress_.find(node.node_id());
    if (it != progress_.end()) since = std::max(since, it->second.second);
    return now - since > limit;
  };

  const NodeObservation* seen = o.Find(node.node_id());
  if (seen == nullptr) return pause("member", node.name() + " is no longer a member");
  const NodeObservation& n = *seen;
  const pb::UpgradeStep step = node.step();

  // Operator requests, honoured at a step boundary (now).
  if (plan.abort_requested()) {
    switch (step) {
      case pb::STEP_PENDING:
      case pb::STEP_DISABLE:
        // The plan may say PENDING or DISABLE of a node its disable reached:
        // an orchestrator died between the disable and persisting the step,
        // or an abort written from a lagging copy of the plan won over the
        // step's revision. Only the plan disables while it runs, so a
        // DISABLING or DISABLED node is the plan's: wait for DISABLED, then
        // bring it back, never end with it disabled.
        if (n.state == "DISABLING") return persist(advance(pb::STEP_WAIT_DISABLED));
        if (n.state == "DISABLED") return persist(advance(pb::STEP_START));
        // Not disabled yet.
        if (step == pb::STEP_PENDING || n.state == "ACTIVE") return finish(pb::UPGRADE_ABORTED);
        break;  // DISABLE of a node in another state: bring it back below
      case pb::STEP_CANARY:
      case pb::STEP_WAIT_RELEASE:
        // Enabled and ACTIVE again.
        return finish(pb::UPGRADE_ABORTED);
      case pb::STEP_WAIT_DISABLED:
        // The disable was sent and cannot be taken back before it took
        // effect (only a DISABLED node is enabled); a view that has not
        // seen it yet shows the node ACTIVE, and ending there would leave
        // it disabled. Wait for DISABLED (below), then bring it back.
        if (n.state == "DISABLED") return persist(advance(pb::STEP_START));
        break;
      case pb::STEP_STOP:
      case pb::STEP_SWAP:
        // Bring it back on whichever binary is installed.
        return persist(advance(pb::STEP_START));
      default:
        break;  // START, ENABLE, WAIT_ACTIVE: on towards ACTIVE
    }
    if (step == pb::STEP_DISABLE) return persist(advance(pb::STEP_START));
  } else if (plan.pause_requested()) {
    return pause("operator", "paused by `coffer upgrade pause` at " + node.name() + " step " +
                                 pb::UpgradeStep_Name(step));
  }

  d.node_id = node.node_id();
  // From ENABLE on, the node runs the plan's binary: one that died (a crash,
  // a kill) is started again, which is a start, not a restart by the plan.
  if (step >= pb::STEP_ENABLE && step <= pb::STEP_WAIT_RELEASE && !n.process_running) {
    d.action = Action::kStart;
    return d;
  }
  switch (step) {
    case pb::STEP_PENDING: {
      // Never a read-write node before every read-only node runs the
      // target (the plan's order gives it; a hand-edited plan does not).
      if (!rollback && n.role == pb::NODE_READ_WRITE) {
        for (const auto& other : o.nodes) {
          if (other.role == pb::NODE_READ_ONLY && other.running_release != release) {
            return pause("read-only-first", other.name + " (read-only) runs " +
                                                other.running_release + ", not " + release);
          }
        }
      }
      std::string peer = PeerDown(n, o);
      if (!peer.empty()) {
        return timed_out(options_.wait_peer_micros) ? pause("pair-peer-active", peer) : wait(peer);
      }
      return persist(advance(pb::STEP_DISABLE));
    }
    case pb::STEP_DISABLE: {
      if (n.state == "DISABLING" || n.state == "DISABLED") {
        return persist(advance(pb::STEP_WAIT_DISABLED));
      }
      std::string peer = PeerDown(n, o);
      if (!peer.empty()) {
        return timed_out(options_.wait_peer_micros) ? pause("pair-peer-active", peer) : wait(peer);
      }
      if (n.state != "ACTIVE") {
        std::string seen_state = "state " + n.state + ", only an ACTIVE node is disabled";
        return timed_out(options_.wait_active_micros) ? pause("node-active", seen_state)
                                                      : wait(seen_state);
      }
      return persist(advance(pb::STEP_WAIT_DISABLED), Action::kDisable);
    }
    case pb::STEP_WAIT_DISABLED: {
      if (n.state == "DISABLED") return persist(advance(pb::STEP_STOP));
      std::string seen_state = "state " + n.state + ", " + std::to_string(n.unreplicated) +
                               " of its records not yet on every node";
      if (n.state == "EXPIRED") return pause("node-disabled", seen_state);
      return timed_out(options_.wait_disabled_micros) ? pause("node-disabled", seen_state)
                                                      : wait("DISABLED (" + seen_state + ")");
    }
    case pb::STEP_STOP: {
      if (!n.process_running) return persist(advance(pb::STEP_SWAP));
      pb::UpgradePlan p = advance(pb::STEP_SWAP);
      mutable_node(p)->set_stops(node.stops() + 1);
      return persist(std::move(p), Action::kStop);
    }
    case pb::STEP_SWAP: {
      const std::string& binary = rollback ? node.old_binary() : plan.binary();
      if (n.installed_binary == binary) return persist(advance(pb::STEP_START));
      if (n.process_running) {
        // STOP found no process (it had crashed) and went on without
        // stopping it, and its supervisor has started it again since, on
        // the binary to be replaced: a swap under it would leave it on the
        // old release. Stop it: the plan's one stop of it. One the plan
        // stopped already is not stopped twice: the plan pauses.
        if (node.stops() > 0) {
          return pause("node-stopped", n.name + " runs again (" + n.running_release +
                                           ") after the plan stopped it; stop it, then resume");
        }
        pb::UpgradePlan p = next();
        mutable_node(p)->set_stops(node.stops() + 1);
        return persist(std::move(p), Action::kStop);
      }
      if (!rollback && node.old_binary().empty()) {
        // Record what is installed before replacing it, so a rollback
        // finds it even if the orchestrator dies right after the swap.
        pb::UpgradePlan p = next();
        mutable_node(p)->set_old_binary(n.installed_binary);
        return persist(std::move(p));
      }
      d.binary = binary;
      return persist(advance(pb::STEP_START), Action::kSwap);
    }
    case pb::STEP_START:
      if (n.process_running) return persist(advance(pb::STEP_ENABLE));
      return persist(advance(pb::STEP_ENABLE), Action::kStart);
    case pb::STEP_ENABLE: {
      if (n.state == "ENABLING" || n.state == "ACTIVE") {
        return persist(advance(pb::STEP_WAIT_ACTIVE));
      }
      if (n.state == "EXPIRED") {
        return pause("node-enabled",
                     "EXPIRED: disabled longer than the maximum disable "
                     "duration; it must be force-deleted and inducted again");
      }
      if (!n.reachable) {
        std::string why = "not answering: " + n.reachable_error +
                          (n.last_action_error.empty() ? "" : "; " + n.last_action_error);
        return timed_out(options_.wait_started_micros) ? pause("node-reachable", why) : wait(why);
      }
      return persist(advance(pb::STEP_WAIT_ACTIVE), Action::kEnable);
    }
    case pb::STEP_WAIT_ACTIVE: {
      // DISABLED here: ENABLE took a view that had not yet seen the
      // disable for done (an abort right after DISABLE: the node looked
      // ACTIVE still), so no enable was sent. Enable it now.
      if (n.state == "DISABLED" && n.reachable) return persist(advance(pb::STEP_ENABLE));
      // An abort brings the node back on whichever binary it has.
      std::string why = NotActive(n, o, plan.abort_requested() ? std::string() : release);
      if (why.empty()) {
        if (plan.abort_requested()) return finish(pb::UPGRADE_ABORTED);
        return persist(advance(pb::STEP_CANARY));
      }
      return timed_out(options_.wait_active_micros) ? pause("node-active", why) : wait(why);
    }
    case pb::STEP_CANARY: {
      if (node.canary_out_revision() == 0) {
        pb::UpgradePlan p = next();
        mutable_node(p)->set_canary_out_revision(p.revision());
        d.persist_via = node.node_id();
        return persist(std::move(p));
      }
      std::vector<uint32_t> lagging;
      for (const auto& other : o.nodes) {
        if (other.node_id != node.node_id() && other.plan_revision < node.canary_out_revision()) {
          lagging.push_back(other.node_id);
        }
      }
      if (!lagging.empty()) {
        std::string why =
            "the write through " + node.name() + " is not yet on " + NamesOf(o, lagging);
        return timed_out(options_.wait_canary_micros) ? pause("canary", why) : wait(why);
      }
      if (node.canary_in_revision() == 0) {
        // Through its pair peer if it has one, else the first other ACTIVE node.
        uint32_t via = 0;
        for (const auto& other : o.nodes) {
          if (other.node_id == node.node_id() || !other.reachable || other.state != "ACTIVE") {
            continue;
          }
          if (via == 0 || other.node_id == n.peer) via = other.node_id;
        }
        if (via == 0) {
          std::string why = "no other ACTIVE node to write the return canary through";
          return timed_out(options_.wait_canary_micros) ? pause("canary", why) : wait(why);
        }
        pb::UpgradePlan p = next();
        mutable_node(p)->set_canary_in_revision(p.revision());
        d.persist_via = via;
        return persist(std::move(p));
      }
      if (n.plan_revision < node.canary_in_revision()) {
        std::string why = node.name() + " has plan revision " + std::to_string(n.plan_revision) +
                          ", not yet the write through another node (" +
                          std::to_string(node.canary_in_revision()) + ")";
        return timed_out(options_.wait_canary_micros) ? pause("canary", why) : wait(why);
      }
      return persist(advance(pb::STEP_WAIT_RELEASE));
    }
    case pb::STEP_WAIT_RELEASE: {
      if (n.recorded_release == release) return persist(advance(pb::STEP_DONE));
      std::string why = "membership records " +
                        (n.recorded_release.empty() ? "no release" : n.recorded_release) +
                        ", it runs " + n.running_release;
      return timed_out(options_.wait_release_micros) ? pause("node-release-recorded", why)
                                                     : wait(why);
    }
    default:
      return pause("plan", "unknown step " + std::to_string(step));
  }
}

}  // namespace coffer::upgrade
