// Random ids for request ids and W3C trace context, from OpenSSL's CSPRNG.
#pragma once

#include <openssl/rand.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>

#include "shared/trace_context/traceparent.h"

namespace captain::tracing {

// Unpredictable ids at a cost (well under a microsecond) nothing in the controller notices. A
// thread-local generator seeded from std::random_device is the fallback if RAND_bytes ever
// fails (it does not on Linux). Never all zero: such ids are invalid in W3C trace context.
template <std::size_t N>
std::array<std::uint8_t, N> random_id() {
  std::array<std::uint8_t, N> id{};
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) {
    thread_local std::mt19937_64 fallback{std::random_device{}()};
    for (auto& b : id) b = static_cast<std::uint8_t>(fallback());
  }
  if (trace::is_all_zero(id)) id[N - 1] = 1;
  return id;
}

}  // namespace captain::tracing
