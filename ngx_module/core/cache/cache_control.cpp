// Cache-Control list parsing (RFC 9111 §5.2) and HTTP-date parsing (RFC 9110 §5.6.7).
#include "ngx_module/core/cache/cache_control.h"

#include <cstddef>

#include "ngx_module/core/http_text.h"

namespace captain::cache {

namespace {

using http_text::equals_lowercase;
using http_text::is_ows;
using http_text::trim_ows;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// 1*DIGIT, saturating at kDeltaSecondsMax; nullopt for anything else (empty, sign, space).
std::optional<std::uint32_t> delta_seconds(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
    if (value > kDeltaSecondsMax) value = kDeltaSecondsMax;  // keeps value * 10 far from overflow
  }
  return static_cast<std::uint32_t>(value);
}

// One list element: name [ "=" value ], where `malformed` says the element did not match
// cache-directive and was skipped up to the next comma.
struct Element {
  std::string_view name;
  std::string_view value;  // a quoted-string's content without the quotes
  bool has_value = false;
  bool malformed = false;
};

class ListReader {
 public:
  explicit ListReader(std::string_view line) : s_(line) {}

  // The next element, or false at the end of the line.
  bool next(Element& out) {
    while (pos_ < s_.size() && (is_ows(s_[pos_]) || s_[pos_] == ',')) ++pos_;
    if (pos_ >= s_.size()) return false;
    out = Element();
    const std::size_t name_begin = pos_;
    while (pos_ < s_.size() && http_text::is_token_char(s_[pos_])) ++pos_;
    out.name = s_.substr(name_begin, pos_ - name_begin);
    if (out.name.empty()) {
      out.malformed = true;
      skip_element();
      return true;
    }
    skip_ows();
    if (pos_ < s_.size() && s_[pos_] == '=') {
      ++pos_;
      skip_ows();
      out.has_value = true;
      if (pos_ < s_.size() && s_[pos_] == '"') {
        if (!quoted_string(out.value)) {
          out.malformed = true;
          return true;
        }
      } else {
        const std::size_t value_begin = pos_;
        while (pos_ < s_.size() && http_text::is_token_char(s_[pos_])) ++pos_;
        out.value = s_.substr(value_begin, pos_ - value_begin);
        if (out.value.empty()) out.malformed = true;
      }
      skip_ows();
    }
    if (pos_ < s_.size() && s_[pos_] != ',') {
      out.malformed = true;
      skip_element();
    }
    return true;
  }

 private:
  void skip_ows() {
    while (pos_ < s_.size() && is_ows(s_[pos_])) ++pos_;
  }

  // Up to the next comma outside a quoted-string (or the end).
  void skip_element() {
    bool quoted = false;
    for (; pos_ < s_.size(); ++pos_) {
      const char c = s_[pos_];
      if (quoted && c == '\\') {
        ++pos_;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && c == ',') {
        return;
      }
    }
    pos_ = s_.size();
  }

  // At an opening quote: the raw content up to the closing quote (quoted-pairs left in place);
  // false if the line ends first.
  bool quoted_string(std::string_view& content) {
    const std::size_t begin = ++pos_;
    for (; pos_ < s_.size(); ++pos_) {
      if (s_[pos_] == '\\') {
        ++pos_;
      } else if (s_[pos_] == '"') {
        content = s_.substr(begin, pos_ - begin);
        ++pos_;
        return true;
      }
    }
    pos_ = s_.size();
    return false;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

// RFC 9111 §4.2.1: duplicates must agree, a value must be an integer, or the directive is
// invalid (and stays invalid whatever follows).
void merge_delta(Delta& into, const Element& e) {
  if (into.state == Delta::State::invalid) return;
  const std::optional<std::uint32_t> seconds =
      (e.has_value && !e.malformed) ? delta_seconds(e.value) : std::nullopt;
  if (!seconds || (into.valid() && into.seconds != *seconds)) {
    into.state = Delta::State::invalid;
    into.seconds = 0;
    return;
  }
  into.state = Delta::State::valid;
  into.seconds = *seconds;
}

}  // namespace

void parse_response_cache_control(std::string_view line, ResponseDirectives& into) {
  ListReader reader(line);
  Element e;
  while (reader.next(e)) {
    const std::string_view n = e.name;
    if (equals_lowercase(n, "no-store")) {
      into.no_store = true;
    } else if (equals_lowercase(n, "no-cache")) {
      into.no_cache = true;
    } else if (equals_lowercase(n, "private")) {
      into.is_private = true;
    } else if (e.malformed) {
      // An unreadable element proves nothing, except about the lifetimes it tried to set.
      if (equals_lowercase(n, "max-age")) merge_delta(into.max_age, e);
      if (equals_lowercase(n, "s-maxage")) merge_delta(into.s_maxage, e);
    } else if (equals_lowercase(n, "public")) {
      into.is_public = true;
    } else if (equals_lowercase(n, "must-revalidate")) {
      into.must_revalidate = true;
    } else if (equals_lowercase(n, "proxy-revalidate")) {
      into.proxy_revalidate = true;
    } else if (equals_lowercase(n, "max-age")) {
      merge_delta(into.max_age, e);
    } else if (equals_lowercase(n, "s-maxage")) {
      merge_delta(into.s_maxage, e);
    } else if (equals_lowercase(n, "stale-if-error")) {
      merge_delta(into.stale_if_error, e);
    } else if (equals_lowercase(n, "stale-while-revalidate")) {
      merge_delta(into.stale_while_revalidate, e);
    }
    // Unknown directives are ignored (RFC 9111 §5.2.3).
  }
}

void parse_request_cache_control(std::string_view line, RequestDirectives& into) {
  ListReader reader(line);
  Element e;
  while (reader.next(e)) {
    if (equals_lowercase(e.name, "no-cache")) {
      into.no_cache = true;
    } else if (equals_lowercase(e.name, "no-store")) {
      into.no_store = true;
    } else if (equals_lowercase(e.name, "max-age")) {
      merge_delta(into.max_age, e);
    }
  }
}

// --- HTTP-date ---------------------------------------------------------------------------------

namespace {

constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::string_view kShortDays[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::string_view kLongDays[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                           "Friday", "Saturday", "Sunday"};

bool is_leap(std::int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

// Leap years in [1, year).
std::int64_t leaps_before(std::int64_t year) {
  const std::int64_t y = year - 1;
  return y / 4 - y / 100 + y / 400;
}

int days_in_month(std::int64_t year, int month) {
  constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

struct DateParts {
  std::int64_t year = 0;
  int month = 0;  // 1..12
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
};

std::optional<std::int64_t> to_unix(const DateParts& d) {
  if (d.year < 1601 || d.year > 9999 || d.month < 1 || d.month > 12 || d.day < 1 ||
      d.day > days_in_month(d.year, d.month) || d.hour > 23 || d.minute > 59 || d.second > 60) {
    return std::nullopt;
  }
  std::int64_t days = 365 * (d.year - 1970) + leaps_before(d.year) - leaps_before(1970);
  for (int m = 1; m < d.month; ++m) days += days_in_month(d.year, m);
  days += d.day - 1;
  return days * 86400 + d.hour * 3600 + d.minute * 60 + d.second;
}

class DateReader {
 public:
  explicit DateReader(std::string_view s) : s_(s) {}

  bool literal(std::string_view text) {
    if (s_.substr(pos_, text.size()) != text) return false;
    pos_ += text.size();
    return true;
  }
  bool one_of(const std::string_view* names, std::size_t count, int& index) {
    for (std::size_t i = 0; i < count; ++i) {
      if (literal(names[i])) {
        index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }
  bool digits(std::size_t n, int& out) {
    if (pos_ + n > s_.size()) return false;
    int value = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s_[pos_ + i];
      if (!is_digit(c)) return false;
      value = value * 10 + (c - '0');
    }
    pos_ += n;
    out = value;
    return true;
  }
  // "HH:MM:SS"
  bool time(DateParts& d) {
    return digits(2, d.hour) && literal(":") && digits(2, d.minute) && literal(":") &&
           digits(2, d.second);
  }
  bool month(DateParts& d) {
    int index = 0;
    if (!one_of(kMonths, 12, index)) return false;
    d.month = index + 1;
    return true;
  }
  bool at_end() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// "Sun, 06 Nov 1994 08:49:37 GMT" after the day name.
bool imf_fixdate(DateReader& r, DateParts& d) {
  int year = 0;
  if (!(r.literal(", ") && r.digits(2, d.day) && r.literal(" ") && r.month(d) && r.literal(" ") &&
        r.digits(4, year) && r.literal(" ") && r.time(d) && r.literal(" GMT") && r.at_end())) {
    return false;
  }
  d.year = year;
  return true;
}

// "Sunday, 06-Nov-94 08:49:37 GMT" after the day name.
bool rfc850_date(DateReader& r, DateParts& d, std::int64_t now_s) {
  int yy = 0;
  if (!(r.literal(", ") && r.digits(2, d.day) && r.literal("-") && r.month(d) && r.literal("-") &&
        r.digits(2, yy) && r.literal(" ") && r.time(d) && r.literal(" GMT") && r.at_end())) {
    return false;
  }
  // RFC 9110 §5.6.7: the year with these last two digits that is not more than 50 years ahead.
  const std::int64_t now_year = 1970 + (now_s > 0 ? now_s / 31556952 : 0);  // mean Gregorian year
  std::int64_t year = now_year - now_year % 100 + yy;
  if (year > now_year + 50) year -= 100;
  d.year = year;
  return true;
}

// "Sun Nov  6 08:49:37 1994" after the day name.
bool asctime_date(DateReader& r, DateParts& d) {
  int year = 0;
  if (!(r.literal(" ") && r.month(d) && r.literal(" "))) return false;
  if (!(r.literal(" ") ? r.digits(1, d.day) : r.digits(2, d.day))) return false;
  if (!(r.literal(" ") && r.time(d) && r.literal(" ") && r.digits(4, year) && r.at_end())) {
    return false;
  }
  d.year = year;
  return true;
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view text, std::int64_t now_s) {
  const std::string_view s = trim_ows(text);
  DateParts d;
  int day_name = 0;
  {
    DateReader r(s);
    if (r.one_of(kLongDays, 7, day_name)) {
      if (rfc850_date(r, d, now_s)) return to_unix(d);
      return std::nullopt;
    }
  }
  DateReader r(s);
  if (!r.one_of(kShortDays, 7, day_name)) return std::nullopt;
  const std::size_t after = 3;
  if (s.size() > after && s[after] == ',') {
    if (imf_fixdate(r, d)) return to_unix(d);
  } else if (asctime_date(r, d)) {
    return to_unix(d);
  }
  return std::nullopt;
}

std::int64_t parse_expires(std::string_view text, std::int64_t now_s) {
  const std::optional<std::int64_t> at = parse_http_date(text, now_s);
  return at ? *at : kExpiredLongAgo;
}

std::optional<std::uint32_t> parse_age(std::string_view text) {
  const std::size_t comma = text.find(',');
  return delta_seconds(trim_ows(text.substr(0, comma)));
}

}  // namespace captain::cache
