// InductionTransfers on a real on-disk store: chunks, a restart of the
// controller in the middle of a transfer, and pruning.
#include "node/cluster/induction_transfers.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/test_util.h"

namespace coffer::node {
namespace {

namespace fs = std::filesystem;
using storage::testing::Backend;

class InductionTransfersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Open();
    pb::Op init;
    init.mutable_cluster_init()->set_name("prod");
    init.mutable_cluster_init()->set_node_name("alpha");
    ASSERT_TRUE(node_->store->Execute(init, "init").ok());
    for (int i = 0; i < 30; ++i) {
      pb::Op op;
      op.mutable_create_key()->set_name("k" + std::to_string(i));
      ASSERT_TRUE(node_->store->Execute(op, "r" + std::to_string(i)).ok());
    }
  }
  // Opens (or, after Restart, reopens) the controller's store and transfers.
  void Open() {
    node_ = storage::testing::MakeNode(Backend::kDisk, dir_.path() + "/db", 1, 1);
    ASSERT_NE(node_, nullptr);
    transfers_ = std::make_unique<InductionTransfers>(*node_->store, inductions());
  }
  void Restart() {
    transfers_.reset();
    node_.reset();
    Open();
  }
  std::string inductions() const { return dir_.path() + "/inductions"; }
  // Chunks of `n` entries from `after` until the last one or `max_chunks`;
  // returns where it stopped and counts the entries.
  std::string Pull(uint32_t id, std::string after, size_t n, int max_chunks, uint64_t* entries) {
    for (int i = 0; i < max_chunks; ++i) {
      auto chunk = transfers_->Chunk(id, after, n);
      EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
      if (!chunk.ok()) return after;
      *entries += static_cast<uint64_t>(chunk->entries_size());
      if (chunk->last()) return "";
      after = chunk->resume_after();
    }
    return after;
  }
  static InductionTransfers::PruneRules Rules(bool member, bool finished) {
    InductionTransfers::PruneRules rules;
    rules.is_member = [member](uint32_t) { return member; };
    rules.finished = [finished](uint32_t) { return finished; };
    return rules;
  }

  storage::testing::TempDir dir_;
  std::unique_ptr<storage::testing::TestNode> node_;
  std::unique_ptr<InductionTransfers> transfers_;
};

TEST_F(InductionTransfersTest, ATransferContinuesFromItsCheckpointAfterTheControllerRestarts) {
  uint64_t whole = 0;
  ASSERT_EQ(Pull(7, "", 1000, 1, &whole), "") << "one chunk holds the whole snapshot";
  transfers_->Begin(8, whole);
  uint64_t before = 0;
  std::string stopped = Pull(8, "", 5, 3, &before);
  ASSERT_FALSE(stopped.empty());
  ASSERT_EQ(before, 15u);
  // Writes after the checkpoint are not in this transfer.
  pb::Op later;
  later.mutable_create_key()->set_name("later");
  ASSERT_TRUE(node_->store->Execute(later, "later").ok());
  Restart();
  uint64_t after = 0;
  EXPECT_EQ(Pull(8, stopped, 5, 1000, &after), "");
  EXPECT_EQ(before + after, whole) << "nothing sent twice, nothing missing";
  auto views = transfers_->Views();
  ASSERT_EQ(views.size(), 1u) << "7 is shown again once its candidate asks";
  const pb::InductionView& v = views[0];
  EXPECT_EQ(v.node_id(), 8u);
  EXPECT_TRUE(v.reopened());
  EXPECT_EQ(v.entries_sent(), after) << "counted since the restart";
  EXPECT_EQ(v.started_over(), 0u);
  EXPECT_TRUE(v.done());
}

TEST_F(InductionTransfersTest, StartingOverIsCountedAndAClosedTransferCannotBeContinued) {
  transfers_->Begin(4, 100);
  uint64_t entries = 0;
  std::string stopped = Pull(4, "", 5, 2, &entries);
  Pull(4, "", 5, 1, &entries);  // the candidate lost its partial install
  EXPECT_EQ(transfers_->Views().at(0).started_over(), 1u);
  EXPECT_EQ(transfers_->Prune(Rules(/*member=*/true, /*finished=*/true)), 1u);
  EXPECT_FALSE(fs::exists(inductions() + "/node-4"));
  EXPECT_TRUE(transfers_->Views().empty());
  EXPECT_EQ(transfers_->Chunk(4, stopped, 5).status().code(), Code::kInvalidState);
}

TEST_F(InductionTransfersTest, PruneKeepsOpenTransfersAndRemovesGoneAndStrayOnes) {
  uint64_t entries = 0;
  Pull(4, "", 5, 1, &entries);
  Pull(5, "", 5, 1, &entries);
  fs::create_directories(inductions() + "/node-9.tmp");  // a checkpoint a crash cut short
  EXPECT_EQ(transfers_->Prune(Rules(/*member=*/true, /*finished=*/false)), 0u);
  EXPECT_TRUE(fs::exists(inductions() + "/node-4"));
  EXPECT_FALSE(fs::exists(inductions() + "/node-9.tmp"));
  // Too old: closed even though the candidate is still a member.
  auto rules = Rules(true, false);
  rules.max_age = std::chrono::seconds(-1);
  EXPECT_EQ(transfers_->Prune(rules), 2u);
  // A begun transfer (no chunk yet) of a node that left the cluster.
  transfers_->Begin(6, 10);
  EXPECT_EQ(transfers_->Prune(Rules(/*member=*/false, false)), 1u);
  EXPECT_TRUE(transfers_->Views().empty());
  EXPECT_TRUE(fs::is_empty(inductions()));
}

TEST_F(InductionTransfersTest, AJoinAgainStartsAFreshCheckpoint) {
  uint64_t entries = 0;
  Pull(4, "", 5, 2, &entries);
  pb::Op later;
  later.mutable_create_key()->set_name("later");
  ASSERT_TRUE(node_->store->Execute(later, "later").ok());
  transfers_->Begin(4, 0);
  uint64_t whole = 0;
  EXPECT_EQ(Pull(4, "", 1000, 1, &whole), "");
  uint64_t first = 0;
  Restart();
  EXPECT_EQ(Pull(99, "", 1000, 1, &first), "");  // a checkpoint made now
  EXPECT_EQ(whole, first) << "the fresh checkpoint has 'later'";
}

}  // namespace
}  // namespace coffer::node
