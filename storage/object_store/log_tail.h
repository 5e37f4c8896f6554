// A bounded in-memory copy of the newest log records of each origin, as they
// are stored (material sealed, exactly the bytes of the L/ row), so that
// ObjectStore::ReadLog serves the records a peer asks for moments after they
// were written (the common case: the peer is caught up) without reading them
// back from RocksDB (issue 12).
//
// Contract (what makes serving from it exact): for each origin it holds, the
// tail is the records first..next-1 of that origin exactly as stored, and the
// store holds no record of the origin at or after `next`. So a read from any
// seq >= first is answered from memory alone; a read from below `first` is
// not served (the caller reads the store). The owner keeps that true by
// telling the tail of every log row it writes, after the write succeeded:
// a newly applied record (Append: the origin's newest) or an older record
// rewritten in place (Rewrite: a destroy erasing material from a creation
// record); every range it collects (Collect) and every wholesale change
// (Clear: snapshot install). Only Append starts an origin's tail: a rewrite
// says nothing about the records after it. It starts empty (a new process), so it only
// holds records written since the store was opened.
//
// Bounded by bytes (values plus a fixed per-record overhead): past the bound
// the oldest records of the origin holding the most bytes are dropped
// (reads of them go to the store). Not thread-safe: the store's owner
// thread uses it, as it uses the store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

namespace coffer::storage {

class LogTail {
 public:
  // Bytes counted per record besides its value (deque slot, string header).
  static constexpr size_t kRecordOverheadBytes = 48;

  // max_bytes == 0: holds nothing (every read goes to the store).
  explicit LogTail(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Record `seq` of `origin`, now the origin's newest record in the store,
  // was written with `value`: appended if it is the tail's next record;
  // otherwise (the first since the store opened, or after records the tail
  // never saw) the origin's tail restarts at it.
  void Append(uint32_t origin, uint64_t seq, std::string value);
  // An existing record `seq` of `origin` was rewritten with `value`:
  // replaced if the tail holds it, else nothing changes.
  void Rewrite(uint32_t origin, uint64_t seq, std::string value);
  // The records of `origin` through seq `through` were deleted.
  void Collect(uint32_t origin, uint64_t through);
  // Forgets everything (the log was replaced wholesale).
  void Clear();

  // Serves a read of `origin` from `from_seq`: calls visit(seq, value) for up
  // to `limit` records in seq order (visit returns false to stop) and
  // returns true; false (and no call) if the tail cannot answer exactly,
  // because it does not hold `origin` or from_seq is below its first record.
  template <typename Visit>
  bool Read(uint32_t origin, uint64_t from_seq, size_t limit, Visit visit) const {
    auto it = tails_.find(origin);
    if (it == tails_.end() || from_seq < it->second.first) return false;
    const Tail& tail = it->second;
    for (uint64_t seq = from_seq, n = 0; seq < tail.next() && n < limit; ++seq, ++n) {
      if (!visit(seq, std::string_view(tail.values[seq - tail.first]))) break;
    }
    return true;
  }

  size_t bytes() const { return bytes_; }
  size_t records() const;

 private:
  struct Tail {
    uint64_t first = 0;  // seq of values.front(); next() when empty
    std::deque<std::string> values;
    size_t bytes = 0;
    uint64_t next() const { return first + values.size(); }
  };
  static size_t Cost(const std::string& value) { return value.size() + kRecordOverheadBytes; }
  void PopFront(Tail& tail);
  void Evict();

  size_t max_bytes_;
  size_t bytes_ = 0;
  std::map<uint32_t, Tail> tails_;
};

}  // namespace coffer::storage
