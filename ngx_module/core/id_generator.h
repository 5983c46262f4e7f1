// Per-worker source of random ids (request ids, trace ids, span ids) and sampling decisions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>

namespace captain {

// A userspace generator seeded once per worker from the kernel's CSPRNG. Calling RAND_bytes or
// getrandom() per request costs far more than the rest of our per-request work (nginx itself
// moved $request_id off RAND_bytes for that reason); ids need to be unique and unguessable
// enough for correlation, not secret. std::mt19937_64 is the standard library's maintained
// generator: ~2 ns per 64 bits, 2^19937 period, so no hand-written PRNG is needed.
class IdGenerator {
 public:
  // Seeds from getrandom(). Returns false if the kernel gave no entropy (then a time/pid
  // mix is used so ids stay unique per worker, and the caller should log it).
  bool seed_from_os() noexcept;
  void seed(const std::array<std::uint64_t, 4>& seed_words) noexcept;

  std::uint64_t next() noexcept { return engine_(); }

  template <std::size_t N>
  void fill(std::array<std::uint8_t, N>& out) noexcept {
    for (std::size_t i = 0; i < N; i += 8) {
      std::uint64_t word = engine_();
      for (std::size_t j = i; j < N && j < i + 8; ++j) {
        out[j] = static_cast<std::uint8_t>(word);
        word >>= 8;
      }
    }
  }

  // Fills with random bytes that are not all zero (W3C forbids all-zero trace and span ids).
  template <std::size_t N>
  void fill_nonzero(std::array<std::uint8_t, N>& out) noexcept {
    do {
      fill(out);
    } while (all_zero(out));
  }

  // True with probability ppm / 1'000'000.
  bool chance_ppm(std::uint32_t ppm) noexcept {
    return ppm >= 1'000'000 || (ppm > 0 && next() % 1'000'000 < ppm);
  }

 private:
  template <std::size_t N>
  static bool all_zero(const std::array<std::uint8_t, N>& a) noexcept {
    for (auto b : a) {
      if (b != 0) return false;
    }
    return true;
  }

  std::mt19937_64 engine_;
};

}  // namespace captain
