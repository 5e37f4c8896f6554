// What a new user hit with the `coffer` CLI (issue 10, item 7), run against
// the real binary and a real node process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/ids.h"
#include "tests/harness/coffer_cli.h"
#include "tests/harness/node_process.h"

namespace coffer::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CliUnknownCommandTest, NamesTheUnknownWordAndTheNearestCommands) {
  std::string out;
  EXPECT_EQ(Coffer("version", &out), 1);
  EXPECT_THAT(out, HasSubstr("unknown command 'version' for 'coffer'"));
  EXPECT_THAT(out, HasSubstr("coffer --version"));
  EXPECT_THAT(out, Not(HasSubstr("A subcommand is required")));
  EXPECT_EQ(Coffer("object list", &out), 1);
  EXPECT_THAT(out, HasSubstr("unknown command 'list' for 'coffer object'"));
  EXPECT_THAT(out, HasSubstr("coffer wallet list"));
  EXPECT_THAT(out, HasSubstr("locate"));
  EXPECT_EQ(Coffer("completion bash", &out), 1);
  EXPECT_THAT(out, HasSubstr("unknown command 'completion' for 'coffer'"));
  EXPECT_THAT(out, Not(HasSubstr("A subcommand is required")));
  // A group without its command still says so.
  EXPECT_EQ(Coffer("object", &out), 1);
  EXPECT_THAT(out, HasSubstr("subcommand is required"));
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(node_.Start());
    auto admin = *node::IssueCertificate(node_.ca(), {"cli", "admin", {}, {}, 30});
    ASSERT_TRUE(node::WritePemPair(admin, node_.dir() + "/cli.pem", node_.dir() + "/cli.key").ok());
  }
  // Credentials, and --address `address` (default: the node).
  std::string Flags(std::string address = "") {
    if (address.empty()) address = node_.address();
    return " --address " + address + " --ca " + node_.dir() + "/ca.pem --cert " + node_.dir() +
           "/cli.pem --key " + node_.dir() + "/cli.key";
  }
  NodeProcess node_;
};

TEST_F(CliTest, ClusterVerifyJsonIsOneJsonDocument) {
  std::string out;
  ASSERT_EQ(Coffer("cluster verify -o json" + Flags(), &out, /*stdout_only=*/true), 0) << out;
  auto json = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(json.is_discarded()) << out;
  // The table form still ends with the verdict.
  ASSERT_EQ(Coffer("cluster verify" + Flags(), &out, /*stdout_only=*/true), 0) << out;
  EXPECT_THAT(out, HasSubstr("verified: "));
}

TEST_F(CliTest, StatusCommandsFailOverWhenTheFirstAddressIsDown) {
  // Nothing listens on 127.0.0.1:1.
  std::string both = "127.0.0.1:1," + node_.address();
  std::string out;
  EXPECT_EQ(Coffer("node status" + Flags(both), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(node_.name()));
  EXPECT_EQ(Coffer("cluster status" + Flags(both), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(node_.name()));
  // Only a down node: still an error.
  EXPECT_EQ(Coffer("node status" + Flags("127.0.0.1:1"), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("UNAVAILABLE"));
}

TEST_F(CliTest, ObjectsByUniqueNameAndWhatADestroyedKeyShows) {
  std::string out;
  ASSERT_EQ(Coffer("key create --name orders-master --activate" + Flags(), &out), 0) << out;
  std::string uuid = out.substr(0, 36);
  ASSERT_TRUE(Uuid::IsValid(uuid)) << out;
  ASSERT_EQ(Coffer("object get orders-master" + Flags(), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(uuid));
  EXPECT_THAT(out, HasSubstr("32 bytes"));
  ASSERT_EQ(Coffer("object set orders-master --attr x-owner=payments" + Flags(), &out), 0) << out;
  EXPECT_EQ(out.substr(0, 36), uuid);
  ASSERT_EQ(Coffer("wallet create payroll" + Flags(), &out), 0) << out;
  ASSERT_EQ(Coffer("wallet add payroll orders-master" + Flags(), &out), 0) << out;
  ASSERT_EQ(Coffer("wallet show payroll" + Flags(), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(uuid));
  EXPECT_EQ(Coffer("object get no-such-name" + Flags(), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(out, HasSubstr("neither an object uuid nor an object's name"));

  ASSERT_EQ(Coffer("object revoke orders-master --reason superseded" + Flags(), &out), 0) << out;
  ASSERT_EQ(Coffer("object destroy orders-master" + Flags(), &out), 0) << out;
  ASSERT_EQ(Coffer("object get " + uuid + Flags(), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("DESTROYED"));
  EXPECT_THAT(out, HasSubstr("erased"));
  EXPECT_THAT(out, Not(HasSubstr("32 bytes")));
  EXPECT_THAT(out, HasSubstr("superseded"));
  ASSERT_EQ(Coffer("object get " + uuid + " -o json" + Flags(), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"revocation_reason\": \"SUPERSEDED\""));
}

// `key rekey` (docs/rekey.md): a chain of three keys in one wallet, shown
// by `wallet show` and `object get`, and the CLI's own refusals.
TEST_F(CliTest, KeyRekeyMakesAChainTheWalletAndObjectsShow) {
  std::string out;
  ASSERT_EQ(Coffer("key create --name db-master --activate --length 128" + Flags(), &out), 0)
      << out;
  const std::string first = out.substr(0, 36);
  ASSERT_EQ(Coffer("wallet create db" + Flags(), &out), 0) << out;
  ASSERT_EQ(Coffer("wallet add db db-master" + Flags(), &out), 0) << out;
  ASSERT_EQ(Coffer("key rekey db-master --name db-master-2" + Flags(), &out), 0) << out;
  const std::string second = out.substr(0, 36);
  ASSERT_TRUE(Uuid::IsValid(second)) << out;
  ASSERT_EQ(Coffer("key rekey db-master-2 --deactivate-old-in 30d" + Flags(), &out), 0) << out;
  const std::string third = out.substr(0, 36);
  ASSERT_TRUE(Uuid::IsValid(third)) << out;

  ASSERT_EQ(Coffer("wallet show db" + Flags(), &out, /*stdout_only=*/true), 0) << out;
  EXPECT_THAT(out, HasSubstr(first + " -> " + second + " -> " + third)) << out;
  ASSERT_EQ(Coffer("object get " + third + Flags(), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("replaces"));
  EXPECT_THAT(out, HasSubstr(second));
  EXPECT_THAT(out, HasSubstr("16 bytes"));
  // The first key was deactivated at once; the second stays ACTIVE for 30 days.
  ASSERT_EQ(Coffer("object get " + first + " -o json" + Flags(), &out, true), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"state\": \"DEACTIVATED\""));
  ASSERT_EQ(Coffer("object get db-master-2 -o json" + Flags(), &out, true), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"state\": \"ACTIVE\""));
  EXPECT_THAT(out, HasSubstr(third));  // replaced_by

  EXPECT_EQ(Coffer("key rekey db-master" + Flags(), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("INVALID_STATE"));
  EXPECT_THAT(out, HasSubstr("already replaced by " + second));
  EXPECT_EQ(Coffer("key rekey " + third + " --deactivate-old-in soon" + Flags(), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("is not a delay"));
}

TEST_F(CliTest, ConflictRenameRefusesAnEntityThatIsNotInConflict) {
  std::string out;
  ASSERT_EQ(Coffer("wallet create payroll" + Flags(), &out), 0) << out;
  std::string uuid = out.substr(0, 36);
  ASSERT_TRUE(Uuid::IsValid(uuid)) << out;
  EXPECT_EQ(Coffer("conflict rename wallet " + uuid + " payroll-eu" + Flags(), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("INVALID_STATE"));
  EXPECT_THAT(out, HasSubstr("not in conflict"));
  EXPECT_EQ(Coffer("conflict accept wallet " + uuid + Flags(), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("not in conflict"));
  ASSERT_EQ(Coffer("wallet list" + Flags(), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("payroll"));
  EXPECT_THAT(out, Not(HasSubstr("payroll-eu")));
}

// A standalone node confirms a new name at once: `wallet create` says so,
// in text and in JSON, without --wait.
TEST_F(CliTest, WalletCreateSaysTheNameIsConfirmedOnAStandaloneNode) {
  std::string out;
  ASSERT_EQ(Coffer("wallet create payroll" + Flags(), &out, /*stdout_only=*/true), 0) << out;
  ASSERT_TRUE(Uuid::IsValid(out.substr(0, 36))) << out;
  EXPECT_THAT(out, HasSubstr("name 'payroll' confirmed"));
  ASSERT_EQ(Coffer("wallet create treasury --wait 5s -o json" + Flags(), &out,
                   /*stdout_only=*/true),
            0)
      << out;
  auto json = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << out;
  EXPECT_EQ(json.value("name_state", ""), "ACTIVE") << out;
  EXPECT_EQ(json.value("name", ""), "treasury") << out;
  EXPECT_EQ(json.value("generated_name", "?"), "") << out;
  EXPECT_EQ(Coffer("wallet create other --wait soon" + Flags(), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("is not a duration"));
}

TEST_F(CliTest, ClusterSettingsCanBeReadBack) {
  std::string out;
  ASSERT_EQ(Coffer("cluster init --name prod" + Flags(), &out), 0) << out;
  // A lone first node is restricted (exit 2) but shows the settings.
  EXPECT_EQ(Coffer("cluster status" + Flags(), &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("max-disable-duration 86400 s"));
  ASSERT_EQ(Coffer("cluster set --max-disable-duration 7200" + Flags(), &out), 0) << out;
  EXPECT_EQ(Coffer("cluster status" + Flags(), &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("max-disable-duration 7200 s"));
  EXPECT_EQ(Coffer("cluster status -o json" + Flags(), &out, /*stdout_only=*/true), 2) << out;
  auto json = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << out;
  EXPECT_EQ(json.value("max_disable_seconds", ""), "7200") << out;
}

}  // namespace
}  // namespace coffer::integration
