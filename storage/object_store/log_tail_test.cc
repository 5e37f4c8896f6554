// The in-memory log tail (log_tail.h): its own rules, and ReadLog answering
// the same records with and without it, across GC, eviction, rewrites of
// held records (destroy) and a restart.
#include "storage/object_store/log_tail.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "storage/mem_kv_store.h"
#include "storage/object_store.h"
#include "storage/object_store/test_ops.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using testing::CreateKey;
using testing::Destroy;
using testing::Register;

// seq -> value of what the tail serves from `from`, or nullopt if it does not.
std::optional<std::vector<std::pair<uint64_t, std::string>>> Served(const LogTail& tail,
                                                                    uint32_t origin, uint64_t from,
                                                                    size_t limit = 100) {
  std::vector<std::pair<uint64_t, std::string>> out;
  bool served = tail.Read(origin, from, limit, [&](uint64_t seq, std::string_view value) {
    out.emplace_back(seq, std::string(value));
    return true;
  });
  if (!served) return std::nullopt;
  return out;
}

using Records = std::vector<std::pair<uint64_t, std::string>>;

TEST(LogTailTest, ServesOnlyFromItsFirstRecordOnAndEmptyPastItsLast) {
  LogTail tail(1 << 20);
  EXPECT_FALSE(Served(tail, 1, 1)) << "an origin it never saw";
  tail.Append(1, 5, "e");
  tail.Append(1, 6, "f");
  EXPECT_FALSE(Served(tail, 1, 4)) << "below its first record: the store answers";
  EXPECT_EQ(*Served(tail, 1, 5), (Records{{5, "e"}, {6, "f"}}));
  EXPECT_EQ(*Served(tail, 1, 6), (Records{{6, "f"}}));
  EXPECT_EQ(*Served(tail, 1, 7), Records{}) << "nothing after the newest record";
  EXPECT_EQ(*Served(tail, 1, 5, 1), (Records{{5, "e"}})) << "limit";
  tail.Rewrite(1, 5, "E");  // a held record rewritten (destroy erases material)
  tail.Rewrite(1, 2, "b");  // an older record rewritten: not held
  tail.Rewrite(1, 7, "g");  // not held either
  EXPECT_EQ(*Served(tail, 1, 5), (Records{{5, "E"}, {6, "f"}}));
  EXPECT_EQ(tail.records(), 2u);
  tail.Append(1, 9, "i");  // after records it never saw: starts over
  EXPECT_FALSE(Served(tail, 1, 6));
  EXPECT_EQ(*Served(tail, 1, 9), (Records{{9, "i"}}));
  EXPECT_EQ(tail.bytes(), 1 + LogTail::kRecordOverheadBytes);
}

// A rewrite of an older record says nothing about the records after it:
// it never starts a tail (the simulation caught a tail started by a destroy
// rewriting a creation record after a restart, which then answered "nothing
// after it" while the store held later records).
TEST(LogTailTest, ARewriteOfARecordItDoesNotHoldStartsNoTail) {
  LogTail tail(1 << 20);
  tail.Rewrite(1, 28, "old creation record, material erased");
  EXPECT_FALSE(Served(tail, 1, 28));
  EXPECT_FALSE(Served(tail, 1, 29));
  EXPECT_EQ(tail.bytes(), 0u);
}

TEST(LogTailTest, CollectDropsTheCollectedFrontAndStaysExactWhenEmptied) {
  LogTail tail(1 << 20);
  for (uint64_t seq = 1; seq <= 4; ++seq) tail.Append(1, seq, std::string(1, char('a' + seq)));
  tail.Collect(1, 2);
  EXPECT_FALSE(Served(tail, 1, 2));
  EXPECT_EQ(*Served(tail, 1, 3), (Records{{3, "d"}, {4, "e"}}));
  tail.Collect(1, 10);
  EXPECT_EQ(tail.records(), 0u);
  EXPECT_EQ(tail.bytes(), 0u);
  EXPECT_FALSE(Served(tail, 1, 10));
  EXPECT_EQ(*Served(tail, 1, 11), Records{}) << "the log holds nothing from 11 on";
  tail.Append(1, 11, "l");
  EXPECT_EQ(*Served(tail, 1, 11), (Records{{11, "l"}}));
  tail.Clear();
  EXPECT_FALSE(Served(tail, 1, 11));
  EXPECT_EQ(tail.bytes(), 0u);
}

TEST(LogTailTest, EvictsTheOldestRecordsOfTheLargestOriginPastItsBound) {
  const size_t one = 10 + LogTail::kRecordOverheadBytes;
  LogTail tail(4 * one);
  for (uint64_t seq = 1; seq <= 3; ++seq) tail.Append(1, seq, std::string(10, 'x'));
  tail.Append(2, 1, std::string(10, 'y'));
  EXPECT_EQ(tail.bytes(), 4 * one);
  tail.Append(2, 2, std::string(10, 'y'));  // one over: origin 1 (3 records) loses seq 1
  EXPECT_EQ(tail.bytes(), 4 * one);
  EXPECT_FALSE(Served(tail, 1, 1));
  EXPECT_EQ(Served(tail, 1, 2)->size(), 2u);
  EXPECT_EQ(Served(tail, 2, 1)->size(), 2u);
  tail.Append(3, 1, std::string(10 * 1000, 'z'));  // larger than the bound: not kept
  EXPECT_LE(tail.bytes(), 4 * one);
  EXPECT_FALSE(Served(tail, 3, 1));
  EXPECT_EQ(*Served(tail, 3, 2), Records{});
  LogTail off(0);
  off.Append(1, 1, "a");
  EXPECT_FALSE(Served(off, 1, 1));
}

// Two stores fed the same records, one without a tail (every read from the
// store) and one with a small tail (reads from memory, evicting as it goes):
// ReadLog answers the same for every start and limit, after every step.
class LogTailReadLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<testing::TestNode> Open(std::shared_ptr<MemKvDisk> disk, size_t tail_bytes,
                                          testing::Backend backend = testing::Backend::kSimMem) {
    auto node = std::make_unique<testing::TestNode>(/*seed=*/7);
    node->signer = MakeFakeRecordSigner(FakePublicKey(2));
    ObjectStoreOptions options;
    options.node_id = NodeId{2};
    options.signer = node->signer.get();
    options.log_tail_bytes = tail_bytes;
    auto kv = backend == testing::Backend::kSimMem ? OpenMemKvStore(std::move(disk))
                                                   : testing::OpenKvStore(backend, "/db");
    EXPECT_TRUE(kv.ok());
    auto store =
        ObjectStore::Open(std::move(kv).value(), *node->root, node->clock, node->rng, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    node->store = std::move(store).value();
    return node;
  }

  // The same op on the origin and (as its own record) on both stores.
  void Step(const pb::Op& op, const std::string& id) {
    auto result = origin_->store->Execute(op, id);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    uint64_t seq = origin_->store->Applied().at(1);
    auto record = testing::LogOf(*origin_->store, 1, seq, 1);
    ASSERT_EQ(record.size(), 1u);
    for (auto* node : {plain_.get(), cached_.get()}) {
      ASSERT_TRUE(node->store->ApplyRemote(record[0]).ok());
      // Registered (not created) material: the same record on both stores.
      ASSERT_TRUE(
          node->store->Execute(Register(pb::SECRET_DATA, "own-material-" + id), "own-" + id).ok());
    }
  }

  void ExpectSameReads() {
    for (uint32_t origin : {1u, 2u}) {
      uint64_t applied = plain_->store->Applied()[origin];
      ASSERT_EQ(applied, cached_->store->Applied()[origin]);
      for (uint64_t from = 1; from <= applied + 2; ++from) {
        for (size_t limit : {1u, 3u, 1000u}) {
          auto want = plain_->store->ReadLog(origin, from, limit);
          auto got = cached_->store->ReadLog(origin, from, limit);
          ASSERT_TRUE(want.ok() && got.ok());
          ASSERT_EQ(want->size(), got->size()) << origin << " from " << from << " limit " << limit;
          for (size_t i = 0; i < want->size(); ++i) {
            ASSERT_EQ(DeterministicBytes(want->at(i)), DeterministicBytes(got->at(i)))
                << origin << " from " << from << " record " << i;
          }
        }
      }
    }
    EXPECT_LE(cached_->store->log_tail_bytes(), kTailBytes);
  }

  static constexpr size_t kTailBytes = 8 * 1024;
  std::shared_ptr<MemKvDisk> plain_disk_ = NewMemKvDisk(), cached_disk_ = NewMemKvDisk();
  std::unique_ptr<testing::TestNode> origin_ = testing::MakeNode(testing::Backend::kSimMem, "", 1);
  std::unique_ptr<testing::TestNode> plain_ = Open(plain_disk_, 0);
  std::unique_ptr<testing::TestNode> cached_ = Open(cached_disk_, kTailBytes);
};

TEST_F(LogTailReadLogTest, SameRecordsWithAndWithoutTheTailAcrossGcEvictionDestroyAndRestart) {
  std::vector<std::string> secrets;
  for (int i = 0; i < 60; ++i) {
    auto op =
        i % 3 == 0 ? Register(pb::SECRET_DATA, std::string(200, char('a' + i % 26))) : CreateKey();
    ASSERT_NO_FATAL_FAILURE(Step(op, "w" + std::to_string(i)));
    if (i % 3 == 0) {
      secrets.push_back(testing::LogOf(*origin_->store, 1, origin_->store->Applied().at(1), 1)[0]
                            .result()
                            .uuid());
    }
    if (i % 10 == 9) {
      ASSERT_NO_FATAL_FAILURE(ExpectSameReads());
    }
  }
  EXPECT_GT(cached_->store->log_tail_bytes(), 0u);
  EXPECT_LT(cached_->store->log_tail_bytes() / 200, 120u) << "the tail evicted";
  // Destroying a secret erases its material from the creation record, held
  // in the tail (recent) or not (evicted).
  ASSERT_NO_FATAL_FAILURE(Step(Destroy(secrets.back()), "d1"));
  ASSERT_NO_FATAL_FAILURE(Step(Destroy(secrets.front()), "d2"));
  ASSERT_NO_FATAL_FAILURE(ExpectSameReads());
  auto created = cached_->store->ReadLog(1, 1, 1);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->at(0).object_created().material().empty());
  // GC in bounded steps, through parts the tail holds and parts it does not.
  for (uint64_t through : {10u, 40u, 55u, 58u, 200u}) {
    for (auto* node : {plain_.get(), cached_.get()}) {
      uint64_t collect = std::min(through, node->store->Applied()[1]);
      ASSERT_TRUE(node->store->CollectLog(1, collect, 7).ok());
      ASSERT_TRUE(node->store->CollectLog(2, collect, 1000).ok());
    }
    ASSERT_NO_FATAL_FAILURE(ExpectSameReads());
    ASSERT_NO_FATAL_FAILURE(Step(CreateKey(), "gc" + std::to_string(through)));
    ASSERT_NO_FATAL_FAILURE(ExpectSameReads());
  }
  // A restart starts with an empty tail.
  cached_.reset();
  ASSERT_TRUE(cached_disk_->Crash().ok());
  plain_.reset();
  ASSERT_TRUE(plain_disk_->Crash().ok());
  plain_ = Open(plain_disk_, 0);
  cached_ = Open(cached_disk_, kTailBytes);
  EXPECT_EQ(cached_->store->log_tail_bytes(), 0u);
  ASSERT_NO_FATAL_FAILURE(ExpectSameReads());
  ASSERT_NO_FATAL_FAILURE(Step(CreateKey(), "after-restart"));
  ASSERT_NO_FATAL_FAILURE(ExpectSameReads());
}

// After a restart (empty tail) the first log row written for origin 1 is a
// rewrite: this node destroys (its own record, origin 2) a secret whose
// creation record came from origin 1. Reads of origin 1 after that record
// must still come from the store.
TEST_F(LogTailReadLogTest, ARewriteAfterARestartDoesNotHideLaterRecords) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        Step(Register(pb::SECRET_DATA, "secret-" + std::to_string(i)), "s" + std::to_string(i)));
  }
  std::string first_secret = testing::LogOf(*origin_->store, 1, 1, 1).at(0).result().uuid();
  cached_.reset();
  plain_.reset();
  plain_ = Open(plain_disk_, 0);
  cached_ = Open(cached_disk_, kTailBytes);
  for (auto* node : {plain_.get(), cached_.get()}) {
    ASSERT_TRUE(node->store->Execute(Destroy(first_secret), "destroy").ok());
  }
  ASSERT_NO_FATAL_FAILURE(ExpectSameReads());
  EXPECT_EQ(cached_->store->ReadLog(1, 2, 100)->size(), 3u);
}

// The point of the tail: the newest records are read without touching the
// store (no RocksDB iterator seek).
TEST(LogTailReadTest, TheNewestRecordsAreServedWithoutReadingTheStore) {
  auto node = testing::MakeNode(testing::Backend::kMemEnv, "/a", 1);
  ASSERT_NE(node, nullptr);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(node->store->Execute(CreateKey(), "r" + std::to_string(i)).ok());
  CountRocksIteratorWorkOnThisThread();
  auto records = node->store->ReadLog(1, 3, 100);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ(records->front().seq(), 3u);
  EXPECT_TRUE(node->store->ReadLog(1, 6, 100)->empty()) << "a caught-up peer";
  EXPECT_EQ(TakeRocksIteratorWorkOnThisThread().seeks, 0u);
}

// Group commit signs the origin's tip after the records went to the tail
// (SignChainTip rewrites the tip in the store): the tail must serve the
// signed copy, or a peer served from memory would wait for a signature that
// never comes (found merging the hash chains with the tail).
TEST(LogTailReadTest, TheTipSignedAtGroupCommitIsServedSigned) {
  auto node = testing::MakeNode(testing::Backend::kMemEnv, "/a", 1);
  ASSERT_NE(node, nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        node->store->Execute(CreateKey(), "g" + std::to_string(i), Durability::kAsync).ok());
  }
  ASSERT_TRUE(node->store->HasUnsignedTip());
  ASSERT_TRUE(node->store->SignChainTip().ok());
  ASSERT_FALSE(node->store->HasUnsignedTip());
  auto served = node->store->ReadLog(1, 3, 1);
  ASSERT_TRUE(served.ok()) << served.status().ToString();
  ASSERT_EQ(served->size(), 1u);
  EXPECT_FALSE(served->front().signature().empty()) << "the tail served the unsigned copy";
}

}  // namespace
}  // namespace coffer::storage
