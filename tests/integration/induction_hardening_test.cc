// Issue 11, items 4, 5 and 8 (identity), with real `coffer node start`
// processes on loopback: induction is closed after use (a member's own node
// certificate gets no snapshot, and the refusal is audited), a client's raw
// node_add is refused and adds no member, and a node refuses to start, its
// data directory untouched, with a certificate of another name, with an
// admin certificate, or on a copy of another node's data directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/harness/cluster_fixture.h"
#include "upgrade/version.h"

namespace coffer::integration {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Every file under `dir` by relative path: its size and a hash of its bytes.
std::map<std::string, std::string> Fingerprint(const std::string& dir) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    std::string rel = fs::relative(entry.path(), dir).string();
    if (!entry.is_regular_file()) {
      files[rel] = "dir";
      continue;
    }
    std::string bytes = ReadWholeFile(entry.path().string());
    files[rel] =
        std::to_string(bytes.size()) + ":" + std::to_string(std::hash<std::string>{}(bytes));
  }
  return files;
}

// Whether the audit log of `node` (its own sink, node/audit/audit_log.h:
// one JSON object per line) has a line whose fields equal every one of
// `fields`.
bool Audited(NodeProcess& node, const std::map<std::string, std::string>& fields) {
  std::istringstream lines(ReadWholeFile(node.data_dir() + "/audit/audit.log"));
  std::string line;
  while (std::getline(lines, line)) {
    auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) continue;
    bool all = true;
    for (const auto& [key, value] : fields) {
      all = all && json.contains(key) && json[key].is_string() && json[key] == value;
    }
    if (all) return true;
  }
  return false;
}

// Launches `node` (stopped, data directory in place) and expects it to exit
// by itself with an error naming `code` and `message`, leaving its data
// directory byte for byte as it was.
void ExpectRefusesToStart(NodeProcess& node, const std::string& code, const std::string& message) {
  auto before = Fingerprint(node.data_dir());
  ASSERT_FALSE(before.empty());
  WriteWholeFile(node.output_file(), "");  // this run's output only
  node.Launch();
  int status = 0;
  if (!node.WaitExited(20s, &status)) {
    node.Kill(SIGKILL);  // it started: stop it before the next launch
    FAIL() << "the node started: " << ReadWholeFile(node.output_file());
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status;
  std::string out = ReadWholeFile(node.output_file());
  EXPECT_THAT(out, HasSubstr(code));
  EXPECT_THAT(out, HasSubstr(message));
  EXPECT_EQ(Fingerprint(node.data_dir()), before) << "the data directory changed";
}

// Issue 11 item 4: beta's node certificate (a key file on beta's disk)
// asked alpha for beta's snapshot after beta had joined, and got the whole
// store with plaintext material, unaudited.
TEST_F(ClusterTest, AMembersCertificateGetsNoSnapshotAfterItsInductionAndIsAudited) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  Init(a);
  Join(b, a, pb::NODE_READ_WRITE);
  ASSERT_TRUE(WaitFor([&] { return InState(b, "ACTIVE") && InMode(a, "read-write"); }, 30s));
  ASSERT_TRUE(Write(a, RegisterSecret("db-password", "hunter2")).ok());
  const uint32_t beta_id = NodeIdOf(b);
  ASSERT_NE(beta_id, 0u);

  auto tls = node::MakeClientTlsContext(
      node::TlsFiles{b.dir() + "/ca.pem", b.dir() + "/node.pem", b.dir() + "/node.key"});
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  auto where = node::ParseHostPort(a.address());
  ASSERT_TRUE(where.ok());
  for (const std::string& after : {std::string(), std::string("o/")}) {
    auto client = node::CofferClient::Connect(where->host, where->port, **tls, 5s);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    pb::Request chunk;
    chunk.set_request_id("steal-" + std::to_string(after.size()));
    chunk.mutable_snapshot_chunk()->set_node_id(beta_id);
    chunk.mutable_snapshot_chunk()->set_after(after);
    auto answer = (*client)->Call(chunk, 10s);
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    EXPECT_EQ(answer->code(), "PERMISSION_DENIED") << answer->message();
    EXPECT_FALSE(answer->has_snapshot_chunk());
    EXPECT_EQ(answer->snapshot_chunk().entries_size(), 0);
  }
  EXPECT_FALSE(fs::exists(a.data_dir() + "/inductions/node-" + std::to_string(beta_id)))
      << "no snapshot was made for the asker";
  // The refusal is audited (on disk within [audit] sync_interval_ms).
  EXPECT_TRUE(WaitFor(
      [&] {
        return Audited(a, {{"client", "beta"},
                           {"role", "node"},
                           {"op", "snapshot_chunk"},
                           {"request_id", "steal-0"},
                           {"code", "PERMISSION_DENIED"}});
      },
      10s))
      << ReadWholeFile(a.data_dir() + "/audit/audit.log");
}

// Issue 11 item 5: an admin's raw node_add made a PENDING member that never
// joined (the cluster then reported degraded). The join path, which writes
// node_add on the controller itself, kept working above.
TEST_F(ClusterTest, NodeAddFromTheClientApiIsRefusedAndAddsNoMember) {
  NodeProcess& a = Add("alpha");
  NodeProcess& b = Add("beta");
  Init(a);
  Join(b, a, pb::NODE_READ_WRITE);
  ASSERT_TRUE(WaitFor([&] { return InMode(a, "read-write") && InMode(b, "read-write"); }, 30s));
  pb::Op add;
  add.mutable_node_add()->set_name("mallory");
  add.mutable_node_add()->set_role(pb::NODE_READ_ONLY);
  add.mutable_node_add()->set_peer_address("127.0.0.1:9");
  add.mutable_node_add()->set_client_address("127.0.0.1:9");
  add.mutable_node_add()->set_release_version(std::string(kReleaseVersion));
  for (NodeProcess* via : {&a, &b}) {
    auto refused = Write(*via, add, "add-via-" + via->name());
    EXPECT_EQ(refused.status().code(), Code::kPermissionDenied) << refused.status().ToString();
  }
  // A state only the node itself writes is refused the same way.
  auto active = Write(a, SetNodeState(NodeIdOf(b), pb::NODE_DISABLED));
  EXPECT_EQ(active.status().code(), Code::kPermissionDenied) << active.status().ToString();
  for (NodeProcess* n : {&a, &b}) {
    pb::Request status;
    status.mutable_cluster_status();
    auto response = Ask(*n, status);
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->cluster_status().members_size(), 2) << n->name();
    for (const auto& m : response->cluster_status().members()) EXPECT_NE(m.name(), "mallory");
  }
  EXPECT_TRUE(WaitFor(
      [&] {
        return Audited(
            a,
            {{"op", "node_add"}, {"request_id", "add-via-alpha"}, {"code", "PERMISSION_DENIED"}});
      },
      10s))
      << "the refusal is audited";
}

// Issue 11 item 8: a node started with a node certificate of another CN, or
// with an admin certificate as its node certificate.
TEST_F(ClusterTest, ANodeRefusesToStartWithACertificateThatIsNotItsOwnNodeCertificate) {
  NodeProcess& a = Add("alpha");
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(Write(a, WalletCreate("payroll")).ok());
  a.Kill(SIGTERM);
  const std::string own_cert = ReadWholeFile(a.dir() + "/node.pem");
  const std::string own_key = ReadWholeFile(a.dir() + "/node.key");
  auto use = [&](const std::string& cn, const std::string& role) {
    auto pair = node::IssueCertificate(ca_, {cn, role, {"127.0.0.1"}, {}, 30});
    ASSERT_TRUE(pair.ok());
    ASSERT_TRUE(node::WritePemPair(*pair, a.dir() + "/node.pem", a.dir() + "/node.key").ok());
  };
  use("mallory", "node");
  ExpectRefusesToStart(a, "INVALID_ARGUMENT",
                       "node certificate CN 'mallory' is not this node's name 'alpha'");
  use("alpha", "admin");
  ExpectRefusesToStart(a, "INVALID_ARGUMENT", "node certificate has role 'admin'");
  // Its own certificate back: it starts with its data.
  WriteWholeFile(a.dir() + "/node.pem", own_cert);
  WriteWholeFile(a.dir() + "/node.key", own_key);
  ASSERT_TRUE(a.Start());
  EXPECT_TRUE(GetWallet(a, "payroll").ok());
}

// Issue 11 item 8: a copy of another node's data directory started under a
// new name (with a valid node certificate of that new name).
TEST_F(ClusterTest, ANodeRefusesToStartOnACopyOfAnotherNodesDataDirectory) {
  NodeProcess& a = Add("alpha");
  NodeProcess& g = Add("gamma");
  Init(a);
  a.Kill(SIGTERM);
  fs::remove_all(g.data_dir());
  fs::copy(a.data_dir(), g.data_dir(), fs::copy_options::recursive);
  ExpectRefusesToStart(g, "INVALID_STATE", "data directory belongs to node 'alpha'");
  ASSERT_TRUE(a.Start()) << "the original still starts";
}

}  // namespace
}  // namespace coffer::integration
