// coffer node start|status|disable|enable|delete|force-delete (check-store: check_store_cmd.cc)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/fault_point.h"
#include "common/log.h"
#include "node/cli/commands.h"
#include "node/client/client.h"
#include "node/cluster/join.h"
#include "node/config/config.h"
#include "node/node.h"

namespace coffer::node::cli {
namespace {

struct StartFlags {
  std::string config_path;  // "" = embedded defaults
  std::string join_address;
  std::string join_token;
  double join_retry_for = 300;
  uint32_t join_chunk_entries = 0;  // 0 = JoinOptions' default
};

struct NodeStatusFlags {
  ClientFlags client;
};

struct NodeLifecycleFlags {
  ClientFlags client;
  std::string target;
  bool wait = false;
  bool allow_multiple = false;
  int wait_seconds = 600;
};

// Runs a node in the foreground (joining a cluster first with --join).
void RunStart(const StartFlags& flags) {
  NodeConfig config;
  if (!flags.config_path.empty()) {
    auto loaded = LoadConfigFile(flags.config_path);
    if (!loaded.ok()) {
      std::cerr << loaded.status().message() << "\n";
      throw CLI::RuntimeError(kExitError);
    }
    config = *loaded;
  }
  LogOptions log{config.log.level, config.log.format, config.log.file};
  Status s = InitLogging(log);
  if (!s.ok()) throw CLI::RuntimeError(Fail(s));
  auto passphrase = ReadPassphrase(config);
  if (!passphrase.ok()) throw CLI::RuntimeError(Fail(passphrase.status()));
  if (const char* spec = std::getenv(fault::kArmEnvironmentVariable); spec != nullptr) {
    // Planted bugs for the chaos harness (tests/chaos/README.md, R11).
    auto armed = fault::ArmFromSpec(spec);
    if (!armed.ok()) throw CLI::RuntimeError(Fail(armed.status()));
    for (const auto& name : *armed) spdlog::warn("planted bug armed: fault point {}", name);
  }
  if (!flags.join_address.empty()) {
    JoinOptions options{flags.join_address, flags.join_token};
    options.controller_retry_for =
        std::chrono::milliseconds(static_cast<int64_t>(flags.join_retry_for * 1000));
    options.chunk_entries = flags.join_chunk_entries;
    // A bar redrawn in place on a terminal; otherwise a plain line at most
    // once a second, and the last one.
    const bool terminal = isatty(fileno(stderr)) != 0;
    double last_line = -1;
    s = JoinCluster(config, *passphrase, options, [&](const JoinProgress& p) {
      if (!terminal && !p.done && last_line >= 0 && p.seconds - last_line < 1.0) return;
      last_line = p.seconds;
      std::cerr << RenderJoinProgress(p, terminal) << std::flush;
    });
    if (!s.ok()) {
      spdlog::error("cannot join: {}", s.ToString());
      throw CLI::RuntimeError(Fail(s));
    }
  }
  // A harness's clock jumps (coffer-chaos R8): only with fault points, like
  // planted bugs, so a release binary never reads its time from a file.
  std::unique_ptr<OffsetFileClock> test_clock;
  if (const char* path = std::getenv(kClockOffsetFileVariable); path != nullptr) {
    if (!fault::Enabled()) {
      throw CLI::RuntimeError(Fail(InvalidArgument(std::string(kClockOffsetFileVariable) +
                                                   " is set but this build has no fault points")));
    }
    test_clock = std::make_unique<OffsetFileClock>(path);
    spdlog::warn("wall clock moved by the offset in {} (a test harness's clock jumps)", path);
  }
  auto running = Node::Start(config, std::move(passphrase).value(), NodeEnv{test_clock.get()});
  if (!running.ok()) {
    spdlog::error("cannot start: {}", running.status().ToString());
    throw CLI::RuntimeError(Fail(running.status()));
  }
  s = (*running)->RunUntilSignal();
  if (!s.ok()) throw CLI::RuntimeError(Fail(s));
}

void AddStartCommand(CLI::App* node) {
  auto flags = std::make_shared<StartFlags>();
  auto* start = node->add_subcommand("start", "run a node in the foreground until SIGINT/SIGTERM");
  start->add_option("--config", flags->config_path,
                    "node config file (TOML); omitted: embedded defaults");
  auto* join = start->add_option(
      "--join", flags->join_address,
      "join a cluster first: the client API address (host:port) of a controller node");
  start->add_option("--token", flags->join_token, "the join token from `coffer cluster join-token`")
      ->needs(join);
  join->needs("--token");
  start
      ->add_option("--join-retry-for", flags->join_retry_for,
                   "seconds to keep retrying while the controller is unreachable mid-transfer")
      ->check(CLI::Range(0.0, 86400.0))
      ->needs(join);
  start
      ->add_option("--join-chunk-entries", flags->join_chunk_entries,
                   "most snapshot entries per chunk (default 512, at most 4096); chunks are "
                   "also cut by bytes (docs/limits.md)")
      ->check(CLI::Range(1u, 4096u))
      ->needs(join);
  start->final_callback([flags] { RunStart(*flags); });
}

// Finds a member by name or id, as the node at --address sees membership.
StatusOr<pb::MemberView> FindMember(const ClientFlags& flags, const std::string& node) {
  pb::Request request;
  request.mutable_cluster_status();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(flags, request));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
  for (const auto& m : response.cluster_status().members()) {
    if (m.name() == node || std::to_string(m.node_id()) == node) return m;
  }
  return NotFound("no member '" + node + "' in the cluster as " + flags.address + " sees it");
}

// Polls the node at --address until member `node_id` is in one of `states`
// ("" = no longer a member), printing each change; at most `timeout_seconds`.
int WaitForMemberState(const ClientFlags& flags, uint32_t node_id,
                       const std::set<std::string>& states, int timeout_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  std::string last = "?";
  while (true) {
    pb::Request request;
    request.mutable_cluster_status();
    auto response = Call(flags, request);
    std::string state;
    if (response.ok() && StatusFromResponse(*response).ok()) {
      for (const auto& m : response->cluster_status().members()) {
        if (m.node_id() == node_id) state = m.state();
      }
      if (state != last) {
        std::cout << "node " << node_id << ": "
                  << (state.empty() ? "deleted" : EscapeForTerminal(state)) << "\n";
      }
      last = state;
      if (states.contains(state)) return kExitOk;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::cerr << "error: UNAVAILABLE: node " << node_id
                << " did not reach the expected state within " << timeout_seconds << " s\n";
      return kExitError;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
  }
}

// coffer node disable|enable|delete|force-delete NODE [--wait]
void AddLifecycleCommands(CLI::App* node, const ClientFlags& defaults) {
  struct Step {
    const char* name;
    const char* help;
    std::set<std::string> done;  // states that end --wait ("" = deleted)
  };
  const Step steps[] = {
      {"disable",
       "stop client writes on NODE, hand its records to the others, then DISABLED (any node)",
       {"DISABLED", "EXPIRED"}},
      {"enable",
       "bring a DISABLED node back: run it on that node; ACTIVE once caught up",
       {"ACTIVE"}},
      {"delete", "remove a DISABLED node from the cluster (run it on another node)", {""}},
      {"force-delete",
       "remove any other node: dead, unreachable or EXPIRED (records only it holds are lost)",
       {""}},
  };
  for (const Step& step : steps) {
    auto cmd = AddClientCommand<NodeLifecycleFlags>(
        node, step.name, step.help, defaults, false,
        [verb = std::string(step.name), done = step.done](const NodeLifecycleFlags& f) {
          auto member = FindMember(f.client, f.target);
          if (!member.ok()) return Fail(member.status());
          pb::Op op;
          if (verb == "disable" || verb == "enable") {
            op.mutable_node_state()->set_node_id(member->node_id());
            op.mutable_node_state()->set_state(verb == "disable" ? pb::NODE_DISABLING
                                                                 : pb::NODE_ENABLING);
            op.mutable_node_state()->set_allow_multiple_disabled(f.allow_multiple);
          } else {
            op.mutable_node_delete()->set_node_id(member->node_id());
            op.mutable_node_delete()->set_force(verb == "force-delete");
          }
          int code = RunWrite(f.client, op);
          if (code != kExitOk || !f.wait) return code;
          return WaitForMemberState(f.client, member->node_id(), done, f.wait_seconds);
        });
    cmd.app->add_option("NODE", cmd.flags->target, "node name or id")->required();
    cmd.app->add_flag("--wait", cmd.flags->wait,
                      "wait until the step has finished, printing each state");
    cmd.app->add_option("--wait-timeout", cmd.flags->wait_seconds, "seconds --wait waits at most")
        ->check(CLI::Range(1, 7 * 24 * 3600))
        ->capture_default_str();
    if (std::string(step.name) == "disable") {
      cmd.app->add_flag("--allow-multiple", cmd.flags->allow_multiple,
                        "disable although another node is already disabled");
    }
  }
}

}  // namespace

void AddNodeCommands(CLI::App& app, const ClientFlags& defaults) {
  auto* node = app.add_subcommand("node", "run a node and ask it about itself");
  node->require_subcommand(1);
  AddStartCommand(node);
  AddLifecycleCommands(node, defaults);
  AddCheckStoreCommand(node);
  AddClientCommand<NodeStatusFlags>(
      node, "status", "the node's identity, mode, position and digest", defaults, true,
      [](const NodeStatusFlags& f) {
        pb::Request request;
        request.mutable_node_status();
        auto response = Call(f.client, request);
        if (!response.ok()) return Fail(response.status());
        Status s = StatusFromResponse(*response);
        if (!s.ok()) return Fail(s);
        std::cout << RenderNodeStatus(response->node_status(), Format(f.client));
        return response->node_status().mode() != "read-write" ? kExitDegraded : kExitOk;
      });
}

}  // namespace coffer::node::cli
