#include "common/ids.h"

namespace coffer {

namespace {

// The canonical text of the 128 bits hi:lo.
std::string CanonicalText(uint64_t hi, uint64_t lo) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 32; ++i) {
    uint64_t word = i < 16 ? hi : lo;
    int shift = 60 - 4 * (i % 16);
    out.push_back(kHex[(word >> shift) & 0xF]);
    if (i == 7 || i == 11 || i == 15 || i == 19) out.push_back('-');
  }
  return out;
}

constexpr uint64_t kVariantMask = 0xC0ULL << 56;
constexpr uint64_t kVariant10 = 0x80ULL << 56;

}  // namespace

Uuid Uuid::Generate(Rng& rng) {
  uint64_t hi = rng.Next();
  uint64_t lo = rng.Next();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;  // version 4
  lo = (lo & ~kVariantMask) | kVariant10;
  return Uuid(CanonicalText(hi, lo));
}

Uuid Uuid::GenerateTimeOrdered(int64_t unix_micros, Rng& rng) {
  const uint64_t micros = unix_micros < 0 ? 0 : static_cast<uint64_t>(unix_micros);
  const uint64_t millis = (micros / 1000) & ((1ULL << 48) - 1);
  const uint64_t fraction = (micros % 1000) * 4096 / 1000;    // 12 bits, < 4096
  const uint64_t hi = (millis << 16) | 0x7000ULL | fraction;  // version 7
  (void)rng.Next();  // two draws, as Generate makes: a simulation's streams stay as they were
  const uint64_t lo = (rng.Next() & ~kVariantMask) | kVariant10;
  return Uuid(CanonicalText(hi, lo));
}

bool Uuid::IsValid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool Uuid::Parse(std::string_view text, Uuid* out) {
  if (!IsValid(text)) return false;
  *out = Uuid(std::string(text));
  return true;
}

}  // namespace coffer
