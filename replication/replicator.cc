#include "replication/replicator.h"

#include <algorithm>
#include <set>

#include "common/fault_point.h"
#include "common/hlc.h"
#include "common/limits.h"
#include "replication/batch_cut.h"

namespace coffer::replication {

Replicator::Replicator(storage::ObjectStore& store, std::vector<Member> members,
                       CoreOptions options, Transport& transport, const Clock& clock)
    : store_(store),
      transport_(transport),
      clock_(clock),
      core_(store.node_id().value, std::move(members), store.Applied(), options,
            clock.MonotonicMicros()),
      retry_hold_micros_(options.pair_ack_timeout_micros),
      admission_(store) {
  // Records a store made before it had a replicator (a standalone node's
  // unsynced writes) are signed before any is sent.
  if (store_.HasUnsignedTip()) {
    Status signed_tip = store_.SignChainTip();
    if (signed_tip.ok()) signed_tip = store_.Sync();
    if (!signed_tip.ok()) last_apply_error_ = signed_tip;
  }
  auto applied = store.Applied();
  auto own = applied.find(store.node_id().value);
  if (own != applied.end()) flushed_seq_ = own->second;
  Pump();
}

namespace {

std::string RecordName(const RecordRef& record) {
  return std::to_string(record.origin) + ":" + std::to_string(record.seq);
}

}  // namespace

void Replicator::Write(const pb::Op& op, const std::string& request_id,
                       std::optional<RecordRef> retry_of, WriteDone done) {
  int64_t now = clock_.MonotonicMicros();
  if (retry_of) {
    if (retry_of->origin == 0 || retry_of->seq == 0) {
      return done({InvalidArgument("retry_of must name a record: origin and seq above 0"), {}});
    }
    // Our own records reach us only from ourselves: one we lack was lost
    // with the unsynced writes of a crash, so the write never took effect
    // and runs as new below.
    if (retry_of->origin != store_.node_id().value && !HasApplied(*retry_of)) {
      if (held_retries_.size() >= kMaxHeldRetries) {
        return done({ResourceExhausted(std::to_string(kMaxHeldRetries) +
                                       " retries are already waiting for their records; retry "
                                       "later"),
                     retry_of});
      }
      held_retries_.push_back(
          HeldRetry{op, request_id, *retry_of, now + retry_hold_micros_, std::move(done)});
      return;
    }
  }
  auto prior = store_.FindRequest(request_id);
  if (!prior.ok()) return done({prior.status(), {}});
  if (*prior) {
    // A retry. Our own record is answered once the pair peer has it (the
    // original attempt may have ended with OUTCOME_UNKNOWN); a record from
    // another origin is already on two nodes: its origin and this one.
    uint64_t token = next_token_++;
    waiting_[token] =
        Waiting{(*prior)->result, std::move(done), RecordRef{(*prior)->origin, (*prior)->seq}};
    if ((*prior)->origin == store_.node_id().value && core_.mode() != WriteMode::kReadOnlyNode) {
      if ((*prior)->seq > flushed_seq_) {
        unsynced_.push_back(Unsynced{(*prior)->seq, token});
        if (!group_commit_) Flush();
      } else {
        core_.OnLocalCommit((*prior)->seq, token, now);
      }
    } else {
      Finish(token, (*prior)->result);
    }
    Pump();
    return;
  }
  Status allowed = core_.CheckCriticalWrite();
  if (!allowed.ok()) return done({allowed, {}});
  auto result = store_.Execute(
      op, request_id, group_commit_ ? storage::Durability::kAsync : storage::Durability::kSync);
  if (!result.ok()) return done({result.status(), {}});
  uint64_t token = next_token_++;
  uint64_t seq = store_.Applied().at(store_.node_id().value);
  waiting_[token] = Waiting{*result, std::move(done), RecordRef{store_.node_id().value, seq}};
  if (group_commit_) {
    unsynced_.push_back(Unsynced{seq, token});
    return;  // the caller's Flush() syncs the batch
  }
  flushed_seq_ = std::max(flushed_seq_, seq);
  core_.OnLocalCommit(seq, token, now);
  Pump();
}

void Replicator::Flush() {
  if (!HasUnsynced()) return;
  SyncBatch batch = TakeUnsynced();
  Committed(batch, SyncGroupCommit(store_));
}

Status Replicator::SyncGroupCommit(storage::ObjectStore& store) {
  if (COFFER_FAULT_POINT("group_commit.skip_fsync")) return Status::Ok();
  return store.Sync();
}

Replicator::SyncBatch Replicator::TakeUnsynced() {
  SyncBatch batch;
  batch.writes.swap(unsynced_);
  batch.received = received_unsynced_;
  received_unsynced_ = false;
  // The last record of the group commit is signed (vouching for the rest
  // through the chain) before the sync that makes them durable starts.
  Status signed_tip = store_.SignChainTip();
  if (!signed_tip.ok()) {
    // Unsigned records would never be admitted anywhere: the writes fail
    // as a failed sync does (they may stay, and are signed at the next).
    last_apply_error_ = signed_tip;
    for (const auto& u : batch.writes) {
      Finish(u.token,
             Status(Code::kOutcomeUnknown, "cannot sign the commit (" + signed_tip.ToString() +
                                               "); retry with the same request id"));
    }
    received_unsynced_ = received_unsynced_ || batch.received;
    return {};
  }
  batch.applied = store_.Applied();
  return batch;
}

void Replicator::Committed(const SyncBatch& batch, const Status& synced) {
  if (batch.empty()) return;
  if (!synced.ok()) {
    // The records may or may not be on disk: the clients must retry, and
    // received records wait for a sync that works (or StorageResumed).
    for (const auto& u : batch.writes) {
      Finish(u.token, Status(Code::kOutcomeUnknown, "commit failed to sync (" + synced.ToString() +
                                                        "); retry with the same request id"));
    }
    if (batch.received) {
      received_unsynced_ = true;
      ++apply_errors_;
      last_apply_error_ = synced;
    }
    return;
  }
  int64_t now = clock_.MonotonicMicros();
  for (const auto& u : batch.writes) {
    flushed_seq_ = std::max(flushed_seq_, u.seq);
    core_.OnLocalCommit(u.seq, u.token, now);
  }
  // Everything the store had applied when the batch was taken is durable
  // now: the peers learn it (and acknowledge their critical writes).
  core_.OnDurable(batch.applied, now);
  Pump();
}

StatusOr<pb::OpResult> Replicator::WriteUnpaired(const pb::Op& op, const std::string& request_id) {
  Flush();
  COFFER_ASSIGN_OR_RETURN(pb::OpResult result,
                          store_.Execute(op, request_id, storage::Durability::kSync));
  uint64_t seq = store_.Applied().at(store_.node_id().value);
  flushed_seq_ = std::max(flushed_seq_, seq);
  core_.OnLocalCommit(seq, std::nullopt, clock_.MonotonicMicros());
  Pump();
  return result;
}

void Replicator::StorageResumed() {
  // A group commit whose signing write failed in the fault left this node's
  // last records unsigned: signed (and synced) before they are sent.
  if (store_.HasUnsignedTip()) {
    Status signed_tip = store_.SignChainTip();
    if (signed_tip.ok()) signed_tip = store_.Sync();
    if (!signed_tip.ok()) {
      last_apply_error_ = signed_tip;
      return;  // sent once a later resume or group commit signs them
    }
  }
  storage::VersionVector applied = store_.Applied();
  auto own = applied.find(store_.node_id().value);
  if (own != applied.end()) flushed_seq_ = std::max(flushed_seq_, own->second);
  core_.OnApplied(applied, clock_.MonotonicMicros());
  Pump();
}

void Replicator::AbandonWaiting(const Status& status) {
  unsynced_.clear();
  while (!waiting_.empty()) Finish(waiting_.begin()->first, status);
  std::deque<HeldRetry> held;
  held.swap(held_retries_);
  for (auto& h : held) h.done({status, h.retry_of});
}

void Replicator::Receive(uint32_t from, const pb::ReplicationMessage& message) {
  if (message.has_records() && verifier_ != nullptr) {
    // Always passed on, even empty: the core acknowledges every batch.
    core_.Receive(from, AdmitRecords(from, message.records()), clock_.MonotonicMicros());
    Pump();
    ReleaseHeldRetries();
    return;
  }
  core_.Receive(from, message, clock_.MonotonicMicros());
  Pump();
  ReleaseHeldRetries();
}

void Replicator::SetMembers(std::vector<Member> members) {
  origin_keys_.clear();
  core_.SetMembers(std::move(members), clock_.MonotonicMicros());
  Pump();
}

void Replicator::Tick() {
  if (!group_commit_) Flush();
  core_.Tick(clock_.MonotonicMicros());
  Pump();
  ReleaseHeldRetries();
}

bool Replicator::HasApplied(const RecordRef& record) const {
  auto applied = store_.Applied();
  auto it = applied.find(record.origin);
  return it != applied.end() && it->second >= record.seq;
}

void Replicator::ReleaseHeldRetries() {
  if (held_retries_.empty()) return;
  int64_t now = clock_.MonotonicMicros();
  std::vector<HeldRetry> ready;
  std::deque<HeldRetry> still_held;
  for (auto& held : held_retries_) {
    bool release = HasApplied(held.retry_of) || now >= held.deadline_micros;
    (release ? ready.emplace_back(std::move(held)) : still_held.emplace_back(std::move(held)));
  }
  held_retries_.swap(still_held);
  for (auto& held : ready) {
    if (HasApplied(held.retry_of)) {
      // The record is here: answered from it if it carries this request id,
      // else (its origin lost the original) the write runs as new.
      Write(held.op, held.request_id, std::nullopt, std::move(held.done));
    } else {
      held.done({Status(Code::kOutcomeUnknown,
                        "record " + RecordName(held.retry_of) +
                            " has not reached this node in time; retry with the same request id "
                            "and retry_of"),
                 held.retry_of});
    }
  }
}

void Replicator::Finish(uint64_t token, StatusOr<pb::OpResult> result) {
  auto it = waiting_.find(token);
  if (it == waiting_.end()) return;
  WriteDone done = std::move(it->second.done);
  std::optional<RecordRef> record = it->second.record;
  waiting_.erase(it);
  if (result.ok() || result.status().code() != Code::kOutcomeUnknown) {
    record.reset();
  } else if (record) {
    result = Status(Code::kOutcomeUnknown, result.status().message() + " (the write is record " +
                                               RecordName(*record) +
                                               ": a retry naming it is safe on any node)");
  }
  done(WriteAnswer{std::move(result), record});
}

void Replicator::Pump() {
  // Bounded: each round either drains output or the core has nothing new.
  for (int round = 0; round < 64; ++round) {
    ReplicationCore::Output out = core_.TakeOutput();
    if (out.empty()) return;
    for (const auto& m : out.messages) transport_.Send(m.to, m.message);
    for (const auto& s : out.sends) {
      auto records = store_.ReadLog(s.origin, s.from_seq, s.count);
      if (records.ok() && (records->empty() || records->front().seq() != s.from_seq)) {
        // Log GC collected them here (the log starts later, or holds none of
        // the range): the peer gets them from another node.
        core_.OnLogCollected(
            s.origin, records->empty() ? s.from_seq + s.count - 1 : records->front().seq() - 1);
        core_.OnSendFailed(s.peer);
        continue;
      }
      if (!records.ok()) {
        core_.OnSendFailed(s.peer);
        continue;
      }
      const bool short_read = records->size() < s.count;
      // The core counts records; the link limits bytes: the range goes out as
      // batches of at most kReplicationBatchBytes each (batch_cut.h).
      for (const auto& batch :
           CutIntoBatches(std::move(records).value(), limits::kReplicationBatchBytes)) {
        transport_.Send(s.peer, batch);
      }
      if (short_read) core_.OnSendFailed(s.peer);
    }
    if (!out.to_apply.empty()) {
      // Applied unsynced; one sync then makes them durable before the core
      // reports them (and so acknowledges them to the sender): at once
      // without group commit, else the driver's next group-commit sync,
      // shared with client writes and with records received meanwhile.
      // One write to the store for the whole batch.
      auto outcomes = store_.ApplyRemoteBatch(out.to_apply, storage::Durability::kAsync);
      if (!outcomes.ok()) {
        ++apply_errors_;
        last_apply_error_ = outcomes.status();
      } else {
        // Only the first refusal of an origin is an error of its own: the
        // later records of that origin were left out behind it (their
        // outcome says so), and must not hide its code.
        std::set<uint32_t> refused_origins;
        for (size_t i = 0; i < outcomes->size(); ++i) {
          const auto& outcome = (*outcomes)[i];
          if (!outcome.ok()) {
            const pb::LogRecord& record = out.to_apply[i];
            if (!refused_origins.insert(record.origin()).second) continue;
            int64_t ahead = record.hlc().wall_micros() - clock_.WallMicros();
            if (ahead > kMaxClockOffsetMicros) {
              ++clock_refusals_;
              last_clock_refusal_ = IntegrityAlert{
                  record.origin(), record.seq(), 0,
                  "stamped " + std::to_string(ahead / 1000) +
                      " ms ahead of this node's clock (allowed " +
                      std::to_string(kMaxClockOffsetMicros / 1000) +
                      " ms): not applied until it is within; check the clocks of node " +
                      std::to_string(record.origin()) + " and this node"};
              if (clock_observer_) clock_observer_(*last_clock_refusal_);
            } else {
              ++apply_errors_;
              last_apply_error_ = outcome.status();
            }
          } else if (applied_observer_) {
            applied_observer_(out.to_apply[i]);
          }
        }
      }
      core_.OnAppliedUnsynced(store_.Applied(), clock_.MonotonicMicros());
      if (group_commit_) {
        received_unsynced_ = true;  // reported after the driver's next sync
      } else {
        // The sync also makes this node's unsynced writes durable, and the
        // applied vector reported below covers them: the last of them is
        // signed first (a durable own record is sent, and never changes after).
        Status synced = store_.SignChainTip();
        if (synced.ok()) synced = store_.Sync();
        if (!synced.ok()) {
          ++apply_errors_;
          last_apply_error_ = synced;
        } else {
          core_.OnDurable(store_.Applied(), clock_.MonotonicMicros());
        }
      }
    }
    for (uint64_t token : out.acked) {
      auto it = waiting_.find(token);
      if (it != waiting_.end()) Finish(token, it->second.result);
    }
    for (auto& [token, status] : out.failed) Finish(token, status);
    if (out.confirm_frontier) {
      Status confirmed = store_.ConfirmNames(*out.confirm_frontier);
      if (!confirmed.ok()) last_apply_error_ = confirmed;
    }
  }
}

}  // namespace coffer::replication
