#include "shared/validation/rate.h"

#include <cstdint>

namespace captain::validation {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Digits only, value 1..1000000; advances `i`.
bool read_small_count(std::string_view text, std::size_t& i) {
  const std::size_t start = i;
  std::uint32_t n = 0;
  while (i < text.size() && is_digit(text[i]) && i - start < 8) {
    n = n * 10 + static_cast<std::uint32_t>(text[i] - '0');
    ++i;
  }
  return i > start && (i == text.size() || !is_digit(text[i])) && n >= 1 && n <= 1000000;
}

}  // namespace

std::string rate_problem(std::string_view rate) {
  const std::string bad = "must look like \"10r/s\" or \"100r/5m\" (unit ms, s, m, h or d)";
  std::size_t i = 0;
  if (!read_small_count(rate, i)) return bad;
  if (rate.substr(i, 2) != "r/") return bad;
  i += 2;
  if (i < rate.size() && is_digit(rate[i]) && !read_small_count(rate, i)) return bad;
  const std::string_view unit = rate.substr(i);
  if (unit != "ms" && unit != "s" && unit != "m" && unit != "h" && unit != "d") return bad;
  return {};
}

}  // namespace captain::validation
