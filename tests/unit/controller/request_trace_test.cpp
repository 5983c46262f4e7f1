// Where the controller's logs and request contexts meet its spans (trace/tracer.h): a log line
// written in a span names it; a request's context is its SERVER span.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "controller/api/request_context.h"
#include "controller/log/json_log.h"
#include "controller/trace/tracer.h"

namespace captain::tracing {
namespace {

constexpr std::string_view kSampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
constexpr std::string_view kCallerTrace = "0af7651916cd43dd8448eb211c80319c";
constexpr std::string_view kCallerSpan = "b7ad6b7169203331";

class CollectingSink : public SpanSink {
 public:
  void finished(otlp::SpanData&& span) noexcept override { spans.push_back(std::move(span)); }
  std::vector<otlp::SpanData> spans;
};

TEST(JsonLogTrace, LinesWrittenInASpanNameIt) {
  Tracer tracer(1.0, nullptr);
  std::ostringstream out;
  logging::JsonLog log(out);
  log.info("outside");
  {
    ScopedSpan span(tracer.start_server("GET /x", kSampled, "", true));
    log.info("inside");
    log.info("explicit", {{"trace_id", "mine"}});  // the caller's own field wins
  }
  std::istringstream lines(out.str());
  std::string line;
  std::vector<nlohmann::json> parsed;
  while (std::getline(lines, line)) parsed.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_FALSE(parsed[0].contains("trace_id"));
  EXPECT_EQ(parsed[1]["trace_id"], kCallerTrace);
  EXPECT_EQ(parsed[1]["span_id"].get<std::string>().size(), 16u);
  EXPECT_EQ(parsed[2]["trace_id"], "mine");
  EXPECT_FALSE(parsed[2].contains("span_id"));
}

TEST(RequestContextTrace, TheRequestsSpanIsItsContext) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);
  http::Request req;
  req.headers.add("traceparent", std::string(kSampled));
  ScopedSpan span(tracer.start_server("GET /x", kSampled, "", true));
  const api::RequestContext context = api::make_request_context(req, {});
  EXPECT_EQ(context.trace_id, kCallerTrace);
  EXPECT_EQ(context.span_id, span->context().span_id_hex());
  EXPECT_EQ(context.traceparent, span->context().traceparent());
  EXPECT_TRUE(context.span.valid());
  EXPECT_EQ(context.span.context.span_id, span->context().span_id);
}

TEST(RequestContextTrace, WithoutASpanIdsAreStillMade) {
  http::Request req;
  req.headers.add("traceparent", std::string(kSampled));
  const api::RequestContext context = api::make_request_context(req, {});
  EXPECT_EQ(context.trace_id, kCallerTrace);
  EXPECT_EQ(context.span_id.size(), 16u);
  EXPECT_NE(context.span_id, kCallerSpan);
  EXPECT_FALSE(context.span.valid());
}

}  // namespace
}  // namespace captain::tracing
