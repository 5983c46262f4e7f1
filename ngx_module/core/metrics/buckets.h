// Histogram bucket bounds for durations: parsed once from the configuration into whole
// microseconds, so the request path compares integers and never touches floating point.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace captain::metrics {

inline constexpr std::size_t kMaxBuckets = 32;

// Prometheus' default duration buckets, as DESIGN.md §3.6 lists them (seconds).
inline constexpr std::uint64_t kDefaultBoundsUs[] = {5'000,     10'000,    25'000,    50'000,
                                                     100'000,   250'000,   500'000,   1'000'000,
                                                     2'500'000, 5'000'000, 10'000'000};

struct Buckets {
  std::uint64_t bounds_us[kMaxBuckets] = {};
  std::size_t count = 0;
};

struct BucketParse {
  bool ok = false;
  std::string error;  // names what is wrong with `bad_token`
  std::string_view bad_token;
};

// Seconds as decimals ("0.005", "2.5", "10"), at most 6 decimals, strictly increasing, positive,
// at most kMaxBuckets of them.
BucketParse parse_bucket_bound(std::string_view text, std::uint64_t* microseconds);
BucketParse parse_buckets(const std::string_view* tokens, std::size_t count, Buckets* out);

// The bucket a duration falls in: the first bound it does not exceed, or count (+Inf).
std::size_t bucket_index(const Buckets& buckets, std::uint64_t duration_us);

// A bound as the "le" label value, in seconds: 5000 -> "0.005", 2500000 -> "2.5".
std::string bound_label(std::uint64_t microseconds);

}  // namespace captain::metrics
