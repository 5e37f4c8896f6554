#include "bench/coffer_bench/options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace coffer::bench {
namespace {

ParseOutcome Parse(std::vector<std::string> args) { return ParseBenchOptions(args); }

// A refused command line: exit code 2 and a message naming the problem.
void ExpectRefused(std::vector<std::string> args, const std::string& says) {
  ParseOutcome out = Parse(args);
  EXPECT_FALSE(out.options.has_value());
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.text.find(says), std::string::npos) << out.text;
  EXPECT_EQ(out.text.rfind("coffer-bench: ", 0), 0u) << out.text;
}

TEST(BenchOptions, Defaults) {
  ParseOutcome out = Parse({});
  ASSERT_TRUE(out.options.has_value()) << out.text;
  const BenchOptions& o = *out.options;
  EXPECT_EQ(o.pairs, 1);
  EXPECT_EQ(o.read_only, 0);
  EXPECT_EQ(o.workload, Workload::kWrite);
  EXPECT_EQ(o.value_size, 256u);
  EXPECT_EQ(o.clients, 1);
  EXPECT_EQ(o.in_flight, 1);
  EXPECT_EQ(o.in_flight_mode, InFlightMode::kPipeline);
  EXPECT_EQ(o.catch_up, 0u);
  EXPECT_EQ(o.duration, std::chrono::seconds(10));
  EXPECT_EQ(o.warmup, std::chrono::seconds(2));
  EXPECT_EQ(o.read_percent, 50);
  EXPECT_FALSE(o.json);
  EXPECT_EQ(o.plot_file, "coffer-scale.svg");
  EXPECT_FALSE(o.existing_cluster());
}

TEST(BenchOptions, EveryFlag) {
  ParseOutcome out = Parse({"--pairs",
                            "2",
                            "--read-only",
                            "3",
                            "--workload",
                            "mix",
                            "--read-percent",
                            "80",
                            "--value-size",
                            "1024",
                            "--clients",
                            "64",
                            "--in-flight",
                            "4",
                            "--duration",
                            "500ms",
                            "--warmup",
                            "0s",
                            "-o",
                            "json",
                            "--keep",
                            "--coffer",
                            "/x/coffer",
                            "--prepare",
                            "50"});
  ASSERT_TRUE(out.options.has_value()) << out.text;
  const BenchOptions& o = *out.options;
  EXPECT_EQ(o.pairs, 2);
  EXPECT_EQ(o.read_only, 3);
  EXPECT_EQ(o.workload, Workload::kMix);
  EXPECT_EQ(o.read_percent, 80);
  EXPECT_EQ(o.value_size, 1024u);
  EXPECT_EQ(o.clients, 64);
  EXPECT_EQ(o.in_flight, 4);
  EXPECT_EQ(o.duration, std::chrono::milliseconds(500));
  EXPECT_EQ(o.warmup, std::chrono::milliseconds(0));
  EXPECT_TRUE(o.json);
  EXPECT_TRUE(o.keep);
  EXPECT_EQ(o.coffer_path, "/x/coffer");
  EXPECT_EQ(o.prepare, 50);
  const LoadShape shape = o.Shape();
  EXPECT_EQ(shape.clients, 64);
  EXPECT_EQ(shape.in_flight, 4);
  EXPECT_EQ(shape.duration, std::chrono::milliseconds(500));
}

TEST(BenchOptions, ScaleAndPlot) {
  ParseOutcome out = Parse({"--scale", "2,4,8,16", "--plot", "p.svg"});
  ASSERT_TRUE(out.options.has_value()) << out.text;
  EXPECT_EQ(out.options->scale, (std::vector<int>{2, 4, 8, 16}));
  EXPECT_EQ(out.options->plot_file, "p.svg");
}

TEST(BenchOptions, ExistingCluster) {
  ParseOutcome out = Parse({"--address", "127.0.0.1:7400,127.0.0.2:7400", "--ca", "ca.pem",
                            "--cert", "a.pem", "--key", "a.key", "--pids", "10,11"});
  ASSERT_TRUE(out.options.has_value()) << out.text;
  EXPECT_TRUE(out.options->existing_cluster());
  EXPECT_EQ(out.options->addresses.size(), 2u);
  EXPECT_EQ(out.options->pids, (std::vector<int>{10, 11}));
}

TEST(BenchOptions, CountAloneEndsTheWindow) {
  ParseOutcome out = Parse({"--count", "1000"});
  ASSERT_TRUE(out.options.has_value()) << out.text;
  EXPECT_EQ(out.options->count, 1000u);
  EXPECT_GT(out.options->duration, std::chrono::minutes(10));
}

TEST(BenchOptions, InFlightModes) {
  ParseOutcome out = Parse({"--clients", "1024", "--in-flight", "8"});
  ASSERT_TRUE(out.options.has_value()) << out.text;  // one connection per client
  EXPECT_EQ(out.options->in_flight_mode, InFlightMode::kPipeline);
  out = Parse({"--in-flight", "4", "--in-flight-mode", "connections"});
  ASSERT_TRUE(out.options.has_value()) << out.text;
  EXPECT_EQ(out.options->in_flight_mode, InFlightMode::kConnections);
}

TEST(BenchOptions, CatchUpNeedsAReadOnlyNode) {
  ParseOutcome out = Parse({"--catch-up", "300", "--pairs", "1", "--read-only", "1"});
  ASSERT_TRUE(out.options.has_value()) << out.text;
  EXPECT_EQ(out.options->catch_up, 300u);
}

TEST(BenchOptions, Durations) {
  EXPECT_EQ(ParseBenchDuration("10s"), std::chrono::seconds(10));
  EXPECT_EQ(ParseBenchDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(ParseBenchDuration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(ParseBenchDuration("3"), std::chrono::seconds(3));
  EXPECT_EQ(ParseBenchDuration(""), std::nullopt);
  EXPECT_EQ(ParseBenchDuration("s"), std::nullopt);
  EXPECT_EQ(ParseBenchDuration("10h"), std::nullopt);
  EXPECT_EQ(ParseBenchDuration("-1s"), std::nullopt);
  EXPECT_EQ(ParseBenchDuration("99999999999s"), std::nullopt);
}

TEST(BenchOptions, BadValuesAreRefusedWithExitTwo) {
  ExpectRefused({"--pairs", "9"}, "1 to 16 nodes");
  ExpectRefused({"--pairs", "8", "--read-only", "1"}, "not 17");
  ExpectRefused({"--pairs", "0"}, "1 to 16 nodes");
  ExpectRefused({"--pairs", "0", "--read-only", "2"}, "read-only nodes need a read-write pair");
  ExpectRefused({"--pairs", "x"}, "--pairs");
  ExpectRefused({"--workload", "delete"}, "--workload must be write, read, mix or locate");
  ExpectRefused({"--clients", "0"}, "--clients must be 1 to");
  ExpectRefused({"--in-flight", "65"}, "--in-flight must be 1 to 64");
  ExpectRefused({"--clients", "1024", "--in-flight", "8", "--in-flight-mode", "connections"},
                "connections");
  ExpectRefused({"--in-flight-mode", "threads"},
                "--in-flight-mode must be pipeline or connections");
  ExpectRefused({"--catch-up", "100"}, "--catch-up needs a cluster with a read-only node");
  ExpectRefused({"--catch-up", "100", "--pairs", "0", "--read-only", "1"},
                "--catch-up needs a cluster with a read-only node");
  ExpectRefused({"--catch-up", "100", "--read-only", "1", "--baseline", "raw"},
                "--catch-up runs alone");
  ExpectRefused({"--catch-up", "100", "--read-only", "1", "--workload", "read"},
                "--workload write only");
  ExpectRefused({"--catch-up", "100", "--address", "a:1", "--ca", "c", "--cert", "c", "--key", "k"},
                "not with --address");
  ExpectRefused({"--catch-up", "100000001", "--read-only", "1"}, "--catch-up must be 1 to");
  ExpectRefused({"--value-size", "0"}, "--value-size must be 1 to 65536");
  ExpectRefused({"--value-size", "65537"}, "limits::kMaxMaterialBytes");
  ExpectRefused({"--read-percent", "101"}, "--read-percent");
  ExpectRefused({"--duration", "10h"}, "--duration must be a positive duration");
  ExpectRefused({"--duration", "0s"}, "--duration must be a positive duration");
  ExpectRefused({"--warmup", "soon"}, "--warmup");
  ExpectRefused({"-o", "yaml"}, "-o must be table or json");
  ExpectRefused({"--scale", "2,17"}, "--scale takes node counts 1 to 16, not '17'");
  ExpectRefused({"--scale", "2,x"}, "not 'x'");
  ExpectRefused({"--baseline", "cooked"}, "--baseline takes only 'raw'");
  ExpectRefused({"--address", "127.0.0.1:7400"}, "--address needs --ca, --cert and --key");
  ExpectRefused({"--pids", "5"}, "--pids goes with --address");
  ExpectRefused({"--address", "a:1,b:2", "--ca", "c", "--cert", "c", "--key", "k", "--pids", "5"},
                "one process per --address");
  ExpectRefused({"--scale", "2,4", "--vs-etcd"}, "--scale runs alone");
  ExpectRefused({"--no-such-flag"}, "--no-such-flag");
  ExpectRefused({"--node-config", "/no/such/file.toml"}, "--node-config: cannot read");
  ExpectRefused(
      {"--address", "a:1", "--ca", "c", "--cert", "c", "--key", "k", "--node-config", "/dev/null"},
      "not with --address");
}

TEST(BenchOptions, NodeConfigIsReadWhole) {
  const std::string small = ::testing::TempDir() + "/node-extra.toml";
  { std::ofstream(small) << "[storage]\nwrite_buffer_mb = 16\n"; }
  ParseOutcome out = Parse({"--node-config", small});
  ASSERT_TRUE(out.options.has_value()) << out.text;
  EXPECT_EQ(out.options->node_config_text, "[storage]\nwrite_buffer_mb = 16\n");
  const std::string big = ::testing::TempDir() + "/node-extra-big.toml";
  { std::ofstream(big) << std::string(kMaxNodeConfigBytes + 1, '#'); }
  ExpectRefused({"--node-config", big}, "is over 65536 bytes");
  std::remove(small.c_str());
  std::remove(big.c_str());
}

TEST(BenchOptions, HelpExitsZeroListingTheFlags) {
  ParseOutcome out = Parse({"--help"});
  EXPECT_FALSE(out.options.has_value());
  EXPECT_EQ(out.exit_code, 0);
  for (const char* flag :
       {"--pairs", "--read-only", "--workload", "--in-flight", "--in-flight-mode", "--scale",
        "--vs-etcd", "--baseline", "--catch-up", "--address", "--pids", "--keep"}) {
    EXPECT_NE(out.text.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace coffer::bench
