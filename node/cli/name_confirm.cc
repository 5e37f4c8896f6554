#include "node/cli/name_confirm.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <thread>

#include "node/cli/cli_common.h"

namespace coffer::node::cli {
namespace {

std::string DurationText(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

std::string NameStateName(NameState state) {
  switch (state) {
    case NameState::kActive:
      return "ACTIVE";
    case NameState::kLost:
      return "LOST";
    case NameState::kPending:
      break;
  }
  return "PENDING";
}

NameState DecideName(const std::string& supplied, const NameView& view) {
  if (view.name != supplied) return NameState::kLost;
  return view.confirmed ? NameState::kActive : NameState::kPending;
}

NameReport RenderNameReport(const std::string& kind, const std::string& raw_uuid,
                            const std::string& raw_supplied, NameState state,
                            const std::string& raw_name, std::chrono::milliseconds waited,
                            OutputFormat format) {
  NameReport report;
  if (format == OutputFormat::kJson) {  // exact strings; the text below is escaped
    nlohmann::ordered_json doc;
    doc["uuid"] = raw_uuid;
    doc["name_state"] = NameStateName(state);
    doc["name"] = raw_supplied;
    doc["generated_name"] = state == NameState::kLost ? raw_name : "";
    report.out = doc.dump(2) + "\n";
  }
  const std::string uuid = EscapeForTerminal(raw_uuid);
  const std::string supplied = EscapeForTerminal(raw_supplied);
  const std::string name = EscapeForTerminal(raw_name);
  const bool waiting = waited.count() > 0;
  switch (state) {
    case NameState::kActive:
      report.exit_code = kExitOk;
      break;
    case NameState::kPending:
      report.exit_code = waiting ? kExitDegraded : kExitOk;
      break;
    case NameState::kLost:
      report.exit_code = kExitError;
      report.err = "error: " + std::string(CodeName(Code::kAlreadyExists)) + ": name '" + supplied +
                   "' was taken by a concurrent creation on another pair; " + kind + " " + uuid +
                   " was created and carries the generated name '" + name +
                   "' (see `coffer conflict list`); keep it with `coffer conflict accept " + kind +
                   " " + uuid + "` or name it with `coffer conflict rename " + kind + " " + uuid +
                   " NEW-NAME`\n";
      break;
  }
  if (format == OutputFormat::kJson) return report;
  report.out = uuid + "\n";
  switch (state) {
    case NameState::kActive:
      report.out += "name '" + supplied + "' confirmed\n";
      break;
    case NameState::kPending:
      report.out += "name '" + supplied + "' is PENDING" +
                    (waiting ? " still, after " + DurationText(waited) : std::string()) +
                    ": a concurrent creation on another pair may still take it until "
                    "replication confirms it; check with `coffer " +
                    kind + " show " + uuid + "` (ACTIVE: confirmed) and `coffer conflict list`" +
                    (waiting ? "" : ", or create with --wait 10s") + "\n";
      break;
    case NameState::kLost:
      report.out += "name '" + supplied + "' LOST to a concurrent creation: this " + kind +
                    " is named '" + name + "'\n";
      break;
  }
  return report;
}

StatusOr<std::chrono::milliseconds> ParseWait(const std::string& text) {
  auto bad = [&] {
    return InvalidArgument("--wait '" + text + "' is not a duration (e.g. 10s, 500ms, 2m)");
  };
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || n < 0 || n > 24 * 3600 * 1000) return bad();
  std::string unit(end, text.data() + text.size());
  if (unit == "ms" || (unit.empty() && n == 0)) return std::chrono::milliseconds(n);
  if (unit == "s") return std::chrono::milliseconds(n * 1000);
  if (unit == "m" && n <= 24 * 60) return std::chrono::milliseconds(n * 60 * 1000);
  return bad();
}

StatusOr<NameWait> WaitForName(const std::string& supplied, const NameProbe& probe,
                               std::chrono::milliseconds wait, std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  NameWait seen{NameState::kPending, supplied};
  while (true) {
    StatusOr<NameView> view = probe();
    if (view.ok()) {
      seen = {DecideName(supplied, *view), view->name};
      if (seen.state != NameState::kPending) return seen;
    } else if (view.status().code() != Code::kNotFound &&
               view.status().code() != Code::kUnavailable) {
      return view.status();
    }
    if (std::chrono::steady_clock::now() >= deadline) return seen;
    // Poll interval, bounded by the deadline.
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(poll, deadline - std::chrono::steady_clock::now()));
  }
}

}  // namespace coffer::node::cli
