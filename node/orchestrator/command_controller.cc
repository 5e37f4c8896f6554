#include "node/orchestrator/command_controller.h"

#include <toml++/toml.h>

#include "common/release.h"
#include "node/orchestrator/run_command.h"

namespace coffer::node::orchestrator {
namespace {

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

StatusOr<CommandTemplates> LoadCommandTemplates(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(path + ": " + std::string(e.description()));
  }
  CommandTemplates t;
  const std::pair<const char*, std::string*> commands[] = {{"running", &t.running},
                                                           {"installed", &t.installed},
                                                           {"stop", &t.stop},
                                                           {"start", &t.start},
                                                           {"swap", &t.swap},
                                                           {"version", &t.version},
                                                           {"check_store", &t.check_store}};
  for (auto&& [key, value] : root) {
    if (key != "commands" && key != "hosts") {
      return InvalidArgument(path + ": unknown table [" + std::string(key.str()) + "]");
    }
  }
  const toml::table* table = root["commands"].as_table();
  if (table == nullptr) return InvalidArgument(path + ": no [commands] table");
  for (auto&& [key, value] : *table) {
    bool known = key == "timeout_seconds";
    for (const auto& [name, field] : commands) known = known || key == name;
    if (!known) return InvalidArgument(path + ": unknown key commands." + std::string(key.str()));
  }
  for (const auto& [name, field] : commands) {
    auto text = (*table)[name].value<std::string>();
    if (!text || text->empty()) return InvalidArgument(path + ": commands." + name + " is missing");
    *field = *text;
  }
  if (auto seconds = (*table)["timeout_seconds"].value<int64_t>()) {
    if (*seconds < 1 || *seconds > 3600) {
      return InvalidArgument(path + ": commands.timeout_seconds must be 1..3600");
    }
    t.timeout = std::chrono::seconds(*seconds);
  }
  if (const toml::table* hosts = root["hosts"].as_table()) {
    for (auto&& [key, value] : *hosts) {
      auto host = value.value<std::string>();
      if (!host)
        return InvalidArgument(path + ": hosts." + std::string(key.str()) + " is not text");
      t.hosts[std::string(key.str())] = *host;
    }
  }
  return t;
}

std::string ExpandTemplate(const std::string& text, const std::string& node,
                           const std::string& host, const std::string& binary) {
  const std::pair<std::string, std::string> values[] = {
      {"{node}", ShellQuote(node)}, {"{host}", ShellQuote(host)}, {"{binary}", ShellQuote(binary)}};
  std::string out;
  for (size_t i = 0; i < text.size();) {
    bool replaced = false;
    for (const auto& [key, value] : values) {
      if (text.compare(i, key.size(), key) == 0) {
        out += value;
        i += key.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out += text[i++];
  }
  return out;
}

StatusOr<std::string> CommandController::Run(const std::string& what, const std::string& text,
                                             const std::string& node, const std::string& binary) {
  auto host = t_.hosts.find(node);
  std::string command =
      ExpandTemplate(text, node, host == t_.hosts.end() ? node : host->second, binary);
  COFFER_ASSIGN_OR_RETURN(CommandResult r, RunShell(command, t_.timeout));
  if (r.exit_code != 0) {
    return Unavailable(what + " of node " + node + " failed (exit " + std::to_string(r.exit_code) +
                       "): " + Trim(r.output).substr(0, 500));
  }
  return Trim(r.output);
}

StatusOr<ProcessView> CommandController::Observe(const std::string& node) {
  ProcessView view;
  auto host = t_.hosts.find(node);
  std::string running =
      ExpandTemplate(t_.running, node, host == t_.hosts.end() ? node : host->second, "");
  COFFER_ASSIGN_OR_RETURN(CommandResult r, RunShell(running, t_.timeout));
  view.running = r.exit_code == 0;
  COFFER_ASSIGN_OR_RETURN(view.installed_binary, Run("installed", t_.installed, node));
  return view;
}

Status CommandController::Stop(const std::string& node) {
  return Run("stop", t_.stop, node).status();
}

Status CommandController::Start(const std::string& node) {
  return Run("start", t_.start, node).status();
}

Status CommandController::Swap(const std::string& node, const std::string& binary) {
  return Run("swap", t_.swap, node, binary).status();
}

StatusOr<std::string> CommandController::BinaryRelease(const std::string& node,
                                                       const std::string& binary) {
  auto text = Run("version", t_.version, node, binary);
  if (!text.ok()) return NotFound(text.status().message());
  if (!Release::Parse(*text)) return NotFound(binary + " reports '" + *text + "', not a release");
  return *text;
}

Status CommandController::CheckStore(const std::string& node, const std::string& binary) {
  auto out = Run("check_store", t_.check_store, node, binary);
  if (out.ok()) return Status::Ok();
  return Status(Code::kIncompatibleVersion, out.status().message());
}

}  // namespace coffer::node::orchestrator
