#include "ngx_module/core/span_start.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "ngx_module/core/id_generator.h"
#include "shared/trace_context/traceparent.h"

namespace captain {
namespace {

trace::TraceParent parent_from(std::string_view traceparent) {
  const auto parsed = trace::parse_traceparent(traceparent);
  EXPECT_TRUE(parsed.has_value()) << traceparent;
  return parsed.value_or(trace::TraceParent{});
}

class StartSpan : public ::testing::Test {
 protected:
  void SetUp() override { ids_.seed({10, 20, 30, 40}); }

  IdGenerator ids_;
  const trace::TraceParent sampled_parent_ =
      parent_from("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  const trace::TraceParent unsampled_parent_ =
      parent_from("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
};

TEST_F(StartSpan, ValidParentContinuesTheTrace) {
  const SpanStart span = start_span(sampled_parent_, kSampleAll, ids_);
  EXPECT_TRUE(span.has_parent);
  EXPECT_EQ(span.trace_id, sampled_parent_.trace_id);
  EXPECT_EQ(span.parent_span_id, sampled_parent_.parent_id);
  EXPECT_FALSE(trace::is_all_zero(span.span_id));
  EXPECT_NE(span.span_id, sampled_parent_.parent_id);
}

TEST_F(StartSpan, SampledParentStaysSampledEvenAtRateZero) {
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(start_span(sampled_parent_, 0, ids_).sampled) << i;
  }
}

TEST_F(StartSpan, UnsampledParentStaysUnsampledEvenAtRateOne) {
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(start_span(unsampled_parent_, kSampleAll, ids_).sampled) << i;
  }
}

TEST_F(StartSpan, ParentWithUnknownFlagBitsIsSampledByBitZeroOnly) {
  const auto nine = parent_from("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09");
  const auto eight = parent_from("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-08");
  EXPECT_TRUE(start_span(nine, 0, ids_).sampled);
  EXPECT_FALSE(start_span(eight, kSampleAll, ids_).sampled);
}

TEST_F(StartSpan, EachSpanOfTheSameParentGetsANewSpanId) {
  std::set<trace::SpanId> span_ids;
  for (int i = 0; i < 1000; ++i) {
    const SpanStart span = start_span(sampled_parent_, 500'000, ids_);
    ASSERT_FALSE(trace::is_all_zero(span.span_id));
    ASSERT_NE(span.span_id, sampled_parent_.parent_id);
    span_ids.insert(span.span_id);
  }
  EXPECT_EQ(span_ids.size(), 1000u);
}

TEST_F(StartSpan, WithoutParentStartsANewTrace) {
  const SpanStart span = start_span(std::nullopt, kSampleAll, ids_);
  EXPECT_FALSE(span.has_parent);
  EXPECT_FALSE(trace::is_all_zero(span.trace_id));
  EXPECT_FALSE(trace::is_all_zero(span.span_id));
  EXPECT_TRUE(trace::is_all_zero(span.parent_span_id));

  std::set<trace::TraceId> trace_ids;
  for (int i = 0; i < 1000; ++i) {
    trace_ids.insert(start_span(std::nullopt, kSampleAll, ids_).trace_id);
  }
  EXPECT_EQ(trace_ids.size(), 1000u);
}

TEST_F(StartSpan, WithoutParentRateZeroNeverSamples) {
  for (int i = 0; i < 10000; ++i) {
    ASSERT_FALSE(start_span(std::nullopt, 0, ids_).sampled) << i;
  }
}

TEST_F(StartSpan, WithoutParentRateOneAlwaysSamples) {
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(start_span(std::nullopt, kSampleAll, ids_).sampled) << i;
  }
}

TEST_F(StartSpan, WithoutParentSamplesAtTheGivenRatio) {
  int sampled = 0;
  for (int i = 0; i < 100'000; ++i) sampled += start_span(std::nullopt, 250'000, ids_).sampled;
  EXPECT_NEAR(sampled, 25'000, 1'000);
}

// Level 2 "Random Trace ID Flag", starting a trace: our trace ids are 16 random bytes, so the
// flag is set, whatever the sampling decision.
TEST_F(StartSpan, Level2NewTraceSetsTheRandomFlag) {
  const SpanStart sampled = start_span(std::nullopt, kSampleAll, ids_);
  EXPECT_TRUE(sampled.random);
  EXPECT_EQ(sampled.trace_flags(), trace::kFlagSampled | trace::kFlagRandom);

  const SpanStart unsampled = start_span(std::nullopt, 0, ids_);
  EXPECT_TRUE(unsampled.random);
  EXPECT_EQ(unsampled.trace_flags(), trace::kFlagRandom);
}

// Level 2 "Random Trace ID Flag", continuing a trace: the flag goes out exactly as it came in;
// sampled follows the parent-based decision; "Other Flags": reserved bits go out as zero.
TEST_F(StartSpan, Level2ContinuedTraceKeepsRandomAsReceivedAndZeroesReservedBits) {
  struct Case {
    std::string_view flags_in;
    std::uint8_t flags_out;
  };
  for (const Case& c :
       {Case{"00", 0x00}, Case{"01", 0x01}, Case{"02", 0x02}, Case{"03", 0x03}, Case{"04", 0x00},
        Case{"09", 0x01}, Case{"fe", 0x02}, Case{"ff", 0x03}, Case{"fc", 0x00}}) {
    const std::string traceparent =
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-" + std::string(c.flags_in);
    for (std::uint32_t rate : {0u, kSampleAll}) {
      const SpanStart span = start_span(parent_from(traceparent), rate, ids_);
      EXPECT_EQ(span.trace_flags(), c.flags_out) << c.flags_in << " at rate " << rate;
      EXPECT_EQ(span.random, (c.flags_out & trace::kFlagRandom) != 0) << c.flags_in;
      EXPECT_EQ(span.sampled, (c.flags_out & trace::kFlagSampled) != 0) << c.flags_in;
    }
  }
}

// W3C test suite TraceContext2Test.test_propagates_random_flag: the same trace id, a new parent
// id, the random bit set.
TEST_F(StartSpan, W3CTestSuitePropagatesRandomFlag) {
  const SpanStart span =
      start_span(parent_from("00-12345678901234567890123456789012-1234567890123456-02"), 0, ids_);
  std::array<char, trace::kTraceparentLength> out{};
  trace::format_traceparent(span.trace_id, span.span_id, span.trace_flags(), out.data());
  const auto sent = trace::parse_traceparent(std::string_view(out.data(), out.size()));
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->trace_id, span.trace_id);
  EXPECT_NE(sent->parent_id, span.parent_span_id);
  EXPECT_TRUE(sent->random());
  EXPECT_FALSE(sent->sampled());
}

// Code that builds a SpanStart by its first five fields keeps compiling: new fields go last.
TEST(SpanStartLayout, FirstFiveFieldsKeepTheirOrder) {
  const trace::TraceId trace_id{1};
  const trace::SpanId span_id{2};
  const trace::SpanId parent{3};
  const SpanStart span{trace_id, span_id, parent, true, true};
  EXPECT_TRUE(span.has_parent);
  EXPECT_TRUE(span.sampled);
  EXPECT_FALSE(span.random);
  EXPECT_EQ(span.trace_flags(), trace::kFlagSampled);
}

TEST(ParseSampleRatePpm, AcceptsZeroToOneWithUpToSixDecimals) {
  EXPECT_EQ(parse_sample_rate_ppm("0"), 0u);
  EXPECT_EQ(parse_sample_rate_ppm("1"), 1'000'000u);
  EXPECT_EQ(parse_sample_rate_ppm("0.25"), 250'000u);
  EXPECT_EQ(parse_sample_rate_ppm("0.5"), 500'000u);
  EXPECT_EQ(parse_sample_rate_ppm(".5"), 500'000u);
  EXPECT_EQ(parse_sample_rate_ppm(".000001"), 1u);
  EXPECT_EQ(parse_sample_rate_ppm("1.0"), 1'000'000u);
  EXPECT_EQ(parse_sample_rate_ppm("1.000000"), 1'000'000u);
  EXPECT_EQ(parse_sample_rate_ppm("0.0"), 0u);
  EXPECT_EQ(parse_sample_rate_ppm("0.000000"), 0u);
  EXPECT_EQ(parse_sample_rate_ppm("0.000001"), 1u);
  EXPECT_EQ(parse_sample_rate_ppm("0.999999"), 999'999u);
  EXPECT_EQ(parse_sample_rate_ppm("0.123456"), 123'456u);
  EXPECT_EQ(parse_sample_rate_ppm("0.1"), 100'000u);
  EXPECT_EQ(parse_sample_rate_ppm("0.01"), 10'000u);
  EXPECT_EQ(parse_sample_rate_ppm("0.001"), 1'000u);
}

TEST(ParseSampleRatePpm, RejectsAnythingElse) {
  for (std::string_view bad :
       {"1.5",  "1.000001", "1.1",  "-0.1", "-1",        "2",     "9",    "10",  "00",  "01",
        "",     ".",        "1.",   "0.",   "0.0000001", "1e-3",  "1e0",  "abc", "a",   "0.5a",
        " 0.5", "0.5 ",     "+0.5", "0,5",  "0..5",      "0.5.0", "0.-5", "0x1", "\t1", "1\n"}) {
    EXPECT_EQ(parse_sample_rate_ppm(bad), std::nullopt) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace captain
