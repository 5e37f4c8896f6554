// The records of the cluster version (upgrade/cluster_version.h): a node's
// release (last writer wins) and fence (highest wins), the cluster version
// (never falls) and its hold (last writer wins), applied the same in any
// order of origins.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "storage/object_store.h"
#include "storage/object_store/test_ops.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using testing::Backend;
using testing::LogOf;

pb::Op Init() {
  pb::Op op;
  op.mutable_cluster_init()->set_name("prod");
  op.mutable_cluster_init()->set_node_name("alpha");
  op.mutable_cluster_init()->set_release_version("0.2.0");
  return op;
}

pb::Op NodeVersion(uint32_t id, const std::string& release, const std::string& fence) {
  pb::Op op;
  op.mutable_node_version()->set_node_id(id);
  op.mutable_node_version()->set_release(release);
  op.mutable_node_version()->set_fence(fence);
  return op;
}

pb::Op Bump(const std::string& version) {
  pb::Op op;
  op.mutable_cluster_version()->set_version(version);
  return op;
}

pb::Op Hold(pb::VersionHold hold) {
  pb::Op op;
  op.mutable_cluster_set()->set_version_hold(hold);
  return op;
}

// A record of origin 3 raising the cluster version to `version`.
pb::LogRecord ForeignBump(const std::string& version, int64_t wall) {
  pb::LogRecord r;
  r.set_origin(3);
  r.set_seq(1);
  r.mutable_hlc()->set_wall_micros(wall);
  r.set_format(1);
  r.mutable_cluster_version_set()->set_version(version);
  return r;
}

class VersionRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = testing::MakeNode(Backend::kMemEnv, "/a", 1, 1);
    b_ = testing::MakeNode(Backend::kMemEnv, "/b", 2, 2);
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
    auto init = a_->store->Execute(Init(), "init");
    ASSERT_TRUE(init.ok()) << init.status().ToString();
  }
  pb::StoredCluster ClusterOf(const ObjectStore& store) {
    auto cluster = store.Cluster();
    EXPECT_TRUE(cluster.ok() && cluster->has_value());
    return cluster.ok() && cluster->has_value() ? **cluster : pb::StoredCluster();
  }
  pb::StoredNode MemberOf(const ObjectStore& store, uint32_t id) {
    auto members = store.Members();
    EXPECT_TRUE(members.ok());
    for (const auto& m : members.ok() ? *members : std::vector<pb::StoredNode>()) {
      if (m.node_id() == id) return m;
    }
    ADD_FAILURE() << "no member " << id;
    return {};
  }
  std::unique_ptr<testing::TestNode> a_, b_;
};

TEST_F(VersionRecordsTest, ACreatedClusterRunsAtItsCreatorsMinorRelease) {
  EXPECT_EQ(ClusterOf(*a_->store).cluster_version(), "0.2");
  EXPECT_EQ(MemberOf(*a_->store, 1).release_version(), "0.2.0");
  EXPECT_FALSE(ClusterOf(*a_->store).version_held());
}

TEST_F(VersionRecordsTest, ReleaseFollowsTheLatestRecordAndTheFenceOnlyRises) {
  ASSERT_TRUE(a_->store->Execute(NodeVersion(1, "0.3.1", ""), "v1").ok());
  ASSERT_TRUE(a_->store->Execute(NodeVersion(1, "", "0.3"), "v2").ok());
  ASSERT_TRUE(a_->store->Execute(NodeVersion(1, "0.2.4", "0.2"), "v3").ok());  // a rollback
  pb::StoredNode me = MemberOf(*a_->store, 1);
  EXPECT_EQ(me.release_version(), "0.2.4");
  EXPECT_EQ(me.fence_version(), "0.3") << "a fence is never taken back";
  for (const auto& r : LogOf(*a_->store, 1, 1, 10)) ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
  EXPECT_EQ(MemberOf(*b_->store, 1).release_version(), "0.2.4");
  EXPECT_EQ(MemberOf(*b_->store, 1).fence_version(), "0.3");
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
}

TEST_F(VersionRecordsTest, TheClusterVersionNeverFallsWhateverTheOrder) {
  // b hears origin 3's bump before the cluster's creation; a after.
  const int64_t later = a_->clock.WallMicros() + 1000;
  ASSERT_TRUE(b_->store->ApplyRemote(ForeignBump("0.3", later)).ok());
  for (const auto& r : LogOf(*a_->store, 1, 1, 10)) ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
  ASSERT_TRUE(a_->store->ApplyRemote(ForeignBump("0.3", later)).ok());
  EXPECT_EQ(ClusterOf(*a_->store).cluster_version(), "0.3");
  EXPECT_EQ(ClusterOf(*b_->store).cluster_version(), "0.3");
  EXPECT_EQ(ClusterOf(*b_->store).name(), "prod");
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
  // A lower bump (a stale decision) changes nothing.
  ASSERT_TRUE(a_->store->Execute(Bump("0.2"), "stale").ok());
  EXPECT_EQ(ClusterOf(*a_->store).cluster_version(), "0.3");
}

TEST_F(VersionRecordsTest, TheHoldFollowsTheLatestChange) {
  ASSERT_TRUE(a_->store->Execute(Hold(pb::VERSION_HOLD_HOLD), "h1").ok());
  EXPECT_TRUE(ClusterOf(*a_->store).version_held());
  ASSERT_TRUE(a_->store->Execute(Hold(pb::VERSION_HOLD_RELEASE), "h2").ok());
  EXPECT_FALSE(ClusterOf(*a_->store).version_held());
  for (const auto& r : LogOf(*a_->store, 1, 1, 10)) ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
  EXPECT_FALSE(ClusterOf(*b_->store).version_held());
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
}

TEST_F(VersionRecordsTest, BadVersionOpsAreRefusedAndChangeNothing) {
  const auto before = a_->store->StateDigest();
  EXPECT_EQ(a_->store->Execute(NodeVersion(2, "0.3.0", ""), "x1").status().code(),
            Code::kInvalidArgument)
      << "a node records only its own release";
  EXPECT_EQ(a_->store->Execute(NodeVersion(1, "0.3", ""), "x2").status().code(), Code::kOk)
      << "a minor form is a release with patch 0";
  EXPECT_EQ(a_->store->Execute(NodeVersion(1, "three", ""), "x3").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(a_->store->Execute(NodeVersion(1, "", ""), "x4").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(a_->store->Execute(Bump("0.3.1"), "x5").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(a_->store->Execute(Hold(static_cast<pb::VersionHold>(7)), "x6").status().code(),
            Code::kInvalidArgument);
  pb::Op nothing;
  nothing.mutable_cluster_set();
  EXPECT_EQ(a_->store->Execute(nothing, "x7").status().code(), Code::kInvalidArgument);
  EXPECT_NE(a_->store->StateDigest(), before) << "only x2 was applied";
  pb::LogRecord garbage = ForeignBump("not-a-version", a_->clock.WallMicros());
  EXPECT_EQ(b_->store->ApplyRemote(garbage).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(b_->store->Applied().empty());
}

}  // namespace
}  // namespace coffer::storage
