// The worker-to-export-thread span ring (ngx_module/core/trace_export/span_ring.h) and the
// SERVER span it builds.
#include "ngx_module/core/trace_export/span_ring.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <thread>

namespace captain::trace_export {
namespace {

ServerSpan request_span(int status, std::uint8_t id = 1) {
  ServerSpan s;
  s.trace_id.fill(id);
  s.span_id.fill(2);
  s.parent_span_id.fill(3);
  s.has_parent = true;
  s.trace_flags = 1;
  s.start_unix_nano = 1'000'000'000;
  s.end_unix_nano = 1'250'000'000;
  s.status = status;
  s.upstream_usec = 200'000;
  auto set = [&s](Field f, std::string_view v) { s.text[static_cast<std::size_t>(f)] = v; };
  set(Field::method, "POST");
  set(Field::scheme, "https");
  set(Field::route, "/api/");
  set(Field::path, "/api/items");
  set(Field::host, "shop.example");
  set(Field::client, "192.0.2.7");
  set(Field::user_agent, "curl/8");
  set(Field::upstream_address, "127.0.0.1:8080");
  set(Field::request_id, "req-1");
  set(Field::trace_state, "vendor=1");
  return s;
}

// Takes up to max spans and parses them the way a receiver would.
std::vector<nlohmann::json> take(SpanRing& ring, std::size_t max) {
  std::string body = "[";
  ring.take_json(max, body);
  body += "]";
  return nlohmann::json::parse(body).get<std::vector<nlohmann::json>>();
}

// The attributes as key -> the AnyValue's single field ({"stringValue": ...}).
std::map<std::string, nlohmann::json> attributes(const nlohmann::json& span) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& a : span["attributes"]) {
    EXPECT_EQ(out.count(a["key"]), 0u) << a["key"];
    out[a["key"]] = a["value"];
  }
  return out;
}

TEST(SpanRing, BuildsAServerSpanWithHttpSemanticConventions) {
  SpanRing ring(4);
  ASSERT_TRUE(ring.push(request_span(201)));
  const auto spans = take(ring, 10);
  ASSERT_EQ(spans.size(), 1u);
  const auto& s = spans[0];
  EXPECT_EQ(s["traceId"], "01010101010101010101010101010101");
  EXPECT_EQ(s["spanId"], "0202020202020202");
  EXPECT_EQ(s["parentSpanId"], "0303030303030303");
  EXPECT_EQ(s["name"], "POST /api/");
  EXPECT_EQ(s["kind"], 2);
  EXPECT_EQ(s["flags"], 0x301);
  EXPECT_EQ(s["startTimeUnixNano"], "1000000000");
  EXPECT_EQ(s["endTimeUnixNano"], "1250000000");
  EXPECT_EQ(s["traceState"], "vendor=1");
  EXPECT_TRUE(s["status"].empty());
  auto a = attributes(s);
  EXPECT_EQ(a["http.request.method"]["stringValue"], "POST");
  EXPECT_EQ(a["url.path"]["stringValue"], "/api/items");
  EXPECT_EQ(a["url.scheme"]["stringValue"], "https");
  EXPECT_EQ(a["http.route"]["stringValue"], "/api/");
  EXPECT_EQ(a["http.response.status_code"]["intValue"], "201");
  EXPECT_EQ(a["server.address"]["stringValue"], "shop.example");
  EXPECT_EQ(a["client.address"]["stringValue"], "192.0.2.7");
  EXPECT_EQ(a["user_agent.original"]["stringValue"], "curl/8");
  EXPECT_EQ(a["captain.upstream.address"]["stringValue"], "127.0.0.1:8080");
  EXPECT_DOUBLE_EQ(a["captain.upstream.duration"]["doubleValue"].get<double>(), 0.2);
  EXPECT_EQ(a["captain.request_id"]["stringValue"], "req-1");
}

TEST(SpanRing, ServerErrorsAreErrorsClientErrorsAreNot) {
  SpanRing ring(4);
  ring.push(request_span(502));
  ring.push(request_span(404));
  const auto spans = take(ring, 10);
  EXPECT_EQ(spans[0]["status"]["code"], 2);
  EXPECT_TRUE(spans[1]["status"].empty());
}

TEST(SpanRing, AFullRingRefusesInsteadOfWaiting) {
  SpanRing ring(2);
  EXPECT_TRUE(ring.push(request_span(200)));
  EXPECT_TRUE(ring.push(request_span(200)));
  EXPECT_FALSE(ring.push(request_span(200)));
  EXPECT_EQ(ring.pending(), 2u);
  EXPECT_EQ(take(ring, 1).size(), 1u);
  EXPECT_TRUE(ring.push(request_span(200)));
  EXPECT_EQ(ring.pending(), 2u);
}

TEST(SpanRing, LongSpansFillTheBytesBeforeTheCount) {
  SpanRing ring(100);
  ServerSpan s = request_span(200);
  const std::string long_path(600, 'p');
  const std::string long_agent(300, 'a');
  s.text[static_cast<std::size_t>(Field::path)] = long_path;
  s.text[static_cast<std::size_t>(Field::user_agent)] = long_agent;
  std::size_t accepted = 0;
  while (ring.push(s)) ++accepted;
  EXPECT_LT(accepted, 100u);
  EXPECT_GE(accepted * (sizeof(SpanRecord) + 512 + 300), ring.buffer_bytes() / 2);
  // Draining one makes room for one again.
  EXPECT_EQ(take(ring, 1).size(), 1u);
  EXPECT_TRUE(ring.push(s));
}

TEST(SpanRing, LongFieldsAreCutAndAnOversizedTracestateLeftOut) {
  SpanRing ring(1);
  ServerSpan s = request_span(200);
  const std::string long_path(5000, 'p');
  const std::string long_state(600, 's');
  s.text[static_cast<std::size_t>(Field::path)] = long_path;
  s.text[static_cast<std::size_t>(Field::trace_state)] = long_state;
  ASSERT_TRUE(ring.push(s));
  const auto spans = take(ring, 1);
  auto a = attributes(spans[0]);
  EXPECT_EQ(a["url.path"]["stringValue"].get<std::string>().size(),
            kFieldLimits[static_cast<std::size_t>(Field::path)]);
  EXPECT_FALSE(spans[0].contains("traceState"));
}

TEST(SpanRing, ClientTextIsEscapedIntoValidJson) {
  SpanRing ring(1);
  ServerSpan s = request_span(200);
  const std::string agent = "evil\"\\\n\x01\xff agent";
  s.text[static_cast<std::size_t>(Field::user_agent)] = agent;
  ASSERT_TRUE(ring.push(s));
  const auto spans = take(ring, 1);
  EXPECT_EQ(attributes(spans[0])["user_agent.original"]["stringValue"],
            "evil\"\\\n\x01\xef\xbf\xbd agent");
}

TEST(SpanRing, ARootSpanAndNoRouteNoUpstream) {
  SpanRing ring(1);
  ServerSpan s = request_span(200);
  s.has_parent = false;
  s.text[static_cast<std::size_t>(Field::route)] = {};
  s.upstream_usec = -1;
  ring.push(s);
  const auto spans = take(ring, 1);
  EXPECT_EQ(spans[0]["name"], "POST");
  EXPECT_FALSE(spans[0].contains("parentSpanId"));
  EXPECT_EQ(spans[0]["flags"], 0x101);
  auto a = attributes(spans[0]);
  EXPECT_EQ(a.count("http.route"), 0u);
  EXPECT_EQ(a.count("captain.upstream.duration"), 0u);
}

TEST(SpanRing, OneProducerOneConsumerLoseNothingAndKeepOrder) {
  SpanRing ring(64);
  constexpr int kSpans = 20000;
  // Paths of varying length: records wrap around the buffer at every offset.
  const std::string path(700, '/');
  std::thread producer([&] {
    for (int i = 0; i < kSpans;) {
      ServerSpan s = request_span(200 + (i % 100), static_cast<std::uint8_t>(i));
      s.text[static_cast<std::size_t>(Field::path)] = std::string_view(path).substr(0, i % 700);
      if (ring.push(s)) ++i;
    }
  });
  std::vector<nlohmann::json> out;
  while (out.size() < static_cast<std::size_t>(kSpans)) {
    for (auto& s : take(ring, 16)) out.push_back(std::move(s));
  }
  producer.join();
  char hex[3];
  for (int i = 0; i < kSpans; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", i & 0xff);
    ASSERT_EQ(out[i]["traceId"].get<std::string>().substr(0, 2), hex);
    ASSERT_EQ(attributes(out[i])["http.response.status_code"]["intValue"],
              std::to_string(200 + (i % 100)));
    ASSERT_EQ(attributes(out[i])["url.path"]["stringValue"].get<std::string>().size(),
              std::min(i % 700, 512));
  }
  EXPECT_EQ(ring.pending(), 0u);
}

}  // namespace
}  // namespace captain::trace_export
