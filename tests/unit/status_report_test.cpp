#include "ngx_module/core/metrics/status_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace captain::metrics {
namespace {

StatusReport sample_report() {
  StatusReport report;
  report.version = "0.1.0";
  report.nginx_release = "1.22.1";
  report.has_connections = true;
  report.connections = ConnectionReport{3, 1, 1, 1};
  RouteReport route;
  route.zone = "m";
  route.server = "app.test";
  route.route = "/api/\"x\"";
  route.buckets.count = 2;
  route.buckets.bounds_us[0] = 5'000;
  route.buckets.bounds_us[1] = 100'000;
  route.counters.requests[method_index("GET")][status_index(200)] = 7;
  route.counters.requests[method_index("BREW")][status_index(418)] = 2;
  route.counters.duration_counts[0] = 4;
  route.counters.duration_counts[1] = 3;
  route.counters.duration_counts[2] = 2;
  route.counters.duration_sum_us = 1'250'000;
  route.counters.upstream_counts[1] = 5;
  route.counters.upstream_sum_us = 200'000;
  route.counters.response_bytes = 4096;
  report.routes.push_back(route);
  LimitReport limit;
  limit.zone = "api";
  limit.decisions[0] = 10;
  limit.decisions[1] = 2;
  limit.keys = 4;
  limit.evictions = 1;
  report.limits.push_back(limit);
  CacheReport cache;
  cache.zone = "c";
  cache.requests[0] = 90;
  cache.requests[1] = 10;
  cache.bytes = 65536;
  cache.entries = 3;
  cache.evictions = 5;
  cache.stores = 8;
  cache.lock_recoveries = 2;
  cache.formats = 1;
  cache.lock_timeouts = 4;
  cache.reservations_reclaimed = 6;
  report.caches.push_back(cache);
  return report;
}

TEST(StatusReportPrometheus, WritesEveryFamilyOnceWithItsSeries) {
  const std::string text = to_prometheus(sample_report());
  for (const char* family :
       {"captain_build_info", "captain_http_connections", "captain_http_requests_total",
        "captain_http_request_duration_seconds", "captain_http_upstream_response_seconds",
        "captain_http_response_bytes_total", "captain_ratelimit_requests_total",
        "captain_ratelimit_keys", "captain_ratelimit_evictions_total",
        "captain_cache_requests_total", "captain_cache_bytes", "captain_cache_entries",
        "captain_cache_evictions_total", "captain_cache_lock_recoveries_total",
        "captain_cache_formats_total", "captain_cache_lock_timeouts_total",
        "captain_cache_reservations_reclaimed_total"}) {
    const std::string type_line = std::string("# TYPE ") + family + " ";
    const auto first = text.find(type_line);
    ASSERT_NE(first, std::string::npos) << family;
    EXPECT_EQ(text.find(type_line, first + 1), std::string::npos) << family;
  }
  EXPECT_NE(text.find("captain_http_requests_total{server=\"app.test\",route=\"/api/\\\"x\\\"\","
                      "method=\"GET\",status=\"200\"} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("method=\"OTHER\",status=\"4xx\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("captain_http_request_duration_seconds_bucket{server=\"app.test\","
                      "route=\"/api/\\\"x\\\"\",le=\"0.1\"} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("le=\"+Inf\"} 9\n"), std::string::npos);
  EXPECT_NE(text.find("captain_ratelimit_requests_total{zone=\"api\",decision=\"rejected\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("captain_http_connections{state=\"waiting\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("captain_cache_requests_total{zone=\"c\",status=\"hit\"} 90\n"),
            std::string::npos);
  EXPECT_NE(text.find("captain_cache_requests_total{zone=\"c\",status=\"stale\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("captain_cache_bytes{zone=\"c\"} 65536\n"), std::string::npos);
  EXPECT_NE(text.find("captain_cache_entries{zone=\"c\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("captain_cache_evictions_total{zone=\"c\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("captain_cache_lock_recoveries_total{zone=\"c\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("captain_cache_formats_total{zone=\"c\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("captain_cache_lock_timeouts_total{zone=\"c\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("captain_cache_reservations_reclaimed_total{zone=\"c\"} 6\n"),
            std::string::npos);
}

TEST(StatusReportPrometheus, ZeroRequestSeriesAreLeftOut) {
  StatusReport report = sample_report();
  report.routes[0].counters = RouteSnapshot{};
  EXPECT_EQ(to_prometheus(report).find("captain_http_requests_total{"), std::string::npos);
}

TEST(StatusReportJson, CarriesTheSameNumbers) {
  const nlohmann::json j = nlohmann::json::parse(to_json(sample_report()));
  EXPECT_EQ(j["build"]["version"], "0.1.0");
  EXPECT_EQ(j["connections"]["active"], 3);
  const nlohmann::json& route = j["routes"][0];
  EXPECT_EQ(route["zone"], "m");
  EXPECT_EQ(route["route"], "/api/\"x\"");
  ASSERT_EQ(route["requests"].size(), 2u);
  EXPECT_EQ(route["requests"][0]["method"], "GET");
  EXPECT_EQ(route["requests"][0]["status"], "200");
  EXPECT_EQ(route["requests"][0]["count"], 7);
  const nlohmann::json& duration = route["request_duration_seconds"];
  ASSERT_EQ(duration["buckets"].size(), 3u);
  EXPECT_EQ(duration["buckets"][0]["le"], "0.005");
  EXPECT_EQ(duration["buckets"][0]["count"], 4);
  EXPECT_EQ(duration["buckets"][1]["count"], 7);
  EXPECT_EQ(duration["buckets"][2]["le"], "+Inf");
  EXPECT_EQ(duration["buckets"][2]["count"], 9);
  EXPECT_EQ(duration["count"], 9);
  EXPECT_DOUBLE_EQ(duration["sum"].get<double>(), 1.25);
  EXPECT_EQ(route["upstream_response_seconds"]["count"], 5);
  EXPECT_EQ(route["response_bytes"], 4096);
  EXPECT_EQ(j["ratelimit"][0]["decisions"]["passed"], 10);
  EXPECT_EQ(j["ratelimit"][0]["keys"], 4);
  EXPECT_EQ(j["ratelimit"][0]["evictions"], 1);
  EXPECT_EQ(j["cache"][0]["zone"], "c");
  EXPECT_EQ(j["cache"][0]["requests"]["hit"], 90);
  EXPECT_EQ(j["cache"][0]["requests"]["miss"], 10);
  EXPECT_EQ(j["cache"][0]["bytes"], 65536);
  EXPECT_EQ(j["cache"][0]["entries"], 3);
  EXPECT_EQ(j["cache"][0]["evictions"], 5);
  EXPECT_EQ(j["cache"][0]["stores"], 8);
  EXPECT_EQ(j["cache"][0]["lock_recoveries"], 2);
  EXPECT_EQ(j["cache"][0]["formats"], 1);
  EXPECT_EQ(j["cache"][0]["lock_timeouts"], 4);
  EXPECT_EQ(j["cache"][0]["reservations_reclaimed"], 6);
  // Zones are verified only when the scrape asks.
  EXPECT_FALSE(j["cache"][0].contains("verified"));
  EXPECT_FALSE(j["ratelimit"][0].contains("verified"));
  StatusReport verified = sample_report();
  verified.caches[0].verified = true;
  verified.limits[0].verified = false;
  const nlohmann::json v = nlohmann::json::parse(to_json(verified));
  EXPECT_EQ(v["cache"][0]["verified"], true);
  EXPECT_EQ(v["ratelimit"][0]["verified"], false);
}

TEST(StatusReportJson, InvalidUtf8InALabelDoesNotThrow) {
  StatusReport report = sample_report();
  report.routes[0].route = std::string("/bad\xff");
  std::string text;
  ASSERT_NO_THROW(text = to_json(report));
  const nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j["routes"][0]["zone"], "m");
}

}  // namespace
}  // namespace captain::metrics
