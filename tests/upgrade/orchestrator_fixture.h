// Shared by the orchestrator tests (orchestrator_test.cc,
// orchestrator_crash_test.cc): a cluster of two read-write pairs and a
// read-only node on this release, a paced writer that records what was
// acknowledged, a sampler of the pairs, and the orchestrator's access to
// the nodes.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "node/orchestrator/orchestrator.h"
#include "tests/harness/cluster_fixture.h"
#include "tests/harness/process_controller.h"
#include "upgrade/binary_profile.h"
#include "upgrade/orchestrator/control.h"
#include "upgrade/orchestrator/plan_builder.h"

namespace coffer::integration {

namespace orch = node::orchestrator;

inline const Release kOld = upgrade::CurrentRelease().versions.release;
inline const Release kNew = upgrade::NextRelease().versions.release;

// Registers secrets at a steady pace, each on the next node of the pairs
// that takes it, and remembers what was acknowledged.
class Writer {
 public:
  explicit Writer(std::vector<NodeProcess*> targets) : targets_(std::move(targets)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Writer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::string> acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  std::map<std::string, int> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }
  // The longest time between two acknowledgements.
  std::chrono::milliseconds longest_gap() {
    std::lock_guard lock(mu_);
    return std::chrono::duration_cast<std::chrono::milliseconds>(longest_gap_);
  }

 private:
  void Loop() {
    auto next = std::chrono::steady_clock::now();
    for (uint64_t i = 0; !stop_; ++i) {
      const std::string name = "w-" + std::to_string(i);
      for (size_t attempt = 0; attempt < targets_.size(); ++attempt) {
        NodeProcess* node = targets_[(i + attempt) % targets_.size()];
        auto written = Write(*node, RegisterSecret(name, "v-" + name));
        std::lock_guard lock(mu_);
        if (written.ok()) {
          acked_.push_back(written->uuid());
          auto now = std::chrono::steady_clock::now();
          if (last_ack_ != std::chrono::steady_clock::time_point{}) {
            longest_gap_ = std::max(longest_gap_, now - last_ack_);
          }
          last_ack_ = now;
          break;
        }
        ++errors_[std::string(CodeName(written.status().code()))];
        // An unknown outcome is not acknowledged: the next name is written.
        if (written.status().code() == Code::kOutcomeUnknown) break;
      }
      next += std::chrono::milliseconds(25);  // paced load: about 40 writes/s
      std::this_thread::sleep_until(next);
    }
  }

  std::vector<NodeProcess*> targets_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> acked_;
  std::map<std::string, int> errors_;
  std::chrono::steady_clock::time_point last_ack_{};
  std::chrono::steady_clock::duration longest_gap_{};
  std::thread thread_;
};

// Samples every 100 ms that at least one node of each pair is up and ACTIVE
// (serving reads and non-critical writes; critical writes need both nodes
// of a pair, semantics.md section 2, so while one is upgraded its peer is
// restricted and critical writes go to the other pairs), and that at least
// one node of the cluster takes critical writes (read-write).
class PairSampler {
 public:
  explicit PairSampler(std::vector<std::pair<NodeProcess*, NodeProcess*>> pairs)
      : pairs_(std::move(pairs)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        bool any_read_write = false;
        for (auto [x, y] : pairs_) {
          auto sx = StatusOf(*x);
          auto sy = StatusOf(*y);
          auto serving = [](const StatusOr<pb::NodeStatus>& s) {
            return s.ok() && s->state() == "ACTIVE";
          };
          any_read_write = any_read_write || (sx.ok() && sx->mode() == "read-write") ||
                           (sy.ok() && sy->mode() == "read-write");
          ++samples_;
          if (!serving(sx) && !serving(sy)) {
            auto show = [](NodeProcess* n, const StatusOr<pb::NodeStatus>& s) {
              return n->name() + "=" + (s.ok() ? s->mode() + "/" + s->state() : "down");
            };
            std::lock_guard lock(mu_);
            gaps_.push_back(show(x, sx) + " " + show(y, sy));
          }
        }
        if (!any_read_write) {
          std::lock_guard lock(mu_);
          gaps_.push_back("no read-write node in the cluster");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // sampling period
      }
    });
  }
  ~PairSampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int samples() const { return samples_; }
  std::vector<std::string> gaps() {
    std::lock_guard lock(mu_);
    return gaps_;
  }

 private:
  std::vector<std::pair<NodeProcess*, NodeProcess*>> pairs_;
  std::atomic<bool> stop_{false};
  std::atomic<int> samples_{0};
  std::mutex mu_;
  std::vector<std::string> gaps_;
  std::thread thread_;
};

class OrchestratorTest : public ClusterTest {
 protected:
  // `binary`: the `coffer` every node starts on ("": this build's).
  void FormCluster(const std::string& binary = "") {
    NodeProcessOptions options;
    options.binary = binary;
    a_ = &Add("a", options);
    b_ = &Add("b", options);
    c_ = &Add("c", options);
    d_ = &Add("d", options);
    e_ = &Add("e", options);
    FormTwoPairs(*a_, *b_, *c_, *d_);
    Join(*e_, *a_, pb::NODE_READ_ONLY);
    all_ = {a_, b_, c_, d_, e_};
    ASSERT_TRUE(WaitFor([&] { return InState(*e_, "ACTIVE"); }, std::chrono::seconds(30)));
    ASSERT_TRUE(WaitFor([&] { return Converged(all_); }, std::chrono::seconds(30)));
    controller_ = std::make_unique<NodeProcessController>(all_);
  }

  // The orchestrator's access to the nodes: one request on a fresh admin
  // connection to any address.
  orch::ClusterAccess Access() {
    orch::ClusterAccess access;
    access.entry_addresses = {a_->address(), (c_ != nullptr ? c_ : b_)->address()};
    access.call = [tls = &a_->admin_tls()](const std::string& address,
                                           const pb::Request& request) -> StatusOr<pb::Response> {
      auto colon = address.rfind(':');
      uint16_t port = static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
      COFFER_ASSIGN_OR_RETURN(auto client,
                              node::CofferClient::Connect(address.substr(0, colon), port, *tls,
                                                          std::chrono::seconds(3)));
      return client->Call(request, std::chrono::seconds(10));
    };
    return access;
  }

  std::unique_ptr<orch::Orchestrator> NewOrchestrator(const std::string& owner,
                                                      int64_t step = 60'000'000) {
    orch::OrchestratorOptions options;
    options.steps = upgrade::StepOptions::EveryWait(step);
    options.poll = std::chrono::milliseconds(100);
    return std::make_unique<orch::Orchestrator>(Access(), *controller_, owner, options);
  }

  static orch::PlanSpec SpecTo(const Release& target) {
    orch::PlanSpec spec{target, COFFER_NEXT_BIN, {"backup"}, {}};
    return spec;
  }

  // Logs each step change of a running plan.
  static orch::ProgressFn Log() {
    auto last = std::make_shared<std::string>();
    return [last](const pb::UpgradePlan& plan, const upgrade::Decision& d,
                  const upgrade::ClusterObservation&) {
      std::string line = upgrade::PlanStateName(plan.state());
      for (const auto& n :
           plan.state() == pb::UPGRADE_ROLLING_BACK ? plan.rollback() : plan.nodes()) {
        line += " " + n.name() + ":" + upgrade::StepName(n.step());
      }
      if (d.action != upgrade::Action::kWait) line += " -> " + std::string(ActionName(d.action));
      if (line != *last) std::fprintf(stderr, "  %s\n", line.c_str());
      *last = line;
    };
  }

  // The plan as `node` has it.
  static std::optional<pb::UpgradePlan> PlanOn(NodeProcess& node) {
    pb::Request request;
    request.mutable_cluster_status();
    auto response = Ask(node, request);
    if (!response.ok() || !response->cluster_status().has_upgrade()) return std::nullopt;
    return response->cluster_status().upgrade();
  }

  // Every acknowledged object is on every node, and the digests agree.
  void ExpectNothingLost(const std::vector<std::string>& acked) {
    ASSERT_TRUE(WaitFor([&] { return Converged(all_); }, std::chrono::seconds(30)));
    for (NodeProcess* n : all_) {
      int missing = 0;
      for (const auto& uuid : acked) missing += GetObject(*n, uuid).ok() ? 0 : 1;
      EXPECT_EQ(missing, 0) << n->name() << " lacks acknowledged objects of " << acked.size();
    }
  }

  NodeProcess *a_ = nullptr, *b_ = nullptr, *c_ = nullptr, *d_ = nullptr, *e_ = nullptr;
  std::vector<NodeProcess*> all_;
  std::unique_ptr<NodeProcessController> controller_;
};

}  // namespace coffer::integration
