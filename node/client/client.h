// CofferClient: a synchronous client of the client API (node/client_server.h)
// for the CLI and tests. One mutual-TLS 1.3 connection, one request at a time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "node/net/framing.h"
#include "proto/api.pb.h"

namespace coffer::node {

// The outcome a Response reports: OK for code "OK", otherwise the named code
// (INTERNAL for an unknown or missing name, which the message then names)
// with the response's message.
Status StatusFromResponse(const pb::Response& response);

// Not thread-safe: use one instance from one thread at a time. Every call
// blocks until its deadline at most (it runs a private io_context, and every
// step - name resolution of an IP literal, TCP connect, TLS handshake, send,
// receive - is an asynchronous operation cancelled at the deadline), so a
// node that accepts connections but never answers (SIGSTOPped: the kernel
// still completes TCP handshakes) costs the caller its timeout and no more.
// After a failed Call the connection is closed and later Calls return
// UNAVAILABLE: connect again.
class CofferClient {
 public:
  using Clock = std::chrono::steady_clock;

  // Connects to host:port and completes the TLS handshake within `timeout`.
  // `tls` must be a client context (MakeClientTlsContext) and outlive the
  // client. The server certificate must name `host` (IP literal: an IP
  // subjectAltName). UNAVAILABLE, naming the address, if it cannot connect
  // or the handshake fails or times out; INVALID_ARGUMENT for an empty host.
  static StatusOr<std::unique_ptr<CofferClient>> Connect(
      const std::string& host, uint16_t port, boost::asio::ssl::context& tls,
      std::chrono::milliseconds timeout, size_t max_frame_bytes = kDefaultMaxFrameBytes);
  // The same, by `deadline` (a deadline already passed: UNAVAILABLE, nothing
  // dialled).
  static StatusOr<std::unique_ptr<CofferClient>> ConnectBy(
      const std::string& host, uint16_t port, boost::asio::ssl::context& tls,
      Clock::time_point deadline, size_t max_frame_bytes = kDefaultMaxFrameBytes);

  ~CofferClient();
  CofferClient(const CofferClient&) = delete;
  CofferClient& operator=(const CofferClient&) = delete;

  // Sends `request` and waits up to `timeout` for its response. The returned
  // Response may itself report an error (StatusFromResponse). Errors:
  //  - UNAVAILABLE (naming the address): not connected, or the request could
  //    not be sent; the node did not act on it.
  //  - OUTCOME_UNKNOWN: the request was sent but no valid response arrived
  //    (timeout, connection lost, malformed response); retry with the same
  //    request_id on a new connection.
  //  - PERMISSION_DENIED: the node refused this client's certificate.
  //  - INVALID_ARGUMENT / RESOURCE_EXHAUSTED: the request is empty or larger
  //    than the frame limit; nothing was sent, the connection stays usable.
  StatusOr<pb::Response> Call(const pb::Request& request, std::chrono::milliseconds timeout);
  // The same, by `deadline` (shared with the Connect of the same attempt, so
  // connecting and the exchange together end by it). A deadline already
  // passed: UNAVAILABLE, nothing sent.
  StatusOr<pb::Response> CallBy(const pb::Request& request, Clock::time_point deadline);

  // Whether the last Connect or Call failed because its deadline passed (the
  // node said nothing), rather than a refusal or a closed connection.
  bool timed_out() const { return timed_out_; }

  // Closes the connection; Calls then return UNAVAILABLE. Idempotent.
  void Close();

  // "host:port" as given to Connect.
  const std::string& address() const { return address_; }

 private:
  CofferClient(boost::asio::ssl::context& tls, std::string address, size_t max_frame_bytes);

  Status DoConnect(const std::string& host, uint16_t port, Clock::time_point deadline);
  // Runs the io_context until its work is done or `deadline` passes; then
  // calls `cancel`, closes the socket, drains the aborted operations, sets
  // timed_out_ and returns false.
  bool RunUntil(Clock::time_point deadline, const std::function<void()>& cancel);

  boost::asio::io_context io_context_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  const std::string address_;
  const size_t max_frame_bytes_;
  bool connected_ = false;
  bool timed_out_ = false;
  std::string in_;
  std::string out_;
};

}  // namespace coffer::node
