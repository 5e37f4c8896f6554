// The conflict rules: pure-function laws, then every pair of concurrent client
// operations on one object, applied in both orders on real stores.
#include "storage/merge.h"

#include <gtest/gtest.h>

#include <functional>

#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using merge::Lifecycle;

std::vector<Lifecycle> AllLifecycles() {
  std::vector<Lifecycle> out;
  for (auto stage :
       {pb::STAGE_PRE_ACTIVE, pb::STAGE_ACTIVE, pb::STAGE_DEACTIVATED, pb::STAGE_DESTROYED}) {
    for (bool compromised : {false, true}) out.push_back({stage, compromised});
  }
  return out;
}

TEST(LifecycleJoinTest, IsCommutativeAssociativeIdempotent) {
  for (const auto& a : AllLifecycles()) {
    EXPECT_EQ(merge::Join(a, a), a);
    for (const auto& b : AllLifecycles()) {
      EXPECT_EQ(merge::Join(a, b), merge::Join(b, a));
      for (const auto& c : AllLifecycles()) {
        EXPECT_EQ(merge::Join(merge::Join(a, b), c), merge::Join(a, merge::Join(b, c)));
      }
    }
  }
}

TEST(LifecycleJoinTest, DestroyedAndCompromisedAreNeverUndone) {
  for (const auto& a : AllLifecycles()) {
    for (const auto& b : AllLifecycles()) {
      Lifecycle j = merge::Join(a, b);
      if (a.stage == pb::STAGE_DESTROYED) {
        EXPECT_EQ(j.stage, pb::STAGE_DESTROYED);
      }
      if (a.compromised) {
        EXPECT_TRUE(j.compromised);
      }
    }
  }
}

TEST(LifecycleStateTest, MapsToKmipStates) {
  EXPECT_EQ(merge::ToState({pb::STAGE_PRE_ACTIVE, false}), pb::PRE_ACTIVE);
  EXPECT_EQ(merge::ToState({pb::STAGE_ACTIVE, false}), pb::ACTIVE);
  EXPECT_EQ(merge::ToState({pb::STAGE_DEACTIVATED, false}), pb::DEACTIVATED);
  EXPECT_EQ(merge::ToState({pb::STAGE_ACTIVE, true}), pb::COMPROMISED);
  EXPECT_EQ(merge::ToState({pb::STAGE_DESTROYED, false}), pb::DESTROYED);
  EXPECT_EQ(merge::ToState({pb::STAGE_DESTROYED, true}), pb::DESTROYED_COMPROMISED);
}

TEST(LifecycleTransitionTest, KmipTableAndErrorsNameBothStates) {
  struct Row {
    pb::State from;
    bool activate, revoke, compromise, destroy;
  };
  // What KMIP allows from each state.
  const std::vector<Row> table = {
      {pb::PRE_ACTIVE, true, false, true, true},
      {pb::ACTIVE, false, true, true, false},
      {pb::DEACTIVATED, false, false, true, true},
      {pb::COMPROMISED, false, false, false, true},
      {pb::DESTROYED, false, false, true, false},
      {pb::DESTROYED_COMPROMISED, false, false, false, false},
  };
  for (const auto& l : AllLifecycles()) {
    pb::State s = merge::ToState(l);
    const Row* row = nullptr;
    for (const auto& r : table) {
      if (r.from == s) row = &r;
    }
    ASSERT_NE(row, nullptr);
    auto check = [&](StatusOr<Lifecycle> result, bool allowed, const char* op) {
      EXPECT_EQ(result.ok(), allowed) << op << " from " << merge::StateName(s);
      if (!result.ok()) {
        EXPECT_EQ(result.status().code(), Code::kInvalidState);
        EXPECT_NE(result.status().message().find(merge::StateName(s)), std::string::npos)
            << result.status().message();
        EXPECT_NE(result.status().message().find("needs state"), std::string::npos);
      }
    };
    check(merge::Activate(l), row->activate, "activate");
    check(merge::Revoke(l, pb::CESSATION_OF_OPERATION), row->revoke, "revoke");
    check(merge::Revoke(l, pb::KEY_COMPROMISE), row->compromise, "compromise");
    check(merge::Destroy(l), row->destroy, "destroy");
  }
}

TEST(LwwTest, GreaterStampWinsRegardlessOfOrder) {
  auto attr = [](const char* text, int64_t wall, uint32_t logical, uint32_t origin) {
    pb::LwwAttribute a;
    a.mutable_value()->set_text(text);
    *a.mutable_stamp() = merge::MakeStamp({wall, logical}, origin);
    return a;
  };
  std::vector<pb::LwwAttribute> writes = {attr("a", 10, 0, 1), attr("b", 10, 0, 2),
                                          attr("c", 10, 1, 1), attr("d", 9, 5, 3)};
  std::vector<int> order = {0, 1, 2, 3};
  do {
    pb::LwwAttribute current;
    for (int i : order) merge::MergeAttribute(&current, writes[i]);
    EXPECT_EQ(current.value().text(), "c");  // (10,1,1) is the largest stamp
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(NameClaimTest, EarliestClaimWinsThenUuid) {
  merge::NameClaim early{merge::MakeStamp({5, 0}, 2), "bbbb"};
  merge::NameClaim late{merge::MakeStamp({6, 0}, 1), "aaaa"};
  merge::NameClaim tie{merge::MakeStamp({5, 0}, 2), "aaaa"};
  EXPECT_TRUE(merge::ClaimPrecedes(early, late));
  EXPECT_FALSE(merge::ClaimPrecedes(late, early));
  EXPECT_TRUE(merge::ClaimPrecedes(tie, early));
  EXPECT_EQ(merge::GeneratedName("payroll", "aaaa"), "payroll~aaaa");
}

TEST(NameValidationTest, RejectsReservedAndControlCharacters) {
  EXPECT_TRUE(merge::ValidateSuppliedName("payroll-2026", "wallet").ok());
  EXPECT_EQ(merge::ValidateSuppliedName("", "wallet").code(), Code::kInvalidArgument);
  EXPECT_EQ(merge::ValidateSuppliedName("a~b", "wallet").code(), Code::kInvalidArgument);
  EXPECT_EQ(merge::ValidateSuppliedName(std::string("a\0b", 3), "wallet").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(merge::ValidateSuppliedName(std::string(257, 'x'), "wallet").code(),
            Code::kInvalidArgument);
}

// ---- Every pair of concurrent operations on one object, on real stores. ----
//
// Nodes 1 and 2 each execute one operation on the same base object at the
// same time (each validated against its own state). Node 3 then applies the
// two records in the order (1, 2), node 4 in the order (2, 1), and nodes 1 and
// 2 apply each other's record. All four must end with equal digests and equal
// views of the object; destroy and compromise must survive.

struct Fixture {
  std::vector<std::unique_ptr<testing::TestNode>> nodes;  // ids 1..4
  ObjectStore& store(int id) { return *nodes[id - 1]->store; }
};

// Applies every record of `origin` that `to` lacks.
void Pull(ObjectStore& from, ObjectStore& to, uint32_t origin) {
  uint64_t have = to.Applied().count(origin) ? to.Applied().at(origin) : 0;
  auto records = from.ReadLog(origin, have + 1, 1 << 20);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  for (const auto& r : *records) {
    auto applied = to.ApplyRemote(r, Durability::kAsync);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  }
}

using OpMaker = std::function<pb::Op(const std::string& object, const std::string& wallet, int n)>;

pb::Op SetAttr(const std::string& uuid, const std::string& name, pb::AttributeValue v) {
  pb::Op op;
  op.mutable_set_attributes()->set_uuid(uuid);
  (*op.mutable_set_attributes()->mutable_attributes())[name] = v;
  return op;
}

std::vector<std::pair<std::string, OpMaker>> ConcurrentOps() {
  auto text = [](const char* s) {
    pb::AttributeValue v;
    v.set_text(s);
    return v;
  };
  return {
      {"set_color_red", [=](auto& o, auto&, int) { return SetAttr(o, "x-color", text("red")); }},
      {"set_color_blue", [=](auto& o, auto&, int) { return SetAttr(o, "x-color", text("blue")); }},
      {"set_size", [=](auto& o, auto&, int) { return SetAttr(o, "x-size", text("1")); }},
      {"delete_color",
       [=](auto& o, auto&, int) {
         pb::AttributeValue v;
         v.set_deleted(true);
         return SetAttr(o, "x-color", v);
       }},
      {"tag",
       [=](auto& o, auto&, int) {
         pb::AttributeValue v;
         v.set_boolean(true);
         return SetAttr(o, "tag:prod", v);
       }},
      {"not_extractable",
       [=](auto& o, auto&, int) {
         pb::AttributeValue v;
         v.set_boolean(false);
         return SetAttr(o, "extractable", v);
       }},
      {"activate",
       [](auto& o, auto&, int) {
         pb::Op op;
         op.mutable_activate()->set_uuid(o);
         return op;
       }},
      {"revoke",
       [](auto& o, auto&, int) {
         pb::Op op;
         op.mutable_revoke()->set_uuid(o);
         op.mutable_revoke()->set_reason(pb::CESSATION_OF_OPERATION);
         return op;
       }},
      {"compromise",
       [](auto& o, auto&, int) {
         pb::Op op;
         op.mutable_revoke()->set_uuid(o);
         op.mutable_revoke()->set_reason(pb::KEY_COMPROMISE);
         return op;
       }},
      {"destroy",
       [](auto& o, auto&, int) {
         pb::Op op;
         op.mutable_destroy()->set_uuid(o);
         return op;
       }},
      {"rename_a",
       [](auto& o, auto&, int n) {
         pb::Op op;
         op.mutable_rename()->set_kind(pb::ENTITY_OBJECT);
         op.mutable_rename()->set_uuid(o);
         op.mutable_rename()->set_new_name("renamed-a-" + std::to_string(n));
         return op;
       }},
      {"rename_b",
       [](auto& o, auto&, int n) {
         pb::Op op;
         op.mutable_rename()->set_kind(pb::ENTITY_OBJECT);
         op.mutable_rename()->set_uuid(o);
         op.mutable_rename()->set_new_name("renamed-b-" + std::to_string(n));
         return op;
       }},
      {"member_add",
       [](auto& o, auto& w, int) {
         pb::Op op;
         op.mutable_wallet_member()->set_wallet(w);
         op.mutable_wallet_member()->set_object(o);
         op.mutable_wallet_member()->set_present(true);
         return op;
       }},
      {"member_remove",
       [](auto& o, auto& w, int) {
         pb::Op op;
         op.mutable_wallet_member()->set_wallet(w);
         op.mutable_wallet_member()->set_object(o);
         op.mutable_wallet_member()->set_present(false);
         return op;
       }},
  };
}

// Views carry maps, so compare their deterministic encoding.
std::string ViewBytes(ObjectStore& store, const std::string& uuid) {
  auto view = store.Get(uuid, false);
  EXPECT_TRUE(view.ok()) << view.status().ToString();
  return view.ok() ? DeterministicBytes(*view) : "";
}

std::string WalletBytes(ObjectStore& store, const std::string& wallet) {
  auto view = store.GetWallet(wallet);
  EXPECT_TRUE(view.ok()) << view.status().ToString();
  return view.ok() ? DeterministicBytes(*view) : "";
}

TEST(ConcurrentOpsTest, EveryPairInBothOrdersConverges) {
  Fixture f;
  for (uint32_t id = 1; id <= 4; ++id) {
    f.nodes.push_back(testing::MakeNode(testing::Backend::kMemEnv, "/pair" + std::to_string(id), id,
                                        /*seed=*/id));
    ASSERT_NE(f.nodes.back(), nullptr);
  }
  const auto ops = ConcurrentOps();
  struct Base {
    const char* name;
    std::vector<pb::Op (*)(const std::string&)> setup;
    bool member;
  };
  auto activate = +[](const std::string& o) {
    pb::Op op;
    op.mutable_activate()->set_uuid(o);
    return op;
  };
  auto revoke = +[](const std::string& o) {
    pb::Op op;
    op.mutable_revoke()->set_uuid(o);
    return op;
  };
  auto compromise = +[](const std::string& o) {
    pb::Op op;
    op.mutable_revoke()->set_uuid(o);
    op.mutable_revoke()->set_reason(pb::KEY_COMPROMISE);
    return op;
  };
  const std::vector<Base> bases = {{"pre_active", {}, false},
                                   {"active", {activate}, true},
                                   {"deactivated", {activate, revoke}, false},
                                   {"compromised", {compromise}, true}};
  int case_no = 0, executed_pairs = 0;
  for (const auto& base : bases) {
    for (size_t a = 0; a < ops.size(); ++a) {
      for (size_t b = 0; b < ops.size(); ++b) {
        ++case_no;
        SCOPED_TRACE(std::string(base.name) + ": " + ops[a].first + " || " + ops[b].first);
        // Base state, made on node 1 and replicated to all.
        auto& n1 = f.store(1);
        pb::Op create;
        create.mutable_create_key()->set_name("key-" + std::to_string(case_no));
        (*create.mutable_create_key()->mutable_attributes())["x-color"].set_text("green");
        std::string rid = "base-" + std::to_string(case_no);
        auto created = n1.Execute(create, rid + "-key");
        ASSERT_TRUE(created.ok()) << created.status().ToString();
        std::string object = created->uuid();
        pb::Op wallet_op;
        wallet_op.mutable_wallet_create()->set_name("wallet-" + std::to_string(case_no));
        auto wallet = n1.Execute(wallet_op, rid + "-wallet");
        ASSERT_TRUE(wallet.ok());
        int step = 0;
        for (auto setup : base.setup) {
          ASSERT_TRUE(n1.Execute(setup(object), rid + "-s" + std::to_string(step++)).ok());
        }
        if (base.member) {
          pb::Op add = ConcurrentOps()[12].second(object, wallet->uuid(), 0);
          ASSERT_TRUE(n1.Execute(add, rid + "-member").ok());
        }
        for (int id = 2; id <= 4; ++id) Pull(n1, f.store(id), 1);

        // Concurrent operations.
        f.nodes[0]->clock.Advance(1 + (case_no * 7) % 13);
        f.nodes[1]->clock.Advance(1 + (case_no * 5) % 11);
        auto ra = f.store(1).Execute(ops[a].second(object, wallet->uuid(), case_no),
                                     "a-" + std::to_string(case_no));
        auto rb = f.store(2).Execute(ops[b].second(object, wallet->uuid(), case_no),
                                     "b-" + std::to_string(case_no));
        if (ra.ok() && rb.ok()) ++executed_pairs;
        // Both orders: node 3 takes (1 then 2), node 4 takes (2 then 1).
        Pull(f.store(1), f.store(3), 1);
        Pull(f.store(2), f.store(3), 2);
        Pull(f.store(2), f.store(4), 2);
        Pull(f.store(1), f.store(4), 1);
        Pull(f.store(2), f.store(1), 2);
        Pull(f.store(1), f.store(2), 1);

        std::string view = ViewBytes(f.store(1), object);
        std::string wallet_view = WalletBytes(f.store(1), wallet->uuid());
        for (int id = 2; id <= 4; ++id) {
          EXPECT_EQ(f.store(id).StateDigest(), f.store(1).StateDigest()) << "node " << id;
          EXPECT_EQ(ViewBytes(f.store(id), object), view) << "node " << id;
          EXPECT_EQ(WalletBytes(f.store(id), wallet->uuid()), wallet_view) << "node " << id;
        }
        auto final_view = f.store(3).Get(object, false);
        ASSERT_TRUE(final_view.ok());
        bool destroyed =
            (ra.ok() && ops[a].first == "destroy") || (rb.ok() && ops[b].first == "destroy");
        bool compromised = std::string(base.name) == "compromised" ||
                           (ra.ok() && ops[a].first == "compromise") ||
                           (rb.ok() && ops[b].first == "compromise");
        if (destroyed) {
          EXPECT_TRUE(final_view->state() == pb::DESTROYED ||
                      final_view->state() == pb::DESTROYED_COMPROMISED);
        }
        if (compromised) {
          EXPECT_TRUE(final_view->state() == pb::COMPROMISED ||
                      final_view->state() == pb::DESTROYED_COMPROMISED);
        }
        if (HasFatalFailure()) return;
      }
    }
  }
  for (int id = 1; id <= 4; ++id) {
    auto recomputed = f.store(id).RecomputeDigest();
    ASSERT_TRUE(recomputed.ok());
    EXPECT_EQ(*recomputed, f.store(id).StateDigest()) << "incremental digest drifted on " << id;
  }
  // Most pairs are valid on some base; a broken Plan() would shrink this.
  EXPECT_GT(executed_pairs, 400);
}

}  // namespace
}  // namespace coffer::storage
