#include "shared/metrics/exposition.h"

#include <charconv>
#include <cmath>

namespace captain::metrics {

namespace {

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

void append_uint(std::string& out, std::uint64_t value) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, static_cast<std::size_t>(result.ptr - buf));
}

}  // namespace

void append_escaped_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_escaped_help(std::string& out, std::string_view help) {
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof(buf), value);
    out.append(buf, static_cast<std::size_t>(result.ptr - buf));
  }
}

void TextWriter::family(std::string_view name, MetricType type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped_help(out_, help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void TextWriter::series(std::string_view name, std::string_view suffix,
                        std::initializer_list<Label> labels, const Label* extra) {
  out_ += name;
  out_ += suffix;
  if (labels.size() != 0 || extra != nullptr) {
    out_ += '{';
    bool first = true;
    auto append_label = [&](const Label& label) {
      if (!first) out_ += ',';
      first = false;
      out_ += label.name;
      out_ += "=\"";
      append_escaped_label_value(out_, label.value);
      out_ += '"';
    };
    for (const Label& label : labels) append_label(label);
    if (extra != nullptr) append_label(*extra);
    out_ += '}';
  }
  out_ += ' ';
}

void TextWriter::sample(std::string_view name, std::initializer_list<Label> labels, double value) {
  series(name, "", labels, nullptr);
  append_value(out_, value);
  out_ += '\n';
}

void TextWriter::sample(std::string_view name, std::initializer_list<Label> labels,
                        std::uint64_t value) {
  series(name, "", labels, nullptr);
  append_uint(out_, value);
  out_ += '\n';
}

void TextWriter::histogram(std::string_view name, std::initializer_list<Label> labels,
                           const double* bounds, const std::uint64_t* counts,
                           std::size_t bound_count, double sum) {
  std::uint64_t cumulative = 0;
  std::string le;
  for (std::size_t i = 0; i <= bound_count; ++i) {
    cumulative += counts[i];
    le.clear();
    if (i < bound_count) {
      append_value(le, bounds[i]);
    } else {
      le = "+Inf";
    }
    const Label bucket{"le", le};
    series(name, "_bucket", labels, &bucket);
    append_uint(out_, cumulative);
    out_ += '\n';
  }
  series(name, "_sum", labels, nullptr);
  append_value(out_, sum);
  out_ += '\n';
  series(name, "_count", labels, nullptr);
  append_uint(out_, cumulative);
  out_ += '\n';
}

}  // namespace captain::metrics
