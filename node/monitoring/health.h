// The one mapping from what a node reports (node state and write mode) to
// health: the HTTP code and verdict of a node's own /health page, and the
// verdict `coffer cluster status` shows for each member.
#pragma once

#include <string>

#include "proto/api.pb.h"

namespace coffer::node {

// /health: the HTTP code and verdict of a node's status, so a load balancer
// or probe can tell the conditions apart without parsing the body: 507
// storage-fault (the store cannot write: disk full or I/O error; before
// every other condition), 473 catching-up (PENDING or ENABLING), 200
// read-write, 429 read-only, 472 restricted, 503 unavailable (DISABLING,
// DISABLED, EXPIRED, or a mode it does not know).
struct Health {
  int code;
  const char* verdict;
};
Health HealthOf(const pb::NodeStatus& self);

// /readyz: ready only in read-write mode with a writable store.
bool IsReady(const pb::NodeStatus& self);
// The node reports a storage fault ("storage-fault" or "resuming").
bool StorageFaulted(const pb::NodeStatus& self);

// The health column of `cluster status` for member `m`, whose own status
// is `s` (nullptr if it did not answer; `unreachable`: it was asked and did
// not answer): "expired", "disabled" (DISABLING, DISABLED, or unavailable),
// "down", "unknown", "storage-fault", "catching-up", "restricted", "degraded" (a link is
// down) or "healthy" (read-write, or read-only on a read-only node).
std::string MemberHealth(const pb::MemberView& m, const pb::NodeStatus* s, bool unreachable);

}  // namespace coffer::node
