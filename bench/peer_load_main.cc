// coffer-peer-load: runs one of coffer-bench's peers alone — a 3-member etcd
// driven through its JSON gateway (bench/etcd/), or the raw RocksDB baseline
// (bench/baseline/) — and prints its LoadResult (bench/README.md).
// coffer-bench calls the libraries, not this binary.
//
//   coffer-peer-load --system etcd --clients 16 --duration 10
//   coffer-peer-load --system raw --instances 4 --clients 64 -o json
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bench/baseline/raw_baseline.h"
#include "bench/etcd/etcd_cluster.h"
#include "bench/etcd/etcd_load.h"

namespace {

using coffer::bench::LoadResult;

double PercentileMs(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)] / 1000.0;
}

nlohmann::json ToJson(const LoadResult& r) {
  std::vector<uint32_t> sorted = r.latencies_us;
  std::sort(sorted.begin(), sorted.end());
  nlohmann::json processes = nlohmann::json::array();
  for (const auto& p : r.processes) {
    processes.push_back({{"name", p.name},
                         {"cpu_seconds", p.cpu_seconds},
                         {"rss_start_bytes", p.rss_start_bytes},
                         {"rss_end_bytes", p.rss_end_bytes},
                         {"rss_max_bytes", p.rss_max_bytes}});
  }
  return {{"system", r.system},
          {"workload", r.workload},
          {"clients", r.shape.clients},
          {"in_flight", r.shape.in_flight},
          {"value_size", r.shape.value_size},
          {"seconds", r.seconds},
          {"ok_ops", r.ok_ops},
          {"ops_per_second", r.OpsPerSecond()},
          {"records_applied_per_second", r.records_applied_per_second},
          {"latency_ms",
           {{"p50", PercentileMs(sorted, 50)},
            {"p90", PercentileMs(sorted, 90)},
            {"p99", PercentileMs(sorted, 99)},
            {"p99_9", PercentileMs(sorted, 99.9)},
            {"max", sorted.empty() ? 0.0 : sorted.back() / 1000.0}}},
          {"errors", r.errors},
          {"processes", processes}};
}

void PrintText(const LoadResult& r) {
  nlohmann::json j = ToJson(r);
  std::printf("%s %s: clients %d x %d, %zu-byte values, %.1f s: %.0f ops/s (%llu ok)\n",
              r.system.c_str(), r.workload.c_str(), r.shape.clients, r.shape.in_flight,
              r.shape.value_size, r.seconds, r.OpsPerSecond(),
              static_cast<unsigned long long>(r.ok_ops));
  const auto& l = j["latency_ms"];
  std::printf("  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
              l["p50"].get<double>(), l["p90"].get<double>(), l["p99"].get<double>(),
              l["p99_9"].get<double>(), l["max"].get<double>());
  std::printf("  records applied/s over all stores: %.0f\n", r.records_applied_per_second);
  for (const auto& [code, n] : r.errors) {
    std::printf("  errors %s: %llu\n", code.c_str(), static_cast<unsigned long long>(n));
  }
  for (const auto& p : r.processes) {
    std::printf("  %s: cpu %.2f s (%.0f%% of a core), rss %.1f -> %.1f MiB (max %.1f)\n",
                p.name.c_str(), p.cpu_seconds, r.seconds > 0 ? 100 * p.cpu_seconds / r.seconds : 0,
                p.rss_start_bytes / 1048576.0, p.rss_end_bytes / 1048576.0,
                p.rss_max_bytes / 1048576.0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run coffer-bench's etcd peer or raw RocksDB baseline alone"};
  std::string system;
  coffer::bench::LoadShape shape;
  double duration_s = 5, warmup_s = 1;
  int instances = 4;
  int io_threads = 1;
  std::string work_dir, output = "text", etcd_binary = "/usr/bin/etcd";
  app.add_option("--system", system, "etcd or raw")
      ->required()
      ->check(CLI::IsMember({"etcd", "raw"}));
  app.add_option("--clients", shape.clients, "concurrent clients")->check(CLI::Range(1, 4096));
  app.add_option("--in-flight", shape.in_flight, "requests outstanding per client")
      ->check(CLI::Range(1, 256));
  app.add_option("--duration", duration_s, "measured seconds")->check(CLI::Range(0.1, 86400.0));
  app.add_option("--warmup", warmup_s, "seconds before the window")->check(CLI::Range(0.0, 3600.0));
  app.add_option("--count", shape.max_ops, "stop after this many ops in the window (0: none)");
  app.add_option("--value-size", shape.value_size, "bytes per value")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  app.add_option("--instances", instances, "raw: RocksDB instances (nodes of the Coffer run)")
      ->check(CLI::Range(1, 64));
  app.add_option("--io-threads", io_threads, "etcd: client event-loop threads")
      ->check(CLI::Range(1, 64));
  app.add_option("--work-dir", work_dir, "data dirs and logs (default: a new temp dir, removed)");
  app.add_option("--etcd", etcd_binary, "etcd binary");
  app.add_option("-o,--output", output, "text or json")->check(CLI::IsMember({"text", "json"}));
  CLI11_PARSE(app, argc, argv);
  shape.duration = std::chrono::milliseconds(static_cast<int64_t>(duration_s * 1000));
  shape.warmup = std::chrono::milliseconds(static_cast<int64_t>(warmup_s * 1000));

  bool own_dir = work_dir.empty();
  if (own_dir) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "coffer-peer-load-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "error: cannot make a temp dir\n");
      return 1;
    }
    work_dir = pattern;
  }

  coffer::StatusOr<LoadResult> result = coffer::Internal("not run");
  if (system == "raw") {
    result = coffer::bench::RunRawBaseline(
        {.shape = shape, .instances = instances, .work_dir = work_dir});
  } else {
    auto cluster =
        coffer::bench::EtcdCluster::Start({.work_dir = work_dir, .etcd_binary = etcd_binary});
    if (!cluster.ok()) {
      result = cluster.status();
    } else {
      auto options = coffer::bench::EtcdLoadOptionsFor(**cluster, shape);
      options.io_threads = io_threads;
      result = coffer::bench::RunEtcdLoad(options);
    }  // the cluster stops here
  }
  if (own_dir && result.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(work_dir, ec);
  }
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s%s\n", result.status().ToString().c_str(),
                 own_dir ? (" (work dir kept: " + work_dir + ")").c_str() : "");
    return 1;
  }
  if (output == "json") {
    std::cout << ToJson(*result).dump(2) << "\n";
  } else {
    PrintText(*result);
  }
  return 0;
}
