// The orchestrator's controllers and command runner against real child
// processes and shell commands: what each action does to the processes and
// files it manages, and how failures and timeouts come back.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/wait_for.h"
#include "node/orchestrator/command_controller.h"
#include "node/orchestrator/local_supervisor.h"
#include "node/orchestrator/run_command.h"
#include "storage/test_util.h"

namespace coffer::node::orchestrator {
namespace {

using namespace std::chrono_literals;

void WriteFile(const std::string& path, const std::string& text, bool executable = false) {
  std::ofstream(path) << text;
  if (executable) ::chmod(path.c_str(), 0755);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(RunCommandTest, ReturnsExitCodeAndOutputAndKillsWhatOverstaysItsTimeout) {
  auto ok = RunShell("echo out; echo err >&2; exit 3", 10s);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->exit_code, 3);
  EXPECT_EQ(ok->output, "out\nerr\n");
  auto start = std::chrono::steady_clock::now();
  auto slow = RunShell("sleep 30", 300ms);
  EXPECT_EQ(slow.status().code(), Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(RunCommand({"/nonexistent/binary"}, 5s).status().code(), Code::kUnavailable);
  auto big = RunShell("head -c 200000 /dev/zero", 10s);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->output.size(), kMaxCommandOutputBytes);
}

TEST(RunCommandTest, ShellQuoteKeepsAValueOneWord) {
  const std::string hostile = "a b'; touch /tmp/coffer-quote-test-$$; echo '";
  auto r = RunShell("printf %s " + ShellQuote(hostile), 5s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, hostile);
}

TEST(CommandControllerTest, ExpandsQuotedPlaceholders) {
  EXPECT_EQ(ExpandTemplate("ssh {host} stop {node} {binary}", "n1", "h 1", "/b'in"),
            "ssh 'h 1' stop 'n1' '/b'\\''in'");
}

TEST(CommandControllerTest, LoadRefusesAMissingCommandOrAnUnknownKey) {
  storage::testing::TempDir dir;
  const std::string path = dir.path() + "/c.toml";
  WriteFile(path,
            "[commands]\nrunning='x'\ninstalled='x'\nstop='x'\nstart='x'\nswap='x'\n"
            "version='x'\n");
  auto missing = LoadCommandTemplates(path);
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("check_store"), std::string::npos);
  WriteFile(path,
            "[commands]\nrunning='x'\ninstalled='x'\nstop='x'\nstart='x'\nswap='x'\n"
            "version='x'\ncheck_store='x'\nstrat='typo'\n");
  auto typo = LoadCommandTemplates(path);
  EXPECT_EQ(typo.status().code(), Code::kInvalidArgument);
  EXPECT_NE(typo.status().message().find("strat"), std::string::npos);
}

// Templates that manage "nodes" as files: NAME.up while running, NAME.bin
// the installed binary.
TEST(CommandControllerTest, PerformsEachActionThroughItsTemplate) {
  storage::testing::TempDir dir;
  const std::string d = dir.path();
  const std::string path = d + "/c.toml";
  WriteFile(path,
            "[commands]\n"
            "running = \"test -f " +
                d +
                "/{node}.up\"\n"
                "installed = \"cat " +
                d +
                "/{node}.bin\"\n"
                "stop = \"rm -f " +
                d +
                "/{node}.up\"\n"
                "start = \"touch " +
                d +
                "/{node}.up\"\n"
                "swap = \"cp " +
                d + "/{node}.bin " + d + "/{node}.bin.old && printf %s {binary} > " + d +
                "/{node}.bin\"\n"
                "version = \"echo 0.3.0 # {binary}\"\n"
                "check_store = \"test {binary} = /good || { echo refused by {binary}; exit 1; }\"\n"
                "timeout_seconds = 5\n"
                "[hosts]\nn1 = \"localhost\"\n");
  auto templates = LoadCommandTemplates(path);
  ASSERT_TRUE(templates.ok()) << templates.status().ToString();
  EXPECT_EQ(templates->hosts.at("n1"), "localhost");
  CommandController c(*templates);
  WriteFile(d + "/n1.bin", "/old");
  auto seen = c.Observe("n1");
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_FALSE(seen->running);
  EXPECT_EQ(seen->installed_binary, "/old");
  ASSERT_TRUE(c.Start("n1").ok());
  EXPECT_TRUE(c.Observe("n1")->running);
  ASSERT_TRUE(c.Swap("n1", "/new").ok());
  EXPECT_EQ(c.Observe("n1")->installed_binary, "/new");
  EXPECT_EQ(ReadFile(d + "/n1.bin.old"), "/old");
  ASSERT_TRUE(c.Stop("n1").ok());
  EXPECT_FALSE(c.Observe("n1")->running);
  EXPECT_EQ(*c.BinaryRelease("n1", "/new"), "0.3.0");
  EXPECT_TRUE(c.CheckStore("n1", "/good").ok());
  Status refused = c.CheckStore("n1", "/bad");
  EXPECT_EQ(refused.code(), Code::kIncompatibleVersion);
  EXPECT_NE(refused.message().find("refused by /bad"), std::string::npos);
  // A node without its files: the failing command's output comes back.
  auto absent = c.Observe("n2");
  EXPECT_EQ(absent.status().code(), Code::kUnavailable);
  EXPECT_NE(absent.status().message().find("n2.bin"), std::string::npos);
}

TEST(LocalSupervisorTest, StartsDaemonsStopsThemAndSwapsKeepingTheOldBinary) {
  storage::testing::TempDir dir;
  const std::string d = dir.path();
  // A stand-in for `coffer`: `--version` prints a release, anything else runs
  // until it is stopped.
  const std::string old_bin = d + "/old.sh";
  const std::string new_bin = d + "/new.sh";
  WriteFile(old_bin,
            "#!/bin/sh\n[ \"$1\" = --version ] && { echo 0.2.0; exit 0; }\nexec sleep 60\n", true);
  WriteFile(new_bin,
            "#!/bin/sh\n[ \"$1\" = --version ] && { echo 0.3.0; exit 0; }\nexec sleep 60\n", true);
  WriteFile(d + "/n1.toml", "");
  LocalSupervisor s(
      {.dir = d, .default_binary = old_bin, .stop_timeout = 5s, .command_timeout = 5s});
  EXPECT_EQ(s.Observe("missing").status().code(), Code::kNotFound);
  auto before = s.Observe("n1");
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->running);
  EXPECT_EQ(before->installed_binary, old_bin);
  ASSERT_TRUE(s.Start("n1").ok());
  const pid_t pid = s.PidOf("n1");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(ProcessAlive(pid));
  EXPECT_TRUE(s.Observe("n1")->running);
  ASSERT_TRUE(s.Start("n1").ok());  // running: nothing done
  EXPECT_EQ(s.PidOf("n1"), pid);
  ASSERT_TRUE(s.Stop("n1").ok());
  EXPECT_FALSE(ProcessAlive(pid));
  EXPECT_FALSE(s.Observe("n1")->running);
  ASSERT_TRUE(s.Swap("n1", new_bin).ok());
  EXPECT_EQ(s.InstalledBinary("n1"), new_bin);
  EXPECT_EQ(ReadFile(d + "/n1.binary.previous"), old_bin + "\n");
  EXPECT_EQ(s.Swap("n1", d + "/absent").code(), Code::kNotFound);
  EXPECT_EQ(*s.BinaryRelease("n1", new_bin), "0.3.0");
  EXPECT_EQ(s.BinaryRelease("n1", d + "/absent").status().code(), Code::kNotFound);
  ASSERT_TRUE(s.Start("n1").ok());
  const pid_t again = s.PidOf("n1");
  EXPECT_NE(again, pid);
  // A process killed from outside is seen as not running.
  ::kill(again, SIGKILL);
  EXPECT_TRUE(WaitFor([&] { return !s.Observe("n1")->running; }, 10s, 10ms));
}

}  // namespace
}  // namespace coffer::node::orchestrator
