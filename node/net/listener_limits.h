// The connection-slot settings of a node's config ([limits], [tls]) applied
// to the options of its three listeners, in one place (node.cc calls these).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

#include "node/config/config.h"
#include "node/net/client_server.h"
#include "node/net/http_endpoint.h"
#include "node/net/peer_links.h"

namespace coffer::node {

// The unauthenticated deadline: limits.unauthenticated_timeout_ms, or
// tls.handshake_timeout_ms if shorter.
inline std::chrono::milliseconds UnauthenticatedTimeout(const NodeConfig& config) {
  return std::chrono::milliseconds(
      std::min(config.limits.unauthenticated_timeout_ms, config.tls.handshake_timeout_ms));
}

inline SlotLimits UnauthenticatedSlots(const NodeConfig& config) {
  return SlotLimits{static_cast<size_t>(config.limits.max_unauthenticated_connections),
                    static_cast<size_t>(config.limits.max_unauthenticated_per_source)};
}

// The client API's slots, deadlines and log interval (the other options are
// the caller's).
inline void ApplyConnectionLimits(const NodeConfig& config, ServerOptions* options) {
  options->handshake_timeout = UnauthenticatedTimeout(config);
  options->idle_timeout = std::chrono::milliseconds(config.tls.idle_timeout_ms);
  options->max_connections = static_cast<size_t>(config.limits.max_connections);
  options->admin_reserved_connections =
      static_cast<size_t>(config.limits.admin_reserved_connections);
  options->unauthenticated = UnauthenticatedSlots(config);
  options->refusal_log_interval = std::chrono::milliseconds(config.limits.refusal_log_interval_ms);
}

// The peer listener's: its unauthenticated table and deadline (outgoing
// links keep tls.handshake_timeout_ms).
inline void ApplyConnectionLimits(const NodeConfig& config, PeerLinksOptions* options) {
  options->handshake_timeout = std::chrono::milliseconds(config.tls.handshake_timeout_ms);
  options->unauthenticated_timeout = UnauthenticatedTimeout(config);
  options->unauthenticated = UnauthenticatedSlots(config);
  options->refusal_log_interval = std::chrono::milliseconds(config.limits.refusal_log_interval_ms);
}

// The HTTP endpoint's.
inline void ApplyConnectionLimits(const NodeConfig& config, HttpEndpointOptions* options) {
  options->max_connections = static_cast<size_t>(config.limits.http_max_connections);
  options->max_connections_per_source =
      static_cast<size_t>(config.limits.http_max_connections_per_source);
  options->header_timeout = std::chrono::milliseconds(config.limits.http_header_timeout_ms);
  options->refusal_log_interval = std::chrono::milliseconds(config.limits.refusal_log_interval_ms);
}

}  // namespace coffer::node
