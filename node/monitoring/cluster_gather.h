// Completing a cluster status with every member's own view: what `coffer
// cluster status` prints and what a node's /status page serves.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "proto/api.pb.h"

namespace coffer::node {

// Asks the member at client address `address` ("host:port") one request.
using AskMember =
    std::function<StatusOr<pb::Response>(const std::string& address, const pb::Request& request)>;

// `status` is one node's cluster status (its own view in `self`, and the
// membership). Asks every other member for its node status through `ask`
// and adds each answer to `status.nodes`; a member that does not answer, or
// answers with an error, is listed in `status.unreachable` with why. Members
// are asked one after the other: each ask should carry its own timeout.
void GatherMemberStatuses(pb::ClusterStatus& status, const AskMember& ask);

}  // namespace coffer::node
