// R3 (the pair link cut both ways, and one way only) and R4 (partitions:
// halves, one node isolated, a bridge; delay; loss; redelivery), through the
// fault proxies in front of every node's peer port (chaos_cluster.h).
//
// What a TCP proxy can and cannot do: links are TLS over TCP, so the proxy
// works on byte streams, not packets. "Loss" is a link blackholed for a
// burst (the bytes in flight are dropped, TLS fails, the node redials);
// "duplication" is every connection into a node reset at once (the
// senders redial and resend what was not yet acknowledged, so records
// arrive twice); "reordering" inside one stream cannot happen over TCP, and
// across links it comes from the delays. tests/chaos/README.md says so.
#include <algorithm>
#include <optional>

#include "tests/chaos/direct_writer.h"
#include "tests/chaos/scenario.h"

namespace coffer::chaos {
namespace {

// A pair node reports restricted within 1 s of its link going silent
// (docs/cluster.md, "Measured"); the check allows the status poll on top.
constexpr double kRestrictedBoundSeconds = 3.0;

// R3: cut the link between the nodes of a pair `a` and `b`, by iteration:
// 1 both ways; 2 one way (what `a` sends never reaches `b`); 3 what `a`
// sends reaches no node at all (records also travel through the other
// nodes, so only this stops `a`'s records from reaching `b` by relay). While
// split, every restricted node refuses critical writes sent straight to it;
// then `a` is killed, and its peer must hold every write `a` acknowledged
// (pair-durable); then `a` restarts and the links heal.
void CutThePairLink(Context& ctx, int iteration) {
  ChaosCluster& c = ctx.cluster;
  std::vector<size_t> pair = c.PairOf(static_cast<int>(ctx.rng() % c.pairs()));
  if (ctx.rng() % 2) std::swap(pair[0], pair[1]);
  const size_t a = pair[0], b = pair[1];
  const int variant = (iteration - 1) % 3;
  Context::Load(ctx.Between(200, 1000));
  auto cut_at = std::chrono::steady_clock::now();
  c.Cut(a, b);
  if (variant == 0) c.Cut(b, a);
  if (variant == 2) {
    for (size_t i = 0; i < c.size(); ++i) {
      if (i != a && i != b) c.Cut(a, i);
    }
  }
  ctx.Say("R3: cut " + c.name(a) + (variant == 0 ? " <-> " : " -> ") +
          (variant == 2 ? "every node" : c.name(b)));
  // Probe while split: until the end of the load window.
  auto until =
      cut_at + std::chrono::milliseconds(static_cast<int>(ctx.options.duration * 1000) + 2000);
  double restricted_after = -1;
  std::optional<DirectWriter> direct;
  direct.emplace(ctx, a);
  for (int round = 0; round < 10'000 && std::chrono::steady_clock::now() < until; ++round) {
    bool any = false;
    for (size_t i : {a, b}) any = ctx.restricted_probe.Probe(c, i) || any;
    if (any && restricted_after < 0) {
      restricted_after =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - cut_at).count();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the probe's period
  }
  Check& bound = ctx.OwnCheck("restricted-bound");
  if (variant == 2) {
    // `a` still hears its peer; whether it calls itself restricted is not
    // asked, only that it acknowledges nothing its peer lacks.
  } else if (restricted_after < 0 || restricted_after > kRestrictedBoundSeconds) {
    bound.Fail("iteration " + std::to_string(iteration) + ": no node of " + c.name(a) + "/" +
               c.name(b) + " reported restricted within " +
               std::to_string(kRestrictedBoundSeconds) + " s of the cut");
  } else {
    ctx.seconds.push_back(restricted_after);
    bound.figures = "restricted after the cut: " + std::to_string(ctx.seconds.size()) + " cuts, " +
                    Context::MedianAndMax(ctx.seconds) + " (bound 3 s)";
  }
  direct.reset();
  c.Kill9(a);
  ctx.pair_probe.PeerHolds(c, a, ctx.ledger.acked());
  auto healed = std::chrono::steady_clock::now();
  c.HealNetwork();
  Status restarted = c.Restart(a);
  if (!restarted.ok()) ctx.OwnCheck("recovery").Fail(restarted.ToString());
  ctx.Recovered(healed, kRecoveryTimeout);
}

// R4: one network fault per iteration, held for the load window, then healed;
// within 10 s of each heal every node must have caught up with what every
// origin had at the heal (WaitCaughtUp: the load goes on, so digests are
// compared only after the run, in the checks after healing).
void NetworkFault(Context& ctx, int iteration) {
  ChaosCluster& c = ctx.cluster;
  const int kinds = 6;
  int kind = static_cast<int>((iteration - 1 + ctx.rng() % kinds) % kinds);
  std::vector<size_t> all(c.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::shuffle(all.begin(), all.end(), ctx.rng);
  auto window = std::chrono::milliseconds(static_cast<int>(ctx.options.duration * 1000));
  std::string what;
  switch (kind) {
    case 0: {  // halves
      std::vector<size_t> half(all.begin(), all.begin() + static_cast<long>(all.size() / 2));
      c.Partition(half);
      what = "halves";
      Context::Load(window);
      break;
    }
    case 1:  // one node isolated
      c.Partition({all[0]});
      what = "isolate " + c.name(all[0]);
      Context::Load(window);
      break;
    case 2: {  // a bridge: all[0] hears both sides, the sides do not hear each other
      std::vector<size_t> left, right;
      for (size_t k = 1; k < all.size(); ++k) (k % 2 ? left : right).push_back(all[k]);
      for (size_t l : left) {
        for (size_t r : right) {
          c.Cut(l, r);
          c.Cut(r, l);
        }
      }
      what = "bridge through " + c.name(all[0]);
      Context::Load(window);
      break;
    }
    case 3:  // delay into every node, a different amount each
      for (size_t i = 0; i < c.size(); ++i) c.Delay(i, ctx.Between(20, 250));
      what = "delays 20-250 ms";
      Context::Load(window);
      break;
    case 4: {  // loss: short blackhole bursts on random links
      what = "loss bursts";
      auto end = std::chrono::steady_clock::now() + window;
      for (int burst = 0; burst < 200 && std::chrono::steady_clock::now() < end; ++burst) {
        size_t from = ctx.rng() % c.size(), to = ctx.rng() % c.size();
        if (from != to) c.Cut(from, to);
        Context::Load(ctx.Between(100, 300));
        c.HealNetwork();
      }
      break;
    }
    default: {  // redelivery: every connection into a node reset, repeatedly
      what = "connection resets (redelivery)";
      auto end = std::chrono::steady_clock::now() + window;
      for (int reset = 0; reset < 200 && std::chrono::steady_clock::now() < end; ++reset) {
        c.ResetLinks(ctx.rng() % c.size());
        Context::Load(ctx.Between(150, 400));
      }
      break;
    }
  }
  ctx.Say("R4: " + what + ", healed");
  c.HealNetwork();
  std::string detail;
  double took = c.WaitCaughtUp(std::chrono::seconds(10), &detail);
  Check& converged = ctx.OwnCheck("converged-each-heal");
  if (took < 0) converged.Fail("after " + what + ": not caught up within 10 s: " + detail);
  ctx.recovery_seconds.push_back(took < 0 ? 10 : took);
  auto& runs = ctx.figures;
  runs.emplace_back("iteration " + std::to_string(iteration),
                    what + ", converged " +
                        (took < 0 ? std::string("NO") : std::to_string(took).substr(0, 4) + " s"));
  ctx.Recovered(std::chrono::steady_clock::now(), kRecoveryTimeout);
}

}  // namespace

std::vector<Scenario> NetworkScenarios() {
  return {
      {.name = "R3",
       .title = "pair link cut both ways, one way, and the sender heard by none; it is killed "
                "while split",
       .default_iterations = 3,
       .fault = CutThePairLink},
      {.name = "R4",
       .title = "partitions (halves, isolation, bridge), delay, loss, redelivery; converge in 10 s",
       .default_iterations = 6,
       .default_duration = 1.5,
       .fault = NetworkFault},
  };
}

}  // namespace coffer::chaos
