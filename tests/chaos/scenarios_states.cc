// R6 (disable/enable churn, and a disable past the maximum duration) and R7
// (one node's disk full, then space returned).
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "common/wait_for.h"
#include "tests/chaos/scenario.h"

namespace coffer::chaos {
namespace {

// The node state `i` reports of itself ("" if it does not answer).
std::string StateOf(ChaosCluster& c, size_t i) {
  auto status = c.StatusOf(i);
  return status.ok() ? status->state() : "";
}

// Writes member `id`'s next state through node `via`.
Status SetState(ChaosCluster& c, size_t via, uint32_t id, pb::NodeState state) {
  pb::Request request;
  request.set_request_id("chaos-state-" + std::to_string(id) + "-" + pb::NodeState_Name(state) +
                         "-" + std::to_string(c.history().Now()));
  request.mutable_write()->mutable_node_state()->set_node_id(id);
  request.mutable_write()->mutable_node_state()->set_state(state);
  return c.Ask(via, request).status();
}

bool WaitState(ChaosCluster& c, size_t i, const std::string& state, std::chrono::seconds timeout) {
  return WaitFor([&] { return StateOf(c, i) == state; }, timeout, std::chrono::milliseconds(100));
}

// R6, one churn: disable a random node (through itself, as `coffer node
// disable` on it does), keep it disabled under load, enable it, and time
// its catch-up to ACTIVE.
void DisableEnable(Context& ctx, int iteration) {
  ChaosCluster& c = ctx.cluster;
  std::vector<size_t> live = c.live();
  size_t i = live[ctx.rng() % live.size()];
  Check& churn = ctx.OwnCheck("disable-enable");
  const uint32_t id = c.member(i).node_id;
  Context::Load(ctx.Between(200, 800));
  auto since = std::chrono::steady_clock::now();
  size_t band =
      c.history().BeginFault({c.history().Now(), -1, "R6", "disable " + c.name(i), {c.name(i)}});
  Status s = SetState(c, i, id, pb::NODE_DISABLING);
  if (!s.ok() || !WaitState(c, i, "DISABLED", std::chrono::seconds(30))) {
    churn.Fail("iteration " + std::to_string(iteration) + ": " + c.name(i) +
               " did not reach DISABLED within 30 s: " + (s.ok() ? StateOf(c, i) : s.ToString()));
    c.history().EndFault(band);
    return;
  }
  double disabled_after =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  Context::Load(ctx.Between(500, static_cast<int>(ctx.options.duration * 1000) + 500));
  auto enabled_at = std::chrono::steady_clock::now();
  s = SetState(c, i, id, pb::NODE_ENABLING);
  c.history().EndFault(band);
  if (!s.ok()) {
    churn.Fail("iteration " + std::to_string(iteration) + ": enable of " + c.name(i) +
               " refused within the window: " + s.ToString());
    return;
  }
  if (!WaitState(c, i, "ACTIVE", kRecoveryTimeout)) {
    churn.Fail("iteration " + std::to_string(iteration) + ": " + c.name(i) +
               " did not catch up to ACTIVE within 60 s: " + StateOf(c, i));
    return;
  }
  double caught_up =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - enabled_at).count();
  churn.figures = std::to_string(iteration) + " disable/enable cycles done";
  ctx.figures.emplace_back("churn " + std::to_string(iteration),
                           c.name(i) + " DISABLED after " +
                               std::to_string(disabled_after).substr(0, 4) + " s, ACTIVE " +
                               std::to_string(caught_up).substr(0, 4) + " s after enable");
  ctx.Recovered(enabled_at, kRecoveryTimeout);
}

// R6's finale: a read-only node disabled past a 3 s maximum duration. Its
// enable must be refused with DISABLE_EXPIRED (its data never merged); it is
// then force-deleted through another node and leaves the run.
void DisablePastTheMaximum(Context& ctx) {
  ChaosCluster& c = ctx.cluster;
  Check& expired = ctx.OwnCheck("expired-refused");
  if (c.size() <= static_cast<size_t>(2 * c.pairs())) {
    expired.figures = "not exercised: the cluster has no read-only node";
    return;
  }
  const size_t ro = c.size() - 1;
  const uint32_t id = c.member(ro).node_id;
  pb::Request settings;
  settings.set_request_id("chaos-max-disable");
  settings.mutable_write()->mutable_cluster_set()->set_max_disable_seconds(3);
  Status s = c.Ask(0, settings).status();
  std::string detail;
  // The clients still write: every node has the setting once caught up.
  if (s.ok() && c.WaitCaughtUp(std::chrono::seconds(30), &detail) < 0) {
    s = Unavailable("the 3 s maximum did not reach every node: " + detail);
  }
  if (s.ok()) s = SetState(c, ro, id, pb::NODE_DISABLING);
  if (!s.ok() || !WaitState(c, ro, "DISABLED", std::chrono::seconds(30))) {
    expired.Fail("could not disable " + c.name(ro) + ": " +
                 (s.ok() ? StateOf(c, ro) : s.ToString()));
    return;
  }
  size_t band = c.history().BeginFault(
      {c.history().Now(), -1, "R6", "disabled past the maximum " + c.name(ro), {c.name(ro)}});
  bool past = WaitState(c, ro, "EXPIRED", std::chrono::seconds(30));
  c.history().EndFault(band);
  Status enable = SetState(c, ro, id, pb::NODE_ENABLING);
  if (!past) {
    expired.Fail(c.name(ro) + " never reported EXPIRED (" + StateOf(c, ro) + ")");
  } else if (enable.code() != Code::kDisableExpired) {
    expired.Fail("the enable of " + c.name(ro) + " after its window was answered " +
                 (enable.ok() ? std::string("OK: its stale data would merge") : enable.ToString()));
  } else {
    expired.figures = "enable after 3 s refused with DISABLE_EXPIRED";
  }
  pb::Request remove;
  remove.set_request_id("chaos-force-delete");
  remove.mutable_write()->mutable_node_delete()->set_node_id(id);
  remove.mutable_write()->mutable_node_delete()->set_force(true);
  Status deleted = c.Ask(0, remove).status();
  if (!deleted.ok()) expired.Fail("force-delete of " + c.name(ro) + ": " + deleted.ToString());
  c.Retire(ro);
}

// Fills the filesystem holding `dir` (a tmpfs of a few MiB) with `dir`/filler.
void Fill(const std::string& dir) {
  int fd = ::open((dir + "/filler").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return;
  static char block[65536];
  for (size_t size : {sizeof(block), size_t{512}, size_t{1}}) {
    for (int i = 0; i < (1 << 20) && ::write(fd, block, size) > 0; ++i) {
    }
  }
  ::close(fd);
}

// R7: the small-disk node's filesystem filled under load: it must stay up,
// refuse writes with RESOURCE_EXHAUSTED naming the storage fault, lose
// nothing acknowledged, and take writes again once the filler is deleted.
void DiskFull(Context& ctx, int iteration) {
  ChaosCluster& c = ctx.cluster;
  const size_t i = 1;  // ClusterOptions::small_disk_node below
  Check& error = ctx.OwnCheck("disk-full-error");
  Context::Load(ctx.Between(300, 1000));
  size_t band =
      c.history().BeginFault({c.history().Now(), -1, "R7", "disk full " + c.name(i), {c.name(i)}});
  auto filled_at = std::chrono::steady_clock::now();
  Fill(c.member(i).mount);
  double seen = -1;
  bool faulted = WaitFor(
      [&] {
        auto status = c.StatusOf(i);
        bool fault = status.ok() && status->storage_state() == "storage-fault";
        if (fault)
          seen =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - filled_at).count();
        return fault;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  if (!faulted) {
    error.Fail("iteration " + std::to_string(iteration) + ": " + c.name(i) +
               " did not report storage-fault within 30 s of its disk filling");
  } else {
    pb::Request request;
    request.set_request_id("chaos-disk-full-" + std::to_string(iteration));
    auto* r = request.mutable_write()->mutable_register_object();
    r->set_type(pb::SECRET_DATA);
    r->set_name(request.request_id());
    r->set_material("x");
    Status refused = c.Ask(i, request).status();
    if (refused.code() != Code::kResourceExhausted ||
        refused.message().find("storage fault") == std::string::npos) {
      error.Fail("a write to " + c.name(i) + " with its disk full was answered " +
                 refused.ToString());
    } else {
      error.figures += (error.figures.empty() ? "" : ", ") + std::string("storage-fault seen ") +
                       std::to_string(seen).substr(0, 4) +
                       " s after the fill, writes refused with " + "RESOURCE_EXHAUSTED";
    }
  }
  Context::Load(ctx.Between(500, static_cast<int>(ctx.options.duration * 1000) + 500));
  std::filesystem::remove(c.member(i).mount + "/filler");
  c.history().EndFault(band);
  auto freed_at = std::chrono::steady_clock::now();
  bool writable = WaitFor(
      [&] {
        auto status = c.StatusOf(i);
        return status.ok() && status->storage_state() == "writable" &&
               status->mode() == "read-write";
      },
      kRecoveryTimeout, std::chrono::milliseconds(100));
  Check& recovers = ctx.OwnCheck("disk-full-recovers");
  if (!writable) {
    recovers.Fail(c.name(i) + " not writable 60 s after space returned");
  } else {
    double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - freed_at).count();
    recovers.figures += (recovers.figures.empty() ? "" : ", ") + std::string("writable ") +
                        std::to_string(took).substr(0, 4) + " s after space returned";
  }
  ctx.Recovered(freed_at, kRecoveryTimeout);
}

}  // namespace

std::vector<Scenario> StateScenarios() {
  return {
      {.name = "R6",
       .title = "disable/enable churn, then a disable past the maximum duration",
       .default_iterations = 2,
       .fault = DisableEnable,
       .finale = DisablePastTheMaximum},
      {.name = "R7",
       .title = "disk full on one node, then space returned",
       .default_iterations = 1,
       .shape =
           [](ClusterOptions& o) {
             o.small_disk_node = 1;
             o.small_disk_mib = 24;
           },
       .fault = DiskFull,
       .unavailable = [](const RunOptions&) -> std::string {
         return ::geteuid() == 0 ? "" : "the disk-full fault mounts a tmpfs: it needs root";
       }},
  };
}

}  // namespace coffer::chaos
