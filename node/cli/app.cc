#include "node/cli/app.h"

#include <algorithm>
#include <iostream>
#include <map>

#include "common/edit_distance.h"
#include "node/cli/commands.h"
#include "upgrade/binary_profile.h"

namespace coffer::node::cli {

namespace {

std::vector<const CLI::App*> SubcommandsOf(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App*) { return true; });
}

// "coffer wallet", "coffer endpoint", ...: the groups below `app` (itself
// included) that have a command named `word`.
void GroupsWithCommand(const CLI::App& app, const std::string& path, const std::string& word,
                       std::vector<std::string>* out) {
  for (const CLI::App* sub : SubcommandsOf(app)) {
    if (sub->get_name() == word) out->push_back(path);
    GroupsWithCommand(*sub, path + " " + sub->get_name(), word, out);
  }
}

std::string Joined(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

}  // namespace

std::string UnknownCommandError(const CLI::App& app, const std::vector<std::string>& args) {
  const CLI::App* group = &app;
  std::string path = app.get_name().empty() ? "coffer" : app.get_name();
  for (const std::string& word : args) {
    // Options of a command group (--help, --version) take no value.
    if (word.empty() || word[0] == '-') continue;
    std::vector<const CLI::App*> commands = SubcommandsOf(*group);
    auto found = std::find_if(commands.begin(), commands.end(),
                              [&](const CLI::App* c) { return c->check_name(word); });
    if (found != commands.end()) {
      if (SubcommandsOf(**found).empty()) return "";  // a command: CLI11 parses the rest
      group = *found;
      path += " " + word;
      continue;
    }
    std::vector<std::string> names;
    for (const CLI::App* c : commands) names.push_back(c->get_name());
    std::sort(names.begin(), names.end());
    // Near: a few edits away (at most a third of the word, at least 2), or
    // one a prefix of the other.
    std::vector<std::pair<size_t, std::string>> near;
    for (const std::string& name : names) {
      size_t distance = EditDistance(word, name);
      bool prefix = name.rfind(word, 0) == 0 || word.rfind(name, 0) == 0;
      if (distance <= std::max<size_t>(2, word.size() / 3) || prefix) {
        near.push_back({prefix ? 0 : distance, name});
      }
    }
    std::sort(near.begin(), near.end());
    std::vector<std::string> suggestions;
    for (const auto& [distance, name] : near) suggestions.push_back("'" + path + " " + name + "'");
    // Words other tools use for a command this group has under another name.
    const std::map<std::string, std::string> synonyms = {
        {"list", "locate"}, {"find", "locate"}, {"search", "locate"}, {"ls", "list"},
        {"show", "get"},    {"info", "status"}, {"rm", "delete"}};
    if (auto it = synonyms.find(word);
        it != synonyms.end() && std::find(names.begin(), names.end(), it->second) != names.end()) {
      suggestions.insert(suggestions.begin(), "'" + path + " " + it->second + "'");
    }
    if (group->get_option_no_throw("--" + word) != nullptr) {
      suggestions.insert(suggestions.begin(), "'" + path + " --" + word + "'");
    }
    std::vector<std::string> elsewhere;
    GroupsWithCommand(app, app.get_name().empty() ? "coffer" : app.get_name(), word, &elsewhere);
    for (const std::string& other : elsewhere)
      suggestions.push_back("'" + other + " " + word + "'");
    std::string text = "INVALID_ARGUMENT: unknown command '" + word + "' for '" + path + "'";
    if (!suggestions.empty()) text += "; did you mean " + Joined(suggestions) + "?";
    text += "\ncommands of '" + path + "': " + Joined(names) + " (" + path + " --help)";
    return text;
  }
  return "";
}

std::unique_ptr<CLI::App> BuildApp() {
  auto app = std::make_unique<CLI::App>("coffer: a multi-master replicated key vault");
  app->set_version_flag("--version", upgrade::ThisBinary().versions.release.ToString());
  app->require_subcommand(1);
  const ClientFlags defaults = ClientFlagsFromEnvironment();
  AddConfigCommands(*app);
  AddCertCommands(*app);
  AddNodeCommands(*app, defaults);
  AddObjectCommands(*app, defaults);
  AddWalletCommands(*app, defaults);
  AddEndpointCommands(*app, defaults);
  AddConflictCommands(*app, defaults);
  AddClusterCommands(*app, defaults);
  AddUpgradeCommands(*app, defaults);
  AddAuditCommands(*app);
  return app;
}

int RunApp(CLI::App& app, int argc, char** argv) {
  std::string unknown = UnknownCommandError(app, std::vector<std::string>(argv + 1, argv + argc));
  if (!unknown.empty()) {
    std::cerr << "error: " << unknown << "\n";
    return kExitError;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitError;
  }
  return kExitOk;
}

}  // namespace coffer::node::cli
