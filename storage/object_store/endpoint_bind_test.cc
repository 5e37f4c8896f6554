// Endpoint bindings (EndpointBound, feature endpoint-access) and objects
// created into a wallet (CreateKeyOp/RegisterOp.wallet): planned in record
// format 4, last writer wins between concurrent binds, a binding that
// arrives before its endpoint waits for it, and every node converges.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "storage/object_store.h"
#include "storage/object_store/test_ops.h"
#include "storage/record_auth.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using testing::Backend;
using testing::LogOf;

pb::Op EndpointCreate(const std::string& name) {
  pb::Op op;
  op.mutable_endpoint_create()->set_name(name);
  return op;
}

// A bind as the node plans it (the node layer fills key hash and CN in).
pb::Op Bind(const std::string& endpoint, char key_byte, const std::string& cn) {
  pb::Op op;
  op.mutable_endpoint_bind()->set_endpoint(endpoint);
  op.mutable_endpoint_bind()->set_public_key_sha256(std::string(32, key_byte));
  op.mutable_endpoint_bind()->set_certificate_subject(cn);
  return op;
}

class EndpointBindTest : public testing::TwoStoresTest {
 protected:
  static std::string BoundKey(testing::TestNode& node) {
    auto endpoints = node.store->ListEndpoints();
    EXPECT_TRUE(endpoints.ok());
    return endpoints.ok() && endpoints->size() == 1 ? endpoints->at(0).public_key_sha256() : "?";
  }
};

TEST_F(EndpointBindTest, ABindIsFormatFourAndTheLaterOfTwoConcurrentBindsWinsEverywhere) {
  const std::string endpoint = Write(*a_, EndpointCreate("db01"));
  Ship(*a_, 1, 0, *b_);
  Write(*a_, Bind(endpoint, 'a', "db01"));
  b_->clock.Advance(1000);  // b's bind is the later one
  Write(*b_, Bind(endpoint, 'b', "db01"));
  auto a_log = LogOf(*a_->store, 1, 2, 1);
  ASSERT_EQ(a_log.size(), 1u);
  EXPECT_TRUE(a_log[0].has_endpoint_bound());
  EXPECT_EQ(a_log[0].format(), kRecordFormatRekey);
  Ship(*a_, 1, 1, *b_);
  Ship(*b_, 2, 0, *a_);
  const std::string b_key = ToHex(std::string(32, 'b'));
  EXPECT_EQ(BoundKey(*a_), b_key);
  EXPECT_EQ(BoundKey(*b_), b_key);
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
}

TEST_F(EndpointBindTest, ABindArrivingBeforeItsEndpointWaitsForTheCreation) {
  const std::string endpoint = Write(*a_, EndpointCreate("db01"));
  Ship(*a_, 1, 0, *b_);
  Write(*b_, Bind(endpoint, 'k', "db01"));
  // Node c hears b's bind before a's creation (origins are independent).
  auto c = testing::MakeNode(Backend::kMemEnv, "/c", 3, 3);
  ASSERT_NE(c, nullptr);
  Ship(*b_, 2, 0, *c);
  auto none = c->store->ListEndpoints();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "a placeholder is no endpoint";
  Ship(*a_, 1, 0, *c);
  EXPECT_EQ(BoundKey(*c), ToHex(std::string(32, 'k')));
  EXPECT_EQ(BoundKey(*b_), ToHex(std::string(32, 'k')));
  EXPECT_EQ(c->store->StateDigest(), b_->store->StateDigest());
}

TEST_F(EndpointBindTest, ABindOfAnotherNameOrWithoutAKeyHashIsRefusedAndWritesNothing) {
  const std::string endpoint = Write(*a_, EndpointCreate("db01"));
  const auto before = a_->store->Applied();
  auto other_cn = Exec(*a_, Bind(endpoint, 'k', "db02"));
  EXPECT_EQ(other_cn.status().code(), Code::kInvalidArgument);
  pb::Op no_hash = Bind(endpoint, 'k', "db01");
  no_hash.mutable_endpoint_bind()->clear_public_key_sha256();
  EXPECT_EQ(Exec(*a_, no_hash).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Exec(*a_, Bind("nobody", 'k', "nobody")).status().code(), Code::kNotFound);
  EXPECT_EQ(a_->store->Applied(), before);
  EXPECT_EQ(BoundKey(*a_), "");
}

TEST_F(EndpointBindTest, AnObjectCreatedIntoAWalletJoinsItInTheSameRecord) {
  const std::string wallet = Write(*a_, testing::WalletCreate("payroll"));
  pb::Op key = testing::CreateKey("k1", true);
  key.mutable_create_key()->set_wallet("payroll");
  const std::string uuid = Write(*a_, key);
  pb::Op secret = testing::Register(pb::SECRET_DATA, "pw", "s1");
  secret.mutable_register_object()->set_wallet(wallet);
  const std::string secret_uuid = Write(*a_, secret);
  auto view = a_->store->GetWallet("payroll");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->members_size(), 2);
  auto log = LogOf(*a_->store, 1, 2, 1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].format(), kRecordFormatRekey);
  Ship(*a_, 1, 0, *b_);
  auto in_b = b_->store->InWallet(wallet, uuid);
  ASSERT_TRUE(in_b.ok());
  EXPECT_TRUE(*in_b);
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
  // An unknown wallet refuses the creation: nothing is written.
  pb::Op nowhere = testing::CreateKey("k2");
  nowhere.mutable_create_key()->set_wallet("no-such-wallet");
  EXPECT_EQ(Exec(*a_, nowhere).status().code(), Code::kNotFound);
  EXPECT_FALSE(secret_uuid.empty());
}

}  // namespace
}  // namespace coffer::storage
