#include "common/edit_distance.h"

#include <gtest/gtest.h>

namespace coffer {
namespace {

TEST(EditDistanceTest, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("node", "node"), 0u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("walet", "wallet"), 1u);
  EXPECT_EQ(EditDistance("cluster", "clsuter"), 2u);
}

TEST(EditDistanceTest, NearestWordsAreOrderedByDistanceAndBounded) {
  std::vector<std::string_view> words = {"wallet", "object", "walle", "node", "wallets"};
  EXPECT_EQ(NearestWords("wallet", words),
            (std::vector<std::string>{"wallet", "walle", "wallets"}));
  EXPECT_EQ(NearestWords("wallet", words, 2, 1), (std::vector<std::string>{"wallet"}));
  EXPECT_TRUE(NearestWords("zzzzzz", words).empty());
}

TEST(EditDistanceTest, DidYouMeanNamesTheNearestWithinTwoEdits) {
  EXPECT_EQ(DidYouMean("tsl", {"tls", "node"}), " (did you mean 'tls'?)");
  EXPECT_EQ(DidYouMean("storage", {"tls", "node"}), "");
}

}  // namespace
}  // namespace coffer
