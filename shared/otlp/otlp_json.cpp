#include "shared/otlp/otlp_json.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace captain::otlp {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) return 0;
  }
  return n;
}

void append_value(std::string& out, const AttributeValue& value) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    out += "{\"stringValue\":";
    append_json_string(out, *s);
  } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
    // proto3 JSON writes 64-bit integers as strings.
    out += "{\"intValue\":\"";
    if (*i < 0) out += '-';
    append_decimal(out, *i < 0 ? 0 - static_cast<std::uint64_t>(*i) : static_cast<std::uint64_t>(*i));
    out += '"';
  } else if (const auto* d = std::get_if<double>(&value)) {
    if (std::isfinite(*d)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", *d);
      out += "{\"doubleValue\":";
      out += buf;
    } else {
      out += "{\"doubleValue\":\"NaN\"";
    }
  } else {
    out += std::get<bool>(value) ? "{\"boolValue\":true" : "{\"boolValue\":false";
  }
  out += '}';
}

void append_attributes(std::string& out, const std::vector<Attribute>& attributes) {
  out += '[';
  bool first = true;
  for (const Attribute& a : attributes) {
    if (!first) out += ',';
    first = false;
    out += "{\"key\":";
    append_json_string(out, a.key);
    out += ",\"value\":";
    append_value(out, a.value);
    out += '}';
  }
  out += ']';
}

}  // namespace

void append_span_json(std::string& out, const SpanData& s) {
  out += "{\"traceId\":";
  append_hex_id(out, s.trace_id);
  out += ",\"spanId\":";
  append_hex_id(out, s.span_id);
  if (s.has_parent) {
    out += ",\"parentSpanId\":";
    append_hex_id(out, s.parent_span_id);
  }
  if (!s.trace_state.empty()) {
    out += ",\"traceState\":";
    append_json_string(out, s.trace_state);
  }
  std::uint32_t flags = s.trace_flags | kSpanFlagHasIsRemote;
  if (s.has_parent && s.parent_is_remote) flags |= kSpanFlagIsRemote;
  out += ",\"flags\":";
  append_decimal(out, flags);
  out += ",\"name\":";
  append_json_string(out, s.name);
  out += ",\"kind\":";
  append_decimal(out, static_cast<std::uint64_t>(s.kind));
  out += ",\"startTimeUnixNano\":\"";
  append_decimal(out, s.start_unix_nano);
  out += "\",\"endTimeUnixNano\":\"";
  append_decimal(out, s.end_unix_nano);
  out += '"';
  out += ",\"attributes\":";
  append_attributes(out, s.attributes);
  out += ",\"status\":{";
  if (s.status != StatusCode::unset) {
    out += "\"code\":";
    append_decimal(out, static_cast<std::uint64_t>(s.status));
    if (!s.status_message.empty()) {
      out += ",\"message\":";
      append_json_string(out, s.status_message);
    }
  }
  out += "}}";
}

void append_decimal(std::string& out, std::uint64_t value) {
  char buf[20];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

void JsonCursor::string(std::string_view s) noexcept {
  *p_++ = '"';
  std::size_t i = 0;
  while (i < s.size()) {
    // The common case, printable ASCII, is copied in runs.
    std::size_t run = i;
    while (run < s.size()) {
      const auto c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') break;
      ++run;
    }
    if (run != i) {
      std::memcpy(p_, s.data() + i, run - i);
      p_ += run - i;
      i = run;
      if (i == s.size()) break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        std::memcpy(p_, "\xef\xbf\xbd", 3);  // U+FFFD
        p_ += 3;
        ++i;
      } else {
        std::memcpy(p_, s.data() + i, n);
        p_ += n;
        i += n;
      }
      continue;
    }
    *p_++ = '\\';
    switch (c) {
      case '"': *p_++ = '"'; break;
      case '\\': *p_++ = '\\'; break;
      case '\n': *p_++ = 'n'; break;
      case '\r': *p_++ = 'r'; break;
      case '\t': *p_++ = 't'; break;
      default:  // other control characters and DEL
        std::memcpy(p_, "u00", 3);
        p_[3] = kLowerHexDigits[c >> 4];
        p_[4] = kLowerHexDigits[c & 0x0f];
        p_ += 5;
    }
    ++i;
  }
  *p_++ = '"';
}

void append_json_string(std::string& out, std::string_view s) {
  const std::size_t old = out.size();
  out.resize(old + JsonCursor::string_bound(s.size()));
  JsonCursor w(out.data() + old);
  w.string(s);
  out.resize(static_cast<std::size_t>(w.end() - out.data()));
}

std::string traces_json_prefix(const Resource& resource, const Scope& scope) {
  std::string out = "{\"resourceSpans\":[{\"resource\":{\"attributes\":";
  append_attributes(out, resource.attributes);
  out += "},\"scopeSpans\":[{\"scope\":{\"name\":";
  append_json_string(out, scope.name);
  out += ",\"version\":";
  append_json_string(out, scope.version);
  out += "},\"spans\":[";
  return out;
}

std::string encode_traces_json(const Resource& resource, const Scope& scope,
                               const std::vector<SpanData>& spans) {
  std::string out = traces_json_prefix(resource, scope);
  bool first = true;
  for (const SpanData& s : spans) {
    if (!first) out += ',';
    first = false;
    append_span_json(out, s);
  }
  out += kTracesJsonSuffix;
  return out;
}

}  // namespace captain::otlp
