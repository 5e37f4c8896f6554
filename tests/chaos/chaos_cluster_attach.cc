// ChaosCluster::Attach: a running cluster in the layout of
// scripts/start-local.sh, driven through a LocalSupervisor on its directory
// (chaos_cluster.h says what it can and cannot do there).
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "node/config/config.h"
#include "tests/chaos/chaos_cluster.h"

namespace coffer::chaos {

namespace {

struct LocalNode {
  std::string address;  // client API, from its config's node.listen
  std::string log_file;
};

// NAME -> its config's client address and log, for every NAME.toml in
// `dir` (the supervisor's names are the file names).
StatusOr<std::map<std::string, LocalNode>> ReadConfigs(const std::string& dir) {
  std::map<std::string, LocalNode> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".toml") continue;
    auto config = node::LoadConfigFile(entry.path().string());
    if (!config.ok()) return config.status();
    out[entry.path().stem().string()] = {config->node.listen, config->log.file};
  }
  if (ec) return NotFound("cannot read " + dir + ": " + ec.message());
  if (out.empty()) return NotFound("no node config (NAME.toml) in " + dir);
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<ChaosCluster>> ChaosCluster::Attach(const std::string& dir,
                                                             History* history) {
  const std::string certs = dir + "/certs";
  for (const char* file : {"ca.pem", "admin.pem", "admin.key"}) {
    if (!std::filesystem::exists(certs + "/" + file)) {
      return NotFound(certs + "/" + file +
                      " is missing: --local takes the directory of a cluster started by "
                      "scripts/start-local.sh (.cluster)");
    }
  }
  COFFER_ASSIGN_OR_RETURN(auto configs, ReadConfigs(dir));
  std::unique_ptr<ChaosCluster> cluster(new ChaosCluster(ClusterOptions{}, history));
  cluster->attached_ = true;
  cluster->tls_files_ = {certs + "/ca.pem", certs + "/admin.pem", certs + "/admin.key"};
  COFFER_RETURN_IF_ERROR(cluster->MakeAdminTls());

  // Membership, from the first node that answers.
  for (const auto& [name, local] : configs) {
    Member m;
    m.name = name;
    m.address = local.address;
    cluster->members_.push_back(std::move(m));
  }
  std::optional<pb::ClusterStatus> status;
  for (size_t i = 0; i < cluster->size() && !status; ++i) {
    pb::Request request;
    request.mutable_cluster_status();
    auto response = cluster->Ask(i, request);
    if (response.ok()) status = response->cluster_status();
  }
  if (!status) return Unavailable("no node of " + dir + " answers");
  if (status->cluster_id().empty())
    return InvalidArgument("the nodes of " + dir + " form no cluster");

  // Members in the order the harness expects: each pair's two nodes side by
  // side (by node id), then the read-only nodes.
  std::map<uint32_t, pb::MemberView> by_id;
  for (const auto& m : status->members()) by_id[m.node_id()] = m;
  std::vector<std::pair<uint32_t, int>> order;  // node id, pair index
  std::set<uint32_t> placed;
  int pairs = 0;
  for (const auto& [id, m] : by_id) {
    if (placed.contains(id) || m.role() != "read-write" || !by_id.contains(m.peer())) continue;
    order.emplace_back(id, pairs);
    order.emplace_back(m.peer(), pairs);
    placed.insert({id, m.peer()});
    ++pairs;
  }
  for (const auto& [id, m] : by_id) {
    if (!placed.contains(id)) order.emplace_back(id, -1);
  }
  std::vector<Member> members;
  for (const auto& [id, pair] : order) {
    const pb::MemberView& view = by_id[id];
    auto local = configs.find(view.name());
    if (local == configs.end()) {
      return NotFound("member " + view.name() + " has no config " + view.name() + ".toml in " +
                      dir + ": --local drives only a cluster whose every node runs here");
    }
    if (view.state() != "ACTIVE") {
      return Unavailable("member " + view.name() + " is " + view.state() +
                         ": every member must be ACTIVE before a run");
    }
    Member m;
    m.name = view.name();
    m.address = local->second.address;
    m.log_file = local->second.log_file;
    m.output_file = dir + "/" + view.name() + ".out";
    m.pair = pair;
    m.node_id = id;
    members.push_back(std::move(m));
  }
  cluster->members_ = std::move(members);
  cluster->options_.pairs = pairs;
  cluster->options_.read_only = static_cast<int>(cluster->size()) - 2 * pairs;

  node::orchestrator::LocalSupervisorOptions supervision;
  supervision.dir = dir;
  supervision.default_binary = DefaultCofferBinary();
  supervision.stop_timeout = std::chrono::seconds(30);
  cluster->supervisor_ = std::make_unique<node::orchestrator::LocalSupervisor>(supervision);
  cluster->supervised_dir_ = dir;
  for (size_t i = 0; i < cluster->size(); ++i) {
    if (!cluster->Running(i)) {
      return Unavailable(cluster->name(i) + " has no running process in " + dir + "/" +
                         cluster->name(i) + ".pid");
    }
  }
  if (!cluster->WaitHealthy(std::chrono::seconds(10))) {
    return Unavailable("the cluster in " + dir +
                       " is not healthy (every node ACTIVE, each pair read-write)");
  }
  return cluster;
}

}  // namespace coffer::chaos
