// Which client requests need a gated feature (upgrade/features.h), checked
// against one gate snapshot taken when the request starts. Only client-facing
// entry points check gates; receive paths never do (the writer decides, and a
// receiver applies any record format its binary reads).
#pragma once

#include <optional>

#include "common/status.h"
#include "node/net/tls.h"
#include "proto/api.pb.h"
#include "upgrade/gate.h"

namespace coffer::node {

// The feature `request` needs, if it sets a gated field.
std::optional<upgrade::Feature> FeatureNeededBy(const pb::Request& request);

// OK if `request` needs no feature or `gate` has it active; else the gate's
// FEATURE_NOT_ACTIVE (feature, versions, what holds the version back).
Status CheckFeatureGates(const pb::Request& request, const upgrade::GateSnapshot& gate);

// OK unless `who` is an endpoint certificate and feature endpoint-access is
// not active: before it, every request of an endpoint certificate is
// FEATURE_NOT_ACTIVE (naming what holds the version back).
Status CheckCallerGate(const ClientIdentity& who, const upgrade::GateSnapshot& gate);

}  // namespace coffer::node
