#include "common/status.h"

#include <gtest/gtest.h>

namespace coffer {
namespace {

TEST(StatusTest, NamesRoundTripForEveryCode) {
  for (int i = 0; i <= static_cast<int>(Code::kInternal); ++i) {
    Code code = static_cast<Code>(i);
    EXPECT_EQ(CodeFromName(CodeName(code)), code) << CodeName(code);
  }
  EXPECT_EQ(CodeName(Code::kInvalidState), "INVALID_STATE");
  EXPECT_EQ(CodeName(Code::kReadOnlyRestricted), "READ_ONLY_RESTRICTED");
  EXPECT_EQ(CodeFromName("NO_SUCH_CODE"), Code::kInternal);
}

TEST(StatusTest, ToStringAndAnnotate) {
  Status s = NotFound("object x");
  EXPECT_EQ(s.ToString(), "NOT_FOUND: object x");
  EXPECT_EQ(s.Annotate("get").ToString(), "NOT_FOUND: get: object x");
  EXPECT_EQ(Status::Ok().ToString(), "OK");
}

StatusOr<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd");
  return x / 2;
}

StatusOr<int> Quarter(int x) {
  COFFER_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(StatusTest, AssignOrReturnPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Quarter(7).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer
