// The etcd peer of coffer-bench: the launcher and a short put load against
// a real 3-member etcd (skipped when /usr/bin/etcd is missing), and the
// load's error accounting against a port nobody listens on.
#include "bench/etcd/etcd_load.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "bench/etcd/etcd_cluster.h"
#include "bench/etcd/http_once.h"

namespace coffer::bench {
namespace {

using std::chrono::milliseconds;

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "coffer-etcd-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool ProcessGone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

TEST(EtcdPeer, ClusterRunsPutLoadAndStopsItsMembers) {
  if (!EtcdAvailable()) GTEST_SKIP() << "/usr/bin/etcd missing (Debian package etcd-server)";
  TempDir dir;
  std::vector<pid_t> pids;
  {
    auto cluster = EtcdCluster::Start({.work_dir = dir.path()});
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    ASSERT_EQ((*cluster)->members().size(), 3u);
    for (const auto& m : (*cluster)->members()) {
      pids.push_back(m.pid);
      EXPECT_TRUE(std::filesystem::exists(m.log_path)) << m.log_path;
    }

    LoadShape shape;
    shape.clients = 4;
    shape.value_size = 256;
    shape.warmup = milliseconds(500);
    shape.duration = milliseconds(2000);
    auto result = RunEtcdLoad(EtcdLoadOptionsFor(**cluster, shape));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->system, "etcd");
    EXPECT_EQ(result->workload, "put");
    EXPECT_GT(result->ok_ops, 0u);
    EXPECT_TRUE(result->errors.empty()) << result->errors.begin()->first;
    EXPECT_EQ(result->latencies_us.size(), result->ok_ops);
    EXPECT_NEAR(result->seconds, 2.0, 0.5);
    ASSERT_EQ(result->processes.size(), 3u);
    for (const auto& p : result->processes) {
      EXPECT_GT(p.cpu_seconds, 0) << p.name;
      EXPECT_GT(p.rss_max_bytes, 0u) << p.name;
    }
    // The puts are in the cluster: another member counts at least as many
    // keys (key and range_end "\0": every key) as puts succeeded.
    auto answer =
        HttpOnce("127.0.0.1", (*cluster)->members()[1].client_port, "POST", "/v3/kv/range",
                 R"({"key":"AA==","range_end":"AA==","count_only":true})", milliseconds(2000));
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    ASSERT_EQ(answer->status, 200) << answer->body;
    auto at = answer->body.find("\"count\":\"");
    ASSERT_NE(at, std::string::npos) << answer->body;
    EXPECT_GE(std::stoull(answer->body.substr(at + 9)), result->ok_ops) << answer->body;
  }
  for (pid_t pid : pids) EXPECT_TRUE(ProcessGone(pid)) << pid;  // stopped and reaped
}

TEST(EtcdPeer, MaxOpsEndsTheWindowEarly) {
  if (!EtcdAvailable()) GTEST_SKIP() << "/usr/bin/etcd missing (Debian package etcd-server)";
  TempDir dir;
  auto cluster = EtcdCluster::Start({.work_dir = dir.path(), .members = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  LoadShape shape;
  shape.clients = 2;
  shape.in_flight = 2;
  shape.warmup = milliseconds(0);
  shape.duration = milliseconds(15000);
  shape.max_ops = 50;
  auto result = RunEtcdLoad(EtcdLoadOptionsFor(**cluster, shape));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->ok_ops, 50u);
  EXPECT_LT(result->seconds, 10.0);
}

TEST(EtcdPeer, RefusedConnectionsAreCountedAsConnectErrors) {
  // Nothing listens on loopback port 1 (privileged, unused).
  auto probe = HttpOnce("127.0.0.1", 1, "GET", "/", "", milliseconds(500));
  ASSERT_FALSE(probe.ok());
  EtcdLoadOptions options;
  options.addresses = {"127.0.0.1:1"};
  options.shape.clients = 2;
  options.shape.warmup = milliseconds(0);
  options.shape.duration = milliseconds(300);
  auto result = RunEtcdLoad(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->ok_ops, 0u);
  EXPECT_GT(result->errors["CONNECT"], 0u);
}

TEST(EtcdPeer, BadOptionsAreRefused) {
  EXPECT_EQ(RunEtcdLoad({}).status().code(), Code::kInvalidArgument);  // no address
  EtcdLoadOptions options;
  options.addresses = {"127.0.0.1"};
  EXPECT_EQ(RunEtcdLoad(options).status().code(), Code::kInvalidArgument);  // no port
  TempDir dir;
  EXPECT_EQ(EtcdCluster::Start({.work_dir = dir.path(), .etcd_binary = dir.path() + "/none"})
                .status()
                .code(),
            Code::kNotFound);
  EXPECT_EQ(EtcdCluster::Start({.work_dir = ""}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(EtcdCluster::Start({.work_dir = dir.path(), .members = 0}).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::bench
