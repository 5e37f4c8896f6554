// The controller side of induction on a real store, without a replicator:
// the cluster hooks write straight to the store.
#include "node/cluster/controller.h"

#include <gtest/gtest.h>

#include "storage/test_util.h"
#include "upgrade/version.h"

namespace coffer::node {
namespace {

using storage::testing::Backend;

class InductionControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = storage::testing::MakeNode(Backend::kDisk, dir_.path() + "/db", 1);
    ASSERT_NE(node_, nullptr);
    pb::Op init;
    init.mutable_cluster_init()->set_name("prod");
    init.mutable_cluster_init()->set_node_name("alpha");
    ASSERT_TRUE(node_->store->Execute(init, "init").ok());
    controller_ = std::make_unique<InductionController>(*node_->store, dir_.path() + "/inductions",
                                                        node_->clock, 1);
  }

  void EnterCluster() {
    controller_->EnterCluster(InductionController::Cluster{
        .write_unpaired =
            [this](const pb::Op& op, const std::string& id) {
              ++writes_;
              return node_->store->Execute(op, id);
            },
        .refresh_membership = [this] { members_ = *node_->store->Members(); },
        .members = [this]() -> const std::vector<pb::StoredNode>& { return members_; },
        .heard_from = [this](uint32_t id) { return heard_.contains(id); },
    });
    members_ = *node_->store->Members();
  }

  pb::JoinRequest JoinOf(const std::string& name, const std::string& token) {
    pb::JoinRequest join;
    join.set_name(name);
    join.set_token(token);
    join.set_release_version(std::string(kReleaseVersion));
    join.set_peer_address("127.0.0.2:7001");
    return join;
  }

  std::string Token(pb::NodeRole role) {
    pb::JoinTokenRequest request;
    request.set_role(role);
    auto token = controller_->IssueJoinToken(request);
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    return token.ok() ? token->token() : "";
  }

  storage::testing::TempDir dir_;
  std::unique_ptr<storage::testing::TestNode> node_;
  std::unique_ptr<InductionController> controller_;
  std::vector<pb::StoredNode> members_;
  std::set<uint32_t> heard_;
  int writes_ = 0;
};

TEST_F(InductionControllerTest, AStandaloneNodeIsNoController) {
  pb::JoinTokenRequest token;
  token.set_role(pb::NODE_READ_WRITE);
  EXPECT_EQ(controller_->IssueJoinToken(token).status().code(), Code::kInvalidState);
  EXPECT_EQ(controller_->Join(JoinOf("beta", "t"), {"beta", "node"}).status().code(),
            Code::kInvalidState);
  EXPECT_EQ(
      controller_->ServeSnapshotChunk(pb::SnapshotChunkRequest(), {"beta", "node"}).status().code(),
      Code::kInvalidState);
}

TEST_F(InductionControllerTest, JoinAddsTheMemberAndItsCertificateFetchesItsSnapshot) {
  EnterCluster();
  std::string token = Token(pb::NODE_READ_WRITE);
  // A certificate of another name is refused before the token is spent.
  EXPECT_EQ(controller_->Join(JoinOf("beta", token), {"mallory", "node"}).status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(controller_->Join(JoinOf("beta", "cjt1.bad"), {"beta", "node"}).status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(writes_, 0);

  auto answer = controller_->Join(JoinOf("beta", token), {"beta", "node"});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(writes_, 1);
  EXPECT_EQ(answer->cluster_name(), "prod");
  EXPECT_EQ(answer->controller_id(), 1u);
  EXPECT_EQ(answer->role(), pb::NODE_READ_WRITE);
  EXPECT_EQ(answer->peer(), 1u) << "the first read-write candidate pairs with the controller";
  const uint32_t id = answer->node_id();
  EXPECT_NE(id, 1u);
  ASSERT_EQ(members_.size(), 2u) << "membership re-read after the NodeAdded write";

  pb::SnapshotChunkRequest chunk;
  chunk.set_node_id(id);
  EXPECT_EQ(controller_->ServeSnapshotChunk(chunk, {"alpha", "node"}).status().code(),
            Code::kPermissionDenied);
  auto first = controller_->ServeSnapshotChunk(chunk, {"beta", "node"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_GT(first->entries_size(), 0);
  chunk.set_node_id(id + 7);
  EXPECT_EQ(controller_->ServeSnapshotChunk(chunk, {"beta", "node"}).status().code(),
            Code::kNotFound);

  // The transfer stays open until the candidate is heard on a link.
  node_->clock.Advance(InductionController::kPruneIntervalMicros);
  controller_->PruneInductions();
  EXPECT_EQ(controller_->transfers().Views().size(), 1u);
  heard_.insert(id);
  node_->clock.Advance(InductionController::kPruneIntervalMicros);
  controller_->PruneInductions();
  EXPECT_TRUE(controller_->transfers().Views().empty());
}

// `cluster join-token --role read-write` on a node that has a peer issued a
// token that every join then refused.
TEST_F(InductionControllerTest, ReadWriteTokenIsRefusedOnANodeThatHasAPeer) {
  EnterCluster();
  std::string token = Token(pb::NODE_READ_WRITE);
  ASSERT_TRUE(controller_->Join(JoinOf("beta", token), {"beta", "node"}).ok());
  pb::JoinTokenRequest read_write;
  read_write.set_role(pb::NODE_READ_WRITE);
  auto refused = controller_->IssueJoinToken(read_write);
  EXPECT_EQ(refused.status().code(), Code::kInvalidState);
  EXPECT_NE(refused.status().message().find("already has a read-write peer (node 2)"),
            std::string::npos)
      << refused.status().ToString();
  EXPECT_FALSE(Token(pb::NODE_READ_ONLY).empty()) << "read-only tokens are still issued";
}

TEST_F(InductionControllerTest, ServeAnswersTheInductionRequestsOnly) {
  EnterCluster();
  pb::Request token;
  token.mutable_join_token()->set_role(pb::NODE_READ_ONLY);
  pb::Response issued = controller_->Serve(token, {"admin", "admin"});
  EXPECT_EQ(issued.code(), "OK");
  EXPECT_EQ(issued.join_token().role(), pb::NODE_READ_ONLY);
  pb::Request list;
  list.mutable_wallet_list();
  EXPECT_EQ(controller_->Serve(list, {"admin", "admin"}).code(), "INVALID_ARGUMENT");
}

}  // namespace
}  // namespace coffer::node
