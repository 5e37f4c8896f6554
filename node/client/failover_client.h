// FailoverClient: a synchronous client of a whole Coffer cluster. It sends
// each request to one node at a time, preferring the caller's subgroup, and
// moves on to another node when a node cannot serve (docs/cluster.md,
// "Retries across nodes"). Built on CofferClient (node/client.h).
//
// Not thread-safe: use one FailoverClient per thread. It starts no threads.
// A Call blocks for at most max_attempts attempts plus the membership
// look-ups (below); each attempt or look-up at one address takes at most
// call_timeout, connecting and the exchange together (one deadline per
// attempt, checked at every blocking step: connect, TLS handshake, send,
// receive). So a node that does not answer (stopped, frozen, partitioned)
// costs a Call call_timeout per attempt there, and a node that let the
// membership look-up of a Call time out is tried last by that Call.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "node/client/client.h"
#include "node/net/tls.h"
#include "proto/api.pb.h"

namespace coffer::node {

// A new request id for a write sent without one: a time-ordered uuid
// (version 7, common/ids.h), so the node's request rows of writes made close
// in time are stored next to each other.
std::string NewRequestId();

struct FailoverOptions {
  // Client API addresses "host:port" (or "[ipv6]:port"); at least one.
  // Duplicates are ignored.
  std::vector<std::string> addresses;
  // The caller's subgroup: its members are tried first. "" = no preference.
  std::string subgroup;
  // The client's credentials (an `admin` certificate for the client API).
  TlsFiles tls;
  // Bounds one attempt at one node: connecting (TCP and TLS) and the
  // request's exchange together. Default: 10 s.
  std::chrono::milliseconds call_timeout{10000};
  // Bounds a whole Call: its attempts and membership look-ups together.
  // 0 (the default) = no overall bound: a Call then takes up to max_attempts
  // attempts of call_timeout each. When set, one attempt (or look-up) at one
  // node gets at most a share of the time left: that time divided by the
  // number of nodes not yet tried in this look-up or Call, but never less
  // than kMinAttemptShare (or all the time left, if less). So a node that
  // does not answer (frozen, partitioned) leaves time for the others, and
  // a Call that reaches a healthy node ends within call_deadline.
  std::chrono::milliseconds call_deadline{0};
  // Attempts per Call across all nodes (each sends the request once, or
  // fails to connect). At least 1. Default: 8.
  int max_attempts = 8;
  // Whether membership is learned (see Call). When false the client tries
  // the given addresses only, in order, and sends no ClusterStatusRequest
  // of its own. Default: true.
  bool discover_members = true;
};

// The least time one attempt gets under FailoverOptions::call_deadline.
inline constexpr std::chrono::milliseconds kMinAttemptShare{250};

class FailoverClient {
 public:
  // Checks the options (INVALID_ARGUMENT: no address, an address that is not
  // host:port, max_attempts < 1, call_timeout <= 0) and loads the TLS
  // credentials (errors as MakeClientTlsContext). Dials nothing.
  static StatusOr<std::unique_ptr<FailoverClient>> Create(FailoverOptions options);

  ~FailoverClient();
  FailoverClient(const FailoverClient&) = delete;
  FailoverClient& operator=(const FailoverClient&) = delete;

  // Sends `request` and returns the answering node's Response (which may
  // itself report an error: StatusFromResponse); transport errors are a
  // Status. A write without a request id gets a fresh random one (a UUID).
  //
  // Membership (unless discover_members is false): before the first Call, and
  // again whenever every node in the
  // current order has failed within a Call, the client sends a
  // ClusterStatusRequest to the given addresses (then to other known
  // members) in order until one answers, and orders the nodes (see order();
  // the addresses that let the whole call_timeout pass in that look-up are
  // moved to the back; after such a look-up within a Call, nodes not yet
  // tried come first). If none can be reached the Call returns UNAVAILABLE naming them.
  //
  // Per attempt, by the node's answer:
  //  - UNAVAILABLE (answered, or the node cannot be reached), and
  //    READ_ONLY_RESTRICTED, and READ_ONLY_NODE for a write (a read-only node
  //    serves reads, which never get it): the next node in order; the node
  //    is moved to the back of the order for later Calls (the client keeps
  //    using the node that last worked) and tried again after the others.
  //  - OUTCOME_UNKNOWN naming a record (Response.outcome_record): retried
  //    with that record as Request.retry_of and the same request id, which is
  //    safe on any node, on the next node in order.
  //  - OUTCOME_UNKNOWN without a record (also the client-side one: the
  //    request was sent but no answer came) for a request that is not a
  //    plain read: if the request already carries a record (retry_of, from
  //    an earlier answer or from the caller), on to the next node as above;
  //    else retried only on the same node, at most twice more, until it
  //    answers anything but UNAVAILABLE/READ_ONLY_* or names a record; if
  //    the outcome is still unknown then, OUTCOME_UNKNOWN naming the node
  //    and the request id is returned. A read (get, locate, the list and
  //    status requests) has no outcome to lose and fails over as on
  //    UNAVAILABLE.
  //  - anything else (OK or any other code): returned as it is; so is a
  //    transport error other than UNAVAILABLE and OUTCOME_UNKNOWN (e.g.
  //    PERMISSION_DENIED: the node refused the certificate).
  //
  // Connections: one per node, kept open and reused by reads and membership
  // look-ups, dropped on any transport error. A kept connection may have
  // been closed by its node since (stopped, killed, idle timeout) without
  // the client noticing, so a read that fails on one (other than by running
  // out of time: a node that said nothing within call_timeout is not asked
  // again at once) is sent once more on a fresh connection to the same node
  // before counting against it, and a
  // write (or any other request with effects) always goes on a fresh
  // connection: sent into a dead one, it would end in an outcome the client
  // cannot know, pinned to a node that is gone.
  //
  // At most max_attempts attempts, and under call_deadline none started
  // after it passed. When they run out the result is, in this
  // order of precedence: OUTCOME_UNKNOWN if a write's outcome became unknown
  // (as the node's Response if it named a record, its message then naming
  // the request id and record), else the last refusal a node answered
  // (UNAVAILABLE, READ_ONLY_*) as its Response, its message naming what was
  // tried, else UNAVAILABLE naming every address tried and why.
  StatusOr<pb::Response> Call(pb::Request request);

  // The address whose Response the last Call returned; "" before any Call
  // and after a Call that returned an error Status.
  std::string last_address() const { return last_address_; }

  // The preference order currently used: after membership is learned, the
  // members of the caller's subgroup, then the others (in each group the
  // given addresses in the caller's order, then members not given, in
  // membership order; given addresses that are no member count as others),
  // with nodes that failed since moved to the back. A standalone node (no members) is a
  // one-node list. Before the first Call: the given addresses.
  std::vector<std::string> order() const { return order_; }

 private:
  FailoverClient(FailoverOptions options, std::unique_ptr<boost::asio::ssl::context> tls);

  // Sends `request` to `address` on its open connection, dialling one if
  // there is none, all by one deadline (AttemptDeadline(untried)); drops the
  // connection on any transport error. `*reused` tells whether an already
  // open connection was used, `*timed_out` whether the attempt failed by
  // running out of time.
  StatusOr<pb::Response> Send(const std::string& address, const pb::Request& request,
                              size_t untried, bool* reused, bool* timed_out);
  // The deadline of one attempt when `untried` nodes (this one included) are
  // still to be tried: now + call_timeout, and under call_deadline no later
  // than its share of the time left (see FailoverOptions::call_deadline).
  CofferClient::Clock::time_point AttemptDeadline(size_t untried) const;
  // Whether the current Call's overall deadline has passed.
  bool CallExpired() const;
  // Learns membership and rebuilds order_ (see Call). OK if a node answered
  // (order_ from its membership, or the given addresses if it answered with
  // an error); UNAVAILABLE naming the addresses if none could be reached;
  // other transport errors (e.g. PERMISSION_DENIED) as they are. `tried`
  // collects "address (error)" for the addresses that failed.
  Status Refresh(std::vector<std::string>* tried);
  std::vector<std::string> BuildOrder(const std::string& answered,
                                      const pb::ClusterStatus& status) const;
  // Moves `address` behind every other node in order_.
  void Demote(const std::string& address);

  const FailoverOptions options_;
  // Declared before connections_: the connections use it.
  const std::unique_ptr<boost::asio::ssl::context> tls_;
  std::map<std::string, std::unique_ptr<CofferClient>> connections_;
  std::vector<std::string> order_;
  bool learned_ = false;
  std::string last_address_;
  // The end of the current Call under call_deadline (time_point::max()
  // without one).
  CofferClient::Clock::time_point call_end_ = CofferClient::Clock::time_point::max();
};

}  // namespace coffer::node
