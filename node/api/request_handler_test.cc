// Who may ask what (AuthorizeRequest): admin everything; node certificates
// only induction and node status (for /status); anything else nothing.
#include "node/api/request_handler.h"

#include <gtest/gtest.h>

namespace coffer::node {
namespace {

ClientIdentity As(std::string_view role) {
  return ClientIdentity{"someone", std::string(role), ""};
}

TEST(AuthorizeRequestTest, NodeCertificatesMayJoinFetchChunksAndAskNodeStatusOnly) {
  pb::Request status, join, chunk, write, cluster;
  status.mutable_node_status();
  join.mutable_join();
  chunk.mutable_snapshot_chunk();
  write.mutable_write()->mutable_wallet_create()->set_name("w");
  cluster.mutable_cluster_status();
  for (const pb::Request* r : {&status, &join, &chunk, &write, &cluster}) {
    EXPECT_TRUE(AuthorizeRequest(*r, As(kAdminRole)).ok());
  }
  for (const pb::Request* r : {&status, &join, &chunk}) {
    EXPECT_TRUE(AuthorizeRequest(*r, As(kNodeRole)).ok()) << r->ShortDebugString();
  }
  for (const pb::Request* r : {&write, &cluster}) {
    EXPECT_EQ(AuthorizeRequest(*r, As(kNodeRole)).code(), Code::kPermissionDenied);
  }
  EXPECT_EQ(AuthorizeRequest(status, As("auditor")).code(), Code::kPermissionDenied);
  EXPECT_EQ(AuthorizeRequest(join, As("admin-ish")).code(), Code::kPermissionDenied);
}

}  // namespace
}  // namespace coffer::node
