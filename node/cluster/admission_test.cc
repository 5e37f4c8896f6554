// The peer admission check on its own: member id, certificate CN, release.
#include "node/cluster/admission.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "upgrade/binary_profile.h"

namespace coffer::node {
namespace {

pb::StoredNode Member(uint32_t id, const std::string& name) {
  pb::StoredNode node;
  node.set_node_id(id);
  node.mutable_name()->set_name(name);
  return node;
}

pb::PeerHello Hello(uint32_t id, std::string_view release = kReleaseVersion) {
  pb::PeerHello hello;
  hello.set_node_id(id);
  hello.set_release_version(std::string(release));
  return hello;
}

ClientIdentity Cert(const std::string& cn) { return ClientIdentity{cn, "node", ""}; }

TEST(PeerAdmissionTest, AdmitsAMemberByIdCertificateNameAndRelease) {
  PeerAdmission admission;
  EXPECT_EQ(admission.Admit(Hello(2), Cert("beta")).code(), Code::kNotFound)
      << "nobody is admitted before the membership is known";
  admission.SetMembers({Member(1, "alpha"), Member(2, "beta")});
  EXPECT_TRUE(admission.Admit(Hello(2), Cert("beta")).ok());
  EXPECT_EQ(admission.Admit(Hello(3), Cert("gamma")).code(), Code::kNotFound);
  EXPECT_EQ(admission.Admit(Hello(2), Cert("alpha")).code(), Code::kPermissionDenied)
      << "a member's certificate may not speak for another member";
  Status old_release = admission.Admit(Hello(2, "0.0.9"), Cert("beta"));
  EXPECT_FALSE(old_release.ok());
  EXPECT_EQ(old_release.code(), Code::kIncompatibleVersion);
}

TEST(PeerAdmissionTest, AReleaseBelowTheVersionFloorIsRefused) {
  PeerAdmission admission;
  admission.SetMembers({Member(1, "alpha"), Member(2, "beta")});
  const Release ours = upgrade::ThisBinary().versions.release;
  ASSERT_TRUE(admission.Admit(Hello(2, ours.ToString()), Cert("beta")).ok());
  admission.SetVersionFloor(ours.NextMinor());
  Status below = admission.Admit(Hello(2, ours.ToString()), Cert("beta"));
  EXPECT_EQ(below.code(), Code::kIncompatibleVersion);
  EXPECT_THAT(below.message(), ::testing::HasSubstr(ours.NextMinor().MinorString()));
  EXPECT_TRUE(admission.Admit(Hello(2, ours.NextMinor().ToString()), Cert("beta")).ok());
}

TEST(PeerAdmissionTest, ADeletedMemberIsRefusedOnceTheMembershipDropsIt) {
  PeerAdmission admission;
  admission.SetMembers({Member(1, "alpha"), Member(2, "beta")});
  ASSERT_TRUE(admission.Admit(Hello(2), Cert("beta")).ok());
  admission.SetMembers({Member(1, "alpha")});
  EXPECT_EQ(admission.Admit(Hello(2), Cert("beta")).code(), Code::kNotFound);
}

}  // namespace
}  // namespace coffer::node
