// The identity of a rate-limited client in a zone: its key bytes, or a 128-bit hash of them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace captain::rate_limit {

inline constexpr std::size_t kMaxExactKeyLength = 16;
inline constexpr std::uint8_t kHashedKey = kMaxExactKeyLength + 1;  // length code of hashed keys

// Keys up to 16 bytes ($binary_remote_addr: 4 or 16) are kept exactly: zero-padded words plus
// the length, so "a" and "a\0" differ. Longer keys keep a seeded 128-bit XXH3 hash: two
// distinct long keys collide with probability 2^-128, so among n live long keys the chance of
// any collision is below n^2 / 2^129 (2^-89 for a million keys) — and the seed is random per
// zone, so clients cannot search for collisions offline.
struct Key {
  std::uint64_t words[2] = {0, 0};
  std::uint8_t length_code = 0;   // 0 .. 16 exact length, kHashedKey for hashed keys
  std::uint64_t bucket_hash = 0;  // seeded hash that picks the key's buckets

  friend bool operator==(const Key& a, const Key& b) {
    return a.words[0] == b.words[0] && a.words[1] == b.words[1] && a.length_code == b.length_code;
  }
};

// `seed` is the zone's random hash seed. `data` may be null when `length` is 0.
Key make_key(const unsigned char* data, std::size_t length, std::uint64_t seed);

}  // namespace captain::rate_limit
