#include "bench/coffer_bench/load_driver.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "bench/coffer_bench/interrupt.h"
#include "bench/coffer_bench/lag_probe.h"
#include "bench/coffer_bench/proc_usage.h"
#include "common/wait_for.h"

namespace coffer::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kCallTimeout{10};
constexpr std::chrono::seconds kConnectTimeout{5};
constexpr std::chrono::seconds kConnectPhaseTimeout{60};
constexpr std::chrono::seconds kPrepareTimeout{120};
constexpr std::chrono::seconds kConvergeTimeout{60};
constexpr std::chrono::milliseconds kReconnectPause{100};
constexpr std::chrono::milliseconds kTick{250};
constexpr int kPrepareConnections = 8;

int64_t Micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

std::string Material(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>('a' + rng() % 26);
  return bytes;
}

pb::Request RegisterRequest(const std::string& request_id, const std::string& name,
                            const std::string& material) {
  pb::Request request;
  request.set_request_id(request_id);
  auto* r = request.mutable_write()->mutable_register_object();
  r->set_type(pb::SECRET_DATA);
  r->set_name(name);
  r->set_material(material);
  return request;
}

// The code an operation ended with: the response's, or the connection's.
std::string CodeOf(const StatusOr<pb::Response>& response) {
  if (!response.ok()) return std::string(CodeName(response.status().code()));
  return response->code().empty() ? "INTERNAL" : response->code();
}

// Sum over every node of its applied vector, and when it was read.
struct AppliedSnapshot {
  uint64_t records = 0;
  Clock::time_point at;
  bool complete = true;  // every node answered
};

// Asks every node at once (a status request can take a while on a loaded
// node; asked in turn, 16 of them would eat into the window); `at` is the
// middle of the asking.
AppliedSnapshot SnapshotApplied(BenchCluster& cluster) {
  const auto& nodes = cluster.nodes();
  std::vector<std::optional<uint64_t>> sums(nodes.size());
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t i = 0; i < nodes.size(); ++i) {
    threads.emplace_back([&, i] {
      auto status = cluster.StatusOf(nodes[i]);
      if (!status.ok()) return;
      uint64_t sum = 0;
      for (const auto& [origin, seq] : status->applied().applied()) sum += seq;
      sums[i] = sum;
    });
  }
  for (auto& t : threads) t.join();
  AppliedSnapshot snapshot;
  for (const auto& sum : sums) {
    if (!sum) snapshot.complete = false;
    snapshot.records += sum.value_or(0);
  }
  snapshot.at = start + (Clock::now() - start) / 2;
  return snapshot;
}

// What one worker thread measured in the window.
struct WorkerLog {
  std::vector<uint32_t> latencies_us;
  std::map<std::string, uint64_t> errors;
  uint64_t ok = 0;
};

struct Shared {
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::atomic<int> connected{0};
  std::atomic<int> connect_failed{0};
  std::atomic<uint64_t> connections_opened{0};  // by the workers, reconnections included
  std::mutex failure_mu;
  std::string first_failure;
  Clock::time_point window_start, window_end;  // set before `go`
  uint64_t count = 0;                          // 0: no count limit
  std::atomic<uint64_t> window_ok{0};
  std::atomic<int64_t> count_reached_us{0};  // since window_start; 0: not reached
  std::atomic<uint64_t> live_ok{0}, live_errors{0};
};

struct WorkerSpec {
  int index = 0;
  const BenchNode* write_node = nullptr;  // nullptr: the workload writes nothing
  const BenchNode* read_node = nullptr;   // nullptr: the workload reads nothing
};

class Worker {
 public:
  Worker(BenchCluster& cluster, const BenchOptions& options, const PreparedObjects& prepared,
         const std::string& run_id, WorkerSpec spec, Shared& shared, LagProbe* probe)
      : cluster_(cluster),
        options_(options),
        prepared_(prepared),
        run_id_(run_id),
        spec_(spec),
        shared_(shared),
        probe_(probe),
        rng_(std::random_device{}() ^ static_cast<uint64_t>(spec.index) * 7919),
        material_(Material(options.value_size, rng_())) {}

  void Run() {
    if (!ConnectAll()) return;
    while (!shared_.go && !shared_.stop) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (pipelined()) {
      RunPipelined();
      return;
    }
    while (!shared_.stop && !Interrupted() && Clock::now() < shared_.window_end) OneOp();
  }

  WorkerLog& log() { return log_; }

 private:
  // K > 1 requests outstanding on one connection (--in-flight-mode
  // pipeline). K = 1 takes the Call path, which is the same exchange.
  bool pipelined() const {
    return options_.in_flight_mode == InFlightMode::kPipeline && options_.in_flight > 1;
  }

  bool ConnectAll() {
    const auto deadline = Clock::now() + kConnectPhaseTimeout;
    for (auto [node, client] :
         {std::pair{spec_.write_node, &write_client_}, std::pair{spec_.read_node, &read_client_}}) {
      if (node == nullptr) continue;
      // Pipelined: one connection, to the write node if the workload writes.
      if (pipelined() && client == &read_client_ && spec_.write_node != nullptr) continue;
      auto connected =
          node::CofferClient::ConnectBy(node->host, node->port, cluster_.tls(),
                                        std::min(deadline, Clock::now() + kConnectTimeout));
      if (!connected.ok()) {
        ++shared_.connect_failed;
        std::lock_guard<std::mutex> lock(shared_.failure_mu);
        if (shared_.first_failure.empty()) {
          shared_.first_failure = "cannot connect to " + node->name + " (" + node->address() +
                                  "): " + connected.status().ToString();
        }
        return false;
      }
      *client = std::move(connected).value();
      ++shared_.connections_opened;
    }
    ++shared_.connected;
    return true;
  }

  // The next request of the workload; `read` says which kind it is.
  pb::Request NextRequest(bool* read_out) {
    bool read = false;
    switch (options_.workload) {
      case Workload::kWrite:
        read = false;
        break;
      case Workload::kRead:
      case Workload::kLocate:
        read = true;
        break;
      case Workload::kMix:
        read = static_cast<int>(rng_() % 100) < options_.read_percent;
        break;
    }
    *read_out = read;
    pb::Request request;
    if (!read) {
      const uint64_t i = next_++;
      const std::string id = run_id_ + "-" + std::to_string(spec_.index) + "-" + std::to_string(i);
      std::snprintf(material_.data(), std::min<size_t>(material_.size(), 17), "%016llx",
                    static_cast<unsigned long long>(i));
      request = RegisterRequest(id, id, material_);
    } else if (options_.workload == Workload::kLocate) {
      request.mutable_locate()->set_name(prepared_.names[rng_() % prepared_.names.size()]);
      request.mutable_locate()->set_limit(1);
    } else {
      request.mutable_get()->set_uuid(prepared_.uuids[rng_() % prepared_.uuids.size()]);
    }
    return request;
  }

  // Connects `client` to `node` if it is not connected; false (counted as an
  // error, after a short pause) if that fails.
  bool EnsureConnected(const BenchNode& node, std::unique_ptr<node::CofferClient>& client) {
    if (client != nullptr) return true;
    auto connected = cluster_.Connect(node, kConnectTimeout);
    if (!connected.ok()) {
      Count(Clock::now(), Clock::now(), std::string(CodeName(connected.status().code())));
      std::this_thread::sleep_for(kReconnectPause);  // bounded: once per failed connect
      return false;
    }
    client = std::move(connected).value();
    ++shared_.connections_opened;
    return true;
  }

  // One request at a time (Call).
  void OneOp() {
    bool read = false;
    pb::Request request = NextRequest(&read);
    const BenchNode* node = read ? spec_.read_node : spec_.write_node;
    std::unique_ptr<node::CofferClient>& client = read ? read_client_ : write_client_;
    if (!EnsureConnected(*node, client)) return;
    const auto start = Clock::now();
    auto response = client->Call(request, kCallTimeout);
    const auto end = Clock::now();
    if (!response.ok()) client.reset();  // the connection is closed: reconnect next time
    const std::string code = CodeOf(response);
    const bool counted = Count(start, end, code);
    if (counted && !read && code == "OK" && probe_ != nullptr) {
      probe_->Offer(response->op_result().uuid(), end);
    }
  }

  // Keeps options_.in_flight requests outstanding on one connection until
  // the window ends (or the count is reached), then receives the answers
  // still due. Each request's latency runs from its Send to the Receive
  // that returns its answer. A failed Send or Receive closes the
  // connection: every call still unanswered counts as that error
  // (OUTCOME_UNKNOWN for a lost answer), and the next pass reconnects.
  // Bounded: each pass sends, receives (by a deadline) or reconnects
  // (pausing after a failure), and sending stops at the window's end.
  void RunPipelined() {
    struct Pending {
      Clock::time_point sent;
      bool read = false;
    };
    const bool writes = spec_.write_node != nullptr;
    const BenchNode& node = writes ? *spec_.write_node : *spec_.read_node;
    std::unique_ptr<node::CofferClient>& client = writes ? write_client_ : read_client_;
    const size_t k = static_cast<size_t>(options_.in_flight);
    std::unordered_map<uint64_t, Pending> pending;
    bool broken = false;  // a Send failed: receive what is due, then reconnect
    while (true) {
      const bool sending =
          !broken && !shared_.stop && !Interrupted() && Clock::now() < shared_.window_end;
      if (pending.empty()) {
        if (broken) {
          client.reset();
          broken = false;
          continue;
        }
        if (!sending) return;
        if (!EnsureConnected(node, client)) continue;
      }
      while (sending && !broken && pending.size() < k) {
        bool read = false;
        pb::Request request = NextRequest(&read);
        const auto sent = Clock::now();
        auto call = client->Send(request, sent + kCallTimeout);
        if (!call.ok()) {
          Count(sent, Clock::now(), std::string(CodeName(call.status().code())));
          broken = true;
          break;
        }
        pending[*call] = Pending{sent, read};
      }
      if (pending.empty()) continue;
      auto answer = client->Receive(Clock::now() + kCallTimeout);
      const auto end = Clock::now();
      if (!answer.ok()) {
        const std::string code(CodeName(answer.status().code()));
        for (const auto& [id, p] : pending) Count(p.sent, end, code);
        pending.clear();
        client.reset();
        broken = false;
        continue;
      }
      auto it = pending.find(answer->call_id);
      if (it == pending.end()) continue;  // the client answers only calls it sent
      const Pending p = it->second;
      pending.erase(it);
      const std::string code =
          answer->response.code().empty() ? "INTERNAL" : answer->response.code();
      const bool counted = Count(p.sent, end, code);
      if (counted && !p.read && code == "OK" && probe_ != nullptr) {
        probe_->Offer(answer->response.op_result().uuid(), end);
      }
    }
  }

  // Accounts one op that ended at `end`; whether it fell in the window.
  bool Count(Clock::time_point start, Clock::time_point end, const std::string& code) {
    if (end < shared_.window_start || end >= shared_.window_end) return false;
    const bool ok = code == "OK";
    if (ok && shared_.count > 0) {
      const uint64_t before = shared_.window_ok.fetch_add(1);
      if (before >= shared_.count) return false;
      if (before + 1 == shared_.count) {
        shared_.count_reached_us = std::max<int64_t>(1, Micros(end - shared_.window_start));
        shared_.stop = true;
      }
    }
    if (ok) {
      log_.latencies_us.push_back(
          static_cast<uint32_t>(std::clamp<int64_t>(Micros(end - start), 0, UINT32_MAX)));
      ++log_.ok;
      shared_.live_ok.fetch_add(1, std::memory_order_relaxed);
    } else {
      ++log_.errors[code];
      shared_.live_errors.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }

  BenchCluster& cluster_;
  const BenchOptions& options_;
  const PreparedObjects& prepared_;
  const std::string& run_id_;
  const WorkerSpec spec_;
  Shared& shared_;
  LagProbe* probe_;
  std::mt19937_64 rng_;
  std::string material_;
  uint64_t next_ = 0;
  std::unique_ptr<node::CofferClient> write_client_, read_client_;
  WorkerLog log_;
};

// Sleeps until `until`, in short steps that notice a stop or Ctrl-C.
void SleepUntil(Clock::time_point until, const std::atomic<bool>& stop) {
  while (!stop && !Interrupted()) {
    const auto now = Clock::now();
    if (now >= until) return;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - now, std::chrono::milliseconds(20)));
  }
}

}  // namespace

std::string NewRunId() {
  std::random_device device;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "b%08x", static_cast<unsigned>(device()));
  return buf;
}

StatusOr<PreparedObjects> PrepareObjects(BenchCluster& cluster, const BenchOptions& options,
                                         const std::string& run_id) {
  auto rw = cluster.ReadWriteNodes();
  if (rw.empty()) return Status(Code::kInvalidState, "the cluster has no read-write node");
  PreparedObjects prepared;
  prepared.uuids.resize(static_cast<size_t>(options.prepare));
  prepared.names.resize(static_cast<size_t>(options.prepare));
  std::atomic<int> next{0};
  std::mutex mu;
  Status failure;
  const auto deadline = Clock::now() + kPrepareTimeout;
  const std::string material = Material(options.value_size, 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kPrepareConnections; ++t) {
    threads.emplace_back([&, t] {
      const BenchNode& node = *rw[static_cast<size_t>(t) % rw.size()];
      std::unique_ptr<node::CofferClient> client;
      for (int i = next++; i < options.prepare; i = next++) {
        const std::string name = run_id + "-p" + std::to_string(i);
        StatusOr<pb::Response> response = Status(Code::kUnavailable, "not sent");
        // A few attempts per object (same request id: a retry is safe).
        for (int attempt = 0; attempt < 3 && Clock::now() < deadline && !Interrupted(); ++attempt) {
          if (client == nullptr) {
            auto connected = cluster.Connect(node, kConnectTimeout);
            if (!connected.ok()) {
              response = connected.status();
              continue;
            }
            client = std::move(connected).value();
          }
          response = client->Call(RegisterRequest(name, name, material), kCallTimeout);
          if (!response.ok()) client.reset();
          if (response.ok() && response->code() == "OK") break;
        }
        Status status = response.ok() ? node::StatusFromResponse(*response) : response.status();
        if (!status.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (failure.ok())
            failure = status.Annotate("preparing object " + name + " on " + node.name);
          next = options.prepare;
          return;
        }
        prepared.uuids[static_cast<size_t>(i)] = response->op_result().uuid();
        prepared.names[static_cast<size_t>(i)] = name;
      }
    });
  }
  for (auto& t : threads) t.join();
  if (Interrupted()) return Status(Code::kUnavailable, "interrupted");
  COFFER_RETURN_IF_ERROR(failure);

  // Wait until every node has applied every record the writers made.
  std::map<uint32_t, uint64_t> target;
  for (const BenchNode* n : rw) {
    auto status = cluster.StatusOf(*n);
    if (!status.ok()) return status.status().Annotate("status of " + n->name);
    for (const auto& [origin, seq] : status->applied().applied()) {
      target[origin] = std::max(target[origin], seq);
    }
  }
  std::string behind;
  const bool converged = coffer::WaitFor(
      [&] {
        if (Interrupted()) return true;
        for (const auto& n : cluster.nodes()) {
          auto status = cluster.StatusOf(n);
          if (!status.ok()) {
            behind = n.name + " (" + status.status().ToString() + ")";
            return false;
          }
          for (const auto& [origin, seq] : target) {
            auto it = status->applied().applied().find(origin);
            if (it == status->applied().applied().end() || it->second < seq) {
              behind = n.name + " (log " + n.log_file + ")";
              return false;
            }
          }
        }
        return true;
      },
      kConvergeTimeout, std::chrono::milliseconds(50));
  if (!converged) {
    return Status(Code::kUnavailable, "the prepared objects did not reach every node within " +
                                          std::to_string(kConvergeTimeout.count()) +
                                          " s; behind: " + behind);
  }
  return prepared;
}

StatusOr<LoadResult> RunCofferLoad(BenchCluster& cluster, const BenchOptions& options,
                                   const PreparedObjects& prepared, const std::string& run_id,
                                   const LiveLine& live, RunExtras* extras, bool measure_lag) {
  const bool writes = options.workload == Workload::kWrite || options.workload == Workload::kMix;
  const bool reads = !(options.workload == Workload::kWrite);
  auto rw = cluster.ReadWriteNodes();
  const auto& all = cluster.nodes();
  if (writes && rw.empty())
    return Status(Code::kInvalidState, "the cluster has no read-write node");
  if (reads && prepared.uuids.empty()) return InvalidArgument("no prepared objects to read");

  Shared shared;
  shared.count = options.count;
  shared.window_start = Clock::time_point::max();
  shared.window_end = Clock::time_point::max();
  LagProbe probe(cluster, kLagSampleInterval, kLagPollInterval, kLagTimeout);
  const bool lag = measure_lag && writes && all.size() > 1;

  std::vector<std::unique_ptr<Worker>> workers;
  // Pipelined: one worker (one connection) per client; otherwise one per
  // client and in-flight slot.
  const int per_client =
      options.in_flight_mode == InFlightMode::kConnections ? options.in_flight : 1;
  for (int c = 0; c < options.clients; ++c) {
    for (int k = 0; k < per_client; ++k) {
      WorkerSpec spec;
      spec.index = c * per_client + k;
      if (writes) spec.write_node = rw[static_cast<size_t>(c) % rw.size()];
      if (reads) spec.read_node = &all[static_cast<size_t>(c) % all.size()];
      workers.push_back(std::make_unique<Worker>(cluster, options, prepared, run_id, spec, shared,
                                                 lag ? &probe : nullptr));
    }
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  auto join_all = [&] {
    shared.stop = true;
    probe.Stop();
    for (auto& t : threads) t.join();
  };
  const int total = static_cast<int>(workers.size());
  const bool connected = coffer::WaitFor(
      [&] { return shared.connected + shared.connect_failed >= total || Interrupted(); },
      kConnectPhaseTimeout + std::chrono::seconds(5), std::chrono::milliseconds(5));
  if (!connected || shared.connect_failed > 0 || Interrupted()) {
    join_all();
    if (Interrupted()) return Status(Code::kUnavailable, "interrupted");
    return Status(Code::kUnavailable, shared.first_failure.empty()
                                          ? "clients did not connect in time"
                                          : shared.first_failure);
  }

  const auto start = Clock::now();
  shared.window_start = start + options.warmup;
  shared.window_end = shared.window_start + options.duration;
  shared.go = true;
  if (lag) probe.Start();

  SleepUntil(shared.window_start, shared.stop);
  // The window: CPU and RSS at its start, RSS samples, applied records.
  struct Usage {
    double cpu_start = 0;
    bool known = false;
    ProcessUsage usage;
  };
  std::vector<Usage> usage(all.size());
  std::vector<std::vector<uint64_t>> rss_samples(all.size());
  std::chrono::milliseconds rss_interval = RssSampleInterval(options.duration);
  if (options.count > 0)
    rss_interval = std::min<std::chrono::milliseconds>(rss_interval, std::chrono::seconds(30));
  auto next_rss_sample = Clock::now() + rss_interval;
  for (size_t i = 0; i < all.size(); ++i) {
    usage[i].usage.name =
        "coffer " + all[i].name + (all[i].read_write ? " (read-write)" : " (read-only)");
    auto cpu = CpuSeconds(all[i].pid);
    auto rss = RssBytes(all[i].pid);
    if (cpu && rss) {
      usage[i].known = true;
      usage[i].cpu_start = *cpu;
      usage[i].usage.rss_start_bytes = usage[i].usage.rss_max_bytes = *rss;
      rss_samples[i].push_back(*rss);
    }
  }
  probe.SetMeasuring(true);
  const AppliedSnapshot applied_start = SnapshotApplied(cluster);

  auto last_line = Clock::now();
  uint64_t last_ok = shared.live_ok;
  int second = 0;
  while (!shared.stop && !Interrupted() && Clock::now() < shared.window_end) {
    SleepUntil(std::min(shared.window_end, Clock::now() + kTick), shared.stop);
    const bool timeline_due = Clock::now() >= next_rss_sample;
    if (timeline_due) next_rss_sample += rss_interval;
    for (size_t i = 0; i < all.size(); ++i) {
      if (!usage[i].known) continue;
      if (auto rss = RssBytes(all[i].pid)) {
        usage[i].usage.rss_max_bytes = std::max(usage[i].usage.rss_max_bytes, *rss);
        if (timeline_due) rss_samples[i].push_back(*rss);
      }
    }
    const auto now = Clock::now();
    if (live && now - last_line >= std::chrono::seconds(1)) {
      const uint64_t ok = shared.live_ok;
      const double secs = std::chrono::duration<double>(now - last_line).count();
      char line[160];
      std::snprintf(line, sizeof(line), "[%3ds] %8.0f ops/s   ok %llu   errors %llu", ++second,
                    static_cast<double>(ok - last_ok) / secs, static_cast<unsigned long long>(ok),
                    static_cast<unsigned long long>(shared.live_errors.load()));
      live(line);
      last_line = now;
      last_ok = ok;
    }
  }
  const int64_t reached = shared.count_reached_us;
  const auto window_end = reached > 0 ? shared.window_start + std::chrono::microseconds(reached)
                                      : std::min(Clock::now(), shared.window_end);
  probe.SetMeasuring(false);
  for (size_t i = 0; i < all.size(); ++i) {
    if (!usage[i].known) continue;
    auto cpu = CpuSeconds(all[i].pid);
    auto rss = RssBytes(all[i].pid);
    usage[i].usage.cpu_seconds = cpu ? *cpu - usage[i].cpu_start : 0;
    usage[i].usage.rss_end_bytes = rss ? *rss : 0;
    if (rss) usage[i].usage.rss_max_bytes = std::max(usage[i].usage.rss_max_bytes, *rss);
    if (rss) rss_samples[i].push_back(*rss);
  }
  const AppliedSnapshot applied_end = SnapshotApplied(cluster);
  join_all();
  if (live) live("");

  LoadResult result;
  result.system = "coffer";
  result.workload = WorkloadName(options.workload);
  result.shape = options.Shape();
  result.seconds = std::chrono::duration<double>(window_end - shared.window_start).count();
  for (auto& w : workers) {
    auto& log = w->log();
    result.ok_ops += log.ok;
    result.latencies_us.insert(result.latencies_us.end(), log.latencies_us.begin(),
                               log.latencies_us.end());
    for (const auto& [code, n] : log.errors) result.errors[code] += n;
  }
  if (applied_start.complete && applied_end.complete && applied_end.at > applied_start.at) {
    result.records_applied_per_second =
        static_cast<double>(applied_end.records - applied_start.records) /
        std::chrono::duration<double>(applied_end.at - applied_start.at).count();
  }
  result.replication_lag_us = probe.samples();
  RssTimeline timeline;
  timeline.interval = rss_interval;
  for (size_t i = 0; i < all.size(); ++i) {
    if (!usage[i].known) continue;
    result.processes.push_back(usage[i].usage);
    timeline.bytes.push_back(std::move(rss_samples[i]));
  }
  if (extras != nullptr) {
    extras->lag_timeouts = probe.timeouts();
    extras->connections_opened = shared.connections_opened;
    extras->rss = std::move(timeline);
  }
  if (Interrupted()) return Status(Code::kUnavailable, "interrupted");
  return result;
}

}  // namespace coffer::bench
