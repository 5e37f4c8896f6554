#include "node/net/client_server.h"

#include "node/net/client_server_fixture.h"

namespace coffer::node {
namespace {

TEST_F(ClientServerTest, MutualTlsClientGetsAnswers) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->port(), 0);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 5; ++i) ExpectEcho(*client, "request-" + std::to_string(i));
  EXPECT_EQ(handled_.load(), 5);
  EXPECT_EQ(server->requests(), 5u);
  EXPECT_EQ(server->connections_accepted(), 1u);
  EXPECT_EQ(server->protocol_errors(), 0u);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(last_identity_.common_name, "alice");
  EXPECT_EQ(last_identity_.organizational_unit, "endpoint");
}

TEST_F(ClientServerTest, ManyClientsConcurrently) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  constexpr int kClients = 4;
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = CofferClient::Connect("127.0.0.1", server->port(), *client_tls_, kCallTimeout);
      if (!client.ok()) return;
      for (int i = 0; i < 10; ++i) {
        std::string id = std::to_string(c) + "/" + std::to_string(i);
        auto response = (*client)->Call(MakeRequest(id), kCallTimeout);
        if (response.ok() && response->message() == id) ++answered;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(answered.load(), kClients * 10);
}

TEST_F(ClientServerTest, ClientWithoutCertificateIsRefused) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto tls = RawClientContext(nullptr);
  ExpectRefused(server, *tls);
}

TEST_F(ClientServerTest, ClientCertificateFromAnotherCaIsRefused) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto tls = RawClientContext(&pki_->intruder);
  ExpectRefused(server, *tls);
}

TEST_F(ClientServerTest, Tls12ClientIsRefused) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto tls = RawClientContext(&pki_->client, TLS1_2_VERSION);
  uint64_t failures = server->handshake_failures();
  auto client = CofferClient::Connect("127.0.0.1", server->port(), *tls, kCallTimeout);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kUnavailable);
  EXPECT_NE(client.status().message().find("127.0.0.1:" + std::to_string(server->port())),
            std::string::npos)
      << client.status().ToString();
  EXPECT_TRUE(WaitFor([&] { return server->handshake_failures() > failures; }));
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(ClientServerTest, PlainTcpIsRefused) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  RawConnection plain(nullptr);
  ASSERT_TRUE(plain.Connect(server->port()));
  ASSERT_TRUE(plain.Write(*EncodeFrame(MakeRequest("plain").SerializeAsString()) +
                          "GET / HTTP/1.1\r\nHost: coffer\r\n\r\n"));
  EXPECT_TRUE(plain.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server->handshake_failures() == 1; }));
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(ClientServerTest, ClientChecksTheServerIpAddress) {
  auto tls = MakeServerTlsContext(
      TlsCredentials{pki_->ca.cert_pem, pki_->node_wrong_ip.cert_pem, pki_->node_wrong_ip.key_pem});
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  extra_tls_.push_back(std::move(tls).value());
  ClientServer* server = StartServer({}, extra_tls_.back().get());
  ASSERT_NE(server, nullptr);
  auto client = CofferClient::Connect("127.0.0.1", server->port(), *client_tls_, kCallTimeout);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kUnavailable);
  EXPECT_NE(client.status().message().find("IP address mismatch"), std::string::npos)
      << client.status().ToString();
  // The server's own listener on the right certificate still works.
  ClientServer* good = StartServer();
  ASSERT_NE(good, nullptr);
  auto ok_client = Connect(good);
  ASSERT_NE(ok_client, nullptr);
  ExpectEcho(*ok_client, "right-ip");
}

// Each bad frame closes only the connection that sent it.
TEST_F(ClientServerTest, BadFramesCloseOnlyThatConnection) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto good = Connect(server);
  ASSERT_NE(good, nullptr);
  ExpectEcho(*good, "before");

  struct Case {
    const char* name;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {"oversized length header", Header(static_cast<uint32_t>(kDefaultMaxFrameBytes + 1))},
      {"maximum length header", Header(0xffffffff)},
      {"zero length", Header(0)},
      // Field 1 (request_id) claims 5 bytes, 2 follow.
      {"malformed protobuf", *EncodeFrame(std::string("\x0a\x05"
                                                      "ab",
                                                      4))},
      {"garbage protobuf", *EncodeFrame(std::string(16, '\xff'))},
  };
  uint64_t errors = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RawConnection bad(client_tls_.get());
    ASSERT_TRUE(bad.Connect(server->port()));
    ASSERT_TRUE(bad.Write(c.bytes));
    EXPECT_TRUE(bad.WaitClosed());
    ++errors;
    EXPECT_TRUE(WaitFor([&] { return server->protocol_errors() == errors; }));
    ExpectEcho(*good, std::string("after ") + c.name);
  }
  EXPECT_EQ(handled_.load(), 1 + static_cast<int>(cases.size()));
}

TEST_F(ClientServerTest, TruncatedFrameThenCloseClosesOnlyThatConnection) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto good = Connect(server);
  ASSERT_NE(good, nullptr);
  ExpectEcho(*good, "before");

  RawConnection bad(client_tls_.get());
  ASSERT_TRUE(bad.Connect(server->port()));
  std::string frame = *EncodeFrame(MakeRequest("truncated").SerializeAsString());
  ASSERT_TRUE(bad.Write(frame.substr(0, frame.size() - 3)));
  bad.ShutdownWrite();
  EXPECT_TRUE(bad.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server->protocol_errors() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server->connections_closed() == 1; }));
  ExpectEcho(*good, "after");
  EXPECT_EQ(handled_.load(), 2);
}

TEST_F(ClientServerTest, CleanCloseBetweenFramesIsNotAnError) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  {
    auto client = Connect(server);
    ASSERT_NE(client, nullptr);
    ExpectEcho(*client, "one");
  }
  EXPECT_TRUE(WaitFor([&] { return server->connections_closed() == 1; }));
  EXPECT_EQ(server->protocol_errors(), 0u);
}

TEST_F(ClientServerTest, HandshakeTimeoutClosesSilentConnection) {
  ServerOptions options;
  options.handshake_timeout = milliseconds(200);
  ClientServer* server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawConnection silent(nullptr);
  auto start = steady_clock::now();
  ASSERT_TRUE(silent.Connect(server->port()));
  EXPECT_TRUE(silent.WaitClosed());
  EXPECT_GE(steady_clock::now() - start, milliseconds(200));
  EXPECT_TRUE(WaitFor([&] { return server->handshake_failures() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server->connections_closed() == 1; }));
}

TEST_F(ClientServerTest, IdleTimeoutClosesQuietAndSlowClients) {
  ServerOptions options;
  options.idle_timeout = milliseconds(300);
  ClientServer* server = StartServer(options);
  ASSERT_NE(server, nullptr);

  RawConnection quiet(client_tls_.get());
  ASSERT_TRUE(quiet.Connect(server->port()));
  EXPECT_TRUE(quiet.WaitClosed());

  // Half a frame, then nothing: the frame must be complete within the timeout.
  RawConnection slow(client_tls_.get());
  ASSERT_TRUE(slow.Connect(server->port()));
  ASSERT_TRUE(slow.Write(Header(100) + "partial"));
  EXPECT_TRUE(slow.WaitClosed());
  EXPECT_TRUE(WaitFor([&] { return server->connections_closed() == 2; }));
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(ClientServerTest, AuthenticatedConnectionsAboveTheirRolesShareAreClosed) {
  ServerOptions options;
  options.max_connections = 2;
  options.admin_reserved_connections = 1;  // the endpoint certificate gets 1
  options.refusal_log_interval = milliseconds(0);
  ClientServer* server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto first = Connect(server);
  ASSERT_NE(first, nullptr);
  ExpectEcho(*first, "first");

  // A second endpoint connection finishes its handshake, then is closed.
  RawConnection second(client_tls_.get());
  ASSERT_TRUE(second.Connect(server->port()));
  EXPECT_TRUE(second.WaitClosed());
  EXPECT_EQ(server->connections_rejected(), 1u);
  ExpectEcho(*first, "still served");

  // An admin gets the reserved slot.
  PemPair admin_pair = Issue(pki_->ca, "root", "admin", {});
  auto admin_tls = MakeClientTlsContext(
      TlsCredentials{pki_->ca.cert_pem, admin_pair.cert_pem, admin_pair.key_pem});
  ASSERT_TRUE(admin_tls.ok()) << admin_tls.status().ToString();
  auto admin = Connect(server, admin_tls->get());
  ASSERT_NE(admin, nullptr);
  ExpectEcho(*admin, "admin");
  EXPECT_EQ(server->authenticated_connections(), 2u);

  // The endpoint's share counts every authenticated connection: with the
  // admin's open and the first gone, it is still full...
  first.reset();
  ASSERT_TRUE(WaitFor([&] { return server->authenticated_connections() == 1; }));
  RawConnection refused(client_tls_.get());
  ASSERT_TRUE(refused.Connect(server->port()));
  EXPECT_TRUE(refused.WaitClosed());
  EXPECT_EQ(server->connections_rejected(), 2u);
  // ...until the admin's closes too.
  admin.reset();
  ASSERT_TRUE(WaitFor([&] { return server->authenticated_connections() == 0; }));
  auto third = Connect(server);
  ASSERT_NE(third, nullptr);
  ExpectEcho(*third, "third");
}

TEST_F(ClientServerTest, UnauthenticatedConnectionsCannotHoldTheSlots) {
  ServerOptions options;
  options.unauthenticated = SlotLimits{8, 4};
  options.handshake_timeout = milliseconds(60000);  // only eviction frees a place
  ClientServer* server = StartServer(options);
  ASSERT_NE(server, nullptr);
  // 200 plain TCP connections that never start a handshake, from 4 sources.
  std::vector<std::unique_ptr<RawConnection>> idle;
  const char* sources[] = {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"};
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<RawConnection>(nullptr));
    ASSERT_TRUE(idle.back()->Connect(server->port(), sources[i % 4])) << i;
  }
  ASSERT_TRUE(WaitFor([&] { return server->connections_evicted() >= 192; }));
  EXPECT_TRUE(idle.front()->WaitClosed());
  // A client from another address gets in at once, and is served.
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  ExpectEcho(*client, "served");
  // 192 evictions, one log line (the rest counted).
  EXPECT_EQ(server->refusal_lines_written(), 1u);
  EXPECT_GE(server->refusal_lines_suppressed(), 191u);
}

TEST_F(ClientServerTest, ReplyFromAnotherThread) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  StatusOr<pb::Response> result = Internal("not called");
  std::thread caller([&] { result = client->Call(MakeRequest("park"), kCallTimeout); });
  ReplyFn reply;
  {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(parked_cv_.wait_for(lock, kCallTimeout, [&] { return parked_ != nullptr; }));
    reply = std::move(parked_);
    parked_ = nullptr;
  }
  pb::Response response;
  response.set_code("NOT_FOUND");
  response.set_message("no such object");
  reply(response);
  reply(response);  // ignored
  caller.join();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  Status status = StatusFromResponse(*result);
  EXPECT_EQ(status.code(), Code::kNotFound);
  EXPECT_EQ(status.message(), "no such object");
  ExpectEcho(*client, "next");
}

TEST_F(ClientServerTest, DroppedThrownAndOversizedRepliesAnswerWithErrors) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);

  auto dropped = client->Call(MakeRequest("drop"), kCallTimeout);
  ASSERT_TRUE(dropped.ok()) << dropped.status().ToString();
  EXPECT_EQ(StatusFromResponse(*dropped).code(), Code::kInternal);

  auto thrown = client->Call(MakeRequest("throw"), kCallTimeout);
  ASSERT_TRUE(thrown.ok()) << thrown.status().ToString();
  EXPECT_EQ(StatusFromResponse(*thrown).code(), Code::kInternal);
  EXPECT_EQ(thrown->message().find("handler failure"), std::string::npos);

  auto huge = client->Call(MakeRequest("huge"), kCallTimeout);
  ASSERT_TRUE(huge.ok()) << huge.status().ToString();
  EXPECT_EQ(StatusFromResponse(*huge).code(), Code::kResourceExhausted);

  ExpectEcho(*client, "still fine");
  EXPECT_EQ(server->protocol_errors(), 0u);
}

TEST_F(ClientServerTest, StopClosesListenerAndConnections) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  ExpectEcho(*client, "before stop");
  uint16_t port = server->port();
  server->Stop();
  server->Stop();  // idempotent
  EXPECT_TRUE(WaitFor([&] { return server->connections_closed() == 1; }));
  auto after = client->Call(MakeRequest("after stop"), kCallTimeout);
  EXPECT_FALSE(after.ok());
  EXPECT_TRUE(after.status().code() == Code::kOutcomeUnknown ||
              after.status().code() == Code::kUnavailable)
      << after.status().ToString();
  // Later calls on the broken connection fail fast.
  EXPECT_EQ(client->Call(MakeRequest("again"), kCallTimeout).status().code(), Code::kUnavailable);
  auto refused = CofferClient::Connect("127.0.0.1", port, *client_tls_, kCallTimeout);
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
}

TEST_F(ClientServerTest, CallTimeoutAfterSendIsOutcomeUnknown) {
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server);
  ASSERT_NE(client, nullptr);
  auto response = client->Call(MakeRequest("park"), milliseconds(200));
  EXPECT_EQ(response.status().code(), Code::kOutcomeUnknown) << response.status().ToString();
  EXPECT_NE(response.status().message().find(client->address()), std::string::npos);
}

TEST_F(ClientServerTest, ConnectToClosedPortIsUnavailable) {
  // Bind and release a port so nothing listens on it.
  boost::asio::io_context io;
  tcp::acceptor probe(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  uint16_t port = probe.local_endpoint().port();
  probe.close();
  auto client = CofferClient::Connect("127.0.0.1", port, *client_tls_, kCallTimeout);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kUnavailable);
  EXPECT_NE(client.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST_F(ClientServerTest, StartRejectsBadOptions) {
  ServerOptions options;
  options.max_frame_bytes = 0;
  auto handler = [](pb::Request, ClientIdentity, ReplyFn) {};
  EXPECT_EQ(ClientServer::Start(io_context_, *server_tls_, options, handler).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(
      ClientServer::Start(io_context_, *server_tls_, ServerOptions{}, nullptr).status().code(),
      Code::kInvalidArgument);
  ServerOptions bad_host;
  bad_host.listen_host = "not an address";
  EXPECT_EQ(ClientServer::Start(io_context_, *server_tls_, bad_host, handler).status().code(),
            Code::kInvalidArgument);
  // The port is taken.
  ClientServer* server = StartServer();
  ASSERT_NE(server, nullptr);
  ServerOptions taken;
  taken.port = server->port();
  EXPECT_EQ(ClientServer::Start(io_context_, *server_tls_, taken, handler).status().code(),
            Code::kUnavailable);
}

TEST(StatusFromResponseTest, MapsCodeNames) {
  pb::Response response;
  response.set_code("OK");
  EXPECT_TRUE(StatusFromResponse(response).ok());
  response.set_code("READ_ONLY_NODE");
  response.set_message("send writes elsewhere");
  EXPECT_EQ(StatusFromResponse(response), Status(Code::kReadOnlyNode, "send writes elsewhere"));
  response.set_code("INTERNAL");
  EXPECT_EQ(StatusFromResponse(response).code(), Code::kInternal);
  response.set_code("NO_SUCH_CODE");
  Status unknown = StatusFromResponse(response);
  EXPECT_EQ(unknown.code(), Code::kInternal);
  EXPECT_NE(unknown.message().find("NO_SUCH_CODE"), std::string::npos);
  response.set_code("");
  EXPECT_EQ(StatusFromResponse(response).code(), Code::kInternal);
}

// TLS context construction: each mistake gets its own clear error.
TEST_F(ClientServerTest, TlsContextErrors) {
  TlsFiles missing = pki_->node_files;
  missing.key_file = pki_->dir + "/missing.key";
  auto no_file = MakeServerTlsContext(missing);
  EXPECT_EQ(no_file.status().code(), Code::kNotFound);
  EXPECT_NE(no_file.status().message().find("missing.key"), std::string::npos);

  TlsCredentials mismatch{pki_->ca.cert_pem, pki_->node.cert_pem, pki_->client.key_pem};
  auto wrong_key = MakeServerTlsContext(mismatch);
  EXPECT_EQ(wrong_key.status().code(), Code::kInvalidArgument);
  EXPECT_NE(wrong_key.status().message().find("does not match"), std::string::npos)
      << wrong_key.status().ToString();

  TlsCredentials foreign{pki_->ca.cert_pem, pki_->intruder.cert_pem, pki_->intruder.key_pem};
  auto other_ca = MakeClientTlsContext(foreign);
  EXPECT_EQ(other_ca.status().code(), Code::kInvalidArgument);
  EXPECT_NE(other_ca.status().message().find("cluster CA"), std::string::npos);

  TlsCredentials bad_ca{"garbage", pki_->node.cert_pem, pki_->node.key_pem};
  EXPECT_EQ(MakeServerTlsContext(bad_ca).status().code(), Code::kInvalidArgument);
  TlsCredentials leaf_as_ca{pki_->client.cert_pem, pki_->node.cert_pem, pki_->node.key_pem};
  EXPECT_EQ(MakeServerTlsContext(leaf_as_ca).status().code(), Code::kInvalidArgument);
  TlsCredentials bad_cert{pki_->ca.cert_pem, "garbage", pki_->node.key_pem};
  EXPECT_EQ(MakeServerTlsContext(bad_cert).status().code(), Code::kInvalidArgument);
  TlsCredentials bad_key{pki_->ca.cert_pem, pki_->node.cert_pem, "garbage"};
  EXPECT_EQ(MakeClientTlsContext(bad_key).status().code(), Code::kInvalidArgument);
}

// asio::ssl::stream needs a lowest layer; beast's test stream is its own.
class TestLayer : public boost::beast::test::stream {
 public:
  explicit TestLayer(boost::beast::test::stream&& s) : boost::beast::test::stream(std::move(s)) {}
  using lowest_layer_type = TestLayer;
  lowest_layer_type& lowest_layer() { return *this; }
  const lowest_layer_type& lowest_layer() const { return *this; }
};

// The TLS handshake between our server and client contexts over an
// in-memory stream that fails at every I/O step of one side in turn: each
// failure surfaces as that side's error, both sides complete (no hang), and
// once no step fails the server sees the client's identity.
TEST_F(ClientServerTest, TlsHandshakeFailsCleanlyAtEveryStep) {
  namespace test = boost::beast::test;
  for (bool fail_server : {true, false}) {
    SCOPED_TRACE(fail_server ? "failing the server side" : "failing the client side");
    size_t n = 0;
    for (; n < 1000; ++n) {
      boost::asio::io_context io;
      test::fail_count fc(n);
      test::fail_count never(std::numeric_limits<size_t>::max());
      ssl::stream<TestLayer> server(test::stream(io, fail_server ? fc : never), *server_tls_);
      ssl::stream<TestLayer> client(test::stream(io, fail_server ? never : fc), *client_tls_);
      server.next_layer().connect(client.next_layer());
      server.next_layer().write_size(300);
      client.next_layer().write_size(300);
      ASSERT_TRUE(SetExpectedServerName(client.native_handle(), "127.0.0.1").ok());

      std::optional<error_code> server_ec;
      std::optional<error_code> client_ec;
      server.async_handshake(ssl::stream_base::server, [&](error_code ec) { server_ec = ec; });
      client.async_handshake(ssl::stream_base::client, [&](error_code ec) { client_ec = ec; });
      auto& failing = fail_server ? server_ec : client_ec;
      auto deadline = steady_clock::now() + seconds(10);
      while (!(server_ec && client_ec) && !(failing && failing->failed()) &&
             steady_clock::now() < deadline && !io.stopped()) {
        io.run_one_until(deadline);
      }
      ASSERT_TRUE(failing.has_value()) << "step " << n << " did not complete";
      if (failing->failed()) {
        EXPECT_EQ(*failing, test::error::test_failure) << "step " << n;
        // The other side is left waiting: closing the streams must end it.
        server.next_layer().close();
        client.next_layer().close();
        io.restart();
        io.run_for(seconds(10));
        EXPECT_TRUE(server_ec.has_value() && client_ec.has_value()) << "step " << n;
        continue;
      }
      ASSERT_TRUE(server_ec && client_ec);
      EXPECT_FALSE(*server_ec) << server_ec->message();
      EXPECT_FALSE(*client_ec) << client_ec->message();
      auto identity = PeerIdentity(server.native_handle());
      ASSERT_TRUE(identity.ok()) << identity.status().ToString();
      EXPECT_EQ(identity->common_name, "alice");
      EXPECT_EQ(identity->organizational_unit, "endpoint");
      break;
    }
    EXPECT_GT(n, 2u);
    EXPECT_LT(n, 1000u);
  }
}

}  // namespace
}  // namespace coffer::node
