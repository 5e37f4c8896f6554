// Key rekey (feature key-rekey, docs/rekey.md): a chain of replacements in
// one wallet, the old keys' deactivation (at once or scheduled), the
// refusals, and the same chain on a node that applies the records.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "storage/object_store.h"
#include "storage/object_store/test_ops.h"
#include "storage/record_auth.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using testing::CreateKey;
using testing::LogOf;
using testing::Rekey;
using testing::WalletCreate;

std::string Text(const pb::ObjectView& v, const std::string& attribute) {
  auto it = v.attributes().find(attribute);
  return it == v.attributes().end() ? "" : it->second.text();
}

class RekeyTest : public testing::TwoStoresTest {
 protected:
  using TwoStoresTest::Write;
  std::string Write(const pb::Op& op) { return Write(*a_, op); }  // on node a
};

TEST_F(RekeyTest, AChainOfThreeKeysStaysRetrievableLinkedAndInTheWallet) {
  pb::Op create = CreateKey("master", /*activate=*/true);
  create.mutable_create_key()->set_length_bits(192);
  (*create.mutable_create_key()->mutable_attributes())["x-owner"].set_text("db1");
  const std::string first = Write(create);
  const std::string wallet = Write(WalletCreate("db"));
  Write(testing::WalletMember(wallet, first));
  const std::string second = Write(Rekey(first, "master-2"));
  const std::string third = Write(Rekey(second));
  ASSERT_FALSE(third.empty());

  for (testing::TestNode* node : {a_.get(), b_.get()}) {
    if (node == b_.get()) {
      for (const auto& r : LogOf(*a_->store, 1, 1, 100)) {
        ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
      }
      EXPECT_EQ(b_->store->StateDigest(), a_->store->StateDigest());
    }
    auto one = node->store->Get(first, true);
    auto two = node->store->Get(second, true);
    auto three = node->store->Get(third, true);
    ASSERT_TRUE(one.ok() && two.ok() && three.ok());
    // Every key that ever encrypted data is still there, with its material.
    EXPECT_EQ(one->material().size(), 24u);
    EXPECT_EQ(two->material().size(), 24u);
    EXPECT_EQ(three->material().size(), 24u);
    EXPECT_NE(one->material(), two->material());
    EXPECT_NE(two->material(), three->material());
    // Links both ways.
    EXPECT_EQ(Text(*one, "replaced_by"), second);
    EXPECT_EQ(Text(*two, "replaces"), first);
    EXPECT_EQ(Text(*two, "replaced_by"), third);
    EXPECT_EQ(Text(*three, "replaces"), second);
    EXPECT_EQ(Text(*three, "replaced_by"), "");
    // Same algorithm and length, client attributes carried over.
    EXPECT_EQ(three->attributes().at("length").integer(), 192);
    EXPECT_EQ(Text(*three, "algorithm"), "AES");
    EXPECT_EQ(Text(*three, "x-owner"), "db1");
    EXPECT_EQ(two->name(), "master-2");
    // The replaced keys are deactivated at once; the newest is active.
    EXPECT_EQ(one->state(), pb::DEACTIVATED);
    EXPECT_EQ(two->state(), pb::DEACTIVATED);
    EXPECT_EQ(three->state(), pb::ACTIVE);
    // The wallet holds all three and knows the chain.
    auto w = node->store->GetWallet("db");
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->members_size(), 3);
    for (const std::string& key : {first, second, third}) {
      EXPECT_NE(std::find(w->members().begin(), w->members().end(), key), w->members().end());
    }
    EXPECT_EQ(w->replaced_by().at(first), second);
    EXPECT_EQ(w->replaced_by().at(second), third);
    EXPECT_EQ(w->replaced_by().count(third), 0u);
  }
}

TEST_F(RekeyTest, RecordsUseTheRekeyFormatOnlyWhenTheyReplace) {
  const std::string key = Write(CreateKey("", true));
  Write(Rekey(key));
  auto log = LogOf(*a_->store, 1, 1, 10);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].format(), kRecordFormatChained);
  EXPECT_EQ(log[1].format(), kRecordFormatRekey);
  EXPECT_LE(log[1].format(), a_->store->max_record_format());
}

TEST_F(RekeyTest, AScheduledDeactivationTakesEffectWhenItsDateComes) {
  const std::string old_key = Write(CreateKey("", true));
  const std::string new_key = Write(Rekey(old_key, "", /*deactivate_after_seconds=*/3600));
  EXPECT_EQ(a_->store->Get(old_key, false)->state(), pb::ACTIVE);
  pb::LocateRequest deactivated;
  deactivated.set_state(pb::DEACTIVATED);
  EXPECT_EQ(a_->store->Locate(deactivated)->size(), 0u);
  a_->clock.Advance(int64_t{3600} * 1'000'000);
  EXPECT_EQ(a_->store->Get(old_key, false)->state(), pb::DEACTIVATED);
  auto found = a_->store->Locate(deactivated);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->at(0).uuid(), old_key);
  EXPECT_EQ(a_->store->Get(new_key, false)->state(), pb::ACTIVE);
}

TEST_F(RekeyTest, RefusalsChangeNothing) {
  const std::string key = Write(CreateKey("", true));
  const std::string next = Write(Rekey(key));
  const auto digest = a_->store->StateDigest();
  // Already replaced: the chain stays linear.
  auto again = a_->store->Execute(Rekey(key), "again");
  EXPECT_EQ(again.status().code(), Code::kInvalidState);
  EXPECT_NE(again.status().message().find(next), std::string::npos);
  // Not a symmetric key.
  const std::string secret = Write(testing::Register(pb::SECRET_DATA, "s3cret"));
  const auto after_secret = a_->store->StateDigest();
  EXPECT_EQ(a_->store->Execute(Rekey(secret), "secret").status().code(), Code::kInvalidArgument);
  // A negative delay, a taken name, no such key.
  EXPECT_EQ(a_->store->Execute(Rekey(next, "", -1), "neg").status().code(), Code::kInvalidArgument);
  Write(CreateKey("taken"));
  const auto after_taken = a_->store->StateDigest();
  EXPECT_EQ(a_->store->Execute(Rekey(next, "taken"), "name").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(
      a_->store->Execute(Rekey("00000000-0000-4000-8000-000000000000"), "none").status().code(),
      Code::kNotFound);
  EXPECT_EQ(a_->store->StateDigest(), after_taken);
  EXPECT_NE(digest, after_secret);
  // A destroyed key is not rekeyed.
  Write(testing::Revoke(next));
  Write(testing::Destroy(next));
  EXPECT_EQ(a_->store->Execute(Rekey(next), "destroyed").status().code(), Code::kInvalidState);
}

}  // namespace
}  // namespace coffer::storage
