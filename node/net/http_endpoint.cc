#include "node/net/http_endpoint.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "node/net/accept_util.h"
#include "node/net/connection_slots.h"

namespace coffer::node {

namespace http_endpoint_internal {
class HttpConnection;
}  // namespace http_endpoint_internal

namespace http = boost::beast::http;
using boost::asio::ip::tcp;
using boost::system::error_code;
using http_endpoint_internal::HttpConnection;

struct HttpEndpoint::State {
  State(boost::asio::io_context& io, HttpEndpointOptions opts, HttpHandler http_handler)
      : io_context(io),
        options(std::move(opts)),
        handler(std::move(http_handler)),
        acceptor(boost::asio::make_strand(io)),
        retry_timer(acceptor.get_executor()),
        refusal_log(options.refusal_log_interval),
        slots(SlotLimits{options.max_connections, options.max_connections_per_source}) {}

  boost::asio::io_context& io_context;
  const HttpEndpointOptions options;
  const HttpHandler handler;

  // Used only on the acceptor's strand (after Start has set it up).
  tcp::acceptor acceptor;
  boost::asio::steady_timer retry_timer;

  // Refused and evicted connections.
  RateLimitedLog refusal_log;

  std::mutex mu;
  bool stopped = false;  // GUARDED_BY(mu)
  // Open connections by id (growing); owning, so that a connection waiting
  // for its handler's response (no I/O pending) stays alive. GUARDED_BY(mu).
  std::unordered_map<uint64_t, std::shared_ptr<HttpConnection>> connections;
  uint64_t next_id = 1;  // GUARDED_BY(mu)
  // Every open connection; evictable while it waits for a complete request.
  // GUARDED_BY(mu).
  SlotTable slots;
};

namespace http_endpoint_internal {
namespace {

// A client that keeps sending after a final response is drained for at most
// this much before the connection is closed.
constexpr size_t kMaxDrainBytes = 1 << 20;

bool IsHttpParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// The path of a request target: the query string cut off, an absolute-form
// target ("http://host/p") reduced to its path. Empty if it is not a path.
std::string_view TargetPath(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && target.substr(0, scheme.size()) == scheme) {
      std::string_view rest = target.substr(scheme.size());
      size_t slash = rest.find_first_of("/?");
      if (slash == std::string_view::npos) return "/";
      target = rest.substr(slash);
      if (target.front() == '?') return "/";
      break;
    }
  }
  target = target.substr(0, target.find('?'));
  if (target.empty() || target.front() != '/') return {};
  return target;
}

}  // namespace

// One client connection. Every member function runs on the connection's
// strand (the executor of its socket), except the constructor, executor() and
// Start().
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(std::shared_ptr<HttpEndpoint::State> state, tcp::socket socket, uint64_t id,
                 std::string remote)
      : state_(std::move(state)),
        executor_(socket.get_executor()),
        socket_(std::move(socket)),
        timer_(executor_),
        id_(id),
        remote_(std::move(remote)) {
    error_code ec;
    // A response is one write: Nagle would only delay the next one on a
    // keep-alive connection until the client's delayed ACK.
    socket_.set_option(tcp::no_delay(true), ec);
  }

  const boost::asio::any_io_executor& executor() const { return executor_; }

  // Thread-safe: closes the connection on its strand.
  void PostClose(std::string reason) {
    boost::asio::post(executor_, [self = shared_from_this(), reason = std::move(reason)] {
      self->Close(reason);
    });
  }

  // Thread-safe: starts reading the first request on the connection's strand.
  void Start() {
    boost::asio::post(executor_, [self = shared_from_this()] { self->ReadRequest(); });
  }

  void Close(std::string_view reason) {
    if (closed_) return;
    closed_ = true;
    DisarmTimer();
    SPDLOG_DEBUG("http connection {} closed: {}", remote_, reason);
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->slots.Remove(id_);
    state_->connections.erase(id_);
  }

  // The handler's response to request number `request`.
  void OnReply(HttpReply reply, uint64_t request) {
    if (closed_ || !awaiting_reply_ || request != request_count_) return;
    awaiting_reply_ = false;
    DisarmTimer();
    if (reply.status < 200 || reply.status > 599) {
      spdlog::error("http {}: handler answered {} with status {}", remote_, path_, reply.status);
      return WriteResponse(500, "internal error: invalid status\n", keep_alive_);
    }
    if (reply.content_type.find_first_of("\r\n") != std::string::npos) {
      spdlog::error("http {}: handler answered {} with an invalid content type", remote_, path_);
      return WriteResponse(500, "internal error: invalid content type\n", keep_alive_);
    }
    WriteResponse(static_cast<unsigned>(reply.status), std::move(reply.body), keep_alive_,
                  std::move(reply.content_type));
  }

 private:
  enum class Phase { kRead, kHandler, kWrite, kLinger };

  // Delivers the handler's response once (later calls are ignored), or 500
  // if every copy of `respond` is dropped without a call. Holds the
  // connection weakly: a connection gone meanwhile is not kept alive.
  class ReplySlot {
   public:
    ReplySlot(std::weak_ptr<HttpConnection> connection, uint64_t request)
        : connection_(std::move(connection)), request_(request) {}
    ~ReplySlot() {
      if (!sent_.exchange(true)) {
        HttpReply reply;
        reply.status = 500;
        reply.body = "internal error: the request was dropped without a response\n";
        Post(std::move(reply));
      }
    }
    void Send(HttpReply reply) {
      if (sent_.exchange(true)) {
        SPDLOG_WARN("http handler responded more than once; extra response dropped");
        return;
      }
      Post(std::move(reply));
    }

   private:
    void Post(HttpReply reply) {
      std::shared_ptr<HttpConnection> connection = connection_.lock();
      if (!connection) return;
      boost::asio::post(connection->executor(),
                        [connection, reply = std::move(reply), request = request_]() mutable {
                          connection->OnReply(std::move(reply), request);
                        });
    }

    std::weak_ptr<HttpConnection> connection_;
    const uint64_t request_;
    std::atomic<bool> sent_{false};
  };

  void ReadRequest() {
    if (closed_) return;
    head_ = false;
    version_ = 11;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(state_->options.max_header_bytes));
    SetEvictable(true);
    ArmTimer(state_->options.header_timeout, Phase::kRead);
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->OnRequestHeader(ec); });
  }

  void OnRequestHeader(error_code ec) {
    if (closed_) return;
    DisarmTimer();
    SetEvictable(false);
    if (ec) {
      if (IsHttpParseError(ec)) {
        spdlog::info("http {}: bad request: {}", remote_, ec.message());
        return WriteResponse(400, "bad request: " + ec.message() + "\n", false);
      }
      return Close(ec.message());
    }
    const http::request<http::empty_body>& request = parser_->get();
    version_ = request.version();
    bool has_body = !parser_->is_done();
    bool keep_alive = request.keep_alive() && !has_body;
    http::verb method = request.method();
    if (method != http::verb::get && method != http::verb::head) {
      return WriteResponse(405, "method not allowed\n", keep_alive, "text/plain; charset=utf-8",
                           /*allow=*/true);
    }
    head_ = method == http::verb::head;
    if (has_body) return WriteResponse(400, "bad request: unexpected body\n", false);
    std::string_view path =
        TargetPath(std::string_view(request.target().data(), request.target().size()));
    if (path.empty()) return WriteResponse(400, "bad request: bad target\n", false);
    path_ = std::string(path);
    keep_alive_ = keep_alive;
    awaiting_reply_ = true;
    uint64_t number = ++request_count_;
    ArmTimer(state_->options.request_timeout, Phase::kHandler);
    auto slot = std::make_shared<ReplySlot>(weak_from_this(), number);
    std::function<void(HttpReply)> respond = [slot](HttpReply reply) {
      slot->Send(std::move(reply));
    };
    try {
      state_->handler(path_, std::move(respond));
    } catch (const std::exception& e) {
      spdlog::error("http {}: handler threw on {}: {}", remote_, path_, e.what());
      slot->Send(HttpReply{500, "text/plain; charset=utf-8", "internal error\n"});
    } catch (...) {
      spdlog::error("http {}: handler threw on {}", remote_, path_);
      slot->Send(HttpReply{500, "text/plain; charset=utf-8", "internal error\n"});
    }
  }

  // Writes one response; then reads the next request if `keep_alive`, else
  // closes gracefully.
  void WriteResponse(unsigned status, std::string body, bool keep_alive,
                     std::string content_type = "text/plain; charset=utf-8", bool allow = false) {
    response_.emplace();
    http::response<http::string_body>& response = *response_;
    response.version(version_);
    response.result(status);
    response.set(http::field::content_type, content_type);
    if (allow) response.set(http::field::allow, "GET, HEAD");
    if (status != 204 && status != 304) {
      response.content_length(body.size());
      if (!head_) response.body() = std::move(body);
    }
    response.keep_alive(keep_alive);
    keep_alive_after_write_ = keep_alive;
    ArmTimer(state_->options.request_timeout, Phase::kWrite);
    http::async_write(socket_, response, [self = shared_from_this()](error_code ec, std::size_t) {
      self->OnResponseWritten(ec);
    });
  }

  void OnResponseWritten(error_code ec) {
    if (closed_) return;
    DisarmTimer();
    response_.reset();
    if (ec) {
      SPDLOG_DEBUG("http {}: write failed: {}", remote_, ec.message());
      return Close("write failed");
    }
    if (keep_alive_after_write_) return ReadRequest();
    Linger();
  }

  // Half-closes and reads what the client still sends until it closes (or
  // request_timeout, or kMaxDrainBytes), so that closing with unread input
  // does not reset the connection before the client has read the response.
  void Linger() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    SetEvictable(true);  // answered: a newer connection may take its place
    ArmTimer(state_->options.request_timeout, Phase::kLinger);
    Drain();
  }

  void Drain() {
    socket_.async_read_some(boost::asio::buffer(drain_),
                            [self = shared_from_this()](error_code ec, std::size_t n) {
                              if (self->closed_) return;
                              self->drained_ += n;
                              if (ec) return self->Close("closed after the response");
                              if (self->drained_ > kMaxDrainBytes) {
                                return self->Close("client keeps sending after the response");
                              }
                              self->Drain();
                            });
  }

  // Whether a newer connection may take this one's slot (see SlotTable).
  void SetEvictable(bool evictable) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->slots.SetEvictable(id_, evictable);
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
      case Phase::kRead:
        SPDLOG_DEBUG("http {}: no complete request within the header timeout", remote_);
        return Close("request timeout");
      case Phase::kHandler:
        spdlog::warn("http {}: no response to {} within the request timeout", remote_, path_);
        awaiting_reply_ = false;
        return WriteResponse(503, "the node did not answer in time\n", false);
      case Phase::kWrite:
        SPDLOG_DEBUG("http {}: response not taken within the request timeout", remote_);
        return Close("write timeout");
      case Phase::kLinger:
        return Close("linger timeout");
    }
  }

  const std::shared_ptr<HttpEndpoint::State> state_;
  const boost::asio::any_io_executor executor_;
  tcp::socket socket_;
  boost::asio::steady_timer timer_;
  const uint64_t id_;
  const std::string remote_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::array<char, 4096> drain_{};
  size_t drained_ = 0;
  std::string path_;
  unsigned version_ = 11;
  bool head_ = false;
  bool keep_alive_ = false;
  bool keep_alive_after_write_ = false;
  uint64_t request_count_ = 0;
  uint64_t timer_generation_ = 0;
  bool closed_ = false;
  bool awaiting_reply_ = false;
};

}  // namespace http_endpoint_internal

namespace {

// Takes a connection if the slots allow (see SlotTable), closing the idle
// one it replaces, or refuses it.
void AcceptRequests(const std::shared_ptr<HttpEndpoint::State>& state) {
  AcceptConnections(state, state->retry_timer, "http", [state](tcp::socket socket) {
    auto [source, remote] = RemoteOf(socket);
    std::shared_ptr<HttpConnection> connection;
    std::shared_ptr<HttpConnection> evicted;
    SlotTable::Admission admission;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->stopped) return;
      uint64_t id = state->next_id++;
      admission = state->slots.Admit(id, source);
      if (admission.admitted) {
        if (admission.evicted) {
          auto it = state->connections.find(*admission.evicted);
          if (it != state->connections.end()) evicted = it->second;
        }
        connection = std::make_shared<HttpConnection>(state, std::move(socket), id, remote);
        state->connections.emplace(id, connection);
      }
    }
    if (!connection) {
      state->refusal_log.Warn("http: refusing " + remote + ": connections " +
                              std::string(admission.reason) + " and none is idle");
      return RefuseConnection(socket);
    }
    if (evicted) {
      state->refusal_log.Warn("http: closing an idle connection to make room for " + remote +
                              ": connections " + std::string(admission.reason));
      evicted->PostClose("replaced by a newer connection");
    }
    connection->Start();
  });
}

Status ValidateOptions(const HttpEndpointOptions& options, const HttpHandler& handler) {
  if (!handler) return InvalidArgument("http: no handler");
  if (options.max_connections == 0 || options.max_connections_per_source == 0) {
    return InvalidArgument("http: max_connections and max_connections_per_source must be positive");
  }
  if (options.request_timeout.count() <= 0 || options.header_timeout.count() <= 0) {
    return InvalidArgument("http: request_timeout and header_timeout must be positive");
  }
  if (options.refusal_log_interval.count() < 0) {
    return InvalidArgument("http: refusal_log_interval must not be negative");
  }
  if (options.max_header_bytes == 0 ||
      options.max_header_bytes > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgument("http: max_header_bytes must be between 1 and 2^32-1");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(boost::asio::io_context& io,
                                                            HttpEndpointOptions options,
                                                            HttpHandler handler) {
  COFFER_RETURN_IF_ERROR(ValidateOptions(options, handler));
  auto state = std::make_shared<HttpEndpoint::State>(io, std::move(options), std::move(handler));
  tcp::acceptor& acceptor = state->acceptor;
  COFFER_ASSIGN_OR_RETURN(tcp::endpoint bound, ListenOn(acceptor, state->options.listen_host,
                                                        state->options.port, "http"));
  spdlog::info("http endpoint listening on {}:{}", bound.address().to_string(), bound.port());
  boost::asio::post(acceptor.get_executor(), [state] { AcceptRequests(state); });
  return std::unique_ptr<HttpEndpoint>(new HttpEndpoint(std::move(state), bound.port()));
}

HttpEndpoint::HttpEndpoint(std::shared_ptr<State> state, uint16_t port)
    : state_(std::move(state)), port_(port) {}

HttpEndpoint::~HttpEndpoint() { Stop(); }

void HttpEndpoint::Stop() { StopListening(state_, "endpoint stopping"); }

}  // namespace coffer::node
