#include "tests/chaos/checkers.h"

#include <set>

namespace coffer::chaos {

void Check::Fail(std::string what) {
  pass = false;
  if (failures.size() < kMaxFailures) failures.push_back(std::move(what));
}

namespace {

constexpr const char* kRestricted = "restricted";  // replication::WriteModeName

// One kept admin connection per node for the read-back (thousands of reads).
class Reader {
 public:
  Reader(ChaosCluster& cluster, size_t i) : cluster_(cluster), i_(i) {}
  StatusOr<pb::Response> Ask(const pb::Request& request) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (client_ == nullptr) {
        auto c = cluster_.Connect(i_);
        if (!c.ok()) return c.status();
        client_ = std::move(c).value();
      }
      auto response = client_->Call(request, std::chrono::seconds(10));
      if (response.ok()) {
        COFFER_RETURN_IF_ERROR(node::StatusFromResponse(*response));
        return response;
      }
      client_.reset();  // a broken connection: one fresh try
    }
    return Unavailable(cluster_.name(i_) + " does not answer");
  }

 private:
  ChaosCluster& cluster_;
  size_t i_;
  std::unique_ptr<node::CofferClient> client_;
};

bool IsCompromised(pb::State s) { return s == pb::COMPROMISED || s == pb::DESTROYED_COMPROMISED; }
bool IsDestroyed(pb::State s) { return s == pb::DESTROYED || s == pb::DESTROYED_COMPROMISED; }

// Every wallet (name -> uuid) node i lists, paging through.
StatusOr<std::map<std::string, std::string>> Wallets(Reader& reader) {
  std::map<std::string, std::string> out;
  std::string after;
  for (int page = 0; page < 10'000; ++page) {
    pb::Request request;
    request.mutable_wallet_list()->set_after(after);
    COFFER_ASSIGN_OR_RETURN(pb::Response response, reader.Ask(request));
    for (const auto& w : response.wallets().wallets()) out[w.name()] = w.uuid();
    after = response.wallets().next_after();
    if (after.empty()) return out;
  }
  return Internal("the wallet list did not end");
}

}  // namespace

Check CheckConvergence(ChaosCluster& cluster, std::chrono::milliseconds within) {
  Check convergence{"convergence"};
  std::string detail;
  double took = cluster.WaitConverged(within, &detail);
  if (took < 0) {
    convergence.Fail("not converged within " + std::to_string(within.count() / 1000) +
                     " s of healing: " + detail);
  } else {
    char text[96];
    std::snprintf(text, sizeof text, "%zu nodes converged %.2f s after healing",
                  cluster.live().size(), took);
    convergence.figures = text;
  }
  return convergence;
}

std::vector<Check> CheckReadBack(ChaosCluster& cluster, const std::vector<AckedWrite>& acked) {
  std::vector<Check> checks;
  // Unknown outcomes were just retried: some may have written anew.
  cluster.WaitConverged(std::chrono::seconds(30), nullptr);

  Check lost{"no-lost-ack"}, revert{"no-revert"}, names{"names"};
  uint64_t reads = 0, activations = 0, revokes = 0, destroys = 0, claims = 0;
  const std::vector<size_t> live = cluster.live();
  std::vector<std::map<std::string, std::string>> wallets(cluster.size());
  for (size_t i : live) {
    Reader reader(cluster, i);
    auto listed = Wallets(reader);
    if (!listed.ok()) {
      names.Fail(cluster.name(i) + ": wallet list: " + listed.status().message());
    } else {
      wallets[i] = std::move(listed).value();
    }
    std::set<std::string> wallet_uuids;
    for (const auto& [name, uuid] : wallets[i]) wallet_uuids.insert(uuid);
    for (const AckedWrite& w : acked) {
      if (w.op == "claim") {
        ++claims;
        if (wallet_uuids.count(w.uuid) == 0) {
          lost.Fail(cluster.name(i) + " lacks wallet " + w.uuid + " (claim of " + w.name +
                    ", request " + w.request_id + ")");
        }
        continue;
      }
      pb::Request request;
      request.mutable_get()->set_uuid(w.uuid);
      request.mutable_get()->set_include_material(w.op == "register");
      auto got = reader.Ask(request);
      if (!got.ok() && got.status().code() != Code::kNotFound && w.op == "register") {
        // A destroyed object's material is erased: it is asked without it.
        request.mutable_get()->set_include_material(false);
        got = reader.Ask(request);
      }
      ++reads;
      if (!got.ok()) {
        lost.Fail(cluster.name(i) + " lacks " + w.op + " " + w.uuid + " (request " + w.request_id +
                  ", acknowledged by " + (w.node.empty() ? "a retry" : w.node) +
                  "): " + got.status().message());
        continue;
      }
      const pb::ObjectView& object = got->object();
      if (w.op == "register" && !IsDestroyed(object.state())) {
        if (object.supplied_name() != w.name || object.material() != w.material) {
          lost.Fail(cluster.name(i) + " has " + w.uuid +
                    " with another name or material (request " + w.request_id + ")");
        }
      } else if (w.op == "activate") {
        ++activations;
        if (object.state() == pb::PRE_ACTIVE) {
          revert.Fail(cluster.name(i) + ": " + w.uuid + " activated (request " + w.request_id +
                      ") but PRE_ACTIVE");
        }
      } else if (w.op == "revoke") {
        ++revokes;
        if (!IsCompromised(object.state())) {
          revert.Fail(cluster.name(i) + ": " + w.uuid + " revoked (request " + w.request_id +
                      ") but " + pb::State_Name(object.state()));
        }
      } else if (w.op == "destroy") {
        ++destroys;
        if (!IsDestroyed(object.state())) {
          revert.Fail(cluster.name(i) + ": " + w.uuid + " destroyed (request " + w.request_id +
                      ") but " + pb::State_Name(object.state()));
        }
      }
    }
  }
  lost.figures = std::to_string(acked.size()) + " acknowledged writes, " + std::to_string(reads) +
                 " reads and " + std::to_string(claims) + " claims checked over " +
                 std::to_string(live.size()) + " nodes";
  revert.figures = std::to_string(activations) + " activations, " + std::to_string(revokes) +
                   " revokes and " + std::to_string(destroys) + " destroys checked (node x object)";
  const size_t first = live.front();
  for (size_t i : live) {
    if (wallets[i] != wallets[first]) {
      for (const auto& [name, uuid] : wallets[first]) {
        auto it = wallets[i].find(name);
        if (it == wallets[i].end() || it->second != uuid) {
          names.Fail(name + " is " + uuid + " on " + cluster.name(first) + " but " +
                     (it == wallets[i].end() ? "absent" : it->second) + " on " + cluster.name(i));
        }
      }
      if (names.pass) {
        names.Fail(cluster.name(i) + " lists wallets " + cluster.name(first) + " lacks");
      }
    }
  }
  names.figures = std::to_string(wallets[first].size()) + " wallet names compared over " +
                  std::to_string(live.size()) + " nodes";
  checks.push_back(lost);
  checks.push_back(revert);
  checks.push_back(names);

  Check order{"origin-order"};
  std::vector<pb::NodeStatus> statuses;
  for (size_t i : live) {
    auto status = cluster.StatusOf(i);
    if (!status.ok()) {
      order.Fail(cluster.name(i) + " does not answer: " + status.status().message());
      continue;
    }
    if (status->integrity_alerts() != 0) {
      order.Fail(cluster.name(i) + " raised " + std::to_string(status->integrity_alerts()) +
                 " integrity alerts, last: " + status->last_integrity_alert());
    }
    statuses.push_back(*status);
  }
  uint64_t origins = 0;
  for (const auto& origin : statuses) {
    auto own = origin.applied().applied().find(origin.node_id());
    uint64_t head = own == origin.applied().applied().end() ? 0 : own->second;
    ++origins;
    for (const auto& s : statuses) {
      auto at = s.applied().applied().find(origin.node_id());
      uint64_t seq = at == s.applied().applied().end() ? 0 : at->second;
      if (seq != head) {
        order.Fail(s.node_name() + " applied " + origin.node_name() + "'s log to " +
                   std::to_string(seq) + ", its head is " + std::to_string(head));
      }
    }
  }
  order.figures = std::to_string(origins) + " origins x " + std::to_string(statuses.size()) +
                  " nodes, no integrity alert";
  checks.push_back(order);
  return checks;
}

void PairProbe::PeerHolds(ChaosCluster& cluster, size_t down,
                          const std::vector<AckedWrite>& acked) {
  int peer = cluster.PeerOf(down);
  if (peer < 0) return;
  Reader reader(cluster, static_cast<size_t>(peer));
  uint64_t writes = 0;
  std::vector<std::string> failures;
  for (const AckedWrite& w : acked) {
    if (w.node != cluster.name(down) || w.op == "claim") continue;
    ++writes;
    pb::Request request;
    request.mutable_get()->set_uuid(w.uuid);
    auto got = reader.Ask(request);
    if (!got.ok()) {
      failures.push_back(cluster.name(peer) + " lacks " + w.op + " " + w.uuid + " (request " +
                         w.request_id + ") that its peer " + cluster.name(down) +
                         " acknowledged: " + got.status().message());
    } else if ((w.op == "revoke" && !IsCompromised(got->object().state())) ||
               (w.op == "destroy" && !IsDestroyed(got->object().state()))) {
      failures.push_back(cluster.name(peer) + " lacks the " + w.op + " of " + w.uuid +
                         " (request " + w.request_id + ") that its peer acknowledged");
    }
  }
  std::lock_guard lock(mu_);
  ++probes_;
  writes_ += writes;
  for (auto& f : failures) check_.Fail(std::move(f));
}

Check PairProbe::Result() const {
  std::lock_guard lock(mu_);
  Check out = check_;
  out.figures = std::to_string(probes_) + " probes of a down node's peer, " +
                std::to_string(writes_) + " acknowledged writes found there";
  out.ran = probes_ > 0;
  return out;
}

bool RestrictedProbe::Probe(ChaosCluster& cluster, size_t i) {
  auto before = cluster.StatusOf(i);
  if (!before.ok() || before->mode() != kRestricted) return false;
  pb::Request request;
  static std::atomic<uint64_t> next{0};
  request.set_request_id("chaos-restricted-probe-" + std::to_string(++next));
  auto* r = request.mutable_write()->mutable_register_object();
  r->set_type(pb::SECRET_DATA);
  r->set_name(request.request_id());
  r->set_material("probe");
  auto response = cluster.Call(i, request);
  if (!response.ok()) {
    // No answer from the node (a timeout on a loaded machine, a broken
    // connection): it says nothing about what the node accepts.
    std::lock_guard lock(mu_);
    ++inconclusive_;
    return true;
  }
  std::string code = response->code().empty() ? "OK" : response->code();
  bool refused = code == "READ_ONLY_RESTRICTED";
  // A node that left restricted mode meanwhile may take the write.
  bool left = false;
  if (!refused) {
    auto after = cluster.StatusOf(i);
    left = after.ok() && after->mode() != kRestricted;
  }
  std::lock_guard lock(mu_);
  ++probes_;
  if (!refused && !left) {
    check_.Fail(cluster.name(i) + " reported " + kRestricted +
                " and answered a critical write with " + code + " (request " +
                request.request_id() + ")");
  }
  return true;
}

Check RestrictedProbe::Result() const {
  std::lock_guard lock(mu_);
  Check out = check_;
  out.figures = std::to_string(probes_) + " critical writes sent straight to restricted nodes";
  if (inconclusive_ > 0) out.figures += " (" + std::to_string(inconclusive_) + " unanswered)";
  out.ran = probes_ > 0;
  return out;
}

}  // namespace coffer::chaos
