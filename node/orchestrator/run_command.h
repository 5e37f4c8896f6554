// Running a helper program for the orchestrator's controllers: `coffer
// --version`, `node check-store`, and the command templates of
// command_controller.h. Bounded in time and in the output kept.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace coffer::node::orchestrator {

struct CommandResult {
  int exit_code = -1;  // -1: killed (timeout) or did not run
  std::string output;  // stdout and stderr together, at most kMaxCommandOutputBytes
};

// Output kept from one command; the rest is read and dropped.
inline constexpr size_t kMaxCommandOutputBytes = 64 * 1024;

// Runs `argv` (argv[0] is looked up on PATH) with stdin from /dev/null and
// waits for it, killing it (SIGKILL) after `timeout`. UNAVAILABLE if it
// cannot be started or timed out; otherwise its exit code and output.
StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout);

// Runs `command` with /bin/sh -c.
StatusOr<CommandResult> RunShell(const std::string& command, std::chrono::milliseconds timeout);

// Quotes `text` for a POSIX shell ('...' with ' escaped).
std::string ShellQuote(const std::string& text);

// Starts `argv` as a daemon: in a new session, its parent the init process
// (not this one: it outlives the orchestrator, and never becomes a zombie
// of it), stdin /dev/null, stdout and stderr appended to `output_file`,
// working directory `cwd`. Returns its pid.
StatusOr<pid_t> SpawnDaemon(const std::vector<std::string>& argv, const std::string& output_file,
                            const std::string& cwd);

// True while process `pid` exists and is not a zombie.
bool ProcessAlive(pid_t pid);

}  // namespace coffer::node::orchestrator
