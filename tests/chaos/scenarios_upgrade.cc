// R9: a rolling upgrade under load (`coffer upgrade`, its own process, over
// the local supervisor: docs/upgrade.md) with kill -9 of the upgrading node,
// of the orchestrator (then `coffer upgrade resume`), and of the pair peer of
// a node down for its upgrade (the plan PAUSES naming it; the peer comes
// back; `resume`). Which nodes and when come from the seed. At the end every
// node runs the target release, no node was stopped twice by the plan,
// `finalize` raises the cluster version everywhere, and the checks after
// healing hold (nothing acknowledged lost).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "common/wait_for.h"
#include "tests/chaos/scenario.h"
#include "upgrade/binary_profile.h"

namespace coffer::chaos {
namespace {

// The release coffer-next reports, and the binary (next to this one).
std::string NextBinary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "" : (self.parent_path() / "coffer-next").string();
}

// `coffer upgrade VERB...` as a process of its own; output appended to `out`.
class OrchestratorProcess {
 public:
  OrchestratorProcess(ChaosCluster& c, const std::string& binary, std::vector<std::string> verb,
                      const std::string& out) {
    std::vector<std::string> args = {binary, "upgrade"};
    args.insert(args.end(), verb.begin(), verb.end());
    std::string addresses;
    for (const auto& a : c.addresses()) addresses += (addresses.empty() ? "" : ",") + a;
    for (const std::string& a :
         {std::string("--address"), addresses, std::string("--ca"), c.tls_files().ca_file,
          std::string("--cert"), c.tls_files().cert_file, std::string("--key"),
          c.tls_files().key_file, std::string("--local"), c.supervised_dir(),
          std::string("--step-timeout"), std::string("15")}) {
      args.push_back(a);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~OrchestratorProcess() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Its exit code once it ended within `timeout`; -1 otherwise (still running).
  int Wait(std::chrono::milliseconds timeout) {
    int code = -1;
    WaitFor(
        [&] {
          int status = 0;
          if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) != pid_) return false;
          code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
          pid_ = -1;
          return true;
        },
        timeout, std::chrono::milliseconds(50));
    return code;
  }

 private:
  pid_t pid_ = -1;
};

std::optional<pb::UpgradePlan> PlanOf(ChaosCluster& c) {
  for (size_t i : c.live()) {
    pb::Request request;
    request.mutable_cluster_status();
    auto response = c.Ask(i, request);
    if (response.ok() && response->cluster_status().has_upgrade()) {
      return response->cluster_status().upgrade();
    }
  }
  return std::nullopt;
}

// Waits (up to 120 s) until the plan's node `index` is at one of `steps`:
// that node's index in the cluster; nullopt if it went past them to DONE, or
// the wait ran out.
std::optional<size_t> WaitStep(ChaosCluster& c, int index, const std::set<pb::UpgradeStep>& steps) {
  pb::UpgradeStep seen = pb::UPGRADE_STEP_UNSPECIFIED;
  std::string name;
  bool ended = WaitFor(
      [&] {
        auto plan = PlanOf(c);
        if (!plan || plan->nodes_size() <= index) return false;
        seen = plan->nodes(index).step();
        name = plan->nodes(index).name();
        return steps.contains(seen) || seen == pb::STEP_DONE;
      },
      std::chrono::seconds(120), std::chrono::milliseconds(100));
  if (!ended || !steps.contains(seen)) return std::nullopt;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c.name(i) == name) return i;
  }
  return std::nullopt;
}

void UpgradeUnderKills(Context& ctx, int) {
  ChaosCluster& c = ctx.cluster;
  Check& upgrade = ctx.OwnCheck("upgrade");
  const std::string coffer = c.node(0).binary();
  const std::string next = NextBinary();
  const std::string target = upgrade::NextRelease().versions.release.ToString();
  const std::string out =
      (ctx.options.report_dir.empty() ? c.dir() : ctx.options.report_dir) + "/orchestrator.out";
  Status supervised = c.Supervise(coffer);
  if (!supervised.ok()) {
    upgrade.Fail("could not move the nodes under the local supervisor: " + supervised.ToString());
    return;
  }
  // The orchestrator now running; replaced (the old one killed first, so
  // two never run at once) by `resume`.
  auto current = std::make_unique<OrchestratorProcess>(
      c, coffer,
      std::vector<std::string>{"start", "--to", target, "--binary", next, "--override", "backup"},
      out);
  auto resume = [&] {
    current->Kill();
    current =
        std::make_unique<OrchestratorProcess>(c, coffer, std::vector<std::string>{"resume"}, out);
  };
  size_t band =
      c.history().BeginFault({c.history().Now(), -1, "R9", "rolling upgrade to " + target, {}});
  const int k1 = 1 + static_cast<int>(ctx.rng() % 2);
  const int k2 = k1 + 1;
  const int k3 = std::max(k2 + 1, 3);
  // 1. The upgrading node dies once it started on the new binary.
  if (auto i = WaitStep(c, k1, {pb::STEP_ENABLE, pb::STEP_WAIT_ACTIVE, pb::STEP_CANARY})) {
    c.Kill9(*i);
    ctx.Say("R9: kill -9 the upgrading node " + c.name(*i));
  }
  // 2. The orchestrator dies inside the next node's steps; `resume` goes on.
  if (WaitStep(c, k2,
               {pb::STEP_WAIT_DISABLED, pb::STEP_STOP, pb::STEP_SWAP, pb::STEP_START,
                pb::STEP_ENABLE, pb::STEP_WAIT_ACTIVE})) {
    c.history().BeginFault(
        {c.history().Now(), c.history().Now(), "R9", "kill -9 orchestrator", {}});
    ctx.Say("R9: kill -9 the orchestrator");
    resume();
  }
  // 3. While a pair node is down for its upgrade, its peer dies: the plan
  //    pauses; the peer comes back; `resume`.
  std::optional<size_t> down;
  if (k3 < static_cast<int>(c.size())) {
    down = WaitStep(c, k3, {pb::STEP_STOP, pb::STEP_SWAP, pb::STEP_START, pb::STEP_ENABLE});
  }
  if (down && c.PeerOf(*down) >= 0) {
    const auto peer = static_cast<size_t>(c.PeerOf(*down));
    c.Kill9(peer);
    ctx.Say("R9: kill -9 " + c.name(peer) + ", the peer of " + c.name(*down) +
            " (down for its upgrade)");
    int code = current->Wait(std::chrono::seconds(120));
    Status back = c.Restart(peer);
    if (!back.ok()) upgrade.Fail(back.ToString());
    if (code != 0) resume();
  }
  int code = current->Wait(std::chrono::seconds(240));
  // A plan may also pause on a step timeout of its own on a slow machine:
  // an operator resumes it (at most 3 times here, counted).
  int resumes = 0;
  for (; code == 2 && resumes < 3; ++resumes) {
    auto paused = PlanOf(c);
    ctx.Say("R9: plan paused (" + (paused ? paused->pause().check() : std::string("?")) +
            "), resume");
    resume();
    code = current->Wait(std::chrono::seconds(180));
  }
  ctx.figures.emplace_back("extra resumes", std::to_string(resumes));
  c.history().EndFault(band);
  auto plan = PlanOf(c);
  if (code != 0 || !plan || plan->state() != pb::UPGRADE_DONE) {
    upgrade.Fail("the plan did not complete (orchestrator exit " + std::to_string(code) +
                 ", plan " +
                 (plan ? pb::UpgradePlanState_Name(plan->state()) + " " + plan->pause().check() +
                             ": " + plan->pause().observed()
                       : std::string("absent")) +
                 "); see orchestrator.out");
    return;
  }
  for (const auto& n : plan->nodes()) {
    if (n.stops() > 1)
      upgrade.Fail(n.name() + " was stopped " + std::to_string(n.stops()) + " times by the plan");
  }
  for (size_t i : c.live()) {
    auto status = c.StatusOf(i);
    if (!status.ok() || status->version() != target) {
      upgrade.Fail(c.name(i) + " does not run " + target + ": " +
                   (status.ok() ? status->version() : status.status().ToString()));
    }
  }
  OrchestratorProcess finalize(c, coffer, {"finalize"}, out);
  if (finalize.Wait(std::chrono::seconds(90)) != 0)
    upgrade.Fail("finalize failed; see orchestrator.out");
  const std::string minor = upgrade::NextRelease().versions.release.MinorString();
  bool risen = WaitFor(
      [&] {
        for (size_t i : c.live()) {
          auto status = c.StatusOf(i);
          if (!status.ok() || status->cluster_version() != minor) return false;
        }
        return true;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  if (!risen) upgrade.Fail("the cluster version did not rise to " + minor + " on every node");
  if (upgrade.pass) {
    upgrade.figures = std::to_string(plan->nodes_size()) + " nodes on " + target +
                      ", each stopped at most once, cluster version " + minor + " after finalize";
  }
}

}  // namespace

std::vector<Scenario> UpgradeScenarios() {
  return {
      {.name = "R9",
       .title =
           "rolling upgrade under load; kill -9 of the upgrading node, its peer, the orchestrator",
       .default_iterations = 1,
       .fault = UpgradeUnderKills,
       .unavailable = [](const RunOptions&) -> std::string {
         std::error_code ec;
         return std::filesystem::exists(NextBinary(), ec)
                    ? ""
                    : "no coffer-next next to coffer-chaos (build with "
                      "COFFER_BUILD_NEXT_RELEASE=ON)";
       }},
  };
}

}  // namespace coffer::chaos
