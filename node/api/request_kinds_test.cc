// The request kinds table (request_kinds.h): complete, and what it says about
// callers and node states; and that the request handler answers by it (a
// DISABLED node refuses every data read, `conflict list` included, and
// still answers status requests).
#include "node/api/request_kinds.h"

#include <gtest/gtest.h>

#include <set>

#include "node/api/request_handler.h"
#include "storage/test_util.h"

namespace coffer::node {
namespace {

using storage::testing::Backend;

constexpr ServingState kAllStates[] = {
    ServingState::kStandalone, ServingState::kPending,  ServingState::kActive,
    ServingState::kDisabling,  ServingState::kDisabled, ServingState::kEnabling,
    ServingState::kExpired,
};

// One request of every data-read kind.
std::vector<pb::Request> DataReads() {
  std::vector<pb::Request> reads(7);
  reads[0].mutable_get()->set_uuid("u");
  reads[1].mutable_locate()->set_name("n");
  reads[2].mutable_wallet_list();
  reads[3].mutable_wallet_get()->set_wallet("w");
  reads[4].mutable_endpoint_list();
  reads[5].mutable_conflict_list();
  reads[6].mutable_wallet_objects()->set_wallet("w");
  return reads;
}

ClientIdentity AdminCaller() { return ClientIdentity{"admin", std::string(kAdminRole), ""}; }

TEST(RequestKindsTest, EveryRequestAndOpCaseHasItsOwnRowWithAUniqueName) {
  std::set<std::string_view> names;
  for (const RequestKind& kind : RequestKinds()) {
    EXPECT_TRUE(names.insert(kind.name).second) << kind.name;
  }
  const auto* request_kinds = pb::Request::descriptor()->FindOneofByName("kind");
  ASSERT_NE(request_kinds, nullptr);
  for (int i = 0; i < request_kinds->field_count(); ++i) {
    int number = request_kinds->field(i)->number();
    if (number == pb::Request::kWrite) continue;  // one row per op below
    pb::Request request;
    request.GetReflection()->MutableMessage(&request, request_kinds->field(i));
    const RequestKind& kind = KindOf(request);
    EXPECT_EQ(kind.request, number) << request_kinds->field(i)->name();
    EXPECT_EQ(kind.name, request_kinds->field(i)->name());
  }
  const auto* ops = pb::Op::descriptor()->FindOneofByName("op");
  ASSERT_NE(ops, nullptr);
  for (int i = 0; i < ops->field_count(); ++i) {
    pb::Request request;
    pb::Op* op = request.mutable_write();
    op->GetReflection()->MutableMessage(op, ops->field(i));
    const RequestKind& kind = KindOf(request);
    EXPECT_EQ(kind.op, ops->field(i)->number()) << ops->field(i)->name();
    EXPECT_NE(kind.name, "write") << ops->field(i)->name();
  }
  EXPECT_EQ(KindOf(pb::Request()).name, "empty");
  pb::Request no_op;
  no_op.mutable_write();
  EXPECT_EQ(KindOf(no_op).name, "write");
}

// Endpoints reach data kinds only within their grants (endpoint_access.h
// decides which objects); the table lets through exactly these.
TEST(RequestKindsTest, AdminsMayAskEverythingNodesOnlyInductionEndpointsTheirGrantedKinds) {
  std::set<std::string_view> node_kinds, endpoint_kinds;
  for (const RequestKind& kind : RequestKinds()) {
    if (kind.request_class == RequestClass::kInternal) continue;  // nobody: next test
    EXPECT_TRUE(kind.callers & kAdmin) << kind.name;
    if (kind.callers & kNode) node_kinds.insert(kind.name);
    if (kind.callers & kEndpoint) endpoint_kinds.insert(kind.name);
  }
  EXPECT_EQ(node_kinds, (std::set<std::string_view>{"node_status", "join", "snapshot_chunk"}));
  EXPECT_EQ(endpoint_kinds,
            (std::set<std::string_view>{"get", "locate", "wallet_list", "wallet_get", "create_key",
                                        "register", "set_attributes", "activate", "revoke",
                                        "wallet_member", "endpoint_grant", "node_status",
                                        "cluster_status", "wallet_objects", "wallet_transfer"}));
  const ClientIdentity endpoint{"e", std::string(kEndpointRole), ""};
  pb::Request read, destroy, bind;
  read.mutable_wallet_list();
  destroy.mutable_write()->mutable_destroy()->set_uuid("u");
  bind.mutable_write()->mutable_endpoint_bind()->set_endpoint("e");
  EXPECT_TRUE(AuthorizeRequest(read, endpoint).ok());
  for (const pb::Request* r : {&destroy, &bind}) {
    Status refused = AuthorizeRequest(*r, endpoint);
    EXPECT_EQ(refused.code(), Code::kPermissionDenied);
    EXPECT_NE(refused.message().find("an administrator's request"), std::string::npos)
        << refused.message();
  }
}

// Issue 11: an admin's raw node_add created a PENDING member that never
// joined. Internal ops, and the internal values of node_state, are refused
// for every role; the join path writes node_add without the client API.
TEST(RequestKindsTest, InternalOpsAreRefusedFromTheClientApiForEveryRole) {
  std::set<std::string_view> internal;
  for (const RequestKind& kind : RequestKinds()) {
    if (kind.request_class != RequestClass::kInternal) continue;
    internal.insert(kind.name);
    EXPECT_EQ(kind.callers, kNoCaller) << kind.name;
    EXPECT_TRUE(kind.audited) << kind.name << ": a refused attempt is audited";
  }
  EXPECT_EQ(internal, (std::set<std::string_view>{"cluster_version", "node_add", "node_version"}));
  pb::Request add;
  add.mutable_write()->mutable_node_add()->set_name("mallory");
  add.mutable_write()->mutable_node_add()->set_role(pb::NODE_READ_ONLY);
  for (std::string_view role : {kAdminRole, kNodeRole, kEndpointRole}) {
    Status refused = AuthorizeRequest(add, ClientIdentity{"mallory", std::string(role), ""});
    EXPECT_EQ(refused.code(), Code::kPermissionDenied) << role;
    EXPECT_NE(refused.message().find("internal"), std::string::npos) << refused.message();
  }
  for (pb::NodeState state :
       {pb::NODE_PENDING, pb::NODE_ACTIVE, pb::NODE_DISABLED, pb::NODE_STATE_UNSPECIFIED}) {
    pb::Request set;
    set.mutable_write()->mutable_node_state()->set_node_id(2);
    set.mutable_write()->mutable_node_state()->set_state(state);
    EXPECT_EQ(AuthorizeRequest(set, AdminCaller()).code(), Code::kPermissionDenied)
        << pb::NodeState_Name(state);
  }
  for (pb::NodeState state : {pb::NODE_DISABLING, pb::NODE_ENABLING}) {
    pb::Request set;
    set.mutable_write()->mutable_node_state()->set_state(state);
    EXPECT_TRUE(AuthorizeRequest(set, AdminCaller()).ok()) << pb::NodeState_Name(state);
  }
}

// The handler refuses a client's node_add before the store sees it: no
// member is added (on main the store wrote a PENDING member).
TEST(RequestKindsTest, HandlerRefusesAClientNodeAddAndAddsNoMember) {
  auto node = storage::testing::MakeNode(Backend::kMemEnv, "/handler", 1);
  ASSERT_NE(node, nullptr);
  NodeInfo info;
  info.node_name = "alpha";
  auto ask = [&](const pb::Request& r) {
    return HandleRequest(*node->store, r, AdminCaller(), info, storage::Durability::kSync,
                         node->clock);
  };
  pb::Request init;
  init.mutable_write()->mutable_cluster_init()->set_name("prod");
  init.set_request_id("init");
  ASSERT_EQ(ask(init).code(), "OK");
  auto before = node->store->Members();
  ASSERT_TRUE(before.ok());
  pb::Request add;
  add.set_request_id("add");
  add.mutable_write()->mutable_node_add()->set_name("mallory");
  add.mutable_write()->mutable_node_add()->set_role(pb::NODE_READ_ONLY);
  add.mutable_write()->mutable_node_add()->set_release_version("0.1.0");
  pb::Response refused = ask(add);
  EXPECT_EQ(refused.code(), "PERMISSION_DENIED") << refused.message();
  auto after = node->store->Members();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), before->size()) << "no member was added";
}

TEST(RequestKindsTest, DataReadsAreServedOnlyWhereDataIsCurrentEverythingElseEverywhere) {
  std::set<std::string_view> reads;
  for (const RequestKind& kind : RequestKinds()) {
    if (kind.request_class == RequestClass::kDataRead) {
      reads.insert(kind.name);
      EXPECT_EQ(kind.serves, kCurrentData) << kind.name;
    } else {
      EXPECT_EQ(kind.serves, kEveryState) << kind.name;
    }
  }
  EXPECT_EQ(reads,
            (std::set<std::string_view>{"get", "locate", "wallet_list", "wallet_get",
                                        "endpoint_list", "conflict_list", "wallet_objects"}));
  pb::Op disable;
  disable.mutable_node_state()->set_state(pb::NODE_DISABLING);
  EXPECT_TRUE(IsLifecycleOp(disable));
  pb::Op create;
  create.mutable_create_key()->set_name("k");
  EXPECT_FALSE(IsLifecycleOp(create));
}

TEST(RequestKindsTest,
     WritesJoinsJoinTokensAndChunksAreAlwaysAuditedReadsAndStatusAreSafeToResend) {
  for (const RequestKind& kind : RequestKinds()) {
    bool write = kind.request == pb::Request::kWrite;
    EXPECT_EQ(kind.audited, write || kind.name == "join" || kind.name == "join_token" ||
                                kind.name == "snapshot_chunk")
        << kind.name;
  }
  pb::Request status, read, create, disable, token;
  status.mutable_cluster_status();
  read.mutable_conflict_list();
  create.mutable_write()->mutable_create_key()->set_name("k");
  disable.mutable_write()->mutable_node_state()->set_state(pb::NODE_DISABLING);
  token.mutable_join_token();
  EXPECT_TRUE(HasNoSideEffects(status));
  EXPECT_TRUE(HasNoSideEffects(read));
  EXPECT_FALSE(HasNoSideEffects(create));
  EXPECT_FALSE(HasNoSideEffects(token));
  EXPECT_TRUE(AnyMemberMayServe(read));
  EXPECT_TRUE(AnyMemberMayServe(create));
  EXPECT_FALSE(AnyMemberMayServe(disable)) << "enable runs on the disabled node itself";
  EXPECT_FALSE(AnyMemberMayServe(status));
  EXPECT_FALSE(AnyMemberMayServe(token));
}

// The inconsistency this table removed: a DISABLED node served `conflict
// list` but refused `wallet list`. Every data read is one decision now.
TEST(RequestKindsTest, ANodeThatIsNotCurrentRefusesEveryDataReadConflictListIncluded) {
  for (const pb::Request& read : DataReads()) {
    ASSERT_TRUE(IsDataRead(read)) << read.ShortDebugString();
    for (ServingState state : kAllStates) {
      Status served = CheckServes(read, state);
      bool current = state == ServingState::kStandalone || state == ServingState::kPending ||
                     state == ServingState::kActive;
      if (current) {
        EXPECT_TRUE(served.ok()) << RequestKindName(read) << " " << ServingStateName(state);
      } else {
        EXPECT_EQ(served.code(), Code::kUnavailable)
            << RequestKindName(read) << " " << ServingStateName(state);
        EXPECT_EQ(served.message(), "this node is " + std::string(ServingStateName(state)) +
                                        ": its data may be stale; ask another node");
      }
    }
  }
  pb::Request status, cluster, enable;
  status.mutable_node_status();
  cluster.mutable_cluster_status();
  enable.mutable_write()->mutable_node_state()->set_state(pb::NODE_ENABLING);
  for (const pb::Request* r : {&status, &cluster, &enable}) {
    EXPECT_TRUE(CheckServes(*r, ServingState::kDisabled).ok()) << RequestKindName(*r);
    EXPECT_TRUE(CheckServes(*r, ServingState::kExpired).ok()) << RequestKindName(*r);
  }
}

TEST(RequestKindsTest, ServingStateOfReadsTheStoredStateAndTheDisableWindow) {
  pb::StoredCluster cluster;
  cluster.set_max_disable_seconds(60);
  pb::StoredNode node;
  EXPECT_EQ(ServingStateOf(node, cluster, 0), ServingState::kActive);  // rows from before states
  node.set_state(pb::NODE_PENDING);
  EXPECT_EQ(ServingStateOf(node, cluster, 0), ServingState::kPending);
  node.set_state(pb::NODE_DISABLING);
  EXPECT_EQ(ServingStateOf(node, cluster, 0), ServingState::kDisabling);
  node.set_state(pb::NODE_ENABLING);
  EXPECT_EQ(ServingStateOf(node, cluster, 0), ServingState::kEnabling);
  node.set_state(pb::NODE_DISABLED);
  node.set_disabled_at_micros(1'000'000);
  EXPECT_EQ(ServingStateOf(node, cluster, 60'999'999), ServingState::kDisabled);
  EXPECT_EQ(ServingStateOf(node, cluster, 61'000'000), ServingState::kExpired);
}

// The handler answers by the same table as the node: in DISABLED, wallet
// list and conflict list are both UNAVAILABLE; node status is answered.
TEST(RequestKindsTest, HandlerOfADisabledNodeRefusesWalletListAndConflictListAlike) {
  auto node = storage::testing::MakeNode(Backend::kMemEnv, "/handler", 1);
  ASSERT_NE(node, nullptr);
  pb::Request create;
  create.mutable_write()->mutable_wallet_create()->set_name("w");
  create.set_request_id("create-w");
  NodeInfo info;
  info.node_name = "alpha";
  ASSERT_EQ(HandleRequest(*node->store, create, AdminCaller(), info, storage::Durability::kSync,
                          node->clock)
                .code(),
            "OK");
  pb::Request wallets, conflicts, status;
  wallets.mutable_wallet_list();
  conflicts.mutable_conflict_list();
  status.mutable_node_status();
  ServingState state = ServingState::kActive;
  info.serving_state = [&] { return state; };
  auto ask = [&](const pb::Request& r) {
    return HandleRequest(*node->store, r, AdminCaller(), info, storage::Durability::kSync,
                         node->clock);
  };
  pb::Response listed = ask(wallets);
  EXPECT_EQ(listed.code(), "OK");
  EXPECT_EQ(listed.wallets().wallets_size(), 1);
  EXPECT_EQ(ask(conflicts).code(), "OK");
  for (ServingState s : {ServingState::kDisabled, ServingState::kExpired}) {
    state = s;
    EXPECT_EQ(ask(wallets).code(), "UNAVAILABLE") << ServingStateName(s);
    EXPECT_EQ(ask(conflicts).code(), "UNAVAILABLE") << ServingStateName(s);
    EXPECT_EQ(ask(status).code(), "OK") << ServingStateName(s);
  }
}

}  // namespace
}  // namespace coffer::node
