#include "shared/validation/domain.h"

namespace captain::validation {
namespace {

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool all_digits(std::string_view text) noexcept {
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Empty when one label is 1-63 characters of [a-z0-9-] with alphanumeric ends.
std::string label_problem(std::string_view label) {
  if (label.empty()) return "has an empty label (two dots in a row, or a leading dot)";
  if (label.size() > kDomainLabelMaxLength) {
    return "has a label longer than " + std::to_string(kDomainLabelMaxLength) + " characters";
  }
  for (char c : label) {
    if (!is_alnum(c) && c != '-') {
      return "may contain only letters, digits, hyphens and dots";
    }
  }
  if (label.front() == '-' || label.back() == '-') {
    return "has a label starting or ending with a hyphen";
  }
  return {};
}

}  // namespace

std::string lowercase_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string domain_problem(std::string_view domain) {
  if (domain.empty()) return "must not be empty";
  if (domain.size() > kDomainMaxLength) {
    return "must be at most " + std::to_string(kDomainMaxLength) + " characters long";
  }
  if (domain.back() == '.') return "must not end with a dot";

  std::size_t labels = 0;
  std::string_view last_label;
  std::string_view rest = domain;
  while (true) {
    std::size_t dot = rest.find('.');
    std::string_view label = rest.substr(0, dot);
    if (std::string problem = label_problem(label); !problem.empty()) return problem;
    ++labels;
    last_label = label;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (labels < 2) return "must have at least two labels (e.g. app.example.com)";
  if (all_digits(last_label))
    return "must not end with an all-numeric label (IP addresses are not domains)";
  return {};
}

}  // namespace captain::validation
