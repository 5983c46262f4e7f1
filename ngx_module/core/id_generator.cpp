#include "ngx_module/core/id_generator.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

namespace captain {

void IdGenerator::seed(const std::array<std::uint64_t, 4>& seed_words) noexcept {
  std::seed_seq seq{
      static_cast<std::uint32_t>(seed_words[0]), static_cast<std::uint32_t>(seed_words[0] >> 32),
      static_cast<std::uint32_t>(seed_words[1]), static_cast<std::uint32_t>(seed_words[1] >> 32),
      static_cast<std::uint32_t>(seed_words[2]), static_cast<std::uint32_t>(seed_words[2] >> 32),
      static_cast<std::uint32_t>(seed_words[3]), static_cast<std::uint32_t>(seed_words[3] >> 32)};
  engine_.seed(seq);
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
