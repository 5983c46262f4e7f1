#include "ngx_module/core/id_generator.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

namespace captain {

namespace {

// SplitMix64: spreads arbitrary seed words over the whole state (Vigna's recommended seeding
// for xoshiro), so similar seeds — or a weak fallback seed — still give unrelated streams.
std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void IdGenerator::seed(const std::array<std::uint64_t, 4>& seed_words) noexcept {
  // Absorb every seed word before expanding, so each state word depends on all of them.
  std::uint64_t mix = 0;
  for (std::uint64_t word : seed_words) {
    mix ^= word;
    mix = splitmix64(mix);
  }
  for (std::uint64_t& word : s_) word = splitmix64(mix);
  if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;
}

bool IdGenerator::seed_from_os() noexcept {
  std::array<std::uint64_t, 4> words{};
  const auto want = static_cast<ssize_t>(sizeof(words));
  if (getrandom(words.data(), sizeof(words), 0) == want) {
    seed(words);
    return true;
  }
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  words[0] = static_cast<std::uint64_t>(now.tv_sec);
  words[1] = static_cast<std::uint64_t>(now.tv_nsec);
  words[2] = static_cast<std::uint64_t>(getpid());
  words[3] = reinterpret_cast<std::uintptr_t>(&words);
  seed(words);
  return false;
}

}  // namespace captain
