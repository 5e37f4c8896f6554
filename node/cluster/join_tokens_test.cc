#include "node/cluster/join_tokens.h"

#include <gtest/gtest.h>

namespace coffer::node {
namespace {

constexpr int64_t kSecond = 1'000'000;

TEST(JoinTokens, RedeemedOnceByOneNameUntilExpiry) {
  JoinTokens tokens;
  auto issued = tokens.Issue(pb::NODE_READ_ONLY, 60, 1000 * kSecond);
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(issued->token.rfind("cjt1.", 0), 0u);
  EXPECT_EQ(issued->token.size(), 5u + 64u);
  EXPECT_EQ(issued->expires_micros, 1060 * kSecond);

  auto first = tokens.Redeem(issued->token, "beta", 1001 * kSecond);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->role, pb::NODE_READ_ONLY);
  auto again = tokens.Redeem(issued->token, "beta", 1002 * kSecond);
  ASSERT_TRUE(again.ok()) << "the same candidate may retry its join";
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(tokens.Redeem(issued->token, "gamma", 1002 * kSecond).status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(tokens.Redeem(issued->token, "beta", 1060 * kSecond).status().code(),
            Code::kPermissionDenied)
      << "expired";
  EXPECT_EQ(tokens.size(), 0u);
}

TEST(JoinTokens, UnknownTokensAndBadRequestsAreRefused) {
  JoinTokens tokens;
  EXPECT_EQ(tokens.Redeem("cjt1.00", "beta", 0).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(tokens.Issue(pb::NODE_ROLE_UNSPECIFIED, 0, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(tokens.Issue(pb::NODE_READ_WRITE, -1, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(tokens.Issue(pb::NODE_READ_WRITE, JoinTokens::kMaxTtlSeconds + 1, 0).status().code(),
            Code::kInvalidArgument);
  auto a = tokens.Issue(pb::NODE_READ_WRITE, 0, 0);
  auto b = tokens.Issue(pb::NODE_READ_WRITE, 0, 0);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->token, b->token);
  EXPECT_EQ(a->expires_micros, JoinTokens::kDefaultTtlSeconds * kSecond);
  // A token differing in one character is a different (unknown) token.
  std::string forged = a->token;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(tokens.Redeem(forged, "beta", 1).status().code(), Code::kPermissionDenied);
}

}  // namespace
}  // namespace coffer::node
