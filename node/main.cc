// `coffer`: the one binary. Run a node, manage certificates and configs, and
// talk to a node over the client API. Flags and config files are parsed here
// only (architecture.md #10); the commands are in node/cli/.
//
// Built a second time as `coffer-next` (CMake option
// COFFER_BUILD_NEXT_RELEASE) for the mixed-version tests: the same code run
// as the next minor release (upgrade/binary_profile.h).
#include "node/cli/app.h"
#include "upgrade/binary_profile.h"

int main(int argc, char** argv) {
#ifdef COFFER_RUN_AS_NEXT_RELEASE
  coffer::upgrade::RunAsNextRelease();
#endif
  std::unique_ptr<CLI::App> app = coffer::node::cli::BuildApp();
  return coffer::node::cli::RunApp(*app, argc, argv);
}
