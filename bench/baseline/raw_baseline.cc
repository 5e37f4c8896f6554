#include "bench/baseline/raw_baseline.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "bench/load/process_sampler.h"
#include "storage/keys.h"
#include "storage/kv_store.h"

namespace coffer::bench {
namespace {

using Clock = std::chrono::steady_clock;

enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };

// What submitters, writers and the driver share.
struct Run {
  std::atomic<int> phase{kWarmup};
  uint64_t max_ops = 0;
  std::atomic<uint64_t> counted{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::condition_variable wake_driver;  // max_ops reached, or a write failed

  void WakeDriver() {
    std::lock_guard<std::mutex> lock(mu);
    wake_driver.notify_all();
  }
};

// One record on its way to every instance. Owned by its submitter for the
// whole run (writers may still notify it after it completed); its key and
// value do not change while `remaining` > 0.
struct Op {
  std::string key;
  std::string value;
  std::atomic<int> remaining{0};  // instances that have not made it durable yet
};

// One RocksDB instance and its single writer: takes everything queued and
// writes it as one synced WriteBatch (group commit), then completes the ops.
class InstanceWriter {
 public:
  InstanceWriter(std::unique_ptr<storage::KvStore> store, Run& run)
      : store_(std::move(store)), run_(run) {}

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }
  void Submit(Op* op) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(op);
    }
    cv_.notify_one();
  }
  // Writes what is queued, then stops. Call after every submitter is done.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  uint64_t records_in_window() const { return records_in_window_; }
  const Status& failure() const { return failure_; }

 private:
  void Loop() {
    std::vector<Op*> batch;
    while (true) {
      batch.clear();
      {
        std::unique_lock<std::mutex> lock(mu_);
        // Woken by Submit or Stop; nothing else is waited for.
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stop_ and drained
        batch.swap(queue_);
      }
      storage::WriteBatch write;
      for (Op* op : batch) write.Put(op->key, op->value);
      Status s = failure_.ok() ? store_->Write(write, /*sync=*/true) : failure_;
      if (!s.ok() && failure_.ok()) {
        failure_ = s;
        run_.failed.store(true);
        run_.WakeDriver();
      }
      if (s.ok() && run_.phase.load() == kMeasure) records_in_window_ += batch.size();
      // Complete the ops even on failure, so no submitter waits for ever
      // (the run is ending; failed counts stop it).
      for (Op* op : batch) {
        if (op->remaining.fetch_sub(1) == 1) op->remaining.notify_one();
      }
    }
  }

  std::unique_ptr<storage::KvStore> store_;
  Run& run_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Op*> queue_;
  bool stop_ = false;
  std::thread thread_;
  uint64_t records_in_window_ = 0;  // read by the driver after Stop()
  Status failure_;                  // likewise
};

// One submitter: one op outstanding at a time (clients x in_flight of them).
struct Submitter {
  Op op;
  uint64_t ok = 0;
  std::vector<uint32_t> latencies_us;
  std::thread thread;
};

void Submit(uint32_t origin, Submitter& self, std::vector<std::unique_ptr<InstanceWriter>>& writers,
            Run& run, size_t value_size) {
  std::mt19937_64 rng(origin);
  self.op.value.resize(value_size);
  for (char& c : self.op.value) c = static_cast<char>(rng());
  const int instances = static_cast<int>(writers.size());
  for (uint64_t seq = 1; run.phase.load() != kStop && !run.failed.load(); ++seq) {
    self.op.key = storage::keys::Log(origin, seq);
    if (!self.op.value.empty()) self.op.value[0] = static_cast<char>(seq);  // distinct records
    self.op.remaining.store(instances);
    auto started = Clock::now();
    for (auto& w : writers) w->Submit(&self.op);
    // Woken by the writer that completes the op last.
    for (int left = self.op.remaining.load(); left != 0; left = self.op.remaining.load()) {
      self.op.remaining.wait(left);
    }
    if (run.failed.load() || run.phase.load() != kMeasure) continue;
    if (run.max_ops > 0) {
      uint64_t n = run.counted.fetch_add(1) + 1;
      if (n > run.max_ops) continue;
      if (n == run.max_ops) {
        run.phase.store(kStop);
        run.WakeDriver();
      }
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
    ++self.ok;
    self.latencies_us.push_back(
        static_cast<uint32_t>(std::min<int64_t>(us, std::numeric_limits<uint32_t>::max())));
  }
}

}  // namespace

StatusOr<LoadResult> RunRawBaseline(const RawBaselineOptions& options) {
  const LoadShape& shape = options.shape;
  if (shape.clients < 1 || shape.in_flight < 1) {
    return InvalidArgument("raw baseline: clients and in_flight must be at least 1");
  }
  if (options.instances < 1) return InvalidArgument("raw baseline: instances must be at least 1");
  if (options.work_dir.empty()) return InvalidArgument("raw baseline: work_dir is required");

  Run run;
  run.max_ops = shape.max_ops;
  std::vector<std::string> dirs;
  std::vector<std::unique_ptr<InstanceWriter>> writers;
  for (int i = 0; i < options.instances; ++i) {
    std::string dir = options.work_dir + "/raw-" + std::to_string(i);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);  // fresh instances every run
    dirs.push_back(dir);
    auto store = storage::OpenRocksKvStore({.path = dir});
    if (!store.ok()) return store.status().Annotate("raw baseline: " + dir);
    writers.push_back(std::make_unique<InstanceWriter>(std::move(*store), run));
  }
  for (auto& w : writers) w->Start();

  std::vector<std::unique_ptr<Submitter>> submitters;
  int total = shape.clients * shape.in_flight;
  for (int i = 0; i < total; ++i) submitters.push_back(std::make_unique<Submitter>());
  for (int i = 0; i < total; ++i) {
    Submitter& s = *submitters[i];
    s.thread = std::thread(
        [&, i] { Submit(static_cast<uint32_t>(i + 1), s, writers, run, shape.value_size); });
  }

  {
    // The warm-up is a span of time; a failed write cuts it short.
    std::unique_lock<std::mutex> lock(run.mu);
    run.wake_driver.wait_for(lock, shape.warmup, [&] { return run.failed.load(); });
  }
  ProcessSampler sampler({{"raw baseline", ::getpid()}});
  sampler.Start();
  auto window_start = Clock::now();
  run.phase.store(kMeasure);
  {
    std::unique_lock<std::mutex> lock(run.mu);
    run.wake_driver.wait_until(lock, window_start + shape.duration,
                               [&] { return run.failed.load() || run.phase.load() == kStop; });
  }
  run.phase.store(kStop);
  auto window_end = Clock::now();
  LoadResult result;
  result.processes = sampler.Stop();
  for (auto& s : submitters) s->thread.join();  // each finishes its op, then sees kStop
  for (auto& w : writers) w->Stop();

  Status failure;
  uint64_t records = 0;
  for (auto& w : writers) {
    if (failure.ok() && !w->failure().ok()) failure = w->failure();
    records += w->records_in_window();
  }
  writers.clear();  // closes the stores before their directories go
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  if (!failure.ok()) return failure.Annotate("raw baseline: write failed");

  result.system = "raw";
  result.workload = "write";
  result.shape = shape;
  result.seconds = std::chrono::duration<double>(window_end - window_start).count();
  for (auto& s : submitters) {
    result.ok_ops += s->ok;
    result.latencies_us.insert(result.latencies_us.end(), s->latencies_us.begin(),
                               s->latencies_us.end());
  }
  result.records_applied_per_second = result.seconds > 0 ? records / result.seconds : 0;
  return result;
}

}  // namespace coffer::bench
