// A full disk under real node processes (docs/storage-faults.md): node b of
// a pair (a, b) plus a read-only node c keeps its data directory on a 16 MiB
// tmpfs (mounted by the test: needs root, skipped with the reason otherwise).
// A filler file fills it while clients write to a (replicated to b) and to
// b directly. b must stay up, say so (/health 507, /readyz 503, its status,
// a warn line naming the data directory and its free space), refuse writes
// with RESOURCE_EXHAUSTED and serve reads; once the filler is deleted it
// takes writes again by itself, and every write acknowledged to a client is
// on every node. On main b aborted inside RocksDB (`Assertion
// 'sync_without_flush_called_' failed`) at the first replicated write after
// the disk filled, or refused writes until restarted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "tests/harness/cluster_fixture.h"
#include "tests/harness/coffer_cli.h"
#include "tests/harness/http_get.h"

namespace coffer::integration {
namespace {

using namespace std::chrono_literals;

// Writes a filler file into `dir` until its filesystem has not a byte left.
void FillFilesystem(const std::string& dir) {
  int fd = ::open((dir + "/filler").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  static char block[65536];
  for (size_t size : {sizeof(block), size_t{512}, size_t{1}}) {
    for (int i = 0; i < 1 << 20 && ::write(fd, block, size) > 0; ++i) {
    }
  }
  ::close(fd);
}

// Secrets written by a client thread to one node until stopped: the uuids
// acknowledged, and the codes of the refusals.
struct Writer {
  Writer(NodeProcess* to, std::string name_prefix) : node(to), prefix(std::move(name_prefix)) {}
  NodeProcess* node;
  std::string prefix;
  std::mutex mu;
  std::vector<std::string> acked;            // GUARDED_BY(mu)
  std::map<std::string, int> refused_codes;  // GUARDED_BY(mu)

  void Run(std::atomic<bool>& stop) {
    for (int i = 0; !stop && i < 100'000; ++i) {
      auto written =
          Write(*node, RegisterSecret(prefix + std::to_string(i), std::string(2048, 's')));
      std::lock_guard<std::mutex> lock(mu);
      if (written.ok()) {
        acked.push_back(written->uuid());
      } else {
        ++refused_codes[std::string(CodeName(written.status().code()))];
        std::this_thread::sleep_for(20ms);  // a refused client backs off, bounded
      }
    }
  }
};

class StorageFaultTest : public ClusterTest {};

TEST_F(StorageFaultTest, AFullDiskStopsWritesAndResumesByItselfLosingNothing) {
  NodeProcess& a = Add("node-a");
  NodeProcess& b = Add("node-b");
  NodeProcess& c = Add("node-c");
  const std::string mount_dir = b.data_dir();
  std::filesystem::create_directories(mount_dir);
  if (::mount("tmpfs", mount_dir.c_str(), "tmpfs", 0, "size=16m") != 0) {
    GTEST_SKIP() << "cannot mount a 16 MiB tmpfs on " << mount_dir
                 << " (needs root): " << std::strerror(errno);
  }
  // However the test ends: b stops (by its PID) before its filesystem goes.
  struct Unmount {
    NodeProcess& node;
    std::string dir;
    ~Unmount() {
      node.Kill(SIGTERM);
      ::umount2(dir.c_str(), MNT_DETACH);
    }
  } unmount{b, mount_dir};

  FormPairAndReadOnly(a, b, c);
  auto before = Write(b, RegisterSecret("before-the-fault", "kept"));
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  // Clients write to a (replicated to b, its pair peer) and to b directly.
  Writer to_a(&a, "via-a-"), to_b(&b, "via-b-");
  std::atomic<bool> stop{false};
  std::thread thread_a([&] { to_a.Run(stop); });
  StopAndJoin join_a{stop, thread_a};
  std::thread thread_b([&] { to_b.Run(stop); });
  StopAndJoin join_b{stop, thread_b};
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> la(to_a.mu), lb(to_b.mu);
        return to_a.acked.size() >= 5 && to_b.acked.size() >= 5;
      },
      30s));

  FillFilesystem(mount_dir);
  // b notices (the next write, replicated or direct, fails), stays up and says so.
  ASSERT_TRUE(WaitFor([&] { return HttpGet(b.http_port(), "/health").code == 507; }, 30s))
      << "health: " << HttpGet(b.http_port(), "/health").body << "; node b's output:\n"
      << ReadWholeFile(b.output_file()).substr(0, 4000);
  auto refused = Write(b, RegisterSecret("while-full", "x"));
  EXPECT_EQ(refused.status().code(), Code::kResourceExhausted) << refused.status().ToString();
  // Writes keep coming for a while: the replicated ones aborted b on main.
  int refusals_then = 0;
  {
    std::lock_guard<std::mutex> lock(to_b.mu);
    refusals_then = to_b.refused_codes["RESOURCE_EXHAUSTED"];
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(to_b.mu);
        return to_b.refused_codes["RESOURCE_EXHAUSTED"] >= refusals_then + 20;
      },
      30s));
  // Still up (a process that ended is reaped here, so a zombie does not pass).
  EXPECT_FALSE(b.WaitExited(1ms)) << "node b ended: " << ReadWholeFile(b.output_file());
  auto health = HttpGet(b.http_port(), "/health");
  EXPECT_EQ(health.code, 507) << health.body;
  EXPECT_NE(health.body.find("storage-fault"), std::string::npos) << health.body;
  auto ready = HttpGet(b.http_port(), "/readyz");
  EXPECT_EQ(ready.code, 503) << ready.body;
  auto status = StatusOf(b);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_NE(status->storage_state(), "writable");
  EXPECT_NE(status->storage_fault().find("No space left on device"), std::string::npos)
      << status->storage_fault();
  EXPECT_GE(status->storage_free_bytes(), 0);  // known
  EXPECT_LT(status->storage_free_bytes(), 16 << 20);
  std::string metrics = HttpGet(b.http_port(), "/metrics").body;
  EXPECT_NE(metrics.find("coffer_storage_faults_total "), std::string::npos);
  EXPECT_EQ(metrics.find("coffer_storage_faults_total 0"), std::string::npos);
  EXPECT_EQ(metrics.find("coffer_storage_state{state=\"writable\"} 1"), std::string::npos);
  // `cluster status` (asked on a) names it and exits 2 (degraded).
  std::string cluster_status;
  EXPECT_EQ(Coffer("cluster status" + CofferFlags(a), &cluster_status), 2) << cluster_status;
  EXPECT_NE(cluster_status.find("storage-fault  node-b"), std::string::npos) << cluster_status;
  EXPECT_NE(cluster_status.find("No space left on device"), std::string::npos) << cluster_status;
  // Reads are served.
  auto read = GetObject(b, before->uuid());
  EXPECT_TRUE(read.ok()) << read.status().ToString();
  // One warn line names the data directory and its free space.
  std::string log = ReadWholeFile(b.log_file());
  EXPECT_NE(log.find("storage fault"), std::string::npos);
  size_t warned = log.find("(data directory " + mount_dir + ", ");
  ASSERT_NE(warned, std::string::npos) << log.substr(0, 4000);
  EXPECT_NE(log.find(" bytes free)", warned), std::string::npos) << log.substr(warned, 400);

  // Space comes back: b takes writes again by itself.
  std::filesystem::remove(mount_dir + "/filler");
  auto resumed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return Write(b, RegisterSecret(NewRequestId(), "y")).ok(); }, 30s))
      << ReadWholeFile(b.log_file()).substr(0, 8000);
  double resume_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - resumed_at).count();
  EXPECT_TRUE(WaitFor([&] { return HttpGet(b.http_port(), "/readyz").code == 200; }, 10s));
  // Both writers see acknowledgements again.
  size_t acked_a = 0, acked_b = 0;
  {
    std::lock_guard<std::mutex> la(to_a.mu), lb(to_b.mu);
    acked_a = to_a.acked.size();
    acked_b = to_b.acked.size();
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> la(to_a.mu), lb(to_b.mu);
        return to_a.acked.size() >= acked_a + 5 && to_b.acked.size() >= acked_b + 5;
      },
      30s));
  stop = true;
  thread_a.join();
  thread_b.join();

  // Every acknowledged write is on every node; the digests converge.
  ASSERT_TRUE(WaitFor([&] { return Converged({&a, &b, &c}); }, 60s));
  std::vector<std::string> acked = to_a.acked;
  acked.insert(acked.end(), to_b.acked.begin(), to_b.acked.end());
  acked.push_back(before->uuid());
  for (NodeProcess* n : {&a, &b, &c}) {
    for (const auto& uuid : acked) {
      auto got = GetObject(*n, uuid);
      EXPECT_TRUE(got.ok()) << n->name() << " lacks acknowledged " << uuid << ": "
                            << got.status().ToString();
    }
  }
  std::cout << "[ figures ] " << acked.size() << " acknowledged writes; refused on b while full: "
            << to_b.refused_codes["RESOURCE_EXHAUSTED"] << " RESOURCE_EXHAUSTED; writable again "
            << resume_seconds << " s after the filler was deleted\n";
}

}  // namespace
}  // namespace coffer::integration
