// OTLP/HTTP JSON encoding (shared/otlp/otlp_json.h) and the endpoint-to-URL rule.
#include "shared/otlp/otlp_json.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/otlp/otlp_http.h"

namespace captain::otlp {
namespace {

SpanData sample_span() {
  SpanData s;
  for (std::size_t i = 0; i < s.trace_id.size(); ++i) s.trace_id[i] = static_cast<std::uint8_t>(i + 1);
  for (std::size_t i = 0; i < s.span_id.size(); ++i) s.span_id[i] = static_cast<std::uint8_t>(0xa0 + i);
  s.parent_span_id = {0, 0, 0, 0, 0, 0, 0, 7};
  s.has_parent = true;
  s.parent_is_remote = true;
  s.trace_flags = 0x01;
  s.name = "GET /api";
  s.kind = SpanKind::server;
  s.start_unix_nano = 1'700'000'000'123'000'000ULL;
  s.end_unix_nano = 1'700'000'000'456'000'000ULL;
  s.add("http.request.method", std::string("GET"));
  s.add("http.response.status_code", std::int64_t{503});
  s.add("captain.upstream.duration", 0.25);
  s.add("captain.cached", true);
  s.status = StatusCode::error;
  return s;
}

TEST(OtlpJson, FollowsTheSpecsJsonMapping) {
  Resource resource{{{"service.name", std::string("captain-nginx")}}};
  const std::string body = encode_traces_json(resource, Scope{"ngx_http_captain_module", "1"},
                                              {sample_span()});
  const auto doc = nlohmann::json::parse(body);
  const auto& rs = doc["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"][0]["key"], "service.name");
  EXPECT_EQ(rs["resource"]["attributes"][0]["value"]["stringValue"], "captain-nginx");
  const auto& ss = rs["scopeSpans"][0];
  EXPECT_EQ(ss["scope"]["name"], "ngx_http_captain_module");
  const auto& span = ss["spans"][0];
  // Ids are lowercase hex, not base64 (the OTLP exception to proto3 JSON).
  EXPECT_EQ(span["traceId"], "0102030405060708090a0b0c0d0e0f10");
  EXPECT_EQ(span["spanId"], "a0a1a2a3a4a5a6a7");
  EXPECT_EQ(span["parentSpanId"], "0000000000000007");
  EXPECT_EQ(span["kind"], 2);  // SPAN_KIND_SERVER, an integer
  EXPECT_EQ(span["startTimeUnixNano"], "1700000000123000000");
  EXPECT_EQ(span["endTimeUnixNano"], "1700000000456000000");
  EXPECT_EQ(span["flags"], 0x301);  // sampled, has-is-remote, is-remote
  EXPECT_EQ(span["status"]["code"], 2);
  const auto& attrs = span["attributes"];
  EXPECT_EQ(attrs[0]["value"]["stringValue"], "GET");
  EXPECT_EQ(attrs[1]["value"]["intValue"], "503");
  EXPECT_DOUBLE_EQ(attrs[2]["value"]["doubleValue"].get<double>(), 0.25);
  EXPECT_EQ(attrs[3]["value"]["boolValue"], true);
}

TEST(OtlpJson, RootSpanHasNoParentAndUnsetStatusIsEmpty) {
  SpanData s = sample_span();
  s.has_parent = false;
  s.status = StatusCode::unset;
  const auto doc = nlohmann::json::parse(encode_traces_json({}, {}, {s}));
  const auto& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_FALSE(span.contains("parentSpanId"));
  EXPECT_TRUE(span["status"].empty());
  EXPECT_EQ(span["flags"], 0x101);  // has-is-remote set, is-remote clear: a local root
}

TEST(OtlpJson, StringsAreEscapedAndInvalidUtf8Replaced) {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\x01\x7f", 8));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
  out.clear();
  append_json_string(out, "caf\xc3\xa9 \xff \xed\xa0\x80 \xe2\x82");  // é, bad, surrogate, cut
  EXPECT_EQ(out, "\"caf\xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
                 "\xef\xbf\xbd\xef\xbf\xbd\"");
  EXPECT_TRUE(nlohmann::json::accept(out));
}

TEST(OtlpJson, ManySpansInOneRequest) {
  std::vector<SpanData> spans(3, sample_span());
  const auto doc = nlohmann::json::parse(encode_traces_json({}, {}, spans));
  EXPECT_EQ(doc["resourceSpans"][0]["scopeSpans"][0]["spans"].size(), 3u);
}

TEST(OtlpEndpoint, BareEndpointGetsTheSignalPath) {
  std::string error;
  EXPECT_EQ(traces_url("http://127.0.0.1:4318", &error), "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(traces_url("http://collector:4318/", &error), "http://collector:4318/v1/traces");
  EXPECT_EQ(traces_url("https://otel.example/custom/path", &error),
            "https://otel.example/custom/path");
}

TEST(OtlpEndpoint, RejectsWhatIsNotAnHttpUrl) {
  std::string error;
  EXPECT_FALSE(traces_url("127.0.0.1:4318", &error));
  EXPECT_NE(error.find("http://"), std::string::npos);
  EXPECT_FALSE(traces_url("grpc://127.0.0.1:4317", &error));
  EXPECT_FALSE(traces_url("http://", &error));
  EXPECT_FALSE(traces_url("http://user:pw@host/", &error));
  EXPECT_FALSE(traces_url("http://host/v1/traces?x=1", &error));
  EXPECT_FALSE(traces_url("http://ho st/", &error));
}

}  // namespace
}  // namespace captain::otlp
