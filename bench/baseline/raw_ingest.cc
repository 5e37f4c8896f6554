#include "bench/baseline/raw_ingest.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>

#include "storage/keys.h"
#include "storage/kv_store.h"

namespace coffer::bench {

StatusOr<RawIngestResult> RunRawIngest(const RawIngestOptions& options) {
  if (options.records == 0) return InvalidArgument("raw ingest: records must be at least 1");
  if (options.value_size == 0) return InvalidArgument("raw ingest: value_size must be at least 1");
  if (options.batch_records == 0) {
    return InvalidArgument("raw ingest: batch_records must be at least 1");
  }
  if (options.work_dir.empty()) return InvalidArgument("raw ingest: work_dir is required");
  const std::string dir = options.work_dir + "/ingest";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // a fresh instance every run
  RawIngestResult result;
  Status failure;
  {
    auto store = storage::OpenRocksKvStore({.path = dir});
    if (!store.ok()) return store.status().Annotate("raw ingest: " + dir);
    std::mt19937_64 rng(1);
    std::string value(options.value_size, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    constexpr uint32_t kOrigin = 1;
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t seq = 1; seq <= options.records && failure.ok();) {
      const uint64_t last = std::min<uint64_t>(options.records, seq + options.batch_records - 1);
      storage::WriteBatch batch;
      for (; seq <= last; ++seq) {
        value[0] = static_cast<char>(seq);  // distinct records
        batch.Put(storage::keys::Log(kOrigin, seq), value);
      }
      failure = (*store)->Write(batch, /*sync=*/true);
      if (failure.ok()) {
        ++result.batches;
        result.records = last;
      }
    }
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }  // the store closes before its directory goes
  std::filesystem::remove_all(dir, ec);
  if (!failure.ok()) return failure.Annotate("raw ingest: write failed");
  return result;
}

}  // namespace coffer::bench
