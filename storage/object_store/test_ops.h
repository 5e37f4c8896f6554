// Op builders and log helpers shared by the ObjectStore tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/records.pb.h"
#include "storage/object_store.h"
#include "storage/test_util.h"

namespace coffer::storage::testing {

inline pb::Op CreateKey(const std::string& name = "", bool activate = false) {
  pb::Op op;
  op.mutable_create_key()->set_name(name);
  op.mutable_create_key()->set_activate(activate);
  return op;
}
inline pb::Op Register(pb::ObjectType type, const std::string& material,
                       const std::string& name = "") {
  pb::Op op;
  op.mutable_register_object()->set_type(type);
  op.mutable_register_object()->set_material(material);
  op.mutable_register_object()->set_name(name);
  return op;
}
inline pb::Op Activate(const std::string& uuid) {
  pb::Op op;
  op.mutable_activate()->set_uuid(uuid);
  return op;
}
inline pb::Op Revoke(const std::string& uuid,
                     pb::RevocationReason reason = pb::CESSATION_OF_OPERATION) {
  pb::Op op;
  op.mutable_revoke()->set_uuid(uuid);
  op.mutable_revoke()->set_reason(reason);
  return op;
}
inline pb::Op Destroy(const std::string& uuid) {
  pb::Op op;
  op.mutable_destroy()->set_uuid(uuid);
  return op;
}
inline pb::Op SetBool(const std::string& uuid, const std::string& name, bool value) {
  pb::Op op;
  op.mutable_set_attributes()->set_uuid(uuid);
  (*op.mutable_set_attributes()->mutable_attributes())[name].set_boolean(value);
  return op;
}
inline pb::Op WalletCreate(const std::string& name) {
  pb::Op op;
  op.mutable_wallet_create()->set_name(name);
  return op;
}

inline pb::Op Rekey(const std::string& uuid, const std::string& name = "",
                    int64_t deactivate_after_seconds = 0) {
  pb::Op op;
  op.mutable_rekey()->set_uuid(uuid);
  op.mutable_rekey()->set_name(name);
  op.mutable_rekey()->set_deactivate_after_seconds(deactivate_after_seconds);
  return op;
}
inline pb::Op WalletMember(const std::string& wallet, const std::string& object,
                           bool present = true) {
  pb::Op op;
  op.mutable_wallet_member()->set_wallet(wallet);
  op.mutable_wallet_member()->set_object(object);
  op.mutable_wallet_member()->set_present(present);
  return op;
}

// A copy of one origin's records (a range-for over *ReadLog() would dangle).
inline std::vector<pb::LogRecord> LogOf(const ObjectStore& store, uint32_t origin, uint64_t from,
                                        size_t limit) {
  auto records = store.ReadLog(origin, from, limit);
  EXPECT_TRUE(records.ok()) << records.status().ToString();
  return records.ok() ? *records : std::vector<pb::LogRecord>{};
}

// Two stores, node ids 1 and 2, on RocksDB's in-memory Env: for tests that
// write on one and apply on the other.
class TwoStoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = MakeNode(Backend::kMemEnv, "/a", 1, 1);
    b_ = MakeNode(Backend::kMemEnv, "/b", 2, 2);
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }
  // `op` executed on `node` under a request id of its own.
  StatusOr<pb::OpResult> Exec(TestNode& node, const pb::Op& op) {
    return node.store->Execute(op, "r" + std::to_string(++requests_));
  }
  // The same, expected to succeed; the uuid it answered.
  std::string Write(TestNode& node, const pb::Op& op) {
    auto result = Exec(node, op);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? result->uuid() : "";
  }
  // Applies `from`'s records of `origin` after `after` to `to`.
  void Ship(TestNode& from, uint32_t origin, uint64_t after, TestNode& to) {
    for (const auto& r : LogOf(*from.store, origin, after + 1, 100000)) {
      auto applied = to.store->ApplyRemote(r);
      ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    }
  }

  std::unique_ptr<TestNode> a_, b_;
  int requests_ = 0;
};

}  // namespace coffer::storage::testing
