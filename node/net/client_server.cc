#include "node/net/client_server.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "node/net/accept_util.h"

namespace coffer::node {

namespace client_server_internal {
class Connection;
}  // namespace client_server_internal

using boost::asio::ip::tcp;
using boost::system::error_code;
using client_server_internal::Connection;

struct ClientServer::State {
  State(boost::asio::io_context& io, boost::asio::ssl::context& tls_context, ServerOptions opts,
        RequestHandler request_handler)
      : io_context(io),
        tls(tls_context),
        options(std::move(opts)),
        handler(std::move(request_handler)),
        acceptor(boost::asio::make_strand(io)),
        retry_timer(acceptor.get_executor()),
        refusal_log(options.refusal_log_interval),
        unauthenticated(options.unauthenticated) {}

  boost::asio::io_context& io_context;
  boost::asio::ssl::context& tls;
  const ServerOptions options;
  const RequestHandler handler;

  // Used only on the acceptor's strand (after Start has set it up).
  tcp::acceptor acceptor;
  boost::asio::steady_timer retry_timer;

  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> closed{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> evicted{0};
  std::atomic<uint64_t> handshake_failures{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> requests{0};

  // Refusals, evictions, failed and timed-out handshakes: what a flood of
  // strangers produces, so written at most once per refusal_log_interval.
  RateLimitedLog refusal_log;

  std::mutex mu;
  bool stopped = false;  // GUARDED_BY(mu)
  // Open connections by id (ids grow: a smaller one is older); owning, so
  // that a connection waiting for its handler's reply (no I/O pending) stays
  // alive. GUARDED_BY(mu).
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> connections;
  uint64_t next_id = 1;  // GUARDED_BY(mu)
  // Connections whose handshake has not finished. GUARDED_BY(mu).
  SlotTable unauthenticated;
  // Authenticated connections open, all roles and admins. GUARDED_BY(mu).
  size_t authenticated = 0;
  std::atomic<uint64_t> authenticated_open{0};
};

namespace client_server_internal {
namespace {

// Overwrites a buffer that may have held key material before reusing it.
void Wipe(std::string& buffer) {
  OPENSSL_cleanse(buffer.data(), buffer.size());
  buffer.clear();
}

pb::Response ErrorResponse(Code code, std::string message) {
  pb::Response response;
  response.set_code(std::string(CodeName(code)));
  response.set_message(std::move(message));
  return response;
}

}  // namespace

// One client connection. Every member function runs on the connection's
// strand (the executor of its socket), except the constructor, executor() and
// Start().
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ClientServer::State> state, tcp::socket socket, uint64_t id,
             std::string remote)
      : state_(std::move(state)),
        executor_(socket.get_executor()),
        stream_(std::move(socket), state_->tls),
        timer_(executor_),
        write_timer_(executor_),
        id_(id),
        remote_(std::move(remote)) {}

  const boost::asio::any_io_executor& executor() const { return executor_; }

  // Thread-safe: closes the connection on its strand.
  void PostClose(std::string reason) {
    boost::asio::post(executor_, [self = shared_from_this(), reason = std::move(reason)] {
      self->Close(reason);
    });
  }

  // Thread-safe: starts the handshake on the connection's strand.
  void Start() {
    boost::asio::post(executor_, [self = shared_from_this()] { self->BeginHandshake(); });
  }

  void Close(std::string_view reason) {
    if (closed_) return;
    closed_ = true;
    DisarmTimer();
    DisarmWriteTimer();
    SPDLOG_DEBUG("client connection {} closed: {}", remote_, reason);
    error_code ignored;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
    // A read or write still pending completes (aborted) later; its buffer
    // stays alive with this object, and the handlers see closed_. Only
    // buffers no operation uses are wiped here: in_ and the queued frames
    // behind the one being written.
    if (!reading_) Wipe(in_);
    for (size_t i = writing_ ? 1 : 0; i < out_queue_.size(); ++i) Wipe(out_queue_[i]);
    state_->closed.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(state_->mu);
    if (authenticated_) {
      --state_->authenticated;
      state_->authenticated_open.fetch_sub(1, std::memory_order_relaxed);
    } else {
      state_->unauthenticated.Remove(id_);
    }
    state_->connections.erase(id_);
  }

  // The reply to the request with `call_id`: queued for writing (responses
  // go out in completion order). Dropped if the connection has closed.
  void OnReply(uint64_t call_id, size_t request_bytes, pb::Response response) {
    request_bytes_in_flight_ -= std::min(request_bytes_in_flight_, request_bytes);
    if (closed_) return;
    if (response.code().empty()) {
      response = ErrorResponse(Code::kInternal, "the node produced a response without a code");
    }
    response.set_call_id(call_id);
    std::string payload;
    if (!response.SerializeToString(&payload)) {
      payload = ErrorResponse(Code::kInternal, "cannot serialize the response").SerializeAsString();
    }
    StatusOr<std::string> frame = EncodeFrame(payload, state_->options.max_frame_bytes);
    Wipe(payload);
    if (!frame.ok()) {
      pb::Response error =
          ErrorResponse(frame.status().code(), "response not sent: " + frame.status().message());
      error.set_call_id(call_id);
      frame = EncodeFrame(error.SerializeAsString(), state_->options.max_frame_bytes);
      if (!frame.ok()) return Close("cannot encode an error response");
    }
    out_queue_.push_back(std::move(frame).value());
    if (!writing_) WriteNext();
  }

 private:
  enum class Phase { kHandshake, kRead };

  // Sends the reply once (later calls are ignored), or INTERNAL if the
  // handler drops every copy of its ReplyFn without replying.
  class ReplySlot {
   public:
    ReplySlot(std::weak_ptr<Connection> connection, uint64_t call_id, size_t request_bytes)
        : connection_(std::move(connection)), call_id_(call_id), request_bytes_(request_bytes) {}
    ~ReplySlot() {
      if (!sent_.exchange(true)) {
        Post(ErrorResponse(Code::kInternal, "the request was dropped without a response"));
      }
    }
    void Send(pb::Response response) {
      if (sent_.exchange(true)) {
        SPDLOG_WARN("request handler replied more than once; extra reply dropped");
        return;
      }
      Post(std::move(response));
    }

   private:
    void Post(pb::Response response) {
      std::shared_ptr<Connection> connection = connection_.lock();
      if (!connection) return;
      boost::asio::post(connection->executor(),
                        [connection, call_id = call_id_, bytes = request_bytes_,
                         response = std::move(response)]() mutable {
                          connection->OnReply(call_id, bytes, std::move(response));
                        });
    }

    std::weak_ptr<Connection> connection_;
    const uint64_t call_id_;
    const size_t request_bytes_;
    std::atomic<bool> sent_{false};
  };

  void BeginHandshake() {
    if (closed_) return;
    ArmTimer(state_->options.handshake_timeout, Phase::kHandshake);
    stream_.async_handshake(boost::asio::ssl::stream_base::server,
                            [self = shared_from_this()](error_code ec) { self->OnHandshake(ec); });
  }

  void OnHandshake(error_code ec) {
    if (closed_) return;
    DisarmTimer();
    if (ec) {
      state_->handshake_failures.fetch_add(1, std::memory_order_relaxed);
      state_->refusal_log.Warn("client connection " + remote_ +
                               ": TLS handshake failed: " + ec.message());
      return Close("handshake failed");
    }
    StatusOr<ClientIdentity> identity = PeerIdentity(stream_.native_handle());
    if (!identity.ok()) {
      state_->handshake_failures.fetch_add(1, std::memory_order_relaxed);
      state_->refusal_log.Warn("client connection " + remote_ +
                               ": refused: " + identity.status().ToString());
      return Close("no usable identity");
    }
    identity_ = std::move(identity).value();
    if (!TakeAuthenticatedSlot()) return Close("no slot for its role");
    SPDLOG_DEBUG("client connection {}: authenticated as {} ({})", remote_, identity_.common_name,
                 identity_.organizational_unit);
    ReadRequest();
  }

  // Starts reading the next request frame, unless a read is pending or
  // max_requests_in_flight requests are unanswered (backpressure: reading
  // resumes when a response has been written). The idle timer runs only
  // while nothing is in flight: a connection waiting for its answers is not
  // idle.
  void ReadRequest() {
    if (closed_ || reading_ || in_flight_ >= state_->options.max_requests_in_flight) return;
    if (in_flight_ > 0 && request_bytes_in_flight_ >= state_->options.max_request_bytes_in_flight) {
      return;  // resumes when a response has been written
    }
    reading_ = true;
    if (in_flight_ == 0) ArmTimer(state_->options.idle_timeout, Phase::kRead);
    AsyncReadFrame(
        stream_, in_, state_->options.max_frame_bytes,
        [self = shared_from_this()](error_code ec, std::size_t) { self->OnRequestFrame(ec); });
  }

  void OnRequestFrame(error_code ec) {
    reading_ = false;
    if (closed_) return Wipe(in_);
    DisarmTimer();
    if (ec) {
      if (IsFrameProtocolError(ec)) {
        state_->protocol_errors.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("client connection {} ({}): protocol error: {}; closing", remote_,
                     identity_.common_name, ec.message());
      } else if (!IsEndOfStream(ec)) {
        spdlog::info("client connection {} ({}): read failed: {}", remote_, identity_.common_name,
                     ec.message());
      }
      return Close(ec.message());
    }
    pb::Request request;
    bool parsed = request.ParseFromString(in_);
    size_t size = in_.size();
    Wipe(in_);
    if (!parsed) {
      state_->protocol_errors.fetch_add(1, std::memory_order_relaxed);
      // Size only: the payload can hold key material.
      spdlog::warn("client connection {} ({}): malformed request of {} bytes; closing", remote_,
                   identity_.common_name, size);
      return Close("malformed request");
    }
    state_->requests.fetch_add(1, std::memory_order_relaxed);
    ++in_flight_;
    request_bytes_in_flight_ += size;
    auto slot = std::make_shared<ReplySlot>(weak_from_this(), request.call_id(), size);
    ReplyFn reply = [slot](pb::Response response) { slot->Send(std::move(response)); };
    try {
      state_->handler(std::move(request), identity_, std::move(reply));
    } catch (const std::exception& e) {
      spdlog::error("client connection {}: request handler threw: {}", remote_, e.what());
      slot->Send(ErrorResponse(Code::kInternal, "internal error; see the node's log"));
    } catch (...) {
      spdlog::error("client connection {}: request handler threw", remote_);
      slot->Send(ErrorResponse(Code::kInternal, "internal error; see the node's log"));
    }
    // The next request is read while this one is handled.
    ReadRequest();
  }

  // Writes the oldest queued response; each must be taken by the client
  // within idle_timeout.
  void WriteNext() {
    writing_ = true;
    ArmWriteTimer();
    AsyncWriteFrame(
        stream_, out_queue_.front(),
        [self = shared_from_this()](error_code ec, std::size_t) { self->OnResponseWritten(ec); });
  }

  void OnResponseWritten(error_code ec) {
    writing_ = false;
    Wipe(out_queue_.front());
    out_queue_.pop_front();
    if (closed_) return;
    DisarmWriteTimer();
    if (ec) {
      spdlog::info("client connection {} ({}): write failed: {}", remote_, identity_.common_name,
                   ec.message());
      return Close("write failed");
    }
    --in_flight_;
    if (!out_queue_.empty()) WriteNext();
    if (reading_) {
      // Nothing in flight any more: the pending read is now an idle wait.
      if (in_flight_ == 0) ArmTimer(state_->options.idle_timeout, Phase::kRead);
    } else {
      ReadRequest();
    }
  }

  // One timer serves the current phase. A generation number discards an
  // expiry that was already queued when the phase ended.
  void ArmTimer(std::chrono::milliseconds timeout, Phase phase) {
    uint64_t generation = ++timer_generation_;
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this(), generation, phase](error_code ec) {
      if (ec || self->closed_ || generation != self->timer_generation_) return;
      self->OnTimeout(phase);
    });
  }

  void DisarmTimer() {
    ++timer_generation_;
    timer_.cancel();
  }

  void OnTimeout(Phase phase) {
    switch (phase) {
      case Phase::kHandshake:
        state_->handshake_failures.fetch_add(1, std::memory_order_relaxed);
        state_->refusal_log.Warn(
            "client connection " + remote_ + ": no authenticated TLS handshake within " +
            std::to_string(state_->options.handshake_timeout.count()) + " ms; closed");
        return Close("handshake timeout");
      case Phase::kRead:
        spdlog::info("client connection {} ({}): no complete request within the idle timeout",
                     remote_, identity_.common_name);
        return Close("idle timeout");
    }
  }

  // The write timer: the response being written must be taken within
  // idle_timeout. Its own generation, like the read timer's.
  void ArmWriteTimer() {
    uint64_t generation = ++write_timer_generation_;
    write_timer_.expires_after(state_->options.idle_timeout);
    write_timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
      if (ec || self->closed_ || generation != self->write_timer_generation_) return;
      spdlog::info("client connection {} ({}): response not taken within the idle timeout",
                   self->remote_, self->identity_.common_name);
      self->Close("write timeout");
    });
  }

  void DisarmWriteTimer() {
    ++write_timer_generation_;
    write_timer_.cancel();
  }

  // Leaves the unauthenticated table for an authenticated slot of the
  // identity's role (see ServerOptions::admin_reserved_connections); false
  // (logged, rate-limited) if that role's share is full.
  bool TakeAuthenticatedSlot() {
    const ServerOptions& options = state_->options;
    const bool admin = identity_.organizational_unit == "admin";
    size_t limit = options.max_connections;
    if (!admin) limit -= std::min(options.admin_reserved_connections, limit);
    size_t open = 0;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      // Evicted meanwhile: its close is on the way.
      if (!state_->unauthenticated.Contains(id_)) return false;
      state_->unauthenticated.Remove(id_);
      open = state_->authenticated;
      if (open < limit) {
        ++state_->authenticated;
        state_->authenticated_open.fetch_add(1, std::memory_order_relaxed);
        authenticated_ = true;
        return true;
      }
    }
    state_->rejected.fetch_add(1, std::memory_order_relaxed);
    state_->refusal_log.Warn(
        "client API: " + std::to_string(open) + " authenticated connections open, the most a '" +
        identity_.organizational_unit + "' certificate may use; refusing " + remote_);
    return false;
  }

  const std::shared_ptr<ClientServer::State> state_;
  const boost::asio::any_io_executor executor_;
  boost::asio::ssl::stream<tcp::socket> stream_;
  // The handshake and read phases' timer.
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer write_timer_;
  const uint64_t id_;
  const std::string remote_;
  bool authenticated_ = false;
  ClientIdentity identity_;
  std::string in_;
  // Encoded responses waiting to be written; the front one is being written
  // while writing_.
  std::deque<std::string> out_queue_;
  uint64_t timer_generation_ = 0;
  uint64_t write_timer_generation_ = 0;
  bool closed_ = false;
  bool reading_ = false;
  bool writing_ = false;
  // Requests handed to the handler whose response is not yet written.
  size_t in_flight_ = 0;
  // Payload bytes of the requests read whose reply is not yet produced.
  size_t request_bytes_in_flight_ = 0;
};

}  // namespace client_server_internal

namespace {

using State = ClientServer::State;

// Takes a connection into the unauthenticated table (see SlotTable), closing
// the connection it replaces, or refuses it.
void AcceptClients(const std::shared_ptr<State>& state) {
  AcceptConnections(state, state->retry_timer, "client API", [state](tcp::socket socket) {
    auto [source, remote] = RemoteOf(socket);
    std::shared_ptr<Connection> connection;
    std::shared_ptr<Connection> evicted;
    SlotTable::Admission admission;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->stopped) return;
      uint64_t id = state->next_id++;
      admission = state->unauthenticated.Admit(id, source);
      if (admission.admitted) {
        if (admission.evicted) {
          auto it = state->connections.find(*admission.evicted);
          if (it != state->connections.end()) evicted = it->second;
        }
        connection = std::make_shared<Connection>(state, std::move(socket), id, remote);
        state->connections.emplace(id, connection);
        state->accepted.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (!connection) {
      state->rejected.fetch_add(1, std::memory_order_relaxed);
      state->refusal_log.Warn("client API: refusing " + remote + ": unauthenticated connections " +
                              std::string(admission.reason));
      return RefuseConnection(socket);
    }
    if (evicted) {
      state->evicted.fetch_add(1, std::memory_order_relaxed);
      state->refusal_log.Warn("client API: closing an unfinished handshake to make room for " +
                              remote + ": unauthenticated connections " +
                              std::string(admission.reason));
      evicted->PostClose("evicted by a newer unauthenticated connection");
    }
    connection->Start();
  });
}

Status ValidateOptions(const ServerOptions& options, const RequestHandler& handler) {
  if (!handler) return InvalidArgument("client API: no request handler");
  if (options.max_frame_bytes == 0 ||
      options.max_frame_bytes > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgument("client API: max_frame_bytes must be between 1 and 2^32-1");
  }
  if (options.max_connections == 0) {
    return InvalidArgument("client API: max_connections must be positive");
  }
  if (options.admin_reserved_connections >= options.max_connections) {
    return InvalidArgument(
        "client API: admin_reserved_connections must be less than max_connections");
  }
  if (options.unauthenticated.max_total == 0 || options.unauthenticated.max_per_source == 0) {
    return InvalidArgument("client API: unauthenticated connection limits must be positive");
  }
  if (options.refusal_log_interval.count() < 0) {
    return InvalidArgument("client API: refusal_log_interval must not be negative");
  }
  if (options.max_request_bytes_in_flight == 0) {
    return InvalidArgument("client API: max_request_bytes_in_flight must be positive");
  }
  if (options.max_requests_in_flight == 0) {
    return InvalidArgument("client API: max_requests_in_flight must be positive");
  }
  if (options.handshake_timeout.count() <= 0 || options.idle_timeout.count() <= 0) {
    return InvalidArgument("client API: timeouts must be positive");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<ClientServer>> ClientServer::Start(boost::asio::io_context& io_context,
                                                            boost::asio::ssl::context& tls,
                                                            ServerOptions options,
                                                            RequestHandler handler) {
  COFFER_RETURN_IF_ERROR(ValidateOptions(options, handler));
  auto state = std::make_shared<State>(io_context, tls, std::move(options), std::move(handler));
  tcp::acceptor& acceptor = state->acceptor;
  COFFER_ASSIGN_OR_RETURN(tcp::endpoint bound, ListenOn(acceptor, state->options.listen_host,
                                                        state->options.port, "client API"));
  spdlog::info("client API listening on {}:{}", bound.address().to_string(), bound.port());
  boost::asio::post(acceptor.get_executor(), [state] { AcceptClients(state); });
  return std::unique_ptr<ClientServer>(new ClientServer(std::move(state), bound.port()));
}

ClientServer::ClientServer(std::shared_ptr<State> state, uint16_t port)
    : state_(std::move(state)), port_(port) {}

ClientServer::~ClientServer() { Stop(); }

void ClientServer::Stop() { StopListening(state_, "server stopping"); }

uint64_t ClientServer::connections_accepted() const { return state_->accepted.load(); }
uint64_t ClientServer::connections_closed() const { return state_->closed.load(); }
uint64_t ClientServer::connections_rejected() const { return state_->rejected.load(); }
uint64_t ClientServer::connections_evicted() const { return state_->evicted.load(); }
uint64_t ClientServer::authenticated_connections() const {
  return state_->authenticated_open.load();
}
uint64_t ClientServer::refusal_lines_written() const { return state_->refusal_log.written(); }
uint64_t ClientServer::refusal_lines_suppressed() const {
  return state_->refusal_log.suppressed_total();
}
uint64_t ClientServer::handshake_failures() const { return state_->handshake_failures.load(); }
uint64_t ClientServer::protocol_errors() const { return state_->protocol_errors.load(); }
uint64_t ClientServer::requests() const { return state_->requests.load(); }

}  // namespace coffer::node
