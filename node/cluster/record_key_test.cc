#include "node/cluster/record_key.h"

#include <gtest/gtest.h>

namespace coffer::node {
namespace {

TEST(RecordKeyTest, RefusesANodeKeyOtherThanTheOneMembershipRecords) {
  auto signer = storage::MakeFakeRecordSigner(storage::FakePublicKey(2));
  pb::StoredNode one, two;
  one.set_node_id(1);
  one.set_public_key(storage::FakePublicKey(1));
  two.set_node_id(2);
  two.set_public_key(storage::FakePublicKey(2));
  EXPECT_TRUE(CheckRecordKey({one, two}, 2, *signer).ok());
  EXPECT_EQ(CheckRecordKey({one, two}, 1, *signer).code(), Code::kInvalidState);
  two.clear_public_key();
  EXPECT_TRUE(CheckRecordKey({one, two}, 2, *signer).ok()) << "no key recorded";
  EXPECT_TRUE(CheckRecordKey({one}, 2, *signer).ok()) << "not listed";
}

}  // namespace
}  // namespace coffer::node
