#include "node/net/peer_links.h"

#include <spdlog/spdlog.h>

#include "node/config/config.h"
#include "node/net/accept_util.h"
#include "node/net/framing.h"
#include "node/net/peer_links_state.h"

namespace coffer::node {

using peer_links_internal::AcceptLinks;
using peer_links_internal::AdmittedPeer;
using peer_links_internal::CloseInLink;
using peer_links_internal::EncodePeerFrame;
using peer_links_internal::error_code;
using peer_links_internal::InLink;
using peer_links_internal::kMaxBatchBytes;
using peer_links_internal::kMaxBatchFrames;
using peer_links_internal::kMaxHandshakeFrameBytes;
using peer_links_internal::OutLink;
using peer_links_internal::PeerCounters;
using peer_links_internal::RefusalText;
using peer_links_internal::tcp;
namespace ssl = boost::asio::ssl;
using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

namespace {

// Parses a peer's "host:port" or "[v6-literal]:port" (config's rules), the
// error naming it as a peer address.
StatusOr<HostPort> ParsePeerAddress(const std::string& address) {
  StatusOr<HostPort> parsed = ParseHostPort(address);
  if (!parsed.ok()) {
    return Status(parsed.status().code(), "peer " + parsed.status().message());
  }
  return parsed;
}

}  // namespace

namespace peer_links_internal {

using State = PeerLinks::State;

// The outgoing link to one peer: dials, says hello, writes queued messages,
// redials after failures. Every member function runs on the link's strand,
// except the constructor and the Post* functions (thread-safe).
class OutLink : public std::enable_shared_from_this<OutLink> {
 public:
  OutLink(std::shared_ptr<State> state, uint32_t peer, HostPort address)
      : state_(std::move(state)),
        peer_(peer),
        address_(std::move(address)),
        display_(address_.host + ":" + std::to_string(address_.port)),
        strand_(boost::asio::make_strand(state_->io_context)),
        resolver_(strand_),
        timer_(strand_),
        retry_timer_(strand_),
        backoff_(state_->options.reconnect_min) {}

  void PostDial() {
    boost::asio::post(strand_, [self = shared_from_this()] { self->Dial(); });
  }
  void PostWrite() {
    boost::asio::post(strand_, [self = shared_from_this()] { self->WriteNext(); });
  }
  void PostClose() {
    boost::asio::post(strand_, [self = shared_from_this()] { self->Close(); });
  }

  // Shared with Send. GUARDED_BY(state_->mu).
  std::deque<std::string> queue;
  // True while welcomed with no write in progress or posted: Send must post
  // a WriteNext. GUARDED_BY(state_->mu).
  bool writer_idle = false;
  // Welcomed on the current connection. GUARDED_BY(state_->mu).
  bool connected = false;

 private:
  // One connection attempt. Handlers hold it, so the stream and buffers stay
  // valid until every operation on them has completed.
  struct Connection {
    Connection(const Strand& strand, ssl::context& tls) : stream(strand, tls) {}
    ssl::stream<tcp::socket> stream;
    std::string in;
    std::vector<std::string> out;
  };
  using ConnectionPtr = std::shared_ptr<Connection>;

  // Whether `connection` is still the current attempt.
  bool Current(const ConnectionPtr& connection) const {
    return !closed_ && connection != nullptr && connection == connection_;
  }

  void Dial() {
    if (closed_ || connection_ != nullptr) return;
    auto connection = std::make_shared<Connection>(strand_, state_->client_tls);
    connection_ = connection;
    Status named = SetExpectedServerName(connection->stream.native_handle(), address_.host);
    if (!named.ok()) return Fail(connection, named);
    ArmTimer(state_->options.handshake_timeout, connection, "link handshake timed out");
    resolver_.async_resolve(
        address_.host, std::to_string(address_.port), tcp::resolver::numeric_service,
        [self = shared_from_this(), connection](error_code ec, tcp::resolver::results_type r) {
          self->OnResolved(connection, ec, std::move(r));
        });
  }

  void OnResolved(const ConnectionPtr& connection, error_code ec,
                  tcp::resolver::results_type endpoints) {
    if (!Current(connection)) return;
    if (ec) {
      return Fail(connection, Unavailable("cannot resolve " + display_ + ": " + ec.message()));
    }
    const std::string& source = state_->options.source_ip;
    if (source.empty()) {
      boost::asio::async_connect(
          connection->stream.lowest_layer(), endpoints,
          [self = shared_from_this(), connection](error_code ec, const tcp::endpoint&) {
            self->OnConnected(connection, ec);
          });
      return;
    }
    // A bound socket dials one endpoint (a range connect would reopen it and
    // lose the bind): the first one of the source's address family.
    error_code bad;
    auto from = boost::asio::ip::make_address(source, bad);
    if (bad) return Fail(connection, InvalidArgument("bad source IP " + source));
    for (const auto& entry : endpoints) {
      if (entry.endpoint().address().is_v4() != from.is_v4()) continue;
      auto& socket = connection->stream.lowest_layer();
      socket.open(entry.endpoint().protocol(), ec);
      if (!ec) socket.bind(tcp::endpoint(from, 0), ec);
      if (ec) {
        return Fail(connection, Unavailable("cannot dial " + display_ + " from " + source + ": " +
                                            ec.message()));
      }
      socket.async_connect(entry.endpoint(),
                           [self = shared_from_this(), connection](error_code ec) {
                             self->OnConnected(connection, ec);
                           });
      return;
    }
    Fail(connection, Unavailable(display_ + " has no address of the family of " + source));
  }

  void OnConnected(const ConnectionPtr& connection, error_code ec) {
    if (!Current(connection)) return;
    if (ec) {
      return Fail(connection, Unavailable("cannot connect to " + display_ + ": " + ec.message()));
    }
    // Messages are latency-sensitive (pair acknowledgements): no Nagle.
    error_code ignored;
    connection->stream.lowest_layer().set_option(tcp::no_delay(true), ignored);
    connection->stream.async_handshake(ssl::stream_base::client,
                                       [self = shared_from_this(), connection](error_code ec) {
                                         self->OnHandshake(connection, ec);
                                       });
  }

  void OnHandshake(const ConnectionPtr& connection, error_code ec) {
    if (!Current(connection)) return;
    if (ec) {
      return Fail(connection,
                  Unavailable("TLS handshake with " + display_ + " failed: " + ec.message()));
    }
    const PeerLinksOptions& options = state_->options;
    pb::PeerFrame frame;
    pb::PeerHello* hello = frame.mutable_hello();
    hello->set_cluster_id(options.cluster_id);
    hello->set_node_id(options.self_id);
    hello->set_expected_node_id(peer_);
    hello->set_release_version(options.release_version);
    hello->set_protocol_version(kPeerProtocolVersion);
    StatusOr<std::string> encoded = EncodePeerFrame(frame, kMaxHandshakeFrameBytes);
    if (!encoded.ok()) return Fail(connection, encoded.status());
    connection->out = {std::move(encoded).value()};
    AsyncWriteFrame(connection->stream, connection->out.front(),
                    [self = shared_from_this(), connection](error_code ec, std::size_t) {
                      self->OnHelloWritten(connection, ec);
                    });
  }

  void OnHelloWritten(const ConnectionPtr& connection, error_code ec) {
    if (!Current(connection)) return;
    if (ec) return Fail(connection, FrameErrorToStatus(ec).Annotate("sending the hello"));
    connection->out.clear();
    AsyncReadFrame(connection->stream, connection->in,
                   std::min(state_->options.max_frame_bytes, kMaxHandshakeFrameBytes),
                   [self = shared_from_this(), connection](error_code ec, std::size_t) {
                     self->OnAnswer(connection, ec);
                   });
  }

  void OnAnswer(const ConnectionPtr& connection, error_code ec) {
    if (!Current(connection)) return;
    if (ec) {
      // TLS 1.3: a server that rejects our certificate says so only now.
      return Fail(connection, FrameErrorToStatus(ec).Annotate("waiting for the welcome"));
    }
    pb::PeerFrame frame;
    if (!frame.ParseFromString(connection->in)) {
      return Fail(connection, InvalidArgument("malformed answer to the hello"));
    }
    connection->in.clear();
    if (frame.has_refusal()) return Fail(connection, Status(), RefusalText(frame.refusal()));
    if (!frame.has_welcome()) {
      return Fail(connection,
                  InvalidArgument("answer to the hello is neither welcome nor refusal"));
    }
    if (frame.welcome().node_id() != peer_) {
      return Fail(connection,
                  InvalidArgument("welcomed by node " + std::to_string(frame.welcome().node_id()) +
                                  " instead of node " + std::to_string(peer_)));
    }
    DisarmTimer();
    backoff_ = state_->options.reconnect_min;
    logged_error_.clear();
    spdlog::info("peer link to node {} at {} is up", peer_, display_);
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      connected = true;
      // The error belongs to an attempt that is over: a link that is up
      // shows none.
      auto it = state_->counters.find(peer_);
      if (it != state_->counters.end() && IsRegistered()) it->second.last_error.clear();
    }
    ready_ = true;
    // The peer sends nothing after the welcome: a read completes only when
    // the connection ends, which shows a restarted peer without waiting for
    // the next write to fail.
    AsyncReadFrame(connection->stream, connection->in, kMaxHandshakeFrameBytes,
                   [self = shared_from_this(), connection](error_code ec, std::size_t) {
                     if (!self->Current(connection)) return;
                     self->Fail(connection, ec ? FrameErrorToStatus(ec).Annotate("link closed")
                                               : InvalidArgument("unexpected frame from the peer"));
                   });
    StartNextWrite();
  }

  void WriteNext() {
    if (!ready_ || writing_) return;
    StartNextWrite();
  }

  // Writes the next batch of queued frames, or marks the writer idle.
  void StartNextWrite() {
    std::vector<std::string> batch;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      size_t bytes = 0;
      while (!queue.empty() && batch.size() < kMaxBatchFrames &&
             (batch.empty() || bytes + queue.front().size() <= kMaxBatchBytes)) {
        bytes += queue.front().size();
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      writer_idle = batch.empty();
    }
    if (batch.empty()) return;
    ConnectionPtr connection = connection_;
    connection->out = std::move(batch);
    std::vector<boost::asio::const_buffer> buffers;
    buffers.reserve(connection->out.size());
    for (const std::string& frame : connection->out) buffers.push_back(boost::asio::buffer(frame));
    writing_ = true;
    ArmTimer(state_->options.idle_timeout, connection, "write timed out");
    boost::asio::async_write(connection->stream, buffers,
                             [self = shared_from_this(), connection](error_code ec, std::size_t) {
                               self->OnWritten(connection, ec);
                             });
  }

  void OnWritten(const ConnectionPtr& connection, error_code ec) {
    if (!Current(connection)) return;
    writing_ = false;
    DisarmTimer();
    if (ec) {
      return Fail(connection, Unavailable("write to " + display_ + " failed: " + ec.message()));
    }
    uint64_t count = connection->out.size();
    connection->out.clear();
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      auto it = state_->counters.find(peer_);
      if (it != state_->counters.end() && IsRegistered()) it->second.sent += count;
    }
    StartNextWrite();
  }

  // Ends the current attempt and schedules the next. `refusal`, if not
  // empty, is the peer's answer ("CODE: message") and replaces `error`.
  void Fail(const ConnectionPtr& connection, const Status& error, std::string refusal = "") {
    if (!Current(connection)) return;
    std::string text = refusal.empty() ? error.ToString() : std::move(refusal);
    CloseConnection();
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      connected = false;
      writer_idle = false;
      auto it = state_->counters.find(peer_);
      if (it != state_->counters.end() && IsRegistered()) it->second.last_error = text;
    }
    // A peer that stays down fails the same way every attempt: log changes.
    if (text != logged_error_) {
      spdlog::info("peer link to node {} at {}: {}; retrying", peer_, display_, text);
      logged_error_ = text;
    } else {
      SPDLOG_DEBUG("peer link to node {} at {}: {}; retrying", peer_, display_, text);
    }
    std::chrono::milliseconds delay = backoff_;
    backoff_ = std::min(backoff_ * 2, state_->options.reconnect_max);
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->Dial();
    });
  }

  void CloseConnection() {
    ready_ = false;
    writing_ = false;
    DisarmTimer();
    resolver_.cancel();
    if (connection_ == nullptr) return;
    error_code ignored;
    connection_->stream.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    connection_->stream.lowest_layer().close(ignored);
    connection_ = nullptr;
  }

  void Close() {
    if (closed_) return;
    CloseConnection();
    closed_ = true;
    retry_timer_.cancel();
    std::lock_guard<std::mutex> lock(state_->mu);
    connected = false;
    writer_idle = false;
    queue.clear();
  }

  // Whether this link is still the peer's link (not replaced or removed).
  // REQUIRES(state_->mu).
  bool IsRegistered() const {
    auto it = state_->outgoing.find(peer_);
    return it != state_->outgoing.end() && it->second.get() == this;
  }

  // One timer bounds the current phase; a generation number discards an
  // expiry that was already queued when the phase ended.
  void ArmTimer(std::chrono::milliseconds timeout, const ConnectionPtr& connection,
                const char* what) {
    uint64_t generation = ++timer_generation_;
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this(), connection, generation, what](error_code ec) {
      if (ec || generation != self->timer_generation_ || !self->Current(connection)) return;
      self->Fail(connection, Unavailable(std::string(what)));
    });
  }

  void DisarmTimer() {
    ++timer_generation_;
    timer_.cancel();
  }

  const std::shared_ptr<State> state_;
  const uint32_t peer_;
  const HostPort address_;
  const std::string display_;
  const Strand strand_;
  tcp::resolver resolver_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer retry_timer_;
  ConnectionPtr connection_;
  std::chrono::milliseconds backoff_;
  std::string logged_error_;
  uint64_t timer_generation_ = 0;
  bool ready_ = false;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace peer_links_internal

namespace {

Status ValidateOptions(const PeerLinksOptions& options, const PeerLinks::AdmitFn& admit,
                       const PeerLinks::DeliverFn& deliver) {
  if (!admit || !deliver) return InvalidArgument("peer links: missing admit or deliver callback");
  if (options.listen_host.empty()) return InvalidArgument("peer links: empty listen_host");
  if (options.port == 0) return InvalidArgument("peer links: port must be between 1 and 65535");
  if (options.cluster_id.empty()) return InvalidArgument("peer links: empty cluster_id");
  if (options.self_id == 0) return InvalidArgument("peer links: self_id must be nonzero");
  if (options.release_version.empty()) return InvalidArgument("peer links: empty release_version");
  if (options.max_frame_bytes == 0 ||
      options.max_frame_bytes > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgument("peer links: max_frame_bytes must be between 1 and 2^32-1");
  }
  if (options.handshake_timeout.count() <= 0 || options.idle_timeout.count() <= 0 ||
      options.unauthenticated_timeout.count() <= 0) {
    return InvalidArgument("peer links: timeouts must be positive");
  }
  if (options.unauthenticated.max_total == 0 || options.unauthenticated.max_per_source == 0 ||
      options.refusal_log_interval.count() < 0) {
    return InvalidArgument("peer links: unauthenticated connection limits must be positive");
  }
  if (options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min) {
    return InvalidArgument("peer links: need 0 < reconnect_min <= reconnect_max");
  }
  if (options.max_queued_messages_per_peer == 0 || options.max_incoming_connections == 0) {
    return InvalidArgument("peer links: queue and connection limits must be positive");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<PeerLinks>> PeerLinks::Start(boost::asio::io_context& io_context,
                                                      ssl::context& server_tls,
                                                      ssl::context& client_tls,
                                                      PeerLinksOptions options, AdmitFn admit,
                                                      DeliverFn deliver) {
  COFFER_RETURN_IF_ERROR(ValidateOptions(options, admit, deliver));
  auto state = std::make_shared<State>(io_context, server_tls, client_tls, std::move(options),
                                       std::move(admit), std::move(deliver));
  tcp::acceptor& acceptor = state->acceptor;
  COFFER_ASSIGN_OR_RETURN(tcp::endpoint bound, ListenOn(acceptor, state->options.listen_host,
                                                        state->options.port, "peer links"));
  spdlog::info("peer links of node {} listening on {}:{}", state->options.self_id,
               bound.address().to_string(), bound.port());
  boost::asio::post(acceptor.get_executor(), [state] { AcceptLinks(state); });
  return std::unique_ptr<PeerLinks>(new PeerLinks(std::move(state), bound.port()));
}

PeerLinks::PeerLinks(std::shared_ptr<State> state, uint16_t port)
    : state_(std::move(state)), port_(port) {}

PeerLinks::~PeerLinks() { Stop(); }

void PeerLinks::SetPeers(std::map<uint32_t, std::string> addresses) {
  std::vector<std::shared_ptr<OutLink>> closing;
  std::vector<std::shared_ptr<InLink>> closing_incoming;
  std::vector<std::shared_ptr<OutLink>> starting;
  std::vector<Status> invalid;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->stopped) return;
    addresses.erase(state_->options.self_id);
    for (const auto& [peer, old_address] : state_->addresses) {
      auto it = addresses.find(peer);
      if (it != addresses.end() && it->second == old_address) continue;
      if (auto link = state_->outgoing.find(peer); link != state_->outgoing.end()) {
        closing.push_back(link->second);
        state_->outgoing.erase(link);
      }
      if (it == addresses.end()) {
        for (auto& [ptr, link] : state_->incoming) {
          if (AdmittedPeer(*link) == peer) closing_incoming.push_back(link);
        }
        state_->counters.erase(peer);
      }
    }
    for (const auto& [peer, address] : addresses) {
      auto old = state_->addresses.find(peer);
      if (old != state_->addresses.end() && old->second == address) continue;
      PeerCounters& counters = state_->counters[peer];
      StatusOr<HostPort> parsed = ParsePeerAddress(address);
      if (!parsed.ok()) {
        counters.last_error = parsed.status().ToString();
        invalid.push_back(parsed.status());
        continue;
      }
      auto link = std::make_shared<OutLink>(state_, peer, std::move(parsed).value());
      state_->outgoing[peer] = link;
      starting.push_back(std::move(link));
    }
    state_->addresses = std::move(addresses);
  }
  for (const Status& status : invalid) spdlog::error("peer links: {}", status.ToString());
  for (auto& link : closing) link->PostClose();
  for (auto& link : closing_incoming) CloseInLink(link, "peer removed");
  for (auto& link : starting) link->PostDial();
}

void PeerLinks::Send(uint32_t to, const pb::ReplicationMessage& message) {
  pb::PeerFrame frame;
  *frame.mutable_message() = message;
  StatusOr<std::string> encoded = EncodePeerFrame(frame, state_->options.max_frame_bytes);
  std::shared_ptr<OutLink> wake;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->stopped) return;
    auto counters = state_->counters.find(to);
    auto link = state_->outgoing.find(to);
    if (counters == state_->counters.end() || !state_->addresses.contains(to)) {
      state_->dropped_unknown.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (link == state_->outgoing.end() || !encoded.ok() ||
        link->second->queue.size() >= state_->options.max_queued_messages_per_peer) {
      ++counters->second.dropped;
    } else {
      link->second->queue.push_back(std::move(encoded).value());
      if (link->second->writer_idle) {
        link->second->writer_idle = false;
        wake = link->second;
      }
    }
  }
  if (!encoded.ok()) {
    // Size and reason only: never the payload.
    spdlog::warn("peer links: message to node {} dropped: {}", to, encoded.status().ToString());
  }
  if (wake) wake->PostWrite();
}

void PeerLinks::Stop() {
  std::vector<std::shared_ptr<OutLink>> outgoing;
  std::vector<std::shared_ptr<InLink>> incoming;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->stopped) return;
    state_->stopped = true;
    for (auto& [peer, link] : state_->outgoing) outgoing.push_back(link);
    for (auto& [ptr, link] : state_->incoming) incoming.push_back(link);
    // The links refer to the state: dropping them here breaks the cycle even
    // if the io_context never runs the closing handlers.
    state_->outgoing.clear();
    state_->incoming.clear();
  }
  boost::asio::post(state_->acceptor.get_executor(), [state = state_] {
    error_code ignored;
    state->acceptor.close(ignored);
    state->accept_retry_timer.cancel();
  });
  for (auto& link : outgoing) link->PostClose();
  for (auto& link : incoming) CloseInLink(link, "stopping");
}

std::vector<PeerLinks::LinkStatus> PeerLinks::LinkStatuses() const {
  std::vector<LinkStatus> result;
  std::lock_guard<std::mutex> lock(state_->mu);
  for (const auto& [peer, counters] : state_->counters) {
    LinkStatus status;
    status.peer = peer;
    auto link = state_->outgoing.find(peer);
    status.outgoing_connected = link != state_->outgoing.end() && link->second->connected;
    for (const auto& [ptr, in] : state_->incoming) {
      if (AdmittedPeer(*in) == peer) status.incoming_connected = true;
    }
    status.sent = counters.sent;
    status.received = counters.received;
    status.dropped = counters.dropped;
    status.last_error = counters.last_error;
    result.push_back(std::move(status));
  }
  return result;
}

uint64_t PeerLinks::refused_handshakes() const { return state_->refused.load(); }
uint64_t PeerLinks::failed_handshakes() const { return state_->failed.load(); }
uint64_t PeerLinks::dropped_unknown_peer() const { return state_->dropped_unknown.load(); }

}  // namespace coffer::node
