// The simulated clients: a workload of colliding names and lifecycle races,
// retries of refused writes and of OUTCOME_UNKNOWN answers, and what each
// answer must mean (the pair guarantee, the restricted mode).
#include "storage/keys.h"
#include "tests/sim/sim_internal.h"

namespace coffer::sim {

bool Simulation::HeldDurably(SimNode& node, uint32_t origin, uint64_t seq) {
  if (node.up()) {
    auto applied = node.store->Applied();
    auto it = applied.find(origin);
    return it != applied.end() && it->second >= seq;
  }
  if (node.deleted) return false;
  // A crashed node: what its disk kept (its store is closed while it is down).
  auto kv = storage::OpenMemKvStore(node.disk);
  if (!kv.ok()) return false;
  std::string value;
  // The applied row: be64 seq, then the chain head (storage/README.md).
  if (!(*kv)->Get(storage::keys::Applied(origin), &value).ok() || value.size() < 8) return false;
  return storage::keys::ReadBe64(value) >= seq;
}

void Simulation::OnWriteDone(uint32_t node_id, const IssuedWrite& write,
                             const replication::WriteAnswer& answer,
                             std::optional<replication::RecordRef> attempt_retry_of) {
  const StatusOr<pb::OpResult>& result = answer.result;
  Trace("done", node_id, static_cast<uint64_t>(result.status().code()), retryable_.size());
  if (!result.ok()) {
    ++result_.refused_writes;
    if (result.status().code() == Code::kOutcomeUnknown && !answer.record) {
      Violation("OUTCOME_UNKNOWN for " + write.request_id + " on node " + std::to_string(node_id) +
                " names no record");
    }
    if (result.status().code() != Code::kOutcomeUnknown) {
      // A refusal says nothing of the record an earlier attempt left
      // unknown: the next attempt still names it (else it could run twice).
      retryable_.push_back(Retryable{write, attempt_retry_of});
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
    uint32_t peer = 0;
    for (const auto& m : MembersOf(node)) {
      if (m.node_id() == node_id) peer = m.peer();
    }
    SimNode* peer_node = Node(peer);
    if (peer_node == nullptr || !HeldDurably(*peer_node, origin, seq)) {
      Violation("write " + write.request_id + " (" + std::to_string(origin) + ":" +
                std::to_string(seq) + ") acknowledged by node " + std::to_string(node_id) +
                " before its pair peer " + std::to_string(peer) + " had it");
    }
  } else if (!HeldDurably(*nodes_[origin], origin, seq)) {
    Violation("retry " + write.request_id + " answered from a record its origin lost");
  }
  if (write.op.has_create_key() && !write.op.create_key().comment().empty()) ++result_.gated_acked;
  acked_.push_back(AckedWrite{write.request_id, result->uuid(), node_id});
  if (write.op.has_create_key()) known_objects_.push_back(result->uuid());
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
      // Mixed-version seeds: some are gated (feature object-comment).
      if (options_.mixed_versions && Chance() < 0.3) c->set_comment("gated " + write.request_id);
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
    } else if (options_.wallet_ops && r < 0.87) {
      // Membership, and (below) whole-wallet merges and moves: concurrent
      // ones must converge member by member (MembersMoved, MemberSet).
      auto* m = write.op.mutable_wallet_member();
      m->set_wallet("w" + std::to_string(rng_.Uniform(5)));
      m->set_object(some_object());
      m->set_present(Chance() < 0.7);
    } else if (options_.wallet_ops && r < 0.91) {
      auto* t = write.op.mutable_wallet_transfer();
      t->set_source("w" + std::to_string(rng_.Uniform(5)));
      t->set_target("w" + std::to_string(rng_.Uniform(5)));
      t->set_move(Chance() < 0.5);
    } else {
      write.op.mutable_destroy()->set_uuid(some_object());
    }
  }
  Issue(target, write, retry_of, retry);
}

void Simulation::Issue(uint32_t target, const IssuedWrite& write,
                       std::optional<replication::RecordRef> retry_of, bool retry) {
  SimNode& node = *nodes_[target];
  if (retry_of && !HeldDurably(node, retry_of->origin, retry_of->seq)) {
    ++result_.retries_ahead_of_record;
  }
  Trace(retry ? "retry" : "write", target, next_request_, 0);
  // Semantics 3: a node that may not take critical writes refuses them at
  // once and writes nothing.
  const replication::WriteMode mode = node.replicator->core().mode();
  auto own = [&] {
    auto applied = node.store->Applied();
    return applied.contains(target) ? applied.at(target) : 0;
  };
  const uint64_t own_before = own();
  // As the node's Serve: the feature gates (one snapshot), then a store in
  // a storage fault takes no write.
  if (Status gated = CheckGates(node, write); !gated.ok()) {
    return OnWriteDone(target, write, replication::WriteAnswer{gated, std::nullopt}, retry_of);
  }
  if (Status writable = node.storage.CheckWrite(); !writable.ok()) {
    return OnWriteDone(target, write, replication::WriteAnswer{writable, std::nullopt}, retry_of);
  }
  node.replicator->Write(write.op, write.request_id, retry_of,
                         [this, target, write, retry_of](replication::WriteAnswer answer) {
                           OnWriteDone(target, write, answer, retry_of);
                         });
  if (!node.up()) return;
  CheckOwnRecords(node, own_before);
  if (mode != replication::WriteMode::kReadWrite && own() > own_before) {
    Violation("node " + std::to_string(target) + " accepted critical write " + write.request_id +
              " while " + std::string(replication::WriteModeName(mode)));
  }
  ScheduleFlush(node);
}

}  // namespace coffer::sim
