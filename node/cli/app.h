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

// When `args` (the command line without the program name) puts a word that
// is no command where `app` or one of its command groups expects one: the
// error to print, naming the word, the nearest commands (by edit distance,
// and the groups that have a command of that name) or else every command of
// that group. "" otherwise (CLI11 then parses as usual).
std::string UnknownCommandError(const CLI::App& app, const std::vector<std::string>& args);

// Parses `argc/argv` and runs the chosen command; returns the exit code. An
// unknown command prints UnknownCommandError and exits 1.
int RunApp(CLI::App& app, int argc, char** argv);

}  // namespace coffer::node::cli
