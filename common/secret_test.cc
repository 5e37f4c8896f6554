#include "common/secret.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace coffer {
namespace {

TEST(SecretBytesTest, FormatsWithoutRevealingContent) {
  SecretBytes secret("hunter2-MARKER");
  std::string text = fmt::format("value={}", secret);
  EXPECT_EQ(text, "value=<secret 14 bytes>");
}

TEST(SecretBytesTest, LoggedSecretNeverReachesTheSink) {
  std::ostringstream out;
  auto logger =
      std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  logger->info("material {}", SecretBytes("TOPSECRET-1234"));
  logger->flush();
  EXPECT_EQ(out.str().find("TOPSECRET"), std::string::npos);
  EXPECT_NE(out.str().find("<secret 14 bytes>"), std::string::npos);
}

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a("abc");
  SecretBytes b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_EQ(b.reveal(), "abc");
}

}  // namespace
}  // namespace coffer
