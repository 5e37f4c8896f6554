// R1 (kill -9 of a random node, restart), R2 (kill -9 of both nodes of a
// pair within 100 ms) and R5 (SIGSTOP longer than every timeout, SIGCONT).
#include <algorithm>

#include "tests/chaos/scenario.h"

namespace coffer::chaos {
namespace {

void KillRandomNode(Context& ctx, int) {
  ChaosCluster& c = ctx.cluster;
  size_t i = ctx.rng() % c.size();
  Context::Load(ctx.Between(0, static_cast<int>(ctx.options.duration * 1000 + 1000)));
  c.Kill9(i);
  ctx.Say("R1: kill -9 " + c.name(i));
  // While it is down its peer must hold everything it acknowledged.
  if (c.PeerOf(i) >= 0) ctx.pair_probe.PeerHolds(c, i, ctx.ledger.acked());
  Context::Load(ctx.Between(0, 1000));
  auto healed = std::chrono::steady_clock::now();
  Status restarted = c.Restart(i);
  if (!restarted.ok()) ctx.OwnCheck("recovery").Fail(restarted.ToString());
  ctx.Recovered(healed, kRecoveryTimeout);
}

void KillBothOfAPair(Context& ctx, int) {
  ChaosCluster& c = ctx.cluster;
  if (c.pairs() == 0) return ctx.OwnCheck("pair").Fail("the cluster has no read-write pair");
  std::vector<size_t> pair = c.PairOf(static_cast<int>(ctx.rng() % c.pairs()));
  if (ctx.rng() % 2) std::swap(pair[0], pair[1]);
  Context::Load(ctx.Between(500, static_cast<int>(ctx.options.duration * 1000 + 1000)));
  auto gap = ctx.Between(0, 100);
  c.Kill9(pair[0]);
  std::this_thread::sleep_for(gap);  // the drawn gap between the two kills
  c.Kill9(pair[1]);
  ctx.Say("R2: kill -9 " + c.name(pair[0]) + " and, " + std::to_string(gap.count()) +
          " ms later, " + c.name(pair[1]));
  Context::Load(ctx.Between(0, 1000));
  auto healed = std::chrono::steady_clock::now();
  for (size_t i : pair) {
    Status restarted = c.Restart(i);
    if (!restarted.ok()) ctx.OwnCheck("recovery").Fail(restarted.ToString());
  }
  ctx.Recovered(healed, kRecoveryTimeout);
}

// R5: a node frozen past the pair timeout, the client call timeout and the
// link timeouts. While it is frozen the clients must keep completing calls
// on the other nodes within their deadline; after SIGCONT it must rejoin
// without acting on what it believed before (the checks after healing).
void FreezeANode(Context& ctx, int) {
  ChaosCluster& c = ctx.cluster;
  size_t i = ctx.rng() % c.size();
  auto frozen_for = ctx.Between(5000, 7000);
  Context::Load(ctx.Between(200, 1000));
  double from = c.history().Now();
  c.Freeze(i);
  ctx.Say("R5: SIGSTOP " + c.name(i) + " for " + std::to_string(frozen_for.count()) + " ms");
  Context::Load(frozen_for);
  double to = c.history().Now();
  auto healed = std::chrono::steady_clock::now();
  c.Thaw(i);
  ctx.Recovered(healed, kRecoveryTimeout);
  // Clients kept going: acknowledged operations in each second of the
  // freeze after the first two (failover takes a call timeout share).
  Check& progress = ctx.OwnCheck("clients-progress");
  double slowest = 0;
  std::vector<int> per_second(static_cast<size_t>(to - from) + 1, 0);
  for (const auto& e : c.history().ops()) {
    if (e.type == EventType::kOk && e.t >= from && e.t < to) {
      ++per_second[static_cast<size_t>(e.t - from)];
      slowest = std::max(slowest, e.latency_ms);
    }
  }
  for (size_t s = 2; s + 1 < per_second.size(); ++s) {
    if (per_second[s] == 0) {
      progress.Fail("no operation acknowledged in second " + std::to_string(s) + " of " +
                    c.name(i) + "'s freeze");
    }
  }
  progress.figures = "slowest acknowledged call during a freeze " +
                     std::to_string(static_cast<int>(slowest)) + " ms (deadline 8000 ms)";
}

}  // namespace

std::vector<Scenario> NodeScenarios() {
  return {
      {.name = "R1",
       .title = "kill -9 of a random node at a random moment under load, restart",
       .default_iterations = 3,
       .fault = KillRandomNode,
       .attachable = true},
      {.name = "R2",
       .title = "kill -9 of both nodes of a pair within 100 ms, restart",
       .default_iterations = 2,
       .fault = KillBothOfAPair,
       .attachable = true},
      {.name = "R5",
       .title = "SIGSTOP of a node longer than every timeout, then SIGCONT",
       .default_iterations = 1,
       .fault = FreezeANode,
       .attachable = true},
  };
}

}  // namespace coffer::chaos
