// Bounded label values for per-route metrics: HTTP methods and statuses fold into fixed sets, so
// a client can never create new series (DESIGN.md §3.6: unbounded values never become labels).
#pragma once

#include <cstddef>
#include <string_view>

namespace captain::metrics {

// GET HEAD POST PUT PATCH DELETE OPTIONS, and OTHER for everything else.
inline constexpr std::size_t kMethodCount = 8;
std::size_t method_index(std::string_view method);
std::string_view method_label(std::size_t index);

// Statuses that are common and meaningful on their own keep their code; every other status
// (and anything outside 100..599) lands in its class: "1xx" .. "5xx", or "other".
inline constexpr int kExactStatuses[] = {200, 201, 204, 206, 301, 302, 304, 307,
                                         308, 400, 401, 403, 404, 405, 408, 409,
                                         413, 422, 429, 499, 500, 502, 503, 504};
inline constexpr std::size_t kExactStatusCount = sizeof(kExactStatuses) / sizeof(int);
inline constexpr std::size_t kStatusCount = kExactStatusCount + 6;  // + 1xx..5xx + other
std::size_t status_index(int status);
std::string_view status_label(std::size_t index);

}  // namespace captain::metrics
