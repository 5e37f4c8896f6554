// The maximum of every string and bytes field a client can set, checked once
// at the API boundary (issue 11: "every string and bytes field a client can
// set has a documented maximum, checked once at the API boundary").
//
// The limits are those of common/limits.h (docs/limits.md is the operator's
// table); this file only says which field has which. The node checks a
// request here before anything else looks at it (node.cc Serve, and
// HandleRequest for callers that do not go through a node), so no layer
// below stores, logs or replicates a value over its limit.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"
#include "proto/api.pb.h"

namespace coffer::node {

// OK, or INVALID_ARGUMENT naming the first field over its limit (as a path
// such as `write.endpoint_create.certificate_subject`), its size and the
// limit. Repeated and map fields hold at most limits::kMaxRepeatedPerRequest
// entries.
Status CheckInputLimits(const pb::Request& request);

// The byte limit of string or bytes field `full_name` (protobuf full name,
// e.g. "coffer.pb.Request.request_id"); 0 for a field without one. Every
// string and bytes field reachable from pb::Request has one
// (input_limits_test.cc walks them all).
size_t InputLimitOf(std::string_view full_name);

}  // namespace coffer::node
