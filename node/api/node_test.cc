// The node composition in-process: start, serve, stop, start again.
#include "node/node.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include "node/client/client.h"
#include "node/net/certs.h"
#include "node/net/tls.h"
#include "storage/test_util.h"

namespace coffer::node {
namespace {

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = *CreateCertificateAuthority("node test CA");
    auto node_cert = *IssueCertificate(ca, {"node1", "node", {"127.0.0.1"}, {}, 30});
    auto admin = *IssueCertificate(ca, {"admin", "admin", {}, {}, 30});
    std::string d = dir_.path();
    ASSERT_TRUE(WritePemPair(ca, d + "/ca.pem", d + "/ca.key").ok());
    ASSERT_TRUE(WritePemPair(node_cert, d + "/node1.pem", d + "/node1.key").ok());
    config_.node.data_dir = d + "/data";
    config_.tls = {d + "/ca.pem", d + "/node1.pem", d + "/node1.key", 2000, 60000};
    config_.root_of_trust.scrypt_n = 1024;
    // A free loopback port (listen requires 1..65535); the node binds it next.
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(
        io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    port_ = probe.local_endpoint().port();
    client_tls_ =
        std::move(MakeClientTlsContext(TlsCredentials{ca.cert_pem, admin.cert_pem, admin.key_pem}))
            .value();
  }

  std::unique_ptr<Node> StartNode(NodeEnv env = {}) {
    config_.node.listen = "127.0.0.1:" + std::to_string(port_);
    config_.node.http_listen = "";  // the monitoring endpoint is tested with real processes
    auto node = Node::Start(config_, SecretBytes("node-test-passphrase"), env);
    EXPECT_TRUE(node.ok()) << node.status().ToString();
    if (!node.ok()) return nullptr;
    return std::move(node).value();
  }

  StatusOr<pb::Response> Call(const pb::Request& request) {
    auto client = CofferClient::Connect("127.0.0.1", port_, *client_tls_, std::chrono::seconds(5));
    if (!client.ok()) return client.status();
    return (*client)->Call(request, std::chrono::seconds(5));
  }

  storage::testing::TempDir dir_;
  NodeConfig config_;
  std::unique_ptr<boost::asio::ssl::context> client_tls_;
  uint16_t port_ = 0;
};

TEST_F(NodeTest, StopReleasesPortAndStoreSoTheNodeRestartsWithItsData) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  pb::Request create;
  create.set_request_id("r1");
  create.mutable_write()->mutable_create_key()->set_name("survivor");
  auto created = Call(create);
  ASSERT_TRUE(created.ok() && created->code() == "OK") << created.status().ToString();
  node->Stop();
  node->Stop();  // idempotent
  EXPECT_FALSE(Call(create).ok()) << "nothing listens after Stop";
  node.reset();

  node = StartNode();
  ASSERT_NE(node, nullptr) << "port and RocksDB lock were released";
  pb::Request get;
  get.mutable_get()->set_uuid(created->op_result().uuid());
  auto got = Call(get);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->code(), "OK");
  EXPECT_EQ(got->object().name(), "survivor");
}

// Node::Start takes the clock and rng it runs on: the node's uptime and an
// object's creation time follow the injected clock, and two fresh nodes on
// the same seed give their first object the same uuid.
TEST_F(NodeTest, TheNodeRunsOnTheInjectedClockAndRng) {
  const int64_t start = 1'800'000'000'000'000;
  std::string first_uuid;
  for (const std::string data : {"/seeded-a", "/seeded-b"}) {
    config_.node.data_dir = dir_.path() + data;
    ManualClock clock(start);
    SeededRng rng(7);
    auto node = StartNode(NodeEnv{.clock = &clock, .rng = &rng});
    ASSERT_NE(node, nullptr);
    clock.Advance(90'000'000);
    pb::Request create;
    create.set_request_id("r1");
    create.mutable_write()->mutable_create_key()->set_name("seeded");
    auto created = Call(create);
    ASSERT_TRUE(created.ok() && created->code() == "OK") << created.status().ToString();
    pb::Request get;
    get.mutable_get()->set_uuid(created->op_result().uuid());
    auto got = Call(get);
    ASSERT_TRUE(got.ok() && got->code() == "OK");
    EXPECT_EQ(got->object().created_micros(), start + 90'000'000);
    pb::Request status;
    status.mutable_node_status();
    auto self = Call(status);
    ASSERT_TRUE(self.ok() && self->code() == "OK");
    EXPECT_EQ(self->node_status().uptime_seconds(), 90);
    if (first_uuid.empty()) {
      first_uuid = created->op_result().uuid();
    } else {
      EXPECT_EQ(created->op_result().uuid(), first_uuid);
    }
    node->Stop();
  }
}

TEST_F(NodeTest, WrongPassphraseIsRefusedAtStart) {
  { ASSERT_NE(StartNode(), nullptr); }
  auto node = Node::Start(config_, SecretBytes("not the passphrase"));
  EXPECT_EQ(node.status().code(), Code::kPermissionDenied) << node.status().ToString();
}

}  // namespace
}  // namespace coffer::node
