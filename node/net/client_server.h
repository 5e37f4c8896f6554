// ClientServer: the client API listener. Mutual TLS 1.3 on Boost.Asio; each
// connection carries length-prefixed frames (node/framing.h): the client
// sends pb::Requests, the node answers each with one pb::Response that
// echoes the request's call_id.
//
// Limits on every connection:
//  - until its TLS handshake has finished and the client certificate has
//    given an identity, a connection is unauthenticated: it must get there
//    within handshake_timeout, and it holds a place in a small table of its
//    own (`unauthenticated`, node/net/connection_slots.h: a total and a
//    per-source-address budget; a newcomer from a source at its budget
//    replaces that source's oldest handshake, a newcomer when the table is
//    full replaces the oldest handshake of the source holding the most), so
//    connections that never authenticate cannot hold the slots of those
//    that do;
//  - authenticated connections: at most max_connections; of those, the last
//    admin_reserved_connections only for `admin` certificates (another role
//    is refused once max_connections - admin_reserved_connections are
//    open), so an admin always gets a slot unless admins hold them all.
//    A connection refused there is closed at once;
//  - refusals, evictions and failed or timed-out handshakes are logged at
//    most once per refusal_log_interval (with the number suppressed);
//  - while no request is in flight, a whole request frame must arrive within
//    idle_timeout (of the handshake, or of the response that left nothing in
//    flight); a connection with requests in flight is not idle. Each
//    response must be written within idle_timeout;
//  - frames above max_frame_bytes, frames of length 0, streams that end
//    inside a frame and payloads that are not a pb::Request are protocol
//    errors: that connection is closed, the others are unaffected;
//  - several requests in flight per connection (pipelining): the next frame
//    is read while earlier requests are handled, up to max_requests_in_flight
//    requests whose response is not yet written; at that many the node stops
//    reading the connection until one is written (backpressure: TCP then
//    stalls the client, and a client cannot queue more work on the node).
//    Likewise once the requests in flight hold max_request_bytes_in_flight
//    bytes (from when each is read until its reply is produced; one request
//    is always read, so at most that plus one frame).
//    Requests of one connection are handled concurrently and their responses
//    written in completion order, not request order: the client matches them
//    by Request.call_id (echoed in Response.call_id), and a client that needs
//    one request to take effect before another waits for its response. A
//    client that sends one request at a time needs no call_id;
//  - a reply given after its connection closed is dropped.
// Request payloads are never logged: they can carry key material.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/limits.h"
#include "common/status.h"
#include "node/net/connection_slots.h"
#include "node/net/framing.h"
#include "node/net/tls.h"
#include "proto/api.pb.h"

namespace coffer::node {

// Sends the response to a request. Call it exactly once, from any thread;
// later calls are ignored. If it is destroyed without being called, the
// client gets an INTERNAL response. It never blocks.
using ReplyFn = std::function<void(pb::Response)>;

// Handles one request from an authenticated client. Called on the
// connection's strand, concurrently for different connections and for
// several requests of one connection, so it must be thread-safe; it must not block (hand long work
// to another thread and reply from there). Exceptions it throws are answered with INTERNAL.
using RequestHandler = std::function<void(pb::Request, ClientIdentity, ReplyFn)>;

struct ServerOptions {
  // Address to listen on: an IP literal or a resolvable host name.
  std::string listen_host = "127.0.0.1";
  // 0 picks an ephemeral port; see ClientServer::port().
  uint16_t port = 0;
  // Largest request (and response) payload. Default: 4 MiB.
  size_t max_frame_bytes = kDefaultMaxFrameBytes;
  // From accept to a verified client certificate. Default: 2 s.
  std::chrono::milliseconds handshake_timeout{2000};
  // Default: 5 min.
  std::chrono::milliseconds idle_timeout{300000};
  // Requests one connection may have in flight (handed to the handler,
  // response not yet written); positive. Default:
  // limits::kMaxRequestsInFlightPerConnection (64).
  size_t max_requests_in_flight = limits::kMaxRequestsInFlightPerConnection;
  // Bytes of requests one connection may have in flight (from when each is
  // read until its reply is produced): at this many the node reads no
  // further frame from it (one request is always read). Positive. Default:
  // limits::kMaxRequestBytesInFlightPerConnection (16 MiB).
  size_t max_request_bytes_in_flight = limits::kMaxRequestBytesInFlightPerConnection;
  // Authenticated connections. Default: 1024.
  size_t max_connections = 1024;
  // Of max_connections, held for `admin` certificates; less than
  // max_connections. Default: 16.
  size_t admin_reserved_connections = 16;
  // Connections whose handshake has not finished. Default: 128 in all, 16
  // per source address.
  SlotLimits unauthenticated;
  // Refusal log lines at most once per this. Default: 10 s.
  std::chrono::milliseconds refusal_log_interval{10000};
};

class ClientServer {
 public:
  // Binds, listens and starts accepting on `io_context`, which the caller
  // runs (one or more threads). `tls` must be a server context (see
  // MakeServerTlsContext); it and `io_context` must outlive the server and
  // every handler it has started. INVALID_ARGUMENT for bad options or an
  // unresolvable host, UNAVAILABLE if the address cannot be bound.
  static StatusOr<std::unique_ptr<ClientServer>> Start(boost::asio::io_context& io_context,
                                                       boost::asio::ssl::context& tls,
                                                       ServerOptions options,
                                                       RequestHandler handler);

  // Stops (see Stop()).
  ~ClientServer();
  ClientServer(const ClientServer&) = delete;
  ClientServer& operator=(const ClientServer&) = delete;

  // Closes the acceptor and every connection. Thread-safe and idempotent. It
  // returns at once; the closing runs on the io_context, after which the
  // server holds no more work there (so io_context::run returns once nothing
  // else is pending). Replies given after Stop are dropped.
  void Stop();

  // The bound port (the ephemeral one if options.port was 0).
  uint16_t port() const { return port_; }

  // Counters, thread-safe, for tests and metrics.
  // Connections taken (into the unauthenticated table).
  uint64_t connections_accepted() const;
  // Taken connections closed since, for any reason.
  uint64_t connections_closed() const;
  // Connections refused: the unauthenticated table had no place, or their
  // role's share of max_connections was full after the handshake.
  uint64_t connections_rejected() const;
  // Unauthenticated connections closed to make room for a newer one.
  uint64_t connections_evicted() const;
  // Authenticated connections open now.
  uint64_t authenticated_connections() const;
  // TLS handshakes that failed or timed out.
  uint64_t handshake_failures() const;
  // Refusal-type log lines written (rate-limited) and suppressed.
  uint64_t refusal_lines_written() const;
  uint64_t refusal_lines_suppressed() const;
  // Oversized, empty, truncated or unparsable frames.
  uint64_t protocol_errors() const;
  // Requests handed to the handler.
  uint64_t requests() const;

  // Shared with connections and pending handlers, so that they can outlive
  // the ClientServer object safely. Defined in client_server.cc.
  struct State;

 private:
  ClientServer(std::shared_ptr<State> state, uint16_t port);

  std::shared_ptr<State> state_;
  uint16_t port_;
};

}  // namespace coffer::node
