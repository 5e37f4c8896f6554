#include "node/cluster/membership.h"

#include <gtest/gtest.h>

namespace coffer::node {
namespace {

pb::StoredNode Member(uint32_t id) {
  pb::StoredNode n;
  n.set_node_id(id);
  return n;
}

PeerLinks::LinkStatus Refused(uint32_t peer) {
  PeerLinks::LinkStatus l;
  l.peer = peer;
  l.last_error = "NOT_FOUND: node 3 is not a member of this cluster (unknown or deleted)";
  return l;
}

TEST(RemovalWatchTest, MissingFromItsOwnMembershipOnceAMember) {
  RemovalWatch watch;
  EXPECT_FALSE(watch.Removed({Member(1)}, 3, {})) << "never a member yet: joining";
  EXPECT_FALSE(watch.Removed({Member(1), Member(3)}, 3, {}));
  EXPECT_TRUE(watch.Removed({Member(1)}, 3, {}));
  EXPECT_FALSE(watch.Removed({Member(1)}, 3, {})) << "reported once";
}

TEST(RemovalWatchTest, EveryOtherMemberRefusesItsLinks) {
  RemovalWatch watch;
  std::vector<pb::StoredNode> members = {Member(1), Member(2), Member(3)};
  EXPECT_FALSE(watch.Removed(members, 3, {Refused(1)})) << "node 2 has not refused";
  PeerLinks::LinkStatus down;
  down.peer = 2;
  down.last_error = "UNAVAILABLE: connection refused";
  EXPECT_FALSE(watch.Removed(members, 3, {Refused(1), down}));
  EXPECT_TRUE(watch.Removed(members, 3, {Refused(1), Refused(2)}));
  EXPECT_FALSE(watch.Removed(members, 3, {Refused(1), Refused(2)})) << "reported once";
}

TEST(MembershipFingerprintTest, EqualRowsEqualFingerprints) {
  EXPECT_EQ(MembershipFingerprint({Member(1), Member(2)}),
            MembershipFingerprint({Member(1), Member(2)}));
  EXPECT_NE(MembershipFingerprint({Member(1), Member(2)}), MembershipFingerprint({Member(1)}));
}

}  // namespace
}  // namespace coffer::node
