#include "node/client/retry_policy.h"

#include "common/ids.h"
#include "common/rng.h"
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
  if (options.addresses.empty()) return InvalidArgument("no node address given");
  if (request->has_write() && request->request_id().empty()) {
    SystemRng rng;
    request->set_request_id(Uuid::Generate(rng).str());
  }
  FailoverOptions failover{options.addresses, options.subgroup, options.tls, options.timeout};
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
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<FailoverClient> client,
                          FailoverClient::Create(std::move(failover)));
  StatusOr<pb::Response> response = client->Call(*request);
  if (response.ok() && response->has_outcome_record()) {
    *request->mutable_retry_of() = response->outcome_record();
  }
  return response;
}

}  // namespace coffer::node
