// coffer node check-store: whether this binary could run a node's store,
// answered from a read-only open that changes nothing (the rolling upgrade's
// pre-check, semantics.md section 6).
#include <iostream>
#include <nlohmann/json.hpp>

#include "node/cli/cli_output.h"
#include "node/cli/commands.h"
#include "upgrade/store_check.h"

namespace coffer::node::cli {
namespace {

struct CheckStoreFlags {
  std::string data_dir;
  std::string output = "table";
};

int RunCheckStore(const CheckStoreFlags& f) {
  const upgrade::BinaryProfile& binary = upgrade::ThisBinary();
  auto check = upgrade::CheckStore(f.data_dir + "/db", binary);
  if (!check.ok()) return Fail(check.status());
  const bool runs = check->verdict.ok();
  const std::string supports = binary.versions.min_cluster_version.MinorString() + " to " +
                               binary.versions.max_cluster_version().MinorString();
  if (f.output == "json") {
    nlohmann::json out = {{"data_dir", f.data_dir},
                          {"store_exists", check->exists},
                          {"store_format", check->store_format},
                          {"clustered", check->clustered},
                          {"cluster", check->cluster_name},
                          {"cluster_version", check->cluster_version},
                          {"highest_fence", check->highest_fence},
                          {"binary_release", binary.versions.release.ToString()},
                          {"binary_supports", supports},
                          {"runs", runs},
                          {"code", std::string(CodeName(check->verdict.code()))},
                          {"message", check->verdict.message()}};
    std::cout << out.dump(2) << "\n";
  } else if (!check->exists) {
    std::cout << "no store in " << EscapeForTerminal(f.data_dir)
              << ": a new node, which this binary can start\n";
  } else {
    std::cout << "store " << EscapeForTerminal(f.data_dir) << ": format "
              << EscapeForTerminal(check->store_format) << ", "
              << (check->clustered
                      ? "cluster " + EscapeForTerminal(check->cluster_name) + ", cluster version " +
                            EscapeForTerminal(check->cluster_version.empty()
                                                  ? std::string("0.1 (none recorded)")
                                                  : check->cluster_version)
                      : std::string("standalone"))
              << (check->highest_fence.empty()
                      ? ""
                      : ", fenced " + EscapeForTerminal(check->highest_fence))
              << "\nthis binary: release " << binary.versions.release.ToString()
              << ", cluster versions " << supports << "\n";
    std::cout << (runs ? "OK: this binary can run this store\n"
                       : "refused: " + EscapeForTerminal(check->verdict.ToString()) + "\n");
  }
  return runs ? kExitOk : kExitError;
}

}  // namespace

void AddCheckStoreCommand(CLI::App* node) {
  auto flags = std::make_shared<CheckStoreFlags>();
  auto* cmd = node->add_subcommand(
      "check-store",
      "whether this binary could run the node store in --data-dir (read-only: changes nothing); "
      "exit 1 if not");
  cmd->add_option("--data-dir", flags->data_dir, "the node's data directory")->required();
  cmd->add_option("-o,--output", flags->output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  cmd->final_callback([flags] {
    int code = RunCheckStore(*flags);
    if (code != kExitOk) throw CLI::RuntimeError(code);
  });
}

}  // namespace coffer::node::cli
