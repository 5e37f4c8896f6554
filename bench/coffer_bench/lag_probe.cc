#include "bench/coffer_bench/lag_probe.h"

#include <algorithm>

#include "bench/coffer_bench/interrupt.h"

namespace coffer::bench {

LagProbe::LagProbe(BenchCluster& cluster, std::chrono::milliseconds sample_interval,
                   std::chrono::milliseconds poll_interval, std::chrono::milliseconds timeout)
    : cluster_(cluster),
      sample_interval_(sample_interval),
      poll_interval_(poll_interval),
      timeout_(timeout),
      clients_(cluster.nodes().size()) {}

LagProbe::~LagProbe() { Stop(); }

void LagProbe::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void LagProbe::Stop() {
  stop_ = true;
  wanted_ = false;
  if (thread_.joinable()) thread_.join();
}

void LagProbe::Loop() {
  while (!stop_) {
    const auto tick = Clock::now();
    if (measuring_) {
      wanted_ = true;
      std::optional<Offered> sample;
      // Wait for a worker's offer, at most one sample interval.
      while (!stop_ && Clock::now() < tick + sample_interval_) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          sample.swap(offered_);
        }
        if (sample) break;
        std::this_thread::sleep_for(poll_interval_);  // bounded by the sample interval
      }
      wanted_ = false;
      if (sample) {
        auto lag = Measure(*sample);
        if (lag) samples_.push_back(*lag);
      }
    }
    const auto next = tick + sample_interval_;
    while (!stop_ && Clock::now() < next) {
      std::this_thread::sleep_for(
          std::min<Clock::duration>(next - Clock::now(), poll_interval_ * 10));
    }
  }
}

std::optional<uint32_t> LagProbe::Measure(const Offered& sample) {
  const size_t n = cluster_.nodes().size();
  std::vector<bool> seen(n, false);
  Clock::time_point last_seen = sample.acked;
  const auto deadline = Clock::now() + timeout_;
  size_t remaining = n;
  while (remaining > 0) {
    // Not stop_: a sample in progress when the window ends is finished (the
    // slowest samples are the likeliest to be in progress; dropping them
    // would bias the lag down). Bounded by the timeout.
    if (Interrupted()) return std::nullopt;
    if (Clock::now() >= deadline) {
      ++timeouts_;
      return std::nullopt;
    }
    for (size_t i = 0; i < n; ++i) {
      if (seen[i] || !HasObject(i, sample.uuid)) continue;
      seen[i] = true;
      --remaining;
      last_seen = std::max(last_seen, Clock::now());
    }
    if (remaining > 0) std::this_thread::sleep_for(poll_interval_);  // bounded by the deadline
  }
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(last_seen - sample.acked).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(micros, 0, UINT32_MAX));
}

bool LagProbe::HasObject(size_t index, const std::string& uuid) {
  auto& client = clients_[index];
  if (client == nullptr) {
    auto connected = cluster_.Connect(cluster_.nodes()[index], std::chrono::seconds(2));
    if (!connected.ok()) return false;
    client = std::move(connected).value();
  }
  pb::Request request;
  request.mutable_get()->set_uuid(uuid);
  auto response = client->Call(request, std::chrono::seconds(2));
  if (!response.ok()) {
    client.reset();  // reconnect on the next poll
    return false;
  }
  return response->code() == "OK";
}

}  // namespace coffer::bench
