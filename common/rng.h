// Randomness. Ids and test faults draw from an injected Rng so a simulation
// seed reproduces a run. Key material never comes from here: it comes from
// OpenSSL's CSPRNG in storage/crypto.
#pragma once

#include <cstdint>
#include <random>

namespace coffer {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual uint64_t Next() = 0;
  // Uniform in [0, bound); bound > 0.
  uint64_t Uniform(uint64_t bound) { return Next() % bound; }
};

// Deterministic for a given seed. Not thread-safe.
class SeededRng final : public Rng {
 public:
  explicit SeededRng(uint64_t seed) : engine_(seed) {}
  uint64_t Next() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

// Seeded from std::random_device; for production ids. Not thread-safe.
class SystemRng final : public Rng {
 public:
  SystemRng()
      : engine_((static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()) {}
  uint64_t Next() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace coffer
