#include "shared/validation/app_name.h"

namespace captain::validation {
namespace {

bool is_lower_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

bool is_reserved_app_name(std::string_view name) noexcept {
  constexpr std::string_view kCaptainPrefix = "captain-";
  return name == "captain" || name == "registry" ||
         name.substr(0, kCaptainPrefix.size()) == kCaptainPrefix;
}

std::string app_name_problem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kAppNameMaxLength) {
    return "must be at most " + std::to_string(kAppNameMaxLength) + " characters long";
  }
  for (char c : name) {
    if (!is_lower_alnum(c) && c != '-') {
      return "may contain only lowercase letters, digits and hyphens";
    }
  }
  if (!is_lower_alnum(name.front()) || !is_lower_alnum(name.back())) {
    return "must start and end with a lowercase letter or digit";
  }
  if (name.find("--") != std::string_view::npos) return "must not contain \"--\"";
  if (is_reserved_app_name(name)) {
    return "is reserved (\"captain\", \"registry\" and \"captain-*\" names belong to the platform)";
  }
  return {};
}

}  // namespace captain::validation
