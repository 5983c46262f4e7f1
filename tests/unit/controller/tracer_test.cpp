// controller/trace: ids, parent-based sampling, the current span and carried parents, what is
// (and is not) handed to the sink, and the exporter's queue and counters.
#include "controller/trace/tracer.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "controller/log/json_log.h"
#include "controller/trace/span_export.h"
#include "tests/unit/controller/loopback_port.h"

namespace captain::tracing {
namespace {

constexpr std::string_view kSampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
constexpr std::string_view kNotSampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
constexpr std::string_view kCallerTrace = "0af7651916cd43dd8448eb211c80319c";
constexpr std::string_view kCallerSpan = "b7ad6b7169203331";

// Keeps every finished span, as the exporter's queue would.
class CollectingSink : public SpanSink {
 public:
  void finished(otlp::SpanData&& span) noexcept override {
    std::lock_guard lock(mutex_);
    spans_.push_back(std::move(span));
  }
  std::vector<otlp::SpanData> spans() {
    std::lock_guard lock(mutex_);
    return spans_;
  }

 private:
  std::mutex mutex_;
  std::vector<otlp::SpanData> spans_;
};

std::string hex(const trace::SpanId& id) {
  SpanContext c;
  c.span_id = id;
  return c.span_id_hex();
}

std::string hex(const trace::TraceId& id) {
  SpanContext c;
  c.trace_id = id;
  return c.trace_id_hex();
}

const otlp::AttributeValue* attribute(const otlp::SpanData& span, std::string_view key) {
  for (const auto& a : span.attributes) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

TEST(Tracer, ASampledTraceparentIsContinued) {
  CollectingSink sink;
  Tracer tracer(0.0, &sink);  // the ratio does not matter: the caller decided
  {
    Span span = tracer.start_server("GET /api/v2/x", kSampled, "", true);
    ASSERT_TRUE(span.recording());
    EXPECT_EQ(span.context().trace_id_hex(), kCallerTrace);
    EXPECT_NE(span.context().span_id_hex(), kCallerSpan);
    EXPECT_TRUE(span.context().sampled);
    EXPECT_EQ(span.context().traceparent(),
              "00-" + std::string(kCallerTrace) + "-" + span.context().span_id_hex() + "-01");
  }
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].name, "GET /api/v2/x");
  EXPECT_EQ(spans[0].kind, otlp::SpanKind::server);
  EXPECT_EQ(hex(spans[0].trace_id), kCallerTrace);
  EXPECT_TRUE(spans[0].has_parent);
  EXPECT_TRUE(spans[0].parent_is_remote);
  EXPECT_EQ(hex(spans[0].parent_span_id), kCallerSpan);
  EXPECT_EQ(spans[0].trace_flags, trace::kFlagSampled);
  EXPECT_LE(spans[0].start_unix_nano, spans[0].end_unix_nano);
  EXPECT_GT(spans[0].start_unix_nano, 1'600'000'000'000'000'000u);  // system_clock, in ns
}

TEST(Tracer, TheRandomFlagIsKeptAsReceived) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);
  Span random = tracer.start_server(
      "GET /x", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03", "", true);
  EXPECT_TRUE(random.context().random);
  Span child = tracer.start_child(random.context(), "c", otlp::SpanKind::internal);
  EXPECT_EQ(child.context().traceparent().substr(trace::kFlagsOffset), "03");
  // Reserved bits are not ours to pass on.
  Span odd = tracer.start_server(
      "GET /x", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-f1", "", true);
  EXPECT_EQ(odd.context().traceparent().substr(trace::kFlagsOffset), "01");
}

TEST(Tracer, AnUnsampledTraceparentQueuesNothingButKeepsTheTrace) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);  // even at 100%: the caller said no
  {
    Span span = tracer.start_server("GET /x", kNotSampled, "", true);
    EXPECT_FALSE(span.recording());
    EXPECT_EQ(span.context().trace_id_hex(), kCallerTrace);
    EXPECT_FALSE(span.context().sampled);
    span.set("http.route", "/x");  // costs nothing, kept nowhere
    Span child = start_span(span.parent(), "deploy converge");
    EXPECT_FALSE(child.recording());
    EXPECT_FALSE(span.parent().recording());
    // Not recorded: the child is its parent's context again, no id drawn.
    EXPECT_EQ(child.context().trace_id_hex(), kCallerTrace);
    EXPECT_EQ(child.context().span_id, span.context().span_id);
  }
  EXPECT_TRUE(sink.spans().empty());
}

TEST(Tracer, WithoutAValidTraceparentANewTraceStarts) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);
  for (std::string_view bad : {std::string_view(), std::string_view("garbage"),
                               std::string_view("00-00000000000000000000000000000000-"
                                                "b7ad6b7169203331-01")}) {
    Span span = tracer.start_server("GET /x", bad, "", true);
    EXPECT_TRUE(span.recording()) << bad;
    EXPECT_NE(span.context().trace_id_hex(), kCallerTrace);
    EXPECT_TRUE(span.context().valid());
    // Sampled, and (Level 2) its trace id is random.
    EXPECT_EQ(span.context().traceparent().substr(trace::kFlagsOffset), "03");
  }
  for (const auto& span : sink.spans()) EXPECT_FALSE(span.has_parent);
  EXPECT_EQ(sink.spans().size(), 3u);
}

TEST(Tracer, TheRatioDecidesForNewTracesOnly) {
  CollectingSink sink;
  Tracer never(0.0, &sink);
  Span a = never.start_server("GET /x", "", "", true);
  EXPECT_FALSE(a.recording());
  EXPECT_FALSE(a.context().sampled);
  Span b = never.start_server("GET /x", kSampled, "", true);
  EXPECT_TRUE(b.recording());

  // The low 8 bytes of the trace id, against ratio * 2^64.
  Tracer half(0.5, &sink);
  trace::TraceId low{};
  low[8] = 0x7f;
  EXPECT_TRUE(half.sample_new_trace(low));
  trace::TraceId high{};
  high[8] = 0x80;
  EXPECT_FALSE(half.sample_new_trace(high));
  Tracer all(1.0, &sink);
  trace::TraceId top{};
  for (auto& byte : top) byte = 0xff;
  EXPECT_TRUE(all.sample_new_trace(top));

  int sampled = 0;
  for (int i = 0; i < 4000; ++i) sampled += half.start_root("r").context().sampled ? 1 : 0;
  EXPECT_GT(sampled, 1700);
  EXPECT_LT(sampled, 2300);
}

TEST(Tracer, ProbesStartNoTraceOfTheirOwn) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);
  EXPECT_FALSE(tracer.start_server("GET /health", "", "", false).recording());
  EXPECT_TRUE(tracer.start_server("GET /health", kSampled, "", false).recording());
}

TEST(Tracer, ExportOffRecordsNothingButPropagatesTheCallersFlag) {
  Tracer tracer(1.0, nullptr);
  Span continued = tracer.start_server("GET /x", kSampled, "", true);
  EXPECT_FALSE(continued.recording());
  EXPECT_TRUE(continued.context().sampled);  // not ours to clear
  Span fresh = tracer.start_server("GET /x", "", "", true);
  EXPECT_FALSE(fresh.recording());
  EXPECT_FALSE(fresh.context().sampled);  // nothing was recorded: say so
  EXPECT_TRUE(fresh.context().valid());   // ids for log lines all the same
  EXPECT_EQ(fresh.context().traceparent().substr(trace::kFlagsOffset), "02");
  EXPECT_FALSE(tracer.start_root("nginx apply").recording());
}

TEST(Tracer, IdsAreValidAndDistinct) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);
  std::set<std::string> traces, spans;
  for (int i = 0; i < 1000; ++i) {
    Span span = tracer.start_root("r");
    ASSERT_TRUE(span.context().valid());
    traces.insert(span.context().trace_id_hex());
    spans.insert(span.context().span_id_hex());
    Span child = tracer.start_child(span.context(), "c", otlp::SpanKind::internal);
    EXPECT_EQ(child.context().trace_id, span.context().trace_id);
    spans.insert(child.context().span_id_hex());
  }
  EXPECT_EQ(traces.size(), 1000u);
  EXPECT_EQ(spans.size(), 2000u);
}

TEST(Tracer, ChildrenOfTheCurrentSpan) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);
  EXPECT_EQ(current_span(), nullptr);
  EXPECT_FALSE(start_span("orphan").context().valid());  // no current span: no span
  std::string root_id, inner_id;
  {
    ScopedSpan root(tracer.start_server("POST /deploy", kSampled, "", true));
    root_id = root->context().span_id_hex();
    EXPECT_EQ(current_span(), &*root);
    {
      ScopedSpan inner(start_span("deploy pull"));
      inner_id = inner->context().span_id_hex();
      EXPECT_EQ(current_span(), &*inner);
      Span call = start_span("docker POST /images/create", otlp::SpanKind::client);
      EXPECT_TRUE(call.recording());
    }
    EXPECT_EQ(current_span(), &*root);  // restored
  }
  EXPECT_EQ(current_span(), nullptr);
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 3u);  // ended innermost first
  EXPECT_EQ(spans[0].name, "docker POST /images/create");
  EXPECT_EQ(spans[0].kind, otlp::SpanKind::client);
  EXPECT_EQ(hex(spans[0].parent_span_id), inner_id);
  EXPECT_EQ(spans[1].name, "deploy pull");
  EXPECT_EQ(hex(spans[1].parent_span_id), root_id);
  EXPECT_FALSE(spans[1].parent_is_remote);
  EXPECT_EQ(spans[2].name, "POST /deploy");
  for (const auto& s : spans) EXPECT_EQ(hex(s.trace_id), kCallerTrace);
}

TEST(Tracer, AParentCarriedToAnotherThread) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);
  Span request = tracer.start_server("POST /deploy", kSampled, "", true);
  const Parent carried = request.parent();  // what a queued job holds
  request.end();                            // the request may be answered long before
  std::thread worker([&] {
    EXPECT_FALSE(current_parent().valid());
    ScopedSpan pass(start_span(carried, "deploy converge"));
    {
      // The worker hands a parent on once more (a rollout tracked by another thread).
      const CurrentScope scope(pass->parent());
      Span call = start_span("docker GET /services/{id}", otlp::SpanKind::client);
      EXPECT_TRUE(call.recording());
    }
  });
  worker.join();
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].name, "POST /deploy");
  EXPECT_EQ(spans[1].name, "docker GET /services/{id}");
  EXPECT_EQ(spans[2].name, "deploy converge");
  EXPECT_EQ(spans[2].parent_span_id, spans[0].span_id);
  EXPECT_EQ(spans[1].parent_span_id, spans[2].span_id);
  EXPECT_FALSE(start_span(Parent{}, "nothing").context().valid());
}

TEST(Span, AttributesStatusAndEnd) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);
  Span span = tracer.start_root("nginx apply");
  span.set("captain.status", 100);
  span.set("captain.status", 1102);  // the last value wins
  span.set("url.path", "/api/v2/login");
  span.set("captain.nginx.reloaded", true);
  span.set_error("nginx -t failed");
  span.end();
  span.end();  // idempotent
  span.set("late", 1);
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 1u);
  ASSERT_EQ(spans[0].attributes.size(), 3u);
  EXPECT_EQ(std::get<std::int64_t>(*attribute(spans[0], "captain.status")), 1102);
  EXPECT_EQ(std::get<std::string>(*attribute(spans[0], "url.path")), "/api/v2/login");
  EXPECT_EQ(std::get<bool>(*attribute(spans[0], "captain.nginx.reloaded")), true);
  EXPECT_EQ(spans[0].status, otlp::StatusCode::error);
  EXPECT_EQ(spans[0].status_message, "nginx -t failed");
  EXPECT_TRUE(span.context().valid());  // still there for log lines
}

TEST(Span, DiscardAndMoveAssign) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);
  Span poll = tracer.start_root("nginx apply");
  poll.discard();
  poll.end();
  EXPECT_TRUE(sink.spans().empty());
  Span first = tracer.start_root("first");
  first = tracer.start_root("second");  // ends the first
  ASSERT_EQ(sink.spans().size(), 1u);
  EXPECT_EQ(sink.spans()[0].name, "first");
}

TEST(Span, TracestateIsKeptNormalized) {
  CollectingSink sink;
  Tracer tracer(1.0, &sink);
  tracer.start_server("GET /x", kSampled, " congo=t61rcWkgMzE ,, rojo=00f067aa0ba902b7", true)
      .end();
  tracer.start_server("GET /x", kSampled, "not a tracestate", true).end();
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].trace_state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  EXPECT_EQ(spans[1].trace_state, "");
}

TEST(SpanExport, AFullQueueDropsAndCounts) {
  std::ostringstream out;
  logging::JsonLog log(out);
  ExportSettings settings;
  settings.url =
      "http://127.0.0.1:" + std::to_string(captain::testing::unused_loopback_port()) + "/v1/traces";
  settings.queue = 2;
  settings.batch = 100;
  SpanExport exporter(settings, controller_resource("captain-controller", "0.1.0"), {}, log);
  Tracer tracer(1.0, &exporter);
  for (int i = 0; i < 5; ++i) tracer.start_root("r").end();  // not started: nothing drains
  EXPECT_EQ(exporter.dropped_queue_full(), 3u);
  std::string metrics;
  render_trace_metrics(metrics, &exporter);
  EXPECT_NE(metrics.find("captain_controller_trace_spans_dropped_total{reason=\"queue_full\"} 3"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("captain_controller_trace_spans_exported_total 0"), std::string::npos);
}

TEST(SpanExport, ACollectorThatIsDownCountsExportFailed) {
  std::ostringstream out;
  logging::JsonLog log(out);
  ExportSettings settings;
  settings.url =
      "http://127.0.0.1:" + std::to_string(captain::testing::unused_loopback_port()) + "/v1/traces";
  settings.batch = 2;
  settings.timeout = std::chrono::milliseconds(2000);
  SpanExport exporter(settings, controller_resource("captain-controller", "0.1.0"), {}, log);
  std::string why;
  ASSERT_TRUE(exporter.start(&why)) << why;
  Tracer tracer(1.0, &exporter);
  for (int i = 0; i < 3; ++i) tracer.start_root("r").end();
  exporter.stop(std::chrono::milliseconds(3000));  // ships (fails) what is queued
  EXPECT_EQ(exporter.dropped_export_failed(), 3u);
  EXPECT_EQ(exporter.exported(), 0u);
  EXPECT_NE(out.str().find("trace export failed"), std::string::npos) << out.str();
}

TEST(SpanExport, MetricsWhenExportIsOff) {
  std::string metrics;
  render_trace_metrics(metrics, nullptr);
  EXPECT_NE(metrics.find("# TYPE captain_controller_trace_spans_exported_total counter"),
            std::string::npos);
  EXPECT_NE(
      metrics.find("captain_controller_trace_spans_dropped_total{reason=\"export_failed\"} 0"),
      std::string::npos)
      << metrics;
}

TEST(SpanExport, TheResourceNamesTheService) {
  const otlp::Resource resource = controller_resource("ctl", "1.2.3");
  ASSERT_GE(resource.attributes.size(), 2u);
  EXPECT_EQ(resource.attributes[0].key, "service.name");
  EXPECT_EQ(std::get<std::string>(resource.attributes[0].value), "ctl");
  EXPECT_EQ(resource.attributes[1].key, "service.version");
  EXPECT_EQ(std::get<std::string>(resource.attributes[1].value), "1.2.3");
}

}  // namespace
}  // namespace captain::tracing
