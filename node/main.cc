// `coffer`: the one binary. Run a node, manage certificates and configs, and
// talk to a node over the client API. Flags and config files are parsed here
// only (architecture.md #10); the commands are in node/cli/.
#include "node/cli/app.h"

int main(int argc, char** argv) {
  std::unique_ptr<CLI::App> app = coffer::node::cli::BuildApp();
  return coffer::node::cli::RunApp(*app, argc, argv);
}
