// Turns one client request into calls on the ObjectStore and one response.
// Synchronous and free of I/O so it is testable on its own; the node runs it
// on its store thread (the store's single owner).
#pragma once

#include <string>

#include "node/tls.h"
#include "proto/api.pb.h"
#include "storage/object_store.h"

namespace coffer::node {

struct NodeInfo {
  std::string node_name;
  std::string listen;
  int64_t started_micros = 0;
};

// Roles (certificate OU) allowed on the client API. Release 0.1 serves
// administrators only; endpoint certificates are refused with
// PERMISSION_DENIED until endpoint access through grants lands.
inline constexpr std::string_view kAdminRole = "admin";

// Never throws. The response carries a stable code name and message. Key
// material appears in the response only for a get with include_material.
pb::Response HandleRequest(storage::ObjectStore& store, const pb::Request& request,
                           const ClientIdentity& who, const NodeInfo& info,
                           storage::Durability durability, const Clock& clock);

// "OK" response, or the error of `status`.
pb::Response ResponseFor(const Status& status);

}  // namespace coffer::node
