// Waiting on a condition with a deadline, for tests and harnesses: what they
// use instead of a fixed sleep.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace coffer {

// Polls `condition` every `poll` until it holds or `timeout` passes; returns
// whether it held (checked once more at the deadline).
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10),
                    std::chrono::milliseconds poll = std::chrono::milliseconds(1)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(poll);  // poll interval, bounded by the deadline
  }
  return condition();
}

}  // namespace coffer
