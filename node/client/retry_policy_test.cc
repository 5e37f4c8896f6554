#include "node/client/retry_policy.h"

#include <gtest/gtest.h>

namespace coffer::node {
namespace {

TEST(RetryPolicyTest, ReachFollowsWhatTheRequestActsOn) {
  pb::Request write;
  write.mutable_write()->mutable_wallet_create()->set_name("w");
  EXPECT_EQ(ReachOf(write), Reach::kAnyMember);
  pb::Request get;
  get.mutable_get()->set_uuid("u");
  EXPECT_EQ(ReachOf(get), Reach::kAnyMember);
  pb::Request node_status;
  node_status.mutable_node_status();
  EXPECT_EQ(ReachOf(node_status), Reach::kGivenAddresses);
  pb::Request cluster_status;
  cluster_status.mutable_cluster_status();
  EXPECT_EQ(ReachOf(cluster_status), Reach::kGivenAddresses);
  pb::Request init;
  init.mutable_write()->mutable_cluster_init()->set_name("c");
  EXPECT_EQ(ReachOf(init), Reach::kFirstAddress);
  pb::Request disable;
  disable.mutable_write()->mutable_node_state()->set_node_id(2);
  EXPECT_EQ(ReachOf(disable), Reach::kFirstAddress);
  pb::Request token;
  token.mutable_join_token()->set_role(pb::NODE_READ_ONLY);
  EXPECT_EQ(ReachOf(token), Reach::kFirstAddress);
}

TEST(RetryPolicyTest, NoAddressIsInvalid) {
  pb::Request request;
  request.mutable_node_status();
  auto response = CallWithRetries(RetryPolicyOptions{}, &request);
  EXPECT_EQ(response.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::node
