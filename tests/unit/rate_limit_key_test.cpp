// make_key: short keys kept exactly, long keys as a seeded 128-bit hash, seeded bucket hashes.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "ngx_module/core/rate_limit/limit_key.h"

namespace captain::rate_limit {
namespace {

constexpr std::uint64_t kSeed = 0x0123456789abcdef;

Key key_of(std::string_view text, std::uint64_t seed = kSeed) {
  return make_key(reinterpret_cast<const unsigned char*>(text.data()), text.size(), seed);
}

std::uint64_t word_at(const unsigned char* bytes) {
  std::uint64_t word = 0;
  std::memcpy(&word, bytes, sizeof word);
  return word;
}

TEST(MakeKey, FourByteKeyIsKeptExactly) {
  const unsigned char ipv4[4] = {192, 0, 2, 17};
  const Key key = make_key(ipv4, sizeof ipv4, kSeed);
  unsigned char padded[16] = {};
  std::memcpy(padded, ipv4, sizeof ipv4);
  EXPECT_EQ(key.words[0], word_at(padded));
  EXPECT_EQ(key.words[1], 0u);
  EXPECT_EQ(key.length_code, 4);
}

TEST(MakeKey, SixteenByteKeyIsKeptExactly) {
  const unsigned char ipv6[16] = {0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const Key key = make_key(ipv6, sizeof ipv6, kSeed);
  EXPECT_EQ(key.words[0], word_at(ipv6));
  EXPECT_EQ(key.words[1], word_at(ipv6 + 8));
  EXPECT_EQ(key.length_code, 16);
}

TEST(MakeKey, LengthTellsZeroPaddedKeysApart) {
  const Key a = key_of(std::string_view("a", 1));
  const Key a_nul = key_of(std::string_view("a\0", 2));
  EXPECT_EQ(a.words[0], a_nul.words[0]);
  EXPECT_EQ(a.words[1], a_nul.words[1]);
  EXPECT_FALSE(a == a_nul);
  EXPECT_NE(a.length_code, a_nul.length_code);
}

TEST(MakeKey, EmptyKeyAcceptsNullData) {
  const Key empty = make_key(nullptr, 0, kSeed);
  EXPECT_EQ(empty.words[0], 0u);
  EXPECT_EQ(empty.words[1], 0u);
  EXPECT_EQ(empty.length_code, 0);
  const unsigned char byte = 0;
  EXPECT_EQ(make_key(&byte, 0, kSeed).bucket_hash, empty.bucket_hash);
  EXPECT_FALSE(empty == make_key(&byte, 1, kSeed));
}

TEST(MakeKey, SameLongKeyGivesTheSameKey) {
  const std::string text = "api-key:0f8fad5b-d9cb-469f-a165-70867728950e";
  const Key a = key_of(text);
  const Key b = key_of(std::string(text));  // another buffer
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.bucket_hash, b.bucket_hash);
  EXPECT_EQ(a.length_code, kHashedKey);
}

TEST(MakeKey, DifferentLongKeysDiffer) {
  std::set<std::pair<std::uint64_t, std::uint64_t>> words;
  std::set<std::uint64_t> buckets;
  for (int i = 0; i < 10'000; ++i) {
    const Key key = key_of("long-client-identifier-" + std::to_string(i));
    words.insert({key.words[0], key.words[1]});
    buckets.insert(key.bucket_hash);
  }
  EXPECT_EQ(words.size(), 10'000u);
  EXPECT_EQ(buckets.size(), 10'000u);
  // One differing last byte is enough.
  EXPECT_FALSE(key_of("0123456789abcdefX") == key_of("0123456789abcdefY"));
}

TEST(MakeKey, SeventeenBytesIsTheFirstHashedLength) {
  EXPECT_EQ(key_of("0123456789abcdef").length_code, 16);
  EXPECT_EQ(key_of("0123456789abcdefg").length_code, kHashedKey);
}

TEST(MakeKey, SeedChangesTheBucketHashButNotAShortKey) {
  const Key a = key_of("198.51.100.7", 1);
  const Key b = key_of("198.51.100.7", 2);
  EXPECT_TRUE(a == b);  // exact keys are the bytes themselves
  EXPECT_NE(a.bucket_hash, b.bucket_hash);
}

TEST(MakeKey, SeedChangesALongKeyAndItsBucketHash) {
  const std::string text = "a-key-longer-than-sixteen-bytes";
  const Key a = key_of(text, 1);
  const Key b = key_of(text, 2);
  EXPECT_FALSE(a == b);
  EXPECT_NE(a.bucket_hash, b.bucket_hash);
}

TEST(MakeKey, LongKeyBucketHashIsNotOneOfItsWords) {
  const Key key = key_of("a-key-longer-than-sixteen-bytes");
  EXPECT_NE(key.bucket_hash, key.words[0]);
  EXPECT_NE(key.bucket_hash, key.words[1]);
}

}  // namespace
}  // namespace captain::rate_limit
