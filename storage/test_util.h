// Helpers shared by storage tests, benchmarks and the simulation: stores on
// RocksDB's in-memory Env or a real directory with a fast (test-only) scrypt.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/rng.h"
#include "storage/crypto.h"
#include "storage/object_store.h"

namespace coffer::storage::testing {

// scrypt with N=1024: fast, for tests only.
inline std::unique_ptr<RootOfTrust> FastRootOfTrust(std::string passphrase = "test-passphrase") {
  auto root =
      NewPassphraseRootOfTrust(SecretBytes(std::move(passphrase)), ScryptParams{1024, 8, 1});
  return std::move(root).value();
}

enum class Backend { kMemEnv, kDisk };

inline std::string BackendName(Backend b) { return b == Backend::kMemEnv ? "MemEnv" : "Disk"; }

// A store plus what it borrows (clock, rng, root of trust), owned together.
struct TestNode {
  ManualClock clock;
  SeededRng rng;
  std::unique_ptr<RootOfTrust> root = FastRootOfTrust();
  std::unique_ptr<ObjectStore> store;
  explicit TestNode(uint64_t seed) : rng(seed) {}
};

inline std::unique_ptr<TestNode> MakeNode(Backend backend, const std::string& path,
                                          uint32_t node_id, uint64_t seed = 1) {
  auto node = std::make_unique<TestNode>(seed);
  RocksOptions options;
  options.path = path;
  options.in_memory = backend == Backend::kMemEnv;
  auto kv = OpenRocksKvStore(options);
  if (!kv.ok()) return nullptr;
  ObjectStoreOptions store_options;
  store_options.node_id = NodeId{node_id};
  auto store =
      ObjectStore::Open(std::move(kv).value(), *node->root, node->clock, node->rng, store_options);
  if (!store.ok()) return nullptr;
  node->store = std::move(store).value();
  return node;
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

}  // namespace coffer::storage::testing
