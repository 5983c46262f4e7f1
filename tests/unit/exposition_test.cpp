#include "shared/metrics/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace captain::metrics {
namespace {

std::string value_text(double v) {
  std::string out;
  append_value(out, v);
  return out;
}

TEST(Exposition, FamilyWritesHelpThenType) {
  std::string out;
  TextWriter w(out);
  w.family("captain_http_requests_total", MetricType::counter, "Requests served.");
  EXPECT_EQ(out,
            "# HELP captain_http_requests_total Requests served.\n"
            "# TYPE captain_http_requests_total counter\n");
}

TEST(Exposition, HelpEscapesBackslashAndNewlineOnly) {
  std::string out;
  append_escaped_help(out, "a\\b\nc \"quoted\"");
  EXPECT_EQ(out, "a\\\\b\\nc \"quoted\"");
}

TEST(Exposition, LabelValuesEscapeBackslashQuoteAndNewline) {
  std::string out;
  TextWriter w(out);
  w.sample("m", {{"route", "a\"b\\c\nd"}}, std::uint64_t{1});
  EXPECT_EQ(out, "m{route=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Exposition, SamplesKeepLabelOrderAndNoBracesWithoutLabels) {
  std::string out;
  TextWriter w(out);
  w.sample("up", {}, std::uint64_t{1});
  w.sample("m", {{"server", "s"}, {"route", "r"}, {"status", "2xx"}}, std::uint64_t{42});
  EXPECT_EQ(out, "up 1\nm{server=\"s\",route=\"r\",status=\"2xx\"} 42\n");
}

TEST(Exposition, CountersPrintAllDigits) {
  std::string out;
  TextWriter w(out);
  w.sample("c", {}, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(out, "c 18446744073709551615\n");
}

TEST(Exposition, ValuesUseTheShortestRoundTripForm) {
  EXPECT_EQ(value_text(0.005), "0.005");
  EXPECT_EQ(value_text(2.5), "2.5");
  EXPECT_EQ(value_text(10), "10");
  EXPECT_EQ(value_text(0), "0");
  EXPECT_EQ(value_text(-1.5), "-1.5");
  EXPECT_EQ(std::stod(value_text(0.1 + 0.2)), 0.1 + 0.2);
  EXPECT_EQ(value_text(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(value_text(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(value_text(std::nan("")), "NaN");
}

TEST(Exposition, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  std::string out;
  TextWriter w(out);
  const double bounds[] = {0.005, 0.1, 1};
  const std::uint64_t counts[] = {3, 0, 2, 4};  // the last one: above every bound
  w.histogram("captain_http_request_duration_seconds", {{"route", "api"}}, bounds, counts, 3,
              12.25);
  EXPECT_EQ(out,
            "captain_http_request_duration_seconds_bucket{route=\"api\",le=\"0.005\"} 3\n"
            "captain_http_request_duration_seconds_bucket{route=\"api\",le=\"0.1\"} 3\n"
            "captain_http_request_duration_seconds_bucket{route=\"api\",le=\"1\"} 5\n"
            "captain_http_request_duration_seconds_bucket{route=\"api\",le=\"+Inf\"} 9\n"
            "captain_http_request_duration_seconds_sum{route=\"api\"} 12.25\n"
            "captain_http_request_duration_seconds_count{route=\"api\"} 9\n");
}

TEST(Exposition, HistogramWithoutBoundsHasOnlyInf) {
  std::string out;
  TextWriter w(out);
  const std::uint64_t counts[] = {7};
  w.histogram("h", {}, nullptr, counts, 0, 1.5);
  EXPECT_EQ(out, "h_bucket{le=\"+Inf\"} 7\nh_sum 1.5\nh_count 7\n");
}

}  // namespace
}  // namespace captain::metrics
