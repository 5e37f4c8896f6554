// coffer-bench's command line (bench/README.md lists every flag): parsed and
// checked in one place, so a bad value is refused with a clear message and
// exit code 2 before any node is started.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/load/load_result.h"

namespace coffer::bench {

// Bounds of the load a run may ask for (threads, connections), not byte
// limits: those live in common/limits.h.
inline constexpr int kMaxBenchNodes = 16;
inline constexpr int kMaxBenchClients = 1024;
inline constexpr int kMaxBenchInFlight = 64;
// --in-flight-mode connections: one thread and one connection per client
// and in-flight slot.
inline constexpr int kMaxBenchConnections = 4096;
// --node-config: the largest file taken.
inline constexpr size_t kMaxNodeConfigBytes = 64 << 10;
inline constexpr int kMaxPrepareObjects = 1000000;
// --catch-up N: records written while the node is disabled.
inline constexpr uint64_t kMaxCatchUpRecords = 100'000'000;

enum class Workload { kWrite, kRead, kMix, kLocate };
std::string WorkloadName(Workload workload);

// How --in-flight K requests per client are kept outstanding.
enum class InFlightMode {
  kPipeline,     // K requests pipelined on each client's one connection (default)
  kConnections,  // K connections per client, one request outstanding on each
};
std::string InFlightModeName(InFlightMode mode);

struct BenchOptions {
  // Local cluster (default): the built `coffer` binary and the shape.
  std::string coffer_path;  // "" = next to coffer-bench
  int pairs = 1;
  int read_only = 0;
  bool keep = false;  // keep the temp directory (data, logs, certificates)
  // --node-config FILE: TOML appended to every generated node.toml (tables
  // the generated config has not: [storage], [replication], [limits]...).
  std::string node_config_file;
  std::string node_config_text;  // its contents, read by ParseBenchOptions
  // Existing cluster: every client address, and the admin credentials.
  std::vector<std::string> addresses;
  std::string ca_file, cert_file, key_file;
  std::vector<int> pids;  // of the nodes at `addresses`, same order (CPU/RSS)

  Workload workload = Workload::kWrite;
  size_t value_size = 256;
  int read_percent = 50;
  int prepare = 1000;  // objects written before read, mix and locate
  int clients = 1;
  int in_flight = 1;
  InFlightMode in_flight_mode = InFlightMode::kPipeline;
  std::chrono::milliseconds duration{10000};
  uint64_t count = 0;  // > 0: stop after this many successful ops
  std::chrono::milliseconds warmup{2000};
  bool json = false;  // -o json

  std::vector<int> scale;  // cluster sizes (nodes), empty = one run
  std::string plot_file = "coffer-scale.svg";
  bool vs_etcd = false;
  bool baseline_raw = false;
  // > 0: the catch-up run (P4): disable a read-only node, write this many
  // records, enable it and time its catch-up (catch_up.h).
  uint64_t catch_up = 0;

  bool existing_cluster() const { return !addresses.empty(); }
  LoadShape Shape() const;
};

// What parsing decided: options to run with, or an exit code and the text
// to print (help on stdout with code 0; an error on stderr with code 2).
struct ParseOutcome {
  std::optional<BenchOptions> options;
  int exit_code = 0;
  std::string text;
};

// `args` without the program name.
ParseOutcome ParseBenchOptions(const std::vector<std::string>& args);

// "10s", "500ms", "2m", "0" (a bare number is seconds).
std::optional<std::chrono::milliseconds> ParseBenchDuration(const std::string& text);

}  // namespace coffer::bench
