#include "node/cli/cli_common.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace coffer::node::cli {
namespace {

using ::testing::HasSubstr;

TEST(PickObjectTest, OneNameOneObjectElseAClearError) {
  pb::LocateResult found;
  auto none = PickObject("orders", found);
  EXPECT_EQ(none.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(none.status().message(), HasSubstr("neither an object uuid nor an object's name"));

  found.add_objects()->set_uuid("u1");
  auto one = PickObject("orders", found);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, "u1");

  // Two objects carry the name while a conflict is unresolved.
  found.add_objects()->set_uuid("u2");
  auto two = PickObject("orders", found);
  EXPECT_EQ(two.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(two.status().message(), HasSubstr("object name 'orders' is ambiguous"));
  EXPECT_THAT(two.status().message(), HasSubstr("u1, u2"));
}

TEST(ParseRecordRefTest, TwoNumbersAboveZero) {
  auto ref = ParseRecordRef("3:17");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->origin(), 3u);
  EXPECT_EQ(ref->seq(), 17u);
  EXPECT_FALSE(ParseRecordRef("0:1").ok());
  EXPECT_FALSE(ParseRecordRef("1:0").ok());
  EXPECT_FALSE(ParseRecordRef("x").ok());
}

}  // namespace
}  // namespace coffer::node::cli
