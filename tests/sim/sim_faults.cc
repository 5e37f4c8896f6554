// What happens to the simulated cluster: network faults and crashes, a node
// inducted mid-run, and an operator's node-state steps (disable, a second
// disable, enable, an expired node refused, force-deleted and replaced).
#include "replication/lifecycle_driver.h"
#include "tests/sim/sim_internal.h"
#include "upgrade/version_driver.h"

namespace coffer::sim {

namespace {

pb::Op NodeStateOp(uint32_t node, pb::NodeState state, bool allow_multiple = false) {
  pb::Op op;
  op.mutable_node_state()->set_node_id(node);
  op.mutable_node_state()->set_state(state);
  op.mutable_node_state()->set_allow_multiple_disabled(allow_multiple);
  return op;
}

}  // namespace

void Simulation::Fault() {
  double r = Chance();
  std::vector<uint32_t> ids;
  for (auto& [id, node] : nodes_) {
    if (!node->deleted) ids.push_back(id);
  }
  uint32_t a = ids[rng_.Uniform(ids.size())];
  uint32_t b = ids[rng_.Uniform(ids.size())];
  if (r < 0.2) {
    if (a != b) {
      blocked_.insert({a, b});
      if (Chance() < 0.6) blocked_.insert({b, a});  // else a one-way partition
      Trace("partition", a, b, 0);
    }
  } else if (r < 0.3) {
    for (uint32_t other : ids) {  // isolate a
      if (other != a) blocked_.insert({a, other}), blocked_.insert({other, a});
    }
    Trace("isolate", a, 0, 0);
  } else if (r < 0.45) {
    blocked_.clear();
    Trace("heal-partitions", 0, 0, 0);
  } else if (r < 0.6) {
    SimNode& node = *nodes_[a];
    if (node.up()) {
      Crash(node);
      int64_t downtime = 100 * kMs + static_cast<int64_t>(rng_.Uniform(1500 * kMs));
      At(now_ + downtime, [this, a] {
        if (!nodes_[a]->up()) Boot(*nodes_[a]);
      });
    }
  } else if (r < 0.8) {
    drop_chance_ = Chance() * 0.3;
    duplicate_chance_ = Chance() * 0.1;
    max_delay_ = (1 + static_cast<int64_t>(rng_.Uniform(50))) * kMs;
    Trace("network", static_cast<uint64_t>(drop_chance_ * 1000), max_delay_, 0);
  } else if (r < 0.88) {
    if (!options_.upgrade) AdminDisable();  // only the plan disables in upgrade seeds
  } else {
    // The disabled node moves on: enabled (long windows), or, once EXPIRED,
    // refused and replaced (short windows: never enabled while faults go on,
    // as its enable could reach the others after their GC let its window go).
    for (uint32_t id : std::vector<uint32_t>(disabled_.begin(), disabled_.end())) {
      SimNode* node = Node(id);
      if (node == nullptr || !node->up()) continue;
      std::optional<int64_t> left = WindowLeft(*node);
      if (!left) continue;  // not DISABLED (yet)
      if (!short_window_ || *left == 0) AdminEnable(*node);
    }
  }
}

void Simulation::HealAll() {
  faulty_ = false;
  blocked_.clear();
  drop_chance_ = 0;
  duplicate_chance_ = 0;
  max_delay_ = 2 * kMs;
  FixDisks();
  for (auto& [id, node] : nodes_) {
    if (!node->up()) Boot(*node);
  }
  Trace("heal", 0, 0, 0);
}

std::optional<replication::MemberRecord> Simulation::SelfRecord(const SimNode& node) const {
  auto cluster = node.store->Cluster();
  if (!cluster.ok() || !*cluster) return std::nullopt;
  for (const auto& m : replication::MemberRecords(MembersOf(node), **cluster)) {
    if (m.id == node.id) return m;
  }
  return std::nullopt;
}

std::optional<int64_t> Simulation::WindowLeft(const SimNode& node) const {
  auto self = SelfRecord(node);
  if (!self || self->state != pb::NODE_DISABLED) return std::nullopt;
  return std::max<int64_t>(0, self->window_end_wall_micros - node.clock->WallMicros());
}

void Simulation::AdminDisable() {
  std::vector<uint32_t> issuers;
  for (uint32_t id : UpNodes()) {
    auto self = SelfRecord(*nodes_[id]);
    if (self && self->state == pb::NODE_ACTIVE) issuers.push_back(id);
  }
  if (issuers.empty()) return;
  SimNode& issuer = *nodes_[issuers[rng_.Uniform(issuers.size())]];
  std::vector<uint32_t> targets;
  bool second = false;  // another node is disabled already, as the issuer knows
  for (const auto& m : MembersOf(issuer)) {
    if (m.state() == pb::NODE_ACTIVE) targets.push_back(m.node_id());
    // As the store counts it: a node the issuer still sees PENDING (its
    // disable has not reached the issuer) is not known to be disabled.
    const bool known_disabled = m.state() == pb::NODE_DISABLING || m.state() == pb::NODE_DISABLED ||
                                m.state() == pb::NODE_ENABLING;
    if (disabled_.contains(m.node_id()) && known_disabled) second = true;
  }
  if (targets.empty() || (!disabled_.empty() && !second)) return;
  uint32_t target = targets[rng_.Uniform(targets.size())];
  const bool override = second && Chance() < 0.15;
  auto written =
      issuer.replicator->WriteUnpaired(NodeStateOp(target, pb::NODE_DISABLING, override),
                                       "admin-disable-" + std::to_string(next_request_++));
  Trace("disable", issuer.id, target, written.ok() ? 1 : 0);
  if (!written.ok()) {
    if (second) ++result_.disables_refused;
    return;
  }
  ++result_.disables;
  if (!disabled_.empty() && !override) {
    Violation("node " + std::to_string(target) + " was disabled on node " +
              std::to_string(issuer.id) + " while node " + std::to_string(*disabled_.begin()) +
              " was disabled, without the override");
  }
  override_used_ |= override;
  disabled_.insert(target);
  RefreshMembers(issuer);
}

void Simulation::AdminEnable(SimNode& node) {
  if (pending_delete_.contains(node.id)) return;  // refused already: on its way out
  std::optional<int64_t> left = WindowLeft(node);
  if (left && *left == 0 && !expired_seq_.contains(node.id)) {
    auto applied = node.store->Applied();
    expired_seq_[node.id] = applied.contains(node.id) ? applied.at(node.id) : 0;
  }
  auto written = node.replicator->WriteUnpaired(NodeStateOp(node.id, pb::NODE_ENABLING),
                                                "admin-enable-" + std::to_string(next_request_++));
  Trace("enable", node.id, written.ok() ? 1 : 0, 0);
  if (written.ok()) {
    ++result_.enables;
    RefreshMembers(node);
    return;
  }
  if (written.status().code() != Code::kDisableExpired) return;
  ++result_.enables_refused_expired;
  // The only way on: force-delete it on another node, then induct a new node.
  int64_t delay = 300 * kMs + static_cast<int64_t>(rng_.Uniform(500 * kMs));
  if (!pending_delete_.insert(node.id).second) return;  // already on its way
  ++admin_steps_pending_;
  At(now_ + delay, [this, id = node.id] {
    --admin_steps_pending_;
    AdminForceDelete(id);
  });
}

void Simulation::AdminForceDelete(uint32_t target) {
  SimNode* node = Node(target);
  if (node == nullptr || node->deleted) return;
  std::vector<uint32_t> issuers;
  for (uint32_t id : UpNodes()) {
    auto self = SelfRecord(*nodes_[id]);
    if (id != target && self && self->state == pb::NODE_ACTIVE && nodes_[id]->storage_ok()) {
      issuers.push_back(id);
    }
  }
  if (issuers.empty()) {
    if (!BeforeEnd(now_ + 200 * kMs)) {
      return Violation("force-delete of node " + std::to_string(target) +
                       " found no issuer before the end of the run");
    }
    ++admin_steps_pending_;
    At(now_ + 200 * kMs, [this, target] {
      --admin_steps_pending_;
      AdminForceDelete(target);
    });
    return;
  }
  SimNode& issuer = *nodes_[issuers[rng_.Uniform(issuers.size())]];
  uint32_t old_peer = 0;
  for (const auto& m : MembersOf(issuer)) {
    if (m.node_id() == target) old_peer = m.peer();
  }
  pb::Op op;
  op.mutable_node_delete()->set_node_id(target);
  op.mutable_node_delete()->set_force(true);
  auto written =
      issuer.replicator->WriteUnpaired(op, "admin-force-delete-" + std::to_string(next_request_++));
  Trace("force-delete", issuer.id, target, written.ok() ? 1 : 0);
  if (!written.ok()) {
    Violation("force-delete of EXPIRED node " + std::to_string(target) + " on node " +
              std::to_string(issuer.id) + " failed: " + written.status().ToString());
    return;
  }
  ++result_.force_deleted;
  Stop(*node);  // the operator wipes it; it comes back as a new node
  disabled_.erase(target);
  RefreshMembers(issuer);
  int64_t delay = 200 * kMs + static_cast<int64_t>(rng_.Uniform(800 * kMs));
  ++admin_steps_pending_;
  At(now_ + delay, [this, old_peer] {
    --admin_steps_pending_;
    Induct(old_peer == 0 ? std::nullopt : std::optional<uint32_t>(old_peer));
  });
}

void Simulation::SettleLifecycle() {
  for (uint32_t id : std::vector<uint32_t>(disabled_.begin(), disabled_.end())) {
    SimNode* node = Node(id);
    if (node == nullptr || !node->up()) continue;
    std::optional<int64_t> left = WindowLeft(*node);
    // Enabled with a second to spare, so the enable reaches the others
    // before their GC could let the window go; else it is left to expire.
    if (left && (*left == 0 || *left > kSecond)) AdminEnable(*node);
  }
}

void Simulation::Induct(std::optional<uint32_t> pair_with) {
  SimNode* old_peer = pair_with ? Node(*pair_with) : nullptr;
  if (old_peer != nullptr && old_peer->up() && !old_peer->storage_ok()) {
    // The operator waits until the old peer's disk is fixed.
    if (!BeforeEnd(now_ + 200 * kMs)) return Violation("induction: a disk never fixed");
    ++admin_steps_pending_;
    At(now_ + 200 * kMs, [this, pair_with] {
      --admin_steps_pending_;
      Induct(pair_with);
    });
    return;
  }
  // Controllers: ACTIVE members with a working disk that have applied the
  // previous induction's NodeAdded.
  std::vector<uint32_t> eligible, controllers;
  for (uint32_t id : UpNodes()) {
    auto self = SelfRecord(*nodes_[id]);
    if (!self || self->state != pb::NODE_ACTIVE || !nodes_[id]->storage_ok()) continue;
    eligible.push_back(id);
    if (last_node_added_) {
      auto applied = nodes_[id]->store->Applied();
      auto it = applied.find(last_node_added_->first);
      if (it == applied.end() || it->second < last_node_added_->second) continue;
    }
    controllers.push_back(id);
  }
  auto has = [](const std::vector<uint32_t>& ids, uint32_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  const bool peer_lacks_last_add =
      pair_with && has(eligible, *pair_with) && !has(controllers, *pair_with);
  if (!eligible.empty() && (controllers.empty() || peer_lacks_last_add)) {
    // The operator waits until a controller knows the previous induction.
    if (!BeforeEnd(now_ + 200 * kMs)) {
      return Violation("induction: no controller applied the previous NodeAdded by the end");
    }
    ++admin_steps_pending_;
    At(now_ + 200 * kMs, [this, pair_with] {
      --admin_steps_pending_;
      Induct(pair_with);
    });
    return;
  }
  if (controllers.empty()) return;
  SimNode* controller = nodes_[controllers[rng_.Uniform(controllers.size())]].get();
  pb::Op add;
  add.mutable_node_add()->set_role(pb::NODE_READ_ONLY);
  // A replacement for a force-deleted node of a pair pairs with its old peer.
  if (pair_with &&
      std::find(controllers.begin(), controllers.end(), *pair_with) != controllers.end()) {
    controller = nodes_[*pair_with].get();
    add.mutable_node_add()->set_role(pb::NODE_READ_WRITE);
  }
  add.mutable_node_add()->set_name("i" + std::to_string(result_.inducted + 1));
  // Once the rolling restart has begun, new machines get the next binary;
  // a candidate the controller refuses as too old (below its version floor,
  // node/cluster/controller.cc's check) is given the next binary too.
  const upgrade::BinaryProfile* profile =
      rollout_started_ ? &upgrade::NextRelease() : &upgrade::CurrentRelease();
  auto floor = upgrade::ReadVersionFloor(*controller->store, controller->profile->versions);
  if (!floor.ok()) return Violation("version floor: " + floor.status().ToString());
  Status compatible = CheckCompatibleRelease(profile->versions.release.ToString(),
                                             controller->profile->versions, *floor);
  if (!compatible.ok() && profile == &upgrade::CurrentRelease()) {
    Trace("join-refused", controller->id, 0, 0);
    profile = &upgrade::NextRelease();
    compatible = CheckCompatibleRelease(profile->versions.release.ToString(),
                                        controller->profile->versions, *floor);
  }
  if (!compatible.ok()) return Violation("join refused: " + compatible.ToString());
  add.mutable_node_add()->set_release_version(profile->versions.release.ToString());
  // As a controller takes it from the candidate's certificate.
  std::string key = "fake-key:i" + std::to_string(result_.inducted + 1);
  add.mutable_node_add()->set_public_key(key);
  auto added =
      controller->replicator->WriteUnpaired(add, "admin-add-" + std::to_string(next_request_++));
  if (!added.ok()) {
    if (add.node_add().role() == pb::NODE_READ_WRITE) return Induct(std::nullopt);
    return Violation("induction through node " + std::to_string(controller->id) +
                     " failed: " + added.status().ToString());
  }
  last_node_added_ =
      std::make_pair(controller->id, controller->store->Applied().at(controller->id));
  RefreshMembers(*controller);
  auto node = std::make_unique<SimNode>();
  node->id = static_cast<uint32_t>(std::stoul(added->uuid()));
  node->clock = std::make_unique<SimClock>(&now_, 0);
  node->transport = std::make_unique<SimTransport>(this, node->id);
  node->public_key = key;
  node->profile = profile;
  SimNode& candidate = *node;
  nodes_[node->id] = std::move(node);
  if (!OpenStore(candidate)) return;
  // The snapshot in chunks; the candidate may crash mid-transfer and resume.
  auto snapshot = controller->store->NewSnapshot();
  bool crash_once = Chance() < 0.4;
  for (int chunks = 0; chunks < 100000; ++chunks) {
    auto resume = candidate.store->InstallResumePoint();
    auto chunk = snapshot->ReadChunk(resume.ok() ? resume->value_or("") : "", 20);
    if (!chunk.ok()) return Violation("snapshot read failed: " + chunk.status().ToString());
    Status installed = candidate.store->InstallSnapshotChunk(*chunk);
    if (!installed.ok()) return Violation("snapshot install failed: " + installed.ToString());
    if (chunk->last()) break;
    if (crash_once) {
      crash_once = false;
      candidate.store.reset();
      (void)candidate.disk->Crash();
      ++candidate.incarnation;
      ++result_.crashes;
      if (!OpenStore(candidate)) return;
    }
  }
  candidate.log_starts_after = candidate.store->Applied();
  ++result_.inducted;
  Trace("induct", candidate.id, controller->id, 0);
  Boot(candidate);
}

}  // namespace coffer::sim
