#include "node/net/peer_links.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/wait_for.h"
#include "node/net/certs.h"
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

constexpr char kCluster[] = "cluster-test";

// A port that was free a moment ago: bind port 0, read it, release it.
uint16_t PickPort() {
  boost::asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

std::string Address(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// A message that carries a sequence number, to check order.
pb::ReplicationMessage Numbered(int64_t seq) {
  pb::ReplicationMessage message;
  message.mutable_report()->set_sent_micros(seq);
  return message;
}

PemPair Issue(const PemPair& ca, const std::string& cn, const std::string& ou) {
  CertificateRequest request;
  request.common_name = cn;
  request.organizational_unit = ou;
  request.ip_addresses = {"127.0.0.1"};
  auto pair = IssueCertificate(ca, request);
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  return pair.ok() ? *pair : PemPair{};
}

struct PeerPki {
  PemPair ca;
  std::map<uint32_t, PemPair> nodes;  // CN=node<N> OU=node IP 127.0.0.1
  PemPair admin;                      // CN=admin OU=admin IP 127.0.0.1
  PemPair other_ca;
  PemPair other_node;  // CN=node3 OU=node, issued by other_ca
};

// One PeerLinks instance and what it received.
struct TestNode {
  uint32_t id = 0;
  std::unique_ptr<ssl::context> server_tls;
  std::unique_ptr<ssl::context> client_tls;
  std::unique_ptr<PeerLinks> links;

  std::mutex mu;
  std::vector<std::pair<uint32_t, int64_t>> received;  // GUARDED_BY(mu)
  std::vector<pb::PeerHello> hellos;                   // GUARDED_BY(mu)
  std::vector<ClientIdentity> identities;              // GUARDED_BY(mu)
  Status verdict;                                      // GUARDED_BY(mu)

  size_t ReceivedCount() {
    std::lock_guard<std::mutex> lock(mu);
    return received.size();
  }
  // Sequence numbers received from `from`, in arrival order.
  std::vector<int64_t> From(uint32_t from) {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<int64_t> seqs;
    for (const auto& [sender, seq] : received) {
      if (sender == from) seqs.push_back(seq);
    }
    return seqs;
  }
  void SetVerdict(Status status) {
    std::lock_guard<std::mutex> lock(mu);
    verdict = std::move(status);
  }
  std::optional<PeerLinks::LinkStatus> Link(uint32_t peer) const {
    for (const PeerLinks::LinkStatus& status : links->LinkStatuses()) {
      if (status.peer == peer) return status;
    }
    return std::nullopt;
  }
  std::string LastError(uint32_t peer) const {
    auto status = Link(peer);
    return status ? status->last_error : "";
  }
};

// A hand-made TLS peer for protocol violations. Owns its io_context; every
// operation is bounded by a deadline.
class RawPeer {
 public:
  explicit RawPeer(ssl::context& tls) : stream_(io_context_, tls) {}

  bool Connect(uint16_t port) {
    if (!SetExpectedServerName(stream_.native_handle(), "127.0.0.1").ok()) return false;
    std::optional<error_code> outcome;
    stream_.lowest_layer().async_connect(
        tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), [&](error_code ec) {
          if (ec) {
            outcome = ec;
            return;
          }
          stream_.async_handshake(ssl::stream_base::client, [&](error_code ec) { outcome = ec; });
        });
    return Run() && !*outcome;
  }

  bool Write(const std::string& bytes) {
    std::optional<error_code> outcome;
    boost::asio::async_write(stream_, boost::asio::buffer(bytes),
                             [&](error_code ec, size_t) { outcome = ec; });
    return Run() && !*outcome;
  }

  bool WriteFrame(const pb::PeerFrame& frame) {
    auto encoded = EncodeFrame(frame.SerializeAsString());
    return encoded.ok() && Write(*encoded);
  }

  std::optional<pb::PeerFrame> ReadFrame() {
    std::optional<error_code> outcome;
    std::string payload;
    AsyncReadFrame(stream_, payload, kDefaultMaxFrameBytes,
                   [&](error_code ec, size_t) { outcome = ec; });
    pb::PeerFrame frame;
    if (!Run() || *outcome || !frame.ParseFromString(payload)) return std::nullopt;
    return frame;
  }

  // True if the other side closes the connection within the deadline.
  bool WaitClosed() {
    std::optional<error_code> outcome;
    char buffer[4096];
    std::function<void()> read = [&] {
      stream_.async_read_some(boost::asio::buffer(buffer), [&](error_code ec, size_t) {
        if (ec) {
          outcome = ec;
        } else {
          read();
        }
      });
    };
    read();
    return Run() && outcome.has_value();
  }

 private:
  // Runs until the started operations finish or 10 s pass; on timeout
  // closes the socket and drains. Returns false on timeout.
  bool Run() {
    io_context_.restart();
    io_context_.run_for(seconds(10));
    if (io_context_.stopped()) return true;
    error_code ignored;
    stream_.lowest_layer().close(ignored);
    io_context_.run();
    return false;
  }

  boost::asio::io_context io_context_;
  ssl::stream<tcp::socket> stream_;
};

class PeerLinksTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new PeerPki;
    auto ca = CreateCertificateAuthority("coffer-test-ca");
    ASSERT_TRUE(ca.ok());
    pki_->ca = *ca;
    for (uint32_t id = 1; id <= 4; ++id) {
      pki_->nodes[id] = Issue(pki_->ca, "node" + std::to_string(id), "node");
    }
    pki_->admin = Issue(pki_->ca, "admin", "admin");
    auto other = CreateCertificateAuthority("other-ca");
    ASSERT_TRUE(other.ok());
    pki_->other_ca = *other;
    pki_->other_node = Issue(pki_->other_ca, "node3", "node");
  }

  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    // Two threads, so that the per-connection strands matter.
    for (int i = 0; i < 2; ++i) io_threads_.emplace_back([this] { io_context_.run(); });
  }

  void TearDown() override {
    for (auto& node : nodes_) {
      if (node->links) node->links->Stop();
    }
    work_.reset();
    for (std::thread& thread : io_threads_) thread.join();
    // Their strands and sockets must go before the io_context.
    for (auto& node : nodes_) node->links.reset();
  }

  static TlsCredentials Credentials(const PemPair& ca, const PemPair& own) {
    return TlsCredentials{ca.cert_pem, own.cert_pem, own.key_pem};
  }

  static PeerLinksOptions Options(uint32_t id, uint16_t port) {
    PeerLinksOptions options;
    options.listen_host = "127.0.0.1";
    options.port = port;
    options.cluster_id = kCluster;
    options.self_id = id;
    options.release_version = "0.1.0";
    options.handshake_timeout = milliseconds(5000);
    options.reconnect_min = milliseconds(10);
    options.reconnect_max = milliseconds(200);
    return options;
  }

  // A node with the cluster CA and certificate node<id>, not yet started.
  TestNode* MakeNode(uint32_t id, const TlsCredentials* client = nullptr,
                     const TlsCredentials* server = nullptr) {
    auto node = std::make_unique<TestNode>();
    node->id = id;
    TlsCredentials own = Credentials(pki_->ca, pki_->nodes.at(id));
    auto server_tls = MakeServerTlsContext(server ? *server : own);
    EXPECT_TRUE(server_tls.ok()) << server_tls.status().ToString();
    auto client_tls = MakeClientTlsContext(client ? *client : own);
    EXPECT_TRUE(client_tls.ok()) << client_tls.status().ToString();
    if (!server_tls.ok() || !client_tls.ok()) return nullptr;
    node->server_tls = std::move(server_tls).value();
    node->client_tls = std::move(client_tls).value();
    nodes_.push_back(std::move(node));
    return nodes_.back().get();
  }

  Status StartNode(TestNode* node, PeerLinksOptions options) {
    auto admit = [node](const pb::PeerHello& hello, const ClientIdentity& identity) {
      std::lock_guard<std::mutex> lock(node->mu);
      node->hellos.push_back(hello);
      node->identities.push_back(identity);
      return node->verdict;
    };
    auto deliver = [node](uint32_t from, pb::ReplicationMessage message) {
      std::lock_guard<std::mutex> lock(node->mu);
      node->received.emplace_back(from, message.report().sent_micros());
    };
    auto links = PeerLinks::Start(io_context_, *node->server_tls, *node->client_tls,
                                  std::move(options), admit, deliver);
    if (!links.ok()) return links.status();
    node->links = std::move(links).value();
    return Status::Ok();
  }

  // Makes and starts node<id> on a fresh port.
  TestNode* StartedNode(uint32_t id) {
    TestNode* node = MakeNode(id);
    if (node == nullptr) return nullptr;
    Status started = StartNode(node, Options(id, PickPort()));
    EXPECT_TRUE(started.ok()) << started.ToString();
    return started.ok() ? node : nullptr;
  }

  static std::string AddressOf(const TestNode* node) { return Address(node->links->port()); }

  // Waits until `dialer` reports an outgoing failure to `peer` that starts
  // with `prefix`.
  static bool WaitForError(TestNode* dialer, uint32_t peer, const std::string& prefix) {
    return WaitFor([&] { return dialer->LastError(peer).starts_with(prefix); });
  }

  static PeerPki* pki_;
  // Declared before the io_context so that they outlive its handlers.
  std::vector<std::unique_ptr<TestNode>> nodes_;
  std::vector<std::unique_ptr<ssl::context>> extra_tls_;
  boost::asio::io_context io_context_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_context_)};
  std::vector<std::thread> io_threads_;
};

PeerPki* PeerLinksTest::pki_ = nullptr;

TEST_F(PeerLinksTest, StartValidatesOptions) {
  TestNode* node = MakeNode(1);
  ASSERT_NE(node, nullptr);
  PeerLinksOptions no_port = Options(1, 0);
  EXPECT_EQ(StartNode(node, no_port).code(), Code::kInvalidArgument);
  PeerLinksOptions no_id = Options(0, PickPort());
  EXPECT_EQ(StartNode(node, no_id).code(), Code::kInvalidArgument);
  PeerLinksOptions no_cluster = Options(1, PickPort());
  no_cluster.cluster_id.clear();
  EXPECT_EQ(StartNode(node, no_cluster).code(), Code::kInvalidArgument);
  PeerLinksOptions bad_backoff = Options(1, PickPort());
  bad_backoff.reconnect_max = milliseconds(1);
  EXPECT_EQ(StartNode(node, bad_backoff).code(), Code::kInvalidArgument);
  PeerLinksOptions no_queue = Options(1, PickPort());
  no_queue.max_queued_messages_per_peer = 0;
  EXPECT_EQ(StartNode(node, no_queue).code(), Code::kInvalidArgument);
  auto missing = PeerLinks::Start(io_context_, *node->server_tls, *node->client_tls,
                                  Options(1, PickPort()), nullptr, nullptr);
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);

  // A taken port.
  TestNode* first = StartedNode(2);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(StartNode(node, Options(1, first->links->port())).code(), Code::kUnavailable);
}

// With source_ip set, outgoing links leave from that address: a listener in
// the test's place sees the dial come from it. A source of another address
// family than the peer's fails the dial with a clear error instead.
TEST_F(PeerLinksTest, OutgoingLinksLeaveFromTheSourceIp) {
  using tcp = boost::asio::ip::tcp;
  boost::asio::io_context io;
  tcp::acceptor listener(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  TestNode* a = MakeNode(1);
  ASSERT_NE(a, nullptr);
  PeerLinksOptions options = Options(1, PickPort());
  options.source_ip = "127.0.0.7";
  ASSERT_TRUE(StartNode(a, options).ok());
  a->links->SetPeers({{2, Address(listener.local_endpoint().port())}});
  tcp::socket accepted(io);
  std::optional<boost::system::error_code> ec;
  listener.async_accept(accepted, [&](const boost::system::error_code& e) { ec = e; });
  io.run_for(std::chrono::seconds(10));  // the link dials at once
  ASSERT_TRUE(ec.has_value()) << "no dial within 10 s";
  ASSERT_FALSE(*ec) << ec->message();
  EXPECT_EQ(accepted.remote_endpoint().address().to_string(), "127.0.0.7");

  TestNode* b = MakeNode(3);
  ASSERT_NE(b, nullptr);
  PeerLinksOptions foreign = Options(3, PickPort());
  foreign.source_ip = "::1";
  ASSERT_TRUE(StartNode(b, foreign).ok());
  b->links->SetPeers({{2, Address(listener.local_endpoint().port())}});
  EXPECT_TRUE(WaitFor([&] {
    return b->LastError(2).find("has no address of the family of ::1") != std::string::npos;
  })) << b->LastError(2);
}

TEST_F(PeerLinksTest, TwoNodesExchangeMessagesInOrder) {
  TestNode* a = StartedNode(1);
  TestNode* b = StartedNode(2);
  ASSERT_TRUE(a && b);
  a->links->SetPeers({{2, AddressOf(b)}});
  b->links->SetPeers({{1, AddressOf(a)}});
  constexpr int kCount = 300;
  for (int i = 0; i < kCount; ++i) {
    a->links->Send(2, Numbered(i));
    b->links->Send(1, Numbered(1000 + i));
  }
  ASSERT_TRUE(WaitFor([&] { return a->ReceivedCount() == kCount && b->ReceivedCount() == kCount; }))
      << a->ReceivedCount() << " " << b->ReceivedCount();
  std::vector<int64_t> expected_at_b, expected_at_a;
  for (int i = 0; i < kCount; ++i) {
    expected_at_b.push_back(i);
    expected_at_a.push_back(1000 + i);
  }
  EXPECT_EQ(b->From(1), expected_at_b);
  EXPECT_EQ(a->From(2), expected_at_a);

  ASSERT_TRUE(WaitFor([&] {
    auto status = a->Link(2);
    return status && status->sent == kCount;
  }));
  auto at_a = a->Link(2);
  ASSERT_TRUE(at_a.has_value());
  EXPECT_TRUE(at_a->outgoing_connected);
  EXPECT_TRUE(at_a->incoming_connected);
  EXPECT_EQ(at_a->received, static_cast<uint64_t>(kCount));
  EXPECT_EQ(at_a->dropped, 0u);
  EXPECT_EQ(at_a->last_error, "");

  // The AdmitFn saw the dialer's hello and certificate.
  {
    std::lock_guard<std::mutex> lock(b->mu);
    ASSERT_FALSE(b->hellos.empty());
    const pb::PeerHello& hello = b->hellos.front();
    EXPECT_EQ(hello.cluster_id(), kCluster);
    EXPECT_EQ(hello.node_id(), 1u);
    EXPECT_EQ(hello.expected_node_id(), 2u);
    EXPECT_EQ(hello.release_version(), "0.1.0");
    EXPECT_EQ(hello.protocol_version(), kPeerProtocolVersion);
    EXPECT_EQ(b->identities.front().common_name, "node1");
    EXPECT_EQ(b->identities.front().organizational_unit, "node");
  }
  EXPECT_EQ(a->links->refused_handshakes(), 0u);
  EXPECT_EQ(b->links->refused_handshakes(), 0u);
}

TEST_F(PeerLinksTest, ThreeNodesFullMesh) {
  std::vector<TestNode*> nodes = {StartedNode(1), StartedNode(2), StartedNode(3)};
  for (TestNode* node : nodes) ASSERT_NE(node, nullptr);
  for (TestNode* node : nodes) {
    std::map<uint32_t, std::string> peers;
    for (TestNode* other : nodes) peers[other->id] = AddressOf(other);  // self is ignored
    node->links->SetPeers(peers);
  }
  constexpr int kCount = 100;
  for (int i = 0; i < kCount; ++i) {
    for (TestNode* from : nodes) {
      for (TestNode* to : nodes) {
        if (from != to) from->links->Send(to->id, Numbered(from->id * 10000 + i));
      }
    }
  }
  ASSERT_TRUE(WaitFor([&] {
    for (TestNode* node : nodes) {
      if (node->ReceivedCount() != 2 * kCount) return false;
    }
    return true;
  }));
  for (TestNode* to : nodes) {
    for (TestNode* from : nodes) {
      if (from == to) continue;
      std::vector<int64_t> expected;
      for (int i = 0; i < kCount; ++i) expected.push_back(from->id * 10000 + i);
      EXPECT_EQ(to->From(from->id), expected) << from->id << " -> " << to->id;
    }
    EXPECT_EQ(to->links->dropped_unknown_peer(), 0u);
  }
}

TEST_F(PeerLinksTest, OtherClusterIsRefused) {
  TestNode* a = MakeNode(1);
  TestNode* b = StartedNode(2);
  ASSERT_TRUE(a && b);
  PeerLinksOptions options = Options(1, PickPort());
  options.cluster_id = "another-cluster";
  ASSERT_TRUE(StartNode(a, options).ok());
  a->links->SetPeers({{2, AddressOf(b)}});
  a->links->Send(2, Numbered(1));
  ASSERT_TRUE(WaitForError(a, 2, "INVALID_ARGUMENT: other cluster")) << a->LastError(2);
  // It keeps retrying and keeps being refused.
  ASSERT_TRUE(WaitFor([&] { return b->links->refused_handshakes() >= 2; }));
  EXPECT_EQ(b->ReceivedCount(), 0u);
  EXPECT_FALSE(a->Link(2)->outgoing_connected);
  // The built-in check comes before the AdmitFn.
  std::lock_guard<std::mutex> lock(b->mu);
  EXPECT_TRUE(b->hellos.empty());
}

TEST_F(PeerLinksTest, WrongExpectedNodeIsRefused) {
  TestNode* a = StartedNode(1);
  TestNode* b = StartedNode(2);
  ASSERT_TRUE(a && b);
  a->links->SetPeers({{5, AddressOf(b)}});
  a->links->Send(5, Numbered(1));
  ASSERT_TRUE(WaitForError(a, 5, "INVALID_ARGUMENT: this is node 2, not node 5"))
      << a->LastError(5);
  EXPECT_EQ(b->ReceivedCount(), 0u);
}

TEST_F(PeerLinksTest, AdmitFnRefusalIsReportedToTheDialer) {
  TestNode* a = StartedNode(1);
  TestNode* b = StartedNode(2);
  ASSERT_TRUE(a && b);
  b->SetVerdict(NotFound("unknown or deleted node"));
  a->links->SetPeers({{2, AddressOf(b)}});
  a->links->Send(2, Numbered(1));
  ASSERT_TRUE(WaitFor([&] { return a->LastError(2) == "NOT_FOUND: unknown or deleted node"; }))
      << a->LastError(2);
  ASSERT_TRUE(WaitFor([&] { return b->links->refused_handshakes() >= 2; }));
  EXPECT_EQ(b->ReceivedCount(), 0u);

  // Once admitted, the queued message goes through.
  b->SetVerdict(Status::Ok());
  ASSERT_TRUE(WaitFor([&] { return b->ReceivedCount() == 1; }));
  EXPECT_EQ(b->From(1), std::vector<int64_t>{1});
}

// Issue 11, item 8: a hello with an unknown protocol version (2^32-1 was
// welcomed on main) is refused with INCOMPATIBLE_VERSION, before the AdmitFn.
TEST_F(PeerLinksTest, UnknownProtocolVersionIsRefused) {
  TestNode* b = StartedNode(2);
  ASSERT_NE(b, nullptr);
  auto tls = MakeClientTlsContext(Credentials(pki_->ca, pki_->nodes.at(1)));
  ASSERT_TRUE(tls.ok());
  for (uint32_t version : {0u, kPeerProtocolVersion + 1, 0xffffffffu}) {
    RawPeer raw(**tls);
    ASSERT_TRUE(raw.Connect(b->links->port()));
    pb::PeerFrame hello;
    hello.mutable_hello()->set_cluster_id(kCluster);
    hello.mutable_hello()->set_node_id(1);
    hello.mutable_hello()->set_expected_node_id(2);
    hello.mutable_hello()->set_release_version("0.1.0");
    hello.mutable_hello()->set_protocol_version(version);
    ASSERT_TRUE(raw.WriteFrame(hello));
    auto answer = raw.ReadFrame();
    ASSERT_TRUE(answer.has_value()) << version;
    ASSERT_TRUE(answer->has_refusal()) << version << ": " << answer->DebugString();
    EXPECT_EQ(answer->refusal().code(), "INCOMPATIBLE_VERSION");
    EXPECT_TRUE(raw.WaitClosed());
  }
  EXPECT_EQ(b->links->refused_handshakes(), 3u);
  std::lock_guard<std::mutex> lock(b->mu);
  EXPECT_TRUE(b->hellos.empty());
}

TEST_F(PeerLinksTest, NonNodeCertificateIsRefused) {
  TlsCredentials admin = Credentials(pki_->ca, pki_->admin);
  TestNode* a = MakeNode(1, &admin, &admin);
  TestNode* b = StartedNode(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(StartNode(a, Options(1, PickPort())).ok());
  a->links->SetPeers({{2, AddressOf(b)}});
  a->links->Send(2, Numbered(1));
  ASSERT_TRUE(WaitForError(a, 2, "PERMISSION_DENIED")) << a->LastError(2);
  EXPECT_EQ(b->ReceivedCount(), 0u);
}

TEST_F(PeerLinksTest, CertificateFromAnotherCaFailsTheTlsHandshake) {
  TestNode* b = StartedNode(2);
  ASSERT_NE(b, nullptr);

  // A node of another cluster CA: it does not trust b, and b does not trust it.
  TlsCredentials foreign = Credentials(pki_->other_ca, pki_->other_node);
  TestNode* c = MakeNode(3, &foreign, &foreign);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(StartNode(c, Options(3, PickPort())).ok());
  c->links->SetPeers({{2, AddressOf(b)}});
  c->links->Send(2, Numbered(1));
  ASSERT_TRUE(WaitForError(c, 2, "UNAVAILABLE: TLS handshake")) << c->LastError(2);
  ASSERT_TRUE(WaitFor([&] { return b->links->failed_handshakes() >= 1; }));

  c->links->Stop();

  // A dialer that trusts b's CA but presents a certificate from another CA:
  // b rejects it (TLS 1.3 shows it to the dialer after its own handshake).
  auto tls = std::make_unique<ssl::context>(ssl::context::tls_client);
  tls->add_certificate_authority(boost::asio::buffer(pki_->ca.cert_pem));
  tls->set_verify_mode(ssl::verify_peer);
  tls->use_certificate_chain(boost::asio::buffer(pki_->other_node.cert_pem));
  tls->use_private_key(boost::asio::buffer(pki_->other_node.key_pem), ssl::context::pem);
  SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_3_VERSION);
  TestNode* d = MakeNode(4);
  ASSERT_NE(d, nullptr);
  d->client_tls = std::move(tls);
  ASSERT_TRUE(StartNode(d, Options(4, PickPort())).ok());
  uint64_t failures = b->links->failed_handshakes();
  d->links->SetPeers({{2, AddressOf(b)}});
  d->links->Send(2, Numbered(1));
  ASSERT_TRUE(WaitFor([&] { return b->links->failed_handshakes() > failures; }));
  ASSERT_TRUE(WaitForError(d, 2, "UNAVAILABLE")) << d->LastError(2);

  EXPECT_EQ(b->ReceivedCount(), 0u);
  EXPECT_EQ(b->links->refused_handshakes(), 0u);
  std::lock_guard<std::mutex> lock(b->mu);
  EXPECT_TRUE(b->hellos.empty());
}

TEST_F(PeerLinksTest, ReconnectsAfterPeerRestart) {
  TestNode* a = StartedNode(1);
  TestNode* b = StartedNode(2);
  ASSERT_TRUE(a && b);
  uint16_t b_port = b->links->port();
  a->links->SetPeers({{2, AddressOf(b)}});
  a->links->Send(2, Numbered(1));
  ASSERT_TRUE(WaitFor([&] { return b->ReceivedCount() == 1; }));

  b->links->Stop();
  b->links.reset();
  ASSERT_TRUE(WaitFor([&] { return !a->Link(2)->outgoing_connected; }));
  ASSERT_TRUE(WaitFor([&] { return !a->LastError(2).empty(); }));

  // Restart on the same port (the old listener closes asynchronously).
  TestNode* b2 = MakeNode(2);
  ASSERT_NE(b2, nullptr);
  ASSERT_TRUE(WaitFor([&] { return StartNode(b2, Options(2, b_port)).ok(); }));
  // a redials on its own, without a Send.
  ASSERT_TRUE(WaitFor([&] {
    auto status = b2->Link(1);
    return status && status->incoming_connected;
  }));
  ASSERT_TRUE(WaitFor([&] { return a->Link(2)->outgoing_connected; }));
  for (int i = 10; i < 20; ++i) a->links->Send(2, Numbered(i));
  ASSERT_TRUE(WaitFor([&] { return b2->ReceivedCount() == 10; }));
  std::vector<int64_t> expected;
  for (int i = 10; i < 20; ++i) expected.push_back(i);
  EXPECT_EQ(b2->From(1), expected);
}

// A link that failed (connection refused) and came up again shows no error:
// `node status` printed the refusal next to a link that was up.
TEST_F(PeerLinksTest, LastErrorIsClearedOnceTheLinkIsUpAgain) {
  TestNode* a = StartedNode(1);
  TestNode* b = StartedNode(2);
  ASSERT_TRUE(a && b);
  uint16_t b_port = b->links->port();
  a->links->SetPeers({{2, AddressOf(b)}});
  ASSERT_TRUE(WaitFor([&] { return a->Link(2)->outgoing_connected; }));
  b->links->Stop();
  b->links.reset();
  ASSERT_TRUE(WaitFor([&] { return !a->LastError(2).empty(); }));

  TestNode* b2 = MakeNode(2);
  ASSERT_NE(b2, nullptr);
  ASSERT_TRUE(WaitFor([&] { return StartNode(b2, Options(2, b_port)).ok(); }));
  ASSERT_TRUE(WaitFor([&] { return a->Link(2)->outgoing_connected; }));
  EXPECT_EQ(a->LastError(2), "");
}

TEST_F(PeerLinksTest, DropsAndCountsWithoutBlocking) {
  TestNode* a = MakeNode(1);
  ASSERT_NE(a, nullptr);
  PeerLinksOptions options = Options(1, PickPort());
  options.max_queued_messages_per_peer = 4;
  options.max_frame_bytes = 1024;
  ASSERT_TRUE(StartNode(a, options).ok());
  // Nothing listens there: the link never comes up, so the queue fills.
  a->links->SetPeers({{2, Address(PickPort())}, {3, "no-port-here"}});

  auto start = steady_clock::now();
  pb::ReplicationMessage huge;
  huge.mutable_records()->add_records()->set_request_id(std::string(4096, 'x'));
  a->links->Send(2, huge);
  for (int i = 0; i < 10; ++i) a->links->Send(2, Numbered(i));
  a->links->Send(99, Numbered(0));
  a->links->Send(3, Numbered(0));
  EXPECT_LT(steady_clock::now() - start, seconds(2));

  EXPECT_EQ(a->links->dropped_unknown_peer(), 1u);
  auto to_2 = a->Link(2);
  ASSERT_TRUE(to_2.has_value());
  EXPECT_EQ(to_2->dropped, 7u);  // the oversized one + 6 over the queue limit
  EXPECT_FALSE(to_2->outgoing_connected);
  ASSERT_TRUE(WaitForError(a, 2, "UNAVAILABLE: cannot connect")) << a->LastError(2);
  auto to_3 = a->Link(3);
  ASSERT_TRUE(to_3.has_value());
  EXPECT_EQ(to_3->dropped, 1u);
  EXPECT_TRUE(to_3->last_error.starts_with("INVALID_ARGUMENT")) << to_3->last_error;

  // After Stop, Send is still safe.
  a->links->Stop();
  a->links->Stop();
  a->links->Send(2, Numbered(0));
}

TEST_F(PeerLinksTest, RemovingAPeerClosesItsLinks) {
  TestNode* a = StartedNode(1);
  TestNode* b = StartedNode(2);
  ASSERT_TRUE(a && b);
  a->links->SetPeers({{2, AddressOf(b)}});
  b->links->SetPeers({{1, AddressOf(a)}});
  ASSERT_TRUE(WaitFor([&] {
    auto at_a = a->Link(2);
    auto at_b = b->Link(1);
    return at_a && at_b && at_a->outgoing_connected && at_a->incoming_connected &&
           at_b->outgoing_connected && at_b->incoming_connected;
  }));
  a->links->SetPeers({});
  EXPECT_FALSE(a->Link(2).has_value());
  ASSERT_TRUE(WaitFor([&] {
    auto at_b = b->Link(1);
    return !at_b->incoming_connected && !at_b->outgoing_connected;
  }));
  a->links->Send(2, Numbered(1));
  EXPECT_EQ(a->links->dropped_unknown_peer(), 1u);
}

TEST_F(PeerLinksTest, BadFramesCloseOnlyThatConnection) {
  TestNode* a = StartedNode(1);
  TestNode* b = StartedNode(2);
  ASSERT_TRUE(a && b);
  a->links->SetPeers({{2, AddressOf(b)}});
  a->links->Send(2, Numbered(1));
  ASSERT_TRUE(WaitFor([&] { return b->ReceivedCount() == 1; }));

  auto tls = MakeClientTlsContext(Credentials(pki_->ca, pki_->nodes.at(4)));
  ASSERT_TRUE(tls.ok());
  pb::PeerFrame hello;
  hello.mutable_hello()->set_cluster_id(kCluster);
  hello.mutable_hello()->set_node_id(4);
  hello.mutable_hello()->set_expected_node_id(2);
  hello.mutable_hello()->set_release_version("0.1.0");
  hello.mutable_hello()->set_protocol_version(kPeerProtocolVersion);

  // Each violation after a welcome, on its own connection.
  std::string header_too_large("\xff\xff\xff\xff", 4);
  std::string unparsable = std::string("\x00\x00\x00\x03", 4) + "abc";
  pb::PeerFrame second_hello = hello;
  auto wrong_kind = EncodeFrame(second_hello.SerializeAsString());
  ASSERT_TRUE(wrong_kind.ok());
  for (const std::string& bad : {header_too_large, unparsable, *wrong_kind}) {
    RawPeer raw(**tls);
    ASSERT_TRUE(raw.Connect(b->links->port()));
    ASSERT_TRUE(raw.WriteFrame(hello));
    auto welcome = raw.ReadFrame();
    ASSERT_TRUE(welcome.has_value());
    ASSERT_TRUE(welcome->has_welcome());
    EXPECT_EQ(welcome->welcome().node_id(), 2u);
    ASSERT_TRUE(raw.Write(bad));
    EXPECT_TRUE(raw.WaitClosed());
  }

  // A first frame that is not a hello.
  {
    RawPeer raw(**tls);
    ASSERT_TRUE(raw.Connect(b->links->port()));
    pb::PeerFrame message;
    *message.mutable_message() = Numbered(7);
    ASSERT_TRUE(raw.WriteFrame(message));
    EXPECT_TRUE(raw.WaitClosed());
  }
  EXPECT_EQ(b->From(4), std::vector<int64_t>{});

  // The link from a is unaffected.
  a->links->Send(2, Numbered(2));
  ASSERT_TRUE(WaitFor([&] { return b->ReceivedCount() == 2; }));
  EXPECT_EQ(b->From(1), (std::vector<int64_t>{1, 2}));
}

TEST_F(PeerLinksTest, SilentConnectionsAreClosed) {
  TestNode* b = MakeNode(2);
  ASSERT_NE(b, nullptr);
  PeerLinksOptions options = Options(2, PickPort());
  options.handshake_timeout = milliseconds(200);
  options.idle_timeout = milliseconds(300);
  ASSERT_TRUE(StartNode(b, options).ok());

  // Plain TCP that never starts the TLS handshake.
  {
    boost::asio::io_context io;
    tcp::socket socket(io);
    error_code ec;
    socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), b->links->port()), ec);
    ASSERT_FALSE(ec) << ec.message();
    std::optional<error_code> outcome;
    char byte;
    socket.async_read_some(boost::asio::buffer(&byte, 1),
                           [&](error_code ec, size_t) { outcome = ec; });
    io.run_for(seconds(10));
    EXPECT_TRUE(outcome.has_value());
    EXPECT_TRUE(WaitFor([&] { return b->links->failed_handshakes() == 1; }));
  }

  // TLS, but no hello.
  auto tls = MakeClientTlsContext(Credentials(pki_->ca, pki_->nodes.at(1)));
  ASSERT_TRUE(tls.ok());
  {
    RawPeer raw(**tls);
    ASSERT_TRUE(raw.Connect(b->links->port()));
    EXPECT_TRUE(raw.WaitClosed());
    EXPECT_TRUE(WaitFor([&] { return b->links->failed_handshakes() == 2; }));
  }

  // Welcomed, then silent past the idle timeout.
  {
    RawPeer raw(**tls);
    ASSERT_TRUE(raw.Connect(b->links->port()));
    pb::PeerFrame hello;
    hello.mutable_hello()->set_cluster_id(kCluster);
    hello.mutable_hello()->set_node_id(1);
    hello.mutable_hello()->set_expected_node_id(2);
    hello.mutable_hello()->set_protocol_version(kPeerProtocolVersion);
    ASSERT_TRUE(raw.WriteFrame(hello));
    auto welcome = raw.ReadFrame();
    ASSERT_TRUE(welcome.has_value() && welcome->has_welcome());
    ASSERT_TRUE(WaitFor([&] { return b->Link(1) && b->Link(1)->incoming_connected; }));
    EXPECT_TRUE(raw.WaitClosed());
    EXPECT_TRUE(WaitFor([&] { return !b->Link(1)->incoming_connected; }));
  }
  EXPECT_EQ(b->ReceivedCount(), 0u);
}

TEST_F(PeerLinksTest, StrangersCannotKeepThePeersOut) {
  TestNode* a = StartedNode(1);
  TestNode* b = MakeNode(2);
  ASSERT_TRUE(a && b);
  PeerLinksOptions options = Options(2, PickPort());
  options.unauthenticated = SlotLimits{4, 2};
  // Only eviction frees a place (main's listener waited for these).
  options.handshake_timeout = milliseconds(60000);
  options.unauthenticated_timeout = milliseconds(60000);
  options.max_incoming_connections = 1;
  ASSERT_TRUE(StartNode(b, options).ok());

  // 100 plain TCP connections that never start a TLS handshake, from 2
  // other source addresses, all held open.
  boost::asio::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 100; ++i) {
    auto socket = std::make_unique<tcp::socket>(io);
    error_code ec;
    socket->open(tcp::v4(), ec);
    if (!ec) {
      socket->bind(
          tcp::endpoint(boost::asio::ip::make_address(i % 2 ? "127.0.0.2" : "127.0.0.3"), 0), ec);
    }
    if (!ec) {
      socket->connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), b->links->port()),
                      ec);
    }
    ASSERT_FALSE(ec) << i << ": " << ec.message();
    idle.push_back(std::move(socket));
  }
  // The peer still links up and delivers.
  a->links->SetPeers({{2, AddressOf(b)}});
  a->links->Send(2, Numbered(7));
  ASSERT_TRUE(WaitFor([&] { return b->ReceivedCount() == 1; }, seconds(5)));
  EXPECT_EQ(b->From(1), std::vector<int64_t>{7});
}

}  // namespace
}  // namespace coffer::node
