#include "ngx_module/core/metrics/series_labels.h"

#include <array>

namespace captain::metrics {

namespace {

constexpr std::array<std::string_view, kMethodCount> kMethods = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"};

constexpr std::array<std::string_view, kStatusCount> kStatusLabels = {
    "200", "201", "204", "206", "301", "302", "304", "307", "308", "400",
    "401", "403", "404", "405", "408", "409", "413", "422", "429", "499",
    "500", "502", "503", "504", "1xx", "2xx", "3xx", "4xx", "5xx", "other"};

// Index of each exact status, or -1: a table lookup keeps the request path free of searching.
constexpr std::array<signed char, 600> make_exact_index() {
  std::array<signed char, 600> index{};
  for (auto& i : index) i = -1;
  for (std::size_t i = 0; i < kExactStatusCount; ++i) {
    index[static_cast<std::size_t>(kExactStatuses[i])] = static_cast<signed char>(i);
  }
  return index;
}
constexpr std::array<signed char, 600> kExactIndex = make_exact_index();

}  // namespace

std::size_t method_index(std::string_view method) {
  for (std::size_t i = 0; i + 1 < kMethodCount; ++i) {
    if (kMethods[i] == method) return i;
  }
  return kMethodCount - 1;
}

std::string_view method_label(std::size_t index) {
  return kMethods[index < kMethodCount ? index : kMethodCount - 1];
}

std::size_t status_index(int status) {
  if (status < 100 || status > 599) return kStatusCount - 1;
  const signed char exact = kExactIndex[static_cast<std::size_t>(status)];
  if (exact >= 0) return static_cast<std::size_t>(exact);
  return kExactStatusCount + static_cast<std::size_t>(status / 100 - 1);
}

std::string_view status_label(std::size_t index) {
  return kStatusLabels[index < kStatusCount ? index : kStatusCount - 1];
}

}  // namespace captain::metrics
