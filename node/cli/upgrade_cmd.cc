// coffer upgrade plan|start|status|pause|resume|abort|rollback|finalize: the
// rolling-upgrade orchestrator (docs/upgrade.md). The plan and step logic is
// upgrade/orchestrator/ (sans-IO); node/orchestrator/ performs it. The
// orchestrator runs in this process (start, resume, abort, rollback) until
// the plan is DONE, PAUSED, ABORTED or ROLLED_BACK; its progress lives in
// the cluster, so any machine can resume it.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include "common/release.h"
#include "node/cli/commands.h"
#include "node/cli/upgrade_output.h"
#include "node/client/client.h"
#include "node/orchestrator/command_controller.h"
#include "node/orchestrator/local_supervisor.h"
#include "node/orchestrator/orchestrator.h"
#include "upgrade/orchestrator/control.h"
#include "upgrade/orchestrator/plan_builder.h"

namespace coffer::node::cli {
namespace {

namespace orch = node::orchestrator;

struct UpgradeFlags {
  ClientFlags client;
  std::string to;
  std::string binary;
  std::vector<std::string> overrides;
  std::string local_dir;
  std::string controller_file;
  int64_t max_lag_ms = 5'000;
  int64_t expected_node_seconds = 600;
  int step_timeout_seconds = 120;
  bool watch = false;
  int watch_seconds = 3600;
};

StatusOr<std::unique_ptr<orch::NodeController>> MakeController(const UpgradeFlags& f) {
  if (!f.controller_file.empty()) {
    COFFER_ASSIGN_OR_RETURN(auto templates, orch::LoadCommandTemplates(f.controller_file));
    return std::unique_ptr<orch::NodeController>(
        std::make_unique<orch::CommandController>(std::move(templates)));
  }
  std::string dir = f.local_dir.empty() ? ".cluster" : f.local_dir;
  if (!std::filesystem::is_directory(dir)) {
    return InvalidArgument("no local cluster directory '" + dir +
                           "': give --local DIR (the layout of scripts/start-local.sh) or "
                           "--controller FILE (command templates, docs/upgrade.md)");
  }
  std::error_code ec;
  std::string self = std::filesystem::canonical("/proc/self/exe", ec).string();
  orch::LocalSupervisorOptions options;
  options.dir = dir;
  options.default_binary = self;
  return std::unique_ptr<orch::NodeController>(std::make_unique<orch::LocalSupervisor>(options));
}

orch::ClusterAccess AccessFrom(const ClientFlags& flags) {
  orch::ClusterAccess access;
  access.entry_addresses = SplitAddresses(flags.address);
  access.call = [flags](const std::string& address, const pb::Request& request) {
    ClientFlags one = flags;
    one.address = address;
    one.timeout_ms = std::min(flags.timeout_ms, 3000);
    one.session = std::make_shared<RetrySession>();
    return Call(one, request);
  };
  return access;
}

orch::OrchestratorOptions OptionsFrom(const UpgradeFlags& f) {
  orch::OrchestratorOptions o;
  o.steps = upgrade::StepOptions::EveryWait(int64_t{f.step_timeout_seconds} * 1'000'000);
  return o;
}

// Prints progress: one redrawn line on a terminal, else a line per change.
class ProgressPrinter {
 public:
  void operator()(const pb::UpgradePlan& plan, const upgrade::Decision& d,
                  const upgrade::ClusterObservation& o) {
    if (terminal_) {
      std::fprintf(stderr, "\r\033[K%s", UpgradeProgressLine(plan, d, o.now_micros).c_str());
      std::fflush(stderr);
      return;
    }
    upgrade::Decision quiet = d;
    quiet.waiting_for.clear();
    std::string key = UpgradeProgressLine(plan, quiet, 0);
    if (key == last_) return;
    last_ = key;
    std::cerr << UpgradeProgressLine(plan, d, o.now_micros) << "\n";
  }
  ~ProgressPrinter() {
    if (terminal_) std::fprintf(stderr, "\n");
  }

 private:
  bool terminal_ = isatty(fileno(stderr)) != 0;
  std::string last_;
};

// The plan's end: prints it and what to do next; the exit code.
int Finish(orch::Orchestrator& o, const StatusOr<pb::UpgradePlan>& ran, OutputFormat format) {
  if (!ran.ok()) return Fail(ran.status());
  std::cout << RenderUpgradePlan(*ran, format);
  switch (ran->state()) {
    case pb::UPGRADE_DONE:
      std::cerr << "every node runs " << ran->to_release() << "; the cluster version is held at "
                << ran->from_cluster_version()
                << ". `coffer upgrade finalize` lets it rise (rollback is possible until then).\n";
      return kExitOk;
    case pb::UPGRADE_ABORTED:
    case pb::UPGRADE_ROLLED_BACK: {
      Status released = o.SetVersionHold(false);
      if (!released.ok()) return Fail(released.Annotate("releasing the version hold"));
      std::cerr << "plan " << ran->plan_id() << " " << upgrade::PlanStateName(ran->state())
                << "; every node is enabled and the version hold is released.\n";
      return kExitOk;
    }
    case pb::UPGRADE_PAUSED:
      std::cerr << "PAUSED: check " << ran->pause().check() << " at node " << ran->pause().node_id()
                << " (" << upgrade::StepName(ran->pause().step())
                << "): " << ran->pause().observed()
                << "\nfix it, then `coffer upgrade resume` (it observes again before acting); or "
                   "`coffer upgrade abort` / `rollback`.\n";
      return kExitDegraded;
    default:
      return kExitOk;
  }
}

// The current plan as the cluster has it; NOT_FOUND if there is none.
StatusOr<pb::UpgradePlan> CurrentPlan(orch::Orchestrator& o) {
  COFFER_ASSIGN_OR_RETURN(orch::Observed observed, o.Observe());
  if (!observed.observation.plan) return NotFound("this cluster has no upgrade plan");
  return *observed.observation.plan;
}

// Writes an operator request (pause, abort) on the plan a running
// orchestrator holds, and waits until the plan shows its effect (`done`).
// The orchestrator's own writes may win the plan's compare-and-set, or a
// merge, and drop the request: whenever the plan lacks it (`requested`) and
// is not done, it is asked again. At most 120 s.
Status RequestOnRunningPlan(
    orch::Orchestrator& o,
    const std::function<StatusOr<pb::UpgradePlan>(const pb::UpgradePlan&)>& make,
    const std::function<bool(const pb::UpgradePlan&)>& requested,
    const std::function<bool(const pb::UpgradePlan&)>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    COFFER_ASSIGN_OR_RETURN(pb::UpgradePlan plan, CurrentPlan(o));
    if (done(plan)) return Status::Ok();
    if (!requested(plan)) {
      COFFER_ASSIGN_OR_RETURN(pb::UpgradePlan next, make(plan));
      auto written = o.Write(next);
      if (!written.ok() && written.status().code() != Code::kUpgradeInProgress &&
          written.status().code() != Code::kUnavailable) {
        return written.status();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // bounded by deadline
  }
  return Unavailable(
      "the orchestrator did not act on the request within 120 s: see "
      "`coffer upgrade status`");
}

// plan and start: observe with the binary checks, pre-checks, the plan.
int PlanOrStart(const UpgradeFlags& f, bool start) {
  auto target = Release::Parse(f.to);
  if (!target) return Fail(InvalidArgument("--to '" + f.to + "' is not a release (0.3.0)"));
  auto controller = MakeController(f);
  if (!controller.ok()) return Fail(controller.status());
  orch::Orchestrator o(AccessFrom(f.client), **controller, orch::OwnerName(), OptionsFrom(f));
  orch::PlanSpec spec{
      *target, std::filesystem::absolute(f.binary).lexically_normal().string(), f.overrides, {}};
  spec.prechecks.max_lag_ms = f.max_lag_ms;
  spec.prechecks.expected_node_seconds = f.expected_node_seconds;
  auto prepared = o.Prepare(spec);
  if (!prepared.ok()) return Fail(prepared.status());
  if (!start || !prepared->verdict.ok()) {
    std::cout << RenderUpgradePlan(prepared->plan, Format(f.client));
    return prepared->verdict.ok() ? kExitOk : Fail(prepared->verdict);
  }
  // The plan, printed before anything runs (on stderr: stdout carries the
  // plan as it ends, in the output format asked for).
  std::cerr << RenderUpgradePlan(prepared->plan, OutputFormat::kTable) << "\n";
  auto written = o.Begin(*prepared);
  if (!written.ok()) return Fail(written.status());
  std::cerr << "plan " << written->plan_id() << ": " << written->from_release() << " -> "
            << written->to_release() << ", " << written->nodes_size() << " nodes\n";
  ProgressPrinter progress;
  auto ran = o.Run(*written, std::ref(progress));
  return Finish(o, ran, Format(f.client));
}

// resume, abort and rollback: take the plan over (or request), then run it.
int TakeOverAndRun(const UpgradeFlags& f, const std::string& verb) {
  auto controller = MakeController(f);
  if (!controller.ok()) return Fail(controller.status());
  orch::Orchestrator o(AccessFrom(f.client), **controller, orch::OwnerName(), OptionsFrom(f));
  auto plan = CurrentPlan(o);
  const int64_t lease = OptionsFrom(f).steps.lease_micros;
  if (verb != "abort") {
    // An orchestrator that died holds its lease a little longer: wait it
    // out (a live one renews it, and is then refused below).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(2 * lease);
    while (plan.ok() && upgrade::LeaseHeldByOther(*plan, o.owner(), orch::NowMicros()) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));  // bounded by deadline
      plan = CurrentPlan(o);
    }
  }
  if (!plan.ok()) return Fail(plan.status());
  const int64_t now = orch::NowMicros();
  StatusOr<pb::UpgradePlan> next = InvalidArgument("unknown request " + verb);
  if (verb == "resume") {
    next = upgrade::TakeOver(*plan, o.owner(), now, lease);
  } else if (verb == "rollback") {
    next = upgrade::StartRollback(*plan, o.owner(), now, lease);
  } else {  // abort
    next = upgrade::RequestAbort(*plan, now);
    if (next.ok() && upgrade::LeaseHeldByOther(*plan, o.owner(), now)) {
      // The running orchestrator honours it at its next step boundary.
      Status asked = RequestOnRunningPlan(
          o, [](const pb::UpgradePlan& p) { return upgrade::RequestAbort(p, orch::NowMicros()); },
          [](const pb::UpgradePlan& p) { return p.abort_requested(); },
          [](const pb::UpgradePlan& p) { return !upgrade::PlanRunning(p); });
      if (!asked.ok()) return Fail(asked);
      std::cerr << "abort requested; orchestrator " << plan->owner()
                << " stopped at a step boundary: every node is enabled\n";
      return kExitOk;
    }
    if (next.ok()) {
      next->set_owner(o.owner());
      next->set_lease_until_micros(now + lease);
    }
  }
  if (!next.ok()) return Fail(next.status());
  auto written = o.Write(*next);
  if (!written.ok()) return Fail(written.status());
  ProgressPrinter progress;
  auto ran = o.Run(*written, std::ref(progress));
  return Finish(o, ran, Format(f.client));
}

int Pause(const UpgradeFlags& f) {
  auto controller = MakeController(f);
  if (!controller.ok()) return Fail(controller.status());
  orch::Orchestrator o(AccessFrom(f.client), **controller, orch::OwnerName(), OptionsFrom(f));
  auto plan = CurrentPlan(o);
  if (!plan.ok()) return Fail(plan.status());
  Status asked = RequestOnRunningPlan(
      o, [](const pb::UpgradePlan& p) { return upgrade::RequestPause(p, orch::NowMicros()); },
      [](const pb::UpgradePlan& p) { return p.pause_requested(); },
      [](const pb::UpgradePlan& p) { return !upgrade::PlanRunning(p); });
  if (!asked.ok()) return Fail(asked);
  std::cerr << "pause requested; orchestrator " << plan->owner()
            << " paused at a step boundary (`coffer upgrade status`)\n";
  return kExitOk;
}

int Finalize(const UpgradeFlags& f) {
  auto controller = MakeController(f);
  if (!controller.ok()) return Fail(controller.status());
  orch::Orchestrator o(AccessFrom(f.client), **controller, orch::OwnerName(), OptionsFrom(f));
  auto seen = o.FinalizePlan(std::chrono::seconds(60));
  if (!seen.ok()) return Fail(seen.status());
  auto plan = CurrentPlan(o);
  if (!plan.ok()) return Fail(plan.status());
  const std::string target = Release::Parse(plan->to_release())->MinorString();
  std::cout << "plan " << plan->plan_id() << " FINALIZED: cluster version " << *seen << " (target "
            << target << "); rollback is no longer possible\n";
  return *seen == target ? kExitOk
                         : Fail(Unavailable("the cluster version did not reach " + target +
                                            " within 60 s: see `coffer cluster version`"));
}

int ShowStatus(const UpgradeFlags& f) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(f.watch_seconds);
  const bool terminal = isatty(fileno(stderr)) != 0;
  const orch::ClusterAccess access = AccessFrom(f.client);
  std::map<uint32_t, std::string> known;
  std::string last;
  while (true) {
    // The newest plan any member has (a disabled node's copy stands still).
    auto observed = orch::ObserveCluster(access, nullptr, {}, orch::NowMicros(), known);
    if (!observed.ok()) return Fail(observed.status());
    known = observed->addresses;
    if (!observed->observation.plan) return Fail(NotFound("this cluster has no upgrade plan"));
    const pb::UpgradePlan& plan = *observed->observation.plan;
    if (!f.watch || !upgrade::PlanRunning(plan) || std::chrono::steady_clock::now() >= deadline) {
      if (f.watch && terminal) std::fprintf(stderr, "\n");
      std::cout << RenderUpgradePlan(plan, Format(f.client));
      return kExitOk;
    }
    std::string line = UpgradeProgressLine(plan, {}, orch::NowMicros());
    if (terminal) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      std::fflush(stderr);
    } else if (line != last) {
      std::cerr << line << "\n";
    }
    last = line;
    std::this_thread::sleep_for(std::chrono::seconds(1));  // refresh, bounded by --watch-seconds
  }
}

void AddControllerFlags(CLI::App* app, UpgradeFlags* f) {
  app->add_option("--local", f->local_dir,
                  "the local cluster directory (scripts/start-local.sh layout); default .cluster");
  app->add_option("--controller", f->controller_file,
                  "command templates for real hosts (TOML, docs/upgrade.md)");
  app->add_option("--step-timeout", f->step_timeout_seconds,
                  "seconds each wait may go without progress before the plan pauses")
      ->check(CLI::Range(1, 24 * 3600))
      ->capture_default_str();
}

}  // namespace

void AddUpgradeCommands(CLI::App& app, const ClientFlags& defaults) {
  auto* u = app.add_subcommand(
      "upgrade",
      "rolling upgrade: one node at a time, under load, with pause, resume and rollback");
  u->require_subcommand(1);
  for (bool start : {false, true}) {
    auto cmd = AddClientCommand<UpgradeFlags>(
        u, start ? "start" : "plan",
        start ? "run the pre-checks and, if they pass, upgrade every node (hold the cluster "
                "version until finalize)"
              : "print the plan and the pre-checks, changing nothing",
        defaults, !start, [start](const UpgradeFlags& f) { return PlanOrStart(f, start); });
    cmd.app->add_option("--to", cmd.flags->to, "the target release (major.minor.patch)")
        ->required();
    cmd.app->add_option("--binary", cmd.flags->binary, "the target release's coffer binary")
        ->required();
    cmd.app->add_option("--override", cmd.flags->overrides,
                        "a failed pre-check to go past, by name (recorded in the plan)");
    cmd.app->add_option("--max-lag-ms", cmd.flags->max_lag_ms, "replication-lag bound")
        ->capture_default_str();
    cmd.app
        ->add_option("--expected-node-seconds", cmd.flags->expected_node_seconds,
                     "expected time per node (max-disable-duration must exceed it)")
        ->capture_default_str();
    AddControllerFlags(cmd.app, cmd.flags);
  }
  for (const char* verb : {"resume", "abort", "rollback"}) {
    const char* help =
        std::string(verb) == "resume"
            ? "observe again and continue a paused plan (or one whose orchestrator died)"
        : std::string(verb) == "abort"
            ? "stop at the next step boundary with every node enabled"
            : "move the upgraded nodes back to their old binary (before finalize)";
    auto cmd = AddClientCommand<UpgradeFlags>(
        u, verb, help, defaults, false,
        [v = std::string(verb)](const UpgradeFlags& f) { return TakeOverAndRun(f, v); });
    AddControllerFlags(cmd.app, cmd.flags);
  }
  auto pause = AddClientCommand<UpgradeFlags>(
      u, "pause", "ask the running orchestrator to pause at its next step boundary", defaults,
      false, Pause);
  AddControllerFlags(pause.app, pause.flags);
  auto finalize = AddClientCommand<UpgradeFlags>(
      u, "finalize", "release the version hold: the cluster version rises; no rollback after",
      defaults, false, Finalize);
  AddControllerFlags(finalize.app, finalize.flags);
  auto status = AddClientCommand<UpgradeFlags>(
      u, "status", "the plan, each node's step, and why it paused", defaults, true, ShowStatus);
  status.app->add_flag("--watch", status.flags->watch,
                       "show progress until the plan stops running");
  status.app->add_option("--watch-seconds", status.flags->watch_seconds, "watch at most this long")
      ->check(CLI::Range(1, 7 * 24 * 3600))
      ->capture_default_str();
}

}  // namespace coffer::node::cli
