// The `coffer` command line: the command tree and running it.
//
// Exit codes: 0 ok, 1 error (also a command line that does not parse), 2
// degraded (the node answers but cannot take critical writes).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

namespace coffer::node::cli {

// The whole command tree; client commands start from the COFFER_*
// environment (ClientFlagsFromEnvironment).
std::unique_ptr<CLI::App> BuildApp();

// Parses `argc/argv` and runs the chosen command; returns the exit code.
int RunApp(CLI::App& app, int argc, char** argv);

}  // namespace coffer::node::cli
