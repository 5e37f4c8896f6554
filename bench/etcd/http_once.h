// One HTTP/1.1 request on a fresh connection with a deadline (Boost.Beast),
// for health checks and one-off calls; the load itself keeps connections
// (etcd_load.cc).
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace coffer::bench {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// UNAVAILABLE if the connection, the request or the answer fails or the
// deadline passes.
StatusOr<HttpAnswer> HttpOnce(const std::string& host, uint16_t port, const std::string& method,
                              const std::string& target, const std::string& body,
                              std::chrono::milliseconds timeout);

}  // namespace coffer::bench
