// Export and import under a secret, merge and move (issue 16 item 4,
// docs/wallet-export.md), with the real `coffer` binary: a wallet exported
// from one cluster imports into a second, fresh one with equal material and
// names; a wrong secret and a flipped byte import nothing; merge leaves the
// source as it was, move empties it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/harness/coffer_cli.h"
#include "tests/harness/node_process.h"

namespace coffer::integration {
namespace {

using ::testing::HasSubstr;

class WalletTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(source_.Start());
    ASSERT_TRUE(target_.Start());
    dir_ = source_.dir();
    std::ofstream(dir_ + "/secret.txt") << "export secret\n";
    std::ofstream(dir_ + "/wrong.txt") << "not the secret\n";
  }
  // `coffer ARGS` against `node`; its exit code, stdout (and stderr) in *out.
  int Cli(NodeProcess& node, const std::string& args, std::string* out) {
    return Coffer(args + CofferFlags(node), out);
  }
  std::string Ok(NodeProcess& node, const std::string& args) {
    std::string out;
    EXPECT_EQ(Coffer(args + CofferFlags(node), &out, true), 0) << args << ": " << out;
    return out;
  }
  // name -> base64 material of every member of `wallet` on `node`.
  std::map<std::string, std::string> Material(NodeProcess& node, const std::string& wallet) {
    std::map<std::string, std::string> out;
    auto shown =
        nlohmann::json::parse(Ok(node, "wallet show " + wallet + " -o json"), nullptr, false);
    if (!shown.is_object() || !shown.contains("members")) return out;
    for (const auto& uuid : shown["members"]) {
      std::string got;  // a non-extractable key's material is refused: left out here too
      if (Coffer(
              "object get " + uuid.get<std::string>() + " --material -o json" + CofferFlags(node),
              &got, true) != 0) {
        continue;
      }
      auto o = nlohmann::json::parse(got, nullptr, false);
      if (o.is_object()) out[o["name"].get<std::string>()] = o["material"].get<std::string>();
    }
    return out;
  }
  // The number of members of `wallet` on `node`.
  size_t Members(NodeProcess& node, const std::string& wallet) {
    auto shown =
        nlohmann::json::parse(Ok(node, "wallet show " + wallet + " -o json"), nullptr, false);
    return shown.is_object() && shown.contains("members") ? shown["members"].size() : 0;
  }

  NodeProcess source_{NodeProcessOptions{.name = "source"}};
  NodeProcess target_{NodeProcessOptions{.name = "target"}};
  std::string dir_;
};

TEST_F(WalletTransferTest, ExportOnOneClusterImportsOnAFreshOneWithEqualMaterialAndNames) {
  Ok(source_, "wallet create payroll --description keys");
  Ok(source_, "key create --name tde-master --activate --wallet payroll --tag prod");
  Ok(source_, "secret register --name db-password --value hunter2 --wallet payroll");
  Ok(source_, "key create --name sealed --attr extractable=false --wallet payroll");
  std::string out;
  ASSERT_EQ(Cli(source_,
                "wallet export payroll --file " + dir_ + "/payroll.export --secret-file " + dir_ +
                    "/secret.txt",
                &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("2 objects, 1 left out"));
  EXPECT_THAT(out, HasSubstr("(not extractable)"));

  // A wrong secret, and one flipped byte: DATA_LOSS, nothing imported.
  EXPECT_EQ(
      Cli(target_,
          "wallet import --file " + dir_ + "/payroll.export --secret-file " + dir_ + "/wrong.txt",
          &out),
      1)
      << out;
  EXPECT_THAT(out, HasSubstr("DATA_LOSS"));
  std::string bytes;
  {
    std::ifstream in(dir_ + "/payroll.export", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 100u);
  bytes[bytes.size() / 2] ^= 0x20;
  std::ofstream(dir_ + "/flipped.export", std::ios::binary) << bytes;
  EXPECT_EQ(
      Cli(target_,
          "wallet import --file " + dir_ + "/flipped.export --secret-file " + dir_ + "/secret.txt",
          &out),
      1)
      << out;
  EXPECT_THAT(out, HasSubstr("DATA_LOSS"));
  ASSERT_EQ(Cli(target_, "wallet list -o json", &out), 0) << out;
  EXPECT_THAT(out, ::testing::Not(HasSubstr("payroll"))) << "nothing imported";

  ASSERT_EQ(
      Cli(target_,
          "wallet import --file " + dir_ + "/payroll.export --secret-file " + dir_ + "/secret.txt",
          &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("wallet payroll: 2 imported, 0 skipped"));
  auto exported = Material(source_, "payroll");
  EXPECT_EQ(Material(target_, "payroll"), exported);
  EXPECT_EQ(exported.size(), 2u);
  ASSERT_EQ(Cli(target_, "object get tde-master -o json", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("tag:prod"));
  EXPECT_THAT(out, HasSubstr("\"state\": \"ACTIVE\""));
  // Again: the names exist, so each is skipped.
  ASSERT_EQ(
      Cli(target_,
          "wallet import --file " + dir_ + "/payroll.export --secret-file " + dir_ + "/secret.txt",
          &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("0 imported, 2 skipped"));
}

TEST_F(WalletTransferTest, MergeKeepsTheSourceMoveEmptiesIt) {
  Ok(source_, "wallet create a");
  Ok(source_, "wallet create b");
  Ok(source_, "wallet create c");
  Ok(source_, "key create --name k1 --wallet a");
  Ok(source_, "key create --name k2 --wallet a");
  Ok(source_, "key create --name k3 --wallet b");
  std::string out;
  ASSERT_EQ(Cli(source_, "wallet merge a b", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("b: 2 members merged from a"));
  EXPECT_EQ(Members(source_, "a"), 2u);
  EXPECT_EQ(Members(source_, "b"), 3u);
  ASSERT_EQ(Cli(source_, "wallet move b c", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("c: 3 members moved from b"));
  EXPECT_EQ(Members(source_, "b"), 0u);
  EXPECT_EQ(Members(source_, "c"), 3u);
  // Merging again finds nothing left to merge.
  ASSERT_EQ(Cli(source_, "wallet merge a c", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("c: 0 members merged from a"));
  EXPECT_EQ(Cli(source_, "wallet merge a nowhere", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("NOT_FOUND"));
}

}  // namespace
}  // namespace coffer::integration
