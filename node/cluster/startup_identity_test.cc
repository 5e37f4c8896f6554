// The start-up identity checks (issue 11): a node with a certificate of
// another name, with an admin certificate, or on another node's data
// directory refuses to start. Pure checks, then the reading wrapper on real
// files (the whole refusal with real processes is in
// tests/integration/induction_hardening_test.cc).
#include "node/cluster/startup_identity.h"

#include <gtest/gtest.h>

#include "node/net/certs.h"
#include "storage/test_util.h"

namespace coffer::node {
namespace {

StartupIdentity Facts(std::string cn, std::string ou) {
  StartupIdentity facts;
  facts.configured_name = "beta";
  facts.certificate = ClientIdentity{std::move(cn), std::move(ou), ""};
  return facts;
}

TEST(StartupIdentityTest, ANodeCertificateOfItsOwnNameOnItsOwnDataDirectoryPasses) {
  StartupIdentity facts = Facts("beta", "node");
  EXPECT_TRUE(CheckStartupIdentity(facts).ok());
  facts.recorded = NodeIdentity{2, "c-1", "beta"};
  EXPECT_TRUE(CheckStartupIdentity(facts).ok());
  facts.recorded = NodeIdentity{2, "c-1", ""};  // written before names were recorded
  EXPECT_TRUE(CheckStartupIdentity(facts).ok());
}

TEST(StartupIdentityTest, ACertificateOfAnotherNameOrRoleIsRefused) {
  Status other = CheckStartupIdentity(Facts("alpha", "node"));
  EXPECT_EQ(other.code(), Code::kInvalidArgument);
  EXPECT_NE(other.message().find("node certificate CN 'alpha' is not this node's name 'beta'"),
            std::string::npos)
      << other.message();
  Status admin = CheckStartupIdentity(Facts("beta", "admin"));
  EXPECT_EQ(admin.code(), Code::kInvalidArgument);
  EXPECT_NE(admin.message().find("node certificate has role 'admin'"), std::string::npos)
      << admin.message();
  EXPECT_EQ(CheckStartupIdentity(Facts("beta", "endpoint")).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckStartupIdentity(Facts("beta", "")).code(), Code::kInvalidArgument);
}

TEST(StartupIdentityTest, AnotherNodesDataDirectoryIsRefused) {
  StartupIdentity facts = Facts("beta", "node");
  facts.recorded = NodeIdentity{3, "c-1", "gamma"};
  Status s = CheckStartupIdentity(facts);
  EXPECT_EQ(s.code(), Code::kInvalidState);
  EXPECT_NE(s.message().find("data directory belongs to node 'gamma'"), std::string::npos)
      << s.message();

  std::vector<pb::StoredNode> members(2);
  members[0].set_node_id(1);
  members[0].mutable_name()->set_name("alpha");
  members[1].set_node_id(3);
  members[1].mutable_name()->set_name("gamma");
  EXPECT_TRUE(CheckStoredIdentity("alpha", 1, members).ok());
  EXPECT_TRUE(CheckStoredIdentity("beta", 2, members).ok()) << "no row of its own: not ours";
  EXPECT_TRUE(CheckStoredIdentity("beta", 1, {}).ok()) << "a standalone store";
  Status stored = CheckStoredIdentity("beta", 3, members);
  EXPECT_EQ(stored.code(), Code::kInvalidState);
  EXPECT_NE(stored.message().find("belongs to node 'gamma'"), std::string::npos)
      << stored.message();
}

TEST(StartupIdentityTest, TheWrapperReadsTheCertificateAndTheIdentityFileAndWritesNothing) {
  storage::testing::TempDir dir;
  auto ca = CreateCertificateAuthority("identity test CA");
  ASSERT_TRUE(ca.ok());
  auto issue = [&](const std::string& cn, const std::string& role) {
    auto pair = IssueCertificate(*ca, {cn, role, {"127.0.0.1"}, {}, 1});
    EXPECT_TRUE(pair.ok());
    std::string path = dir.path() + "/" + cn + "-" + role;
    EXPECT_TRUE(WritePemPair(*pair, path + ".pem", path + ".key").ok());
    return path + ".pem";
  };
  NodeConfig config;
  config.node.name = "beta";
  config.node.data_dir = dir.path() + "/data";
  config.tls.cert_file = issue("beta", "node");
  EXPECT_TRUE(CheckIdentityBeforeStart(config).ok());
  EXPECT_FALSE(std::filesystem::exists(config.node.data_dir)) << "nothing written";

  config.tls.cert_file = issue("alpha", "node");
  EXPECT_EQ(CheckIdentityBeforeStart(config).code(), Code::kInvalidArgument);
  config.tls.cert_file = issue("beta", "admin");
  EXPECT_EQ(CheckIdentityBeforeStart(config).code(), Code::kInvalidArgument);
  config.tls.cert_file = dir.path() + "/missing.pem";
  EXPECT_EQ(CheckIdentityBeforeStart(config).code(), Code::kNotFound);

  config.tls.cert_file = issue("beta", "node");
  ASSERT_TRUE(WriteIdentity(config.node.data_dir, NodeIdentity{4, "c-9", "delta"}).ok());
  EXPECT_EQ(CheckIdentityBeforeStart(config).code(), Code::kInvalidState);
  auto read = ReadIdentity(config.node.data_dir);
  ASSERT_TRUE(read.ok() && *read);
  EXPECT_EQ((*read)->node_name, "delta") << "the identity file records the name";
}

}  // namespace
}  // namespace coffer::node
