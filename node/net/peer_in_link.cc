// Incoming peer links: accept, TLS handshake, hello, admission, messages.
#include <spdlog/spdlog.h>

#include "node/net/accept_util.h"
#include "node/net/framing.h"
#include "node/net/peer_links_state.h"

namespace coffer::node::peer_links_internal {

using State = PeerLinks::State;

// One incoming connection: TLS handshake, hello, admission, then messages.
// Every member function runs on the connection's strand (the executor of its
// socket), except the constructor and the Post* functions (thread-safe).
class InLink : public std::enable_shared_from_this<InLink> {
 public:
  InLink(std::shared_ptr<State> state, tcp::socket socket, uint64_t connection_id,
         std::string remote)
      : id(connection_id),
        state_(std::move(state)),
        executor_(socket.get_executor()),
        stream_(std::move(socket), state_->server_tls),
        timer_(executor_),
        remote_(std::move(remote)) {
    error_code ec;
    // Small frames (the welcome) must not wait for the ACK of the session
    // tickets the server just sent (Nagle + delayed ACK: 40 ms).
    stream_.lowest_layer().set_option(tcp::no_delay(true), ec);
  }

  void PostStart() {
    boost::asio::post(executor_, [self = shared_from_this()] { self->BeginHandshake(); });
  }
  void PostClose(std::string reason) {
    boost::asio::post(executor_, [self = shared_from_this(), reason = std::move(reason)] {
      self->Close(reason);
    });
  }

  // This connection's place in state_->unauthenticated (ids grow).
  const uint64_t id;
  // The admitted peer's node id, 0 before admission. GUARDED_BY(state_->mu).
  uint32_t admitted_peer = 0;

 private:
  void BeginHandshake() {
    if (closed_) return;
    const PeerLinksOptions& options = state_->options;
    ArmTimer(std::min(options.handshake_timeout, options.unauthenticated_timeout),
             [](InLink& self) {
               self.state_->failed.fetch_add(1, std::memory_order_relaxed);
               self.state_->refusal_log.Warn("peer connection " + self.remote_ +
                                             ": link handshake timed out");
               self.Close("handshake timeout");
             });
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](error_code ec) { self->OnHandshake(ec); });
  }

  void OnHandshake(error_code ec) {
    if (closed_) return;
    if (ec) {
      state_->failed.fetch_add(1, std::memory_order_relaxed);
      state_->refusal_log.Warn("peer connection " + remote_ +
                               ": TLS handshake failed: " + ec.message());
      return Close("TLS handshake failed");
    }
    StatusOr<ClientIdentity> identity = PeerIdentity(stream_.native_handle());
    if (!identity.ok()) {
      state_->failed.fetch_add(1, std::memory_order_relaxed);
      state_->refusal_log.Warn("peer connection " + remote_ + ": " + identity.status().ToString());
      return Close("no usable identity");
    }
    identity_ = std::move(identity).value();
    if (!TakeAuthenticatedSlot()) return Close("no slot");
    AsyncReadFrame(stream_, in_, std::min(state_->options.max_frame_bytes, kMaxHandshakeFrameBytes),
                   [self = shared_from_this()](error_code ec, std::size_t) { self->OnHello(ec); });
  }

  void OnHello(error_code ec) {
    if (closed_) return;
    pb::PeerFrame frame;
    if (ec || !frame.ParseFromString(in_) || !frame.has_hello()) {
      state_->failed.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("peer connection {} ({}): no valid hello: {}", remote_, identity_.common_name,
                   ec ? ec.message() : "not a hello frame");
      return Close("no valid hello");
    }
    in_.clear();
    const pb::PeerHello& hello = frame.hello();
    Status verdict = Check(hello);
    if (!verdict.ok()) return Refuse(hello, verdict);

    std::vector<std::shared_ptr<InLink>> replaced;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->stopped) return Close("stopping");
      for (auto& [ptr, link] : state_->incoming) {
        if (ptr != this && link->admitted_peer == hello.node_id()) replaced.push_back(link);
      }
      admitted_peer = hello.node_id();
      state_->counters.try_emplace(admitted_peer);
    }
    peer_ = hello.node_id();
    for (std::shared_ptr<InLink>& link : replaced) {
      link->PostClose("replaced by a newer link from the same node");
    }
    spdlog::info("peer link from node {} ({}, {}, release {}) is up", peer_, remote_,
                 identity_.common_name, hello.release_version());
    pb::PeerFrame welcome;
    welcome.mutable_welcome()->set_node_id(state_->options.self_id);
    StatusOr<std::string> encoded = EncodePeerFrame(welcome, kMaxHandshakeFrameBytes);
    if (!encoded.ok()) return Close("cannot encode the welcome");
    out_ = std::move(encoded).value();
    AsyncWriteFrame(stream_, out_, [self = shared_from_this()](error_code ec, std::size_t) {
      if (self->closed_) return;
      if (ec) {
        spdlog::info("peer link from node {}: write failed: {}", self->peer_, ec.message());
        return self->Close("write failed");
      }
      self->out_.clear();
      self->ReadNext();
    });
  }

  // The built-in checks, then the AdmitFn.
  Status Check(const pb::PeerHello& hello) {
    const PeerLinksOptions& options = state_->options;
    if (hello.cluster_id() != options.cluster_id) {
      return InvalidArgument("other cluster: this node belongs to cluster '" + options.cluster_id +
                             "', the hello names '" + hello.cluster_id() + "'");
    }
    if (hello.expected_node_id() != options.self_id) {
      return InvalidArgument("this is node " + std::to_string(options.self_id) + ", not node " +
                             std::to_string(hello.expected_node_id()));
    }
    if (hello.protocol_version() < kMinPeerProtocolVersion ||
        hello.protocol_version() > kPeerProtocolVersion) {
      return Status(Code::kIncompatibleVersion, "peer link protocol version " +
                                                    std::to_string(hello.protocol_version()) +
                                                    " is not supported: this node speaks " +
                                                    std::to_string(kMinPeerProtocolVersion) +
                                                    " to " + std::to_string(kPeerProtocolVersion));
    }
    if (hello.node_id() == 0 || hello.node_id() == options.self_id) {
      return InvalidArgument("invalid node id " + std::to_string(hello.node_id()));
    }
    if (identity_.organizational_unit != "node") {
      return PermissionDenied("certificate '" + identity_.common_name + "' has role '" +
                              identity_.organizational_unit + "', not 'node'");
    }
    try {
      return state_->admit(hello, identity_);
    } catch (const std::exception& e) {
      spdlog::error("peer connection {}: admission check threw: {}", remote_, e.what());
    } catch (...) {
      spdlog::error("peer connection {}: admission check threw", remote_);
    }
    return Internal("admission check failed; see the node's log");
  }

  void Refuse(const pb::PeerHello& hello, const Status& verdict) {
    state_->refused.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("peer connection {} ({}) claiming node {}: refused: {}", remote_,
                 identity_.common_name, hello.node_id(), verdict.ToString());
    pb::PeerFrame frame;
    frame.mutable_refusal()->set_code(std::string(CodeName(verdict.code())));
    frame.mutable_refusal()->set_message(verdict.message());
    StatusOr<std::string> encoded = EncodePeerFrame(frame, kMaxHandshakeFrameBytes);
    if (!encoded.ok()) {
      // A huge message from the AdmitFn: send the code alone.
      frame.mutable_refusal()->clear_message();
      encoded = EncodePeerFrame(frame, kMaxHandshakeFrameBytes);
      if (!encoded.ok()) return Close("refused");
    }
    out_ = std::move(encoded).value();
    // Still bounded by the handshake timer.
    AsyncWriteFrame(stream_, out_, [self = shared_from_this()](error_code, std::size_t) {
      self->Close("refused");
    });
  }

  void ReadNext() {
    ArmTimer(state_->options.idle_timeout, [](InLink& self) {
      spdlog::info("peer link from node {}: nothing received within the idle timeout", self.peer_);
      self.Close("idle timeout");
    });
    AsyncReadFrame(stream_, in_, state_->options.max_frame_bytes,
                   [self = shared_from_this()](error_code ec, std::size_t) { self->OnFrame(ec); });
  }

  void OnFrame(error_code ec) {
    if (closed_) return;
    if (ec) {
      if (IsFrameProtocolError(ec)) {
        spdlog::warn("peer link from node {}: protocol error: {}; closing", peer_, ec.message());
      } else {
        spdlog::info("peer link from node {} closed: {}", peer_, ec.message());
      }
      return Close(ec.message());
    }
    pb::PeerFrame frame;
    bool parsed = frame.ParseFromString(in_);
    size_t size = in_.size();
    in_.clear();
    if (!parsed || !frame.has_message()) {
      // Size only: never the payload.
      spdlog::warn("peer link from node {}: {} frame of {} bytes; closing", peer_,
                   parsed ? "unexpected" : "malformed", size);
      return Close("bad frame");
    }
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->stopped) return Close("stopping");
      auto it = state_->counters.find(peer_);
      if (it != state_->counters.end()) ++it->second.received;
    }
    try {
      state_->deliver(peer_, std::move(*frame.mutable_message()));
    } catch (const std::exception& e) {
      spdlog::error("peer link from node {}: delivery threw: {}", peer_, e.what());
    } catch (...) {
      spdlog::error("peer link from node {}: delivery threw", peer_);
    }
    ReadNext();
  }

  void Close(std::string_view reason) {
    if (closed_) return;
    closed_ = true;
    DisarmTimer();
    SPDLOG_DEBUG("peer connection {} (node {}) closed: {}", remote_, peer_, reason);
    error_code ignored;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
    std::lock_guard<std::mutex> lock(state_->mu);
    admitted_peer = 0;
    if (authenticated_) {
      --state_->authenticated_incoming;
    } else {
      state_->unauthenticated.Remove(id);
    }
    state_->incoming.erase(this);
  }

  // Leaves the unauthenticated table for one of max_incoming_connections;
  // false (logged, rate-limited) if they are all taken.
  bool TakeAuthenticatedSlot() {
    size_t open = 0;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      // Evicted meanwhile: its close is on the way.
      if (!state_->unauthenticated.Contains(id)) return false;
      state_->unauthenticated.Remove(id);
      open = state_->authenticated_incoming;
      if (open < state_->options.max_incoming_connections) {
        ++state_->authenticated_incoming;
        authenticated_ = true;
        return true;
      }
    }
    state_->failed.fetch_add(1, std::memory_order_relaxed);
    state_->refusal_log.Warn("peer links: " + std::to_string(open) +
                             " authenticated incoming connections open (the maximum); refusing " +
                             remote_ + " (" + identity_.common_name + ")");
    return false;
  }

  template <typename OnExpiry>
  void ArmTimer(std::chrono::milliseconds timeout, OnExpiry on_expiry) {
    uint64_t generation = ++timer_generation_;
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this(), generation, on_expiry](error_code ec) {
      if (ec || self->closed_ || generation != self->timer_generation_) return;
      on_expiry(*self);
    });
  }

  void DisarmTimer() {
    ++timer_generation_;
    timer_.cancel();
  }

  const std::shared_ptr<State> state_;
  const boost::asio::any_io_executor executor_;
  ssl::stream<tcp::socket> stream_;
  boost::asio::steady_timer timer_;
  const std::string remote_;
  bool authenticated_ = false;
  ClientIdentity identity_;
  uint32_t peer_ = 0;  // the admitted peer; read on the strand without the lock
  std::string in_;
  std::string out_;
  uint64_t timer_generation_ = 0;
  bool closed_ = false;
};

uint32_t AdmittedPeer(const InLink& link) { return link.admitted_peer; }

void CloseInLink(const std::shared_ptr<InLink>& link, std::string reason) {
  link->PostClose(std::move(reason));
}

// Takes an incoming link into the unauthenticated table (see SlotTable),
// closing the connection it replaces, or refuses it.
void AcceptLinks(const std::shared_ptr<State>& state) {
  AcceptConnections(state, state->accept_retry_timer, "peer links", [state](tcp::socket socket) {
    auto [source, remote] = RemoteOf(socket);
    std::shared_ptr<InLink> link;
    std::shared_ptr<InLink> evicted;
    SlotTable::Admission admission;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->stopped) return;
      uint64_t id = state->next_incoming_id++;
      admission = state->unauthenticated.Admit(id, source);
      if (admission.admitted) {
        if (admission.evicted) {
          for (const auto& [ptr, open] : state->incoming) {
            if (open->id == *admission.evicted) evicted = open;
          }
        }
        link = std::make_shared<InLink>(state, std::move(socket), id, remote);
        state->incoming.emplace(link.get(), link);
      }
    }
    if (!link) {
      state->failed.fetch_add(1, std::memory_order_relaxed);
      state->refusal_log.Warn("peer links: refusing " + remote + ": unauthenticated connections " +
                              std::string(admission.reason));
      return RefuseConnection(socket);
    }
    if (evicted) {
      state->evicted.fetch_add(1, std::memory_order_relaxed);
      state->refusal_log.Warn("peer links: closing an unfinished handshake to make room for " +
                              remote + ": unauthenticated connections " +
                              std::string(admission.reason));
      evicted->PostClose("evicted by a newer unauthenticated connection");
    }
    link->PostStart();
  });
}

}  // namespace coffer::node::peer_links_internal
