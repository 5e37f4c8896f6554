// The storage-fault contract of KvStore (kv_store.h, docs/storage-faults.md),
// run on the simulation's in-memory engine (a full disk injected) and on
// RocksDB in a 16 MiB tmpfs filled by a filler file (needs root to mount;
// skipped with the reason otherwise). Both must answer alike: the write
// that meets a full disk is RESOURCE_EXHAUSTED and changes nothing, the
// store stays in the fault (writes and syncs refused at once, reads served)
// until Resume() succeeds, which needs space, and nothing written before is
// lost. The RocksDB case aborted the process on main (a sync after a failed
// write: `Assertion 'sync_without_flush_called_' failed`).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "storage/kv_store.h"
#include "storage/mem_kv_store.h"

namespace coffer::storage {
namespace {

namespace fs = std::filesystem;

// A disk that can be filled and freed, and a store opened on it.
class FaultyDisk {
 public:
  virtual ~FaultyDisk() = default;
  virtual StatusOr<std::unique_ptr<KvStore>> Open() = 0;
  virtual void Fill() = 0;
  virtual void Free() = 0;
};

class MemDisk final : public FaultyDisk {
 public:
  StatusOr<std::unique_ptr<KvStore>> Open() override { return OpenMemKvStore(disk_); }
  void Fill() override { disk_->SetFreeBytes(0); }
  void Free() override { disk_->SetFreeBytes(std::nullopt); }
  MemKvDisk& disk() { return *disk_; }

 private:
  std::shared_ptr<MemKvDisk> disk_ = NewMemKvDisk();
};

// RocksDB in a 16 MiB tmpfs; Fill() writes a filler file until the
// filesystem has not one byte left.
class TmpfsRocksDisk final : public FaultyDisk {
 public:
  // Empty if mounted, else why not.
  std::string Mount() {
    char pattern[] = "/tmp/coffer-kvfault-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return std::string("mkdtemp: ") + std::strerror(errno);
    dir_ = pattern;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=16m") != 0) {
      std::string why = std::string("mount -t tmpfs: ") + std::strerror(errno);
      fs::remove(dir_);
      dir_.clear();
      return why;
    }
    mounted_ = true;
    return "";
  }
  ~TmpfsRocksDisk() override {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
  StatusOr<std::unique_ptr<KvStore>> Open() override {
    return OpenRocksKvStore({.path = dir_ + "/db"});
  }
  void Fill() override {
    int fd = ::open((dir_ + "/filler").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ASSERT_GE(fd, 0);
    static char block[65536];
    for (size_t size : {sizeof(block), size_t{512}, size_t{1}}) {
      for (int i = 0; i < 1 << 20 && ::write(fd, block, size) > 0; ++i) {
      }
    }
    ::close(fd);
  }
  void Free() override { fs::remove(dir_ + "/filler"); }
  std::string db_dir() const { return dir_ + "/db"; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

class KvStoreFaultTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "mem") {
      disk_ = std::make_unique<MemDisk>();
      return;
    }
    auto tmpfs = std::make_unique<TmpfsRocksDisk>();
    std::string why = tmpfs->Mount();
    if (!why.empty()) GTEST_SKIP() << "cannot mount a 16 MiB tmpfs (needs root): " << why;
    rocks_ = tmpfs.get();
    disk_ = std::move(tmpfs);
  }

  static WriteBatch Put(const std::string& key, size_t value_bytes) {
    WriteBatch batch;
    batch.Put(key, std::string(value_bytes, 'v'));
    return batch;
  }

  std::unique_ptr<FaultyDisk> disk_;
  TmpfsRocksDisk* rocks_ = nullptr;
};

TEST_P(KvStoreFaultTest, AFullDiskIsAFaultUntilResumeAndLosesNothing) {
  auto kv = disk_->Open();
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  KvStore& store = **kv;
  ASSERT_TRUE(store.Write(Put("a", 1000), /*sync=*/true).ok());
  ASSERT_TRUE(store.Write(Put("b", 1000), /*sync=*/false).ok());
  EXPECT_TRUE(store.Fault().ok());

  disk_->Fill();
  // The write that meets the full disk: RESOURCE_EXHAUSTED, nothing written.
  Status full = store.Write(Put("c", 256 << 10), /*sync=*/false);
  EXPECT_EQ(full.code(), Code::kResourceExhausted) << full.ToString();
  EXPECT_EQ(store.Fault().code(), Code::kResourceExhausted);
  std::string value;
  EXPECT_EQ(store.Get("c", &value).code(), Code::kNotFound);
  // From then on writes and syncs are refused at once (RocksDB: no WAL
  // access, which would abort the process), reads are served.
  EXPECT_EQ(store.Sync().code(), Code::kResourceExhausted);
  EXPECT_EQ(store.Write(Put("d", 10), /*sync=*/true).code(), Code::kResourceExhausted);
  EXPECT_EQ(store.Sync().code(), Code::kResourceExhausted);
  EXPECT_TRUE(store.Get("a", &value).ok());
  EXPECT_TRUE(store.Get("b", &value).ok());
  // Resume needs space: still full, still a fault.
  Status still = store.Resume();
  EXPECT_EQ(still.code(), Code::kResourceExhausted) << still.ToString();
  EXPECT_FALSE(store.Fault().ok());
  // Space freed: the fault stays until Resume (as RocksDB's background error).
  disk_->Free();
  EXPECT_EQ(store.Write(Put("d", 10), /*sync=*/true).code(), Code::kResourceExhausted);
  Status resumed = store.Resume();
  ASSERT_TRUE(resumed.ok()) << resumed.ToString();
  EXPECT_TRUE(store.Fault().ok());
  EXPECT_TRUE(store.Resume().ok());  // nothing to do
  ASSERT_TRUE(store.Write(Put("d", 10), /*sync=*/false).ok());
  ASSERT_TRUE(store.Sync().ok());
  kv->reset();

  // Reopened: everything that was written, synced or not, is there.
  auto reopened = disk_->Open();
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  for (const char* key : {"a", "b", "d"}) {
    EXPECT_TRUE((*reopened)->Get(key, &value).ok()) << key;
  }
  EXPECT_EQ((*reopened)->Get("c", &value).code(), Code::kNotFound);
  EXPECT_TRUE((*reopened)->Fault().ok());
}

TEST_P(KvStoreFaultTest, FreeBytesIsTheFilesystemsFreeSpace) {
  auto kv = disk_->Open();
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  if (rocks_ == nullptr) {
    EXPECT_FALSE((*kv)->FreeBytes().has_value());  // in memory, no limit set
    return;
  }
  auto free = (*kv)->FreeBytes();
  ASSERT_TRUE(free.has_value());
  EXPECT_GT(*free, 0u);
  EXPECT_LE(*free, 16u << 20);
  disk_->Fill();
  EXPECT_EQ((*kv)->FreeBytes().value_or(1), 0u);
  // RocksDB's own log goes to the node log, not into the (full) data directory.
  EXPECT_FALSE(fs::exists(rocks_->db_dir() + "/LOG"));
}

INSTANTIATE_TEST_SUITE_P(Engines, KvStoreFaultTest, ::testing::Values("mem", "rocks"),
                         [](const auto& info) { return info.param; });

// Only the in-memory engine can be driven into an I/O error (the simulation's).
TEST(MemKvStoreFault, AnIoErrorFailsWritesAndSyncsUntilFixedAndResumed) {
  auto disk = NewMemKvDisk();
  auto kv = OpenMemKvStore(disk);
  ASSERT_TRUE(kv.ok());
  WriteBatch before;
  before.Put("a", "1");
  ASSERT_TRUE((*kv)->Write(before, /*sync=*/false).ok());
  disk->SetIoError(true);
  EXPECT_EQ((*kv)->Sync().code(), Code::kUnavailable);
  EXPECT_EQ((*kv)->Fault().code(), Code::kUnavailable);
  EXPECT_EQ((*kv)->Resume().code(), Code::kUnavailable);
  EXPECT_EQ(disk->failed_writes(), 1u);
  disk->SetIoError(false);
  ASSERT_TRUE((*kv)->Resume().ok());
  // The resume made the unsynced write durable, as RocksDB's flush does.
  kv->reset();
  ASSERT_TRUE(disk->Crash().ok());
  auto reopened = OpenMemKvStore(disk);
  std::string value;
  EXPECT_TRUE((*reopened)->Get("a", &value).ok());
}

TEST(MemKvStoreFault, AFaultIsClearedByANewOpenAsByARestart) {
  auto disk = NewMemKvDisk();
  auto kv = OpenMemKvStore(disk);
  ASSERT_TRUE(kv.ok());
  disk->SetFreeBytes(5);
  WriteBatch big;
  big.Put("key", "more than five bytes");
  EXPECT_EQ((*kv)->Write(big, /*sync=*/true).code(), Code::kResourceExhausted);
  disk->SetFreeBytes(std::nullopt);
  kv->reset();
  auto reopened = OpenMemKvStore(disk);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->Fault().ok());
  EXPECT_TRUE((*reopened)->Write(big, /*sync=*/true).ok());
}

}  // namespace
}  // namespace coffer::storage
