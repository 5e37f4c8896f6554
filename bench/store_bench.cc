// Micro-benchmarks of one node's local paths, each printing items/s:
//   local write (durable = synced batch per write, and async), remote-record
//   apply, AES-256-GCM seal/open, digest recompute; plus raw RocksDB writes of
//   the same size in the same run, as the baseline to compare against.
// Run: build/release/bin/store_bench  (cmake --preset release && cmake --build --preset release)
#include <benchmark/benchmark.h>

#include "storage/kv_store.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using testing::Backend;

constexpr size_t kSecretBytes = 256;

pb::Op RegisterSecret(int i) {
  pb::Op op;
  op.mutable_register_object()->set_type(pb::SECRET_DATA);
  op.mutable_register_object()->set_material(
      std::string(kSecretBytes, static_cast<char>('a' + i % 26)));
  return op;
}

void BM_LocalWrite(benchmark::State& state) {
  bool durable = state.range(0) == 1;
  testing::TempDir dir;
  auto node = testing::MakeNode(Backend::kDisk, dir.path() + "/db", 1);
  int i = 0;
  for (auto _ : state) {
    auto r = node->store->Execute(RegisterSecret(i), "w" + std::to_string(i),
                                  durable ? Durability::kSync : Durability::kAsync);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(durable ? "durable (fsync per write)" : "async");
}
BENCHMARK(BM_LocalWrite)->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_RawRocksWrite(benchmark::State& state) {
  bool durable = state.range(0) == 1;
  testing::TempDir dir;
  auto kv = OpenRocksKvStore({dir.path() + "/db"});
  std::string value(kSecretBytes, 'x');
  int i = 0;
  for (auto _ : state) {
    WriteBatch batch;
    batch.Put("k" + std::to_string(i++), value);
    Status s = (*kv)->Write(batch, durable);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(durable ? "baseline: raw RocksDB synced put" : "baseline: raw RocksDB put");
}
BENCHMARK(BM_RawRocksWrite)->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMicrosecond);

// 20,000 records made once by a source node (node 1), for the apply benchmarks.
const std::vector<pb::LogRecord>& SourceRecords() {
  static const std::vector<pb::LogRecord> records = [] {
    auto source = testing::MakeNode(Backend::kMemEnv, "/source", 1);
    for (int i = 0; i < 20000; ++i) {
      (void)source->store->Execute(RegisterSecret(i), "s" + std::to_string(i), Durability::kAsync);
    }
    return *source->store->ReadLog(1, 1, 20000);
  }();
  return records;
}

// The node (node 2) the apply benchmarks apply to: a fresh store on a new
// directory for each round through the records (the same directory again
// would hold every record already, and the round would time duplicates).
class ApplyTarget {
 public:
  ApplyTarget() : node_(Make()) {}
  ObjectStore& store() { return *node_->store; }
  // Inside the timing loop, at the start of every round after the first.
  void NewRound(benchmark::State& state) {
    state.PauseTiming();
    node_.reset();
    node_ = Make();
    state.ResumeTiming();
  }

 private:
  std::unique_ptr<testing::TestNode> Make() {
    return testing::MakeNode(Backend::kDisk, dir_.path() + "/db" + std::to_string(round_++), 2);
  }
  testing::TempDir dir_;
  int round_ = 0;
  std::unique_ptr<testing::TestNode> node_;
};

void BM_RemoteApply(benchmark::State& state) {
  const std::vector<pb::LogRecord>& records = SourceRecords();
  ApplyTarget target;
  size_t next = 0;
  for (auto _ : state) {
    if (next == records.size()) {
      target.NewRound(state);
      next = 0;
    }
    auto r = target.store().ApplyRemote(records[next++], Durability::kAsync);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    if (r.ok() && *r != ApplyOutcome::kApplied) state.SkipWithError("a record was a duplicate");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RemoteApply)->UseRealTime()->Unit(benchmark::kMicrosecond);

// ApplyRemoteBatch of N records at a time (one transaction, one RocksDB
// write): an item is one record, so against BM_RemoteApply (N = 1 each its
// own write) it shows what a write's fixed cost is per record.
void BM_RemoteApplyBatch(benchmark::State& state) {
  const std::vector<pb::LogRecord>& records = SourceRecords();
  const size_t batch_records = static_cast<size_t>(state.range(0));
  std::vector<std::vector<pb::LogRecord>> batches;  // made before the timing
  for (size_t at = 0; at + batch_records <= records.size(); at += batch_records) {
    batches.emplace_back(records.begin() + static_cast<std::ptrdiff_t>(at),
                         records.begin() + static_cast<std::ptrdiff_t>(at + batch_records));
  }
  ApplyTarget target;
  size_t next = 0;
  for (auto _ : state) {
    if (next == batches.size()) {
      target.NewRound(state);
      next = 0;
    }
    auto r = target.store().ApplyRemoteBatch(batches[next++], Durability::kAsync);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    for (const auto& outcome : r.ok() ? *r : std::vector<StatusOr<ApplyOutcome>>()) {
      if (!outcome.ok() || *outcome != ApplyOutcome::kApplied) {
        state.SkipWithError("a record of the batch was not applied");
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch_records));
}
BENCHMARK(BM_RemoteApplyBatch)
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_Seal(benchmark::State& state) {
  auto sealer = Sealer::Create(*RandomSecret(kDataKeyBytes));
  std::string plaintext(kSecretBytes, 's');
  for (auto _ : state) benchmark::DoNotOptimize((*sealer)->Seal(plaintext, "coffer/object/v1|x"));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kSecretBytes);
}
BENCHMARK(BM_Seal);

void BM_Open(benchmark::State& state) {
  auto sealer = Sealer::Create(*RandomSecret(kDataKeyBytes));
  std::string sealed = *(*sealer)->Seal(std::string(kSecretBytes, 's'), "aad");
  for (auto _ : state) benchmark::DoNotOptimize((*sealer)->Open(sealed, "aad"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Open);

void BM_DigestRecompute(benchmark::State& state) {
  auto node = testing::MakeNode(Backend::kMemEnv, "/digest", 1);
  const int objects = static_cast<int>(state.range(0));
  for (int i = 0; i < objects; ++i) {
    (void)node->store->Execute(RegisterSecret(i), "d" + std::to_string(i), Durability::kAsync);
  }
  for (auto _ : state) {
    auto digest = node->store->RecomputeDigest();
    if (!digest.ok() || !(*digest == node->store->StateDigest())) state.SkipWithError("digest");
  }
  state.SetItemsProcessed(state.iterations() * objects);
  state.SetLabel("entities hashed per second");
}
BENCHMARK(BM_DigestRecompute)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace coffer::storage

BENCHMARK_MAIN();
