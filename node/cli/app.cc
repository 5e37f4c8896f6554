#include "node/cli/app.h"

#include "node/cli/commands.h"
#include "upgrade/version.h"

namespace coffer::node::cli {

std::unique_ptr<CLI::App> BuildApp() {
  auto app = std::make_unique<CLI::App>("coffer: a multi-master replicated key vault");
  app->set_version_flag("--version", std::string(kReleaseVersion));
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
  return app;
}

int RunApp(CLI::App& app, int argc, char** argv) {
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
