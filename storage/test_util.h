// Helpers shared by storage tests, benchmarks and the simulation: stores on
// RocksDB's in-memory Env, a real directory or the simulation's MemKvDisk, with
// a fast (test-only) scrypt.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/rng.h"
#include "storage/crypto.h"
#include "storage/mem_kv_store.h"
#include "storage/object_store.h"

namespace coffer::storage::testing {

// scrypt with N=1024: fast, for tests only.
inline std::unique_ptr<RootOfTrust> FastRootOfTrust(std::string passphrase = "test-passphrase") {
  auto root =
      NewPassphraseRootOfTrust(SecretBytes(std::move(passphrase)), ScryptParams{1024, 8, 1});
  return std::move(root).value();
}

enum class Backend {
  kMemEnv,  // RocksDB on its in-memory Env: gone when the store closes
  kDisk,    // RocksDB on a real directory
  kSimMem,  // the simulation's engine (mem_kv_store.h) on a fresh MemKvDisk
};

inline std::string BackendName(Backend b) {
  switch (b) {
    case Backend::kMemEnv:
      return "MemEnv";
    case Backend::kDisk:
      return "Disk";
    case Backend::kSimMem:
      return "SimMem";
  }
  return "Unknown";
}

// A KvStore on `backend`. `path` is the RocksDB directory (ignored by kSimMem,
// which opens a fresh MemKvDisk; use OpenMemKvStore to reopen a given disk).
inline StatusOr<std::unique_ptr<KvStore>> OpenKvStore(Backend backend, const std::string& path) {
  if (backend == Backend::kSimMem) return OpenMemKvStore(NewMemKvDisk());
  RocksOptions options;
  options.path = path;
  options.in_memory = backend == Backend::kMemEnv;
  return OpenRocksKvStore(options);
}

// A store plus what it borrows (clock, rng, root of trust), owned together.
struct TestNode {
  ManualClock clock;
  SeededRng rng;
  std::unique_ptr<RootOfTrust> root = FastRootOfTrust();
  std::unique_ptr<RecordSigner> signer;  // the fake scheme (record_auth.h)
  std::unique_ptr<ObjectStore> store;
  explicit TestNode(uint64_t seed) : rng(seed) {}
};

// A node on `kv`; nullptr if `kv` or the store fails to open.
inline std::unique_ptr<TestNode> MakeNodeOn(StatusOr<std::unique_ptr<KvStore>> kv, uint32_t node_id,
                                            uint64_t seed = 1) {
  if (!kv.ok()) return nullptr;
  auto node = std::make_unique<TestNode>(seed);
  ObjectStoreOptions store_options;
  store_options.node_id = NodeId{node_id};
  node->signer = MakeFakeRecordSigner(FakePublicKey(node_id));
  store_options.signer = node->signer.get();
  auto store =
      ObjectStore::Open(std::move(kv).value(), *node->root, node->clock, node->rng, store_options);
  if (!store.ok()) return nullptr;
  node->store = std::move(store).value();
  return node;
}

inline std::unique_ptr<TestNode> MakeNode(Backend backend, const std::string& path,
                                          uint32_t node_id, uint64_t seed = 1) {
  return MakeNodeOn(OpenKvStore(backend, path), node_id, seed);
}

// A node on an existing simulated disk, e.g. one reopened after disk->Crash().
// nullptr if another store is open on `disk`.
inline std::unique_ptr<TestNode> MakeNodeOnDisk(std::shared_ptr<MemKvDisk> disk, uint32_t node_id,
                                                uint64_t seed = 1) {
  return MakeNodeOn(OpenMemKvStore(std::move(disk)), node_id, seed);
}

// A fresh temporary directory removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "coffer-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every regular file under `dir` with its bytes: a store's files before and
// after something that must change none of them.
inline std::map<std::string, std::string> FilesUnder(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    files[entry.path().string()] =
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return files;
}

}  // namespace coffer::storage::testing
