// Structured logging: one JSON object per line (ts, level, msg, then the caller's fields, then
// trace_id and span_id of the span the writing thread works in, unless the fields name one).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

namespace captain::logging {

enum class Level { debug, info, warn, error };

std::string_view level_name(Level level) noexcept;

// "2024-05-01T12:34:56.789Z": RFC 3339, UTC, millisecond precision.
std::string format_rfc3339_utc_ms(std::chrono::system_clock::time_point time);

// Serializes JSON for logs and responses. Invalid UTF-8 (request paths, header values) is
// replaced with U+FFFD instead of throwing: a hostile byte must not turn into an exception.
std::string dump_json(const nlohmann::json& value);
std::string dump_json(const nlohmann::ordered_json& value);

// Thread-safe line writer. The stream and the clock are injected so tests can capture output
// at a fixed time; production passes std::cout and the system clock.
class JsonLog {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  explicit JsonLog(std::ostream& out, Clock clock = &std::chrono::system_clock::now);

  JsonLog(const JsonLog&) = delete;
  JsonLog& operator=(const JsonLog&) = delete;

  // fields must be a JSON object (anything else is logged under "fields"); keys ts, level and
  // msg are reserved and skipped. Every line is flushed: log shippers read a pipe.
  void write(Level level, std::string_view msg,
             const nlohmann::json& fields = nlohmann::json::object());

  void debug(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
    write(Level::debug, msg, fields);
  }
  void info(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
    write(Level::info, msg, fields);
  }
  void warn(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
    write(Level::warn, msg, fields);
  }
  void error(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
    write(Level::error, msg, fields);
  }

  // The line write() would emit, without the trailing newline.
  std::string format_line(Level level, std::string_view msg, const nlohmann::json& fields) const;

 private:
  std::ostream& out_;
  Clock clock_;
  std::mutex mutex_;  // one writer at a time keeps lines whole
};

}  // namespace captain::logging
