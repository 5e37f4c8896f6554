#include "tests/chaos/report.h"

#include <fstream>

#include "tests/chaos/timeline.h"

namespace coffer::chaos {

using nlohmann::json;

json ToJson(const ScenarioResult& result) {
  json checks = json::array();
  for (const Check& c : result.checks) {
    checks.push_back({{"name", c.name},
                      {"pass", c.pass},
                      {"ran", c.ran},
                      {"figures", c.figures},
                      {"failures", c.failures}});
  }
  json figures = json::array();
  for (const auto& [name, value] : result.figures) figures.push_back({name, value});
  return {{"scenario", result.name},   {"title", result.title},   {"pass", result.pass},
          {"checks", checks},          {"figures", figures},      {"error", result.error},
          {"seconds", result.seconds}, {"replay", result.replay}, {"skipped", result.skipped}};
}

StatusOr<ScenarioResult> ScenarioResultFromJson(const json& j) {
  try {
    ScenarioResult r;
    r.name = j.at("scenario").get<std::string>();
    r.title = j.at("title").get<std::string>();
    r.pass = j.at("pass").get<bool>();
    r.error = j.at("error").get<std::string>();
    r.seconds = j.at("seconds").get<double>();
    r.replay = j.at("replay").get<std::string>();
    r.skipped = j.value("skipped", false);
    for (const auto& c : j.at("checks")) {
      Check check{c.at("name").get<std::string>()};
      check.pass = c.at("pass").get<bool>();
      check.ran = c.value("ran", true);
      check.figures = c.at("figures").get<std::string>();
      check.failures = c.at("failures").get<std::vector<std::string>>();
      r.checks.push_back(std::move(check));
    }
    for (const auto& f : j.at("figures")) {
      r.figures.emplace_back(f.at(0).get<std::string>(), f.at(1).get<std::string>());
    }
    return r;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("result.json: ") + e.what());
  }
}

std::string FormatResult(const ScenarioResult& r) {
  char head[64];
  std::snprintf(head, sizeof head, "  (%.1f s)", r.seconds);
  std::string verdict = r.skipped ? " SKIP  " : r.pass ? " PASS  " : " FAIL  ";
  std::string out = r.name + verdict + r.title + head + "\n";
  if (!r.error.empty()) out += std::string(r.skipped ? "    why: " : "    ERROR ") + r.error + "\n";
  for (const Check& c : r.checks) {
    std::string name = c.name;
    name.resize(std::max<size_t>(name.size() + 1, 16), ' ');
    const char* verdict = !c.pass ? "FAIL  " : c.ran ? "PASS  " : "n/a   ";
    out += std::string("    ") + verdict + name + c.figures + "\n";
    for (const auto& f : c.failures) out += "          - " + f + "\n";
  }
  if (!r.figures.empty()) {
    out += "    figures:";
    for (size_t i = 0; i < r.figures.size(); ++i) {
      out += (i == 0 ? " " : "; ") + r.figures[i].first + " " + r.figures[i].second;
    }
    out += "\n";
  }
  if (!r.pass && !r.skipped) out += "    replay: " + r.replay + "\n";
  return out;
}

namespace {

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Internal("cannot write " + path);
  return Status::Ok();
}

}  // namespace

Status WriteScenarioReport(const std::string& dir, const ScenarioResult& result,
                           const History& history) {
  COFFER_RETURN_IF_ERROR(history.WriteTo(dir));
  COFFER_RETURN_IF_ERROR(WriteFile(dir + "/result.json", ToJson(result).dump(2) + "\n"));
  std::string title = result.name + ": " + result.title;
  COFFER_RETURN_IF_ERROR(WriteFile(dir + "/timeline.svg", RenderTimelineSvg(history, title)));
  return WriteFile(dir + "/timeline.html", RenderTimelineHtml(history, title));
}

}  // namespace coffer::chaos
