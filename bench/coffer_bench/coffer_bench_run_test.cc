// The real coffer-bench binary against real node processes: a one-pair
// cluster run whose JSON is checked, and the exit codes of refused runs.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/harness/ports.h"

namespace {

struct Ran {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs coffer-bench with `args` (a shell word list); stdout and stderr apart.
Ran RunBench(const std::string& args) {
  char err_path[] = "/tmp/coffer-bench-test-XXXXXX";
  const int fd = ::mkstemp(err_path);
  if (fd >= 0) ::close(fd);
  const std::string command =
      std::string(COFFER_BENCH_BIN) + " " + args + " 2>" + err_path + " </dev/null";
  Ran ran;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return ran;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) ran.out.append(buf, n);
  const int status = ::pclose(pipe);
  ran.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ran.err = coffer::integration::ReadWholeFile(err_path);
  std::remove(err_path);
  return ran;
}

TEST(CofferBenchRun, OnePairWritesAndReportsJson) {
  const auto start = std::chrono::steady_clock::now();
  Ran ran = RunBench(std::string("--coffer ") + COFFER_BIN +
                     " --pairs 1 --clients 2 --duration 2s --warmup 0s -o json");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const auto doc = nlohmann::json::parse(ran.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << "stdout is not one JSON document:\n" << ran.out;
  EXPECT_EQ(doc["tool"], "coffer-bench");
  EXPECT_EQ(doc["options"]["workload"], "write");
  EXPECT_EQ(doc["options"]["pairs"], 1);
  ASSERT_EQ(doc["cluster"]["nodes"].size(), 2u);
  ASSERT_EQ(doc["results"].size(), 1u);
  const auto& r = doc["results"][0];
  EXPECT_EQ(r["system"], "coffer");
  EXPECT_GT(r["ok_ops"].get<uint64_t>(), 0u);
  EXPECT_TRUE(r["errors"].empty()) << r["errors"].dump();
  EXPECT_NEAR(r["seconds"].get<double>(), 2.0, 0.5);
  EXPECT_EQ(r["latency_us"]["count"], r["ok_ops"]);
  EXPECT_GT(r["latency_us"]["p50"].get<uint64_t>(), 0u);
  EXPECT_LE(r["latency_us"]["p50"].get<uint64_t>(), r["latency_us"]["p99"].get<uint64_t>());
  EXPECT_LE(r["latency_us"]["p99"].get<uint64_t>(), r["latency_us"]["max"].get<uint64_t>());
  EXPECT_GT(r["ops_per_second"].get<double>(), 0);
  // Every write lands on both nodes: at least twice the writes applied.
  EXPECT_GT(r["records_applied_per_second"].get<double>(), r["ops_per_second"].get<double>());
  EXPECT_GT(r["replication_lag_us"]["count"].get<uint64_t>(), 0u);
  ASSERT_EQ(r["processes"].size(), 2u) << r["processes"].dump();
  for (const auto& p : r["processes"]) {
    EXPECT_GT(p["cpu_seconds"].get<double>(), 0) << p.dump();
    EXPECT_GT(p["rss_max_bytes"].get<uint64_t>(), 0u) << p.dump();
    EXPECT_GE(p["rss_max_bytes"].get<uint64_t>(), p["rss_end_bytes"].get<uint64_t>());
  }
  // Not a terminal: live lines are plain lines on stderr, one a second.
  EXPECT_NE(ran.err.find("ops/s"), std::string::npos) << ran.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(CofferBenchRun, PipelinedInFlightKeepsRequestsOutstandingOnOneConnection) {
  Ran ran = RunBench(std::string("--coffer ") + COFFER_BIN +
                     " --pairs 1 --clients 2 --in-flight 4 --duration 2s --warmup 0s -o json");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const auto doc = nlohmann::json::parse(ran.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << ran.out;
  EXPECT_EQ(doc["options"]["in_flight_mode"], "pipeline");
  const auto& r = doc["results"][0];
  EXPECT_EQ(r["shape"]["in_flight"], 4);
  EXPECT_GT(r["ok_ops"].get<uint64_t>(), 0u);
  EXPECT_TRUE(r["errors"].empty()) << r["errors"].dump();
  EXPECT_EQ(r["latency_us"]["count"], r["ok_ops"]);
  EXPECT_GT(r["latency_us"]["p50"].get<uint64_t>(), 0u);
  EXPECT_GT(r["replication_lag_us"]["count"].get<uint64_t>(), 0u);
  // One connection per client (no call failed, so none was reopened).
  EXPECT_EQ(r["connections_opened"], 2);
}

TEST(CofferBenchRun, InFlightModeConnectionsOpensOnePerSlot) {
  Ran ran = RunBench(std::string("--coffer ") + COFFER_BIN +
                     " --pairs 1 --clients 2 --in-flight 4 --in-flight-mode connections"
                     " --duration 1s --warmup 0s -o json");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const auto doc = nlohmann::json::parse(ran.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << ran.out;
  EXPECT_EQ(doc["options"]["in_flight_mode"], "connections");
  const auto& r = doc["results"][0];
  EXPECT_GT(r["ok_ops"].get<uint64_t>(), 0u);
  EXPECT_TRUE(r["errors"].empty()) << r["errors"].dump();
  EXPECT_EQ(r["connections_opened"], 8);
}

TEST(CofferBenchRun, RssOverTimeIsSampledPerNode) {
  Ran ran = RunBench(std::string("--coffer ") + COFFER_BIN +
                     " --pairs 1 --clients 1 --duration 3s --warmup 0s");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  // The table: one line per node, a sample at the start, every second, and
  // at the end.
  for (const char* node : {"coffer node1 (read-write) rss MiB over time (every 1 s):",
                           "coffer node2 (read-write) rss MiB over time (every 1 s):"}) {
    const size_t at = ran.out.find(node);
    ASSERT_NE(at, std::string::npos) << ran.out;
    const std::string line = ran.out.substr(at, ran.out.find('\n', at) - at);
    int samples = 0;
    std::istringstream numbers(line.substr(line.find("):") + 2));
    for (double mib; numbers >> mib; ++samples) EXPECT_GT(mib, 0) << line;
    EXPECT_GE(samples, 4) << line;
    EXPECT_LE(samples, 6) << line;
  }
}

TEST(CofferBenchRun, CatchUpOfADisabledReadOnlyNode) {
  const auto start = std::chrono::steady_clock::now();
  Ran ran = RunBench(std::string("--coffer ") + COFFER_BIN +
                     " --pairs 1 --read-only 1 --clients 2 --catch-up 300 -o json");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const auto doc = nlohmann::json::parse(ran.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << ran.out;
  EXPECT_EQ(doc["options"]["catch_up"], 300);
  ASSERT_EQ(doc["results"].size(), 1u);
  EXPECT_EQ(doc["results"][0]["ok_ops"], 300);  // the write phase, counted to N
  const auto& c = doc["catch_up"];
  ASSERT_TRUE(c.is_object()) << ran.out;
  EXPECT_EQ(c["node"], "node3");
  EXPECT_EQ(c["state_after"], "ACTIVE");
  EXPECT_EQ(c["records_written"], 300);
  // It missed at least the 300 writes (plus the others' state records).
  EXPECT_GE(c["records_missed"].get<uint64_t>(), 300u);
  EXPECT_GT(c["catch_up_seconds"].get<double>(), 0);
  EXPECT_GE(c["catch_up_lower_bound_seconds"].get<double>(), 0);
  EXPECT_LE(c["catch_up_lower_bound_seconds"].get<double>(), c["catch_up_seconds"].get<double>());
  EXPECT_GT(c["catch_up_records_per_second"].get<double>(), 0);
  EXPECT_GT(c["polls"].get<uint64_t>(), 0u);
  EXPECT_EQ(c["raw_ingest"]["records"], 300);
  EXPECT_EQ(c["raw_ingest"]["batch_records"], 256);
  EXPECT_GT(c["raw_ingest"]["seconds"].get<double>(), 0);
  EXPECT_GT(c["raw_ingest"]["records_per_second"].get<double>(), 0);
  EXPECT_GT(c["catch_up_vs_raw"].get<double>(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

TEST(CofferBenchRun, CatchUpWithoutAReadOnlyNodeExitsTwo) {
  Ran ran = RunBench("--pairs 1 --catch-up 300");
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_NE(ran.err.find("--catch-up needs a cluster with a read-only node"), std::string::npos)
      << ran.err;
  EXPECT_TRUE(ran.out.empty());
}

TEST(CofferBenchRun, BadOptionsExitTwo) {
  Ran ran = RunBench("--pairs 9");
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_NE(ran.err.find("1 to 16 nodes"), std::string::npos) << ran.err;
  EXPECT_TRUE(ran.out.empty());
}

TEST(CofferBenchRun, RawBaselineRowFollowsTheCofferRow) {
  Ran ran = RunBench(std::string("--coffer ") + COFFER_BIN +
                     " --pairs 1 --duration 1s --warmup 0s --baseline raw -o json");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const auto doc = nlohmann::json::parse(ran.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << ran.out;
  ASSERT_EQ(doc["results"].size(), 2u);
  EXPECT_EQ(doc["results"][0]["system"], "coffer");
  EXPECT_EQ(doc["results"][1]["system"], "raw");
  EXPECT_GT(doc["results"][1]["ok_ops"].get<uint64_t>(), 0u);
  EXPECT_GT(doc["results"][1]["records_applied_per_second"].get<double>(), 0);
}

TEST(CofferBenchRun, NodeThatDoesNotStartFailsNamingItsLog) {
  // /bin/false as the coffer binary: node1 exits at once.
  Ran ran = RunBench("--coffer /bin/false --pairs 1 --duration 1s --warmup 0s");
  EXPECT_EQ(ran.exit_code, 1);
  EXPECT_NE(ran.err.find("node1 exited while starting"), std::string::npos) << ran.err;
  EXPECT_NE(ran.err.find("node1/node.log"), std::string::npos) << ran.err;
}

TEST(CofferBenchRun, NodeConfigIsAppendedToEveryNodeConfig) {
  // A value every node refuses proves the text reached the node's config:
  // node1 exits naming the key, and nothing runs.
  const std::string file = ::testing::TempDir() + "/bench-node-config.toml";
  coffer::integration::WriteWholeFile(file, "[storage]\nwrite_buffer_mb = 0\n");
  Ran ran = RunBench(std::string("--coffer ") + COFFER_BIN + " --node-config " + file +
                     " --pairs 1 --duration 1s --warmup 0s");
  EXPECT_EQ(ran.exit_code, 1);
  EXPECT_NE(ran.err.find("node1 exited while starting"), std::string::npos) << ran.err;
  EXPECT_NE(ran.err.find("storage.write_buffer_mb"), std::string::npos) << ran.err;
  std::remove(file.c_str());
}

}  // namespace
