// SecretBytes: key material and secret data in memory. It has no implicit
// conversion to text, prints as "<secret N bytes>" through fmt/spdlog, and
// wipes its buffer on destruction. Use reveal() only at the crypto boundary
// and when answering an authorised client.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace coffer {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::string bytes) : bytes_(std::move(bytes)) {}
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes&) = default;
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.Wipe(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    Wipe();
    bytes_ = std::move(other.bytes_);
    other.Wipe();
    return *this;
  }
  ~SecretBytes() { Wipe(); }

  const std::string& reveal() const { return bytes_; }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  bool operator==(const SecretBytes& other) const = default;

 private:
  void Wipe() {
    volatile char* p = bytes_.data();
    for (size_t i = 0; i < bytes_.size(); ++i) p[i] = 0;
    bytes_.clear();
  }
  std::string bytes_;
};

}  // namespace coffer

template <>
struct fmt::formatter<coffer::SecretBytes> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const coffer::SecretBytes& s, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "<secret {} bytes>", s.size());
  }
};
