#include "node/orchestrator/run_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace coffer::node::orchestrator {
namespace {

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

}  // namespace

bool ProcessAlive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // "pid (comm) S ...": the state follows the last ')'.
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

StatusOr<CommandResult> RunCommand(const std::vector<std::string>& command,
                                   std::chrono::milliseconds timeout) {
  if (command.empty()) return InvalidArgument("empty command");
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Unavailable(std::string("pipe: ") + strerror(errno));
  std::vector<std::string> args = command;
  std::vector<char*> argv = Argv(args);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Unavailable(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  char buffer[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: every writer closed
    size_t room = kMaxCommandOutputBytes - std::min(kMaxCommandOutputBytes, result.output.size());
    result.output.append(buffer, std::min(room, static_cast<size_t>(n)));
  }
  ::close(out[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return Unavailable("'" + command[0] + "' did not finish within " +
                       std::to_string(timeout.count()) + " ms");
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (result.exit_code == 127 && result.output.empty()) {
    return Unavailable("cannot run '" + command[0] + "'");
  }
  return result;
}

StatusOr<CommandResult> RunShell(const std::string& command, std::chrono::milliseconds timeout) {
  return RunCommand({"/bin/sh", "-c", command}, timeout);
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

StatusOr<pid_t> SpawnDaemon(const std::vector<std::string>& command, const std::string& output_file,
                            const std::string& cwd) {
  if (command.empty()) return InvalidArgument("empty command");
  int pid_pipe[2];
  if (::pipe2(pid_pipe, O_CLOEXEC) != 0) {
    return Unavailable(std::string("pipe: ") + strerror(errno));
  }
  std::vector<std::string> args = command;
  std::vector<char*> argv = Argv(args);
  pid_t middle = ::fork();
  if (middle < 0) {
    ::close(pid_pipe[0]);
    ::close(pid_pipe[1]);
    return Unavailable(std::string("fork: ") + strerror(errno));
  }
  if (middle == 0) {
    ::setsid();
    pid_t daemon = ::fork();
    if (daemon == 0) {
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      int null = ::open("/dev/null", O_RDONLY);
      int log = ::open(output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (null < 0 || log < 0) ::_exit(126);
      ::dup2(null, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ssize_t ignored = ::write(pid_pipe[1], &daemon, sizeof daemon);
    (void)ignored;
    ::_exit(daemon > 0 ? 0 : 1);
  }
  ::close(pid_pipe[1]);
  pid_t daemon = -1;
  ssize_t n = ::read(pid_pipe[0], &daemon, sizeof daemon);
  ::close(pid_pipe[0]);
  int status = 0;
  while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof daemon || daemon <= 0) return Unavailable("could not start '" + command[0] + "'");
  return daemon;
}

}  // namespace coffer::node::orchestrator
