// OTLP/HTTP request bodies in the protocol's JSON encoding
// (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): an
// ExportTraceServiceRequest with one ResourceSpans holding one ScopeSpans.
//
// JSON rather than binary protobuf because every OTLP/HTTP receiver must accept it (the
// Collector, Jaeger, Tempo do) and Debian ships no C++ build of the OTLP .proto files; the
// encoder is a few dozen lines, while protobuf would add protoc and generated code to both
// builds. The spec's deviations from proto3 JSON are followed: trace and span ids are hex
// strings, enums are integers, field names are lowerCamelCase.
#pragma once

#include <charconv>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "shared/encoding/hex.h"
#include "shared/otlp/span_data.h"

namespace captain::otlp {

inline constexpr std::string_view kJsonContentType = "application/json";

std::string encode_traces_json(const Resource& resource, const Scope& scope,
                               const std::vector<SpanData>& spans);

// The same request in three pieces, for exporters that append spans straight into a reused
// buffer: prefix + span objects separated by ',' + kTracesJsonSuffix.
std::string traces_json_prefix(const Resource& resource, const Scope& scope);
inline constexpr std::string_view kTracesJsonSuffix = "]}]}]}";
void append_span_json(std::string& out, const SpanData& span);

// Span.flags (trace.proto): bits 0-7 the W3C trace-flags, bit 8 says bit 9 is known, bit 9 set
// when the parent is remote.
inline constexpr std::uint32_t kSpanFlagHasIsRemote = 0x100;
inline constexpr std::uint32_t kSpanFlagIsRemote = 0x200;

// Pieces of a span object for encoders that do not build a SpanData first.
void append_decimal(std::string& out, std::uint64_t value);
template <std::size_t N>
void append_hex_id(std::string& out, const std::array<std::uint8_t, N>& id);

// Appends s as a JSON string literal. Bytes that are not valid UTF-8 become U+FFFD, so a
// client's odd path or user agent never makes the whole batch unreadable.
void append_json_string(std::string& out, std::string_view s);

// Writes JSON into memory reserved beforehand (the caller grows its string by an upper bound
// of what it writes, then trims): the export thread's per-span encoder then makes no
// capacity check and no call per piece.
class JsonCursor {
 public:
  explicit JsonCursor(char* p) noexcept : p_(p) {}

  // Most a quoted string of n input bytes can take (\u00XX for each byte, plus the quotes).
  static constexpr std::size_t string_bound(std::size_t n) noexcept { return 6 * n + 2; }

  void raw(std::string_view s) noexcept {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void ch(char c) noexcept { *p_++ = c; }
  void decimal(std::uint64_t value) noexcept { p_ = std::to_chars(p_, p_ + 20, value).ptr; }
  template <std::size_t N>
  void hex_id(const std::array<std::uint8_t, N>& id) noexcept {
    *p_++ = '"';
    hex_encode(id.data(), N, p_);
    p_ += 2 * N;
    *p_++ = '"';
  }
  // s quoted and escaped; bytes that are not valid UTF-8 become U+FFFD.
  void string(std::string_view s) noexcept;

  char* end() const noexcept { return p_; }

 private:
  char* p_;
};

template <std::size_t N>
void append_hex_id(std::string& out, const std::array<std::uint8_t, N>& id) {
  char hex[2 * N + 2];
  hex[0] = '"';
  hex_encode(id.data(), N, hex + 1);
  hex[2 * N + 1] = '"';
  out.append(hex, sizeof hex);
}

}  // namespace captain::otlp
