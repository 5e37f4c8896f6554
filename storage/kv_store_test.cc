// Contract test of KvStore, run on RocksDB on a real directory and on
// RocksDB's in-memory Env.
#include "storage/kv_store.h"

#include <gtest/gtest.h>

#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using testing::Backend;

class KvStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    RocksOptions options;
    options.path = dir_.path() + "/db";
    options.in_memory = GetParam() == Backend::kMemEnv;
    auto kv = OpenRocksKvStore(options);
    ASSERT_TRUE(kv.ok()) << kv.status().ToString();
    kv_ = std::move(kv).value();
  }
  std::vector<std::string> Keys(std::string_view prefix, std::string_view start = "") {
    std::vector<std::string> out;
    EXPECT_TRUE(kv_->Scan(prefix, start,
                          [&](auto k, auto) {
                            out.emplace_back(k);
                            return true;
                          })
                    .ok());
    return out;
  }
  testing::TempDir dir_;
  std::unique_ptr<KvStore> kv_;
};

TEST_P(KvStoreContract, GetOfMissingKeyIsNotFound) {
  std::string v;
  EXPECT_EQ(kv_->Get("nope", &v).code(), Code::kNotFound);
}

TEST_P(KvStoreContract, BatchIsAppliedInOrderAndAtomically) {
  WriteBatch batch;
  batch.Put("a", "1");
  batch.Put("b", "2");
  batch.Delete("a");
  batch.Put("c", std::string("\0x", 2));
  ASSERT_TRUE(kv_->Write(batch, /*sync=*/true).ok());
  std::string v;
  EXPECT_EQ(kv_->Get("a", &v).code(), Code::kNotFound);
  ASSERT_TRUE(kv_->Get("b", &v).ok());
  EXPECT_EQ(v, "2");
  ASSERT_TRUE(kv_->Get("c", &v).ok());
  EXPECT_EQ(v, std::string("\0x", 2));
}

TEST_P(KvStoreContract, ScanVisitsOnlyThePrefixInOrderFromStart) {
  WriteBatch batch;
  for (std::string k : {"p/3", "p/1", "q/1", "p/2", "o/9"}) batch.Put(k, k);
  ASSERT_TRUE(kv_->Write(batch, false).ok());
  EXPECT_EQ(Keys("p/"), (std::vector<std::string>{"p/1", "p/2", "p/3"}));
  EXPECT_EQ(Keys("p/", "p/2"), (std::vector<std::string>{"p/2", "p/3"}));
  int visited = 0;
  ASSERT_TRUE(kv_->Scan("p/", "", [&](auto, auto) { return ++visited < 2; }).ok());
  EXPECT_EQ(visited, 2);
}

TEST_P(KvStoreContract, SnapshotDoesNotSeeLaterWrites) {
  WriteBatch first;
  first.Put("k", "old");
  ASSERT_TRUE(kv_->Write(first, false).ok());
  auto snapshot = kv_->NewSnapshot();
  WriteBatch second;
  second.Put("k", "new");
  second.Put("k2", "x");
  ASSERT_TRUE(kv_->Write(second, false).ok());
  std::string v;
  ASSERT_TRUE(snapshot->Get("k", &v).ok());
  EXPECT_EQ(v, "old");
  EXPECT_EQ(snapshot->Get("k2", &v).code(), Code::kNotFound);
  ASSERT_TRUE(kv_->Get("k", &v).ok());
  EXPECT_EQ(v, "new");
}

INSTANTIATE_TEST_SUITE_P(Backends, KvStoreContract,
                         ::testing::Values(Backend::kDisk, Backend::kMemEnv),
                         [](const auto& info) { return testing::BackendName(info.param); });

TEST(RocksKvStoreTest, SecondOpenOfSameDirectoryIsUnavailable) {
  testing::TempDir dir;
  RocksOptions options;
  options.path = dir.path() + "/db";
  auto first = OpenRocksKvStore(options);
  ASSERT_TRUE(first.ok());
  auto second = OpenRocksKvStore(options);
  EXPECT_EQ(second.status().code(), Code::kUnavailable) << second.status().ToString();
}

TEST(RocksKvStoreTest, SyncedWritesSurviveReopen) {
  testing::TempDir dir;
  RocksOptions options;
  options.path = dir.path() + "/db";
  {
    auto kv = OpenRocksKvStore(options);
    ASSERT_TRUE(kv.ok());
    WriteBatch batch;
    batch.Put("durable", "yes");
    ASSERT_TRUE((*kv)->Write(batch, true).ok());
  }
  auto kv = OpenRocksKvStore(options);
  ASSERT_TRUE(kv.ok());
  std::string v;
  ASSERT_TRUE((*kv)->Get("durable", &v).ok());
  EXPECT_EQ(v, "yes");
}

}  // namespace
}  // namespace coffer::storage
