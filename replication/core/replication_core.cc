#include "replication/core/replication_core.h"

#include <algorithm>

#include "common/fault_point.h"

namespace coffer::replication {

namespace {
uint64_t At(const VersionVector& v, uint32_t origin) {
  auto it = v.find(origin);
  return it == v.end() ? 0 : it->second;
}

void RaiseTo(VersionVector* v, const VersionVector& other) {
  for (const auto& [origin, seq] : other) {
    uint64_t& mine = (*v)[origin];
    mine = std::max(mine, seq);
  }
}
}  // namespace

bool Covers(const VersionVector& a, const VersionVector& b) {
  for (const auto& [origin, seq] : b) {
    if (At(a, origin) < seq) return false;
  }
  return true;
}

VersionVector ToVector(const pb::VersionVector& proto) {
  return VersionVector(proto.applied().begin(), proto.applied().end());
}

pb::VersionVector ToProto(const VersionVector& vector) {
  pb::VersionVector out;
  for (const auto& [origin, seq] : vector) (*out.mutable_applied())[origin] = seq;
  return out;
}

std::string_view WriteModeName(WriteMode mode) {
  switch (mode) {
    case WriteMode::kReadWrite:
      return "read-write";
    case WriteMode::kRestricted:
      return "restricted";
    case WriteMode::kReadOnlyNode:
      return "read-only";
    case WriteMode::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

ReplicationCore::ReplicationCore(uint32_t self, std::vector<Member> members, VersionVector durable,
                                 CoreOptions options, int64_t now_micros)
    : self_(self),
      members_(std::move(members)),
      options_(options),
      now_(now_micros),
      durable_(std::move(durable)),
      handed_out_(durable_) {
  // What is durable at start-up may be relayed at once.
  for (const auto& [origin, seq] : durable_) {
    durable_since_[origin].emplace_back(now_micros - options_.relay_delay_micros, seq);
  }
  for (const auto& m : members_) {
    if (m.id != self_) links_[m.id] = Link{};
  }
  UpdateMode(now_);
  UpdateConfirmFrontier();
}

const Member* ReplicationCore::Find(uint32_t id) const {
  for (const auto& m : members_) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

bool ReplicationCore::SelfDisabled() const {
  const Member* me = Find(self_);
  return me != nullptr && me->state == MemberState::kDisabled;
}

bool ReplicationCore::LinkUp(const Link& link, int64_t now) const {
  return link.last_heard > 0 && now - link.last_heard <= options_.failure_detection_micros;
}

LinkView ReplicationCore::link(uint32_t peer) const {
  LinkView view;
  auto it = links_.find(peer);
  if (it == links_.end()) return view;
  view.up = LinkUp(it->second, now_);
  view.last_heard_micros = it->second.last_heard;
  view.peer_applied = it->second.reported;
  view.behind_since_micros = it->second.behind_since;
  view.echoed_micros = it->second.echoed;
  for (const auto& [origin, seq] : it->second.sent) {
    uint64_t have = At(it->second.reported, origin);
    if (seq > have) view.inflight_records += seq - have;
  }
  return view;
}

// ---------------------------------------------------------------- events

void ReplicationCore::Tick(int64_t now_micros) {
  now_ = std::max(now_, now_micros);
  for (auto& [peer, link] : links_) {
    if (now_ - link.last_report_sent >= options_.heartbeat_interval_micros) SendReport(peer, now_);
  }
  SettleAcks(now_);
  UpdateMode(now_);
  ScheduleSends(now_);
  UpdateConfirmFrontier();
}

void ReplicationCore::Receive(uint32_t from, const pb::ReplicationMessage& message,
                              int64_t now_micros) {
  now_ = std::max(now_, now_micros);
  auto it = links_.find(from);
  if (it == links_.end()) return;  // not a member: the link handshake refuses these
  Link& link = it->second;
  link.last_heard = now_;
  if (message.has_report()) {
    VersionVector before = link.reported;
    RaiseTo(&link.reported, ToVector(message.report().applied()));
    // The retransmit clock of each origin restarts when the peer acknowledges
    // more of it (per origin: progress on one must not hide a loss on another).
    for (const auto& [origin, seq] : link.reported) {
      if (seq > At(before, origin)) link.progress[origin] = now_;
    }
    // Nothing to resend below what the peer has.
    RaiseTo(&link.sent, link.reported);
    link.peer_report_sent = std::max(link.peer_report_sent, message.report().sent_micros());
    link.echoed = std::max(link.echoed, message.report().echo_micros());
    if (Covers(link.reported, durable_)) {
      link.behind_since = 0;
    } else if (link.behind_since == 0) {
      link.behind_since = now_;
    }
    if (catch_up_started_ && !link.catch_up_target && link.echoed >= *catch_up_started_) {
      link.catch_up_target = link.reported;
    }
  } else if (message.has_records() && !SelfDisabled()) {
    for (const auto& record : message.records().records()) {
      uint32_t origin = record.origin();
      if (origin == 0 || record.seq() <= At(handed_out_, origin)) continue;  // duplicate
      auto& buffer = buffered_[origin];
      if (buffer.size() >= options_.max_buffered_records && !buffer.count(record.seq())) {
        continue;  // dropped: the sender retransmits after its timeout
      }
      buffer.emplace(record.seq(), record);
    }
    // Acknowledge even an all-duplicate batch, so the sender learns what we have.
    link.report_due = true;
    ReleaseContiguous();
  }
  SettleAcks(now_);
  UpdateMode(now_);
  ScheduleSends(now_);
  UpdateConfirmFrontier();
}

Status ReplicationCore::CheckCriticalWrite() const {
  switch (mode_) {
    case WriteMode::kReadWrite:
      return Status::Ok();
    case WriteMode::kReadOnlyNode:
      return Status(Code::kReadOnlyNode,
                    "this is a read-only node; send critical writes to a read-write node");
    case WriteMode::kUnavailable:
      return Status(Code::kUnavailable, mode_reason_ + "; send writes to another node");
    case WriteMode::kRestricted:
      if (COFFER_FAULT_POINT("replication.accept_write_in_restricted_mode")) return Status::Ok();
      break;
  }
  return Status(Code::kReadOnlyRestricted,
                mode_reason_ +
                    "; critical writes are refused until the pair is back, "
                    "send them to another read-write node");
}

void ReplicationCore::OnLocalCommit(uint64_t seq, std::optional<uint64_t> token,
                                    int64_t now_micros) {
  now_ = std::max(now_, now_micros);
  durable_[self_] = std::max(At(durable_, self_), seq);
  handed_out_[self_] = std::max(At(handed_out_, self_), seq);
  if (token) {
    if (COFFER_FAULT_POINT("replication.ack_before_peer_persisted")) {
      out_.acked.push_back(*token);
    } else {
      pending_acks_[seq] = PendingAck{*token, now_ + options_.pair_ack_timeout_micros};
    }
  }
  ScheduleSends(now_);
  UpdateConfirmFrontier();
}

void ReplicationCore::OnAppliedUnsynced(const VersionVector& applied, int64_t now_micros) {
  now_ = std::max(now_, now_micros);
  // Anything handed out but not applied (the store refused it) must be
  // received again: forget it, and the sender's retransmission brings it back.
  for (auto& [origin, seq] : handed_out_) seq = std::max(At(applied, origin), At(durable_, origin));
  RaiseTo(&handed_out_, applied);
}

void ReplicationCore::OnDurable(const VersionVector& durable, int64_t now_micros) {
  now_ = std::max(now_, now_micros);
  VersionVector before = durable_;
  RaiseTo(&durable_, durable);
  RaiseTo(&handed_out_, durable_);
  for (const auto& [origin, seq] : durable_) {
    if (origin != self_ && seq > At(before, origin)) {
      auto& since = durable_since_[origin];
      since.emplace_back(now_, seq);
      // Entries older than the newest one past the delay are not needed.
      while (since.size() >= 2 && now_ - since[1].first >= options_.relay_delay_micros) {
        since.pop_front();
      }
    }
  }
  if (durable_ != before) {
    for (auto& [peer, link] : links_) {
      if (link.report_due || LinkUp(link, now_)) SendReport(peer, now_);
      if (link.behind_since == 0 && !Covers(link.reported, durable_)) link.behind_since = now_;
    }
  }
  SettleAcks(now_);
  UpdateMode(now_);
  ScheduleSends(now_);
  UpdateConfirmFrontier();
}

void ReplicationCore::SetMembers(std::vector<Member> members, int64_t now_micros) {
  now_ = std::max(now_, now_micros);
  members_ = std::move(members);
  std::set<uint32_t> ids;
  for (const auto& m : members_) {
    if (m.id == self_) continue;
    ids.insert(m.id);
    links_.try_emplace(m.id);
  }
  for (auto it = links_.begin(); it != links_.end();) {
    it = ids.count(it->first) ? std::next(it) : links_.erase(it);
  }
  UpdateMode(now_);
  ScheduleSends(now_);
  UpdateConfirmFrontier();
}

void ReplicationCore::OnSendFailed(uint32_t peer) {
  auto it = links_.find(peer);
  if (it != links_.end()) it->second.sent = it->second.reported;
}

void ReplicationCore::OnLogCollected(uint32_t origin, uint64_t through_seq) {
  uint64_t& floor = collected_[origin];
  floor = std::max(floor, through_seq);
}

ReplicationCore::Output ReplicationCore::TakeOutput() {
  Output out = std::move(out_);
  out_ = Output{};
  return out;
}

// ---------------------------------------------------------------- lifecycle

bool ReplicationCore::OwnRecordsEverywhere() const {
  uint64_t own = At(durable_, self_);
  for (const auto& m : members_) {
    if (m.id == self_ || m.state == MemberState::kDisabled) continue;
    auto it = links_.find(m.id);
    if (it == links_.end() || At(it->second.reported, self_) < own) return false;
  }
  return true;
}

void ReplicationCore::StartCatchUp(int64_t now_micros) {
  now_ = std::max(now_, now_micros);
  catch_up_started_ = now_;
  for (auto& [peer, link] : links_) link.catch_up_target.reset();
}

bool ReplicationCore::CaughtUp() const {
  if (!catch_up_started_) return false;
  for (const auto& m : members_) {
    if (m.id == self_ || m.state == MemberState::kDisabled) continue;
    auto it = links_.find(m.id);
    if (it == links_.end() || !LinkUp(it->second, now_)) return false;
    if (!it->second.catch_up_target || !Covers(durable_, *it->second.catch_up_target)) return false;
  }
  return true;
}

// ---------------------------------------------------------------- decisions

void ReplicationCore::SendReport(uint32_t to, int64_t now) {
  Outbound outbound{to, {}};
  Link& link = links_[to];
  auto* report = outbound.message.mutable_report();
  *report->mutable_applied() = ToProto(durable_);
  report->set_sent_micros(now);
  report->set_echo_micros(link.peer_report_sent);
  out_.messages.push_back(std::move(outbound));
  link.last_report_sent = now;
  link.report_due = false;
}

void ReplicationCore::ReleaseContiguous() {
  for (auto& [origin, buffer] : buffered_) {
    uint64_t next = At(handed_out_, origin) + 1;
    while (!buffer.empty() && buffer.begin()->first < next) buffer.erase(buffer.begin());
    while (!buffer.empty() && buffer.begin()->first == next) {
      out_.to_apply.push_back(std::move(buffer.begin()->second));
      buffer.erase(buffer.begin());
      handed_out_[origin] = next++;
    }
  }
}

void ReplicationCore::SettleAcks(int64_t now) {
  const Member* me = Find(self_);
  uint64_t confirmed = 0;
  if (me != nullptr && me->peer != 0) confirmed = At(links_[me->peer].reported, self_);
  for (auto it = pending_acks_.begin(); it != pending_acks_.end();) {
    if (it->first <= confirmed) {
      out_.acked.push_back(it->second.token);
      it = pending_acks_.erase(it);
    } else if (now >= it->second.deadline) {
      out_.failed.emplace_back(
          it->second.token,
          Status(Code::kOutcomeUnknown,
                 "the pair peer did not confirm record " + std::to_string(it->first) + " within " +
                     std::to_string(options_.pair_ack_timeout_micros / 1000) +
                     " ms; retry with the same request id"));
      it = pending_acks_.erase(it);
    } else {
      ++it;
    }
  }
}

void ReplicationCore::UpdateMode(int64_t now) {
  const Member* me = Find(self_);
  if (me == nullptr) {
    mode_ = WriteMode::kRestricted;
    mode_reason_ = "node is not a member";
    return;
  }
  if (me->state != MemberState::kActive) {
    mode_ = WriteMode::kUnavailable;
    mode_reason_ =
        me->state == MemberState::kDisabling ? "this node is DISABLING" : "this node is DISABLED";
    return;
  }
  if (me->role == Role::kReadOnly) {
    mode_ = WriteMode::kReadOnlyNode;
    mode_reason_ = "read-only node";
    return;
  }
  if (me->peer == 0) {
    mode_ = WriteMode::kRestricted;
    mode_reason_ = "read-only restricted: no read-write peer";
    return;
  }
  const Member* peer = Find(me->peer);
  if (peer != nullptr && peer->state == MemberState::kDisabled) {
    mode_ = WriteMode::kRestricted;
    mode_reason_ =
        "read-only restricted: pair peer node " + std::to_string(me->peer) + " is disabled";
    return;
  }
  const Link& link = links_[me->peer];
  if (!LinkUp(link, now)) {
    mode_ = WriteMode::kRestricted;
    mode_reason_ =
        link.last_heard == 0
            ? "read-only restricted: peer node " + std::to_string(me->peer) + " not heard from yet"
            : "read-only restricted: link to peer node " + std::to_string(me->peer) + " down for " +
                  std::to_string((now - link.last_heard) / 1000) + " ms";
    return;
  }
  if (mode_ == WriteMode::kReadWrite) return;
  // Back to read-write only once the pair has caught up with each other.
  bool peer_has_mine = At(link.reported, self_) >= At(durable_, self_);
  bool have_peers = At(durable_, me->peer) >= At(link.reported, me->peer);
  if (peer_has_mine && have_peers) {
    mode_ = WriteMode::kReadWrite;
    mode_reason_.clear();
  } else {
    mode_ = WriteMode::kRestricted;
    mode_reason_ = "read-only restricted: catching up with peer node " + std::to_string(me->peer);
  }
}

void ReplicationCore::ScheduleSends(int64_t now) {
  // A disabled node sends only its own records: its DISABLED and ENABLING
  // state changes (it writes nothing else while disabled).
  const bool self_disabled = SelfDisabled();
  for (auto& [peer, link] : links_) {
    if (!LinkUp(link, now)) continue;
    const Member* member = Find(peer);
    if (member == nullptr || member->state == MemberState::kDisabled) continue;
    uint64_t inflight = 0;
    for (auto& [origin, seq] : link.sent) {
      uint64_t have = At(link.reported, origin);
      if (seq <= have) continue;
      int64_t& since = link.progress[origin];
      if (now - since > options_.retransmit_micros) {
        seq = have;  // nothing of this origin acknowledged for a while: send it again
        since = now;
        continue;
      }
      inflight += seq - have;
    }
    for (const auto& [origin, durable] : durable_) {
      if (self_disabled && origin != self_) continue;
      const uint64_t have = origin == self_ ? durable : RelayableThrough(origin, now);
      uint64_t next = std::max(At(link.sent, origin), At(link.reported, origin)) + 1;
      if (next <= At(collected_, origin)) continue;  // collected here: another node has them
      while (next <= have && inflight < options_.max_inflight_records) {
        uint64_t count = std::min<uint64_t>({options_.max_batch_records, have - next + 1,
                                             options_.max_inflight_records - inflight});
        out_.sends.push_back(SendRecords{peer, origin, next, count});
        if (At(link.sent, origin) <= At(link.reported, origin)) {
          link.progress[origin] = now;  // this origin's retransmit clock starts now
        }
        link.sent[origin] = next + count - 1;
        inflight += count;
        next += count;
      }
    }
  }
}

uint64_t ReplicationCore::RelayableThrough(uint32_t origin, int64_t now) {
  auto it = durable_since_.find(origin);
  if (it == durable_since_.end()) return 0;
  auto& since = it->second;
  while (since.size() >= 2 && now - since[1].first >= options_.relay_delay_micros) {
    since.pop_front();
  }
  if (since.empty() || now - since.front().first < options_.relay_delay_micros) return 0;
  return since.front().second;
}

void ReplicationCore::UpdateConfirmFrontier() {
  // A record is confirmed once every enabled node reported a vector covering
  // it and this node applied everything those reports cover (semantics 4.5).
  std::vector<const VersionVector*> reports;
  for (const auto& m : members_) {
    if (m.state == MemberState::kDisabled) continue;
    if (m.id == self_) {
      reports.push_back(&durable_);
    } else {
      reports.push_back(&links_[m.id].reported);
    }
  }
  if (reports.empty()) return;
  VersionVector max_v;
  for (const auto* r : reports) RaiseTo(&max_v, *r);
  if (!Covers(durable_, max_v)) return;
  VersionVector min_v = max_v;
  for (auto& [origin, seq] : min_v) {
    for (const auto* r : reports) seq = std::min(seq, At(*r, origin));
  }
  VersionVector merged = frontier_;
  RaiseTo(&merged, min_v);
  if (merged != frontier_) {
    frontier_ = merged;
    out_.confirm_frontier = frontier_;
  }
}

}  // namespace coffer::replication
