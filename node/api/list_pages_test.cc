// List responses cut by bytes with a continuation cursor (list_pages.h).
#include "node/api/list_pages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/api.pb.h"

namespace coffer::node {
namespace {

pb::EndpointView Endpoint(const std::string& uuid, size_t subject_bytes) {
  pb::EndpointView e;
  e.set_uuid(uuid);
  e.set_certificate_subject(std::string(subject_bytes, 's'));
  return e;
}

TEST(ListPagesTest, PagesWithinTheBudgetInUuidOrderUntilComplete) {
  std::vector<pb::EndpointView> all;
  for (int i = 99; i >= 0; --i) {  // out of order: pages come in uuid order
    char uuid[8];
    std::snprintf(uuid, sizeof uuid, "u%03d", i);
    all.push_back(Endpoint(uuid, 1000));
  }
  std::string after;
  std::vector<std::string> seen;
  int pages = 0;
  for (; pages < 100; ++pages) {
    pb::EndpointList page;
    std::string next = FillPage(all, after, page.mutable_endpoints(), 10'000);
    EXPECT_LE(page.ByteSizeLong(), 10'000u);
    EXPECT_GT(page.endpoints_size(), 0);
    for (const auto& e : page.endpoints()) seen.push_back(e.uuid());
    if (next.empty()) break;
    EXPECT_EQ(next, page.endpoints().rbegin()->uuid());
    after = next;
  }
  EXPECT_GE(pages, 9);
  ASSERT_EQ(seen.size(), 100u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
}

TEST(ListPagesTest, AnItemLargerThanTheBudgetComesAlone) {
  std::vector<pb::EndpointView> all = {Endpoint("a", 10), Endpoint("b", 50'000), Endpoint("c", 10)};
  pb::EndpointList first;
  EXPECT_EQ(FillPage(all, "", first.mutable_endpoints(), 1000), "a");
  pb::EndpointList second;
  EXPECT_EQ(FillPage(all, "a", second.mutable_endpoints(), 1000), "b");
  ASSERT_EQ(second.endpoints_size(), 1);
  pb::EndpointList third;
  EXPECT_EQ(FillPage(all, "b", third.mutable_endpoints(), 1000), "");
  EXPECT_EQ(third.endpoints_size(), 1);
}

}  // namespace
}  // namespace coffer::node
