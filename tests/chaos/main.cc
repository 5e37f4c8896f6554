// coffer-chaos: the chaos and failover harness (tests/chaos/README.md).
//
//   coffer-chaos list
//   coffer-chaos run SCENARIO... [--seed S] [--iterations N] [--duration D]
//                    [--pairs P] [--read-only R] [--clients C] [--report DIR]
//                    [--plant POINTS] [--local DIR] [-o json]
//   coffer-chaos report DIR
//
// Exit status: 0 every scenario PASS, 1 a scenario FAIL (or could not run),
// 2 a usage error, 77 none failed but one was skipped (R7 without root).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/fault_point.h"
#include "tests/chaos/reaper.h"
#include "tests/chaos/report.h"
#include "tests/chaos/scenario.h"
#include "tests/chaos/timeline.h"

namespace coffer::chaos {
namespace {

constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;
// Every scenario run was skipped or passed, and at least one was skipped
// (ctest's SKIP_RETURN_CODE).
constexpr int kExitSkipped = 77;

int List() {
  for (const auto& s : Scenarios()) {
    std::string name = s.name;
    name.resize(5, ' ');
    std::cout << name << s.title << "  (default: " << s.default_iterations
              << (s.custom && s.name == "R10" ? " seeds" : " iterations") << ")\n";
  }
  return 0;
}

// The default report folder: chaos-report/YYYYmmdd-HHMMSS in the working directory.
std::string DefaultReportDir() {
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&now));
  return "chaos-report/" + std::string(stamp);
}

int Run(std::vector<std::string> names, RunOptions options, const std::string& report, bool json) {
  if (!options.planted.empty() && !fault::Enabled()) {
    std::cerr << "coffer-chaos: --plant needs a build with fault points (dev or asan)\n";
    return kExitUsage;
  }
  if (!options.local_dir.empty() && (!options.planted.empty() || !options.binary.empty())) {
    std::cerr << "coffer-chaos: --plant and --coffer apply to nodes coffer-chaos starts, not to "
                 "a --local cluster\n";
    return kExitUsage;
  }
  std::vector<const Scenario*> chosen;
  for (const auto& name : names) {
    if (name == "all") {
      for (const auto& s : Scenarios()) chosen.push_back(&s);
      continue;
    }
    const Scenario* s = FindScenario(name);
    if (s == nullptr) {
      std::cerr << "coffer-chaos: no scenario " << name << " (see `coffer-chaos list`)\n";
      return kExitUsage;
    }
    chosen.push_back(s);
  }
  const std::string root = report.empty() ? DefaultReportDir() : report;
  std::filesystem::create_directories(root);
  options.progress = [](const std::string& line) {
    std::cerr << "coffer-chaos: " << line << std::endl;
  };
  nlohmann::json all = nlohmann::json::array();
  bool pass = true, skipped = false;
  for (const Scenario* s : chosen) {
    RunOptions run = options;
    run.report_dir = root + "/" + s->name;
    std::filesystem::create_directories(run.report_dir);
    std::cerr << "coffer-chaos: " << s->name << ": " << s->title << std::endl;
    ScenarioResult result = RunScenario(*s, run);
    // R10 and R11 have no cluster of their own: their result.json alone.
    std::ofstream(run.report_dir + "/result.json") << ToJson(result).dump(2) << "\n";
    skipped = skipped || result.skipped;
    pass = pass && (result.pass || result.skipped);
    all.push_back(ToJson(result));
    if (!json) std::cout << FormatResult(result) << std::flush;
  }
  if (json) {
    std::cout << nlohmann::json{{"pass", pass}, {"report", root}, {"scenarios", all}}.dump(2)
              << "\n";
  } else {
    std::cout << (pass ? "PASS" : "FAIL") << ": " << chosen.size() << " scenarios, report in "
              << root << " (timeline.html in each scenario's folder)\n";
  }
  return !pass ? kExitFail : skipped ? kExitSkipped : 0;
}

// Prints the results found in DIR (a run's folder or one scenario's) and
// redraws each scenario's timeline from its history.
int Report(const std::string& dir) {
  std::vector<std::string> folders;
  if (std::filesystem::exists(dir + "/result.json")) folders.push_back(dir);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_directory() && std::filesystem::exists(entry.path() / "result.json")) {
      folders.push_back(entry.path().string());
    }
  }
  if (ec || folders.empty()) {
    std::cerr << "coffer-chaos: no result.json in " << dir << " or its folders\n";
    return kExitUsage;
  }
  std::sort(folders.begin(), folders.end());
  bool pass = true;
  for (const auto& folder : folders) {
    std::ifstream in(folder + "/result.json");
    auto parsed = nlohmann::json::parse(in, nullptr, false);
    auto result =
        parsed.is_discarded()
            ? StatusOr<ScenarioResult>(InvalidArgument(folder + "/result.json is not JSON"))
            : ScenarioResultFromJson(parsed);
    if (!result.ok()) {
      std::cerr << "coffer-chaos: " << folder << ": " << result.status().ToString() << "\n";
      pass = false;
      continue;
    }
    pass = pass && (result->pass || result->skipped);
    std::cout << FormatResult(*result);
    if (std::filesystem::exists(folder + "/history.jsonl")) {
      auto history = History::ReadFrom(folder);
      if (!history.ok()) {
        std::cerr << "coffer-chaos: " << history.status().ToString() << "\n";
        pass = false;
        continue;
      }
      std::string title = result->name + ": " + result->title;
      std::ofstream(folder + "/timeline.svg") << RenderTimelineSvg(*history, title);
      std::ofstream(folder + "/timeline.html") << RenderTimelineHtml(*history, title);
      std::cout << "    timeline: " << folder << "/timeline.html\n";
    }
  }
  return pass ? 0 : kExitFail;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "coffer-chaos: runs faults against a Coffer cluster of real node processes and "
      "checks what must hold (tests/chaos/README.md)"};
  app.require_subcommand(1);
  int exit_code = 0;
  app.add_subcommand("list", "the scenarios, R1 to R11")->callback([&] { exit_code = List(); });

  auto* run = app.add_subcommand("run", "run scenarios (R1 ... R11, or all) and check the cluster");
  std::vector<std::string> names;
  RunOptions options;
  std::string report, output;
  run->add_option("scenario", names, "scenarios to run: R1 ... R11, or all")->required();
  run->add_option("--seed", options.seed, "the seed of every random choice")->capture_default_str();
  run->add_option("--iterations", options.iterations,
                  "faults per scenario (R10: seeds); default: each scenario's short run")
      ->check(CLI::Range(1, 100'000));
  run->add_option("--duration", options.duration, "seconds of load around each fault")
      ->check(CLI::Range(0.2, 600.0));
  run->add_option("--pairs", options.pairs, "read-write pairs")
      ->check(CLI::Range(1, 4))
      ->capture_default_str();
  run->add_option("--read-only", options.read_only, "read-only nodes")
      ->check(CLI::Range(0, 4))
      ->capture_default_str();
  run->add_option("--clients", options.clients, "client threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  run->add_option("--local", options.local_dir,
                  "drive the running cluster in this directory (scripts/start-local.sh's "
                  ".cluster) instead of starting one: R1, R2, R5 and R10; it writes test "
                  "objects into that cluster")
      ->check(CLI::ExistingDirectory);
  run->add_option("--coffer", options.binary,
                  "the coffer binary the nodes run (default: next to this one)");
  run->add_option(
      "--plant", options.planted,
      "fault points armed in every node, comma-separated (a planted bug; needs a dev build)");
  run->add_option("--report", report, "the report folder (default chaos-report/TIMESTAMP)");
  run->add_option("-o,--output", output, "json: the whole result as JSON on stdout")
      ->check(CLI::IsMember({"text", "json"}));
  run->callback([&] { exit_code = Run(names, options, report, output == "json"); });

  auto* rep = app.add_subcommand("report", "print a run's results and redraw its timelines");
  std::string dir;
  rep->add_option("dir", dir, "a run's report folder")->required();
  rep->callback([&] { exit_code = Report(dir); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  return exit_code;
}

}  // namespace
}  // namespace coffer::chaos

int main(int argc, char** argv) {
  coffer::chaos::reaper::Install();
  return coffer::chaos::Main(argc, argv);
}
