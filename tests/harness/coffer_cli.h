// Running the real `coffer` CLI binary (COFFER_BIN, defined by the test
// target) against a NodeProcess, as a user would.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "tests/harness/node_process.h"

namespace coffer::integration {

// Runs the shell command line `command` as it is; returns its exit code
// (-1 if it did not exit), with what it wrote to stdout in *output (if
// given).
inline int RunShell(const std::string& command, std::string* output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs `coffer ARGS`; returns its exit code (-1 if it did not exit), with
// stdout (and, unless `stdout_only`, stderr after it) in *output.
inline int Coffer(const std::string& args, std::string* output, bool stdout_only = false) {
  return RunShell(std::string(COFFER_BIN) + " " + args + (stdout_only ? " 2>/dev/null" : " 2>&1"),
                  output);
}

// " --address NODE --ca ... --cert ... --key ...": an admin certificate of
// the node's CA, written once into its directory (cli.pem, cli.key).
inline std::string CofferFlags(const NodeProcess& node) {
  const std::string dir = node.dir();
  if (!std::filesystem::exists(dir + "/cli.pem")) {
    auto admin = *node::IssueCertificate(node.ca(), {"cli", "admin", {}, {}, 30});
    EXPECT_TRUE(node::WritePemPair(admin, dir + "/cli.pem", dir + "/cli.key").ok());
  }
  return " --address " + node.address() + " --ca " + dir + "/ca.pem --cert " + dir +
         "/cli.pem --key " + dir + "/cli.key";
}

}  // namespace coffer::integration
