#include "storage/object_store/log_tail.h"

#include <utility>

namespace coffer::storage {

void LogTail::Append(uint32_t origin, uint64_t seq, std::string value) {
  if (max_bytes_ == 0) return;
  Tail& tail = tails_[origin];
  if (tail.first == 0 || seq != tail.next()) {
    // The newest record, with nothing after it: a tail of this record alone
    // is exact.
    bytes_ -= tail.bytes;
    tail = Tail{};
    tail.first = seq;
  }
  tail.bytes += Cost(value);
  bytes_ += Cost(value);
  tail.values.push_back(std::move(value));
  Evict();
}

void LogTail::Rewrite(uint32_t origin, uint64_t seq, std::string value) {
  auto it = tails_.find(origin);
  if (it == tails_.end()) return;
  Tail& tail = it->second;
  if (seq < tail.first || seq >= tail.next()) return;  // not held
  std::string& held = tail.values[seq - tail.first];
  tail.bytes = tail.bytes - Cost(held) + Cost(value);
  bytes_ = bytes_ - Cost(held) + Cost(value);
  held = std::move(value);
  Evict();
}

void LogTail::Collect(uint32_t origin, uint64_t through) {
  auto it = tails_.find(origin);
  if (it == tails_.end()) return;
  Tail& tail = it->second;
  while (!tail.values.empty() && tail.first <= through) PopFront(tail);
  // Emptied: the store holds nothing of the origin from `next` on, which
  // stays true (a read from there is empty, as the store would answer).
  if (tail.values.empty() && tail.first <= through) tail.first = through + 1;
}

void LogTail::Clear() {
  tails_.clear();
  bytes_ = 0;
}

size_t LogTail::records() const {
  size_t n = 0;
  for (const auto& [origin, tail] : tails_) n += tail.values.size();
  return n;
}

void LogTail::PopFront(Tail& tail) {
  tail.bytes -= Cost(tail.values.front());
  bytes_ -= Cost(tail.values.front());
  tail.values.pop_front();
  ++tail.first;
}

void LogTail::Evict() {
  // Bounded: each round drops one record; at most every record held.
  while (bytes_ > max_bytes_) {
    Tail* largest = nullptr;
    for (auto& [origin, tail] : tails_) {
      if (!tail.values.empty() && (largest == nullptr || tail.bytes > largest->bytes)) {
        largest = &tail;
      }
    }
    if (largest == nullptr) return;
    PopFront(*largest);
  }
}

}  // namespace coffer::storage
