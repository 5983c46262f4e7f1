// Prometheus text exposition format 0.0.4: one writer for the module's status endpoint and the
// controller's /metrics, so both escape, order and format values the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace captain::metrics {

inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { counter, gauge, histogram };

struct Label {
  std::string_view name;
  std::string_view value;
};

// Appends to `out`. Callers write one family at a time: family() first, then its samples; the
// writer does not reorder or deduplicate.
class TextWriter {
 public:
  explicit TextWriter(std::string& out) : out_(out) {}

  // "# HELP <name> <help>" and "# TYPE <name> <type>".
  void family(std::string_view name, MetricType type, std::string_view help);

  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);

  // A histogram's series: cumulative <name>_bucket{le="..."} for each upper bound and +Inf,
  // then <name>_sum and <name>_count. `counts` are per-bucket (not cumulative), one per bound
  // plus a last one for values above every bound.
  void histogram(std::string_view name, std::initializer_list<Label> labels, const double* bounds,
                 const std::uint64_t* counts, std::size_t bound_count, double sum);

 private:
  void series(std::string_view name, std::string_view suffix, std::initializer_list<Label> labels,
              const Label* extra);
  std::string& out_;
};

// Label values escape backslash, double quote and newline; HELP text backslash and newline.
void append_escaped_label_value(std::string& out, std::string_view value);
void append_escaped_help(std::string& out, std::string_view help);

// The shortest text that reads back as the same double; "+Inf", "-Inf", "NaN" as Prometheus
// spells them.
void append_value(std::string& out, double value);

}  // namespace captain::metrics
