// A real `coffer` node process on loopback, driven over mutual TLS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <random>
#include <set>

#include "tests/harness/coffer_cli.h"
#include "tests/harness/node_process.h"
#include "upgrade/version.h"

namespace coffer::integration {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

pb::Request Write(const pb::Op& op, const std::string& request_id) {
  pb::Request r;
  r.set_request_id(request_id);
  *r.mutable_write() = op;
  return r;
}

pb::Request CreateKeyRequest(const std::string& name, const std::string& request_id) {
  pb::Op op;
  op.mutable_create_key()->set_name(name);
  return Write(op, request_id);
}

pb::Request UuidOp(const std::string& which, const std::string& uuid, const std::string& rid) {
  pb::Op op;
  if (which == "activate") op.mutable_activate()->set_uuid(uuid);
  if (which == "revoke") op.mutable_revoke()->set_uuid(uuid);
  if (which == "destroy") op.mutable_destroy()->set_uuid(uuid);
  return Write(op, rid);
}

pb::Request GetRequest(const std::string& uuid, bool material) {
  pb::Request r;
  r.mutable_get()->set_uuid(uuid);
  r.mutable_get()->set_include_material(material);
  return r;
}

std::string DigestOf(NodeProcess& node) {
  pb::Request r;
  r.mutable_node_status();
  auto response = node.Call(r);
  EXPECT_TRUE(response.ok()) << response.status().ToString();
  return response.ok() ? response->node_status().digest() : "";
}

class NodeIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(node_.Start()); }
  // Flags that point the `coffer` CLI at this node with an admin certificate.
  std::string CliFlags() {
    auto admin = *node::IssueCertificate(node_.ca(), {"cli", "admin", {}, {}, 30});
    EXPECT_TRUE(node::WritePemPair(admin, node_.dir() + "/cli.pem", node_.dir() + "/cli.key").ok());
    return " --address 127.0.0.1:" + std::to_string(node_.port()) + " --ca " + node_.dir() +
           "/ca.pem --cert " + node_.dir() + "/cli.pem --key " + node_.dir() + "/cli.key";
  }
  // Calls and expects a response (which may carry an error code).
  pb::Response Call(const pb::Request& request) {
    auto response = node_.Call(request);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? *response : pb::Response();
  }
  NodeProcess node_;
};

TEST_F(NodeIntegrationTest, CreateGetLocateRevokeDestroyOverMutualTls) {
  pb::Response created = Call(CreateKeyRequest("orders-master", "c1"));
  ASSERT_EQ(created.code(), "OK") << created.message();
  std::string uuid = created.op_result().uuid();

  pb::Response got = Call(GetRequest(uuid, true));
  ASSERT_EQ(got.code(), "OK");
  EXPECT_EQ(got.object().material().size(), 32u);
  EXPECT_EQ(got.object().state(), pb::PRE_ACTIVE);

  pb::Request locate;
  locate.mutable_locate()->set_name("orders-master");
  pb::Response located = Call(locate);
  ASSERT_EQ(located.located().objects_size(), 1);
  EXPECT_EQ(located.located().objects(0).uuid(), uuid);

  EXPECT_EQ(Call(UuidOp("activate", uuid, "a1")).code(), "OK");
  pb::Response again = Call(UuidOp("activate", uuid, "a2"));
  EXPECT_EQ(again.code(), "INVALID_STATE");
  EXPECT_THAT(again.message(), ::testing::HasSubstr("in state ACTIVE"));
  EXPECT_THAT(again.message(), ::testing::HasSubstr("PRE_ACTIVE"));
  EXPECT_EQ(Call(UuidOp("destroy", uuid, "d1")).code(), "INVALID_STATE");
  EXPECT_EQ(Call(UuidOp("revoke", uuid, "r1")).code(), "OK");
  EXPECT_EQ(Call(UuidOp("destroy", uuid, "d2")).code(), "OK");
  EXPECT_EQ(Call(GetRequest(uuid, false)).object().state(), pb::DESTROYED);
  EXPECT_EQ(Call(GetRequest(uuid, true)).code(), "INVALID_STATE");
  EXPECT_EQ(Call(UuidOp("revoke", uuid, "r2")).code(), "INVALID_STATE");
  // A retry of an acknowledged write returns its original result.
  pb::Response retried = Call(CreateKeyRequest("orders-master", "c1"));
  EXPECT_EQ(retried.code(), "OK");
  EXPECT_EQ(retried.op_result().uuid(), uuid);
}

// ---- Refused clients ----

// Handshakes with `ctx` and returns whether a request got an answer.
bool TryRequest(uint16_t port, asio::ssl::context& ctx) {
  auto client = node::CofferClient::Connect("127.0.0.1", port, ctx, std::chrono::seconds(5));
  if (!client.ok()) return false;
  pb::Request r;
  r.mutable_node_status();
  auto response = (*client)->Call(r, std::chrono::seconds(5));
  return response.ok() && response->code() == "OK";
}

std::unique_ptr<asio::ssl::context> RawClientContext(const node::PemPair* identity,
                                                     const std::string& ca_pem, int max_version) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx->native_handle(), max_version);
  ctx->add_certificate_authority(asio::buffer(ca_pem));
  ctx->set_verify_mode(asio::ssl::verify_peer);
  if (identity != nullptr) {
    ctx->use_certificate_chain(asio::buffer(identity->cert_pem));
    ctx->use_private_key(asio::buffer(identity->key_pem), asio::ssl::context::pem);
  }
  return ctx;
}

TEST_F(NodeIntegrationTest, RefusesClientsWithoutValidCertificateOrTls13) {
  // Sanity: a raw TLS 1.3 context with the admin identity works.
  auto admin = *node::IssueCertificate(node_.ca(), {"admin2", "admin", {}, {}, 30});
  auto good = RawClientContext(&admin, node_.ca().cert_pem, TLS1_3_VERSION);
  ASSERT_TRUE(TryRequest(node_.port(), *good));

  auto no_cert = RawClientContext(nullptr, node_.ca().cert_pem, TLS1_3_VERSION);
  EXPECT_FALSE(TryRequest(node_.port(), *no_cert)) << "client without a certificate";

  auto other_ca = *node::CreateCertificateAuthority("other CA");
  auto stranger = *node::IssueCertificate(other_ca, {"admin", "admin", {}, {}, 30});
  auto foreign = RawClientContext(&stranger, node_.ca().cert_pem, TLS1_3_VERSION);
  EXPECT_FALSE(TryRequest(node_.port(), *foreign)) << "certificate from another CA";

  auto tls12 = RawClientContext(&admin, node_.ca().cert_pem, TLS1_2_VERSION);
  EXPECT_FALSE(TryRequest(node_.port(), *tls12)) << "TLS 1.2 only";

  // An endpoint certificate is authenticated but not allowed on the admin API.
  auto endpoint = *node::IssueCertificate(node_.ca(), {"db01", "endpoint", {}, {}, 30});
  auto endpoint_ctx = RawClientContext(&endpoint, node_.ca().cert_pem, TLS1_3_VERSION);
  auto client = node::CofferClient::Connect("127.0.0.1", node_.port(), *endpoint_ctx,
                                            std::chrono::seconds(5));
  ASSERT_TRUE(client.ok());
  auto response = (*client)->Call(CreateKeyRequest("", "e1"), std::chrono::seconds(5));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->code(), "PERMISSION_DENIED");

  EXPECT_TRUE(TryRequest(node_.port(), *good)) << "the node keeps serving";
}

// Reads until the peer closes or `deadline` passes; true if it closed.
template <typename Stream>
bool PeerCloses(asio::io_context& io, Stream& stream, std::chrono::seconds deadline) {
  std::array<char, 4096> buf;
  bool closed = false;
  std::function<void()> read_more = [&] {
    stream.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, size_t) {
      if (ec) {
        closed = true;
        return;
      }
      read_more();
    });
  };
  read_more();
  io.restart();
  io.run_for(deadline);
  return closed;
}

TEST_F(NodeIntegrationTest, PlainTcpIsRefused) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), node_.port()));
  std::string frame = std::string("\0\0\0\x05hello", 9);
  asio::write(socket, asio::buffer(frame));
  EXPECT_TRUE(PeerCloses(io, socket, std::chrono::seconds(10)));
  EXPECT_TRUE(TryRequest(node_.port(), node_.admin_tls()));
}

// A TLS connection on which the test writes raw bytes.
class RawTls {
 public:
  RawTls(uint16_t port, asio::ssl::context& ctx) : stream_(io_, ctx) {
    stream_.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream_.handshake(asio::ssl::stream_base::client);
  }
  void Send(const std::string& bytes) { asio::write(stream_, asio::buffer(bytes)); }
  void ShutdownWrite() { stream_.next_layer().shutdown(tcp::socket::shutdown_send); }
  bool PeerCloses() { return integration::PeerCloses(io_, stream_, std::chrono::seconds(10)); }

 private:
  asio::io_context io_;
  asio::ssl::stream<tcp::socket> stream_;
};

std::string Header(uint32_t length) {
  std::string h(4, '\0');
  for (int i = 0; i < 4; ++i) h[i] = static_cast<char>((length >> (24 - 8 * i)) & 0xff);
  return h;
}

TEST_F(NodeIntegrationTest, BadFramesCloseOnlyThatConnection) {
  ASSERT_EQ(Call(CreateKeyRequest("before", "b1")).code(), "OK");
  std::string digest = DigestOf(node_);
  // A client that stays connected through all of it.
  auto steady = node_.Connect(node_.admin_tls());
  ASSERT_TRUE(steady.ok());
  pb::Request status;
  status.mutable_node_status();

  struct Case {
    const char* name;
    std::string bytes;
    bool close_write;
  };
  std::vector<Case> cases = {
      {"oversized length", Header(64u << 20), false},
      {"zero length", Header(0), false},
      {"malformed protobuf", Header(6) + "\xff\xff\xff\xff\xff\xff", false},
      {"truncated frame", Header(100) + "short", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    RawTls raw(node_.port(), node_.admin_tls());
    raw.Send(c.bytes);
    if (c.close_write) raw.ShutdownWrite();
    EXPECT_TRUE(raw.PeerCloses());
    auto response = (*steady)->Call(status, std::chrono::seconds(5));
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->code(), "OK");
  }
  EXPECT_EQ(DigestOf(node_), digest) << "bad frames change no state";
}

// ---- Durability and encryption at rest ----

TEST_F(NodeIntegrationTest, AcknowledgedWritesSurviveKill9) {
  std::vector<std::string> uuids;
  for (int i = 0; i < 200; ++i) {
    pb::Response r =
        Call(CreateKeyRequest("durable-" + std::to_string(i), "k" + std::to_string(i)));
    ASSERT_EQ(r.code(), "OK");
    uuids.push_back(r.op_result().uuid());
  }
  std::string digest = DigestOf(node_);
  node_.Kill(SIGKILL);
  ASSERT_TRUE(node_.Start());
  for (const auto& uuid : uuids) {
    pb::Response r = Call(GetRequest(uuid, true));
    ASSERT_EQ(r.code(), "OK") << uuid;
    EXPECT_EQ(r.object().material().size(), 32u);
  }
  EXPECT_EQ(DigestOf(node_), digest);
}

TEST_F(NodeIntegrationTest, NoPlaintextMarkerInDataDirectoryOrLogs) {
  std::mt19937_64 rng(20261122);
  const char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::vector<std::string> markers;
  auto client = node_.Connect(node_.admin_tls());
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 1000; ++i) {
    std::string marker = "MRK";
    for (int j = 0; j < 21; ++j) marker.push_back(kAlphabet[rng() % 32]);
    markers.push_back(marker);
    pb::Op op;
    op.mutable_register_object()->set_type(pb::SECRET_DATA);
    op.mutable_register_object()->set_material("secret:" + marker + ":end");
    auto r = (*client)->Call(Write(op, "m" + std::to_string(i)), std::chrono::seconds(10));
    ASSERT_TRUE(r.ok() && r->code() == "OK") << i;
  }
  // Read one back, so "get" is exercised and the audit log has entries.
  pb::Request locate;
  locate.mutable_locate()->set_type(pb::SECRET_DATA);
  locate.mutable_locate()->set_limit(1);
  pb::Response located = Call(locate);
  ASSERT_EQ(located.located().objects_size(), 1);
  pb::Response got = Call(GetRequest(located.located().objects(0).uuid(), true));
  ASSERT_EQ(got.code(), "OK");
  EXPECT_THAT(got.object().material(), ::testing::StartsWith("secret:MRK"));
  // Kill and restart, so RocksDB's recovery also writes the data to SST files.
  node_.Kill(SIGKILL);
  ASSERT_TRUE(node_.Start());
  node_.Kill(SIGTERM);

  size_t files = 0, bytes = 0;
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(node_.dir())) {
    if (entry.is_regular_file()) paths.push_back(entry.path().string());
  }
  bool saw_sst = false;
  for (const auto& path : paths) {
    std::string data = ReadWholeFile(path);
    ++files;
    bytes += data.size();
    if (path.size() > 4 && path.substr(path.size() - 4) == ".sst") saw_sst = true;
    // The material's fixed prefix, not the bare "MRK": three letters turn
    // up by chance in base64 PEM files and random ciphertext (about one run
    // in 200 failed on a node.key).
    EXPECT_EQ(data.find("secret:MRK"), std::string::npos) << "material prefix in " << path;
    for (const auto& marker : markers) {
      ASSERT_EQ(data.find(marker), std::string::npos) << marker << " in " << path;
    }
  }
  EXPECT_TRUE(saw_sst) << "the scan covered table files";
  EXPECT_GT(bytes, 1000u * 7);
  std::cout << "scanned " << files << " files, " << bytes << " bytes\n";
}

// ---- CLI exit codes and config errors ----

// Runs `coffer ARGS` (or, raw, the command line ARGS as it is) and returns
// its exit code, with stdout and stderr in *output.
int RunCli(const std::string& args, std::string* output = nullptr, bool raw = false) {
  return RunShell((raw ? args : std::string(COFFER_BIN) + " " + args) + " 2>&1", output);
}

TEST_F(NodeIntegrationTest, CliExitCodesAndJsonOutput) {
  std::string flags = CliFlags();
  std::string out;
  ASSERT_EQ(RunCli("key create --name cli-key" + flags, &out), 0) << out;
  std::string uuid = out.substr(0, 36);
  ASSERT_TRUE(Uuid::IsValid(uuid)) << out;
  ASSERT_EQ(RunCli("object get " + uuid + " -o json" + flags, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("\"state\": \"PRE_ACTIVE\""));
  EXPECT_EQ(RunCli("object destroy not-a-uuid" + flags, &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("INVALID_ARGUMENT"));
  EXPECT_EQ(RunCli("object get 00000000-0000-4000-8000-000000000000" + flags, &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("NOT_FOUND"));
  EXPECT_EQ(RunCli("node status" + flags, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("read-write"));
  // A flag beats the environment, under every subcommand (a regression: an
  // unused sibling subcommand's option once wrote COFFER_ADDRESS over it).
  for (const char* command : {"node status", "cluster status", "cluster join-token"}) {
    EXPECT_NE(
        RunCli(std::string("env COFFER_ADDRESS=127.0.0.9:9 ") + COFFER_BIN + " " + command + flags,
               &out, /*raw=*/true),
        -1);
    EXPECT_THAT(out, ::testing::Not(::testing::HasSubstr("127.0.0.9:9"))) << command << ": " << out;
  }
  // No node at that address.
  EXPECT_EQ(RunCli("node status --address 127.0.0.1:1 --ca " + node_.dir() + "/ca.pem --cert " +
                       node_.dir() + "/cli.pem --key " + node_.dir() + "/cli.key",
                   &out),
            1);
  EXPECT_THAT(out, ::testing::HasSubstr("UNAVAILABLE"));
  // A retry with the same --request-id (and the record an OUTCOME_UNKNOWN
  // named) answers the original result; a malformed --retry-of is refused
  // before anything is sent.
  ASSERT_EQ(RunCli("key create --name retried --request-id cli-retry-1" + flags, &out), 0) << out;
  std::string first = out.substr(0, 36);
  ASSERT_EQ(
      RunCli("key create --name retried --request-id cli-retry-1 --retry-of 1:1" + flags, &out), 0)
      << out;
  EXPECT_EQ(out.substr(0, 36), first);
  EXPECT_EQ(RunCli("key create --name other --retry-of 1:0" + flags, &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("is not ORIGIN:SEQ"));
  EXPECT_EQ(RunCli("key create --name other --retry-of x" + flags, &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("INVALID_ARGUMENT"));
}

TEST_F(NodeIntegrationTest, ClusterInitAndStatusFromTheCli) {
  std::string flags = CliFlags();
  std::string out;
  ASSERT_EQ(RunCli("cluster status" + flags, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("standalone"));
  ASSERT_EQ(RunCli("cluster init --name prod" + flags, &out), 0) << out;
  std::string cluster_id = out.substr(0, 36);
  EXPECT_TRUE(Uuid::IsValid(cluster_id)) << out;
  EXPECT_EQ(RunCli("cluster init --name other" + flags, &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("ALREADY_EXISTS"));
  // The first node has no read-write peer yet: restricted (exit 2, degraded)
  // until a peer is inducted.
  ASSERT_EQ(RunCli("cluster status -o json" + flags, &out), 2) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("\"cluster_id\": \"" + cluster_id + "\""));
  EXPECT_THAT(out, ::testing::HasSubstr("\"name\": \"node1\""));
  EXPECT_THAT(out, ::testing::HasSubstr("\"role\": \"read-write\""));
  EXPECT_THAT(out, ::testing::HasSubstr("\"mode\": \"restricted\""));
  ASSERT_EQ(RunCli("cluster status" + flags, &out), 2) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("cluster prod"));
  EXPECT_THAT(out, ::testing::HasSubstr("cluster version " + kBinaryRelease.MinorString() + "\n"));
  EXPECT_THAT(out, ::testing::HasSubstr("failure tolerance: none"));
  EXPECT_THAT(out, ::testing::HasSubstr("restricted  node1"));  // the health verdict comes first
  EXPECT_THAT(out, ::testing::HasSubstr("no read-write peer"));
  // The cluster version: each member's release, the features, the hold.
  ASSERT_EQ(RunCli("cluster version" + flags, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("cluster version " + kBinaryRelease.MinorString() + "\n"));
  EXPECT_THAT(out, ::testing::HasSubstr("node1"));
  EXPECT_THAT(out, ::testing::HasSubstr(std::string(kReleaseVersion)));
  EXPECT_THAT(out, ::testing::ContainsRegex("cluster-version +0.2 +active"));
  ASSERT_EQ(RunCli("cluster version hold" + flags, &out), 0) << out;
  ASSERT_EQ(RunCli("cluster version -o json" + flags, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("\"held\": true"));
  ASSERT_EQ(RunCli("cluster version release" + flags, &out), 0) << out;
  ASSERT_EQ(RunCli("cluster version" + flags, &out), 0) << out;
  EXPECT_THAT(out, ::testing::Not(::testing::HasSubstr("held")));
  EXPECT_NE(RunCli("cluster version sideways" + flags, &out), 0) << out;
  EXPECT_EQ(RunCli("key create --name k1" + flags, &out), 2) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("READ_ONLY_RESTRICTED"));
}

TEST(ConfigCliTest, CheckReportsLineAndColumn) {
  storage::testing::TempDir dir;
  WriteWholeFile(dir.path() + "/bad.toml", "[node]\nname = \"n1\"\nlisten = 7400\n");
  std::string out;
  EXPECT_EQ(RunCli("config check " + dir.path() + "/bad.toml", &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("bad.toml:3:"));
  WriteWholeFile(dir.path() + "/syntax.toml", "[node\nname = 1\n");
  EXPECT_EQ(RunCli("config check " + dir.path() + "/syntax.toml", &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("syntax.toml:1:"));
  ASSERT_EQ(RunCli("config print-default", &out), 0);
  WriteWholeFile(dir.path() + "/default.toml", out);
  EXPECT_EQ(RunCli("config check " + dir.path() + "/default.toml", &out), 0) << out;
}

}  // namespace
}  // namespace coffer::integration
