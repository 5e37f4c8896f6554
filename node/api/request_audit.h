// What the audit log records of one client request (node/audit/audit_log.h):
// who (certificate CN and OU), which operation, which objects, the result
// code and the request id. Never payloads, attribute values, tokens or key
// material: object ids are taken only from the fields listed in
// request_audit.cc (uuids, names, node ids).
#pragma once

#include "node/audit/audit_log.h"
#include "node/net/tls.h"
#include "proto/api.pb.h"

namespace coffer::node {

// Whether `request` answered with `response` gets an audit line: every
// audited kind (writes, joins, join tokens, snapshot chunks;
// request_kinds.h), every read of key material, and every refused or failed
// request.
bool IsAudited(const pb::Request& request, const pb::Response& response);

// The audit event of `request` from `who`, answered with `response`.
audit::AuditEvent AuditEventFor(const pb::Request& request, const ClientIdentity& who,
                                const pb::Response& response);

}  // namespace coffer::node
