#include "controller/log/json_log.h"

#include <cstdio>
#include <ctime>
#include <utility>

#include "controller/trace/tracer.h"

namespace captain::logging {

std::string_view level_name(Level level) noexcept {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "unknown";
}

std::string format_rfc3339_utc_ms(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  // floor, not truncation toward zero, so times before 1970 still get ms in [0, 999].
  const auto ms_total = floor<milliseconds>(time.time_since_epoch()).count();
  auto seconds = static_cast<std::time_t>(ms_total / 1000);
  auto ms = static_cast<int>(ms_total % 1000);
  if (ms < 0) {
    ms += 1000;
    seconds -= 1;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ms);
  return buffer;
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string dump_json(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

JsonLog::JsonLog(std::ostream& out, Clock clock) : out_(out), clock_(std::move(clock)) {}

std::string JsonLog::format_line(Level level, std::string_view msg,
                                 const nlohmann::json& fields) const {
  // Ordered so every line starts with ts, level, msg: easy to read before it is parsed.
  nlohmann::ordered_json line;
  line["ts"] = format_rfc3339_utc_ms(clock_());
  line["level"] = level_name(level);
  line["msg"] = msg;
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      if (key == "ts" || key == "level" || key == "msg") continue;
      line[key] = value;
    }
  } else if (!fields.is_null()) {
    line["fields"] = fields;
  }
  // A line written while the thread works in a span (a request, a deploy stage) names it, so
  // the log and the trace lead to each other.
  if (!line.contains("trace_id")) {
    if (const tracing::Parent current = tracing::current_parent(); current.context.valid()) {
      line["trace_id"] = current.context.trace_id_hex();
      line["span_id"] = current.context.span_id_hex();
    }
  }
  return dump_json(line);
}

void JsonLog::write(Level level, std::string_view msg, const nlohmann::json& fields) {
  std::string text = format_line(level, msg, fields);
  text += '\n';
  std::lock_guard lock(mutex_);
  // A closed stdout (EPIPE, SIGPIPE ignored) sets badbit; the service carries on regardless.
  out_.write(text.data(), static_cast<std::streamsize>(text.size()));
  out_.flush();
}

}  // namespace captain::logging
