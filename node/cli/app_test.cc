#include "node/cli/app.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace coffer::node::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(UnknownCommandTest, NamesTheWordAndTheNearestCommands) {
  auto app = BuildApp();
  std::string version = UnknownCommandError(*app, {"version"});
  EXPECT_THAT(version, HasSubstr("unknown command 'version' for 'coffer'"));
  EXPECT_THAT(version, HasSubstr("'coffer --version'"));
  EXPECT_THAT(version, Not(HasSubstr("A subcommand is required")));

  std::string list = UnknownCommandError(*app, {"object", "list"});
  EXPECT_THAT(list, HasSubstr("unknown command 'list' for 'coffer object'"));
  EXPECT_THAT(list, HasSubstr("'coffer wallet list'"));
  EXPECT_THAT(list, HasSubstr("'coffer object locate'"));

  std::string completion = UnknownCommandError(*app, {"completion", "bash"});
  EXPECT_THAT(completion, HasSubstr("unknown command 'completion' for 'coffer'"));
  EXPECT_THAT(completion, HasSubstr("wallet"));  // every command of the group

  EXPECT_THAT(UnknownCommandError(*app, {"walet", "list"}), HasSubstr("'coffer wallet'"));
}

TEST(UnknownCommandTest, KnownCommandsAndOptionsAreLeftToTheParser) {
  auto app = BuildApp();
  EXPECT_EQ(UnknownCommandError(*app, {"--version"}), "");
  EXPECT_EQ(UnknownCommandError(*app, {}), "");
  EXPECT_EQ(UnknownCommandError(*app, {"object"}), "");
  EXPECT_EQ(UnknownCommandError(*app, {"wallet", "create", "anything", "--description", "x"}), "");
  EXPECT_EQ(UnknownCommandError(*app, {"node", "start", "--config", "list"}), "");
}

// A command of several writes takes no --request-id: the node would answer
// every write after the first with the first one's result (the same id).
TEST(ClientFlagsTest, OnlyCommandsOfOneWriteTakeARequestId) {
  auto app = BuildApp();
  auto command = [&](const std::string& group, const std::string& name) {
    return app->get_subcommand(group)->get_subcommand(name);
  };
  for (const char* name : {"upload", "import", "merge", "move"}) {
    EXPECT_EQ(command("wallet", name)->get_option_no_throw("--request-id"), nullptr) << name;
    EXPECT_EQ(command("wallet", name)->get_option_no_throw("--retry-of"), nullptr) << name;
  }
  EXPECT_NE(command("key", "create")->get_option_no_throw("--request-id"), nullptr);
  EXPECT_NE(command("wallet", "create")->get_option_no_throw("--request-id"), nullptr);
}

}  // namespace
}  // namespace coffer::node::cli
