#include "node/monitoring/storage_watch.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

namespace coffer::node {

namespace {
// While a fault lasts, the warn line is repeated this often.
constexpr int64_t kRewarnMicros = 30'000'000;
constexpr auto kTickInterval = std::chrono::milliseconds(50);
}  // namespace

StorageWatch::StorageWatch(storage::ObjectStore& store, std::string data_dir, const Clock& clock,
                           NodeMetrics& metrics, boost::asio::io_context& store_io,
                           boost::asio::io_context& sync_io)
    : store_(store),
      data_dir_(std::move(data_dir)),
      clock_(clock),
      metrics_(metrics),
      store_io_(store_io),
      sync_io_(sync_io),
      timer_(store_io) {}

void StorageWatch::Start() {
  if (stopped_) return;
  timer_.expires_after(kTickInterval);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    Tick();
    Start();
  });
}

void StorageWatch::Stop() {
  stopped_ = true;
  timer_.cancel();
}

std::string StorageWatch::FreeText() const {
  auto free = store_.FreeDiskBytes();
  return free ? std::to_string(*free) + " bytes free" : std::string("free space unknown");
}

void StorageWatch::Tick() {
  int64_t now = clock_.MonotonicMicros();
  switch (guard_.Observe(store_.StorageFault(), now)) {
    case replication::StorageGuard::Step::kFaulted:
      last_warned_ = now;
      metrics_.AddStorageFault();
      spdlog::warn(
          "storage fault: {} (data directory {}, {}); writes are refused and reads served until "
          "the store can write again; resuming by itself (first try in {} ms)",
          guard_.fault().ToString(), data_dir_, FreeText(),
          (guard_.next_attempt_micros() - now) / 1000);
      return;
    case replication::StorageGuard::Step::kResume:
      guard_.ResumeStarted(now);
      boost::asio::post(sync_io_, [this] {
        Status result = store_.ResumeStorage();
        boost::asio::post(store_io_, [this, result] {
          if (!stopped_) ResumeDone(result);
        });
      });
      return;
    case replication::StorageGuard::Step::kNone:
      break;
  }
  if (!guard_.writable() && now - last_warned_ >= kRewarnMicros) {
    last_warned_ = now;
    spdlog::warn("storage fault for {} s: {} (data directory {}, {}); {} resume attempts so far",
                 (now - guard_.fault_since_micros()) / 1'000'000, guard_.fault().ToString(),
                 data_dir_, FreeText(), guard_.resume_attempts());
  }
}

void StorageWatch::ResumeDone(const Status& result) {
  int64_t now = clock_.MonotonicMicros();
  int64_t since = guard_.fault_since_micros();
  if (guard_.ResumeDone(result, now)) {
    spdlog::info("storage writable again after {} ms (data directory {}, {}); writes accepted",
                 (now - since) / 1000, data_dir_, FreeText());
    if (on_resumed_) on_resumed_();
  } else {
    spdlog::debug("storage resume failed: {} (next try in {} ms)", result.ToString(),
                  (guard_.next_attempt_micros() - now) / 1000);
  }
}

void StorageWatch::Fill(pb::NodeStatus* status) const {
  status->set_storage_state(std::string(replication::StorageStateName(guard_.state())));
  if (!guard_.writable()) status->set_storage_fault(guard_.fault().ToString());
  auto free = store_.FreeDiskBytes();
  status->set_storage_free_bytes(free ? static_cast<int64_t>(*free) : -1);
}

}  // namespace coffer::node
