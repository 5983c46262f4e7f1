#include "controller/swarm/spec_drift.h"

namespace captain::swarm {
namespace {

using Json = nlohmann::json;

bool is_zero(const Json& v) {
  if (v.is_null()) return true;
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number()) return v.get<double>() == 0.0;
  if (v.is_string()) return v.get<std::string>().empty();
  return v.empty();  // arrays and objects
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string difference(const Json& expected, const Json& actual, const std::string& path) {
  if (expected.is_object()) {
    if (!actual.is_object()) return path.empty() ? "(root)" : path;
    for (const auto& [key, value] : expected.items()) {
      const auto found = actual.find(key);
      if (found == actual.end()) {
        if (!is_zero(value)) return join(path, key);
        continue;
      }
      // The daemon pins an image to its digest when it resolves one: "name:tag@sha256:...".
      if (key == "Image" && value.is_string() && found->is_string()) {
        const std::string want = value.get<std::string>();
        const std::string have = found->get<std::string>();
        if (have == want || have.rfind(want + "@", 0) == 0) continue;
        return join(path, key);
      }
      if (auto inner = difference(value, *found, join(path, key)); !inner.empty()) return inner;
    }
    return "";
  }
  if (expected.is_array()) {
    if (!actual.is_array() || actual.size() != expected.size()) return path;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      auto inner = difference(expected[i], actual[i], path + "[" + std::to_string(i) + "]");
      if (!inner.empty()) return inner;
    }
    return "";
  }
  if (expected.is_number() && actual.is_number()) {
    return expected.get<double>() == actual.get<double>() ? "" : path;
  }
  return expected == actual ? "" : path;
}

}  // namespace

std::string spec_difference(const Json& expected, const Json& actual) {
  return difference(expected, actual, "");
}

}  // namespace captain::swarm
