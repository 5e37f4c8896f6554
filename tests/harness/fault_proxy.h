// A userspace TCP fault-injecting proxy for integration tests. The test kernel
// has no tc netem, so tests cut the links between real node processes by
// pointing them at a FaultProxy instead of at each other.
//
// Contract:
//  - Start() listens on listen_host:0 (kernel-chosen port, see port()) and
//    forwards every accepted connection to target_host:target_port. The proxy
//    is plain TCP: it never looks inside the bytes (TLS passes through).
//  - One thread runs one asio io_context; every connection and mode change is
//    handled on it. Each direction of a connection has one bounded 64 KiB
//    buffer: the proxy reads the next chunk only after the previous one was
//    written (or dropped), so a slow reader pushes back on the writer.
//  - Modes (SetMode, thread-safe; it returns once the io thread has applied
//    the mode to every open connection):
//     kPass      forwards bytes both ways. A half-close (EOF) on one side is
//                forwarded as a shutdown(send) on the other; the connection
//                is closed when both directions have ended, when a write
//                fails, or when the target cannot be reached.
//     kBlackhole a network partition: open connections stay open and new
//                ones are accepted, but nothing is forwarded either way.
//                Bytes read in this mode are DROPPED, not held (this models
//                packet loss: TLS over the link fails once it heals and the
//                node redials). The peers see silence, never a reset; EOFs
//                are held and forwarded only once the mode is kPass again.
//                A connection accepted in this mode does not reach the target
//                until the mode is kPass again; then it is dialed.
//     kReject    closes every open connection (the peers see EOF or a reset)
//                and accepts and closes every new connection at once.
//    kBlackhole -> kPass resumes forwarding on the SAME connections. A chunk
//    whose write has already started when the mode changes still completes
//    (like packets already on the wire); a chunk waiting out its delay (see
//    SetDelay) or read after the change is dropped.
//  - SetModeFor(ip, mode) (thread-safe, returns once applied) gives the
//    connections coming FROM `ip` (the client's address; nodes bind their
//    outgoing peer links to their peer_listen IP) a mode of their own, which
//    wins over SetMode; SetModeFor(ip, std::nullopt) drops it. With nodes on
//    127.0.0.1, .2, .3 this cuts one link and leaves the others up.
//  - SetDelay(d) (thread-safe) holds every chunk for d before forwarding it;
//    as reads wait for writes this also caps the throughput. Default 0.
//  - forwarded_bytes(): bytes written to either side. dropped_bytes(): bytes
//    read and discarded in kBlackhole. open_connections(): accepted
//    connections not yet closed.
//  - The destructor closes the listener and every connection and joins the
//    thread; it does not wait on the peers. Do not call SetMode concurrently
//    with destruction.
#pragma once

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace coffer::integration {

class FaultProxy {
 public:
  enum class Mode {
    kPass,       // forward bytes both ways
    kBlackhole,  // keep connections open, accept new ones, drop every byte read
    kReject,     // close every open connection, accept and close new ones at once
  };

  static constexpr size_t kChunkBytes = 64 * 1024;

  // Returns nullptr if a host does not resolve or the listener cannot bind.
  static std::unique_ptr<FaultProxy> Start(const std::string& listen_host,
                                           const std::string& target_host, uint16_t target_port) {
    std::unique_ptr<FaultProxy> proxy(new FaultProxy());
    if (!proxy->Init(listen_host, target_host, target_port)) return nullptr;
    proxy->StartAccept();
    proxy->thread_ = std::thread([p = proxy.get()] { p->io_.run(); });
    return proxy;
  }

  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  ~FaultProxy() {
    if (!thread_.joinable()) return;  // Start() failed before the thread ran
    boost::asio::post(io_, [this] {
      stopping_ = true;
      boost::system::error_code ec;
      acceptor_.close(ec);
      retry_timer_.cancel();
      CloseAll();
    });
    work_.reset();
    // Every socket and timer is closed or cancelled above and no handler starts
    // new work once stopping_ is set, so run() returns after the aborted
    // handlers have run.
    thread_.join();
  }

  uint16_t port() const { return port_; }

  void SetMode(Mode mode) {
    OnIoThread([this, mode] {
      mode_ = mode;
      ReapplyModes();
    });
  }

  void SetModeFor(const std::string& source_ip, std::optional<Mode> mode) {
    OnIoThread([this, source_ip, mode] {
      if (mode) {
        modes_by_source_[source_ip] = *mode;
      } else {
        modes_by_source_.erase(source_ip);
      }
      ReapplyModes();
    });
  }

  void SetDelay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }

  uint64_t forwarded_bytes() const { return forwarded_bytes_.load(); }
  uint64_t dropped_bytes() const { return dropped_bytes_.load(); }
  size_t open_connections() const { return open_connections_.load(); }

 private:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;

  // One direction of a connection: src -> dst through one bounded buffer.
  struct Pipe {
    Pipe(boost::asio::io_context& io, tcp::socket* from, tcp::socket* to)
        : src(from), dst(to), timer(io), buf(new char[kChunkBytes]) {}
    tcp::socket* src;
    tcp::socket* dst;
    boost::asio::steady_timer timer;  // the per-chunk delay
    std::unique_ptr<char[]> buf;
    size_t pending = 0;          // bytes read and not yet written or dropped
    bool parked = false;         // pending waits for the target to be dialed
    bool eof = false;            // src ended (EOF or read error)
    bool shutdown_sent = false;  // the end was forwarded to dst
  };

  enum class Upstream { kNone, kConnecting, kConnected };

  struct Session {
    Session(boost::asio::io_context& io, uint64_t session_id, tcp::socket accepted,
            std::string source_ip)
        : id(session_id),
          source(std::move(source_ip)),
          client(std::move(accepted)),
          upstream(io),
          up(io, &client, &upstream),
          down(io, &upstream, &client) {}
    uint64_t id;
    std::string source;  // the client's IP
    tcp::socket client;
    tcp::socket upstream;
    Pipe up;    // client -> target
    Pipe down;  // target -> client
    Upstream state = Upstream::kNone;
    bool closed = false;
  };
  using SessionPtr = std::shared_ptr<Session>;

  FaultProxy() : acceptor_(io_), retry_timer_(io_), work_(boost::asio::make_work_guard(io_)) {}

  bool Init(const std::string& listen_host, const std::string& target_host, uint16_t target_port) {
    error_code ec;
    tcp::resolver resolver(io_);
    auto targets = resolver.resolve(target_host, std::to_string(target_port), ec);
    if (ec) return false;
    for (const auto& entry : targets) targets_.push_back(entry.endpoint());
    auto listens = resolver.resolve(listen_host, "0", ec);
    if (ec || listens.empty()) return false;
    tcp::endpoint listen = listens.begin()->endpoint();
    acceptor_.open(listen.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(listen, ec);
    if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) return false;
    port_ = acceptor_.local_endpoint(ec).port();
    return !ec && !targets_.empty();
  }

  void StartAccept() {
    acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
      if (stopping_) return;
      if (ec) {
        // E.g. EMFILE: try again shortly rather than spin.
        retry_timer_.expires_after(std::chrono::milliseconds(10));
        retry_timer_.async_wait([this](const error_code&) {
          if (!stopping_) StartAccept();
        });
        return;
      }
      OnAccept(std::move(socket));
      StartAccept();
    });
  }

  // Runs `apply` on the io thread and returns once it has run.
  template <typename Fn>
  void OnIoThread(Fn apply) {
    if (io_.get_executor().running_in_this_thread()) {
      apply();
      return;
    }
    std::promise<void> applied;
    boost::asio::post(io_, [&apply, &applied] {
      apply();
      applied.set_value();
    });
    applied.get_future().wait();
  }

  // The mode for connections from `source` (io thread).
  Mode ModeOf(const std::string& source) const {
    auto it = modes_by_source_.find(source);
    return it != modes_by_source_.end() ? it->second : mode_.load();
  }
  Mode ModeOf(const Session& s) const { return ModeOf(s.source); }

  void OnAccept(tcp::socket socket) {
    error_code ignored;
    auto remote = socket.remote_endpoint(ignored);
    std::string source = ignored ? std::string() : remote.address().to_string();
    if (ModeOf(source) == Mode::kReject) {
      socket.close(ignored);
      return;
    }
    socket.set_option(tcp::no_delay(true), ignored);
    auto s = std::make_shared<Session>(io_, next_id_++, std::move(socket), std::move(source));
    sessions_.emplace(s->id, s);
    open_connections_ = sessions_.size();
    if (ModeOf(*s) == Mode::kPass) Connect(s);
    StartRead(s, s->up);  // in kBlackhole this drops; in kPass the first chunk waits for the dial
  }

  void Connect(const SessionPtr& s) {
    s->state = Upstream::kConnecting;
    boost::asio::async_connect(s->upstream, targets_,
                               [this, s](const error_code& ec, const tcp::endpoint&) {
                                 if (s->closed) return;
                                 if (ec) {
                                   Close(s);  // target unreachable: the client sees the link die
                                   return;
                                 }
                                 error_code ignored;
                                 s->upstream.set_option(tcp::no_delay(true), ignored);
                                 s->state = Upstream::kConnected;
                                 StartRead(s, s->down);
                                 if (s->up.parked) {  // the first chunk came before the dial ended
                                   s->up.parked = false;
                                   Forward(s, s->up);
                                 }
                                 if (s->up.eof) ForwardEnd(s, s->up);
                               });
  }

  void StartRead(const SessionPtr& s, Pipe& p) {
    if (s->closed || p.eof) return;
    p.src->async_read_some(boost::asio::buffer(p.buf.get(), kChunkBytes),
                           [this, s, &p](const error_code& ec, size_t n) {
                             if (s->closed) return;
                             if (ec) {
                               p.eof = true;  // EOF or error: end this direction
                               ForwardEnd(s, p);
                               return;
                             }
                             if (ModeOf(*s) != Mode::kPass) {
                               dropped_bytes_ += n;
                               StartRead(s, p);
                               return;
                             }
                             p.pending = n;
                             auto delay = std::chrono::milliseconds(delay_ms_.load());
                             if (delay.count() <= 0) {
                               Forward(s, p);
                               return;
                             }
                             p.timer.expires_after(delay);
                             p.timer.async_wait([this, s, &p](const error_code&) {
                               if (!s->closed) Forward(s, p);
                             });
                           });
  }

  // Writes the pending chunk, or drops it if the mode is no longer kPass. A
  // chunk read before the target is dialed stays parked until Connect ends.
  void Forward(const SessionPtr& s, Pipe& p) {
    if (ModeOf(*s) != Mode::kPass) {
      dropped_bytes_ += p.pending;
      p.pending = 0;
      StartRead(s, p);
      return;
    }
    if (s->state != Upstream::kConnected) {
      p.parked = true;  // only the client side reads before the dial ends
      return;
    }
    boost::asio::async_write(*p.dst, boost::asio::buffer(p.buf.get(), p.pending),
                             [this, s, &p](const error_code& ec, size_t n) {
                               if (s->closed) return;
                               if (ec) {
                                 Close(s);
                                 return;
                               }
                               forwarded_bytes_ += n;
                               p.pending = 0;
                               StartRead(s, p);
                             });
  }

  // Forwards the end of p's source as shutdown(send) on its destination; held
  // while the mode is not kPass or the target is not dialed.
  void ForwardEnd(const SessionPtr& s, Pipe& p) {
    if (s->closed || !p.eof || p.shutdown_sent) return;
    if (ModeOf(*s) != Mode::kPass || s->state != Upstream::kConnected) return;
    error_code ignored;
    p.dst->shutdown(tcp::socket::shutdown_send, ignored);
    p.shutdown_sent = true;
    if (s->up.shutdown_sent && s->down.shutdown_sent) Close(s);
  }

  // Brings every open connection in line with its mode, after a change.
  void ReapplyModes() {
    if (stopping_) return;
    std::vector<SessionPtr> all;
    for (const auto& entry : sessions_) all.push_back(entry.second);
    for (const auto& s : all) {
      Mode mode = ModeOf(*s);
      if (mode == Mode::kReject) {
        Close(s);
      } else if (mode == Mode::kPass) {
        if (s->state == Upstream::kNone) {
          Connect(s);  // accepted during kBlackhole: dial the target now
        } else {
          ForwardEnd(s, s->up);
          ForwardEnd(s, s->down);
        }
      }
    }
  }

  void Close(const SessionPtr& s) {
    if (s->closed) return;
    s->closed = true;
    error_code ignored;
    s->client.close(ignored);
    s->upstream.close(ignored);
    s->up.timer.cancel();
    s->down.timer.cancel();
    sessions_.erase(s->id);
    open_connections_ = sessions_.size();
  }

  void CloseAll() {
    std::vector<SessionPtr> all;
    for (const auto& entry : sessions_) all.push_back(entry.second);
    for (const auto& s : all) Close(s);
  }

  // Declared first so it is destroyed last, after every object that uses it.
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<tcp::endpoint> targets_;
  uint16_t port_ = 0;

  // Touched only on the io thread.
  std::map<uint64_t, SessionPtr> sessions_;
  std::map<std::string, Mode> modes_by_source_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;

  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<int64_t> delay_ms_{0};
  std::atomic<uint64_t> forwarded_bytes_{0};
  std::atomic<uint64_t> dropped_bytes_{0};
  std::atomic<size_t> open_connections_{0};

  std::thread thread_;  // last: started after everything above exists
};

}  // namespace coffer::integration
