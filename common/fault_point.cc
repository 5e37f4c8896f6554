#include "common/fault_point.h"

#include <chrono>
#include <cstdlib>
#include <thread>

namespace coffer::fault {

Registry& Registry::Global() {
  static Registry* registry = new Registry();  // never destroyed: points may be hit at exit
  return *registry;
}

void Registry::Arm(std::string_view name, Arming arming) {
  std::lock_guard lock(mu_);
  Point& point = points_[std::string(name)];
  point.rng.seed(arming.seed);
  point.arming = std::move(arming);
  point.hits = 0;
  point.fires = 0;
  armed_.store(static_cast<int>(points_.size()), std::memory_order_relaxed);
}

void Registry::Disarm(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = points_.find(name);
  if (it != points_.end()) points_.erase(it);
  armed_.store(static_cast<int>(points_.size()), std::memory_order_relaxed);
}

void Registry::DisarmAll() {
  std::lock_guard lock(mu_);
  points_.clear();
  armed_.store(0, std::memory_order_relaxed);
}

bool Registry::Hit(std::string_view name) {
  if (armed_.load(std::memory_order_relaxed) == 0) return false;
  Action action;
  int64_t delay_micros = 0;
  std::function<bool()> callback;
  {
    std::lock_guard lock(mu_);
    auto it = points_.find(name);
    if (it == points_.end()) return false;
    Point& point = it->second;
    ++point.hits;
    const Arming& arming = point.arming;
    if (point.hits <= arming.skip || point.fires >= arming.times) return false;
    if (arming.probability < 1.0) {
      double draw = static_cast<double>(point.rng() >> 11) * 0x1.0p-53;
      if (draw >= arming.probability) return false;
    }
    ++point.fires;
    action = arming.action;
    delay_micros = arming.delay_micros;
    callback = arming.callback;
  }
  switch (action) {
    case Action::kFail:
      return true;
    case Action::kDelay:
      std::this_thread::sleep_for(std::chrono::microseconds(delay_micros));
      return false;
    case Action::kCrash:
      std::_Exit(kCrashExitCode);
    case Action::kCallback:
      return callback ? callback() : false;
  }
  return false;
}

uint64_t Registry::hits(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = points_.find(name);
  return it == points_.end() ? 0 : it->second.hits;
}

uint64_t Registry::fires(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = points_.find(name);
  return it == points_.end() ? 0 : it->second.fires;
}

ScopedFaultPoint::ScopedFaultPoint(std::string name, Arming arming) : name_(std::move(name)) {
  Registry::Global().Arm(name_, std::move(arming));
}

ScopedFaultPoint::~ScopedFaultPoint() { Registry::Global().Disarm(name_); }

StatusOr<std::vector<std::string>> ArmFromSpec(std::string_view spec) {
  constexpr size_t kMaxNames = 32;
  constexpr size_t kMaxNameBytes = 128;
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string_view name = spec.substr(start, comma - start);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name.empty() || name.size() > kMaxNameBytes) {
      return InvalidArgument(std::string(kArmEnvironmentVariable) +
                             ": a fault point name is empty or longer than 128 bytes");
    }
    names.emplace_back(name);
    if (names.size() > kMaxNames) {
      return InvalidArgument(std::string(kArmEnvironmentVariable) + ": more than 32 names");
    }
    start = comma + 1;
  }
  if (!Enabled()) {
    return InvalidArgument(std::string(kArmEnvironmentVariable) +
                           " is set but this build has no fault points (a Release build); "
                           "planted bugs need a dev or asan build");
  }
  for (const auto& name : names) Registry::Global().Arm(name, {.action = Action::kFail});
  return names;
}

}  // namespace coffer::fault
