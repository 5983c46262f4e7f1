#include "ngx_module/core/metrics/buckets.h"

namespace captain::metrics {

BucketParse parse_bucket_bound(std::string_view text, std::uint64_t* microseconds) {
  BucketParse result;
  result.bad_token = text;
  std::uint64_t whole = 0;
  std::uint64_t fraction = 0;
  std::size_t fraction_digits = 0;
  std::size_t whole_digits = 0;
  bool seen_point = false;
  for (const char c : text) {
    if (c == '.' && !seen_point) {
      seen_point = true;
    } else if (c >= '0' && c <= '9') {
      const auto digit = static_cast<std::uint64_t>(c - '0');
      if (seen_point) {
        if (++fraction_digits > 6) {
          result.error = "a bucket bound has at most 6 decimals (microseconds)";
          return result;
        }
        fraction = fraction * 10 + digit;
      } else {
        // 10^6 seconds (11.6 days) is far beyond any request; the bound keeps the sum exact.
        if (++whole_digits > 6) {
          result.error = "a bucket bound must be below 1000000 seconds";
          return result;
        }
        whole = whole * 10 + digit;
      }
    } else {
      result.error = "a bucket bound is a number of seconds such as 0.005 or 2.5";
      return result;
    }
  }
  if (whole_digits + fraction_digits == 0) {
    result.error = "a bucket bound is a number of seconds such as 0.005 or 2.5";
    return result;
  }
  for (std::size_t i = fraction_digits; i < 6; ++i) fraction *= 10;
  *microseconds = whole * 1'000'000 + fraction;
  if (*microseconds == 0) {
    result.error = "a bucket bound must be above 0";
    return result;
  }
  result.ok = true;
  return result;
}

BucketParse parse_buckets(const std::string_view* tokens, std::size_t count, Buckets* out) {
  BucketParse result;
  if (count == 0) {
    result.error = "at least one bucket bound is needed";
    return result;
  }
  if (count > kMaxBuckets) {
    result.bad_token = tokens[kMaxBuckets];
    result.error = "at most 32 bucket bounds are allowed";
    return result;
  }
  out->count = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t us = 0;
    BucketParse one = parse_bucket_bound(tokens[i], &us);
    if (!one.ok) return one;
    if (out->count != 0 && us <= out->bounds_us[out->count - 1]) {
      one.ok = false;
      one.error = "bucket bounds must be strictly increasing";
      return one;
    }
    out->bounds_us[out->count++] = us;
  }
  result.ok = true;
  return result;
}

std::size_t bucket_index(const Buckets& buckets, std::uint64_t duration_us) {
  // A dozen sorted bounds: a linear scan is as fast as a binary search and branch-friendly.
  std::size_t i = 0;
  while (i < buckets.count && duration_us > buckets.bounds_us[i]) ++i;
  return i;
}

std::string bound_label(std::uint64_t microseconds) {
  std::string text = std::to_string(microseconds / 1'000'000);
  std::uint64_t fraction = microseconds % 1'000'000;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 6 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    text += '.';
    text += digits;
  }
  return text;
}

}  // namespace captain::metrics
