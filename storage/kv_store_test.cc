// Contract test of KvStore, run on RocksDB on a real directory, on RocksDB's
// in-memory Env and on the simulation's MemKvDisk; then what a crash of a
// MemKvDisk keeps.
#include "storage/kv_store.h"

#include <gtest/gtest.h>

#include "storage/mem_kv_store.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using testing::Backend;

class KvStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto kv = testing::OpenKvStore(GetParam(), dir_.path() + "/db");
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

TEST_P(KvStoreContract, ScanBoundaries) {
  WriteBatch batch;
  for (std::string k : {"p", "p/1", "p0", "q/1", "o/9"}) batch.Put(k, k);
  ASSERT_TRUE(kv_->Write(batch, false).ok());
  EXPECT_EQ(Keys(""), (std::vector<std::string>{"o/9", "p", "p/1", "p0", "q/1"}));
  EXPECT_EQ(Keys("p"), (std::vector<std::string>{"p", "p/1", "p0"})) << "the prefix itself is in";
  EXPECT_EQ(Keys("p/", "p/1"), (std::vector<std::string>{"p/1"})) << "start is inclusive";
  EXPECT_TRUE(Keys("p/", "p/2").empty());
  EXPECT_TRUE(Keys("p/", "q").empty()) << "a start past the prefix visits nothing";
  EXPECT_TRUE(Keys("r").empty());
}

// The log GC case of issue 12: a prefix with nothing left after `start`,
// followed by many deleted keys of the next prefix. The scan finds nothing
// and, on RocksDB, steps over none of the deleted keys (the iterator is
// bounded by the prefix; without the bound it walked every tombstone of the
// next prefix before the prefix check saw a live key).
TEST_P(KvStoreContract, ScanStopsAtThePrefixEndWithoutWalkingTheNextPrefixTombstones) {
  constexpr int kDeleted = 2000;
  WriteBatch batch;
  batch.Put("L/a/1", "x");
  for (int i = 0; i < kDeleted; ++i) batch.Put("L/b/" + std::to_string(100000 + i), "v");
  batch.Put("L/c/1", "y");
  ASSERT_TRUE(kv_->Write(batch, false).ok());
  WriteBatch deletes;
  for (int i = 0; i < kDeleted; ++i) deletes.Delete("L/b/" + std::to_string(100000 + i));
  ASSERT_TRUE(kv_->Write(deletes, false).ok());

  CountRocksIteratorWorkOnThisThread();
  EXPECT_TRUE(Keys("L/a/", "L/a/2").empty());
  EXPECT_EQ(Keys("L/a/"), (std::vector<std::string>{"L/a/1"}));
  uint64_t skipped = TakeRocksIteratorWorkOnThisThread().internal_keys_skipped;
  EXPECT_LT(skipped, 10u) << "the scans stepped over the next prefix's tombstones";
  // The next prefixes are still read in full.
  EXPECT_TRUE(Keys("L/b/").empty());
  EXPECT_EQ(Keys("L/"), (std::vector<std::string>{"L/a/1", "L/c/1"}));
  EXPECT_EQ(Keys("L/c/"), (std::vector<std::string>{"L/c/1"}));
  // A snapshot's scans are bounded the same way.
  auto snapshot = kv_->NewSnapshot();
  TakeRocksIteratorWorkOnThisThread();
  int visited = 0;
  ASSERT_TRUE(snapshot->Scan("L/a/", "L/a/2", [&](auto, auto) { return ++visited > 0; }).ok());
  EXPECT_EQ(visited, 0);
  EXPECT_LT(TakeRocksIteratorWorkOnThisThread().internal_keys_skipped, 10u);
}

TEST_P(KvStoreContract, ScanOfAPrefixEndingIn0xffBytes) {
  const std::string ff = "p\xff\xff";
  WriteBatch batch;
  for (std::string k : {ff, ff + "1", std::string("p\xfe"), std::string("q")}) batch.Put(k, k);
  ASSERT_TRUE(kv_->Write(batch, false).ok());
  EXPECT_EQ(Keys(ff), (std::vector<std::string>{ff, ff + "1"}));
  EXPECT_EQ(Keys("p"), (std::vector<std::string>{"p\xfe", ff, ff + "1"}));
  EXPECT_EQ(Keys("\xff"), (std::vector<std::string>{}));
}

TEST(PrefixSuccessorTest, IsTheFirstKeyAfterThePrefix) {
  EXPECT_EQ(PrefixSuccessor("L/"), "L0");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("\xff\xff", 2)), "");
  EXPECT_EQ(PrefixSuccessor(""), "");
  EXPECT_EQ(PrefixSuccessor(std::string("a\0", 2)), std::string("a\x01", 2));
}

TEST_P(KvStoreContract, DeleteRangeDeletesExactlyTheHalfOpenRangeInBatchOrder) {
  WriteBatch batch;
  for (std::string k : {"r/1", "r/2", "r/3", "r/4", "r/5", "s/1"}) batch.Put(k, k);
  ASSERT_TRUE(kv_->Write(batch, false).ok());
  WriteBatch range;
  range.Put("r/3", "before");  // deleted by the range that follows
  range.DeleteRange("r/2", "r/4");
  range.Put("r/2", "after");        // put again after the range
  range.DeleteRange("r/9", "r/0");  // end before begin: deletes nothing
  range.DeleteRange("r/5", "r/5");  // empty: deletes nothing
  ASSERT_TRUE(kv_->Write(range, true).ok());
  EXPECT_EQ(Keys("r/"), (std::vector<std::string>{"r/1", "r/2", "r/4", "r/5"}));
  std::string v;
  ASSERT_TRUE(kv_->Get("r/2", &v).ok());
  EXPECT_EQ(v, "after");
  EXPECT_EQ(kv_->Get("r/3", &v).code(), Code::kNotFound);
  EXPECT_EQ(Keys("s/"), (std::vector<std::string>{"s/1"}));
  // A range over keys that do not exist (yet) deletes nothing later.
  WriteBatch none;
  none.DeleteRange("t/1", "t/9");
  ASSERT_TRUE(kv_->Write(none, false).ok());
  WriteBatch later;
  later.Put("t/5", "x");
  ASSERT_TRUE(kv_->Write(later, false).ok());
  EXPECT_EQ(Keys("t/"), (std::vector<std::string>{"t/5"}));
}

TEST_P(KvStoreContract, SnapshotDoesNotSeeALaterDeleteRange) {
  WriteBatch batch;
  for (std::string k : {"r/1", "r/2", "r/3"}) batch.Put(k, k);
  ASSERT_TRUE(kv_->Write(batch, false).ok());
  auto snapshot = kv_->NewSnapshot();
  WriteBatch range;
  range.DeleteRange("r/1", "r/3");
  ASSERT_TRUE(kv_->Write(range, false).ok());
  EXPECT_EQ(Keys("r/"), (std::vector<std::string>{"r/3"}));
  std::vector<std::string> seen;
  ASSERT_TRUE(snapshot
                  ->Scan("r/", "",
                         [&](auto k, auto) {
                           seen.emplace_back(k);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"r/1", "r/2", "r/3"}));
}

// A scan over a prefix whose keys were deleted by one range steps over no
// key at all: the range tombstone is skipped as a whole (log GC by range).
TEST_P(KvStoreContract, ScanSkipsARangeDeletedPrefixAsAWhole) {
  constexpr int kKeys = 2000;
  WriteBatch batch;
  for (int i = 0; i < kKeys; ++i) batch.Put("L/b/" + std::to_string(100000 + i), "v");
  batch.Put("L/b/200000", "kept");
  ASSERT_TRUE(kv_->Write(batch, false).ok());
  WriteBatch range;
  range.DeleteRange("L/b/100000", "L/b/200000");
  ASSERT_TRUE(kv_->Write(range, false).ok());
  CountRocksIteratorWorkOnThisThread();
  EXPECT_EQ(Keys("L/b/"), (std::vector<std::string>{"L/b/200000"}));
  EXPECT_LT(TakeRocksIteratorWorkOnThisThread().internal_keys_skipped, 10u);
}

TEST_P(KvStoreContract, ScanVisitorMayWriteAndSeesTheStateAtItsStart) {
  WriteBatch batch;
  for (std::string k : {"s/1", "s/2", "s/3"}) batch.Put(k, "v");
  ASSERT_TRUE(kv_->Write(batch, false).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(kv_->Scan("s/", "",
                        [&](auto k, auto) {
                          seen.emplace_back(k);
                          WriteBatch change;
                          change.Delete("s/3");
                          change.Put("s/4", "late");
                          EXPECT_TRUE(kv_->Write(change, false).ok());
                          std::string v;
                          EXPECT_EQ(kv_->Get("s/4", &v).code(), Code::kOk);
                          return true;
                        })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"s/1", "s/2", "s/3"}));
  EXPECT_EQ(Keys("s/"), (std::vector<std::string>{"s/1", "s/2", "s/4"}));
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

TEST_P(KvStoreContract, CheckpointIsAReadOnlyCopyOfTheStoreAtThatPoint) {
  WriteBatch before;
  before.Put("k", "old");
  before.Put("gone-later", "x");
  ASSERT_TRUE(kv_->Write(before, false).ok());  // unsynced: a checkpoint still has it
  std::string dir = dir_.path() + "/checkpoint";
  Status made = kv_->Checkpoint(dir);
  if (GetParam() != Backend::kDisk) {
    EXPECT_EQ(made.code(), Code::kInvalidState) << made.ToString();
    return;
  }
  ASSERT_TRUE(made.ok()) << made.ToString();
  EXPECT_EQ(kv_->Checkpoint(dir).code(), Code::kAlreadyExists);
  WriteBatch after;
  after.Put("k", "new");
  after.Delete("gone-later");
  after.Put("k2", "later");
  ASSERT_TRUE(kv_->Write(after, true).ok());

  RocksOptions options;
  options.path = dir;
  options.read_only = true;
  auto copy = OpenRocksKvStore(options);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  std::string v;
  ASSERT_TRUE((*copy)->Get("k", &v).ok());
  EXPECT_EQ(v, "old");
  ASSERT_TRUE((*copy)->Get("gone-later", &v).ok());
  EXPECT_EQ((*copy)->Get("k2", &v).code(), Code::kNotFound);
  EXPECT_EQ((*copy)->Write(after, false).code(), Code::kInvalidState);
  EXPECT_EQ((*copy)->Sync().code(), Code::kInvalidState);
  // Read-only opens share the directory.
  auto again = OpenRocksKvStore(options);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
  // The store itself goes on.
  ASSERT_TRUE(kv_->Get("k", &v).ok());
  EXPECT_EQ(v, "new");
}

INSTANTIATE_TEST_SUITE_P(Backends, KvStoreContract,
                         ::testing::Values(Backend::kDisk, Backend::kMemEnv, Backend::kSimMem),
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

TEST(RocksKvStoreTest, ReadOnlyOpenOfAMissingDirectoryIsNotFoundAndCreatesNothing) {
  testing::TempDir dir;
  RocksOptions options;
  options.path = dir.path() + "/absent";
  options.read_only = true;
  auto kv = OpenRocksKvStore(options);
  EXPECT_EQ(kv.status().code(), Code::kNotFound) << kv.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(options.path));
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

// ---- What a crash of a simulated disk keeps ----

class MemKvCrashTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    auto kv = OpenMemKvStore(disk_);
    ASSERT_TRUE(kv.ok()) << kv.status().ToString();
    kv_ = std::move(kv).value();
  }
  // Destroys the store, crashes the disk and opens a new store on it.
  void CrashAndReopen() {
    kv_.reset();
    ASSERT_TRUE(disk_->Crash().ok());
    Open();
  }
  void Put(const std::string& key, const std::string& value, bool sync) {
    WriteBatch batch;
    batch.Put(key, value);
    ASSERT_TRUE(kv_->Write(batch, sync).ok());
  }
  // The value of `key`, or "<absent>".
  std::string Value(const std::string& key) {
    std::string v;
    Status s = kv_->Get(key, &v);
    if (s.code() == Code::kNotFound) return "<absent>";
    EXPECT_TRUE(s.ok()) << s.ToString();
    return v;
  }

  std::shared_ptr<MemKvDisk> disk_ = NewMemKvDisk();
  std::unique_ptr<KvStore> kv_;
};

TEST_F(MemKvCrashTest, UnsyncedWritesVanishAfterCrash) {
  Put("k", "v", /*sync=*/false);
  EXPECT_EQ(Value("k"), "v") << "reads see unsynced writes";
  EXPECT_EQ(kv_->ApproximateDiskBytes(), 0u) << "nothing is durable yet";
  CrashAndReopen();
  EXPECT_EQ(Value("k"), "<absent>");
  EXPECT_EQ(disk_->unsynced_writes_lost(), 1u);
  EXPECT_EQ(disk_->synced_writes(), 0u);
}

TEST_F(MemKvCrashTest, SyncedWritesSurviveCrash) {
  Put("k", "v", /*sync=*/true);
  EXPECT_EQ(kv_->ApproximateDiskBytes(), 2u);
  CrashAndReopen();
  EXPECT_EQ(Value("k"), "v");
  EXPECT_EQ(disk_->synced_writes(), 1u);
  EXPECT_EQ(disk_->unsynced_writes_lost(), 0u);
  EXPECT_EQ(kv_->ApproximateDiskBytes(), 2u);
}

TEST_F(MemKvCrashTest, SyncedWriteMakesEarlierUnsyncedWritesDurable) {
  Put("a", "1", /*sync=*/false);
  Put("b", "22", /*sync=*/true);  // the WAL is sequential: "a" is durable too
  Put("c", "333", /*sync=*/false);
  EXPECT_EQ(kv_->ApproximateDiskBytes(), 5u) << "a=1 and b=22; c is not durable";
  CrashAndReopen();
  EXPECT_EQ(Value("a"), "1");
  EXPECT_EQ(Value("b"), "22");
  EXPECT_EQ(Value("c"), "<absent>");
  EXPECT_EQ(disk_->unsynced_writes_lost(), 1u);
}

TEST_F(MemKvCrashTest, EmptySyncedBatchAndSyncAreSyncBarriers) {
  Put("a", "1", /*sync=*/false);
  ASSERT_TRUE(kv_->Write(WriteBatch(), /*sync=*/true).ok());
  Put("b", "2", /*sync=*/false);
  ASSERT_TRUE(kv_->Sync().ok());
  Put("c", "3", /*sync=*/false);
  CrashAndReopen();
  EXPECT_EQ(Value("a") + Value("b") + Value("c"), "12<absent>");
  EXPECT_EQ(disk_->synced_writes(), 2u);
}

TEST_F(MemKvCrashTest, BatchIsNeverHalfPresentAfterCrash) {
  WriteBatch base;
  base.Put("x", "1");
  base.Put("y", "1");
  base.Put("z", "1");
  ASSERT_TRUE(kv_->Write(base, /*sync=*/true).ok());
  WriteBatch lost;
  lost.Put("x", "2");
  lost.Delete("y");
  lost.Put("w", "2");
  ASSERT_TRUE(kv_->Write(lost, /*sync=*/false).ok());
  EXPECT_EQ(Value("x") + Value("y") + Value("w"), "2<absent>2");
  CrashAndReopen();
  EXPECT_EQ(Value("x") + Value("y") + Value("z") + Value("w"), "111<absent>");
  WriteBatch kept;
  kept.Put("x", "3");
  kept.Delete("z");
  kept.Put("w", "3");
  ASSERT_TRUE(kv_->Write(kept, /*sync=*/true).ok());
  CrashAndReopen();
  EXPECT_EQ(Value("x") + Value("y") + Value("z") + Value("w"), "31<absent>3");
  EXPECT_EQ(kv_->ApproximateDiskBytes(), 6u);
}

TEST_F(MemKvCrashTest, SecondOpenOnAnOpenDiskIsUnavailableAndCrashWaitsForClose) {
  auto second = OpenMemKvStore(disk_);
  EXPECT_EQ(second.status().code(), Code::kUnavailable) << second.status().ToString();
  Put("k", "v", /*sync=*/false);
  EXPECT_EQ(disk_->Crash().code(), Code::kInvalidState) << "a store is still open";
  EXPECT_EQ(Value("k"), "v") << "a refused crash drops nothing";
  kv_.reset();
  EXPECT_FALSE(disk_->is_open());
  auto reopened = OpenMemKvStore(disk_);
  ASSERT_TRUE(reopened.ok()) << "destroying the store releases the disk";
  std::string v;
  EXPECT_TRUE((*reopened)->Get("k", &v).ok()) << "closing is not a crash";
}

TEST_F(MemKvCrashTest, UnsyncedDeleteRangeVanishesAfterCrashAndSyncedStays) {
  Put("r/1", "1", /*sync=*/false);
  Put("r/2", "2", /*sync=*/true);
  uint64_t durable = kv_->ApproximateDiskBytes();
  WriteBatch range;
  range.DeleteRange("r/", "r/9");
  ASSERT_TRUE(kv_->Write(range, /*sync=*/false).ok());
  EXPECT_EQ(Value("r/1"), "<absent>");
  CrashAndReopen();
  EXPECT_EQ(Value("r/1"), "1");
  EXPECT_EQ(Value("r/2"), "2");
  ASSERT_TRUE(kv_->Write(range, /*sync=*/true).ok());
  EXPECT_LT(kv_->ApproximateDiskBytes(), durable);
  EXPECT_EQ(kv_->ApproximateDiskBytes(), 0u) << "the range deleted every key";
  CrashAndReopen();
  EXPECT_EQ(Value("r/1"), "<absent>");
  EXPECT_EQ(Value("r/2"), "<absent>");
}

TEST_F(MemKvCrashTest, SnapshotOutlivesWritesAndCrash) {
  Put("k", "synced", /*sync=*/true);
  Put("k", "unsynced", /*sync=*/false);
  auto snapshot = kv_->NewSnapshot();
  Put("k", "later", /*sync=*/false);
  CrashAndReopen();
  std::string v;
  ASSERT_TRUE(snapshot->Get("k", &v).ok());
  EXPECT_EQ(v, "unsynced");
  EXPECT_EQ(Value("k"), "synced");
}

}  // namespace
}  // namespace coffer::storage
