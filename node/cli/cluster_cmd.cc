// coffer cluster init|join-token|status|set|version|verify
#include <chrono>
#include <iostream>
#include <map>
#include <thread>

#include "node/cli/commands.h"
#include "node/client/client.h"
#include "node/monitoring/cluster_gather.h"
#include "node/monitoring/health.h"

namespace coffer::node::cli {
namespace {

struct InitFlags {
  ClientFlags client;
  std::string name;
  std::string node_name;  // "" = node.name from the node's config
};

struct JoinTokenFlags {
  ClientFlags client;
  std::string role = "read-only";
  int64_t ttl_seconds = 3600;
};

struct ClusterStatusFlags {
  ClientFlags client;
};

struct ClusterSetFlags {
  ClientFlags client;
  uint64_t max_disable_seconds = 0;
};

struct VersionFlags {
  ClientFlags client;
  std::string action = "show";  // show | hold | release
};

struct VerifyFlags {
  ClientFlags client;
  int wait_seconds = 10;
};

// The cluster status from the node at --address, plus every other member's
// own status, asked at its client address with the same credentials.
StatusOr<pb::ClusterStatus> GatherClusterStatus(const ClientFlags& flags) {
  pb::Request request;
  request.mutable_cluster_status();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(flags, request));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
  pb::ClusterStatus status = response.cluster_status();
  GatherMemberStatuses(status, [&](const std::string& address, const pb::Request& ask) {
    ClientFlags member = flags;
    member.address = address;
    return Call(member, ask);
  });
  return status;
}

// Degraded: a member did not answer, or a read-write member is restricted,
// or a member's store is in a storage fault.
bool Degraded(const pb::ClusterStatus& status) {
  if (!status.unreachable().empty()) return true;
  if (status.self().mode() == "restricted" || StorageFaulted(status.self())) return true;
  for (const auto& n : status.nodes()) {
    if (n.mode() == "restricted" || StorageFaulted(n)) return true;
  }
  return false;
}

// "" if every member answered with the same digest; else what differs.
std::string DigestVerdict(const pb::ClusterStatus& status) {
  if (!status.unreachable().empty()) {
    return std::to_string(status.unreachable_size()) + " of " +
           std::to_string(status.members_size()) + " nodes did not answer";
  }
  std::map<std::string, std::vector<std::string>> by_digest;
  by_digest[status.self().digest()].push_back(status.self().node_name());
  for (const auto& n : status.nodes()) by_digest[n.digest()].push_back(n.node_name());
  if (by_digest.size() == 1) return "";
  std::string text = "digests differ:";
  for (const auto& [digest, names] : by_digest) {
    text += " " + digest.substr(0, 16) + " on";
    for (const auto& name : names) text += " " + name;
    text += ";";
  }
  return text;
}

int RunVerify(const VerifyFlags& f) {
  // Writes in flight make digests differ for a moment: poll until they
  // agree or the wait is over.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(f.wait_seconds);
  while (true) {
    auto status = GatherClusterStatus(f.client);
    if (!status.ok()) return Fail(status.status());
    std::string verdict = DigestVerdict(*status);
    if (verdict.empty() || std::chrono::steady_clock::now() >= deadline) {
      std::cout << RenderClusterStatus(*status, Format(f.client));
      if (verdict.empty()) {
        // With -o json stdout holds the one JSON document; the verdict is
        // the exit code, and this line goes to stderr.
        (Format(f.client) == OutputFormat::kJson ? std::cerr : std::cout)
            << "verified: " << status->members_size() << " nodes have the same digest "
            << EscapeForTerminal(status->self().digest()) << "\n";
        return kExitOk;
      }
      std::cerr << "error: " << EscapeForTerminal(verdict) << "\n";
      return kExitError;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
  }
}

}  // namespace

void AddClusterCommands(CLI::App& app, const ClientFlags& defaults) {
  auto* c = app.add_subcommand("cluster", "cluster formation and status");
  c->require_subcommand(1);
  auto init = AddClientCommand<InitFlags>(
      c, "init", "make this standalone node the first node of a new cluster", defaults, false,
      [](const InitFlags& f) {
        pb::Op op;
        op.mutable_cluster_init()->set_name(f.name);
        op.mutable_cluster_init()->set_node_name(f.node_name);
        return RunWrite(f.client, op);
      });
  init.app->add_option("--name", init.flags->name, "cluster name")->required();
  init.app->add_option("--node-name", init.flags->node_name,
                       "this node's name: must be node.name from its config (the default)");

  auto token = AddClientCommand<JoinTokenFlags>(
      c, "join-token", "issue a one-time token for inducting a node through this one", defaults,
      true, [](const JoinTokenFlags& f) {
        pb::Request r;
        r.mutable_join_token()->set_role(f.role == "read-write" ? pb::NODE_READ_WRITE
                                                                : pb::NODE_READ_ONLY);
        r.mutable_join_token()->set_ttl_seconds(f.ttl_seconds);
        return Run(f.client, r, [&](const pb::Response& resp) {
          if (Format(f.client) == OutputFormat::kJson) return RenderJson(resp.join_token());
          return resp.join_token().token() + "\n";
        });
      });
  token.app
      ->add_option("--role", token.flags->role,
                   "read-write: the candidate becomes this node's peer (it must have none); "
                   "read-only: a read-only node")
      ->check(CLI::IsMember({"read-write", "read-only"}))
      ->capture_default_str();
  token.app->add_option("--ttl", token.flags->ttl_seconds, "seconds the token stays valid")
      ->check(CLI::Range(int64_t{1}, int64_t{7 * 24 * 3600}))
      ->capture_default_str();

  AddClientCommand<ClusterStatusFlags>(
      c, "status", "every member's role, mode, position and digest (each member is asked)",
      defaults, true, [](const ClusterStatusFlags& f) {
        auto status = GatherClusterStatus(f.client);
        if (!status.ok()) return Fail(status.status());
        std::cout << RenderClusterStatus(*status, Format(f.client));
        return Degraded(*status) ? kExitDegraded : kExitOk;
      });

  auto set = AddClientCommand<ClusterSetFlags>(
      c, "set", "change cluster settings (replicated to every node)", defaults, false,
      [](const ClusterSetFlags& f) {
        pb::Op op;
        op.mutable_cluster_set()->set_max_disable_seconds(f.max_disable_seconds);
        return RunWrite(f.client, op);
      });
  set.app
      ->add_option("--max-disable-duration", set.flags->max_disable_seconds,
                   "seconds a disabled node may stay disabled and still be enabled (default of a "
                   "new cluster: 86400); the others retain its missing records that long")
      ->required()
      ->check(CLI::Range(uint64_t{1}, uint64_t{365ULL * 24 * 3600}));

  auto version = AddClientCommand<VersionFlags>(
      c, "version",
      "the cluster version, each member's release, what holds it back and which features are "
      "active; `hold` keeps it where it is (a rollback window), `release` lets it rise",
      defaults, false, [](const VersionFlags& f) {
        if (f.action == "show") {
          pb::Request r;
          r.mutable_cluster_status();
          return Run(f.client, r, [&](const pb::Response& resp) {
            return RenderVersions(resp.cluster_status(), Format(f.client));
          });
        }
        pb::Op op;
        op.mutable_cluster_set()->set_version_hold(f.action == "hold" ? pb::VERSION_HOLD_HOLD
                                                                      : pb::VERSION_HOLD_RELEASE);
        return RunWrite(f.client, op);
      });
  version.app->add_option("action", version.flags->action, "show (default), hold or release")
      ->check(CLI::IsMember({"show", "hold", "release"}));

  auto verify = AddClientCommand<VerifyFlags>(
      c, "verify", "compare the digests of every member; exit 1 if they differ", defaults, true,
      RunVerify);
  verify.app
      ->add_option("--wait", verify.flags->wait_seconds,
                   "seconds to wait for the digests to agree (writes may be in flight)")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
}

}  // namespace coffer::node::cli
