// HttpEndpoint: a small plain HTTP/1.1 server (Boost.Beast on Boost.Asio) for
// the node's status, health and metrics pages. Read-only and unauthenticated:
// listen on loopback or a monitoring network only.
//
// Per connection:
//  - GET and HEAD only. Other methods get 405 with "Allow: GET, HEAD"; a GET
//    or HEAD that carries a body gets 400; both close the connection.
//  - the handler gets the path of the request target without the query
//    string ("/metrics?x=1" -> "/metrics"), not percent-decoded. An
//    absolute-form target ("http://host/metrics") is reduced to its path.
//  - malformed requests and request headers above max_header_bytes get 400,
//    then the connection is closed.
//  - a whole request header must arrive within header_timeout of the
//    connection opening or of the previous response (so an idle keep-alive
//    connection is also closed after header_timeout); otherwise the
//    connection is closed without a response.
//  - the handler must respond within request_timeout, otherwise the client
//    gets 503 and the connection is closed (a late respond is ignored); a
//    response must be written within request_timeout.
//  - keep-alive: requests on one connection are answered one at a time, in
//    order (HTTP/1.0 clients and "Connection: close" close after the
//    response).
//  - every response carries Content-Length and Content-Type (HEAD: the length
//    of the body a GET would get, and no body).
//  - at most max_connections open connections, and max_connections_per_source
//    from one source address (node/net/connection_slots.h). A new connection
//    from a source at its limit replaces that source's oldest connection
//    still waiting for a complete request; when all max_connections are open
//    it replaces the oldest such connection of the source holding the most.
//    Without one to replace it is accepted and closed at once. So idle
//    connections cannot keep a client that sends its request out. Refusals
//    and evictions are logged at most once per refusal_log_interval.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace coffer::node {

struct HttpReply {
  // A final status, 200..599; anything else is answered with 500. 204 and 304
  // are sent without a body or Content-Length.
  int status = 200;
  // Must not contain CR or LF (answered with 500).
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Handles one GET or HEAD (for HEAD the body is computed and not sent); `path`
// is valid during the call only. Called on the network thread (the
// io_context), concurrently for different connections, so it must be
// thread-safe and must not block: hand long work to another thread and
// respond from there. `respond` may be called later
// from any thread, exactly once (later calls are ignored); it never blocks,
// and is a no-op once the connection is gone or the endpoint stopped. If
// every copy of `respond` is destroyed without being called, the client gets
// 500. Exceptions thrown by the handler are answered with 500.
using HttpHandler =
    std::function<void(std::string_view path, std::function<void(HttpReply)> respond)>;

struct HttpEndpointOptions {
  // Address to listen on: an IP literal or a resolvable host name.
  std::string listen_host = "127.0.0.1";
  // 0 picks an ephemeral port; see HttpEndpoint::port().
  uint16_t port = 0;
  // Default: 64.
  size_t max_connections = 64;
  // Open connections from one source address. Default: 8.
  size_t max_connections_per_source = 8;
  // A complete request header, after connecting or after the previous
  // response. Default: 2 s.
  std::chrono::milliseconds header_timeout{2000};
  // The handler's response, and writing it. Default: 5 s.
  std::chrono::milliseconds request_timeout{5000};
  // Refusal log lines at most once per this. Default: 10 s.
  std::chrono::milliseconds refusal_log_interval{10000};
  // Largest request line plus header fields. Default: 8 KiB.
  size_t max_header_bytes = 8192;
};

class HttpEndpoint {
 public:
  // Binds, listens and starts accepting on `io`, which the caller runs (one
  // or more threads); `io` must outlive the endpoint and every connection it
  // has started (run it until Stop's closing is done, or destroy it).
  // INVALID_ARGUMENT for bad options (zero limits or timeout, no handler) or
  // an unresolvable host, UNAVAILABLE if the address cannot be bound.
  static StatusOr<std::unique_ptr<HttpEndpoint>> Start(boost::asio::io_context& io,
                                                       HttpEndpointOptions options,
                                                       HttpHandler handler);

  // Stops (see Stop()).
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // The bound port (the ephemeral one if options.port was 0).
  uint16_t port() const { return port_; }

  // Closes the listener and every open connection, including idle keep-alive
  // ones and those waiting for their handler. Thread-safe and idempotent. It
  // returns at once; the closing runs on the io_context, after which the
  // endpoint holds no more work there. Responses given after Stop are
  // dropped.
  void Stop();

  // Shared with connections and pending responses, so that they can outlive
  // the HttpEndpoint object safely. Defined in http_endpoint.cc.
  struct State;

 private:
  HttpEndpoint(std::shared_ptr<State> state, uint16_t port);

  std::shared_ptr<State> state_;
  uint16_t port_;
};

}  // namespace coffer::node
