// Endpoint access through grants (issue 16 item 1, docs/endpoints.md) on a
// real read-write pair, driven by the `coffer` CLI with an endpoint
// certificate as an application would: `read-only` on wallet A reads A's
// extractable material and nothing of B, every write is refused, and every
// refusal has an audit line; `read-modify` creates and revokes keys in A
// only, as critical writes that reach the pair peer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/wait_for.h"
#include "tests/harness/cluster_fixture.h"
#include "tests/harness/coffer_cli.h"

namespace coffer::integration {
namespace {

using ::testing::HasSubstr;

class EndpointAccessIntegrationTest : public ClusterTest {
 protected:
  void SetUp() override {
    a_ = &Add("a");
    b_ = &Add("b");
    ASSERT_NO_FATAL_FAILURE(Init(*a_));
    ASSERT_NO_FATAL_FAILURE(Join(*b_, *a_, pb::NODE_READ_WRITE));
    ASSERT_TRUE(WaitFor([&] { return InMode(*a_, "read-write") && InMode(*b_, "read-write"); },
                        std::chrono::seconds(30)));
    auto cert = *node::IssueCertificate(ca_, {"db01", "endpoint", {}, {}, 30});
    ASSERT_TRUE(node::WritePemPair(cert, a_->dir() + "/db01.pem", a_->dir() + "/db01.key").ok());
  }

  // `coffer ARGS` as the administrator, on node a; its first output line.
  std::string AdminOk(const std::string& args) {
    std::string out;
    EXPECT_EQ(Coffer(args + CofferFlags(*a_), &out, true), 0) << args << ": " << out;
    return out.substr(0, out.find('\n'));
  }
  // `coffer ARGS` with the endpoint's certificate, on node b: exit code.
  int AsEndpoint(const std::string& args, std::string* out) {
    return Coffer(args + " --address " + b_->address() + " --ca " + a_->dir() + "/ca.pem --cert " +
                      a_->dir() + "/db01.pem --key " + a_->dir() + "/db01.key",
                  out);
  }
  // Node b's audit lines of client db01 with `code`, waited for (bounded)
  // until there are at least `count`.
  nlohmann::json AuditOfDb01(const std::string& code, size_t count) {
    nlohmann::json found = nlohmann::json::array();
    coffer::WaitFor(
        [&] {
          std::string out;
          if (Coffer("audit search -o json --config " + b_->dir() +
                         "/node.toml --client db01 "
                         "--code " +
                         code,
                     &out, true) != 0) {
            return false;
          }
          found = nlohmann::json::parse(out, nullptr, false);
          return found.is_array() && found.size() >= count;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(50));
    return found;
  }
  // Waits until node b has what node a has.
  void WaitConverged() {
    ASSERT_TRUE(WaitFor([&] { return Converged({a_, b_}); }, std::chrono::seconds(30)));
  }

  NodeProcess* a_ = nullptr;
  NodeProcess* b_ = nullptr;
};

TEST_F(EndpointAccessIntegrationTest, ReadOnlyThenReadModifyOnOneWalletOfAPair) {
  AdminOk("wallet create A");
  AdminOk("wallet create B");
  const std::string ka = AdminOk("key create --name ka --activate --wallet A");
  const std::string kb = AdminOk("key create --name kb --activate --wallet B");
  AdminOk("endpoint create db01");
  AdminOk("endpoint grant db01 A --access read-only");
  std::string out;
  // Before its binding, the certificate reaches nothing.
  EXPECT_EQ(AsEndpoint("object get " + ka, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("bound to no endpoint"));
  AdminOk("endpoint bind db01 --endpoint-cert " + a_->dir() + "/db01.pem");
  ASSERT_EQ(Coffer("endpoint list" + CofferFlags(*a_), &out, true), 0) << out;
  EXPECT_THAT(out, HasSubstr("KEY SHA256"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("db01     -")));  // bound: its key's hash shows
  WaitConverged();

  // read-only on A: A's material; B's key, and any write, refused.
  ASSERT_EQ(AsEndpoint("object get ka --material -o json", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"material\""));
  EXPECT_EQ(AsEndpoint("object get " + kb, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  ASSERT_EQ(AsEndpoint("wallet list", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("A"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr(kb)));
  EXPECT_EQ(AsEndpoint("key create --name e1 --wallet A", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  EXPECT_EQ(AsEndpoint("object revoke " + ka, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  EXPECT_EQ(AsEndpoint("object destroy " + ka, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  // Every refusal has its audit line on the node that refused it.
  nlohmann::json refused = AuditOfDb01("PERMISSION_DENIED", 5);
  ASSERT_TRUE(refused.is_array());
  EXPECT_GE(refused.size(), 5u) << refused.dump();
  for (const auto& line : refused) EXPECT_EQ(line["role"], "endpoint") << line;

  // read-modify on A: creates (into A) and revokes there, not in B.
  AdminOk("endpoint grant db01 A --access read-modify");
  WaitConverged();
  ASSERT_EQ(AsEndpoint("key create --name e1 --activate --wallet A", &out), 0) << out;
  const std::string e1 = out.substr(0, 36);
  ASSERT_TRUE(Uuid::IsValid(e1)) << out;
  EXPECT_EQ(AsEndpoint("object revoke " + e1, &out), 0) << out;
  EXPECT_EQ(AsEndpoint("key create --name e2 --wallet B", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  EXPECT_EQ(AsEndpoint("object revoke " + kb, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  // The endpoint's key is on both nodes of the pair, in A.
  WaitConverged();
  ASSERT_EQ(Coffer("wallet show A -o json" + CofferFlags(*a_), &out, true), 0) << out;
  EXPECT_THAT(out, HasSubstr(e1));
  ASSERT_EQ(Coffer("object get " + e1 + " -o json" + CofferFlags(*a_), &out, true), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"state\": \"DEACTIVATED\""));  // revoked: KMIP Deactivated
  EXPECT_THAT(out, HasSubstr("CESSATION_OF_OPERATION"));
}

}  // namespace
}  // namespace coffer::integration
