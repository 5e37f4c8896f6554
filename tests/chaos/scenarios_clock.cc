// R8: clock jumps on one node, forward past the allowed offset and back
// (the node's wall clock moved through its clock offset file,
// common/clock.h; its hybrid logical clock never goes back).
#include "common/fault_point.h"
#include "common/wait_for.h"
#include "tests/chaos/direct_writer.h"
#include "tests/chaos/scenario.h"

namespace coffer::chaos {
namespace {

constexpr int64_t kSecond = 1'000'000;

// The clock refusals every node other than `x` has reported so far
// (NodeStatus.clock_refusals: records stamped too far ahead).
uint64_t RefusalsOfOthers(ChaosCluster& c, size_t x, std::string* last) {
  uint64_t total = 0;
  for (size_t i : c.live()) {
    if (i == x) continue;
    auto status = c.StatusOf(i);
    if (!status.ok()) continue;
    total += status->clock_refusals();
    if (status->clock_refusals() > 0 && last != nullptr) *last = status->last_clock_refusal();
  }
  return total;
}

// One iteration: node x's clock jumps 3 s forward for 2.5 s under load,
// then back; then 1 h back for 2 s, then right again.
//  - while ahead, every record x stamps is more than the allowed offset
//    (0.5 s) in the others' future: they must refuse it and say so
//    (NodeStatus.clock_refusals, a warn line, coffer_clock_refusals_total),
//    never apply it (origin-order's integrity check and convergence);
//  - once x's clock is right again its stamps come within the offset as
//    real time passes: everyone catches up within 10 s;
//  - a jump back changes nothing the others see (x's stamps keep rising).
void JumpAClock(Context& ctx, int iteration) {
  ChaosCluster& c = ctx.cluster;
  std::vector<size_t> rw = c.ReadWriteNodes();
  const size_t x = rw[ctx.rng() % rw.size()];
  Context::Load(ctx.Between(300, 800));
  std::string last_refusal;
  uint64_t refusals_before = RefusalsOfOthers(c, x, nullptr);
  c.SetClockOffset(x, 3 * kSecond);
  ctx.Say("R8: " + c.name(x) + "'s clock 3 s ahead");
  {
    DirectWriter writes(ctx, x);
    Context::Load(std::chrono::milliseconds(2500));
  }
  uint64_t refusals_ahead = RefusalsOfOthers(c, x, &last_refusal);
  Check& refused = ctx.OwnCheck("future-refused");
  if (refusals_ahead <= refusals_before) {
    refused.Fail("iteration " + std::to_string(iteration) +
                 ": no node reported a clock refusal while " + c.name(x) +
                 "'s clock was 3 s ahead");
  } else {
    refused.figures = std::to_string(refusals_ahead - refusals_before) +
                      " clock refusals reported while ahead, last: " + last_refusal.substr(0, 200);
  }
  c.SetClockOffset(x, 0);
  std::string detail;
  double took = c.WaitCaughtUp(std::chrono::seconds(10), &detail);
  Check& back = ctx.OwnCheck("caught-up-after-jump");
  if (took < 0) {
    back.Fail("iteration " + std::to_string(iteration) + ": 10 s after " + c.name(x) +
              "'s clock was right again: " + detail);
  }
  ctx.figures.emplace_back(
      "forward jump " + std::to_string(iteration),
      "caught up " + std::to_string(took).substr(0, 4) + " s after the clock was right again");
  // x's stamps stay ahead until real time reaches the last one it made while
  // ahead (its clock never goes back), so the others may still refuse a
  // record for a while: wait (up to 15 s) until their count stands still for
  // a second, so that only what the jump back causes is counted after it.
  uint64_t refusals_then = RefusalsOfOthers(c, x, nullptr);
  auto stood_since = std::chrono::steady_clock::now();
  WaitFor(
      [&] {
        uint64_t now = RefusalsOfOthers(c, x, nullptr);
        if (now != refusals_then) {
          refusals_then = now;
          stood_since = std::chrono::steady_clock::now();
        }
        return std::chrono::steady_clock::now() - stood_since >= std::chrono::seconds(1);
      },
      std::chrono::seconds(15), std::chrono::milliseconds(100));
  c.SetClockOffset(x, -3600 * kSecond);
  ctx.Say("R8: " + c.name(x) + "'s clock 1 h behind");
  {
    DirectWriter writes(ctx, x);
    Context::Load(std::chrono::milliseconds(2000));
  }
  c.SetClockOffset(x, 0);
  took = c.WaitCaughtUp(std::chrono::seconds(10), &detail);
  if (took < 0) {
    back.Fail("iteration " + std::to_string(iteration) + ": 10 s after a jump back on " +
              c.name(x) + ": " + detail);
  }
  if (RefusalsOfOthers(c, x, &last_refusal) != refusals_then) {
    refused.Fail("a clock jump back on " + c.name(x) +
                 " made a node refuse a record: " + last_refusal);
  }
  ctx.Recovered(std::chrono::steady_clock::now(), std::chrono::seconds(60));
}

}  // namespace

std::vector<Scenario> ClockScenarios() {
  return {
      {.name = "R8",
       .title = "clock jumps on one node: 3 s forward (refused, reported), 1 h back",
       .default_iterations = 1,
       .fault = JumpAClock,
       .unavailable = [](const RunOptions&) -> std::string {
         return fault::Enabled()
                    ? ""
                    : "moving a node's clock needs a build with fault points (dev or asan)";
       }},
  };
}

}  // namespace coffer::chaos
