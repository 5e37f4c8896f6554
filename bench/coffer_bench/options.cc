#include "bench/coffer_bench/options.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/limits.h"

namespace coffer::bench {
namespace {

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::optional<int> ParseInt(const std::string& text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return std::stoi(text);
}

ParseOutcome Refuse(const std::string& message) {
  return ParseOutcome{std::nullopt, 2, "coffer-bench: " + message + " (see --help)\n"};
}

}  // namespace

std::string WorkloadName(Workload workload) {
  switch (workload) {
    case Workload::kWrite:
      return "write";
    case Workload::kRead:
      return "read";
    case Workload::kMix:
      return "mix";
    case Workload::kLocate:
      return "locate";
  }
  return "?";
}

std::string InFlightModeName(InFlightMode mode) {
  return mode == InFlightMode::kConnections ? "connections" : "pipeline";
}

LoadShape BenchOptions::Shape() const {
  LoadShape shape;
  shape.clients = clients;
  shape.in_flight = in_flight;
  shape.value_size = value_size;
  shape.warmup = warmup;
  shape.duration = duration;
  shape.max_ops = count;
  return shape;
}

std::optional<std::chrono::milliseconds> ParseBenchDuration(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 9) return std::nullopt;
  const int64_t value = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  if (unit.empty() || unit == "s") return std::chrono::milliseconds(value * 1000);
  if (unit == "ms") return std::chrono::milliseconds(value);
  if (unit == "m") return std::chrono::milliseconds(value * 60 * 1000);
  return std::nullopt;
}

ParseOutcome ParseBenchOptions(const std::vector<std::string>& args) {
  BenchOptions o;
  std::string workload = "write", duration, warmup = "2s", output = "table", scale, addresses, pids,
              baseline, in_flight_mode = "pipeline";
  CLI::App app(
      "coffer-bench: a cluster benchmark of Coffer. Starts real `coffer node start` processes on "
      "loopback (mutual TLS, RocksDB on disk) or targets an existing cluster, drives a workload "
      "and prints throughput, latency, replication lag, node CPU and RSS (bench/README.md).",
      "coffer-bench");
  app.add_option("--coffer", o.coffer_path, "the coffer binary (default: next to coffer-bench)");
  app.add_option("--pairs", o.pairs, "read-write pairs of the local cluster (default 1)");
  app.add_option("--read-only", o.read_only, "read-only nodes of the local cluster (default 0)");
  app.add_flag("--keep", o.keep, "keep the local cluster's temp directory (data, logs)");
  app.add_option("--node-config", o.node_config_file,
                 "FILE: TOML appended to every local node's config (e.g. a [storage] table)");
  app.add_option("--address", addresses, "A,B,...: target this existing cluster's nodes");
  app.add_option("--ca", o.ca_file, "CA certificate (with --address)");
  app.add_option("--cert", o.cert_file, "admin client certificate (with --address)");
  app.add_option("--key", o.key_file, "its key (with --address)");
  app.add_option("--pids", pids, "P1,P2,...: the --address nodes' process ids, for CPU and RSS");
  app.add_option("--workload", workload, "write|read|mix|locate (default write)");
  app.add_option("--value-size", o.value_size, "bytes per secret written (default 256)");
  app.add_option("--read-percent", o.read_percent, "reads in the mix workload, % (default 50)");
  app.add_option("--prepare", o.prepare,
                 "objects written before read, mix and locate runs (default 1000)");
  app.add_option("--clients", o.clients, "concurrent clients (default 1)");
  app.add_option("--in-flight", o.in_flight,
                 "requests outstanding per client (default 1), pipelined on its one connection");
  app.add_option("--in-flight-mode", in_flight_mode,
                 "pipeline|connections: K requests on one connection per client (default), or "
                 "K connections per client with one request each (the old behaviour)");
  app.add_option("--duration", duration, "measured window, e.g. 10s, 500ms, 2m (default 10s)");
  app.add_option("--count", o.count, "stop after this many successful ops instead");
  app.add_option("--warmup", warmup, "unmeasured load before the window (default 2s)");
  app.add_option("-o,--output", output, "table|json (default table)");
  app.add_option("--scale", scale, "N1,N2,...: the same run on clusters of N nodes each");
  app.add_option("--plot", o.plot_file, "SVG file of the --scale plot (default coffer-scale.svg)");
  app.add_flag("--vs-etcd", o.vs_etcd, "also drive a 3-member etcd with the same load");
  app.add_option("--baseline", baseline, "raw: also the raw RocksDB limit for the same work");
  app.add_option("--catch-up", o.catch_up,
                 "N: disable a read-only node, write N records, enable it and time its "
                 "catch-up against the raw RocksDB ingest of N records (needs --read-only >= 1)");

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return ParseOutcome{std::nullopt, 0, app.help()};
  } catch (const CLI::ParseError& e) {
    return Refuse(e.what());
  }

  if (workload == "write") {
    o.workload = Workload::kWrite;
  } else if (workload == "read") {
    o.workload = Workload::kRead;
  } else if (workload == "mix") {
    o.workload = Workload::kMix;
  } else if (workload == "locate") {
    o.workload = Workload::kLocate;
  } else {
    return Refuse("--workload must be write, read, mix or locate, not '" + workload + "'");
  }
  if (output == "json") {
    o.json = true;
  } else if (output != "table") {
    return Refuse("-o must be table or json, not '" + output + "'");
  }
  if (!duration.empty()) {
    auto d = ParseBenchDuration(duration);
    if (!d || d->count() <= 0) {
      return Refuse("--duration must be a positive duration like 10s, 500ms or 2m, not '" +
                    duration + "'");
    }
    o.duration = *d;
  } else if (o.count > 0) {
    o.duration = std::chrono::hours(1);  // --count alone: the count ends the window
  }
  auto w = ParseBenchDuration(warmup);
  if (!w) return Refuse("--warmup must be a duration like 2s, 500ms or 0s, not '" + warmup + "'");
  o.warmup = *w;
  if (o.pairs < 0 || o.read_only < 0 || o.pairs * 2 + o.read_only < 1 ||
      o.pairs * 2 + o.read_only > kMaxBenchNodes) {
    return Refuse("--pairs P --read-only R must make 1 to " + std::to_string(kMaxBenchNodes) +
                  " nodes (2P + R), not " + std::to_string(o.pairs * 2 + o.read_only));
  }
  if (o.pairs == 0 && o.read_only > 1) {
    return Refuse("read-only nodes need a read-write pair: --pairs 0 allows one standalone node");
  }
  if (o.clients < 1 || o.clients > kMaxBenchClients) {
    return Refuse("--clients must be 1 to " + std::to_string(kMaxBenchClients));
  }
  if (o.in_flight < 1 || o.in_flight > kMaxBenchInFlight) {
    return Refuse("--in-flight must be 1 to " + std::to_string(kMaxBenchInFlight));
  }
  if (in_flight_mode == "pipeline") {
    o.in_flight_mode = InFlightMode::kPipeline;
  } else if (in_flight_mode == "connections") {
    o.in_flight_mode = InFlightMode::kConnections;
  } else {
    return Refuse("--in-flight-mode must be pipeline or connections, not '" + in_flight_mode + "'");
  }
  if (o.in_flight_mode == InFlightMode::kConnections &&
      o.clients * o.in_flight > kMaxBenchConnections) {
    return Refuse("--clients x --in-flight must be at most " +
                  std::to_string(kMaxBenchConnections) + " connections");
  }
  if (o.value_size < 1 || o.value_size > limits::kMaxMaterialBytes) {
    return Refuse("--value-size must be 1 to " + std::to_string(limits::kMaxMaterialBytes) +
                  " bytes (limits::kMaxMaterialBytes)");
  }
  if (o.read_percent < 0 || o.read_percent > 100) {
    return Refuse("--read-percent must be 0 to 100");
  }
  if (o.prepare < 1 || o.prepare > kMaxPrepareObjects) {
    return Refuse("--prepare must be 1 to " + std::to_string(kMaxPrepareObjects));
  }
  if (!baseline.empty()) {
    if (baseline != "raw") return Refuse("--baseline takes only 'raw', not '" + baseline + "'");
    o.baseline_raw = true;
  }
  for (const std::string& item : SplitList(scale)) {
    auto n = ParseInt(item);
    if (!n || *n < 1 || *n > kMaxBenchNodes) {
      return Refuse("--scale takes node counts 1 to " + std::to_string(kMaxBenchNodes) + ", not '" +
                    item + "'");
    }
    o.scale.push_back(*n);
  }
  if (!scale.empty() && o.scale.empty()) return Refuse("--scale needs node counts like 2,4,8");
  o.addresses = SplitList(addresses);
  if (!addresses.empty() && o.addresses.empty()) return Refuse("--address needs A,B,...");
  for (const std::string& item : SplitList(pids)) {
    auto pid = ParseInt(item);
    if (!pid || *pid < 1) return Refuse("--pids takes process ids, not '" + item + "'");
    o.pids.push_back(*pid);
  }
  if (o.existing_cluster()) {
    if (o.ca_file.empty() || o.cert_file.empty() || o.key_file.empty()) {
      return Refuse("--address needs --ca, --cert and --key (an admin certificate)");
    }
    if (!o.pids.empty() && o.pids.size() != o.addresses.size()) {
      return Refuse("--pids must name one process per --address");
    }
    if (!o.scale.empty()) return Refuse("--scale starts clusters: not with --address");
    if (!o.node_config_file.empty()) {
      return Refuse("--node-config configures the nodes coffer-bench starts: not with --address");
    }
  } else if (!o.pids.empty()) {
    return Refuse("--pids goes with --address");
  }
  if (!o.node_config_file.empty()) {
    std::ifstream in(o.node_config_file, std::ios::binary);
    if (!in) return Refuse("--node-config: cannot read " + o.node_config_file);
    o.node_config_text.assign(std::istreambuf_iterator<char>(in), {});
    if (o.node_config_text.size() > kMaxNodeConfigBytes) {
      return Refuse("--node-config: " + o.node_config_file + " is over " +
                    std::to_string(kMaxNodeConfigBytes) + " bytes");
    }
  }
  if (!o.scale.empty() && (o.vs_etcd || o.baseline_raw)) {
    return Refuse("--scale runs alone: not with --vs-etcd or --baseline");
  }
  if (o.catch_up > kMaxCatchUpRecords) {
    return Refuse("--catch-up must be 1 to " + std::to_string(kMaxCatchUpRecords) + " records");
  }
  if (o.catch_up > 0) {
    if (o.existing_cluster())
      return Refuse("--catch-up starts its own cluster: not with --address");
    if (!o.scale.empty() || o.vs_etcd || o.baseline_raw) {
      return Refuse("--catch-up runs alone: not with --scale, --vs-etcd or --baseline");
    }
    if (o.workload != Workload::kWrite) return Refuse("--catch-up writes: --workload write only");
    if (o.read_only < 1 || o.pairs < 1) {
      return Refuse(
          "--catch-up needs a cluster with a read-only node to disable: --pairs P "
          "--read-only R with P >= 1 and R >= 1");
    }
  }
  return ParseOutcome{std::move(o), 0, ""};
}

}  // namespace coffer::bench
