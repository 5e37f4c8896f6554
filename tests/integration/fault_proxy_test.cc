// FaultProxy against a small asio echo server on loopback. Every wait has a
// deadline; absence (silence) is asserted over a bounded window only after the
// proxy has reported the bytes it dropped.
#include "tests/harness/fault_proxy.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <random>
#include <string>
#include <thread>

namespace coffer::integration {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(10);       // generous: ASan, loaded machine
constexpr auto kSilence = std::chrono::milliseconds(300);  // window asserting nothing arrives

template <typename Pred>
bool WaitFor(Pred pred, Clock::duration timeout = kDeadline) {
  auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll interval, bounded
  }
  return true;
}

// Echoes every byte back on its own io thread, closes a connection at EOF,
// counts connections and bytes, and can push unsolicited bytes.
class EchoServer {
 public:
  EchoServer()
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        work_(asio::make_work_guard(io_)) {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoServer() {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& c : conns_) c->socket.close(ec);
      conns_.clear();
      open_ = 0;
    });
    work_.reset();
    thread_.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  size_t accepted() const { return accepted_; }
  size_t open() const { return open_; }
  uint64_t received() const { return received_; }

  // Writes `data` to every open connection. Tests call it only while no echo
  // is in flight, so it never interleaves with an echo write.
  void Push(std::string data) {
    auto shared = std::make_shared<std::string>(std::move(data));
    asio::post(io_, [this, shared] {
      for (auto& c : conns_) {
        asio::async_write(c->socket, asio::buffer(*shared),
                          [c, shared](const boost::system::error_code&, size_t) {});
      }
    });
  }

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::array<char, 16384> buf;
  };
  using ConnPtr = std::shared_ptr<Conn>;

  void Accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;  // closed by the destructor
      auto c = std::make_shared<Conn>(std::move(socket));
      conns_.push_back(c);
      ++accepted_;
      open_ = conns_.size();
      Read(c);
      Accept();
    });
  }

  void Read(ConnPtr c) {
    c->socket.async_read_some(
        asio::buffer(c->buf), [this, c](const boost::system::error_code& ec, size_t n) {
          if (ec) {
            boost::system::error_code ignored;
            c->socket.close(ignored);
            conns_.remove(c);
            open_ = conns_.size();
            return;
          }
          received_ += n;
          asio::async_write(c->socket, asio::buffer(c->buf.data(), n),
                            [this, c](const boost::system::error_code& ec, size_t) {
                              if (!ec) Read(c);
                            });
        });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::list<ConnPtr> conns_;  // io thread only
  std::atomic<size_t> accepted_{0};
  std::atomic<size_t> open_{0};
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

// A blocking loopback client. I/O goes through the file descriptor with
// poll() deadlines; send() and recv() may run on different threads.
class Client {
 public:
  // Connects from `source` (a loopback IP) to the proxy's `port`.
  explicit Client(uint16_t port, const std::string& source = "127.0.0.1") : socket_(io_) {
    boost::system::error_code ec;
    socket_.open(tcp::v4(), ec);
    EXPECT_FALSE(ec) << ec.message();
    socket_.bind(tcp::endpoint(asio::ip::make_address(source), 0), ec);
    EXPECT_FALSE(ec) << ec.message();
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    EXPECT_FALSE(ec) << ec.message();
    timeval timeout{10, 0};  // a send can never block past the test deadline
    setsockopt(fd(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  }

  int fd() { return socket_.native_handle(); }

  bool Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {  // each pass sends >= 1 byte or returns
      ssize_t n = ::send(fd(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  void ShutdownSend() { ::shutdown(fd(), SHUT_WR); }

  enum class Event { kData, kClosed, kTimeout };
  // Waits up to `timeout` for bytes or the end of the stream; appends bytes to `out`.
  Event ReadSome(std::string& out, Clock::duration timeout) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
    pollfd p{fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(ms, 0))) <= 0) return Event::kTimeout;
    char buf[65536];
    ssize_t n = ::recv(fd(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      return Event::kData;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return Event::kTimeout;
    return Event::kClosed;  // EOF or reset
  }

  // Reads until `n` bytes arrived, the stream ended or the deadline passed.
  std::string ReadExactly(size_t n) {
    std::string out;
    auto deadline = Clock::now() + kDeadline;
    while (out.size() < n && Clock::now() < deadline) {
      if (ReadSome(out, deadline - Clock::now()) == Event::kClosed) break;
    }
    return out;
  }

  // True if the stream ends (EOF or reset) before the deadline; bytes are discarded.
  bool WaitClosed() {
    auto deadline = Clock::now() + kDeadline;
    std::string discard;
    while (Clock::now() < deadline) {
      if (ReadSome(discard, deadline - Clock::now()) == Event::kClosed) return true;
      discard.clear();
    }
    return false;
  }

  // True if neither a byte nor the end of the stream arrives within `window`.
  bool Silent(Clock::duration window) {
    std::string out;
    return ReadSome(out, window) == Event::kTimeout && out.empty();
  }

  // One request and its echo through the proxy.
  ::testing::AssertionResult RoundTrip(const std::string& data) {
    if (!Send(data)) return ::testing::AssertionFailure() << "send failed";
    std::string echo = ReadExactly(data.size());
    if (echo != data) return ::testing::AssertionFailure() << "echo was '" << echo << "'";
    return ::testing::AssertionSuccess();
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proxy_ = FaultProxy::Start("127.0.0.1", "127.0.0.1", server_.port());
    ASSERT_NE(proxy_, nullptr);
    ASSERT_NE(proxy_->port(), 0);
  }

  EchoServer server_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(FaultProxyTest, PassForwardsBothWays) {
  Client client(proxy_->port());
  ASSERT_TRUE(client.RoundTrip("hello"));
  ASSERT_TRUE(client.RoundTrip("world!"));
  EXPECT_EQ(server_.received(), 11u);
  EXPECT_EQ(server_.accepted(), 1u);
  EXPECT_TRUE(WaitFor([&] { return proxy_->forwarded_bytes() == 22; }))
      << proxy_->forwarded_bytes();
  EXPECT_EQ(proxy_->open_connections(), 1u);
  EXPECT_EQ(proxy_->dropped_bytes(), 0u);
}

TEST_F(FaultProxyTest, PassForwardsLargeStreamThroughBoundedBuffers) {
  std::string payload(4 << 20, '\0');
  std::mt19937 rng(7);
  for (auto& c : payload) c = static_cast<char>(rng());
  Client client(proxy_->port());
  bool sent = false;
  std::thread writer([&] { sent = client.Send(payload); });
  std::string echo = client.ReadExactly(payload.size());
  writer.join();
  EXPECT_TRUE(sent);
  ASSERT_EQ(echo.size(), payload.size());
  EXPECT_TRUE(echo == payload);
  EXPECT_TRUE(WaitFor([&] { return proxy_->forwarded_bytes() == 2 * payload.size(); }))
      << proxy_->forwarded_bytes();
}

TEST_F(FaultProxyTest, BlackholeIsSilentThenPassResumesOnSameConnection) {
  Client client(proxy_->port());
  ASSERT_TRUE(client.RoundTrip("before"));

  proxy_->SetMode(FaultProxy::Mode::kBlackhole);
  ASSERT_TRUE(client.Send("lost-up"));
  ASSERT_TRUE(WaitFor([&] { return proxy_->dropped_bytes() == 7; })) << proxy_->dropped_bytes();
  server_.Push("lost-down");
  ASSERT_TRUE(WaitFor([&] { return proxy_->dropped_bytes() == 16; })) << proxy_->dropped_bytes();
  EXPECT_TRUE(client.Silent(kSilence)) << "the client saw bytes or an EOF during the blackhole";
  EXPECT_EQ(server_.received(), 6u) << "the target saw bytes during the blackhole";
  EXPECT_EQ(proxy_->open_connections(), 1u);
  EXPECT_EQ(server_.open(), 1u);

  // Back to kPass: the same connection carries new bytes; the dropped ones are gone.
  proxy_->SetMode(FaultProxy::Mode::kPass);
  ASSERT_TRUE(client.RoundTrip("after"));
  EXPECT_EQ(server_.received(), 11u);
  EXPECT_EQ(server_.accepted(), 1u);
  EXPECT_EQ(proxy_->dropped_bytes(), 16u);
}

// A mode for one source address: only that client's connection is cut; the
// proxy-wide mode applies to the others, and dropping the override heals it.
TEST_F(FaultProxyTest, ModeForOneSourceCutsOnlyItsConnections) {
  Client cut(proxy_->port(), "127.0.0.2");
  Client other(proxy_->port(), "127.0.0.3");
  ASSERT_TRUE(cut.RoundTrip("a"));
  ASSERT_TRUE(other.RoundTrip("b"));
  proxy_->SetModeFor("127.0.0.2", FaultProxy::Mode::kBlackhole);
  ASSERT_TRUE(cut.Send("lost"));
  ASSERT_TRUE(WaitFor([&] { return proxy_->dropped_bytes() == 4; })) << proxy_->dropped_bytes();
  ASSERT_TRUE(other.RoundTrip("still"));
  EXPECT_TRUE(cut.Silent(kSilence));
  Client later(proxy_->port(), "127.0.0.2");  // a new connection from it is cut too
  ASSERT_TRUE(later.Send("xy"));
  ASSERT_TRUE(WaitFor([&] { return proxy_->dropped_bytes() == 6; })) << proxy_->dropped_bytes();
  proxy_->SetModeFor("127.0.0.2", std::nullopt);
  ASSERT_TRUE(cut.RoundTrip("back"));
  ASSERT_TRUE(later.RoundTrip("too"));
  // The override wins over the proxy-wide mode.
  proxy_->SetModeFor("127.0.0.3", FaultProxy::Mode::kPass);
  proxy_->SetMode(FaultProxy::Mode::kReject);
  EXPECT_TRUE(cut.WaitClosed());
  ASSERT_TRUE(other.RoundTrip("passes"));
}

TEST_F(FaultProxyTest, BlackholeAcceptsNewConnectionsAndDialsThemOnPass) {
  proxy_->SetMode(FaultProxy::Mode::kBlackhole);
  Client client(proxy_->port());
  ASSERT_TRUE(WaitFor([&] { return proxy_->open_connections() == 1; }));
  ASSERT_TRUE(client.Send("x"));
  ASSERT_TRUE(WaitFor([&] { return proxy_->dropped_bytes() == 1; }));
  EXPECT_TRUE(client.Silent(kSilence));
  EXPECT_EQ(server_.accepted(), 0u) << "the target was dialed during the blackhole";

  proxy_->SetMode(FaultProxy::Mode::kPass);
  ASSERT_TRUE(WaitFor([&] { return server_.accepted() == 1; }));
  ASSERT_TRUE(client.RoundTrip("ping"));
  EXPECT_EQ(server_.received(), 4u);
}

TEST_F(FaultProxyTest, RejectClosesOpenConnectionsAndNewOnesAtOnce) {
  Client open(proxy_->port());
  ASSERT_TRUE(open.RoundTrip("hi"));

  proxy_->SetMode(FaultProxy::Mode::kReject);
  EXPECT_EQ(proxy_->open_connections(), 0u);  // SetMode returns once applied
  EXPECT_TRUE(open.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server_.open() == 0; }));

  Client fresh(proxy_->port());  // the kernel completes the handshake; the proxy closes it
  EXPECT_TRUE(fresh.WaitClosed());
  EXPECT_EQ(server_.accepted(), 1u) << "a rejected connection reached the target";
  EXPECT_EQ(proxy_->open_connections(), 0u);

  proxy_->SetMode(FaultProxy::Mode::kPass);
  Client again(proxy_->port());
  ASSERT_TRUE(again.RoundTrip("back"));
  EXPECT_EQ(server_.accepted(), 2u);
}

TEST_F(FaultProxyTest, DelayHoldsEachChunk) {
  proxy_->SetDelay(std::chrono::milliseconds(150));
  Client client(proxy_->port());
  auto start = Clock::now();
  ASSERT_TRUE(client.RoundTrip("slow"));
  // One chunk each way, each held at least 150 ms.
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));

  proxy_->SetDelay(std::chrono::milliseconds(0));
  ASSERT_TRUE(client.RoundTrip("fast"));
  // Each chunk was written exactly once.
  EXPECT_TRUE(WaitFor([&] { return proxy_->forwarded_bytes() == 16; }))
      << proxy_->forwarded_bytes();
  EXPECT_EQ(server_.received(), 8u);
}

TEST_F(FaultProxyTest, ChunkWaitingOutItsDelayIsDroppedByBlackhole) {
  proxy_->SetDelay(std::chrono::milliseconds(500));
  Client client(proxy_->port());
  ASSERT_TRUE(WaitFor([&] { return server_.accepted() == 1; }));
  ASSERT_TRUE(client.Send("z"));
  // Whether the proxy read "z" before the switch (it then waits out its
  // delay) or after it, the chunk must be dropped, never forwarded.
  proxy_->SetMode(FaultProxy::Mode::kBlackhole);
  ASSERT_TRUE(WaitFor([&] { return proxy_->dropped_bytes() == 1; }));
  EXPECT_EQ(server_.received(), 0u);
  EXPECT_EQ(proxy_->forwarded_bytes(), 0u);

  proxy_->SetDelay(std::chrono::milliseconds(0));
  proxy_->SetMode(FaultProxy::Mode::kPass);
  ASSERT_TRUE(client.RoundTrip("ok"));
}

TEST_F(FaultProxyTest, HalfCloseIsForwardedAndConnectionEnds) {
  Client client(proxy_->port());
  ASSERT_TRUE(client.Send("bye"));
  client.ShutdownSend();
  EXPECT_EQ(client.ReadExactly(3), "bye");
  EXPECT_TRUE(client.WaitClosed());  // the server closes at EOF; the proxy forwards it
  EXPECT_TRUE(WaitFor([&] { return proxy_->open_connections() == 0; }));
}

TEST(FaultProxy, UnreachableTargetClosesTheClient) {
  uint16_t dead_port;
  {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead_port = probe.local_endpoint().port();
  }  // closed: nothing listens there now
  auto proxy = FaultProxy::Start("127.0.0.1", "127.0.0.1", dead_port);
  ASSERT_NE(proxy, nullptr);
  Client client(proxy->port());
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return proxy->open_connections() == 0; }));
}

TEST(FaultProxy, StartFailsWhenTheListenAddressIsNotLocal) {
  // 192.0.2.1 (TEST-NET-1) is numeric, so no DNS, and never a local address.
  EXPECT_EQ(FaultProxy::Start("192.0.2.1", "127.0.0.1", 1), nullptr);
}

TEST_F(FaultProxyTest, DestructorReturnsWithOpenConnections) {
  Client busy(proxy_->port());
  ASSERT_TRUE(busy.RoundTrip("a"));
  // More than the loopback buffers hold while `busy` never reads: the
  // proxy's write towards it stalls.
  server_.Push(std::string(16 << 20, 'p'));
  ASSERT_TRUE(WaitFor([&] { return proxy_->forwarded_bytes() > 2; }));
  // A chunk parked on a long delay timer.
  proxy_->SetDelay(std::chrono::seconds(30));
  ASSERT_TRUE(busy.Send("z"));
  // A connection accepted during a blackhole, never dialed.
  proxy_->SetMode(FaultProxy::Mode::kBlackhole);
  Client idle(proxy_->port());
  ASSERT_TRUE(WaitFor([&] { return proxy_->open_connections() == 2; }));

  auto start = Clock::now();
  proxy_.reset();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(busy.WaitClosed());
  EXPECT_TRUE(idle.WaitClosed());
}

}  // namespace
}  // namespace coffer::integration
