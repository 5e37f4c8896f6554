// Wallet merge and move (WalletTransferOp -> record MembersMoved, feature
// wallet-export): one record per transfer, whole or not at all, at most
// limits::kMaxMembersPerTransfer members each, merged like MemberSets on
// every node.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/limits.h"
#include "storage/object_store.h"
#include "storage/object_store/test_ops.h"
#include "storage/record_auth.h"

namespace coffer::storage {
namespace {

using testing::LogOf;

pb::Op Transfer(const std::string& source, const std::string& target, bool move) {
  pb::Op op;
  op.mutable_wallet_transfer()->set_source(source);
  op.mutable_wallet_transfer()->set_target(target);
  op.mutable_wallet_transfer()->set_move(move);
  return op;
}

class WalletTransferTest : public testing::TwoStoresTest {
 protected:
  static std::set<std::string> MembersOf(testing::TestNode& node, const std::string& wallet) {
    auto view = node.store->GetWallet(wallet);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? std::set<std::string>(view->members().begin(), view->members().end())
                     : std::set<std::string>{};
  }
  // A key in `wallet`, created on node a.
  std::string KeyIn(const std::string& wallet) {
    pb::Op key = testing::CreateKey("", true);
    key.mutable_create_key()->set_wallet(wallet);
    return Write(*a_, key);
  }
  // The node's own last record (0: none yet).
  static uint64_t LastSeq(testing::TestNode& node) {
    auto applied = node.store->Applied();
    auto own = applied.find(node.store->node_id().value);
    return own == applied.end() ? 0 : own->second;
  }
};

TEST_F(WalletTransferTest, AMergeIsOneRecordThatSkipsMembersTheTargetHasAndLeavesTheSource) {
  Write(*a_, testing::WalletCreate("payroll"));
  Write(*a_, testing::WalletCreate("payroll-eu"));
  const std::string k1 = KeyIn("payroll"), k2 = KeyIn("payroll"), k3 = KeyIn("payroll");
  Write(*a_, testing::WalletMember("payroll-eu", k2));
  const uint64_t before = LastSeq(*a_);
  auto merged = Exec(*a_, Transfer("payroll", "payroll-eu", false));
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(merged->count(), 2u);
  auto log = LogOf(*a_->store, 1, before + 1, 10);
  ASSERT_EQ(log.size(), 1u) << "the merge is one record";
  ASSERT_TRUE(log[0].has_members_moved());
  EXPECT_EQ(log[0].format(), kRecordFormatRekey);
  EXPECT_EQ(log[0].members_moved().objects_size(), 2);
  EXPECT_EQ(MembersOf(*a_, "payroll"), (std::set<std::string>{k1, k2, k3}));
  EXPECT_EQ(MembersOf(*a_, "payroll-eu"), (std::set<std::string>{k1, k2, k3}));
  Ship(*a_, 1, 0, *b_);
  EXPECT_EQ(MembersOf(*b_, "payroll-eu"), (std::set<std::string>{k1, k2, k3}));
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
  // Nothing left to merge: refused, nothing written.
  EXPECT_EQ(Exec(*a_, Transfer("payroll", "payroll-eu", false)).status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(LastSeq(*a_), before + 1);
}

TEST_F(WalletTransferTest, AMoveEmptiesTheSourceAndAConcurrentLaterJoinStaysEverywhere) {
  Write(*a_, testing::WalletCreate("old"));
  Write(*a_, testing::WalletCreate("new"));
  const std::string k1 = KeyIn("old"), k2 = KeyIn("old");
  Ship(*a_, 1, 0, *b_);
  const uint64_t b_before = LastSeq(*b_);
  // Node b removes k1 from "old" and adds it back later than a's move.
  Write(*b_, testing::WalletMember("old", k1, false));
  const uint64_t a_before = LastSeq(*a_);
  auto moved = Exec(*a_, Transfer("old", "new", true));
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->count(), 2u);
  EXPECT_TRUE(MembersOf(*a_, "old").empty());
  b_->clock.Advance(1000);  // later than a's move
  Write(*b_, testing::WalletMember("old", k1, true));
  Ship(*a_, 1, a_before, *b_);
  Ship(*b_, 2, b_before, *a_);
  // k1's later join into "old" (b) wins over the move's leave (a); both
  // are in "new".
  for (auto* node : {a_.get(), b_.get()}) {
    EXPECT_EQ(MembersOf(*node, "old"), (std::set<std::string>{k1}));
    EXPECT_EQ(MembersOf(*node, "new"), (std::set<std::string>{k1, k2}));
  }
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
}

TEST_F(WalletTransferTest, ALargeWalletMovesInRecordsOfTheLimitEachWhole) {
  Write(*a_, testing::WalletCreate("big"));
  Write(*a_, testing::WalletCreate("next"));
  const size_t total = limits::kMaxMembersPerTransfer + 3;
  for (size_t i = 0; i < total; ++i) KeyIn("big");
  auto first = Exec(*a_, Transfer("big", "next", true));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->count(), limits::kMaxMembersPerTransfer);
  EXPECT_EQ(MembersOf(*a_, "big").size(), 3u);
  auto second = Exec(*a_, Transfer("big", "next", true));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->count(), 3u);
  EXPECT_TRUE(MembersOf(*a_, "big").empty());
  EXPECT_EQ(MembersOf(*a_, "next").size(), total);
  EXPECT_EQ(Exec(*a_, Transfer("big", "next", true)).status().code(), Code::kAlreadyExists);
}

TEST_F(WalletTransferTest, BadTransfersAreRefusedAndWriteNothing) {
  Write(*a_, testing::WalletCreate("w"));
  KeyIn("w");
  const uint64_t before = LastSeq(*a_);
  EXPECT_EQ(Exec(*a_, Transfer("w", "w", false)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Exec(*a_, Transfer("w", "nowhere", false)).status().code(), Code::kNotFound);
  EXPECT_EQ(Exec(*a_, Transfer("nowhere", "w", true)).status().code(), Code::kNotFound);
  EXPECT_EQ(LastSeq(*a_), before);
}

// A record from another origin that carries more than the limit, or a bad
// uuid, is refused as a whole: no member of it is applied.
TEST_F(WalletTransferTest, AForgedOversizedOrMalformedRecordAppliesNothing) {
  const std::string source = Write(*a_, testing::WalletCreate("s"));
  const std::string target = Write(*a_, testing::WalletCreate("t"));
  const std::string k1 = KeyIn("s");
  Ship(*a_, 1, 0, *b_);
  // The next record of origin 1, as b would receive it, with a forged body.
  pb::LogRecord record = LogOf(*a_->store, 1, LastSeq(*a_), 1).at(0);
  record.set_seq(record.seq() + 1);
  record.clear_body();
  record.mutable_hlc()->set_wall_micros(record.hlc().wall_micros() + 1);
  auto* moved = record.mutable_members_moved();
  moved->set_source(source);
  moved->set_target(target);
  moved->add_objects(k1);
  moved->add_objects("not-a-uuid");
  const auto digest = b_->store->StateDigest();
  const auto applied = b_->store->Applied();
  EXPECT_EQ(b_->store->ApplyRemote(record).status().code(), Code::kInvalidArgument);
  moved->mutable_objects()->RemoveLast();
  for (size_t i = 0; i < limits::kMaxMembersPerTransfer; ++i) moved->add_objects(k1);
  EXPECT_EQ(b_->store->ApplyRemote(record).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b_->store->StateDigest(), digest);
  EXPECT_EQ(b_->store->Applied(), applied);
  EXPECT_TRUE(MembersOf(*b_, "t").empty());
}

}  // namespace
}  // namespace coffer::storage
