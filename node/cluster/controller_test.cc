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
  EXPECT_EQ(controller_->Join(JoinOf("beta", "t"), {"beta", "node", ""}).status().code(),
            Code::kInvalidState);
  EXPECT_EQ(controller_->ServeSnapshotChunk(pb::SnapshotChunkRequest(), {"beta", "node", ""})
                .status()
                .code(),
            Code::kInvalidState);
}

TEST_F(InductionControllerTest, JoinAddsTheMemberAndItsCertificateFetchesItsSnapshot) {
  EnterCluster();
  std::string token = Token(pb::NODE_READ_WRITE);
  // A certificate of another name is refused before the token is spent.
  EXPECT_EQ(controller_->Join(JoinOf("beta", token), {"mallory", "node", ""}).status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(controller_->Join(JoinOf("beta", "cjt1.bad"), {"beta", "node", ""}).status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(writes_, 0);

  auto answer = controller_->Join(JoinOf("beta", token), {"beta", "node", ""});
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
  EXPECT_EQ(controller_->ServeSnapshotChunk(chunk, {"alpha", "node", ""}).status().code(),
            Code::kPermissionDenied);
  auto first = controller_->ServeSnapshotChunk(chunk, {"beta", "node", ""});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_GT(first->entries_size(), 0);
  chunk.set_node_id(id + 7);
  EXPECT_EQ(controller_->ServeSnapshotChunk(chunk, {"beta", "node", ""}).status().code(),
            Code::kPermissionDenied);

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
  ASSERT_TRUE(controller_->Join(JoinOf("beta", token), {"beta", "node", ""}).ok());
  pb::JoinTokenRequest read_write;
  read_write.set_role(pb::NODE_READ_WRITE);
  auto refused = controller_->IssueJoinToken(read_write);
  EXPECT_EQ(refused.status().code(), Code::kInvalidState);
  EXPECT_NE(refused.status().message().find("already has a read-write peer (node 2)"),
            std::string::npos)
      << refused.status().ToString();
  EXPECT_FALSE(Token(pb::NODE_READ_ONLY).empty()) << "read-only tokens are still issued";
}

// Issue 11: a member's node certificate read the whole store (material
// included) through snapshot_chunk long after its induction. Once the
// candidate has joined (ACTIVE, or heard on a link) its transfer is closed
// and every chunk request is PERMISSION_DENIED (a join with its still-valid
// token is ALREADY_EXISTS and opens nothing); while it is PENDING it resumes.
TEST_F(InductionControllerTest, ChunksAreRefusedOnceTheCandidateHasJoined) {
  EnterCluster();
  std::string token = Token(pb::NODE_READ_ONLY);
  auto answer = controller_->Join(JoinOf("beta", token), {"beta", "node", ""});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  const uint32_t id = answer->node_id();
  pb::SnapshotChunkRequest chunk;
  chunk.set_node_id(id);
  chunk.set_max_entries(1);
  auto first = controller_->ServeSnapshotChunk(chunk, {"beta", "node", ""});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_FALSE(first->last());
  // Interrupted here and resumed: still served while PENDING.
  chunk.set_after(first->resume_after());
  ASSERT_TRUE(controller_->ServeSnapshotChunk(chunk, {"beta", "node", ""}).ok());

  // The candidate finished and became ACTIVE (its own lifecycle write,
  // replicated here: the membership as the node last read it).
  for (auto& m : members_) {
    if (m.node_id() == id) m.set_state(pb::NODE_ACTIVE);
  }
  for (const std::string& after : {std::string(), first->resume_after()}) {
    chunk.set_after(after);
    auto refused = controller_->ServeSnapshotChunk(chunk, {"beta", "node", ""});
    EXPECT_EQ(refused.status().code(), Code::kPermissionDenied) << refused.status().ToString();
  }
  EXPECT_TRUE(controller_->transfers().Views().empty()) << "closed at once";
  EXPECT_FALSE(controller_->transfers().IsOpen(id));
  auto again = controller_->Join(JoinOf("beta", token), {"beta", "node", ""});
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists) << "its token opens nothing now";
  EXPECT_FALSE(controller_->transfers().IsOpen(id));
}

// Heard on a peer link counts as joined, whatever its stored state says.
TEST_F(InductionControllerTest, ChunksAreRefusedOnceTheCandidateWasHeardOnALink) {
  EnterCluster();
  auto answer = controller_->Join(JoinOf("beta", Token(pb::NODE_READ_ONLY)), {"beta", "node", ""});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  pb::SnapshotChunkRequest chunk;
  chunk.set_node_id(answer->node_id());
  heard_.insert(answer->node_id());
  EXPECT_EQ(controller_->ServeSnapshotChunk(chunk, {"beta", "node", ""}).status().code(),
            Code::kPermissionDenied);
  EXPECT_FALSE(controller_->transfers().IsOpen(answer->node_id()));
}

// The first node (never inducted) has no transfer: its certificate gets
// nothing, and no checkpoint is made for it.
TEST_F(InductionControllerTest, AMemberThatWasNeverInductedGetsNoSnapshot) {
  EnterCluster();
  pb::SnapshotChunkRequest chunk;
  chunk.set_node_id(1);
  EXPECT_EQ(controller_->ServeSnapshotChunk(chunk, {"alpha", "node", ""}).status().code(),
            Code::kPermissionDenied);
  EXPECT_FALSE(controller_->transfers().IsOpen(1));
}

TEST_F(InductionControllerTest, ServeAnswersTheInductionRequestsOnly) {
  EnterCluster();
  pb::Request token;
  token.mutable_join_token()->set_role(pb::NODE_READ_ONLY);
  pb::Response issued = controller_->Serve(token, {"admin", "admin", ""});
  EXPECT_EQ(issued.code(), "OK");
  EXPECT_EQ(issued.join_token().role(), pb::NODE_READ_ONLY);
  pb::Request list;
  list.mutable_wallet_list();
  EXPECT_EQ(controller_->Serve(list, {"admin", "admin", ""}).code(), "INVALID_ARGUMENT");
}

}  // namespace
}  // namespace coffer::node
