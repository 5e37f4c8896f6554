#include "node/net/http_endpoint.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace coffer::node {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;
using boost::system::error_code;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kTimeout{10000};

using Response = http::response<http::string_body>;

// A blocking HTTP client on its own io_context; every wait has a deadline.
class TestClient {
 public:
  // Connects to 127.0.0.1:`port`, from the loopback address `source` if given.
  explicit TestClient(uint16_t port, const char* source = nullptr) {
    if (source != nullptr) {
      socket_.open(tcp::v4(), connect_error_);
      if (!connect_error_) {
        socket_.bind(tcp::endpoint(boost::asio::ip::make_address(source), 0), connect_error_);
      }
      if (connect_error_) return;
    }
    socket_.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port), connect_error_);
  }

  bool connected() const { return !connect_error_; }
  error_code connect_error() const { return connect_error_; }

  bool Send(std::string_view data) {
    error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(data.data(), data.size()), ec);
    return !ec;
  }

  // Reads one response (headers only for a HEAD). nullopt on error (EOF,
  // reset) or timeout.
  std::optional<Response> Read(bool head = false, milliseconds timeout = kTimeout) {
    http::response_parser<http::string_body> parser;
    parser.skip(head);
    error_code result;
    bool done = false;
    http::async_read(socket_, buffer_, parser, [&](error_code ec, std::size_t) {
      result = ec;
      done = true;
    });
    if (!RunUntilDone(done, timeout) || result) return std::nullopt;
    return parser.release();
  }

  std::optional<Response> Get(const std::string& target, milliseconds timeout = kTimeout) {
    if (!Send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n")) return std::nullopt;
    return Read(false, timeout);
  }

  // True if the server closes the connection (EOF or reset) within `timeout`
  // without sending anything more.
  bool WaitForClose(milliseconds timeout = kTimeout) {
    if (buffer_.size() != 0) return false;
    char byte;
    error_code result;
    std::size_t read = 0;
    bool done = false;
    socket_.async_read_some(boost::asio::buffer(&byte, 1), [&](error_code ec, std::size_t n) {
      result = ec;
      read = n;
      done = true;
    });
    if (!RunUntilDone(done, timeout)) return false;
    return read == 0 &&
           (result == boost::asio::error::eof || result == boost::asio::error::connection_reset);
  }

  void Close() {
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  // Runs the client's io_context until `done` or `timeout`; on timeout
  // cancels the operation (and lets its handler run).
  bool RunUntilDone(bool& done, milliseconds timeout) {
    io_.restart();
    io_.run_for(timeout);
    if (done) return true;
    error_code ignored;
    socket_.cancel(ignored);
    io_.restart();
    io_.run();
    return false;
  }

  boost::asio::io_context io_;
  tcp::socket socket_{io_};
  boost::beast::flat_buffer buffer_;
  error_code connect_error_;
};

// Respond functions handed out by a handler, for tests that respond later.
class PendingResponses {
 public:
  void Push(std::string path, std::function<void(HttpReply)> respond) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.emplace_back(std::move(path), std::move(respond));
    cv_.notify_all();
  }
  // The oldest pending respond; nullopt if none arrives within kTimeout.
  std::optional<std::pair<std::string, std::function<void(HttpReply)>>> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, kTimeout, [this] { return !pending_.empty(); })) return std::nullopt;
    auto front = std::move(pending_.front());
    pending_.pop_front();
    return front;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::function<void(HttpReply)>>> pending_;
};

class HttpEndpointTest : public ::testing::Test {
 protected:
  // Starts an endpoint with `handler` and a thread running the io_context.
  void Start(HttpHandler handler, HttpEndpointOptions options = {}) {
    StatusOr<std::unique_ptr<HttpEndpoint>> started =
        HttpEndpoint::Start(io_, std::move(options), std::move(handler));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    endpoint_ = std::move(started).value();
    ASSERT_NE(endpoint_->port(), 0);
    io_thread_ = std::thread([this] {
      io_.run();
      io_done_.set_value();
    });
  }

  // Answers every request at once: 200 with the path as the body, 404 for
  // "/missing".
  void StartEcho(HttpEndpointOptions options = {}) {
    Start(
        [this](std::string_view path, std::function<void(HttpReply)> respond) {
          ++handled_;
          HttpReply reply;
          if (path == "/missing") {
            reply.status = 404;
            reply.body = "no such page\n";
          } else {
            reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
            reply.body = "path=" + std::string(path);
          }
          respond(std::move(reply));
        },
        std::move(options));
  }

  // Starts an endpoint whose handler hands every respond to pending_.
  void StartDeferred(HttpEndpointOptions options = {}) {
    Start(
        [this](std::string_view path, std::function<void(HttpReply)> respond) {
          ++handled_;
          pending_.Push(std::string(path), std::move(respond));
        },
        std::move(options));
  }

  // Stops the endpoint and checks that it leaves no work on the io_context.
  void TearDown() override {
    if (endpoint_) endpoint_->Stop();
    work_.reset();
    if (io_thread_.joinable()) {
      if (io_done_future_.wait_for(kTimeout) != std::future_status::ready) {
        ADD_FAILURE() << "the endpoint left work on the io_context after Stop";
        io_.stop();
      }
      io_thread_.join();
    }
    endpoint_.reset();
  }

  uint16_t port() const { return endpoint_->port(); }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::promise<void> io_done_;
  std::future<void> io_done_future_ = io_done_.get_future();
  std::thread io_thread_;
  std::unique_ptr<HttpEndpoint> endpoint_;
  std::atomic<int> handled_{0};
  PendingResponses pending_;
};

TEST_F(HttpEndpointTest, GetReturnsHandlersStatusBodyAndContentType) {
  StartEcho();
  TestClient client(port());
  ASSERT_TRUE(client.connected()) << client.connect_error().message();
  std::optional<Response> response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ(response->body(), "path=/metrics");
  EXPECT_EQ((*response)[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ((*response)[http::field::content_length], "13");
  EXPECT_TRUE(response->keep_alive());
}

TEST_F(HttpEndpointTest, HeadSendsHeadersOnly) {
  StartEcho();
  TestClient client(port());
  ASSERT_TRUE(client.Send("HEAD /status HTTP/1.1\r\nHost: test\r\n\r\n"));
  std::optional<Response> response = client.Read(/*head=*/true);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ((*response)[http::field::content_length], "12");  // "path=/status"
  EXPECT_EQ(response->body(), "");
  // No body bytes were sent: the next response parses cleanly.
  response = client.Get("/next");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "path=/next");
}

TEST_F(HttpEndpointTest, QueryStringIsStripped) {
  StartEcho();
  TestClient client(port());
  std::optional<Response> response = client.Get("/metrics?name=coffer_objects&x=1");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "path=/metrics");
  response = client.Get("/?x");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "path=/");
  response = client.Get("http://127.0.0.1/healthz?verbose");  // absolute form
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "path=/healthz");
}

TEST_F(HttpEndpointTest, HandlerStatusPassesThrough) {
  StartEcho();
  TestClient client(port());
  std::optional<Response> response = client.Get("/missing");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 404u);
  EXPECT_EQ(response->body(), "no such page\n");
  EXPECT_EQ((*response)[http::field::content_type], "text/plain; charset=utf-8");
  EXPECT_EQ((*response)[http::field::content_length], "13");
  // The connection stays usable.
  response = client.Get("/ok");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
}

TEST_F(HttpEndpointTest, OtherMethodsGet405WithAllow) {
  StartEcho();
  TestClient client(port());
  // Without a body the connection stays open.
  ASSERT_TRUE(client.Send("DELETE /metrics HTTP/1.1\r\nHost: test\r\n\r\n"));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 405u);
  EXPECT_EQ((*response)[http::field::allow], "GET, HEAD");
  EXPECT_NE((*response)[http::field::content_length], "");
  response = client.Get("/after");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "path=/after");

  // With a body (not read) the connection is closed after the 405.
  TestClient poster(port());
  ASSERT_TRUE(
      poster.Send("POST /metrics HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello"));
  response = poster.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 405u);
  EXPECT_EQ((*response)[http::field::allow], "GET, HEAD");
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(poster.WaitForClose());
  EXPECT_EQ(handled_.load(), 1);  // only "/after"
}

TEST_F(HttpEndpointTest, MalformedRequestLineGets400AndClose) {
  StartEcho();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /a b c HTTP/1.1\r\nHost: test\r\n\r\n"));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 400u);
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client.WaitForClose());

  TestClient garbage(port());
  ASSERT_TRUE(garbage.Send("\x01\x02 nonsense\r\n\r\n"));
  response = garbage.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 400u);
  EXPECT_TRUE(garbage.WaitForClose());
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpEndpointTest, OversizedHeaderGets400AndClose) {
  HttpEndpointOptions options;
  options.max_header_bytes = 1024;
  StartEcho(options);
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: test\r\nX-Big: " + std::string(16384, 'a') +
                          "\r\n\r\n"));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 400u);
  EXPECT_TRUE(client.WaitForClose());

  // The request line counts too.
  TestClient long_target(port());
  response = long_target.Get("/?" + std::string(2000, 'q'));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 400u);
  EXPECT_TRUE(long_target.WaitForClose());

  // A header just under the limit is fine.
  TestClient fits(port());
  response = fits.Get("/?" + std::string(900, 'q'));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ(handled_.load(), 1);
}

TEST_F(HttpEndpointTest, SlowClientIsDisconnectedAfterHeaderTimeout) {
  HttpEndpointOptions options;
  options.header_timeout = milliseconds(200);
  StartEcho(options);

  TestClient slow(port());
  auto start = steady_clock::now();
  ASSERT_TRUE(slow.Send("GET /metrics HTTP/1.1\r\nHost: te"));  // never finished
  EXPECT_TRUE(slow.WaitForClose(milliseconds(5000)));
  EXPECT_GE(steady_clock::now() - start, milliseconds(150));

  // An idle keep-alive connection is closed after the timeout too.
  TestClient idle(port());
  ASSERT_TRUE(idle.Get("/"));
  EXPECT_TRUE(idle.WaitForClose(milliseconds(5000)));
  EXPECT_EQ(handled_.load(), 1);
}

TEST_F(HttpEndpointTest, KeepAliveServesSequentialAndPipelinedRequests) {
  StartEcho();
  TestClient client(port());
  for (int i = 0; i < 5; ++i) {
    std::optional<Response> response = client.Get("/n" + std::to_string(i));
    ASSERT_TRUE(response) << i;
    EXPECT_EQ(response->body(), "path=/n" + std::to_string(i));
  }
  // Two requests in one write are answered in order.
  ASSERT_TRUE(client.Send(
      "GET /first HTTP/1.1\r\nHost: test\r\n\r\nGET /second HTTP/1.1\r\nHost: test\r\n\r\n"));
  std::optional<Response> first = client.Read();
  std::optional<Response> second = client.Read();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body(), "path=/first");
  EXPECT_EQ(second->body(), "path=/second");
}

TEST_F(HttpEndpointTest, ConnectionCloseAndHttp10CloseAfterTheResponse) {
  StartEcho();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /bye HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "path=/bye");
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client.WaitForClose());

  TestClient old(port());
  ASSERT_TRUE(old.Send("GET /old HTTP/1.0\r\n\r\n"));
  response = old.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->version(), 10u);
  EXPECT_EQ(response->body(), "path=/old");
  EXPECT_TRUE(old.WaitForClose());
}

TEST_F(HttpEndpointTest, DelayedRespondFromAnotherThread) {
  StartDeferred();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /slow?q=1 HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto pending = pending_.Pop();
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->first, "/slow");
  std::thread responder([respond = std::move(pending->second)] {
    respond(HttpReply{202, "application/json", R"({"late":true})"});
    respond(HttpReply{500, "text/plain", "ignored"});  // a second call is ignored
  });
  std::optional<Response> response = client.Read();
  responder.join();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 202u);
  EXPECT_EQ((*response)[http::field::content_type], "application/json");
  EXPECT_EQ(response->body(), R"({"late":true})");

  // The connection goes on with the next request.
  ASSERT_TRUE(client.Send("GET /again HTTP/1.1\r\nHost: test\r\n\r\n"));
  pending = pending_.Pop();
  ASSERT_TRUE(pending);
  std::thread([respond = std::move(pending->second)] {
    respond(HttpReply{200, "text/plain", "again"});
  }).join();
  response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "again");
}

TEST_F(HttpEndpointTest, ClientGoneBeforeDelayedRespondIsHarmless) {
  StartDeferred();
  {
    TestClient client(port());
    ASSERT_TRUE(client.Send("GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n"));
    auto pending = pending_.Pop();
    ASSERT_TRUE(pending);
    client.Close();
    std::thread([respond = std::move(pending->second)] {
      respond(HttpReply{200, "text/plain", std::string(1 << 20, 'x')});
    }).join();
  }
  {
    // Closed, and the respond dropped without a call.
    TestClient client(port());
    ASSERT_TRUE(client.Send("GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n"));
    auto pending = pending_.Pop();
    ASSERT_TRUE(pending);
    client.Close();
    std::thread([respond = std::move(pending->second)]() mutable {
      std::function<void(HttpReply)> dropped = std::move(respond);
    }).join();
  }
  // The endpoint still serves.
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /ok HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto pending = pending_.Pop();
  ASSERT_TRUE(pending);
  pending->second(HttpReply{200, "text/plain", "fine"});
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "fine");
}

TEST_F(HttpEndpointTest, RespondAfterStopIsDropped) {
  StartDeferred();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto pending = pending_.Pop();
  ASSERT_TRUE(pending);
  endpoint_->Stop();
  EXPECT_TRUE(client.WaitForClose());
  std::thread([respond = std::move(pending->second)] {
    respond(HttpReply{200, "text/plain", "too late"});
  }).join();
}

TEST_F(HttpEndpointTest, DroppedRespondGets500) {
  Start([](std::string_view, std::function<void(HttpReply)>) {});
  TestClient client(port());
  std::optional<Response> response = client.Get("/x");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 500u);
}

TEST_F(HttpEndpointTest, ThrowingHandlerGets500) {
  Start([](std::string_view, std::function<void(HttpReply)>) { throw std::runtime_error("boom"); });
  TestClient client(port());
  std::optional<Response> response = client.Get("/x");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 500u);
  response = client.Get("/y");  // the connection survives
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 500u);
}

TEST_F(HttpEndpointTest, InvalidReplyGets500) {
  Start([](std::string_view path, std::function<void(HttpReply)> respond) {
    if (path == "/status") return respond(HttpReply{99, "text/plain", "x"});
    respond(HttpReply{200, "text/plain\r\nX-Injected: 1", "x"});
  });
  TestClient client(port());
  std::optional<Response> response = client.Get("/status");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 500u);
  response = client.Get("/header");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 500u);
  EXPECT_EQ((*response)["X-Injected"], "");
}

TEST_F(HttpEndpointTest, HandlerThatNeverRespondsGets503) {
  HttpEndpointOptions options;
  options.request_timeout = milliseconds(200);
  StartDeferred(options);
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /stuck HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto pending = pending_.Pop();
  ASSERT_TRUE(pending);
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 503u);
  EXPECT_TRUE(client.WaitForClose());
  pending->second(HttpReply{200, "text/plain", "late"});  // ignored
}

TEST_F(HttpEndpointTest, ConnectionsWaitingForTheirHandlerAreNeverReplaced) {
  HttpEndpointOptions options;
  options.max_connections = 2;
  StartDeferred(options);
  TestClient a(port());
  TestClient b(port());
  ASSERT_TRUE(a.Send("GET /a HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto pending_a = pending_.Pop();
  ASSERT_TRUE(b.Send("GET /b HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto pending_b = pending_.Pop();
  ASSERT_TRUE(pending_a && pending_b);
  // Both slots hold a request in progress: the newcomer is refused.
  TestClient c(port());
  ASSERT_TRUE(c.connected());  // accepted by the kernel, then closed by the endpoint
  EXPECT_TRUE(c.WaitForClose());
  pending_a->second(HttpReply{200, "text/plain", "a"});
  pending_b->second(HttpReply{200, "text/plain", "b"});
  std::optional<Response> response = a.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "a");
  response = b.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "b");
}

TEST_F(HttpEndpointTest, IdleConnectionsGiveWayToClientsThatSendARequest) {
  HttpEndpointOptions options;
  options.max_connections = 2;
  StartEcho(options);
  TestClient a(port());
  TestClient b(port());
  ASSERT_TRUE(a.connected());  // both idle: no request sent
  ASSERT_TRUE(b.connected());
  // The oldest idle connection (a) makes room; b and c are served.
  TestClient c(port());
  std::optional<Response> response = c.Get("/c");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "path=/c");
  EXPECT_TRUE(a.WaitForClose());
  ASSERT_TRUE(b.Get("/b"));
}

TEST_F(HttpEndpointTest, OneSourceCannotHoldTheSlotsOfAnother) {
  HttpEndpointOptions options;
  options.max_connections = 16;
  options.max_connections_per_source = 4;
  options.header_timeout = milliseconds(60000);  // the idle ones stay until replaced
  StartEcho(options);
  // 200 idle connections from one source: at most 4 stay open, the newest.
  std::vector<std::unique_ptr<TestClient>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<TestClient>(port(), "127.0.0.2"));
    ASSERT_TRUE(idle.back()->connected()) << i;
  }
  EXPECT_TRUE(idle.front()->WaitForClose());
  // Another source, and the flooding one itself, are served at once.
  TestClient other(port(), "127.0.0.3");
  std::optional<Response> response = other.Get("/health", milliseconds(2000));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
  TestClient same(port(), "127.0.0.2");
  response = same.Get("/health", milliseconds(2000));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
}

TEST_F(HttpEndpointTest, StopClosesOpenKeepAliveConnections) {
  StartEcho();
  TestClient first(port());
  TestClient second(port());
  ASSERT_TRUE(first.Get("/1"));
  ASSERT_TRUE(second.Get("/2"));
  endpoint_->Stop();
  endpoint_->Stop();  // idempotent
  EXPECT_TRUE(first.WaitForClose());
  EXPECT_TRUE(second.WaitForClose());
  // The listener is closed too. Its closing was posted before the
  // connections' closing, so it is done by now.
  TestClient late(port());
  EXPECT_FALSE(late.connected() && late.Get("/late", milliseconds(1000)).has_value());
}

TEST_F(HttpEndpointTest, StartErrors) {
  StartEcho();
  HttpEndpointOptions taken;
  taken.port = port();
  auto noop = [](std::string_view, std::function<void(HttpReply)> respond) {
    respond(HttpReply{});
  };
  StatusOr<std::unique_ptr<HttpEndpoint>> second = HttpEndpoint::Start(io_, taken, noop);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable) << second.status().ToString();

  HttpEndpointOptions bad;
  bad.max_connections = 0;
  EXPECT_EQ(HttpEndpoint::Start(io_, bad, noop).status().code(), Code::kInvalidArgument);
  bad = HttpEndpointOptions{};
  bad.request_timeout = milliseconds(0);
  EXPECT_EQ(HttpEndpoint::Start(io_, bad, noop).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(HttpEndpoint::Start(io_, HttpEndpointOptions{}, nullptr).status().code(),
            Code::kInvalidArgument);
  bad = HttpEndpointOptions{};
  bad.listen_host = "not an address";
  EXPECT_EQ(HttpEndpoint::Start(io_, bad, noop).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::node
