// What the controller's fuzz targets share: an invariant check that libFuzzer reports as a crash
// (with the input saved), and the input as text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace captain::fuzz {

// A trap, not assert(): it fires in every build type and leaves no doubt in the report.
inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace captain::fuzz
