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

void collect(const Json& expected, const Json& actual, const std::string& path, SpecDrift& drift) {
  const auto differs = [&](const std::string& at) {
    drift.fields.push_back(at.empty() ? "(root)" : at);
  };
  if (expected.is_object()) {
    if (!actual.is_object()) return differs(path);
    for (const auto& [key, value] : expected.items()) {
      const auto found = actual.find(key);
      if (found == actual.end()) {
        if (!is_zero(value)) differs(join(path, key));
        continue;
      }
      // The daemon pins an image to its digest when it resolves one: "name:tag@sha256:...".
      if (key == "Image" && value.is_string() && found->is_string()) {
        const std::string want = value.get<std::string>();
        const std::string have = found->get<std::string>();
        if (have != want && have.rfind(want + "@", 0) != 0) {
          differs(join(path, key));
          drift.image = true;
        }
        continue;
      }
      collect(value, *found, join(path, key), drift);
    }
    return;
  }
  if (expected.is_array()) {
    if (!actual.is_array() || actual.size() != expected.size()) return differs(path);
    for (std::size_t i = 0; i < expected.size(); ++i) {
      collect(expected[i], actual[i], path + "[" + std::to_string(i) + "]", drift);
    }
    return;
  }
  if (expected.is_number() && actual.is_number()) {
    if (expected.get<double>() != actual.get<double>()) differs(path);
    return;
  }
  if (expected != actual) differs(path);
}

}  // namespace

std::string SpecDrift::summary(std::size_t shown) const {
  std::string out;
  for (std::size_t i = 0; i < fields.size() && i < shown; ++i) {
    out += (i == 0 ? "" : ", ") + fields[i];
  }
  if (fields.size() > shown) out += " and " + std::to_string(fields.size() - shown) + " more";
  return out;
}

SpecDrift spec_drift(const Json& expected, const Json& actual) {
  SpecDrift drift;
  collect(expected, actual, "", drift);
  return drift;
}

}  // namespace captain::swarm
