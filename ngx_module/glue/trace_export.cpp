#include "ngx_module/glue/trace_export.h"

#include <unistd.h>

#include <memory>
#include <new>
#include <string>
#include <type_traits>

#include "ngx_module/core/trace_export/span_ring.h"
#include "ngx_module/glue/conf_args.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/main_conf.h"
#include "ngx_module/glue/metrics_conf.h"
#include "ngx_module/glue/request_ctx.h"
#include "ngx_module/glue/request_phase.h"
#include "ngx_module/glue/shm_region.h"
#include "ngx_module/glue/version.h"
#include "shared/otlp/otlp_http.h"

namespace captain::glue {

namespace {

constexpr ngx_uint_t kDefaultBatch = 512;
constexpr ngx_uint_t kDefaultQueue = 2048;
constexpr ngx_msec_t kDefaultInterval = 5000;
constexpr ngx_msec_t kDefaultTimeout = 5000;
constexpr ngx_uint_t kMaxBatch = 65536;
constexpr ngx_uint_t kMaxQueue = 1 << 20;
constexpr std::size_t kCountersZoneSize = sizeof(trace_export::ExportCountersTable) + 64 * 1024;

// One per worker process with export on; created at worker start, gone at worker exit.
struct WorkerExport {
  trace_export::SpanRing ring;
  otlp::BatchExporter exporter;
  trace_export::WorkerExportCounters* counters;

  WorkerExport(const TraceExportConf& conf, otlp::Resource resource,
               trace_export::WorkerExportCounters* c)
      : ring(conf.queue),
        exporter(otlp::ExportConfig{std::string(to_view(conf.url)), conf.batch,
                                    std::chrono::milliseconds(conf.interval),
                                    std::chrono::milliseconds(conf.timeout)},
                 std::move(resource), otlp::Scope{"ngx_http_captain_module", kModuleVersion}, ring,
                 [c](const otlp::BatchOutcome& o) {
                   if (o.delivered) {
                     c->exported.fetch_add(o.spans, std::memory_order_relaxed);
                     c->requests_ok.fetch_add(1, std::memory_order_relaxed);
                   } else {
                     c->dropped_export.fetch_add(o.spans, std::memory_order_relaxed);
                     c->requests_failed.fetch_add(1, std::memory_order_relaxed);
                   }
                 }),
        counters(c) {}
};

WorkerExport* g_worker_export = nullptr;

trace_export::ExportCountersTable* counters_table(ngx_shm_zone_t* zone) noexcept {
  if (zone == nullptr || zone->data == nullptr) return nullptr;
  return static_cast<trace_export::ExportCountersTable*>(zone->data);
}

ngx_int_t init_counters_zone(ngx_shm_zone_t* shm_zone, void* old_data) noexcept {
  // A reload that kept the segment keeps the totals, unless their layout changed.
  ShmRegion* region = old_data != nullptr ? existing_region(shm_zone) : allocate_region(shm_zone);
  if (region == nullptr || region->table_bytes < sizeof(trace_export::ExportCountersTable)) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "captain_trace_export: could not allocate its counters");
    return NGX_ERROR;
  }
  auto* table = static_cast<trace_export::ExportCountersTable*>(region->table());
  if (old_data == nullptr || table->layout_version != trace_export::kCountersLayoutVersion) {
    static_assert(std::is_trivially_destructible_v<trace_export::ExportCountersTable>);
    table = new (region->table()) trace_export::ExportCountersTable();  // all zero
    table->layout_version = trace_export::kCountersLayoutVersion;
    table->slots = trace_export::kMaxWorkerSlots;
  }
  shm_zone->data = table;
  return NGX_OK;
}

bool parse_count(const ngx_str_t& text, ngx_uint_t max, ngx_uint_t* out) noexcept {
  const ngx_int_t n = ngx_atoi(text.data, text.len);
  if (n == NGX_ERROR || n < 1 || static_cast<ngx_uint_t>(n) > max) return false;
  *out = static_cast<ngx_uint_t>(n);
  return true;
}

bool parse_msec(ngx_str_t text, ngx_msec_t* out) noexcept {
  const ngx_int_t ms = ngx_parse_time(&text, 0);
  if (ms == NGX_ERROR || ms < 1 || ms > 3600 * 1000) return false;
  *out = static_cast<ngx_msec_t>(ms);
  return true;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

std::uint64_t unix_nano(time_t sec, ngx_msec_t msec) noexcept {
  return static_cast<std::uint64_t>(sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(msec) * 1'000'000ULL;
}

std::string_view route_of(ngx_http_request_t* r, const LocConf* lcf) noexcept {
  if (const auto* route = static_cast<const MetricsRoute*>(lcf->metrics_route)) {
    return to_view(route->route);
  }
  auto* clcf =
      static_cast<ngx_http_core_loc_conf_t*>(ngx_http_get_module_loc_conf(r, ngx_http_core_module));
  return clcf != nullptr ? to_view(clcf->name) : std::string_view();
}

// The path the client sent, without its query (url.path).
std::string_view request_path(const ngx_http_request_t* r) noexcept {
  std::string_view uri = to_view(r->unparsed_uri);
  const std::size_t q = uri.find('?');
  return q == std::string_view::npos ? uri : uri.substr(0, q);
}

ngx_int_t queue_span(ngx_http_request_t* r) noexcept {
  WorkerExport* w = g_worker_export;
  if (w == nullptr || r != r->main) return NGX_OK;
  const LocConf* lcf = loc_conf(r);
  if (!lcf->trace) return NGX_OK;
  RequestCtx* ctx = existing_request_ctx(r);
  if (ctx == nullptr || !ctx->trace_ready || !ctx->span.sampled) return NGX_OK;

  trace_export::ServerSpan span;
  span.trace_id = ctx->span.trace_id;
  span.span_id = ctx->span.span_id;
  span.parent_span_id = ctx->span.parent_span_id;
  span.has_parent = ctx->span.has_parent;
  span.trace_flags = ctx->span.trace_flags();
  span.start_unix_nano = unix_nano(r->start_sec, r->start_msec);
  const ngx_time_t* now = ngx_timeofday();
  span.end_unix_nano = unix_nano(now->sec, now->msec);
  span.status = response_status(r);

  using trace_export::Field;
  auto set = [&span](Field f, std::string_view v) { span.text[static_cast<std::size_t>(f)] = v; };
  set(Field::method, to_view(r->method_name));
  set(Field::scheme, r->connection->ssl != nullptr ? "https" : "http");
  set(Field::route, route_of(r, lcf));
  set(Field::path, request_path(r));
  set(Field::host, to_view(r->headers_in.server));
  set(Field::client, to_view(r->connection->addr_text));
  if (r->headers_in.user_agent != nullptr)
    set(Field::user_agent, to_view(r->headers_in.user_agent->value));
  if (const UpstreamSummary upstream = upstream_summary(r); upstream.any) {
    set(Field::upstream_address, to_view(*upstream.last_peer));
    span.upstream_usec = static_cast<std::int64_t>(upstream.total_ms) * 1000;
  }
  if (ctx->request_id_ready) set(Field::request_id, to_view(ctx->request_id));
  set(Field::trace_state, to_view(ctx->tracestate));

  if (w->ring.push(span)) {
    w->counters->queued.fetch_add(1, std::memory_order_relaxed);
    if (w->ring.pending() == w->exporter.config().batch) w->exporter.wake();
  } else {
    w->counters->dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
  }
  return NGX_OK;
}

TraceExportConf* export_conf(ngx_cycle_t* cycle) noexcept {
  auto* mcf =
      static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_captain_module));
  return mcf != nullptr ? &mcf->trace_export : nullptr;
}

}  // namespace

void init_trace_export_conf(TraceExportConf* conf) noexcept {
  conf->batch = NGX_CONF_UNSET_UINT;
  conf->queue = NGX_CONF_UNSET_UINT;
  conf->interval = NGX_CONF_UNSET_MSEC;
  conf->timeout = NGX_CONF_UNSET_MSEC;
}

char* set_trace_export(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  auto* tc = &static_cast<MainConf*>(conf)->trace_export;
  if (tc->url.len != 0) return const_cast<char*>("is duplicate");
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);
  ngx_uint_t batch = kDefaultBatch;
  ngx_uint_t queue = kDefaultQueue;
  ngx_msec_t interval = kDefaultInterval;
  ngx_msec_t timeout = kDefaultTimeout;
  ngx_str_t endpoint{0, nullptr};
  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    const ngx_str_t& a = args[i];
    if (starts_with(a, "endpoint=")) {
      endpoint = value_after(a, 9);
    } else if (starts_with(a, "batch=")) {
      if (!parse_count(value_after(a, 6), kMaxBatch, &batch)) {
        return invalid_token(cf, cmd, "batch", a, "it must be a span count from 1 to 65536");
      }
    } else if (starts_with(a, "queue=")) {
      if (!parse_count(value_after(a, 6), kMaxQueue, &queue)) {
        return invalid_token(cf, cmd, "queue", a, "it must be a span count from 1 to 1048576");
      }
    } else if (starts_with(a, "interval=")) {
      if (!parse_msec(value_after(a, 9), &interval)) {
        return invalid_token(cf, cmd, "interval", a, "it must be a time from 1ms to 1h, like 5s");
      }
    } else if (starts_with(a, "timeout=")) {
      if (!parse_msec(value_after(a, 8), &timeout)) {
        return invalid_token(cf, cmd, "timeout", a, "it must be a time from 1ms to 1h, like 5s");
      }
    } else {
      return invalid_token(cf, cmd, "parameter", a,
                           "expected endpoint=URL, batch=N, queue=N, interval=TIME or "
                           "timeout=TIME");
    }
  }
  if (endpoint.len == 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" directive needs endpoint=URL, like "
                       "endpoint=http://127.0.0.1:4318",
                       &cmd->name);
    return conf_error();
  }
  std::string url;
  try {
    std::string error;
    std::optional<std::string> resolved = otlp::traces_url(to_view(endpoint), &error);
    if (!resolved) {
      ngx_str_t token{endpoint.len + 9, endpoint.data - 9};
      return invalid_token(cf, cmd, "endpoint", token, error.c_str());
    }
    url = std::move(*resolved);
  } catch (const std::exception&) {
    return conf_error();
  }
  tc->url.len = url.size();
  tc->url.data = static_cast<u_char*>(ngx_pnalloc(cf->pool, url.size()));
  if (tc->url.data == nullptr) return conf_error();
  ngx_memcpy(tc->url.data, url.data(), url.size());
  tc->batch = batch;
  tc->queue = queue;
  tc->interval = interval;
  tc->timeout = timeout;

  ngx_str_t zone_name = ngx_string("captain_trace_export");
  tc->counters_zone =
      ngx_shared_memory_add(cf, &zone_name, kCountersZoneSize, &ngx_http_captain_module);
  if (tc->counters_zone == nullptr) return conf_error();
  tc->counters_zone->init = init_counters_zone;
  return NGX_CONF_OK;
}

char* set_trace_service_name(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  auto* tc = &static_cast<MainConf*>(conf)->trace_export;
  if (tc->service_name.len != 0) return const_cast<char*>("is duplicate");
  const ngx_str_t& arg = static_cast<ngx_str_t*>(cf->args->elts)[1];
  if (arg.len == 0 || arg.len > 255) {
    return invalid_token(cf, cmd, "service name", arg, "it must be 1 to 255 characters");
  }
  tc->service_name = arg;
  return NGX_CONF_OK;
}

ngx_int_t init_trace_export_log(ngx_conf_t* cf) noexcept {
  if (main_conf(cf)->trace_export.url.len == 0) return NGX_OK;
  return add_phase_handler(cf, NGX_HTTP_LOG_PHASE, queue_span);
}

void start_trace_export(ngx_cycle_t* cycle) noexcept {
  if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE) return;
  TraceExportConf* conf = export_conf(cycle);
  if (conf == nullptr || conf->url.len == 0) return;
  trace_export::ExportCountersTable* table = counters_table(conf->counters_zone);
  if (table == nullptr) return;
  try {
    otlp::Resource resource;
    const std::string_view service =
        conf->service_name.len != 0 ? to_view(conf->service_name) : "captain-nginx";
    resource.attributes.push_back({"service.name", std::string(service)});
    resource.attributes.push_back({"service.version", std::string(kModuleVersion)});
    resource.attributes.push_back({"host.name", host_name()});
    resource.attributes.push_back({"process.pid", static_cast<std::int64_t>(ngx_pid)});
    auto w = std::make_unique<WorkerExport>(*conf, std::move(resource),
                                            &table->slot(static_cast<std::size_t>(ngx_worker)));
    std::string error;
    if (!w->exporter.start(&error)) {
      ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                    "captain_trace_export: could not start the export thread: %s", error.c_str());
      return;
    }
    g_worker_export = w.release();
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "captain_trace_export: %s", e.what());
  }
}

void stop_trace_export(ngx_cycle_t* cycle) noexcept {
  WorkerExport* w = g_worker_export;
  if (w == nullptr) return;
  g_worker_export = nullptr;
  // Graceful stop and reload: what is queued leaves now, within one request timeout.
  w->exporter.stop(w->exporter.config().timeout);
  const std::size_t left = w->ring.pending();
  if (left != 0) {
    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "captain_trace_export: %uz spans were still queued at exit", left);
  }
  delete w;
}

bool trace_export_totals(ngx_http_request_t* r, trace_export::ExportTotals* out) noexcept {
  auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_captain_module));
  if (mcf == nullptr || mcf->trace_export.url.len == 0) return false;
  const trace_export::ExportCountersTable* table = counters_table(mcf->trace_export.counters_zone);
  if (table == nullptr) return false;
  *out = trace_export::sum_counters(*table);
  return true;
}

}  // namespace captain::glue
