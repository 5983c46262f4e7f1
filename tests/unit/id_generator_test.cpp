#include "ngx_module/core/id_generator.h"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

namespace captain {
namespace {

std::vector<std::uint64_t> draw(IdGenerator& ids, int count) {
  std::vector<std::uint64_t> out;
  for (int i = 0; i < count; ++i) out.push_back(ids.next());
  return out;
}

TEST(IdGenerator, SameSeedGivesSameStream) {
  IdGenerator a;
  IdGenerator b;
  a.seed({11, 22, 33, 44});
  b.seed({11, 22, 33, 44});
  EXPECT_EQ(draw(a, 64), draw(b, 64));
}

TEST(IdGenerator, ReseedingRestartsTheStream) {
  IdGenerator ids;
  ids.seed({1, 2, 3, 4});
  const auto first = draw(ids, 16);
  ids.seed({1, 2, 3, 4});
  EXPECT_EQ(draw(ids, 16), first);
}

TEST(IdGenerator, DifferentSeedsGiveDifferentStreams) {
  IdGenerator a;
  IdGenerator b;
  a.seed({1, 2, 3, 4});
  b.seed({5, 6, 7, 8});
  const auto sa = draw(a, 16);
  const auto sb = draw(b, 16);
  for (std::size_t i = 0; i < sa.size(); ++i) EXPECT_NE(sa[i], sb[i]) << "draw " << i;
}

// Per-worker seeds can be close to each other (the fallback seed is time / pid / address), so
// changing any one bit of any seed word must change the whole stream from the first draw on.
TEST(IdGenerator, SeedsDifferingInOneWordGiveUnrelatedStreamsFromTheFirstDraw) {
  const std::array<std::uint64_t, 4> base_seed = {1, 2, 3, 4};
  IdGenerator base;
  base.seed(base_seed);
  const auto expected = draw(base, 16);

  for (std::size_t word = 0; word < base_seed.size(); ++word) {
    for (int bit : {0, 40, 63}) {
      auto seed = base_seed;
      seed[word] ^= std::uint64_t{1} << bit;
      IdGenerator other;
      other.seed(seed);
      const auto stream = draw(other, 16);
      for (std::size_t i = 0; i < stream.size(); ++i) {
        EXPECT_NE(stream[i], expected[i])
            << "seed word " << word << " bit " << bit << ", draw " << i;
      }
    }
  }
}

TEST(IdGenerator, SeedFromOsSucceedsAndGivesDistinctStreams) {
  IdGenerator a;
  IdGenerator b;
  EXPECT_TRUE(a.seed_from_os());
  EXPECT_TRUE(b.seed_from_os());
  EXPECT_NE(draw(a, 4), draw(b, 4));
}

TEST(IdGenerator, StreamHasNoShortRepeats) {
  IdGenerator ids;
  ids.seed({7, 7, 7, 7});
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(ids.next());
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(IdGenerator, FillWritesEveryByteIncludingAPartialLastWord) {
  IdGenerator ids;
  ids.seed({3, 1, 4, 1});
  std::array<std::uint8_t, 13> seen_nonzero{};
  for (int i = 0; i < 64; ++i) {
    std::array<std::uint8_t, 13> out{};
    ids.fill(out);
    for (std::size_t j = 0; j < out.size(); ++j) {
      seen_nonzero[j] = static_cast<std::uint8_t>(seen_nonzero[j] | out[j]);
    }
  }
  for (std::size_t j = 0; j < seen_nonzero.size(); ++j) {
    EXPECT_EQ(seen_nonzero[j], 0xff) << "byte " << j << " never got all bits set";
  }
}

TEST(IdGenerator, FillIsDeterministicForASeed) {
  IdGenerator a;
  IdGenerator b;
  a.seed({9, 8, 7, 6});
  b.seed({9, 8, 7, 6});
  std::array<std::uint8_t, 16> x{};
  std::array<std::uint8_t, 16> y{};
  a.fill(x);
  b.fill(y);
  EXPECT_EQ(x, y);
  a.fill(x);
  EXPECT_NE(x, y);
}

TEST(IdGenerator, FillNonzeroNeverReturnsAllZero) {
  IdGenerator ids;
  ids.seed({0, 0, 0, 0});
  for (int i = 0; i < 100000; ++i) {
    std::array<std::uint8_t, 1> one{};
    ids.fill_nonzero(one);
    ASSERT_NE(one[0], 0) << "draw " << i;
  }
  for (int i = 0; i < 1000; ++i) {
    std::array<std::uint8_t, 8> span{};
    ids.fill_nonzero(span);
    bool any = false;
    for (auto b : span) any = any || b != 0;
    ASSERT_TRUE(any) << "draw " << i;
  }
}

TEST(IdGenerator, ChanceZeroIsNeverTrue) {
  IdGenerator ids;
  ids.seed({1, 1, 1, 1});
  for (int i = 0; i < 100000; ++i) ASSERT_FALSE(ids.chance_ppm(0)) << i;
}

TEST(IdGenerator, ChanceOneMillionOrMoreIsAlwaysTrue) {
  IdGenerator ids;
  ids.seed({2, 2, 2, 2});
  for (int i = 0; i < 100000; ++i) {
    ASSERT_TRUE(ids.chance_ppm(1'000'000)) << i;
    ASSERT_TRUE(ids.chance_ppm(4'000'000'000u)) << i;
  }
}

TEST(IdGenerator, ChanceQuarterIsAboutAQuarter) {
  IdGenerator ids;
  ids.seed({2024, 6, 1, 42});
  constexpr int kDraws = 200'000;
  int hits = 0;
  for (int i = 0; i < kDraws; ++i) hits += ids.chance_ppm(250'000) ? 1 : 0;
  // Expected 50000, standard deviation ~194: allow ~5 sigma.
  EXPECT_GT(hits, 49'000);
  EXPECT_LT(hits, 51'000);
}

TEST(IdGenerator, ChanceIsMonotoneInPpmForTheSameDraws) {
  IdGenerator low;
  IdGenerator high;
  low.seed({5, 5, 5, 5});
  high.seed({5, 5, 5, 5});
  int low_hits = 0;
  int high_hits = 0;
  for (int i = 0; i < 50'000; ++i) {
    const bool l = low.chance_ppm(100'000);
    const bool h = high.chance_ppm(900'000);
    ASSERT_TRUE(!l || h) << "a draw under 10% must also be under 90%";
    low_hits += l ? 1 : 0;
    high_hits += h ? 1 : 0;
  }
  EXPECT_NEAR(low_hits, 5'000, 500);
  EXPECT_NEAR(high_hits, 45'000, 500);
}

}  // namespace
}  // namespace captain
