// Records only their origin can author (issue 11 item 3): a member's node
// certificate on another node's peer port sends a record claiming origin 1 at
// its next seq. The receiver refuses it (integrity alert: warn line,
// coffer_integrity_alerts_total, `cluster status`), and origin 1's genuine
// record at that seq then reaches every node.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <string>

#include "node/net/framing.h"
#include "node/net/peer_links.h"
#include "node/net/tls.h"
#include "storage/record_auth.h"
#include "tests/harness/cluster_fixture.h"
#include "tests/harness/coffer_cli.h"
#include "tests/harness/http_get.h"

namespace coffer::integration {
namespace {

using namespace std::chrono_literals;
using SslStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

std::string FileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A peer link to `to` as node `as_id`, with `as`'s own node certificate
// (every socket read and write bounded by 5 s).
class PeerConnection {
 public:
  static std::unique_ptr<PeerConnection> Open(NodeProcess& as, uint32_t as_id, NodeProcess& to,
                                              uint32_t to_id, const std::string& cluster_id,
                                              const std::string& version) {
    auto tls = node::MakeClientTlsContext(node::TlsCredentials{FileText(as.dir() + "/ca.pem"),
                                                               FileText(as.dir() + "/node.pem"),
                                                               FileText(as.dir() + "/node.key")});
    EXPECT_TRUE(tls.ok()) << tls.status().ToString();
    if (!tls.ok()) return nullptr;
    auto c = std::unique_ptr<PeerConnection>(new PeerConnection(std::move(tls).value()));
    try {
      c->stream_.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), to.peer_port()});
      timeval bound{5, 0};
      int fd = c->stream_.next_layer().native_handle();
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
      c->stream_.handshake(boost::asio::ssl::stream_base::client);
      pb::PeerFrame hello;
      hello.mutable_hello()->set_cluster_id(cluster_id);
      hello.mutable_hello()->set_node_id(as_id);
      hello.mutable_hello()->set_expected_node_id(to_id);
      hello.mutable_hello()->set_release_version(version);
      hello.mutable_hello()->set_protocol_version(node::kPeerProtocolVersion);
      c->Send(hello);
      std::string header(node::kFrameHeaderBytes, '\0');
      boost::asio::read(c->stream_, boost::asio::buffer(header));
      auto length = node::ParseFrameHeader(header, node::kDefaultMaxFrameBytes);
      EXPECT_TRUE(length.ok());
      if (!length.ok()) return nullptr;
      std::string payload(*length, '\0');
      boost::asio::read(c->stream_, boost::asio::buffer(payload));
      pb::PeerFrame answer;
      EXPECT_TRUE(answer.ParseFromString(payload) && answer.has_welcome())
          << answer.ShortDebugString();
      if (!answer.has_welcome()) return nullptr;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "peer connection: " << e.what();
      return nullptr;
    }
    return c;
  }

  void Send(const pb::PeerFrame& frame) {
    auto encoded = node::EncodeFrame(frame.SerializeAsString());
    ASSERT_TRUE(encoded.ok());
    boost::asio::write(stream_, boost::asio::buffer(*encoded));
  }

 private:
  explicit PeerConnection(std::unique_ptr<boost::asio::ssl::context> tls)
      : tls_(std::move(tls)), stream_(io_, *tls_) {}
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  SslStream stream_;
};

uint64_t AppliedOf(const pb::NodeStatus& status, uint32_t origin) {
  auto it = status.applied().applied().find(origin);
  return it == status.applied().applied().end() ? 0 : it->second;
}

TEST_F(ClusterTest, RecordForgedForAnotherOriginIsRefusedAndTheGenuineOneConverges) {
  auto& a = Add("node1");
  auto& b = Add("node2");
  auto& c = Add("node3");
  FormPairAndReadOnly(a, b, c);
  auto a_status = StatusOf(a);
  auto c_status = StatusOf(c);
  ASSERT_TRUE(a_status.ok() && c_status.ok());
  ASSERT_EQ(a_status->node_id(), 1u);
  const uint32_t b_id = NodeIdOf(b), c_id = NodeIdOf(c);
  ASSERT_TRUE(WaitFor([&] { return Converged({&a, &b, &c}); }, 30s));
  const uint64_t next = AppliedOf(*StatusOf(a), 1) + 1;

  // Node 2's certificate, on node 3's peer port, claims origin 1's next
  // record: a wallet origin 1 never created, signed with node 2's own key.
  pb::LogRecord forged;
  forged.set_origin(1);
  forged.set_seq(next);
  forged.mutable_hlc()->set_wall_micros(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  forged.set_request_id("forged-" + NewRequestId());
  forged.set_format(storage::kRecordFormatChained);  // no prev_digest: it chains to nothing
  forged.mutable_wallet_created()->set_uuid("6f0e8a52-1c7d-4b7e-9a3e-000000000001");
  forged.mutable_wallet_created()->set_name("forged-by-node2");
  forged.mutable_result()->set_uuid(forged.wallet_created().uuid());
  auto b_key = storage::MakeEcdsaRecordSigner(FileText(b.dir() + "/node.key"));
  ASSERT_TRUE(b_key.ok()) << b_key.status().ToString();
  ASSERT_TRUE(storage::SignRecord(**b_key, &forged).ok());
  auto link = PeerConnection::Open(b, b_id, c, c_id, a_status->cluster_id(), c_status->version());
  ASSERT_NE(link, nullptr);
  pb::PeerFrame frame;
  *frame.mutable_message()->mutable_records()->add_records() = forged;
  link->Send(frame);

  EXPECT_TRUE(WaitFor(
      [&] {
        auto s = StatusOf(c);
        return s.ok() && s->integrity_alerts() >= 1;
      },
      10s))
      << "node 3 raised no integrity alert";
  auto after = StatusOf(c);
  ASSERT_TRUE(after.ok());
  EXPECT_LT(AppliedOf(*after, 1), next) << "the forged record took origin 1's seq on node 3";
  EXPECT_THAT(after->last_integrity_alert(),
              ::testing::HasSubstr("record 1:" + std::to_string(next) + " from node " +
                                   std::to_string(b_id)));
  EXPECT_FALSE(GetWallet(c, "forged-by-node2").ok());

  // Origin 1's genuine record at that seq reaches every node.
  auto genuine = Write(a, WalletCreate("genuine-from-node1"));
  ASSERT_TRUE(genuine.ok()) << genuine.status().ToString();
  ASSERT_GE(AppliedOf(*StatusOf(a), 1), next);
  EXPECT_TRUE(WaitFor(
      [&] {
        return Converged({&a, &b, &c});
      },
      30s))
      << "digests or applied vectors differ";
  for (auto* n : {&a, &b, &c}) {
    auto wallet = GetWallet(*n, "genuine-from-node1");
    EXPECT_TRUE(wallet.ok()) << n->name() << ": " << wallet.status().ToString();
    EXPECT_FALSE(GetWallet(*n, "forged-by-node2").ok()) << n->name();
  }

  // The alert as operators see it: `cluster status`, /metrics, the log.
  EXPECT_THAT(HttpGet(c.http_port(), "/metrics").body,
              ::testing::ContainsRegex("coffer_integrity_alerts_total [1-9]"));
  EXPECT_THAT(HttpGet(a.http_port(), "/metrics").body,
              ::testing::HasSubstr("coffer_integrity_alerts_total 0"));
  std::string out;
  EXPECT_EQ(Coffer("cluster status" + CofferFlags(c), &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("INTEGRITY ALERT"));
  EXPECT_THAT(out, ::testing::HasSubstr("record 1:" + std::to_string(next)));
  EXPECT_THAT(FileText(c.log_file()), ::testing::HasSubstr("integrity alert: record 1:"));
}

}  // namespace
}  // namespace coffer::integration
