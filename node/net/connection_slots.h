// Connection slots of a listener, sans-IO: who may hold a connection open
// before it has proved anything (a TLS handshake not finished, an HTTP
// request not yet sent), and a log line for refusals that cannot flood the
// log. The listeners (client_server.cc, peer_in_link.cc, http_endpoint.cc)
// perform what these decide; nothing here touches a socket or a clock of its
// own, so the policy is unit-tested on its own (connection_slots_test.cc).
//
// The policy (docs/cluster.md, "Connection slots"):
//  - a listener keeps a SlotTable of the connections that have not yet
//    earned a slot of their own: a total budget (max_total) and a budget per
//    source IP address (max_per_source);
//  - a new connection from a source at its budget takes the place of that
//    source's oldest evictable connection (none: it is refused); a new
//    connection when the table is full takes the place of the oldest
//    evictable connection of the source holding the most entries (none: it
//    is refused). So one source (or a few) flooding the listener only ever
//    evicts its own connections, and a client from another address always
//    gets a place for as long as its handshake takes;
//  - whoever evicts or refuses closes that connection at once, and the entry
//    leaves the table when the connection proves itself (Remove) or closes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace coffer::node {

struct SlotLimits {
  // Entries in the table at most (>= 1).
  size_t max_total = 128;
  // Entries from one source address at most (>= 1).
  size_t max_per_source = 16;
};

// Not thread-safe: the listener guards it with its own mutex.
class SlotTable {
 public:
  explicit SlotTable(SlotLimits limits) : limits_(limits) {}

  struct Admission {
    // False: refused (close the new connection; nothing was added).
    bool admitted = false;
    // Admitted in place of this entry, already removed from the table: the
    // caller closes that connection.
    std::optional<uint64_t> evicted;
    // Why it was refused or why `evicted` was chosen, for the log:
    // "source at its limit" or "listener at its limit".
    std::string_view reason;
  };

  // Decides for a new connection `id` (ids grow with time: a smaller id is an
  // older connection; unique) from `source` (an IP address, without port).
  // Admitted entries start evictable.
  Admission Admit(uint64_t id, const std::string& source);

  // Marks an entry as (not) evictable; unknown ids are ignored.
  void SetEvictable(uint64_t id, bool evictable);

  // Removes an entry (it proved itself, or closed). Unknown ids are ignored.
  void Remove(uint64_t id);

  bool Contains(uint64_t id) const { return entries_.count(id) != 0; }
  size_t size() const { return entries_.size(); }
  size_t CountFor(const std::string& source) const;
  const SlotLimits& limits() const { return limits_; }

 private:
  struct Entry {
    std::string source;
    bool evictable = true;
  };
  // The oldest evictable entry of `source`, if any.
  std::optional<uint64_t> OldestEvictableOf(const std::string& source) const;
  void Erase(std::map<uint64_t, Entry>::iterator it);

  SlotLimits limits_;
  std::map<uint64_t, Entry> entries_;  // ordered by id: oldest first
  std::unordered_map<std::string, size_t> per_source_;
};

// A log line that is written at most once per `interval`: the first event is
// logged at once, later ones within the interval are counted, and the next
// line written says how many were suppressed. Thread-safe.
class RateLimitedLog {
 public:
  explicit RateLimitedLog(std::chrono::milliseconds interval) : interval_(interval) {}

  // Whether a line for an event at `now` is to be written. If so,
  // `*suppressed` is the number of events not written since the last line
  // (0 for the first); otherwise the event is counted.
  bool ShouldLog(std::chrono::steady_clock::time_point now, uint64_t* suppressed);

  // ShouldLog at steady_clock::now(); if it says so writes `message` at warn
  // level, with " (N similar lines suppressed since the last one)" appended
  // when N > 0.
  void Warn(const std::string& message);

  // Lines written and events suppressed so far.
  uint64_t written() const;
  uint64_t suppressed_total() const;

 private:
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::optional<std::chrono::steady_clock::time_point> last_;  // GUARDED_BY(mu_)
  uint64_t pending_ = 0;                                       // GUARDED_BY(mu_)
  uint64_t written_ = 0;                                       // GUARDED_BY(mu_)
  uint64_t suppressed_total_ = 0;                              // GUARDED_BY(mu_)
};

}  // namespace coffer::node
