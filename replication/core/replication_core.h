// ReplicationCore: the replication protocol of one node as a state machine
// without I/O (architecture.md example 3). It reads no clock, opens no socket,
// starts no thread and touches no storage: the driver (replication/replicator.h
// for real nodes and the simulation) feeds it events with the current time and
// performs what TakeOutput() returns.
//
// What it decides:
//  - per link: up or down (failure detection from heard messages), what the
//    peer has durably applied (its reported version vector), what was sent to
//    it and not yet acknowledged (a bounded window: backpressure);
//  - which records to send to which peer, in batches: a node's own records
//    at once; another origin's records (relays) only those that became
//    durable here at least `relay_delay_micros` ago and the peer still
//    lacks, so a node can catch up from anyone while in steady state each
//    record crosses the network once per receiver, from its origin;
//  - which received records are contiguous per origin and may be applied, in
//    order and exactly once (duplicates dropped, gaps wait);
//  - the node's write mode: read-write, READ_ONLY_RESTRICTED (no peer, or the
//    peer link down longer than the detection bound, until the pair has caught
//    up again) or READ_ONLY_NODE;
//  - when a critical write may be acknowledged (its pair peer reported it
//    durably applied) or must fail with OUTCOME_UNKNOWN (pair timeout);
//  - the name-confirmation frontier (semantics.md 4.5).
//
// Threading: not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto/replication.pb.h"

namespace coffer::replication {

// origin -> highest contiguous seq applied.
using VersionVector = std::map<uint32_t, uint64_t>;

// a >= b in every component (missing components are 0).
bool Covers(const VersionVector& a, const VersionVector& b);
VersionVector ToVector(const pb::VersionVector& proto);
pb::VersionVector ToProto(const VersionVector& vector);

enum class Role { kReadWrite, kReadOnly };

// How a member takes part (semantics.md section 5). kActive covers PENDING,
// ACTIVE and ENABLING (replicating both ways). kDisabling: replicating, but
// taking no client writes while its records reach the others. kDisabled (also
// EXPIRED): no records to it or from it, not counted for name confirmation,
// and its pair peer is restricted.
enum class MemberState { kActive, kDisabling, kDisabled };

struct Member {
  uint32_t id = 0;
  Role role = Role::kReadWrite;
  uint32_t peer = 0;  // the read-write peer, 0 if none
  MemberState state = MemberState::kActive;
};

struct CoreOptions {
  // A heartbeat (Report) goes to every peer this often. Default: 100 ms.
  int64_t heartbeat_interval_micros = 100'000;
  // A link with nothing heard for this long is down. Default: 1 s.
  int64_t failure_detection_micros = 1'000'000;
  // A critical write not confirmed by the pair peer within this time fails
  // with OUTCOME_UNKNOWN. Default: 2 s.
  int64_t pair_ack_timeout_micros = 2'000'000;
  // Sent but unacknowledged records are sent again after this. Default: 300 ms.
  int64_t retransmit_micros = 300'000;
  // Records per batch. Default: 256.
  uint32_t max_batch_records = 256;
  // Unacknowledged records in flight per peer (backpressure). Default: 1024.
  // A receiver may hold this many from each sender unapplied, and its
  // acknowledgements wait behind them: at 4096 a node catching up from two
  // senders (about 25,000 records/s applied on the bench machine) acked
  // later than retransmit_micros, so the senders sent their windows again,
  // and 86,000 of the 186,000 records it received were copies it had
  // (issue 12, P4; none at 1024 or 2048).
  uint32_t max_inflight_records = 1024;
  // Received records held while waiting for a gap to fill, per origin. Default: 8192.
  uint32_t max_buffered_records = 8192;
  // Another origin's records are relayed to a peer only once they have been
  // durable here this long and the peer still has not reported them: the
  // origin sends them directly, so without this every node would also get
  // each record from every other node (traffic growing with the square of
  // the cluster size). Default: 200 ms.
  int64_t relay_delay_micros = 200'000;
};

// Fault points (common/fault_point.h) planted in the core, each a bug the
// simulation's checkers must catch:
//  - "replication.ack_before_peer_persisted": OnLocalCommit acknowledges a
//    critical write at once, before the pair peer has it;
//  - "replication.accept_write_in_restricted_mode": CheckCriticalWrite lets a
//    critical write through while READ_ONLY_RESTRICTED.

// kUnavailable: this node is DISABLING or DISABLED (writes go elsewhere).
enum class WriteMode { kReadWrite, kRestricted, kReadOnlyNode, kUnavailable };
std::string_view WriteModeName(WriteMode mode);

struct LinkView {
  bool up = false;
  int64_t last_heard_micros = 0;  // 0: never
  VersionVector peer_applied;     // as last reported
  uint64_t inflight_records = 0;
  // Since when the peer lacks some record this node has (0: it lacks none,
  // as of its last report): the link's replication lag is now minus this.
  int64_t behind_since_micros = 0;
  // Both directions worked at this time (the peer echoed a report of ours
  // sent then; 0: not yet).
  int64_t echoed_micros = 0;
};

class ReplicationCore {
 public:
  // `members` must contain `self`. `durable` is what the local store has
  // durably applied (after a restart: what survived).
  ReplicationCore(uint32_t self, std::vector<Member> members, VersionVector durable,
                  CoreOptions options, int64_t now_micros);

  // ---- Events ----
  void Tick(int64_t now_micros);
  // A message from a linked node. Records from the future beyond the clock
  // guard are the store's concern (ApplyRemote refuses them).
  void Receive(uint32_t from, const pb::ReplicationMessage& message, int64_t now_micros);
  // OK if a critical write may be accepted now, else READ_ONLY_RESTRICTED
  // (with the reason), READ_ONLY_NODE, or UNAVAILABLE (this node is
  // DISABLING or DISABLED). Nothing is written when refused.
  Status CheckCriticalWrite() const;
  // A local write was durably committed as (self, seq). For critical writes
  // `token` is acknowledged once the pair peer reports it, or failed.
  void OnLocalCommit(uint64_t seq, std::optional<uint64_t> token, int64_t now_micros);
  // The driver applied the records it was handed (Output::to_apply), not
  // necessarily durably yet: `applied` is the store's vector now. Records
  // handed out beyond it were refused by the store and are taken again when
  // they are received again. Nothing is reported to the peers.
  void OnAppliedUnsynced(const VersionVector& applied, int64_t now_micros);
  // A sync made the store durable through `durable` (the store's vector when
  // the sync started): reported to the peers, so a pair peer's critical
  // writes are acknowledged by it. Never reports more than is durable.
  void OnDurable(const VersionVector& durable, int64_t now_micros);
  // Both at once: the driver applied and synced; `durable` is the store's
  // vector.
  void OnApplied(const VersionVector& durable, int64_t now_micros) {
    OnAppliedUnsynced(durable, now_micros);
    OnDurable(durable, now_micros);
  }
  // Membership changed (a node was inducted, or its role or pair changed).
  // Links to new members start; links to removed members end.
  void SetMembers(std::vector<Member> members, int64_t now_micros);
  // The driver could not read records it was asked to send (e.g. collected
  // by log GC); they are asked for again later.
  void OnSendFailed(uint32_t peer);
  // The local log no longer holds `origin`'s records through `through_seq`
  // (log GC): a peer that lacks them gets them from another node, and this
  // node stops offering them.
  void OnLogCollected(uint32_t origin, uint64_t through_seq);

  // ---- Output ----
  struct SendRecords {
    uint32_t peer;
    uint32_t origin;
    uint64_t from_seq;
    uint64_t count;
  };
  struct Outbound {
    uint32_t to;
    pb::ReplicationMessage message;
  };
  struct Output {
    std::vector<Outbound> messages;
    // Read these records from the local log and send them as a RecordBatch.
    std::vector<SendRecords> sends;
    // Apply in this order (each origin contiguous from the durable vector).
    std::vector<pb::LogRecord> to_apply;
    std::vector<uint64_t> acked;                      // critical writes done
    std::vector<std::pair<uint64_t, Status>> failed;  // OUTCOME_UNKNOWN
    std::optional<VersionVector> confirm_frontier;    // grew since last output
    bool empty() const {
      return messages.empty() && sends.empty() && to_apply.empty() && acked.empty() &&
             failed.empty() && !confirm_frontier;
    }
  };
  Output TakeOutput();

  // ---- Lifecycle (semantics.md section 5) ----
  // DISABLING is done handing off: every other enabled member reported all
  // of this node's own records.
  bool OwnRecordsEverywhere() const;
  // ENABLING or PENDING: starts the wait for ACTIVE at `now`.
  void StartCatchUp(int64_t now_micros);
  // Since StartCatchUp: every other enabled member's link is up, echoed a
  // report sent after the start (both directions work), and this node has
  // applied everything that member had when it first echoed.
  bool CaughtUp() const;

  // ---- Observation ----
  uint32_t self() const { return self_; }
  WriteMode mode() const { return mode_; }
  const std::string& mode_reason() const { return mode_reason_; }
  const VersionVector& durable() const { return durable_; }
  LinkView link(uint32_t peer) const;
  const VersionVector& confirm_frontier() const { return frontier_; }
  size_t pending_critical_writes() const { return pending_acks_.size(); }

 private:
  struct Link {
    int64_t last_heard = 0;  // 0: never
    // Per origin: when the peer last acknowledged more of it, or when sending
    // beyond its acknowledgement started (the retransmit clock).
    std::map<uint32_t, int64_t> progress;
    int64_t last_report_sent = 0;
    VersionVector reported;  // peer's durable vector
    VersionVector sent;      // highest seq sent per origin (optimistic)
    bool report_due = false;
    int64_t peer_report_sent = 0;  // sent_micros of the peer's newest report (echoed back)
    int64_t echoed = 0;            // newest of our report times the peer echoed
    int64_t behind_since = 0;      // see LinkView
    std::optional<VersionVector> catch_up_target;  // see CaughtUp()
  };
  struct PendingAck {
    uint64_t token;
    int64_t deadline;
  };

  const Member* Find(uint32_t id) const;
  bool SelfDisabled() const;
  bool LinkUp(const Link& link, int64_t now) const;
  void UpdateMode(int64_t now);
  void ScheduleSends(int64_t now);
  void ReleaseContiguous();
  void SettleAcks(int64_t now);
  void UpdateConfirmFrontier();
  void SendReport(uint32_t to, int64_t now);

  uint32_t self_;
  std::vector<Member> members_;
  CoreOptions options_;
  int64_t now_;
  VersionVector durable_;
  VersionVector handed_out_;  // given to the driver to apply (>= durable_)
  VersionVector collected_;   // the local log starts after these (OnLogCollected)
  // Per other origin: (time, seq) when durable_ reached seq, newest last,
  // kept back to the newest entry at least relay_delay old (the front).
  std::map<uint32_t, std::deque<std::pair<int64_t, uint64_t>>> durable_since_;
  // Of `origin`'s records, the last that may be relayed at `now`.
  uint64_t RelayableThrough(uint32_t origin, int64_t now);
  std::map<uint32_t, Link> links_;
  std::map<uint32_t, std::map<uint64_t, pb::LogRecord>> buffered_;  // origin -> seq -> record
  std::map<uint64_t, PendingAck> pending_acks_;                     // own seq -> ack
  WriteMode mode_ = WriteMode::kRestricted;
  std::string mode_reason_;
  VersionVector frontier_;
  std::optional<int64_t> catch_up_started_;
  Output out_;
};

}  // namespace coffer::replication
