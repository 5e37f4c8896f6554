#include "node/net/connection_slots.h"

#include <spdlog/spdlog.h>

namespace coffer::node {

SlotTable::Admission SlotTable::Admit(uint64_t id, const std::string& source) {
  Admission admission;
  if (CountFor(source) >= limits_.max_per_source) {
    admission.reason = "source at its limit";
    std::optional<uint64_t> victim = OldestEvictableOf(source);
    if (!victim) return admission;
    Erase(entries_.find(*victim));
    admission.evicted = victim;
  } else if (entries_.size() >= limits_.max_total) {
    admission.reason = "listener at its limit";
    // The source holding the most entries that has an evictable one; among
    // equals, the one whose evictable entry is oldest.
    std::optional<uint64_t> victim;
    size_t victim_count = 0;
    std::unordered_map<std::string, bool> seen;
    for (const auto& [entry_id, entry] : entries_) {  // oldest first
      if (!entry.evictable || seen.count(entry.source) != 0) continue;
      seen.emplace(entry.source, true);
      size_t count = CountFor(entry.source);
      if (!victim || count > victim_count) {
        victim = entry_id;
        victim_count = count;
      }
    }
    if (!victim) return admission;
    Erase(entries_.find(*victim));
    admission.evicted = victim;
  }
  entries_.emplace(id, Entry{source, true});
  ++per_source_[source];
  admission.admitted = true;
  return admission;
}

void SlotTable::SetEvictable(uint64_t id, bool evictable) {
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.evictable = evictable;
}

void SlotTable::Remove(uint64_t id) {
  auto it = entries_.find(id);
  if (it != entries_.end()) Erase(it);
}

size_t SlotTable::CountFor(const std::string& source) const {
  auto it = per_source_.find(source);
  return it == per_source_.end() ? 0 : it->second;
}

std::optional<uint64_t> SlotTable::OldestEvictableOf(const std::string& source) const {
  for (const auto& [id, entry] : entries_) {
    if (entry.evictable && entry.source == source) return id;
  }
  return std::nullopt;
}

void SlotTable::Erase(std::map<uint64_t, Entry>::iterator it) {
  auto count = per_source_.find(it->second.source);
  if (count != per_source_.end() && --count->second == 0) per_source_.erase(count);
  entries_.erase(it);
}

bool RateLimitedLog::ShouldLog(std::chrono::steady_clock::time_point now, uint64_t* suppressed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (last_ && now - *last_ < interval_) {
    ++pending_;
    ++suppressed_total_;
    return false;
  }
  last_ = now;
  *suppressed = pending_;
  pending_ = 0;
  ++written_;
  return true;
}

void RateLimitedLog::Warn(const std::string& message) {
  uint64_t suppressed = 0;
  if (!ShouldLog(std::chrono::steady_clock::now(), &suppressed)) return;
  if (suppressed == 0) {
    spdlog::warn("{}", message);
  } else {
    spdlog::warn("{} ({} similar lines suppressed since the last one)", message, suppressed);
  }
}

uint64_t RateLimitedLog::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

uint64_t RateLimitedLog::suppressed_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return suppressed_total_;
}

}  // namespace coffer::node
