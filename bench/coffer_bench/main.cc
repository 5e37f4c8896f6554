// coffer-bench: the cluster benchmark of Coffer (bench/README.md).
// Exit codes: 0 the run finished (operation errors are counted in the
// figures), 1 the run could not be made (a node did not come up, no
// connection, interrupted), 2 bad options or a mode not built.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "bench/coffer_bench/bench_cluster.h"
#include "bench/coffer_bench/catch_up.h"
#include "bench/coffer_bench/interrupt.h"
#include "bench/coffer_bench/load_driver.h"
#include "bench/coffer_bench/options.h"
#include "bench/coffer_bench/peer_hooks.h"
#include "bench/coffer_bench/report.h"

namespace coffer::bench {
namespace {

std::string DefaultCofferPath() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "coffer";
  return (self.parent_path() / "coffer").string();
}

void Progress(const std::string& line) { std::cerr << "coffer-bench: " << line << std::endl; }

// One line a second: on a terminal rewritten in place, else a plain line;
// on stderr when stdout carries the JSON.
LiveLine MakeLive(bool json) {
  FILE* stream = json ? stderr : stdout;
  const bool tty = ::isatty(::fileno(stream)) != 0;
  return [stream, tty](const std::string& line) {
    if (tty) {
      std::fprintf(stream, line.empty() ? "\r\033[K" : "\r\033[K%s", line.c_str());
    } else if (!line.empty()) {
      std::fprintf(stream, "%s\n", line.c_str());
    }
    std::fflush(stream);
  };
}

nlohmann::json ClusterJson(const BenchCluster& cluster, const BenchOptions& o, int pairs,
                           int read_only) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& n : cluster.nodes()) {
    nodes.push_back({{"name", n.name},
                     {"address", n.address()},
                     {"role", n.read_write ? "read-write" : "read-only"},
                     {"pid", n.pid}});
  }
  nlohmann::json j = {{"nodes", nodes}, {"existing", o.existing_cluster()}};
  if (!o.existing_cluster()) {
    j["pairs"] = pairs;
    j["read_only"] = read_only;
    if (o.keep) j["dir"] = cluster.dir();
  }
  return j;
}

StatusOr<std::unique_ptr<BenchCluster>> OpenCluster(const BenchOptions& o, int pairs,
                                                    int read_only) {
  if (o.existing_cluster()) {
    return BenchCluster::Existing(o.addresses, o.ca_file, o.cert_file, o.key_file, o.pids);
  }
  const std::string coffer = o.coffer_path.empty() ? DefaultCofferPath() : o.coffer_path;
  Progress("starting " + std::to_string(2 * pairs + read_only) + " node(s) from " + coffer);
  auto cluster =
      BenchCluster::StartLocal(coffer, pairs, read_only, o.keep, o.node_config_text, Progress);
  if (cluster.ok() && o.keep) Progress("cluster directory (kept): " + (*cluster)->dir());
  return cluster;
}

// Prepares (if the workload reads) and runs the workload on `cluster`.
StatusOr<SystemRun> RunOn(BenchCluster& cluster, const BenchOptions& o) {
  const std::string run_id = NewRunId();
  PreparedObjects prepared;
  if (o.workload != Workload::kWrite) {
    Progress("preparing " + std::to_string(o.prepare) + " objects");
    COFFER_ASSIGN_OR_RETURN(prepared, PrepareObjects(cluster, o, run_id));
  }
  Progress(WorkloadName(o.workload) + ": " + std::to_string(o.clients) + " client(s) x " +
           std::to_string(o.in_flight) + " in flight, warm-up " + std::to_string(o.warmup.count()) +
           " ms, then " +
           (o.count > 0 ? std::to_string(o.count) + " ops"
                        : std::to_string(o.duration.count()) + " ms"));
  RunExtras extras;
  COFFER_ASSIGN_OR_RETURN(LoadResult result,
                          RunCofferLoad(cluster, o, prepared, run_id, MakeLive(o.json), &extras));
  return SystemRun{std::move(result), extras.lag_timeouts, std::move(extras.rss),
                   extras.connections_opened};
}

int Fail(const Status& status) {
  std::cerr << "coffer-bench: " << status.ToString() << std::endl;
  return 1;
}

int RunSingle(const BenchOptions& o) {
  std::vector<SystemRun> runs;
  nlohmann::json cluster_json;
  {
    auto cluster = OpenCluster(o, o.pairs, o.read_only);
    if (!cluster.ok()) return Fail(cluster.status());
    cluster_json = ClusterJson(**cluster, o, o.pairs, o.read_only);
    auto run = RunOn(**cluster, o);
    if (!run.ok()) return Fail(run.status());
    runs.push_back(std::move(run).value());
  }  // the local cluster stops here, before another system runs
  if (o.vs_etcd) {
    auto etcd = RunVsEtcdMode(o);
    if (!etcd.ok()) return Fail(etcd.status());
    runs.push_back(SystemRun{std::move(etcd).value(), 0, {}, 0});
  }
  if (o.baseline_raw) {
    const int stores = static_cast<int>(cluster_json["nodes"].size());
    auto raw = RunRawBaselineMode(o, stores, runs.front().result);
    if (!raw.ok()) return Fail(raw.status());
    runs.push_back(SystemRun{std::move(raw).value(), 0, {}, 0});
  }
  if (o.json) {
    nlohmann::json results = nlohmann::json::array();
    for (const auto& run : runs) results.push_back(ResultJson(run));
    nlohmann::json doc = {{"tool", "coffer-bench"},
                          {"options", OptionsJson(o)},
                          {"cluster", cluster_json},
                          {"results", results}};
    std::cout << doc.dump(2) << std::endl;
  } else {
    std::cout << ResultTable(runs);
  }
  return 0;
}

// --catch-up N: the catch-up on a local cluster, then (the cluster
// stopped) the raw ingest of the same N records.
int RunCatchUpMode(const BenchOptions& o) {
  nlohmann::json cluster_json;
  CatchUpResult catch_up;
  {
    auto cluster = OpenCluster(o, o.pairs, o.read_only);
    if (!cluster.ok()) return Fail(cluster.status());
    cluster_json = ClusterJson(**cluster, o, o.pairs, o.read_only);
    auto run = RunCatchUp(**cluster, o, Progress, MakeLive(o.json));
    if (!run.ok()) return Fail(run.status());
    catch_up = std::move(run).value();
  }
  Progress("raw ingest: " + std::to_string(o.catch_up) + " records into one RocksDB");
  auto raw = RunRawIngestMode(o);
  if (!raw.ok()) return Fail(raw.status());
  catch_up.raw_records = raw->records;
  catch_up.raw_batch_records = CatchUpBatchRecords(o.value_size);
  catch_up.raw_seconds = raw->seconds;
  if (o.json) {
    nlohmann::json doc = {{"tool", "coffer-bench"},
                          {"options", OptionsJson(o)},
                          {"cluster", cluster_json},
                          {"results", nlohmann::json::array({ResultJson(catch_up.writes)})},
                          {"catch_up", CatchUpJson(catch_up)}};
    std::cout << doc.dump(2) << std::endl;
  } else {
    std::cout << ResultTable({catch_up.writes}) << CatchUpTable(catch_up);
  }
  return 0;
}

int RunScale(const BenchOptions& o) {
  std::vector<ScalePoint> points;
  for (int nodes : o.scale) {
    if (Interrupted()) return Fail(Status(Code::kUnavailable, "interrupted"));
    ScalePoint point;
    point.nodes = nodes;
    point.pairs = nodes / 2;
    point.read_only = nodes % 2;
    Progress("scale step: " + std::to_string(nodes) + " node(s)");
    auto cluster = OpenCluster(o, point.pairs, point.read_only);
    if (!cluster.ok()) return Fail(cluster.status());
    auto run = RunOn(**cluster, o);
    if (!run.ok()) return Fail(run.status());
    point.run = std::move(run).value();
    points.push_back(std::move(point));
  }
  const std::string svg = ScaleSvg(points, WorkloadName(o.workload));
  std::ofstream plot(o.plot_file, std::ios::trunc);
  plot << svg;
  plot.close();
  if (!plot) return Fail(Status(Code::kUnavailable, "cannot write the plot to " + o.plot_file));
  if (o.json) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& p : points) {
      steps.push_back({{"nodes", p.nodes},
                       {"pairs", p.pairs},
                       {"read_only", p.read_only},
                       {"result", ResultJson(p.run)}});
    }
    nlohmann::json doc = {{"tool", "coffer-bench"},
                          {"options", OptionsJson(o)},
                          {"scale", steps},
                          {"plot", o.plot_file}};
    std::cout << doc.dump(2) << std::endl;
  } else {
    std::cout << ScaleTable(points) << "plot: " << o.plot_file << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace coffer::bench

int main(int argc, char** argv) {
  using namespace coffer::bench;
  std::vector<std::string> args(argv + 1, argv + argc);
  ParseOutcome parsed = ParseBenchOptions(args);
  if (!parsed.options) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.text;
    return parsed.exit_code;
  }
  const BenchOptions& options = *parsed.options;
  if (options.vs_etcd && !EtcdBuilt()) {
    std::cerr << "coffer-bench: --vs-etcd: not built in this version\n";
    return 2;
  }
  if (options.baseline_raw && !RawBaselineBuilt()) {
    std::cerr << "coffer-bench: --baseline raw: not built in this version\n";
    return 2;
  }
  InstallInterruptHandlers();
  if (options.catch_up > 0) return RunCatchUpMode(options);
  return options.scale.empty() ? RunSingle(options) : RunScale(options);
}
