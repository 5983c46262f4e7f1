// Per-worker source of random ids (request ids, trace ids, span ids) and sampling decisions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace captain {

// xoshiro256** (Blackman & Vigna, 2018), seeded once per worker from the kernel's CSPRNG.
//
// Why not a library: RAND_bytes or getrandom() per request cost more than the rest of the
// module's per-request work (nginx moved $request_id off RAND_bytes for that reason), and the
// standard library's std::mt19937_64 measured ~30 instructions per draw plus a 2.5 KB state
// to keep in cache, against ~10 here with 32 bytes; its small generators (minstd) are 31-bit
// LCGs with visible patterns. Ids need to be unique and unguessable enough for correlation,
// not secret; xoshiro256** has a 2^256 - 1 period and passes BigCrush.
class IdGenerator {
 public:
  // Seeds from getrandom(). Returns false if the kernel gave no entropy (then a time/pid
  // mix is used so ids stay unique per worker, and the caller should log it).
  bool seed_from_os() noexcept;
  void seed(const std::array<std::uint64_t, 4>& seed_words) noexcept;

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  template <std::size_t N>
  void fill(std::array<std::uint8_t, N>& out) noexcept {
    for (std::size_t i = 0; i < N; i += 8) {
      const std::uint64_t word = next();
      std::memcpy(out.data() + i, &word, N - i < 8 ? N - i : 8);
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
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

  template <std::size_t N>
  static bool all_zero(const std::array<std::uint8_t, N>& a) noexcept {
    for (auto b : a) {
      if (b != 0) return false;
    }
    return true;
  }

  // Never all zero (the one state xoshiro cannot leave); seed() guarantees it.
  std::uint64_t s_[4] = {0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL, 0x94d049bb133111ebULL,
                         0x2545f4914f6cdd1dULL};
};

}  // namespace captain
