// How the candidate shows the snapshot transfer: a bar redrawn in place on a
// terminal, plain lines otherwise; entries of the estimate, rate and ETA.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/cluster/join.h"

namespace coffer::node {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(JoinProgressTest, TerminalGetsARedrawnBarWithEta) {
  JoinProgress p;
  p.entries = 250;
  p.entries_estimate = 1000;
  p.bytes = 2 << 20;
  p.seconds = 2;
  std::string line = RenderJoinProgress(p, /*terminal=*/true);
  EXPECT_EQ(line.front(), '\r') << "redrawn in place";
  EXPECT_THAT(line, HasSubstr("25%"));
  EXPECT_THAT(line, HasSubstr("250 of ~1000 entries"));
  EXPECT_THAT(line, HasSubstr("1.0 MiB/s"));
  EXPECT_THAT(line, HasSubstr("ETA 6 s"));  // 750 entries left at 125 entries/s
  EXPECT_THAT(line, Not(HasSubstr("\n")));
  p.entries = 1000;
  p.done = true;
  line = RenderJoinProgress(p, true);
  EXPECT_THAT(line, HasSubstr("100%"));
  EXPECT_THAT(line, HasSubstr("installed"));
  EXPECT_EQ(line.back(), '\n') << "the last redraw ends the line";
}

TEST(JoinProgressTest, PipeGetsPlainLinesAndNoEtaWithoutAnEstimate) {
  JoinProgress p;
  p.entries = 40;
  p.bytes = 1 << 20;
  p.seconds = 0.5;
  std::string line = RenderJoinProgress(p, /*terminal=*/false);
  EXPECT_EQ(line, "snapshot: 40 entries, 1.0 MiB, 2.0 MiB/s\n");
}

}  // namespace
}  // namespace coffer::node
