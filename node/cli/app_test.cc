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

}  // namespace
}  // namespace coffer::node::cli
