#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "ngx_module/core/metrics/buckets.h"

namespace captain::metrics {
namespace {

BucketParse parse(std::vector<std::string_view> tokens, Buckets* out) {
  return parse_buckets(tokens.data(), tokens.size(), out);
}

TEST(MetricsBuckets, ParsesSecondsIntoMicroseconds) {
  Buckets b;
  ASSERT_TRUE(parse({"0.005", "0.1", "1", "2.5", "10"}, &b).ok);
  ASSERT_EQ(b.count, 5u);
  EXPECT_EQ(b.bounds_us[0], 5'000u);
  EXPECT_EQ(b.bounds_us[1], 100'000u);
  EXPECT_EQ(b.bounds_us[2], 1'000'000u);
  EXPECT_EQ(b.bounds_us[3], 2'500'000u);
  EXPECT_EQ(b.bounds_us[4], 10'000'000u);

  std::uint64_t us = 0;
  ASSERT_TRUE(parse_bucket_bound(".25", &us).ok);
  EXPECT_EQ(us, 250'000u);
  ASSERT_TRUE(parse_bucket_bound("3.", &us).ok);
  EXPECT_EQ(us, 3'000'000u);
}

TEST(MetricsBuckets, RejectsBadBoundsNamingTheToken) {
  Buckets b;
  for (std::string_view bad : {"", "-1", "1e3", "0", "0.0000001", "abc", "1.2.3", "1000000"}) {
    const BucketParse r = parse({"0.5", bad}, &b);
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_EQ(r.bad_token, bad);
    EXPECT_FALSE(r.error.empty());
  }
}

TEST(MetricsBuckets, RejectsUnsortedDuplicateTooManyAndNone) {
  Buckets b;
  const BucketParse unsorted = parse({"0.1", "0.05"}, &b);
  EXPECT_FALSE(unsorted.ok);
  EXPECT_EQ(unsorted.bad_token, "0.05");
  EXPECT_FALSE(parse({"0.1", "0.1"}, &b).ok);
  EXPECT_FALSE(parse({}, &b).ok);
  std::vector<std::string_view> many;
  static const char* kMany[] = {"1",  "2",  "3",  "4",  "5",  "6",  "7",  "8",  "9",  "10", "11",
                                "12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "22",
                                "23", "24", "25", "26", "27", "28", "29", "30", "31", "32", "33"};
  for (const char* m : kMany) many.emplace_back(m);
  EXPECT_FALSE(parse(many, &b).ok);
  many.pop_back();
  EXPECT_TRUE(parse(many, &b).ok);
}

TEST(MetricsBuckets, IndexIsTheFirstBoundNotExceeded) {
  Buckets b;
  ASSERT_TRUE(parse({"0.005", "0.1", "1"}, &b).ok);
  EXPECT_EQ(bucket_index(b, 0), 0u);
  EXPECT_EQ(bucket_index(b, 5'000), 0u);  // le: a value equal to the bound is inside it
  EXPECT_EQ(bucket_index(b, 5'001), 1u);
  EXPECT_EQ(bucket_index(b, 1'000'000), 2u);
  EXPECT_EQ(bucket_index(b, 1'000'001), 3u);  // +Inf
}

TEST(MetricsBuckets, LabelsReadBackAsTheConfiguredSeconds) {
  EXPECT_EQ(bound_label(5'000), "0.005");
  EXPECT_EQ(bound_label(2'500'000), "2.5");
  EXPECT_EQ(bound_label(10'000'000), "10");
  EXPECT_EQ(bound_label(1), "0.000001");
  for (const std::uint64_t us : kDefaultBoundsUs) {
    std::uint64_t back = 0;
    const std::string label = bound_label(us);
    ASSERT_TRUE(parse_bucket_bound(label, &back).ok) << label;
    EXPECT_EQ(back, us);
  }
}

}  // namespace
}  // namespace captain::metrics
