// The worker-to-export-thread span ring (ngx_module/core/trace_export/span_ring.h) and the
// SERVER span it builds.
#include "ngx_module/core/trace_export/span_ring.h"

#include <gtest/gtest.h>

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

std::map<std::string, otlp::AttributeValue> attributes(const otlp::SpanData& s) {
  std::map<std::string, otlp::AttributeValue> out;
  for (const auto& a : s.attributes) out.emplace(a.key, a.value);
  return out;
}

TEST(SpanRing, BuildsAServerSpanWithHttpSemanticConventions) {
  SpanRing ring(4);
  ASSERT_TRUE(ring.push(request_span(201)));
  std::vector<otlp::SpanData> out;
  ASSERT_EQ(ring.take(10, out), 1u);
  const otlp::SpanData& s = out[0];
  EXPECT_EQ(s.name, "POST /api/");
  EXPECT_EQ(s.kind, otlp::SpanKind::server);
  EXPECT_TRUE(s.has_parent);
  EXPECT_TRUE(s.parent_is_remote);
  EXPECT_EQ(s.trace_state, "vendor=1");
  EXPECT_EQ(s.status, otlp::StatusCode::unset);
  auto a = attributes(s);
  EXPECT_EQ(std::get<std::string>(a["http.request.method"]), "POST");
  EXPECT_EQ(std::get<std::string>(a["url.path"]), "/api/items");
  EXPECT_EQ(std::get<std::string>(a["url.scheme"]), "https");
  EXPECT_EQ(std::get<std::string>(a["http.route"]), "/api/");
  EXPECT_EQ(std::get<std::int64_t>(a["http.response.status_code"]), 201);
  EXPECT_EQ(std::get<std::string>(a["server.address"]), "shop.example");
  EXPECT_EQ(std::get<std::string>(a["client.address"]), "192.0.2.7");
  EXPECT_EQ(std::get<std::string>(a["user_agent.original"]), "curl/8");
  EXPECT_EQ(std::get<std::string>(a["captain.upstream.address"]), "127.0.0.1:8080");
  EXPECT_DOUBLE_EQ(std::get<double>(a["captain.upstream.duration"]), 0.2);
  EXPECT_EQ(std::get<std::string>(a["captain.request_id"]), "req-1");
}

TEST(SpanRing, ServerErrorsAreErrorsClientErrorsAreNot) {
  SpanRing ring(4);
  ring.push(request_span(502));
  ring.push(request_span(404));
  std::vector<otlp::SpanData> out;
  ring.take(10, out);
  EXPECT_EQ(out[0].status, otlp::StatusCode::error);
  EXPECT_EQ(out[1].status, otlp::StatusCode::unset);
}

TEST(SpanRing, AFullRingRefusesInsteadOfWaiting) {
  SpanRing ring(2);
  EXPECT_TRUE(ring.push(request_span(200)));
  EXPECT_TRUE(ring.push(request_span(200)));
  EXPECT_FALSE(ring.push(request_span(200)));
  EXPECT_EQ(ring.pending(), 2u);
  std::vector<otlp::SpanData> out;
  EXPECT_EQ(ring.take(1, out), 1u);
  EXPECT_TRUE(ring.push(request_span(200)));
  EXPECT_EQ(ring.pending(), 2u);
}

TEST(SpanRing, LongFieldsAreCutAndAnOversizedTracestateLeftOut) {
  SpanRing ring(1);
  ServerSpan s = request_span(200);
  const std::string long_path(5000, 'p');
  const std::string long_state(600, 's');
  s.text[static_cast<std::size_t>(Field::path)] = long_path;
  s.text[static_cast<std::size_t>(Field::trace_state)] = long_state;
  ASSERT_TRUE(ring.push(s));
  std::vector<otlp::SpanData> out;
  ring.take(1, out);
  auto a = attributes(out[0]);
  EXPECT_EQ(std::get<std::string>(a["url.path"]).size(),
            kFieldLimits[static_cast<std::size_t>(Field::path)]);
  EXPECT_TRUE(out[0].trace_state.empty());
}

TEST(SpanRing, NoRouteNamesTheSpanByMethodAlone) {
  SpanRing ring(1);
  ServerSpan s = request_span(200);
  s.text[static_cast<std::size_t>(Field::route)] = {};
  s.upstream_usec = -1;
  ring.push(s);
  std::vector<otlp::SpanData> out;
  ring.take(1, out);
  EXPECT_EQ(out[0].name, "POST");
  auto a = attributes(out[0]);
  EXPECT_EQ(a.count("http.route"), 0u);
  EXPECT_EQ(a.count("captain.upstream.duration"), 0u);
}

TEST(SpanRing, OneProducerOneConsumerLoseNothingAndKeepOrder) {
  SpanRing ring(64);
  constexpr int kSpans = 20000;
  std::thread producer([&] {
    for (int i = 0; i < kSpans;) {
      if (ring.push(request_span(200 + (i % 100), static_cast<std::uint8_t>(i)))) ++i;
    }
  });
  std::vector<otlp::SpanData> out;
  while (out.size() < static_cast<std::size_t>(kSpans)) ring.take(16, out);
  producer.join();
  for (int i = 0; i < kSpans; ++i) {
    ASSERT_EQ(out[i].trace_id[0], static_cast<std::uint8_t>(i));
    ASSERT_EQ(std::get<std::int64_t>(attributes(out[i])["http.response.status_code"]),
              200 + (i % 100));
  }
  EXPECT_EQ(ring.pending(), 0u);
}

}  // namespace
}  // namespace captain::trace_export
