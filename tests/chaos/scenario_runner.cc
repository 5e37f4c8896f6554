#include <algorithm>
#include <cctype>
#include <filesystem>
#include <numeric>
#include <thread>

#include "common/wait_for.h"
#include "tests/chaos/report.h"
#include "tests/chaos/scenario.h"

namespace coffer::chaos {

void Context::Load(std::chrono::milliseconds d) {
  std::this_thread::sleep_for(d);  // the clients write meanwhile: this is the load's duration
}

Check& Context::OwnCheck(const std::string& name) {
  for (auto& c : checks) {
    if (c.name == name) return c;
  }
  checks.push_back(Check{name});
  return checks.back();
}

bool Context::Recovered(std::chrono::steady_clock::time_point since, std::chrono::seconds timeout) {
  bool ok = cluster.WaitHealthy(timeout);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  if (ok) {
    recovery_seconds.push_back(took);
  } else {
    OwnCheck("recovery")
        .Fail("the cluster was not healthy " + std::to_string(timeout.count()) +
              " s after the fault healed");
  }
  return ok;
}

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> all = [] {
    std::vector<Scenario> out;
    for (auto part : {NodeScenarios(), NetworkScenarios(), StateScenarios(), ClockScenarios(),
                      UpgradeScenarios(), PlantedScenarios()}) {
      out.insert(out.end(), part.begin(), part.end());
    }
    std::sort(out.begin(), out.end(), [](const Scenario& a, const Scenario& b) {
      return std::stoi(a.name.substr(1)) < std::stoi(b.name.substr(1));
    });
    return out;
  }();
  return all;
}

const Scenario* FindScenario(const std::string& name) {
  std::string upper = name;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& s : Scenarios()) {
    if (s.name == upper) return &s;
  }
  return nullptr;
}

std::string ReplayCommand(const std::string& scenario, const RunOptions& o) {
  std::string command = "coffer-chaos run " + scenario + " --seed " + std::to_string(o.seed);
  if (o.iterations > 0) command += " --iterations " + std::to_string(o.iterations);
  if (o.duration > 0) command += " --duration " + std::to_string(o.duration);
  if (o.pairs != 2) command += " --pairs " + std::to_string(o.pairs);
  if (o.read_only != 1) command += " --read-only " + std::to_string(o.read_only);
  if (o.clients != 4) command += " --clients " + std::to_string(o.clients);
  if (!o.planted.empty()) command += " --plant " + o.planted;
  if (!o.local_dir.empty()) command += " --local " + o.local_dir;
  return command;
}

namespace {

std::string Seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", s);
  return text;
}

}  // namespace

std::string Context::MedianAndMax(std::vector<double> values) {
  if (values.empty()) return "none";
  std::sort(values.begin(), values.end());
  return "median " + Seconds(values[values.size() / 2]) + ", max " + Seconds(values.back());
}

ScenarioResult RunOnCluster(const Scenario& scenario, const RunOptions& options) {
  ScenarioResult result;
  result.name = scenario.name;
  result.title = scenario.title;
  History history;
  ClusterOptions shape{options.pairs, options.read_only, options.binary, options.planted};
  if (scenario.shape) scenario.shape(shape);
  if (options.progress) {
    options.progress(options.local_dir.empty()
                         ? "forming " + std::to_string(2 * shape.pairs + shape.read_only) + " nodes"
                         : "attaching to the cluster in " + options.local_dir);
  }
  auto cluster = options.local_dir.empty() ? ChaosCluster::Start(shape, &history)
                                           : ChaosCluster::Attach(options.local_dir, &history);
  if (!cluster.ok()) {
    result.error = cluster.status().ToString();
    result.skipped = cluster.status().code() == Code::kPermissionDenied;
    return result;
  }
  ChaosCluster& c = **cluster;
  c.Sample(true);
  Ledger ledger;
  PairProbe pair_probe;
  RestrictedProbe restricted_probe;
  Context ctx{c, ledger, pair_probe, restricted_probe, options, std::mt19937_64(options.seed)};
  // On a cluster that outlives the run, names and request ids carry a tag
  // of this run: an earlier run's objects must not answer for this one's.
  std::string tag;
  if (c.attached()) {
    tag = "r" +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count()) +
          "-";
  }
  Workload workload(c, ledger, {.clients = options.clients, .seed = options.seed, .tag = tag});
  workload.Start();
  Context::Load(std::chrono::milliseconds(1000));  // warm-up: writes flowing before the first fault
  int iterations = options.iterations > 0 ? options.iterations : scenario.default_iterations;
  for (int i = 1; i <= iterations; ++i) {
    scenario.fault(ctx, i);
    ctx.Say(scenario.name + " iteration " + std::to_string(i) + "/" + std::to_string(iterations) +
            ": " + std::to_string(ledger.acked_count()) + " acknowledged so far");
  }
  if (scenario.finale) scenario.finale(ctx);
  workload.Stop();
  // Heal everything still broken.
  c.HealNetwork();
  for (size_t i = 0; i < c.size(); ++i) {
    c.Thaw(i);
    if (!c.retired(i) && !c.Running(i)) (void)c.Restart(i);
  }
  // Converged first: then every node holds every record that took effect,
  // so a retry with the request id is answered the original result on any
  // node (docs/cluster.md, "Retries across nodes").
  std::vector<Check> checks = {CheckConvergence(c, std::chrono::seconds(10))};
  Workload::Resolved resolved = workload.ResolveUnknown();
  for (Check& k : CheckReadBack(c, ledger.acked())) checks.push_back(std::move(k));
  checks.push_back(pair_probe.Result());
  checks.push_back(restricted_probe.Result());
  checks.insert(checks.end(), ctx.checks.begin(), ctx.checks.end());
  c.Sample(false);

  uint64_t ok = 0, failed = 0, unknown = 0;
  for (const auto& e : history.ops()) {
    ok += e.type == EventType::kOk;
    failed += e.type == EventType::kFail;
    unknown += e.type == EventType::kUnknown;
  }
  result.figures.emplace_back("iterations", std::to_string(iterations));
  result.figures.emplace_back("operations", std::to_string(workload.invoked()));
  result.figures.emplace_back("acknowledged writes", std::to_string(ledger.acked_count()));
  result.figures.emplace_back(
      "ok/fail/unknown events",
      std::to_string(ok) + "/" + std::to_string(failed) + "/" + std::to_string(unknown));
  result.figures.emplace_back("unknown outcomes retried",
                              std::to_string(resolved.acked) + " acknowledged, " +
                                  std::to_string(resolved.refused) + " refused, " +
                                  std::to_string(resolved.still_unknown) + " still unknown");
  if (!ctx.recovery_seconds.empty()) {
    result.figures.emplace_back("recovery", Context::MedianAndMax(ctx.recovery_seconds));
  }
  result.figures.insert(result.figures.end(), ctx.figures.begin(), ctx.figures.end());
  result.checks = std::move(checks);
  result.pass = std::all_of(result.checks.begin(), result.checks.end(),
                            [](const Check& k) { return k.pass; });
  if (!options.report_dir.empty()) {
    std::filesystem::create_directories(options.report_dir);
    c.CopyLogs(options.report_dir);
    Status written = WriteScenarioReport(options.report_dir, result, history);
    if (!written.ok()) result.error = "report: " + written.ToString();
  }
  return result;
}

ScenarioResult RunScenario(const Scenario& scenario, const RunOptions& given) {
  auto start = std::chrono::steady_clock::now();
  RunOptions options = given;
  if (options.duration <= 0) options.duration = scenario.default_duration;
  std::string unavailable = scenario.unavailable ? scenario.unavailable(options) : "";
  if (unavailable.empty() && !options.local_dir.empty() && !scenario.attachable) {
    unavailable =
        "needs a cluster coffer-chaos starts itself (its links behind the harness's proxies, "
        "its clocks, disks, planted bugs, or a node deleted or upgraded): R1, R2, R5 and R10 run "
        "with --local";
  }
  ScenarioResult result;
  if (!unavailable.empty()) {
    result.name = scenario.name;
    result.title = scenario.title;
    result.error = unavailable;
    result.skipped = true;
  } else {
    result = scenario.custom ? scenario.custom(scenario, options) : RunOnCluster(scenario, options);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.replay = ReplayCommand(scenario.name, given);
  if (!result.error.empty()) result.pass = false;
  if (result.skipped) result.checks.clear();
  return result;
}

}  // namespace coffer::chaos
