// The rolling-upgrade orchestrator against real node processes (issue 14,
// "What it must show"): two read-write pairs and a read-only node on this
// release, a writer acknowledging critical writes throughout, upgraded node
// by node to `coffer-next` (the next minor release) by the orchestrator
// (node/orchestrator/, over the harness's NodeProcessController). Sampled
// throughout: at least one node of every pair takes writes. At the end every
// node runs the next release, the cluster version rises only at finalize,
// every acknowledged write is on every node and the digests agree. Also:
// rollback before finalize, its refusal after, and the refusals of a
// skipped release, a second plan, a disabled or unreachable node and a
// membership change during a plan.
#include "node/orchestrator/orchestrator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/cluster_fixture.h"
#include "tests/harness/process_controller.h"
#include "upgrade/binary_profile.h"
#include "upgrade/orchestrator/control.h"
#include "upgrade/orchestrator/plan_builder.h"

namespace coffer::integration {
namespace {

namespace orch = node::orchestrator;
using storage::testing::FilesUnder;
using ::testing::HasSubstr;

const Release kOld = upgrade::CurrentRelease().versions.release;
const Release kNew = upgrade::NextRelease().versions.release;

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
  void FormCluster() {
    a_ = &Add("a");
    b_ = &Add("b");
    c_ = &Add("c");
    d_ = &Add("d");
    e_ = &Add("e");
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
    access.entry_addresses = {a_->address(), c_->address()};
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

  std::unique_ptr<orch::Orchestrator> NewOrchestrator(const std::string& owner) {
    orch::OrchestratorOptions options;
    const int64_t step = 60'000'000;
    options.steps.wait_disabled_micros = step;
    options.steps.wait_started_micros = step;
    options.steps.wait_active_micros = step;
    options.steps.wait_canary_micros = step;
    options.steps.wait_release_micros = step;
    options.steps.wait_peer_micros = step;
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

TEST_F(OrchestratorTest, UpgradesEveryNodeUnderLoadOnePairNodeAtATime) {
  ASSERT_NO_FATAL_FAILURE(FormCluster());
  Writer writer({a_, b_, c_, d_});
  PairSampler sampler({{a_, b_}, {c_, d_}});
  auto o = NewOrchestrator("test-orchestrator");
  auto prepared = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  ASSERT_TRUE(prepared->verdict.ok()) << prepared->verdict.ToString();
  // Read-only first, then the pairs, one node at a time.
  ASSERT_EQ(prepared->plan.nodes_size(), 5);
  EXPECT_EQ(prepared->plan.nodes(0).name(), "e");
  auto written = o->Begin(*prepared);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  auto ran = o->Run(*written, Log());
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  ASSERT_EQ(ran->state(), pb::UPGRADE_DONE)
      << ran->pause().check() << ": " << ran->pause().observed();
  // Held until finalize: every node on the next release, the version not yet.
  for (NodeProcess* n : all_) {
    auto status = StatusOf(*n);
    ASSERT_TRUE(status.ok()) << n->name();
    EXPECT_EQ(status->version(), kNew.ToString()) << n->name();
    EXPECT_EQ(status->cluster_version(), kOld.MinorString()) << n->name();
  }
  sampler.Stop();
  writer.Stop();
  EXPECT_GT(sampler.samples(), 20);
  EXPECT_THAT(sampler.gaps(), ::testing::IsEmpty());
  // Critical writes were acknowledged throughout (by the pair not upgrading).
  EXPECT_LT(writer.longest_gap(), std::chrono::seconds(5));
  for (const auto& n : ran->nodes()) {
    EXPECT_EQ(n.stops(), 1u) << n.name();
    EXPECT_EQ(controller_->StopsOf(n.name()), 1) << n.name();
  }
  auto acked = writer.acked();
  EXPECT_GT(acked.size(), 50u);
  ASSERT_NO_FATAL_FAILURE(ExpectNothingLost(acked));

  auto version = o->FinalizePlan(std::chrono::seconds(60));
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, kNew.MinorString());
  auto plan = PlanOn(*a_);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->state(), pb::UPGRADE_FINALIZED);
  // No rollback after finalize; an old binary refuses the store untouched.
  auto rollback = upgrade::StartRollback(*plan, "late", orch::NowMicros(), 10'000'000);
  EXPECT_EQ(rollback.status().code(), Code::kInvalidState);
  EXPECT_THAT(rollback.status().message(), HasSubstr("finalized"));
  ASSERT_TRUE(WaitFor(
      [&] {
        return PlanOn(*e_) && PlanOn(*e_)->state() == pb::UPGRADE_FINALIZED &&
               StatusOf(*e_)->cluster_version() == kNew.MinorString();
      },
      std::chrono::seconds(30)));
  e_->Kill(SIGTERM);
  auto before = FilesUnder(e_->data_dir());
  auto refused = orch::RunCommand({COFFER_BIN, "node", "check-store", "--data-dir", e_->data_dir()},
                                  std::chrono::seconds(30));
  ASSERT_TRUE(refused.ok());
  EXPECT_NE(refused->exit_code, 0) << refused->output;
  EXPECT_EQ(FilesUnder(e_->data_dir()), before);
}

TEST_F(OrchestratorTest, RollbackBeforeFinalizeReturnsEveryNodeToTheOldRelease) {
  ASSERT_NO_FATAL_FAILURE(FormCluster());
  Writer writer({a_, b_, c_, d_});
  auto o = NewOrchestrator("first");
  auto prepared = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(prepared.ok() && prepared->verdict.ok());
  auto written = o->Begin(*prepared);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  // Pause once three nodes are done (the read-only node and one pair).
  std::thread pauser([&] {
    auto requester = NewOrchestrator("operator");
    WaitFor(
        [&] {
          auto plan = PlanOn(*a_);
          if (!plan) return false;
          int done = 0;
          for (const auto& n : plan->nodes()) done += n.step() == pb::STEP_DONE;
          if (done < 3) return false;
          auto paused = upgrade::RequestPause(*plan, orch::NowMicros());
          return paused.ok() && requester->Write(*paused).ok();
        },
        std::chrono::seconds(240));
  });
  auto ran = o->Run(*written, Log());
  pauser.join();
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  ASSERT_EQ(ran->state(), pb::UPGRADE_PAUSED);
  EXPECT_EQ(ran->pause().check(), "operator");

  auto back = NewOrchestrator("second");
  auto rollback = upgrade::StartRollback(*ran, back->owner(), orch::NowMicros(), 10'000'000);
  ASSERT_TRUE(rollback.ok()) << rollback.status().ToString();
  EXPECT_GE(rollback->rollback_size(), 3);
  auto started = back->Write(*rollback);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto done = back->Run(*started, Log());
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_EQ(done->state(), pb::UPGRADE_ROLLED_BACK)
      << done->pause().check() << ": " << done->pause().observed();
  ASSERT_TRUE(back->SetVersionHold(false).ok());
  writer.Stop();
  for (NodeProcess* n : all_) {
    auto status = StatusOf(*n);
    ASSERT_TRUE(status.ok()) << n->name();
    EXPECT_EQ(status->version(), kOld.ToString()) << n->name();
    EXPECT_EQ(status->cluster_version(), kOld.MinorString()) << n->name();
  }
  ASSERT_NO_FATAL_FAILURE(ExpectNothingLost(writer.acked()));
}

TEST_F(OrchestratorTest, RefusesWhatTheChecklistForbids) {
  ASSERT_NO_FATAL_FAILURE(FormCluster());
  auto o = NewOrchestrator("refusals");
  // A skipped release.
  auto skipped = o->Prepare(SpecTo(kNew.NextMinor()));
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(skipped->verdict.code(), Code::kPrecheckFailed);
  EXPECT_THAT(skipped->verdict.message(), HasSubstr("target-release"));
  // A disabled node.
  auto disabled = Write(*e_, SetNodeState(NodeIdOf(*e_), pb::NODE_DISABLING));
  ASSERT_TRUE(disabled.ok()) << disabled.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return InState(*e_, "DISABLED"); }, std::chrono::seconds(30)));
  auto with_disabled = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(with_disabled.ok());
  EXPECT_EQ(with_disabled->verdict.code(), Code::kPrecheckFailed);
  EXPECT_THAT(with_disabled->verdict.message(), HasSubstr("no-disabled"));
  EXPECT_EQ(o->Begin(*with_disabled).status().code(), Code::kPrecheckFailed);
  EXPECT_FALSE(PlanOn(*a_).has_value()) << "a refused plan was written";
  ASSERT_TRUE(Write(*e_, SetNodeState(NodeIdOf(*e_), pb::NODE_ENABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return InState(*e_, "ACTIVE"); }, std::chrono::seconds(30)));
  // An unreachable node.
  e_->Kill(SIGKILL);
  auto unreachable = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(unreachable.ok());
  EXPECT_THAT(unreachable->verdict.message(), HasSubstr("members-reachable"));
  ASSERT_TRUE(e_->Start());
  ASSERT_TRUE(
      WaitFor([&] { return InState(*e_, "ACTIVE") && Converged(all_); }, std::chrono::seconds(30)));

  // A plan is written (not run): a second one is refused, and so are
  // membership changes, other disables and the version's release.
  auto prepared = o->Prepare(SpecTo(kNew));
  ASSERT_TRUE(prepared.ok());
  ASSERT_TRUE(prepared->verdict.ok()) << prepared->verdict.ToString();
  auto first = o->Begin(*prepared);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return Converged(all_); }, std::chrono::seconds(30)));
  auto second = NewOrchestrator("second")->Prepare(SpecTo(kNew));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->verdict.code(), Code::kUpgradeInProgress);
  EXPECT_THAT(second->verdict.message(), HasSubstr(first->plan_id()));
  pb::UpgradePlan racing = prepared->plan;  // written over the same revision
  racing.set_plan_id("another-plan");
  EXPECT_EQ(o->Write(racing).status().code(), Code::kUpgradeInProgress);
  auto other_disable = Write(*a_, SetNodeState(NodeIdOf(*e_), pb::NODE_DISABLING));
  EXPECT_EQ(other_disable.status().code(), Code::kUpgradeInProgress);
  EXPECT_THAT(other_disable.status().message(), HasSubstr(first->plan_id()));
  pb::Op remove;
  remove.mutable_node_delete()->set_node_id(NodeIdOf(*e_));
  remove.mutable_node_delete()->set_force(true);
  EXPECT_EQ(Write(*a_, remove).status().code(), Code::kUpgradeInProgress);
  pb::Op release;
  release.mutable_cluster_set()->set_version_hold(pb::VERSION_HOLD_RELEASE);
  EXPECT_EQ(Write(*a_, release).status().code(), Code::kUpgradeInProgress);
  auto& f = Add("f");
  auto token = Token(*a_, pb::NODE_READ_ONLY);
  if (token.ok()) {
    f.Launch({"--join", a_->address(), "--token", *token});
    EXPECT_TRUE(f.WaitExited(std::chrono::seconds(30)));
    EXPECT_THAT(ReadWholeFile(f.output_file()), HasSubstr("UPGRADE_IN_PROGRESS"));
  } else {
    EXPECT_EQ(token.status().code(), Code::kUpgradeInProgress);
  }
  // Nothing changed: every member ACTIVE, the plan where it was.
  for (NodeProcess* n : all_) EXPECT_TRUE(InState(*n, "ACTIVE")) << n->name();
  auto plan = PlanOn(*a_);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->revision(), first->revision());
  EXPECT_EQ(plan->plan_id(), first->plan_id());
}

}  // namespace
}  // namespace coffer::integration
