#include "node/client/retry_policy.h"

#include "node/api/request_kinds.h"
#include "node/client/failover_client.h"

namespace coffer::node {
namespace {

// Attempts when a single node may answer: the first and two retries.
constexpr int kSingleNodeAttempts = 3;

}  // namespace

Reach ReachOf(const pb::Request& request) {
  if (AnyMemberMayServe(request)) return Reach::kAnyMember;
  if (request.has_node_status() || request.has_cluster_status()) return Reach::kGivenAddresses;
  return Reach::kFirstAddress;
}

StatusOr<pb::Response> CallWithRetries(const RetryPolicyOptions& options, pb::Request* request) {
  RetrySession session;
  return session.Call(options, request);
}

RetrySession::RetrySession() = default;
RetrySession::~RetrySession() = default;

StatusOr<pb::Response> RetrySession::Call(const RetryPolicyOptions& options, pb::Request* request) {
  if (options.addresses.empty()) return InvalidArgument("no node address given");
  if (request->has_write() && request->request_id().empty()) {
    request->set_request_id(NewRequestId());
  }
  FailoverOptions failover{options.addresses, options.subgroup, options.tls, options.timeout};
  // The timeout bounds the whole request, not each attempt: a frozen first
  // node leaves the others time to answer (FailoverOptions::call_deadline).
  failover.call_deadline = options.timeout;
  switch (ReachOf(*request)) {
    case Reach::kAnyMember:
      failover.discover_members = options.addresses.size() > 1;
      break;
    case Reach::kGivenAddresses:
      failover.discover_members = false;
      break;
    case Reach::kFirstAddress:
      failover.addresses.resize(1);
      failover.discover_members = false;
      break;
  }
  if (failover.addresses.size() == 1) failover.max_attempts = kSingleNodeAttempts;
  // One client per distinct set of options (the reach decides them).
  std::string key =
      failover.subgroup + "|" + failover.tls.ca_file + "|" + failover.tls.cert_file + "|" +
      failover.tls.key_file + "|" + std::to_string(failover.call_timeout.count()) + "|" +
      std::to_string(failover.max_attempts) + "|" + (failover.discover_members ? "d" : "-");
  for (const std::string& address : failover.addresses) key += "|" + address;
  std::unique_ptr<FailoverClient>& client = clients_[key];
  if (!client) {
    StatusOr<std::unique_ptr<FailoverClient>> created = FailoverClient::Create(std::move(failover));
    if (!created.ok()) {
      clients_.erase(key);
      return created.status();
    }
    client = std::move(created).value();
  }
  StatusOr<pb::Response> response = client->Call(*request);
  if (response.ok() && response->has_outcome_record()) {
    *request->mutable_retry_of() = response->outcome_record();
  }
  return response;
}

}  // namespace coffer::node
