#include "upgrade/store_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "storage/test_util.h"

namespace coffer::upgrade {
namespace {

using storage::testing::FilesUnder;

using ::testing::HasSubstr;

// A profile of release `minor` (x.minor.0) running cluster versions from
// the minor before.
BinaryProfile Profile(uint32_t minor) {
  return BinaryProfile{BinaryVersions{Release{0, minor, 0}, Release{0, minor - 1, 0}}, {}, 3};
}

class StoreCheckTest : public ::testing::Test {
 protected:
  // A store on disk; `cluster_version` "" leaves the store standalone,
  // "none" makes a cluster without a recorded version (a 0.1 store).
  void MakeStore(const std::string& cluster_version) {
    auto node = storage::testing::MakeNode(storage::testing::Backend::kDisk, dir_.path(), 1);
    ASSERT_NE(node, nullptr);
    if (cluster_version.empty()) return;
    pb::Op init;
    init.mutable_cluster_init()->set_name("prod");
    init.mutable_cluster_init()->set_node_name("alpha");
    if (cluster_version != "none") {
      init.mutable_cluster_init()->set_release_version(cluster_version + ".0");
    }
    ASSERT_TRUE(node->store->Execute(init, "init").ok());
  }
  storage::testing::TempDir dir_;
};

TEST_F(StoreCheckTest, ANewNodeAndAStandaloneStorePass) {
  auto none = CheckStore(dir_.path() + "/missing", CurrentRelease());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->exists);
  EXPECT_TRUE(none->verdict.ok());
  MakeStore("");
  auto standalone = CheckStore(dir_.path(), Profile(9));
  ASSERT_TRUE(standalone.ok()) << standalone.status().ToString();
  EXPECT_TRUE(standalone->exists);
  EXPECT_FALSE(standalone->clustered);
  EXPECT_TRUE(standalone->verdict.ok());
}

TEST_F(StoreCheckTest, TooOldAndTooNewAreRefusedAndNoFileChanges) {
  MakeStore("0.2");
  const auto before = FilesUnder(dir_.path());
  auto same = CheckStore(dir_.path(), Profile(2));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->cluster_version, "0.2");
  EXPECT_TRUE(same->verdict.ok());
  EXPECT_TRUE(CheckStore(dir_.path(), Profile(3))->verdict.ok()) << "one minor newer runs it";
  Status too_new_binary = CheckStore(dir_.path(), Profile(4))->verdict;
  EXPECT_EQ(too_new_binary.code(), Code::kIncompatibleVersion);
  EXPECT_THAT(too_new_binary.message(), HasSubstr("cluster version is 0.2"));
  Status too_old_binary = CheckStore(dir_.path(), Profile(1))->verdict;
  EXPECT_EQ(too_old_binary.code(), Code::kIncompatibleVersion);
  EXPECT_THAT(too_old_binary.message(), HasSubstr("nothing was changed"));
  EXPECT_EQ(FilesUnder(dir_.path()), before);
}

TEST_F(StoreCheckTest, AStoreWithoutAClusterVersionOpensOnlyOnZeroTwo) {
  MakeStore("none");
  auto on_02 = CheckStore(dir_.path(), Profile(2));
  ASSERT_TRUE(on_02.ok());
  EXPECT_TRUE(on_02->clustered);
  EXPECT_EQ(on_02->cluster_version, "");
  EXPECT_TRUE(on_02->verdict.ok());
  EXPECT_EQ(CheckStore(dir_.path(), Profile(3))->verdict.code(), Code::kIncompatibleVersion);
}

}  // namespace
}  // namespace coffer::upgrade
