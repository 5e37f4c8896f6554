// Strong ids: a NodeId is not a sequence number is not a request id.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/rng.h"

namespace coffer {

// A node's id in its cluster; 0 means "none". Never reused after deletion.
struct NodeId {
  uint32_t value = 0;
  auto operator<=>(const NodeId&) const = default;
  bool valid() const { return value != 0; }
};

// An origin's record sequence number; contiguous from 1.
struct Seq {
  uint64_t value = 0;
  auto operator<=>(const Seq&) const = default;
};

// A UUID in canonical 8-4-4-4-12 lower-case hex form. Any version parses;
// Coffer makes version 4 (random) and version 7 (time-ordered) ones.
class Uuid {
 public:
  Uuid() = default;
  // RFC 9562 version 4: 122 random bits.
  static Uuid Generate(Rng& rng);
  // RFC 9562 version 7: the 48-bit Unix time in milliseconds of
  // `unix_micros`, then its sub-millisecond fraction in 12 bits (the RFC's
  // "increased clock precision", so ids made later by one clock sort later),
  // then 62 random bits. Ids made close in time are close in key order, so
  // the rows keyed by them (an object's row and index entries) are inserted
  // next to each other instead of all over the store: the cheap case of a
  // RocksDB memtable insert (bench/README.md). The price: the id shows when
  // it was made, to the millisecond (an object's initial date says as much).
  static Uuid GenerateTimeOrdered(int64_t unix_micros, Rng& rng);
  // Returns false if `text` is not a canonical UUID.
  static bool Parse(std::string_view text, Uuid* out);
  static bool IsValid(std::string_view text);

  const std::string& str() const { return text_; }
  bool empty() const { return text_.empty(); }
  auto operator<=>(const Uuid&) const = default;

 private:
  explicit Uuid(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

}  // namespace coffer
