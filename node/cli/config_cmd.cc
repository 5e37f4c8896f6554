// coffer config check|print-default
#include <iostream>

#include "node/cli/commands.h"
#include "node/config/config.h"

namespace coffer::node::cli {

void AddConfigCommands(CLI::App& app) {
  auto* config = app.add_subcommand("config", "check and print node configuration files");
  config->require_subcommand(1);
  struct CheckFlags {
    std::string path;
  };
  auto check_flags = std::make_shared<CheckFlags>();
  auto* check = config->add_subcommand("check", "validate a config file (errors as FILE:LINE:COL)");
  check->add_option("FILE", check_flags->path)->required();
  check->final_callback([check_flags] {
    auto parsed = LoadConfigFile(check_flags->path);
    if (!parsed.ok()) {
      std::cerr << parsed.status().message() << "\n";
      throw CLI::RuntimeError(kExitError);
    }
    std::cout << check_flags->path << ": ok\n";
  });
  auto* print = config->add_subcommand("print-default", "print the default config with comments");
  print->final_callback([] { std::cout << DefaultConfigToml(); });
}

}  // namespace coffer::node::cli
