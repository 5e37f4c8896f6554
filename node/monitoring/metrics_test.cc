#include "node/monitoring/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace coffer::node {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The value of the sample line that starts with `series` (name and labels,
// exactly as rendered), or "" if there is none.
std::string Sample(const std::string& rendered, const std::string& series) {
  size_t start = 0;
  while (start < rendered.size()) {
    size_t end = rendered.find('\n', start);
    if (end == std::string::npos) end = rendered.size();
    std::string_view line(rendered.data() + start, end - start);
    if (line.size() > series.size() && line.substr(0, series.size()) == series &&
        line[series.size()] == ' ') {
      return std::string(line.substr(series.size() + 1));
    }
    start = end + 1;
  }
  return "";
}

TEST(MetricsTest, RequestsAppearWithLabels) {
  NodeMetrics metrics;
  metrics.ObserveRequest("Get", "OK", 0.002);
  metrics.ObserveRequest("Get", "OK", 0.004);
  metrics.ObserveRequest("Get", "NOT_FOUND", 0.0005);
  metrics.ObserveRequest("Create", "OK", 3);
  std::string out = metrics.Render();
  EXPECT_THAT(out, HasSubstr("# HELP coffer_requests_total "));
  EXPECT_THAT(out, HasSubstr("# TYPE coffer_requests_total counter"));
  EXPECT_EQ(Sample(out, R"(coffer_requests_total{code="OK",kind="Get"})"), "2");
  EXPECT_EQ(Sample(out, R"(coffer_requests_total{code="NOT_FOUND",kind="Get"})"), "1");
  EXPECT_EQ(Sample(out, R"(coffer_requests_total{code="OK",kind="Create"})"), "1");
  EXPECT_THAT(out, HasSubstr("# TYPE coffer_request_duration_seconds histogram"));
  EXPECT_EQ(Sample(out, R"(coffer_request_duration_seconds_count{kind="Get"})"), "3");
  EXPECT_EQ(Sample(out, R"(coffer_request_duration_seconds_count{kind="Create"})"), "1");
  // Buckets are cumulative: 0.0005 <= 0.001; 0.002 and 0.004 <= 0.005.
  EXPECT_EQ(Sample(out, R"(coffer_request_duration_seconds_bucket{kind="Get",le="0.001"})"), "1");
  EXPECT_EQ(Sample(out, R"(coffer_request_duration_seconds_bucket{kind="Get",le="0.005"})"), "3");
  EXPECT_EQ(Sample(out, R"(coffer_request_duration_seconds_bucket{kind="Create",le="2.5"})"), "0");
  EXPECT_EQ(Sample(out, R"(coffer_request_duration_seconds_bucket{kind="Create",le="10"})"), "1");
  EXPECT_EQ(Sample(out, R"(coffer_request_duration_seconds_bucket{kind="Get",le="0.0001"})"), "0");
}

TEST(MetricsTest, ReplicationLagClampsNegativeAndIgnoresNan) {
  NodeMetrics metrics;
  metrics.ObserveReplicationLag(3, 0.02);
  metrics.ObserveReplicationLag(3, -1);  // clock skew: counts as 0
  metrics.ObserveReplicationLag(3, std::nan(""));
  metrics.ObserveReplicationLag(4, 45);
  std::string out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_replication_lag_seconds_count{origin="3"})"), "2");
  EXPECT_EQ(Sample(out, R"(coffer_replication_lag_seconds_bucket{origin="3",le="0.001"})"), "1");
  EXPECT_EQ(Sample(out, R"(coffer_replication_lag_seconds_bucket{origin="3",le="0.025"})"), "2");
  EXPECT_EQ(Sample(out, R"(coffer_replication_lag_seconds_bucket{origin="4",le="30"})"), "0");
  EXPECT_EQ(Sample(out, R"(coffer_replication_lag_seconds_bucket{origin="4",le="60"})"), "1");
}

TEST(MetricsTest, SetLinkAndRemoveLink) {
  NodeMetrics metrics;
  metrics.SetLink(2, true, 0.25, 1.5);
  metrics.SetLink(5, false, 30, 0);
  std::string out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_link_up{peer="2"})"), "1");
  EXPECT_EQ(Sample(out, R"(coffer_link_heartbeat_lag_seconds{peer="2"})"), "0.25");
  EXPECT_EQ(Sample(out, R"(coffer_link_replication_lag_seconds{peer="2"})"), "1.5");
  EXPECT_EQ(Sample(out, R"(coffer_link_up{peer="5"})"), "0");
  EXPECT_EQ(Sample(out, R"(coffer_link_heartbeat_lag_seconds{peer="5"})"), "30");

  metrics.SetLink(2, false, 4, 2);  // updates in place
  metrics.RemoveLink(5);
  metrics.RemoveLink(9);  // unknown: no-op
  out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_link_up{peer="2"})"), "0");
  EXPECT_EQ(Sample(out, R"(coffer_link_heartbeat_lag_seconds{peer="2"})"), "4");
  EXPECT_THAT(out, Not(HasSubstr(R"(peer="5")")));
  // Only peer 5 went.
  EXPECT_THAT(out, HasSubstr("# HELP coffer_link_up "));

  metrics.RemoveLink(2);
  metrics.SetLink(5, true, 0, 0);  // a removed peer can come back
  out = metrics.Render();
  EXPECT_THAT(out, Not(HasSubstr(R"(peer="2")")));
  EXPECT_EQ(Sample(out, R"(coffer_link_up{peer="5"})"), "1");
}

TEST(MetricsTest, SetModeSwitchesTheOne) {
  NodeMetrics metrics;
  std::string out = metrics.Render();
  for (const char* mode : {"read-write", "restricted", "read-only", "unavailable"}) {
    EXPECT_EQ(Sample(out, std::string("coffer_node_mode{mode=\"") + mode + "\"}"), "0") << mode;
  }
  metrics.SetMode("restricted");
  out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_node_mode{mode="restricted"})"), "1");
  EXPECT_EQ(Sample(out, R"(coffer_node_mode{mode="read-write"})"), "0");
  metrics.SetMode("read-write");
  out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_node_mode{mode="read-write"})"), "1");
  EXPECT_EQ(Sample(out, R"(coffer_node_mode{mode="restricted"})"), "0");
  EXPECT_EQ(Sample(out, R"(coffer_node_mode{mode="read-only"})"), "0");
  EXPECT_EQ(Sample(out, R"(coffer_node_mode{mode="unavailable"})"), "0");
  metrics.SetMode("bogus");  // unknown: no series is 1, none is added
  out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_node_mode{mode="read-write"})"), "0");
  EXPECT_THAT(out, Not(HasSubstr("bogus")));
}

TEST(MetricsTest, SetNodeStateSwitchesTheOne) {
  NodeMetrics metrics;
  metrics.SetNodeState("ACTIVE");
  metrics.SetNodeState("DISABLING");
  std::string out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_node_state{state="DISABLING"})"), "1");
  for (const char* state : {"PENDING", "ACTIVE", "DISABLED", "ENABLING", "EXPIRED"}) {
    EXPECT_EQ(Sample(out, std::string("coffer_node_state{state=\"") + state + "\"}"), "0") << state;
  }
}

TEST(MetricsTest, BuildInfoAndClusterVersionCarryTheirValuesAsLabels) {
  NodeMetrics metrics;
  metrics.SetBuildInfo("0.3.1", "0.2", "0.3");
  metrics.SetClusterVersion("0.2", true);
  std::string out = metrics.Render();
  EXPECT_EQ(
      Sample(
          out,
          R"(coffer_build_info{max_cluster_version="0.3",min_cluster_version="0.2",release="0.3.1"})"),
      "1");
  EXPECT_EQ(Sample(out, R"(coffer_cluster_version{version="0.2"})"), "1");
  EXPECT_EQ(Sample(out, "coffer_cluster_version_held"), "1");
  metrics.SetClusterVersion("0.3", false);
  out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_cluster_version{version="0.3"})"), "1");
  EXPECT_EQ(out.find(R"(coffer_cluster_version{version="0.2"})"), std::string::npos)
      << "one series: the old version is gone";
  EXPECT_EQ(Sample(out, "coffer_cluster_version_held"), "0");
}

TEST(MetricsTest, UpgradePlanStateIsOneHotAndCountsNodesDone) {
  NodeMetrics metrics;
  metrics.SetUpgrade("RUNNING", 2);
  std::string out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_upgrade_state{state="RUNNING"})"), "1");
  EXPECT_EQ(Sample(out, R"(coffer_upgrade_state{state="PAUSED"})"), "0");
  EXPECT_EQ(Sample(out, "coffer_upgrade_nodes_done"), "2");
  metrics.SetUpgrade("PAUSED", 2);
  out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_upgrade_state{state="RUNNING"})"), "0");
  EXPECT_EQ(Sample(out, R"(coffer_upgrade_state{state="PAUSED"})"), "1");
  metrics.SetUpgrade("", 0);  // no plan
  out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_upgrade_state{state="PAUSED"})"), "0");
}

TEST(MetricsTest, PlainGaugesAndCounter) {
  NodeMetrics metrics;
  std::string out = metrics.Render();
  EXPECT_EQ(Sample(out, "coffer_objects"), "0");
  EXPECT_EQ(Sample(out, "coffer_replication_apply_errors_total"), "0");
  metrics.SetObjects(1234);
  metrics.SetPendingCriticalWrites(7);
  metrics.SetLogRecordsRetained(9000);
  metrics.SetLogBytesRetained(1048576);
  metrics.SetAppliedRecords(42);
  metrics.AddReplicationApplyErrors(2);
  metrics.AddReplicationApplyErrors(3);
  metrics.SetUnvouchedRecords(12);
  metrics.AddUnverifiedRecords(4);
  metrics.AddWithheldMaterialRecords(1);
  metrics.AddWithheldMaterialRecords(2);
  out = metrics.Render();
  EXPECT_EQ(Sample(out, "coffer_replication_unvouched_records"), "12");
  EXPECT_EQ(Sample(out, "coffer_replication_unverified_records_total"), "4");
  EXPECT_EQ(Sample(out, "coffer_replication_withheld_material_records_total"), "3");
  EXPECT_EQ(Sample(out, "coffer_objects"), "1234");
  EXPECT_EQ(Sample(out, "coffer_pending_critical_writes"), "7");
  EXPECT_EQ(Sample(out, "coffer_log_records_retained"), "9000");
  EXPECT_EQ(Sample(out, "coffer_log_retained_bytes"), "1048576");
  EXPECT_EQ(Sample(out, "coffer_applied_records"), "42");
  EXPECT_EQ(Sample(out, "coffer_replication_apply_errors_total"), "5");
  EXPECT_THAT(out, HasSubstr("# TYPE coffer_replication_apply_errors_total counter"));
  EXPECT_THAT(out, HasSubstr("# TYPE coffer_objects gauge"));
}

TEST(MetricsTest, ConcurrentUpdatesAreCounted) {
  NodeMetrics metrics;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics.ObserveRequest(i % 2 ? "Get" : "Locate", "OK", 0.001);
        metrics.SetLink(static_cast<uint32_t>(t), i % 2 == 0, i, i);
        if (i % 100 == 0) metrics.RemoveLink(static_cast<uint32_t>(t));
        metrics.SetMode(i % 2 ? "read-write" : "restricted");
        if (i % 500 == 0) metrics.Render();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::string out = metrics.Render();
  EXPECT_EQ(Sample(out, R"(coffer_requests_total{code="OK",kind="Get"})"),
            std::to_string(kThreads * kPerThread / 2));
  EXPECT_EQ(Sample(out, R"(coffer_request_duration_seconds_count{kind="Locate"})"),
            std::to_string(kThreads * kPerThread / 2));
  // Each thread's last SetMode was "read-write" (i odd): exactly one 1.
  EXPECT_EQ(Sample(out, R"(coffer_node_mode{mode="read-write"})"), "1");
  EXPECT_EQ(Sample(out, R"(coffer_node_mode{mode="restricted"})"), "0");
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(Sample(out, "coffer_link_up{peer=\"" + std::to_string(t) + "\"}"), "0");
  }
}

// Runs `command` through the shell; returns its exit status (-1 if it did not
// exit normally) and its combined output.
std::pair<int, std::string> RunShell(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, pipe)) > 0) output.append(chunk, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// Runs `promtool check metrics` on `rendered`; returns its exit status and
// everything it printed.
std::pair<int, std::string> PromtoolCheck(const std::string& rendered) {
  std::filesystem::path file = std::filesystem::path(::testing::TempDir()) /
                               ("coffer_metrics_" + std::to_string(getpid()) + ".prom");
  {
    std::ofstream out(file, std::ios::binary);
    out << rendered;
    if (!out.good()) return {-1, "cannot write " + file.string()};
  }
  std::pair<int, std::string> result = RunShell("promtool check metrics < '" + file.string() + "'");
  std::filesystem::remove(file);
  return result;
}

TEST(MetricsTest, PromtoolFindsNoProblems) {
  // CI installs promtool (Debian package `prometheus`); its absence is a
  // failure, not a skip.
  auto [which_status, which_output] = RunShell("command -v promtool");
  ASSERT_EQ(which_status, 0) << "promtool not found (apt-get install prometheus)";

  NodeMetrics metrics;
  // A fresh node's first scrape.
  {
    std::string rendered = metrics.Render();
    auto [status, output] = PromtoolCheck(rendered);
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output, "") << "promtool complaints on:\n" << rendered;
  }

  // Every metric set, histograms with observations.
  metrics.ObserveRequest("Get", "OK", 0.003);
  metrics.ObserveRequest("Get", "NOT_FOUND", 0.0002);
  metrics.ObserveRequest("Create", "OK", 0.2);
  metrics.ObserveReplicationLag(2, 0.015);
  metrics.ObserveReplicationLag(3, 12);
  metrics.SetLink(2, true, 0.1, 0.02);
  metrics.SetLink(3, false, 9, 4);
  metrics.SetMode("read-write");
  metrics.SetNodeState("ACTIVE");
  metrics.SetObjects(10);
  metrics.SetPendingCriticalWrites(1);
  metrics.SetLogRecordsRetained(100);
  metrics.SetLogBytesRetained(4096);
  metrics.SetAppliedRecords(99);
  metrics.AddReplicationApplyErrors(1);
  std::string rendered = metrics.Render();
  for (const char* name :
       {"coffer_requests_total", "coffer_request_duration_seconds",
        "coffer_replication_lag_seconds", "coffer_link_up", "coffer_link_heartbeat_lag_seconds",
        "coffer_link_replication_lag_seconds", "coffer_node_mode", "coffer_node_state",
        "coffer_objects", "coffer_pending_critical_writes", "coffer_log_records_retained",
        "coffer_log_retained_bytes", "coffer_applied_records",
        "coffer_replication_apply_errors_total", "coffer_replication_unvouched_records",
        "coffer_replication_unverified_records_total",
        "coffer_replication_withheld_material_records_total"}) {
    EXPECT_THAT(rendered, HasSubstr(std::string("# HELP ") + name + " ")) << name;
  }
  auto [status, output] = PromtoolCheck(rendered);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "promtool complaints on:\n" << rendered;
}

// The check above would catch a bad name: promtool does complain.
TEST(MetricsTest, PromtoolComplainsAboutBadNames) {
  auto [status, output] = PromtoolCheck(
      "# TYPE coffer_bad_milliseconds counter\n"
      "coffer_bad_milliseconds 1\n");
  EXPECT_NE(status, 0);
  EXPECT_THAT(output, HasSubstr("coffer_bad_milliseconds"));
}

}  // namespace
}  // namespace coffer::node
