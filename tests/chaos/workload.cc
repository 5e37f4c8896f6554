#include "tests/chaos/workload.h"

#include <algorithm>

#include "node/client/failover_client.h"

namespace coffer::chaos {

void Ledger::Ack(AckedWrite write) {
  std::lock_guard lock(mu_);
  acked_.push_back(std::move(write));
}

void Ledger::Unknown(UnknownWrite write) {
  std::lock_guard lock(mu_);
  unknown_.push_back(std::move(write));
}

std::vector<AckedWrite> Ledger::acked() const {
  std::lock_guard lock(mu_);
  return acked_;
}

std::vector<UnknownWrite> Ledger::TakeUnknown() {
  std::lock_guard lock(mu_);
  return std::exchange(unknown_, {});
}

size_t Ledger::acked_count() const {
  std::lock_guard lock(mu_);
  return acked_.size();
}

std::string NodeForAddress(ChaosCluster& cluster, const std::string& address) {
  for (size_t i = 0; i < cluster.size(); ++i) {
    if (cluster.addresses()[i] == address) return cluster.name(i);
  }
  return "";
}

namespace {

// What one call came to, as the History records it.
struct Outcome {
  EventType type = EventType::kFail;
  std::string code;
  std::string node;
  pb::Response response;
};

Outcome Send(node::FailoverClient& client, ChaosCluster& cluster, const pb::Request& request) {
  Outcome out;
  auto response = client.Call(request);
  if (!response.ok()) {
    out.code = std::string(CodeName(response.status().code()));
    out.type =
        response.status().code() == Code::kOutcomeUnknown ? EventType::kUnknown : EventType::kFail;
    return out;
  }
  out.node = NodeForAddress(cluster, client.last_address());
  out.code = response->code().empty() ? "OK" : response->code();
  Status status = node::StatusFromResponse(*response);
  if (status.ok()) {
    out.type = EventType::kOk;
  } else {
    out.type = status.code() == Code::kOutcomeUnknown ? EventType::kUnknown : EventType::kFail;
  }
  out.response = std::move(*response);
  return out;
}

std::unique_ptr<node::FailoverClient> MakeClient(ChaosCluster& cluster,
                                                 std::vector<std::string> addresses,
                                                 std::chrono::milliseconds deadline) {
  node::FailoverOptions options;
  options.addresses = std::move(addresses);
  options.tls = cluster.tls_files();
  options.call_timeout = std::chrono::milliseconds(3000);
  options.call_deadline = deadline;
  auto client = node::FailoverClient::Create(options);
  return client.ok() ? std::move(client).value() : nullptr;
}

}  // namespace

Workload::Workload(ChaosCluster& cluster, Ledger& ledger, WorkloadOptions options)
    : cluster_(cluster), ledger_(ledger), options_(options) {}

Workload::~Workload() { Stop(); }

void Workload::Start() {
  stop_ = false;
  for (int k = 0; k < options_.clients; ++k) threads_.emplace_back([this, k] { RunClient(k); });
}

void Workload::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

std::vector<std::string> Workload::AddressesFor(int k) const {
  std::vector<std::string> all = cluster_.addresses();
  // Start with a node of pair k % pairs (its first or second node by k's
  // parity), then the others in order.
  auto pair = cluster_.PairOf(k % cluster_.pairs());
  size_t first = pair[(k / cluster_.pairs()) % pair.size()];
  std::rotate(all.begin(), all.begin() + static_cast<long>(first), all.end());
  return all;
}

void Workload::RunClient(int k) {
  History& history = cluster_.history();
  auto client = MakeClient(cluster_, AddressesFor(k), options_.call_deadline);
  if (client == nullptr) return;
  std::mt19937_64 rng(options_.seed * 7919 + static_cast<uint64_t>(k));
  std::vector<std::string> mine;  // acknowledged registers, not yet destroyed
  std::map<std::string, bool> activated, revoked;
  uint64_t n = 0, claims = 0;
  auto period =
      std::chrono::microseconds(1'000'000 / std::max(1, options_.ops_per_client_per_second));
  auto next = std::chrono::steady_clock::now();
  while (!stop_) {
    next += period;
    std::this_thread::sleep_until(next);  // pacing of the client, not a wait for a condition
    if (std::chrono::steady_clock::now() > next + std::chrono::seconds(1)) {
      next = std::chrono::steady_clock::now();  // a long call: do not burst to catch up
    }
    ++n;
    int pick = static_cast<int>(rng() % 100);
    pb::Request request;
    request.set_request_id(options_.tag + "chaos-s" + std::to_string(options_.seed) + "-c" +
                           std::to_string(k) + "-" + std::to_string(n));
    std::string op, key, name, material;
    if (pick < 20 && !mine.empty()) {
      op = "read";
      key = mine[rng() % mine.size()];
      request.clear_request_id();
      request.mutable_get()->set_uuid(key);
    } else if (pick < 30) {
      op = "claim";
      name = options_.tag + "claim-" + std::to_string(k / 2) + "-" + std::to_string(++claims);
      key = name;
      request.mutable_write()->mutable_wallet_create()->set_name(name);
    } else if (pick < 45 && !mine.empty()) {
      size_t at = rng() % mine.size();
      key = mine[at];
      if (!activated[key]) {  // the object's lifecycle: PRE_ACTIVE -> ACTIVE -> revoked ->
                              // destroyed
        op = "activate";
        request.mutable_write()->mutable_activate()->set_uuid(key);
      } else if (!revoked[key]) {
        op = "revoke";
        auto* revoke = request.mutable_write()->mutable_revoke();
        revoke->set_uuid(key);
        revoke->set_reason(pb::KEY_COMPROMISE);
      } else {
        op = "destroy";
        request.mutable_write()->mutable_destroy()->set_uuid(key);
      }
    } else {
      op = "register";
      name = options_.tag + "chaos-" + std::to_string(k) + "-" + std::to_string(n);
      material.resize(64);
      for (auto& c : material) c = static_cast<char>(rng() & 0xff);
      auto* r = request.mutable_write()->mutable_register_object();
      r->set_type(pb::SECRET_DATA);
      r->set_name(name);
      r->set_material(material);
    }
    double invoked = history.Now();
    ++invoked_;
    history.Add({invoked, k, op, EventType::kInvoke, "", "", request.request_id(), key, 0});
    Outcome out = Send(*client, cluster_, request);
    double done = history.Now();
    if (op == "register" && out.type == EventType::kOk) key = out.response.op_result().uuid();
    if (op == "claim" && out.type == EventType::kOk) key = out.response.op_result().uuid();
    history.Add({done, k, op, out.type, out.node, out.code, request.request_id(), key,
                 (done - invoked) * 1000});
    if (op == "read") continue;
    if (out.type == EventType::kOk) {
      ledger_.Ack({op, request.request_id(), key, name, material, out.node, invoked, done});
      if (op == "register") mine.push_back(key);
      if (op == "activate") activated[key] = true;
      if (op == "revoke") revoked[key] = true;
      if (op == "destroy") mine.erase(std::find(mine.begin(), mine.end(), key));
    } else if (out.type == EventType::kUnknown) {
      // The record the answer named goes with the retry (docs/cluster.md).
      if (out.response.has_outcome_record()) {
        *request.mutable_retry_of() = out.response.outcome_record();
      }
      ledger_.Unknown({op, request, out.node, name, material, invoked});
      // Its object's fate is unknown: this client leaves it alone.
      if (op == "activate" || op == "revoke" || op == "destroy") {
        mine.erase(std::find(mine.begin(), mine.end(), key));
      }
    }
  }
}

Workload::Resolved Workload::ResolveUnknown() {
  Resolved resolved;
  History& history = cluster_.history();
  auto client = MakeClient(cluster_, cluster_.addresses(), std::chrono::milliseconds(20000));
  for (UnknownWrite& w : ledger_.TakeUnknown()) {
    double invoked = history.Now();
    Outcome out = client == nullptr ? Outcome{} : Send(*client, cluster_, w.request);
    const pb::Op& op = w.request.write();
    std::string key = op.has_activate()  ? op.activate().uuid()
                      : op.has_revoke()  ? op.revoke().uuid()
                      : op.has_destroy() ? op.destroy().uuid()
                                         : out.response.op_result().uuid();
    history.Add({history.Now(), -1, w.op, out.type, out.node, out.code, w.request.request_id(), key,
                 (history.Now() - invoked) * 1000});
    if (out.type == EventType::kOk) {
      ++resolved.acked;
      ledger_.Ack(
          {w.op, w.request.request_id(), key, w.name, w.material, "", w.invoked, history.Now()});
    } else if (out.type == EventType::kFail && client != nullptr) {
      ++resolved.refused;
    } else {
      ++resolved.still_unknown;
    }
  }
  return resolved;
}

}  // namespace coffer::chaos
