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

// A UUID in canonical 8-4-4-4-12 lower-case hex form (RFC 4122 version 4).
class Uuid {
 public:
  Uuid() = default;
  static Uuid Generate(Rng& rng);
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
