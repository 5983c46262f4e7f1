// Turns a zone key's bytes into a Key: exact words for short keys, a seeded XXH3 hash otherwise.
#include "ngx_module/core/rate_limit/limit_key.h"

#include <cstring>

// Header-only xxHash: every function is static in this file, so nothing links against
// libxxhash and the nginx module carries no extra shared-library dependency.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace captain::rate_limit {

namespace {

// Derives the bucket seed from the zone seed, so a long key's bucket_hash is a second hash of
// its bytes, independent of the 128-bit words (any odd 64-bit constant would do).
constexpr std::uint64_t kBucketSeedTweak = 0x9e3779b97f4a7c15;

}  // namespace

Key make_key(const unsigned char* data, std::size_t length, std::uint64_t seed) {
  Key key;
  if (length <= kMaxExactKeyLength) {
    unsigned char padded[kMaxExactKeyLength] = {};
    if (length > 0) std::memcpy(padded, data, length);
    std::memcpy(&key.words[0], padded, sizeof key.words[0]);
    std::memcpy(&key.words[1], padded + sizeof key.words[0], sizeof key.words[1]);
    key.length_code = static_cast<std::uint8_t>(length);
    // `padded` holds the same first `length` bytes and is never null, unlike `data`.
    key.bucket_hash = XXH3_64bits_withSeed(padded, length, seed);
    return key;
  }
  const XXH128_hash_t hash = XXH3_128bits_withSeed(data, length, seed);
  key.words[0] = hash.low64;
  key.words[1] = hash.high64;
  key.length_code = kHashedKey;
  // Not derived from the words: two keys that share buckets then still differ in all 128 bits
  // with probability 1 - 2^-128, so the collision bound in limit_key.h holds within a bucket
  // too. The second pass over a long key costs a few nanoseconds.
  key.bucket_hash = XXH3_64bits_withSeed(data, length, seed ^ kBucketSeedTweak);
  return key;
}

}  // namespace captain::rate_limit
