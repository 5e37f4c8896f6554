// The one retry policy of one-shot callers such as the `coffer` CLI: which
// nodes a request may go to, and the FailoverClient that retries it there.
// UNAVAILABLE and OUTCOME_UNKNOWN are retried with the same request id, and
// with the record an OUTCOME_UNKNOWN named as Request.retry_of (the rules are
// FailoverClient::Call's; this file only chooses the nodes and attempts).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "node/net/tls.h"
#include "proto/api.pb.h"

namespace coffer::node {

// Which nodes may answer a request.
enum class Reach {
  // Data reads and writes: any member. With several addresses the cluster's
  // membership is learned and every member may be tried; with one address,
  // only that node (a caller who names one node means that node).
  kAnyMember,
  // Status requests (node status, cluster status): the given addresses, in
  // order, the next one when a node cannot be reached. Membership is not
  // learned: the caller asked these nodes.
  kGivenAddresses,
  // Lifecycle steps, cluster init and join tokens, which act on the node
  // that receives them: the first address only.
  kFirstAddress,
};

// The reach of `request` (see Reach).
Reach ReachOf(const pb::Request& request);

struct RetryPolicyOptions {
  // Client API addresses "host:port"; at least one.
  std::vector<std::string> addresses;
  // With several addresses: the nodes of this subgroup first. "" = none.
  std::string subgroup;
  TlsFiles tls;
  // Bounds each request: every attempt at every node and the membership
  // look-ups together (FailoverOptions::call_deadline; one attempt gets a
  // share of the time left, so a node that does not answer leaves time for
  // the others). Default: 10 s.
  std::chrono::milliseconds timeout{10000};
};

// Sends `*request` to the nodes its reach allows and returns the answering
// node's Response (which may itself report an error: StatusFromResponse), or
// the transport error. Attempts: 3 when one node may answer, else
// FailoverOptions' default. A write without a request id gets a random one.
// On return `*request` carries the request id used and, if an answer named
// the record of an unknown outcome, that record as retry_of: the flags a
// caller prints so that the retry is safe on any node.
StatusOr<pb::Response> CallWithRetries(const RetryPolicyOptions& options, pb::Request* request);

class FailoverClient;

// CallWithRetries for a caller that sends several requests (one CLI command:
// a write and the read that confirms its name, a locate and a get): the
// FailoverClients are kept across its requests, one per reach, so what one
// request learned serves the next: the membership, the node that answered
// last, a node that let its timeout pass (tried last: a frozen node costs
// the whole command one timeout, not one per request), and the connections
// reads reuse. Not thread-safe.
class RetrySession {
 public:
  RetrySession();
  ~RetrySession();
  RetrySession(const RetrySession&) = delete;
  RetrySession& operator=(const RetrySession&) = delete;

  // As CallWithRetries.
  StatusOr<pb::Response> Call(const RetryPolicyOptions& options, pb::Request* request);

 private:
  std::map<std::string, std::unique_ptr<FailoverClient>> clients_;
};

}  // namespace coffer::node
