#include "node/api/feature_gates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "upgrade/binary_profile.h"

namespace coffer::node {
namespace {

pb::Request RegisterWithComment(const std::string& comment) {
  pb::Request r;
  r.mutable_write()->mutable_register_object()->set_comment(comment);
  return r;
}

TEST(FeatureGatesTest, ACommentNeedsTheObjectCommentFeature) {
  EXPECT_FALSE(FeatureNeededBy(RegisterWithComment("")).has_value());
  EXPECT_EQ(FeatureNeededBy(RegisterWithComment("rotate yearly")),
            upgrade::Feature::kObjectComment);
  pb::Request key;
  key.mutable_write()->mutable_create_key()->set_comment("x");
  EXPECT_EQ(FeatureNeededBy(key), upgrade::Feature::kObjectComment);
  pb::Request read;
  read.mutable_get()->set_uuid("u");
  EXPECT_FALSE(FeatureNeededBy(read).has_value());
}

TEST(FeatureGatesTest, RefusedUntilTheClusterVersionReachesTheNextRelease) {
  const upgrade::BinaryProfile& next = upgrade::NextRelease();
  const Release before = next.versions.min_cluster_version;
  upgrade::GateSnapshot old_cluster(next.registry, before, false, {"node b (2) runs 0.2.0"});
  Status refused = CheckFeatureGates(RegisterWithComment("c"), old_cluster);
  EXPECT_EQ(refused.code(), Code::kFeatureNotActive);
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("object-comment"));
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("node b (2) runs 0.2.0"));
  EXPECT_TRUE(CheckFeatureGates(RegisterWithComment(""), old_cluster).ok());
  upgrade::GateSnapshot new_cluster(next.registry, next.versions.release.Minor(), false, {});
  EXPECT_TRUE(CheckFeatureGates(RegisterWithComment("c"), new_cluster).ok());
  // This release's binary does not know the feature at all.
  upgrade::GateSnapshot current(upgrade::CurrentRelease().registry, Release{9, 9, 0}, false, {});
  EXPECT_EQ(CheckFeatureGates(RegisterWithComment("c"), current).code(), Code::kFeatureNotActive);
}

// Release 0.3's feature: refused on a cluster still at 0.2 (a rolling
// upgrade from 0.2.0 not finalized), allowed at 0.3.
TEST(FeatureGatesTest, RekeyNeedsTheKeyRekeyFeatureOfThisRelease) {
  pb::Request rekey;
  rekey.mutable_write()->mutable_rekey()->set_uuid("u");
  EXPECT_EQ(FeatureNeededBy(rekey), upgrade::Feature::kKeyRekey);
  const upgrade::BinaryProfile& current = upgrade::CurrentRelease();
  upgrade::GateSnapshot previous(current.registry, current.versions.min_cluster_version, true,
                                 {"the version is held (coffer cluster version release)"});
  Status refused = CheckFeatureGates(rekey, previous);
  EXPECT_EQ(refused.code(), Code::kFeatureNotActive);
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("key-rekey"));
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("held"));
  upgrade::GateSnapshot upgraded(current.registry, current.versions.release.Minor(), false, {});
  EXPECT_TRUE(CheckFeatureGates(rekey, upgraded).ok());
}

// Items 3 and 4 of release 0.3: the keystore and export commands send
// requests that name their feature, refused while the cluster is at 0.2.
TEST(FeatureGatesTest, KeystoreAndExportRequestsNeedTheirFeatures) {
  pb::Request download;
  download.mutable_wallet_objects()->set_purpose(pb::WALLET_OBJECTS_DOWNLOAD);
  pb::Request exported = download;
  exported.mutable_wallet_objects()->set_purpose(pb::WALLET_OBJECTS_EXPORT);
  pb::Request upload;
  upload.mutable_write()->mutable_register_object()->set_source(pb::REGISTER_KEYSTORE_UPLOAD);
  pb::Request imported;
  imported.mutable_write()->mutable_register_object()->set_source(pb::REGISTER_EXPORT_IMPORT);
  pb::Request merge;
  merge.mutable_write()->mutable_wallet_transfer()->set_source("a");
  EXPECT_EQ(FeatureNeededBy(download), upgrade::Feature::kWalletKeystore);
  EXPECT_EQ(FeatureNeededBy(upload), upgrade::Feature::kWalletKeystore);
  EXPECT_EQ(FeatureNeededBy(exported), upgrade::Feature::kWalletExport);
  EXPECT_EQ(FeatureNeededBy(imported), upgrade::Feature::kWalletExport);
  EXPECT_EQ(FeatureNeededBy(merge), upgrade::Feature::kWalletExport);
  pb::Request plain;
  plain.mutable_write()->mutable_register_object()->set_name("n");
  EXPECT_FALSE(FeatureNeededBy(plain).has_value());

  const upgrade::BinaryProfile& current = upgrade::CurrentRelease();
  upgrade::GateSnapshot previous(current.registry, current.versions.min_cluster_version, false,
                                 {"node b (2) runs 0.2.0"});
  upgrade::GateSnapshot upgraded(current.registry, current.versions.release.Minor(), false, {});
  for (const pb::Request* r : {&download, &upload, &exported, &imported, &merge}) {
    Status refused = CheckFeatureGates(*r, previous);
    EXPECT_EQ(refused.code(), Code::kFeatureNotActive) << r->ShortDebugString();
    EXPECT_THAT(refused.message(), ::testing::HasSubstr("node b (2) runs 0.2.0"));
    EXPECT_TRUE(CheckFeatureGates(*r, upgraded).ok()) << r->ShortDebugString();
  }
  EXPECT_THAT(CheckFeatureGates(download, previous).message(),
              ::testing::HasSubstr("wallet-keystore"));
  EXPECT_THAT(CheckFeatureGates(merge, previous).message(), ::testing::HasSubstr("wallet-export"));
}

}  // namespace
}  // namespace coffer::node
