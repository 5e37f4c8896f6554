#include "node/client/failover_client.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <set>
#include <utility>

#include "common/clock.h"
#include "common/ids.h"
#include "common/rng.h"
#include "node/api/request_handler.h"
#include "node/config/config.h"

namespace coffer::node {

std::string NewRequestId() {
  SystemRng rng;
  return Uuid::GenerateTimeOrdered(SystemClock().WallMicros(), rng).str();
}

namespace {

// Retries on the same node after an OUTCOME_UNKNOWN that named no record.
constexpr int kMaxSameNodeRetries = 2;

// Requests without side effects: safe to send again anywhere.
bool IsRead(const pb::Request& request) { return HasNoSideEffects(request); }

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string JoinTried(const std::vector<std::string>& tried) {
  std::string text;
  for (const std::string& item : tried) {
    if (!text.empty()) text += "; ";
    text += item;
  }
  return text.empty() ? "nothing" : text;
}

bool NamesRecord(const pb::Response& response) {
  return response.has_outcome_record() && response.outcome_record().origin() != 0 &&
         response.outcome_record().seq() != 0;
}

std::string RecordText(const pb::RecordRef& record) {
  return std::to_string(record.origin()) + ":" + std::to_string(record.seq());
}

// "address (CODE: message)" for the list of what was tried.
std::string Tried(const std::string& address, const Status& status) {
  return address + " (" + status.ToString() + ")";
}

}  // namespace

StatusOr<std::unique_ptr<FailoverClient>> FailoverClient::Create(FailoverOptions options) {
  if (options.addresses.empty()) return InvalidArgument("failover client: no node address given");
  if (options.max_attempts < 1) {
    return InvalidArgument("failover client: max_attempts must be at least 1");
  }
  if (options.call_timeout.count() <= 0) {
    return InvalidArgument("failover client: call_timeout must be positive");
  }
  std::vector<std::string> addresses;
  for (const std::string& address : options.addresses) {
    if (!ParseHostPort(address).ok()) {
      return InvalidArgument("failover client: node address '" + address +
                             "' is not host:port (or [ipv6]:port) with a port in 1..65535");
    }
    if (!Contains(addresses, address)) addresses.push_back(address);
  }
  options.addresses = std::move(addresses);
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<boost::asio::ssl::context> tls,
                          MakeClientTlsContext(options.tls));
  try {
    return std::unique_ptr<FailoverClient>(new FailoverClient(std::move(options), std::move(tls)));
  } catch (const std::exception& e) {
    return Internal(std::string("creating the failover client: ") + e.what());
  }
}

FailoverClient::FailoverClient(FailoverOptions options,
                               std::unique_ptr<boost::asio::ssl::context> tls)
    : options_(std::move(options)), tls_(std::move(tls)), order_(options_.addresses) {}

FailoverClient::~FailoverClient() = default;

CofferClient::Clock::time_point FailoverClient::AttemptDeadline(size_t untried) const {
  const CofferClient::Clock::time_point now = CofferClient::Clock::now();
  CofferClient::Clock::time_point deadline = now + options_.call_timeout;
  if (call_end_ == CofferClient::Clock::time_point::max()) return deadline;
  if (call_end_ <= now) return now;
  const auto left = call_end_ - now;
  auto share = left / static_cast<int64_t>(std::max<size_t>(untried, 1));
  share = std::max<CofferClient::Clock::duration>(share, kMinAttemptShare);
  return std::min({deadline, call_end_, now + share});
}

bool FailoverClient::CallExpired() const { return CofferClient::Clock::now() >= call_end_; }

StatusOr<pb::Response> FailoverClient::Send(const std::string& address, const pb::Request& request,
                                            size_t untried, bool* reused, bool* timed_out) {
  // One deadline for the whole attempt: connecting and the exchange.
  const CofferClient::Clock::time_point deadline = AttemptDeadline(untried);
  *timed_out = false;
  auto it = connections_.find(address);
  *reused = it != connections_.end();
  if (!*reused) {
    StatusOr<HostPort> host_port = ParseHostPort(address);
    if (!host_port.ok()) {
      return Unavailable("cannot dial " + address + ": " + host_port.status().message());
    }
    StatusOr<std::unique_ptr<CofferClient>> client =
        CofferClient::ConnectBy(host_port->host, host_port->port, *tls_, deadline);
    if (!client.ok()) {
      // ConnectBy returns no client to ask; a connect that fails at the
      // deadline says so in its message, and nothing was sent either way.
      *timed_out = CofferClient::Clock::now() >= deadline;
      return client.status();
    }
    it = connections_.emplace(address, std::move(client).value()).first;
  }
  StatusOr<pb::Response> response = it->second->CallBy(request, deadline);
  if (!response.ok()) {
    *timed_out = it->second->timed_out();
    connections_.erase(it);
  }
  return response;
}

std::vector<std::string> FailoverClient::BuildOrder(const std::string& answered,
                                                    const pb::ClusterStatus& status) const {
  if (status.members().empty()) return {answered};  // a standalone node
  const uint32_t self_id = status.self().node_id();
  // The member at `address`. The node that answered is its own member even
  // if the caller reached it under another address than the one it
  // advertises (e.g. it listens on 0.0.0.0).
  auto member_at = [&](const std::string& address) -> const pb::MemberView* {
    for (const pb::MemberView& m : status.members()) {
      if (m.client_address() == address) return &m;
    }
    if (address == answered && self_id != 0) {
      for (const pb::MemberView& m : status.members()) {
        if (m.node_id() == self_id) return &m;
      }
    }
    return nullptr;
  };
  struct Entry {
    std::string address;
    const pb::MemberView* member;  // null: a given address that is no member
  };
  std::vector<Entry> entries;
  std::set<const pb::MemberView*> given_members;
  for (const std::string& address : options_.addresses) {
    const pb::MemberView* member = member_at(address);
    if (member != nullptr) given_members.insert(member);
    entries.push_back({address, member});
  }
  // The cluster may have grown beyond the given list.
  for (const pb::MemberView& m : status.members()) {
    if (given_members.count(&m) != 0) continue;
    // A member without a usable client address cannot be dialled.
    if (m.client_address().empty() || !ParseHostPort(m.client_address()).ok()) continue;
    bool listed = std::any_of(entries.begin(), entries.end(),
                              [&](const Entry& e) { return e.address == m.client_address(); });
    if (!listed) entries.push_back({m.client_address(), &m});
  }
  auto preferred = [&](const Entry& e) {
    return !options_.subgroup.empty() && e.member != nullptr &&
           e.member->subgroup() == options_.subgroup;
  };
  std::vector<std::string> order;
  for (const Entry& e : entries) {
    if (preferred(e)) order.push_back(e.address);
  }
  for (const Entry& e : entries) {
    if (!preferred(e)) order.push_back(e.address);
  }
  return order;
}

Status FailoverClient::Refresh(std::vector<std::string>* tried) {
  if (!options_.discover_members) {
    // The given addresses in order again, those that failed since included.
    order_ = options_.addresses;
    learned_ = true;
    return Status::Ok();
  }
  std::vector<std::string> probe = options_.addresses;
  for (const std::string& address : order_) {
    if (!Contains(probe, address)) probe.push_back(address);
  }
  pb::Request ask;
  ask.mutable_cluster_status();
  bool answered = false;
  // Addresses that let the whole timeout pass in this look-up (frozen,
  // partitioned): tried last afterwards.
  std::vector<std::string> silent;
  auto demote_silent = [&] {
    for (const std::string& address : silent) Demote(address);
  };
  for (size_t i = 0; i < probe.size(); ++i) {
    const std::string& address = probe[i];
    if (CallExpired()) {
      tried->push_back(address + " (not tried: the call's deadline passed)");
      break;
    }
    const size_t untried = probe.size() - i;
    bool reused = false;
    bool timed_out = false;
    StatusOr<pb::Response> response = Send(address, ask, untried, &reused, &timed_out);
    // A kept connection may have been closed by the node meanwhile: once
    // more on a fresh one (a read, so sending it again is harmless), unless
    // the node let the whole timeout pass.
    if (!response.ok() && reused && !timed_out) {
      response = Send(address, ask, untried, &reused, &timed_out);
    }
    if (!response.ok()) {
      if (timed_out) silent.push_back(address);
      tried->push_back(Tried(address, response.status()));
      Code code = response.status().code();
      if (code != Code::kUnavailable && code != Code::kOutcomeUnknown) return response.status();
      continue;
    }
    answered = true;
    Status status = StatusFromResponse(*response);
    if (!status.ok()) {
      tried->push_back(Tried(address, status.Annotate("cluster status")));
      continue;
    }
    order_ = BuildOrder(address, response->cluster_status());
    demote_silent();
    learned_ = true;
    // Connections to nodes no longer listed are not needed.
    for (auto it = connections_.begin(); it != connections_.end();) {
      it = Contains(order_, it->first) ? std::next(it) : connections_.erase(it);
    }
    return Status::Ok();
  }
  if (answered) {
    // Nodes answer but none describes the cluster: keep to what is known.
    order_ = probe;
    demote_silent();
    learned_ = true;
    return Status::Ok();
  }
  learned_ = false;
  return Unavailable("no node could be reached; tried " + JoinTried(*tried));
}

void FailoverClient::Demote(const std::string& address) {
  auto it = std::find(order_.begin(), order_.end(), address);
  if (it != order_.end()) std::rotate(it, std::next(it), order_.end());
}

StatusOr<pb::Response> FailoverClient::Call(pb::Request request) {
  last_address_.clear();
  call_end_ = options_.call_deadline.count() > 0
                  ? CofferClient::Clock::now() + options_.call_deadline
                  : CofferClient::Clock::time_point::max();
  const bool write = request.has_write();
  const bool read = IsRead(request);
  if (write && request.request_id().empty()) request.set_request_id(NewRequestId());

  std::vector<std::string> tried;  // "address (what happened)", in order
  // The last refusal a node answered (UNAVAILABLE, READ_ONLY_*), and where.
  std::optional<pb::Response> refusal;
  std::string refusal_address;
  // The last OUTCOME_UNKNOWN naming a record, and where: the write may have
  // taken effect, and Request.retry_of now names it.
  std::optional<pb::Response> unknown;
  std::string unknown_address;
  // Set when the connection broke after a request that carried a record
  // (retry_of) was sent: still unknown, but safe to retry on any node.
  bool lost_with_record = false;
  // Set after an OUTCOME_UNKNOWN when no record is known: only this node can
  // recognise a retry, so every later attempt goes there.
  std::string pinned;
  int pinned_retries = 0;
  std::string same_again;  // the next attempt goes here (a fresh connection)
  std::set<std::string> redialled;
  std::set<std::string> attempted;  // addresses this Call sent the request to
  int attempts = 0;

  auto retry_text = [&] {
    std::string text = "request id " + request.request_id();
    if (request.has_retry_of()) text += ", retry_of " + RecordText(request.retry_of());
    return text;
  };
  // The result once no attempt is left (or no node can be reached).
  auto give_up = [&](const Status& last) -> StatusOr<pb::Response> {
    if (!pinned.empty()) {
      return Status(Code::kOutcomeUnknown,
                    "the outcome of the request at " + pinned +
                        " is unknown and no answer named the record that carries it, so only " +
                        pinned + " can recognise a retry; retry there with the same " +
                        retry_text() + "; tried: " + JoinTried(tried));
    }
    if (unknown) {
      pb::Response response = std::move(*unknown);
      response.set_message(response.message() + " [" + retry_text() +
                           ": retry on any node with both; tried: " + JoinTried(tried) + "]");
      last_address_ = unknown_address;
      return response;
    }
    if (lost_with_record) {
      return Status(Code::kOutcomeUnknown,
                    "the outcome of the request is unknown; retry on any "
                    "node with the same " +
                        retry_text() + "; tried: " + JoinTried(tried));
    }
    if (refusal) {
      pb::Response response = std::move(*refusal);
      response.set_message(response.message() +
                           " [no node took the request; tried: " + JoinTried(tried) + "]");
      last_address_ = refusal_address;
      return response;
    }
    return last;
  };

  if (!learned_) {
    Status learned = Refresh(&tried);
    if (!learned.ok()) return give_up(learned);
  }
  std::vector<std::string> round = order_;
  size_t next = 0;
  bool expired = false;
  while (attempts < options_.max_attempts) {
    if (CallExpired()) {
      expired = true;
      break;
    }
    std::string address;
    if (!pinned.empty()) {
      address = pinned;
      ++pinned_retries;
    } else if (!same_again.empty()) {
      address = std::move(same_again);
      same_again.clear();
    } else {
      if (next >= round.size()) {
        // Every node in the order failed: the membership may have changed.
        Status learned = Refresh(&tried);
        if (!learned.ok()) return give_up(learned);
        // Members not yet tried in this Call first.
        round = order_;
        std::stable_partition(round.begin(), round.end(),
                              [&](const std::string& a) { return attempted.count(a) == 0; });
        next = 0;
      }
      address = round[next++];
    }
    ++attempts;
    attempted.insert(address);

    // A kept connection may have been closed by its node since (stopped,
    // killed, idle timeout) without this client noticing. A write sent into
    // it would end with an outcome the client cannot know, so writes (and
    // the other requests with effects) always go on a fresh connection.
    if (!read) connections_.erase(address);
    // The nodes this attempt shares the time left with: itself and those of
    // the order not yet tried in this Call (only itself when pinned).
    size_t untried = 1;
    if (pinned.empty()) {
      for (const std::string& a : order_) {
        if (a != address && attempted.count(a) == 0) ++untried;
      }
    }
    bool reused = false;
    bool timed_out = false;
    StatusOr<pb::Response> sent = Send(address, request, untried, &reused, &timed_out);
    if (!sent.ok()) {
      const Status& error = sent.status();
      tried.push_back(Tried(address, error));
      const bool lost = error.code() == Code::kOutcomeUnknown;  // sent, no answer
      if (error.code() != Code::kUnavailable && !lost) {
        // E.g. PERMISSION_DENIED: another node would answer the same.
        if (!pinned.empty() || unknown || lost_with_record) return give_up(error);
        return error;
      }
      if (!pinned.empty()) {
        if (pinned_retries >= kMaxSameNodeRetries) break;
        continue;
      }
      if (lost && !read) {
        // With a record named, the retry is safe on any node: on to the next.
        if (request.has_retry_of()) {
          lost_with_record = true;
        } else {
          pinned = address;
          pinned_retries = 0;
        }
        continue;
      }
      // A kept connection the node closed meanwhile: once more on a fresh
      // one. Not if the node let the whole timeout pass: it is not answering.
      if (reused && !timed_out && redialled.insert(address).second) {
        same_again = address;
        continue;
      }
      Demote(address);
      continue;
    }

    pb::Response& response = *sent;
    const Status answer = StatusFromResponse(response);
    const Code code = answer.code();
    if (code == Code::kOutcomeUnknown && !read) {
      tried.push_back(Tried(address, answer));
      if (NamesRecord(response)) {
        // Safe on any node now: on to the next one.
        *request.mutable_retry_of() = response.outcome_record();
        unknown = std::move(response);
        unknown_address = address;
        pinned.clear();
        continue;
      }
      if (request.has_retry_of()) {
        // The record is known from before: still safe on any node.
        unknown = std::move(response);
        unknown_address = address;
      } else if (pinned.empty()) {
        pinned = address;
        pinned_retries = 0;
      } else if (pinned_retries >= kMaxSameNodeRetries) {
        break;
      }
      continue;
    }
    const bool refused = code == Code::kUnavailable || code == Code::kReadOnlyRestricted ||
                         (code == Code::kReadOnlyNode && write) ||
                         (code == Code::kOutcomeUnknown && read);
    if (refused) {
      tried.push_back(Tried(address, answer));
      if (!pinned.empty()) {
        // Still unknown whether the first attempt took effect there.
        if (pinned_retries >= kMaxSameNodeRetries) break;
        continue;
      }
      refusal = std::move(response);
      refusal_address = address;
      Demote(address);
      continue;
    }
    last_address_ = address;
    return std::move(response);
  }
  if (expired) {
    return give_up(Unavailable("no node took the request within the call's deadline of " +
                               std::to_string(options_.call_deadline.count()) + " ms (" +
                               std::to_string(attempts) + " attempts); tried " + JoinTried(tried)));
  }
  return give_up(Unavailable("no node took the request in " + std::to_string(attempts) +
                             " attempts; tried " + JoinTried(tried)));
}

}  // namespace coffer::node
