// The ClientServer test fixture, shared by client_server_test.cc and
// client_pipelining_test.cc: a PKI made once per suite, a server on an
// io_context thread with an echoing handler, and RawConnection for byte-level
// clients. Test-only; each including file gets its own copy (anonymous
// namespace), so each derives its own suite from ClientServerTest.
#pragma once

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/_experimental/test/fail_count.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "common/wait_for.h"
#include "node/client/client.h"
#include "node/net/certs.h"
#include "node/net/client_server.h"
#include "node/net/framing.h"
#include "node/net/tls.h"

namespace coffer::node {
namespace {

namespace ssl = boost::asio::ssl;
using boost::asio::ip::tcp;
using boost::system::error_code;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr milliseconds kCallTimeout{10000};

std::string Header(uint32_t length) {
  std::string h(4, '\0');
  h[0] = static_cast<char>(length >> 24);
  h[1] = static_cast<char>(length >> 16);
  h[2] = static_cast<char>(length >> 8);
  h[3] = static_cast<char>(length);
  return h;
}

pb::Request MakeRequest(const std::string& id) {
  pb::Request request;
  request.set_request_id(id);
  request.mutable_node_status();
  return request;
}

// Certificates for every test, made once through certs.h and written to a
// temporary directory.
struct Pki {
  std::string dir;
  PemPair ca;
  PemPair node;           // CN=node-1 OU=node, IP 127.0.0.1
  PemPair node_wrong_ip;  // CN=node-2 OU=node, IP 10.9.9.9 only
  PemPair client;         // CN=alice OU=endpoint
  PemPair other_ca;
  PemPair intruder;  // CN=mallory, issued by other_ca
  TlsFiles node_files;
  TlsFiles client_files;
};

PemPair Issue(const PemPair& ca, const std::string& cn, const std::string& ou,
              std::vector<std::string> ips) {
  CertificateRequest request;
  request.common_name = cn;
  request.organizational_unit = ou;
  request.ip_addresses = std::move(ips);
  auto pair = IssueCertificate(ca, request);
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  return pair.ok() ? *pair : PemPair{};
}

// Sends raw bytes over plain TCP or TLS and watches for the server to close.
// Owns its io_context; every operation is bounded by a deadline.
class RawConnection {
 public:
  // Plain TCP if `tls` is null, else TLS with that client context.
  explicit RawConnection(ssl::context* tls)
      : tls_(tls != nullptr), stream_(io_context_, tls ? *tls : plain_) {}

  // Connects to 127.0.0.1:port (and completes the TLS handshake), from the
  // loopback address `source` if given.
  bool Connect(uint16_t port, const char* source = nullptr) {
    std::optional<error_code> outcome;
    if (source != nullptr) {
      error_code ec;
      stream_.lowest_layer().open(tcp::v4(), ec);
      if (!ec)
        stream_.lowest_layer().bind(tcp::endpoint(boost::asio::ip::make_address(source), 0), ec);
      if (ec) return false;
    }
    stream_.lowest_layer().async_connect(
        tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), [&](error_code ec) {
          if (ec || !tls_) {
            outcome = ec;
            return;
          }
          stream_.async_handshake(ssl::stream_base::client, [&](error_code ec) { outcome = ec; });
        });
    return Run(seconds(10)) && !*outcome;
  }

  bool Write(const std::string& bytes) {
    std::optional<error_code> outcome;
    auto done = [&](error_code ec, size_t) { outcome = ec; };
    if (tls_) {
      boost::asio::async_write(stream_, boost::asio::buffer(bytes), done);
    } else {
      boost::asio::async_write(stream_.next_layer(), boost::asio::buffer(bytes), done);
    }
    return Run(seconds(10)) && !*outcome;
  }

  // True if the server closes the connection (a read ends with EOF or an
  // error) within `timeout`. Data read meanwhile is discarded.
  bool WaitClosed(milliseconds timeout = milliseconds(10000)) {
    std::optional<error_code> outcome;
    char buffer[4096];
    std::function<void()> read = [&] {
      auto on_read = [&](error_code ec, size_t) {
        if (ec) {
          outcome = ec;
        } else {
          read();
        }
      };
      if (tls_) {
        stream_.async_read_some(boost::asio::buffer(buffer), on_read);
      } else {
        stream_.next_layer().async_read_some(boost::asio::buffer(buffer), on_read);
      }
    };
    read();
    return Run(timeout) && outcome.has_value();
  }

  void CloseTcp() {
    error_code ignored;
    stream_.lowest_layer().close(ignored);
  }

  // Sends FIN but keeps reading: closing outright while the server's TLS 1.3
  // session tickets sit unread would make the kernel send RST instead, and the
  // server would see a reset rather than a stream ending inside a frame.
  void ShutdownWrite() {
    error_code ignored;
    stream_.lowest_layer().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  }

 private:
  // Runs until the started operations finish or the deadline passes; on
  // timeout closes the socket and drains. Returns false on timeout.
  bool Run(milliseconds timeout) {
    io_context_.restart();
    io_context_.run_for(timeout);
    if (io_context_.stopped()) return true;
    CloseTcp();
    io_context_.run();
    return false;
  }

  const bool tls_;
  ssl::context plain_{ssl::context::tls_client};
  boost::asio::io_context io_context_;
  ssl::stream<tcp::socket> stream_;
};

class ClientServerTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki;
    std::string pattern = (std::filesystem::temp_directory_path() / "coffer-tls-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    pki_->dir = pattern;
    auto ca = CreateCertificateAuthority("coffer-test-ca");
    ASSERT_TRUE(ca.ok());
    pki_->ca = *ca;
    pki_->node = Issue(pki_->ca, "node-1", "node", {"127.0.0.1"});
    pki_->node_wrong_ip = Issue(pki_->ca, "node-2", "node", {"10.9.9.9"});
    pki_->client = Issue(pki_->ca, "alice", "endpoint", {});
    auto other = CreateCertificateAuthority("other-ca");
    ASSERT_TRUE(other.ok());
    pki_->other_ca = *other;
    pki_->intruder = Issue(pki_->other_ca, "mallory", "endpoint", {});

    std::string d = pki_->dir + "/";
    ASSERT_TRUE(WritePemPair(pki_->ca, d + "ca.crt", d + "ca.key").ok());
    ASSERT_TRUE(WritePemPair(pki_->node, d + "node.crt", d + "node.key").ok());
    ASSERT_TRUE(WritePemPair(pki_->client, d + "alice.crt", d + "alice.key").ok());
    pki_->node_files = {d + "ca.crt", d + "node.crt", d + "node.key"};
    pki_->client_files = {d + "ca.crt", d + "alice.crt", d + "alice.key"};
  }

  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(pki_->dir, ec);
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    auto server_tls = MakeServerTlsContext(pki_->node_files);
    ASSERT_TRUE(server_tls.ok()) << server_tls.status().ToString();
    server_tls_ = std::move(server_tls).value();
    auto client_tls = MakeClientTlsContext(pki_->client_files);
    ASSERT_TRUE(client_tls.ok()) << client_tls.status().ToString();
    client_tls_ = std::move(client_tls).value();
    io_thread_ = std::thread([this] { io_context_.run(); });
  }

  void TearDown() override {
    for (auto& server : servers_) server->Stop();
    {
      std::lock_guard<std::mutex> lock(mu_);
      parked_ = nullptr;
      held_.clear();
    }
    work_.reset();
    io_thread_.join();
  }

  ClientServer* StartServer(ServerOptions options = {}, ssl::context* tls = nullptr) {
    options.listen_host = "127.0.0.1";
    options.port = 0;
    auto server =
        ClientServer::Start(io_context_, tls ? *tls : *server_tls_, options,
                            [this](pb::Request request, ClientIdentity identity, ReplyFn reply) {
                              Handle(std::move(request), std::move(identity), std::move(reply));
                            });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (!server.ok()) return nullptr;
    servers_.push_back(std::move(server).value());
    return servers_.back().get();
  }

  // Echoes the request id. Special ids: "drop" never replies, "throw"
  // throws, "park" hands the ReplyFn to the test, "huge" answers with more
  // than the frame limit, "hold..." adds the ReplyFn to held_ (the test
  // answers in any order; see ReplyHeld).
  void Handle(pb::Request request, ClientIdentity identity, ReplyFn reply) {
    ++handled_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_identity_ = identity;
    }
    const std::string& id = request.request_id();
    if (id == "drop") return;
    if (id == "throw") throw std::runtime_error("handler failure");
    if (id.rfind("hold", 0) == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      held_.emplace_back(id, std::move(reply));
      most_held_ = std::max(most_held_, held_.size());
      return;
    }
    if (id == "park") {
      std::lock_guard<std::mutex> lock(mu_);
      parked_ = std::move(reply);
      parked_cv_.notify_all();
      return;
    }
    pb::Response response;
    response.set_code("OK");
    response.set_message(id == "huge" ? std::string(kDefaultMaxFrameBytes + 1, 'h') : id);
    reply(std::move(response));
  }

  size_t HeldCount() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }

  // Answers the held request at `index` (0 = oldest) with its id as the
  // message, from the calling thread.
  void ReplyHeld(size_t index) {
    std::pair<std::string, ReplyFn> entry;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ASSERT_LT(index, held_.size());
      entry = std::move(held_[index]);
      held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(index));
    }
    pb::Response response;
    response.set_code("OK");
    response.set_message(entry.first);
    entry.second(std::move(response));
  }

  std::unique_ptr<CofferClient> Connect(ClientServer* server, ssl::context* tls = nullptr) {
    auto client =
        CofferClient::Connect("127.0.0.1", server->port(), tls ? *tls : *client_tls_, kCallTimeout);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // Asserts that `client` gets its own request id echoed.
  static void ExpectEcho(CofferClient& client, const std::string& id) {
    auto response = client.Call(MakeRequest(id), kCallTimeout);
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_TRUE(StatusFromResponse(*response).ok()) << response->code();
    EXPECT_EQ(response->message(), id);
  }

  // A client context built by hand, for the refusal tests.
  static std::unique_ptr<ssl::context> RawClientContext(const PemPair* credentials,
                                                        int max_version = TLS1_3_VERSION) {
    auto tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    tls->add_certificate_authority(boost::asio::buffer(pki_->ca.cert_pem));
    tls->set_verify_mode(ssl::verify_peer);
    if (credentials != nullptr) {
      tls->use_certificate_chain(boost::asio::buffer(credentials->cert_pem));
      tls->use_private_key(boost::asio::buffer(credentials->key_pem), ssl::context::pem);
    }
    SSL_CTX_set_max_proto_version(tls->native_handle(), max_version);
    return tls;
  }

  // Asserts that a client using `tls` gets no answer and that the server
  // counts a failed handshake.
  void ExpectRefused(ClientServer* server, ssl::context& tls) {
    uint64_t failures = server->handshake_failures();
    auto client = CofferClient::Connect("127.0.0.1", server->port(), tls, kCallTimeout);
    if (client.ok()) {
      // TLS 1.3: the server checks the client certificate after the client
      // finished its handshake; the refusal shows on the first exchange.
      auto response = (*client)->Call(MakeRequest("refused"), kCallTimeout);
      // Usually PERMISSION_DENIED (the refusal alert is read); if the
      // connection is torn down before the request is written, UNAVAILABLE.
      Code code = response.status().code();
      EXPECT_TRUE(code == Code::kPermissionDenied || code == Code::kUnavailable ||
                  code == Code::kOutcomeUnknown)
          << response.status().ToString();
    }
    EXPECT_TRUE(WaitFor([&] { return server->handshake_failures() > failures; }));
    EXPECT_EQ(handled_.load(), 0);
  }

  inline static Pki* pki_ = nullptr;
  // Declared before the io_context so that they outlive its handlers.
  std::unique_ptr<ssl::context> server_tls_;
  std::unique_ptr<ssl::context> client_tls_;
  std::vector<std::unique_ptr<ssl::context>> extra_tls_;
  boost::asio::io_context io_context_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_context_)};
  std::thread io_thread_;
  std::vector<std::unique_ptr<ClientServer>> servers_;

  std::atomic<int> handled_{0};
  std::mutex mu_;
  std::condition_variable parked_cv_;
  ReplyFn parked_;  // GUARDED_BY(mu_)
  // Held requests (id, reply), oldest first, and the most held at once.
  std::vector<std::pair<std::string, ReplyFn>> held_;  // GUARDED_BY(mu_)
  size_t most_held_ = 0;                               // GUARDED_BY(mu_)
  ClientIdentity last_identity_;                       // GUARDED_BY(mu_)
};

}  // namespace
}  // namespace coffer::node
