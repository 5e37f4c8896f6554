// CofferClient: a synchronous client of the client API (node/client_server.h)
// for the CLI, tests and benchmarks. One mutual-TLS 1.3 connection: one
// request at a time (Call), or several in flight (Send / Receive).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

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
  //  - INVALID_STATE: calls sent with Send are still unanswered; nothing was
  //    sent, the connection stays usable (Receive them first).
  StatusOr<pb::Response> Call(const pb::Request& request, std::chrono::milliseconds timeout);
  // The same, by `deadline` (shared with the Connect of the same attempt, so
  // connecting and the exchange together end by it). A deadline already
  // passed: UNAVAILABLE, nothing sent.
  StatusOr<pb::Response> CallBy(const pb::Request& request, Clock::time_point deadline);

  // Pipelining: several requests in flight on the connection. Send writes a
  // request, tagged with a fresh call id (which replaces any call_id the
  // request holds), and returns that id without waiting for the answer;
  // Receive returns the next answer, in the order the node completes them
  // (not the order sent), with the id of the call it answers. The node
  // handles the requests of one connection concurrently: a request that
  // must take effect after another is sent once that one is answered.
  // Sending more than the node's limit in flight
  // (limits::kMaxRequestsInFlightPerConnection) is allowed: the node stops
  // reading until it has answered some, and Send keeps receiving (buffering
  // answers for Receive) while its request waits to be written.
  //
  // The rules of Call apply, per call:
  //  - Send: UNAVAILABLE (not connected, or the request could not be written
  //    whole by `deadline`: the node cannot act on it, but the connection is
  //    then closed, so the calls already sent end as below);
  //    INVALID_ARGUMENT / RESOURCE_EXHAUSTED (empty or too large: nothing
  //    sent, the connection stays usable).
  //  - Receive: INVALID_STATE if no call is outstanding and no answer is
  //    buffered. If no answer arrives by `deadline`, or the connection is
  //    lost or a response is malformed or answers no outstanding call, the
  //    connection is closed and Receive returns OUTCOME_UNKNOWN: every call
  //    listed by unanswered_calls() may or may not have taken effect; retry
  //    each with its request id on a new connection. Answers received
  //    before that are still returned first.
  // After such a failure the client stays closed (connect again).
  StatusOr<uint64_t> Send(const pb::Request& request, Clock::time_point deadline);
  struct Answer {
    uint64_t call_id = 0;
    pb::Response response;
  };
  StatusOr<Answer> Receive(Clock::time_point deadline);
  // Calls sent and not yet answered (after a failure: those whose outcome
  // is unknown), in no particular order.
  std::vector<uint64_t> unanswered_calls() const;
  // Calls sent and not yet returned by Receive (answered or not).
  size_t calls_in_flight() const { return outstanding_.size() + answers_.size(); }

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
  // Runs handlers until `done()` holds or `deadline` passes (false then;
  // nothing is cancelled). Leaves pending operations pending.
  bool RunWhile(Clock::time_point deadline, const std::function<bool()>& done);
  // Ends the connection after a pipelining failure: closes the socket and
  // delivers the aborted completions.
  void FailPipeline(Status why);
  // Starts reading answers if calls are outstanding and no read is pending.
  void ReadAnswers();
  void OnAnswerFrame(boost::system::error_code ec);

  boost::asio::io_context io_context_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  const std::string address_;
  const size_t max_frame_bytes_;
  bool connected_ = false;
  bool timed_out_ = false;
  std::string in_;
  std::string out_;

  // Pipelining state (Send / Receive).
  uint64_t next_call_id_ = 1;
  std::unordered_set<uint64_t> outstanding_;  // sent, not answered
  std::deque<Answer> answers_;                // answered, not yet received
  bool reading_answers_ = false;
  // Why the pipeline ended (OK while it runs).
  Status pipeline_failure_ = Status::Ok();
};

}  // namespace coffer::node
