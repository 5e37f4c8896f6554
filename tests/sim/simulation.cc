#include "tests/sim/simulation.h"

#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <sstream>

#include "common/clock.h"
#include "common/rng.h"
#include "replication/replicator.h"
#include "storage/keys.h"
#include "storage/mem_kv_store.h"
#include "storage/test_util.h"

namespace coffer::sim {
namespace {

using replication::Member;
using replication::Role;

constexpr int64_t kMs = 1000;
constexpr int64_t kSecond = 1000 * kMs;
constexpr int64_t kTickMicros = 10 * kMs;
constexpr int64_t kEpochMicros = 1'800'000'000'000'000;

// A node's view of virtual time: monotonic time is shared, wall time is
// skewed per node (within the HLC's maximum offset).
class SimClock final : public Clock {
 public:
  SimClock(const int64_t* now, int64_t skew) : now_(now), skew_(skew) {}
  int64_t WallMicros() const override { return kEpochMicros + *now_ + skew_; }
  int64_t MonotonicMicros() const override { return *now_; }

 private:
  const int64_t* now_;
  int64_t skew_;
};

class Simulation;

class SimTransport final : public replication::Transport {
 public:
  SimTransport(Simulation* sim, uint32_t from) : sim_(sim), from_(from) {}
  void Send(uint32_t to, const pb::ReplicationMessage& message) override;

 private:
  Simulation* sim_;
  uint32_t from_;
};

struct SimNode {
  uint32_t id = 0;
  Member member;
  std::unique_ptr<SimClock> clock;
  std::unique_ptr<SeededRng> rng;
  std::unique_ptr<storage::RootOfTrust> root = storage::testing::FastRootOfTrust();
  std::shared_ptr<storage::MemKvDisk> disk = storage::NewMemKvDisk();
  std::unique_ptr<storage::ObjectStore> store;
  std::unique_ptr<SimTransport> transport;
  std::unique_ptr<replication::Replicator> replicator;
  uint64_t incarnation = 0;
  bool up() const { return replicator != nullptr; }
  // uuid -> (seen destroyed, seen compromised)
  std::map<std::string, std::pair<bool, bool>> seen;
  // An inducted node's log starts after its snapshot's position.
  std::map<uint32_t, uint64_t> log_starts_after;
};

struct AckedWrite {
  std::string request_id;
  std::string uuid;
  uint32_t node;
};

struct IssuedWrite {
  pb::Op op;
  std::string request_id;
};

// A write the client sends again, with the same request id, to any node: one
// that was refused (nothing was written), or one whose outcome is unknown
// (the retry names the record the OUTCOME_UNKNOWN answer named).
struct Retryable {
  IssuedWrite write;
  std::optional<replication::RecordRef> retry_of;
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& options) : options_(options), rng_(options.seed) {
    result_.seed = options.seed;
  }

  SimResult Run();
  void Send(uint32_t from, uint32_t to, const pb::ReplicationMessage& message);

 private:
  struct Event {
    int64_t time;
    uint64_t order;
    std::function<void()> action;
    bool operator>(const Event& other) const {
      return std::tie(time, order) > std::tie(other.time, other.order);
    }
  };

  void At(int64_t time, std::function<void()> action) {
    events_.push(Event{time, next_order_++, std::move(action)});
  }
  void Trace(std::string_view what, uint64_t a, uint64_t b, uint64_t c) {
    for (uint64_t v : {static_cast<uint64_t>(now_), a, b, c}) {
      trace_ ^= v;
      trace_ *= 1099511628211ULL;
    }
    for (char ch : what) {
      trace_ ^= static_cast<unsigned char>(ch);
      trace_ *= 1099511628211ULL;
    }
  }
  void Violation(const std::string& what) {
    if (result_.violations.size() < 20) result_.violations.push_back(what);
  }
  double Chance() { return static_cast<double>(rng_.Uniform(1'000'000)) / 1e6; }

  void BuildTopology();
  bool OpenStore(SimNode& node);
  void Boot(SimNode& node);
  void Induct();
  void Crash(SimNode& node);
  std::vector<uint32_t> UpNodes() const;
  void ClientOp();
  // Sends `write` to `target` (a retry names the record of its OUTCOME_UNKNOWN).
  void Issue(uint32_t target, const IssuedWrite& write,
             std::optional<replication::RecordRef> retry_of, bool retry);
  void OnWriteDone(uint32_t node, const IssuedWrite& write, const replication::WriteAnswer& answer);
  bool HeldDurably(SimNode& node, uint32_t origin, uint64_t seq);
  void Fault();
  void HealAll();
  void SampleStates();
  bool Converged();
  void FinalChecks();

  SimOptions options_;
  SeededRng rng_;
  SimResult result_;
  int64_t now_ = 0;
  uint64_t next_order_ = 0;
  uint64_t trace_ = 1469598103934665603ULL;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<Member> members_;
  std::map<uint32_t, std::unique_ptr<SimNode>> nodes_;
  bool faulty_ = false;
  double drop_chance_ = 0;
  double duplicate_chance_ = 0;
  int64_t max_delay_ = 2 * kMs;
  std::set<std::pair<uint32_t, uint32_t>> blocked_;  // (from, to)
  std::vector<Retryable> retryable_;
  std::vector<AckedWrite> acked_;
  std::vector<std::string> known_objects_;
  uint64_t next_request_ = 0;
};

void SimTransport::Send(uint32_t to, const pb::ReplicationMessage& message) {
  sim_->Send(from_, to, message);
}

void Simulation::BuildTopology() {
  int count = 3 + static_cast<int>(rng_.Uniform(3));  // 3, 4 or 5 nodes
  result_.nodes = count;
  // Pairs (1,2), (3,4); an odd last node is read-only.
  const int paired = count - count % 2;
  for (int i = 1; i <= count; ++i) {
    Member m;
    m.id = static_cast<uint32_t>(i);
    m.role = i <= paired ? Role::kReadWrite : Role::kReadOnly;
    m.peer = i <= paired ? static_cast<uint32_t>(i % 2 == 1 ? i + 1 : i - 1) : 0;
    members_.push_back(m);
  }
  for (const auto& m : members_) {
    auto node = std::make_unique<SimNode>();
    node->id = m.id;
    node->member = m;
    int64_t skew = static_cast<int64_t>(rng_.Uniform(200 * kMs)) - 100 * kMs;
    node->clock = std::make_unique<SimClock>(&now_, skew);
    node->transport = std::make_unique<SimTransport>(this, m.id);
    nodes_[m.id] = std::move(node);
  }
}

bool Simulation::OpenStore(SimNode& node) {
  node.rng = std::make_unique<SeededRng>(options_.seed * 1000003ULL + node.id * 7919ULL +
                                         node.incarnation);
  auto kv = storage::OpenMemKvStore(node.disk);
  if (!kv.ok()) {
    Violation("node " + std::to_string(node.id) + " cannot open its disk");
    return false;
  }
  storage::ObjectStoreOptions store_options;
  store_options.node_id = NodeId{node.id};
  store_options.confirm_names_on_apply = false;
  auto store = storage::ObjectStore::Open(std::move(kv).value(), *node.root, *node.clock, *node.rng,
                                          store_options);
  if (!store.ok()) {
    Violation("node " + std::to_string(node.id) +
              " cannot reopen its store: " + store.status().ToString());
    return false;
  }
  node.store = std::move(store).value();
  auto recomputed = node.store->RecomputeDigest();
  if (!recomputed.ok() || !(*recomputed == node.store->StateDigest())) {
    Violation("node " + std::to_string(node.id) + " reopened with a digest that does not match");
  }
  return true;
}

void Simulation::Boot(SimNode& node) {
  if (!node.store && !OpenStore(node)) return;
  replication::CoreOptions core;
  core.test_only_ack_before_peer_persisted = options_.plant_ack_before_peer_persisted;
  node.replicator = std::make_unique<replication::Replicator>(*node.store, members_, core,
                                                              *node.transport, *node.clock);
  Trace("boot", node.id, node.incarnation, 0);
}

void Simulation::Induct() {
  std::vector<uint32_t> up = UpNodes();
  if (up.empty()) return;
  SimNode& controller = *nodes_[up[rng_.Uniform(up.size())]];
  Member m;
  m.id = nodes_.rbegin()->first + 1;
  m.role = Role::kReadOnly;
  auto node = std::make_unique<SimNode>();
  node->id = m.id;
  node->member = m;
  node->clock = std::make_unique<SimClock>(&now_, 0);
  node->transport = std::make_unique<SimTransport>(this, m.id);
  SimNode& candidate = *node;
  nodes_[m.id] = std::move(node);
  if (!OpenStore(candidate)) return;
  // The snapshot in chunks; the candidate may crash mid-transfer and resume.
  auto snapshot = controller.store->NewSnapshot();
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
  Trace("induct", m.id, controller.id, 0);
  // Membership is a replicated record in the real cluster; here every node
  // learns it at once (nodes that are down learn it when they boot).
  members_.push_back(m);
  for (auto& [id, n] : nodes_) {
    if (n->up()) n->replicator->SetMembers(members_);
  }
  Boot(candidate);
}

void Simulation::Crash(SimNode& node) {
  if (!node.up()) return;
  node.replicator.reset();  // pending client callbacks are never answered
  node.store.reset();
  (void)node.disk->Crash();
  ++node.incarnation;
  ++result_.crashes;
  Trace("crash", node.id, node.incarnation, 0);
}

void Simulation::Send(uint32_t from, uint32_t to, const pb::ReplicationMessage& message) {
  if (faulty_ && (blocked_.count({from, to}) || Chance() < drop_chance_)) {
    ++result_.messages_dropped;
    return;
  }
  int copies = faulty_ && Chance() < duplicate_chance_ ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    int64_t delay = 100 + static_cast<int64_t>(rng_.Uniform(static_cast<uint64_t>(max_delay_)));
    auto shared = std::make_shared<pb::ReplicationMessage>(message);
    At(now_ + delay, [this, from, to, shared] {
      SimNode& target = *nodes_[to];
      if (!target.up()) {
        ++result_.messages_dropped;
        return;
      }
      ++result_.messages_delivered;
      Trace(shared->has_records() ? "records" : "report", from, to,
            shared->has_records() ? static_cast<uint64_t>(shared->records().records_size()) : 0);
      target.replicator->Receive(from, *shared);
    });
  }
}

bool Simulation::HeldDurably(SimNode& node, uint32_t origin, uint64_t seq) {
  if (node.up()) {
    auto applied = node.store->Applied();
    auto it = applied.find(origin);
    return it != applied.end() && it->second >= seq;
  }
  // A crashed node: what its disk kept (its store is closed while it is down).
  auto kv = storage::OpenMemKvStore(node.disk);
  if (!kv.ok()) return false;
  std::string value;
  if (!(*kv)->Get(storage::keys::Applied(origin), &value).ok() || value.size() != 8) return false;
  return storage::keys::ReadBe64(value) >= seq;
}

void Simulation::OnWriteDone(uint32_t node_id, const IssuedWrite& write,
                             const replication::WriteAnswer& answer) {
  const StatusOr<pb::OpResult>& result = answer.result;
  Trace("done", node_id, static_cast<uint64_t>(result.status().code()), retryable_.size());
  if (!result.ok()) {
    ++result_.refused_writes;
    if (result.status().code() == Code::kOutcomeUnknown && !answer.record) {
      Violation("OUTCOME_UNKNOWN for " + write.request_id + " on node " + std::to_string(node_id) +
                " names no record");
    }
    if (result.status().code() != Code::kOutcomeUnknown) {
      retryable_.push_back(Retryable{write, std::nullopt});
      return;
    }
    // The client must learn the outcome: it retries soon, on any node.
    std::optional<replication::RecordRef> retry_of = answer.record;
    if (options_.plant_retry_without_record) retry_of.reset();
    int64_t delay = 20 * kMs + static_cast<int64_t>(rng_.Uniform(300 * kMs));
    At(now_ + delay, [this, write, retry_of] {
      std::vector<uint32_t> up = UpNodes();
      if (up.empty()) return retryable_.push_back(Retryable{write, retry_of});
      Issue(up[rng_.Uniform(up.size())], write, retry_of, /*retry=*/true);
    });
    return;
  }
  ++result_.acked_writes;
  SimNode& node = *nodes_[node_id];
  auto where = node.store->FindRequest(write.request_id);
  if (!where.ok() || !*where) {
    Violation("acknowledged " + write.request_id + " has no record on node " +
              std::to_string(node_id));
    return;
  }
  uint32_t origin = (*where)->origin;
  uint64_t seq = (*where)->seq;
  // The pair guarantee: on two nodes when acknowledged. For the origin's own
  // write the second node is its pair peer.
  if (origin == node_id) {
    uint32_t peer = node.member.peer;
    if (peer == 0 || !HeldDurably(*nodes_[peer], origin, seq)) {
      Violation("write " + write.request_id + " (" + std::to_string(origin) + ":" +
                std::to_string(seq) + ") acknowledged by node " + std::to_string(node_id) +
                " before its pair peer " + std::to_string(peer) + " had it");
    }
  } else if (!HeldDurably(*nodes_[origin], origin, seq)) {
    Violation("retry " + write.request_id + " answered from a record its origin lost");
  }
  acked_.push_back(AckedWrite{write.request_id, result->uuid(), node_id});
  if (write.op.has_create_key()) known_objects_.push_back(result->uuid());
}

std::vector<uint32_t> Simulation::UpNodes() const {
  std::vector<uint32_t> up;
  for (auto& [id, node] : nodes_) {
    if (node->up()) up.push_back(id);
  }
  return up;
}

void Simulation::ClientOp() {
  std::vector<uint32_t> up = UpNodes();
  if (up.empty()) return;
  uint32_t target = up[rng_.Uniform(up.size())];
  IssuedWrite write;
  std::optional<replication::RecordRef> retry_of;
  bool retry = false;
  double r = Chance();
  auto some_object = [&]() -> std::string {
    return known_objects_.empty() ? "aaaaaaaa-0000-4000-8000-000000000000"
                                  : known_objects_[rng_.Uniform(known_objects_.size())];
  };
  if (r < 0.08 && !retryable_.empty()) {
    size_t pick = rng_.Uniform(retryable_.size());
    retry_of = retryable_[pick].retry_of;
    write = retryable_[pick].write;
    retryable_.erase(retryable_.begin() + static_cast<std::ptrdiff_t>(pick));
    retry = true;
  } else {
    write.request_id = "s" + std::to_string(options_.seed) + "-" + std::to_string(next_request_++);
    if (r < 0.30) {
      auto* c = write.op.mutable_create_key();
      if (Chance() < 0.5) c->set_name("k" + std::to_string(rng_.Uniform(8)));
      c->set_activate(Chance() < 0.5);
    } else if (r < 0.42) {
      write.op.mutable_wallet_create()->set_name("w" + std::to_string(rng_.Uniform(5)));
    } else if (r < 0.62) {
      auto* s = write.op.mutable_set_attributes();
      s->set_uuid(some_object());
      static const char* kColors[] = {"red", "green", "blue", "black"};
      (*s->mutable_attributes())["x-color"].set_text(kColors[rng_.Uniform(4)]);
    } else if (r < 0.72) {
      write.op.mutable_activate()->set_uuid(some_object());
    } else if (r < 0.82) {
      write.op.mutable_revoke()->set_uuid(some_object());
      write.op.mutable_revoke()->set_reason(Chance() < 0.3 ? pb::KEY_COMPROMISE
                                                           : pb::CESSATION_OF_OPERATION);
    } else {
      write.op.mutable_destroy()->set_uuid(some_object());
    }
  }
  Issue(target, write, retry_of, retry);
}

void Simulation::Issue(uint32_t target, const IssuedWrite& write,
                       std::optional<replication::RecordRef> retry_of, bool retry) {
  if (retry_of && !HeldDurably(*nodes_[target], retry_of->origin, retry_of->seq)) {
    ++result_.retries_ahead_of_record;
  }
  Trace(retry ? "retry" : "write", target, next_request_, 0);
  nodes_[target]->replicator->Write(write.op, write.request_id, retry_of,
                                    [this, target, write](replication::WriteAnswer answer) {
                                      OnWriteDone(target, write, answer);
                                    });
}

void Simulation::Fault() {
  double r = Chance();
  std::vector<uint32_t> ids;
  for (auto& [id, node] : nodes_) ids.push_back(id);
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
  }
}

void Simulation::HealAll() {
  faulty_ = false;
  blocked_.clear();
  drop_chance_ = 0;
  duplicate_chance_ = 0;
  max_delay_ = 2 * kMs;
  for (auto& [id, node] : nodes_) {
    if (!node->up()) Boot(*node);
  }
  Trace("heal", 0, 0, 0);
}

void Simulation::SampleStates() {
  for (auto& [id, node] : nodes_) {
    if (!node->up()) continue;
    pb::LocateRequest all;
    all.set_limit(100000);
    auto objects = node->store->Locate(all);
    if (!objects.ok()) continue;
    for (const auto& o : *objects) {
      bool destroyed = o.state() == pb::DESTROYED || o.state() == pb::DESTROYED_COMPROMISED;
      bool compromised = o.state() == pb::COMPROMISED || o.state() == pb::DESTROYED_COMPROMISED;
      auto& seen = node->seen[o.uuid()];
      if (seen.first && !destroyed) {
        Violation("object " + o.uuid() + " left DESTROYED on node " + std::to_string(id));
      }
      if (seen.second && !compromised) {
        Violation("object " + o.uuid() + " lost COMPROMISED on node " + std::to_string(id));
      }
      seen.first |= destroyed;
      seen.second |= compromised;
    }
  }
}

bool Simulation::Converged() {
  const SimNode* first = nullptr;
  for (auto& [id, node] : nodes_) {
    if (!node->up()) return false;
    if (first == nullptr) {
      first = node.get();
      continue;
    }
    if (!(node->store->StateDigest() == first->store->StateDigest()) ||
        node->store->Applied() != first->store->Applied()) {
      return false;
    }
  }
  return true;
}

void Simulation::FinalChecks() {
  SampleStates();
  SimNode& reference = *nodes_.begin()->second;
  for (auto& [id, node] : nodes_) {
    if (!node->up()) continue;
    // No acknowledged write lost, and the same answer everywhere.
    for (const auto& acked : acked_) {
      auto found = node->store->FindRequest(acked.request_id);
      if (!found.ok() || !*found) {
        Violation("acknowledged " + acked.request_id + " missing on node " + std::to_string(id));
      } else if ((*found)->result.uuid() != acked.uuid) {
        Violation("request " + acked.request_id + " answers differently on node " +
                  std::to_string(id));
      }
    }
    // Per-origin order: records 1..n (an inducted node: from its snapshot's
    // position on), the same at each position everywhere.
    for (const auto& [origin, count] : node->store->Applied()) {
      auto start = node->log_starts_after.find(origin);
      uint64_t first = (start == node->log_starts_after.end() ? 0 : start->second) + 1;
      if (first > count) continue;
      auto records = node->store->ReadLog(origin, first, count + 1);
      auto expected = reference.store->ReadLog(origin, first, count + 1);
      if (!records.ok() || records->size() != count - first + 1) {
        Violation("node " + std::to_string(id) + " has a gap in origin " + std::to_string(origin));
        continue;
      }
      for (uint64_t i = 0; i < records->size(); ++i) {
        if ((*records)[i].seq() != first + i) {
          Violation("node " + std::to_string(id) + " origin " + std::to_string(origin) +
                    " out of order at " + std::to_string(first + i));
          break;
        }
        if (!expected.ok() || expected->size() <= i) continue;
        pb::LogRecord x = (*records)[i], y = (*expected)[i];
        for (auto* r : {&x, &y}) {
          if (r->has_object_created()) {
            r->mutable_object_created()->clear_material();
            r->mutable_object_created()->clear_stage();
          }
        }
        if (storage::DeterministicBytes(x) != storage::DeterministicBytes(y)) {
          Violation("record " + std::to_string(origin) + ":" + std::to_string(first + i) +
                    " differs between nodes " + std::to_string(id) + " and " +
                    std::to_string(reference.id));
          break;
        }
      }
    }
    auto recomputed = node->store->RecomputeDigest();
    if (!recomputed.ok() || !(*recomputed == node->store->StateDigest())) {
      Violation("node " + std::to_string(id) + " incremental digest drifted");
    }
    if (node->replicator->apply_errors() > 0 &&
        node->replicator->last_apply_error().code() != Code::kUnavailable) {
      Violation("node " + std::to_string(id) +
                " apply error: " + node->replicator->last_apply_error().ToString());
    }
  }
}

SimResult Simulation::Run() {
  BuildTopology();
  for (auto& [id, node] : nodes_) Boot(*node);
  faulty_ = options_.faults;
  const int64_t fault_end = options_.fault_seconds * kSecond;
  const int64_t settle_end = fault_end + options_.settle_seconds * kSecond;

  // Recurring events: ticks, client operations and faults until the heal.
  std::function<void()> tick = [&] {
    for (auto& [id, node] : nodes_) {
      if (node->up()) node->replicator->Tick();
    }
    if (now_ % (250 * kMs) == 0) SampleStates();
    if (now_ + kTickMicros <= settle_end) At(now_ + kTickMicros, tick);
  };
  At(kTickMicros, tick);
  const int64_t op_interval = kSecond / std::max(1, options_.ops_per_second);
  std::function<void()> op = [&] {
    ClientOp();
    if (now_ + op_interval < fault_end) At(now_ + op_interval, op);
  };
  At(op_interval, op);
  // Declared here, not inside the `if`: queued copies refer to it by reference.
  std::function<void()> fault = [&] {
    Fault();
    int64_t next = now_ + 200 * kMs + static_cast<int64_t>(rng_.Uniform(600 * kMs));
    if (next < fault_end) At(next, fault);
  };
  if (options_.faults) At(300 * kMs, fault);
  // Half of the seeds induct a read-only node while faults are going on.
  if (rng_.Uniform(2) == 0)
    At(kSecond + static_cast<int64_t>(rng_.Uniform(fault_end / 2)), [&] { Induct(); });
  At(fault_end, [&] { HealAll(); });

  int64_t next_convergence_check = fault_end + 100 * kMs;
  while (!events_.empty()) {
    Event event = events_.top();
    events_.pop();
    now_ = event.time;
    event.action();
    if (now_ >= next_convergence_check) {
      next_convergence_check = now_ + 100 * kMs;
      if (Converged()) {
        result_.converged_after_seconds = static_cast<double>(now_ - fault_end) / kSecond;
        break;
      }
    }
  }
  if (result_.converged_after_seconds < 0) {
    std::ostringstream digests;
    for (auto& [id, node] : nodes_) {
      digests << " node" << id << "="
              << (node->up() ? node->store->StateDigest().Hex().substr(0, 8) : std::string("down"));
    }
    Violation("no convergence within " + std::to_string(options_.settle_seconds) +
              " s of healing:" + digests.str());
  }
  FinalChecks();
  for (auto& [id, node] : nodes_)
    result_.unsynced_writes_lost += node->disk->unsynced_writes_lost();
  result_.trace_hash = trace_;
  result_.ok = result_.violations.empty();
  return result_;
}

}  // namespace

std::string SimResult::ReplayCommand() const {
  return "COFFER_SIM_SEED=" + std::to_string(seed) +
         " build/dev/tests/sim/sim_test --gtest_filter=Simulation.ReplaySeed";
}

std::string SimResult::Summary() const {
  std::ostringstream out;
  out << "seed " << seed << (ok ? " ok" : " FAILED") << ": " << nodes << " nodes, " << acked_writes
      << " acked, " << refused_writes << " refused, " << messages_delivered << " delivered, "
      << messages_dropped << " dropped, " << inducted << " inducted, " << retries_ahead_of_record
      << " retries ahead of their record, " << crashes << " crashes (" << unsynced_writes_lost
      << " unsynced batches lost), converged " << converged_after_seconds
      << " s after healing, trace " << std::hex << trace_hash;
  return out.str();
}

SimResult RunSimulation(const SimOptions& options) { return Simulation(options).Run(); }

}  // namespace coffer::sim
