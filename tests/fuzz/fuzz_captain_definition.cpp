// libFuzzer target for a captain-definition file (source::parse_captain_definition, as a deploy
// with a definition or an uploaded source tree reads it) and for the path rule it shares with
// tar entry names (source::normalise_relative_path, source::quote).
//
// Invariants checked on every input:
//   * an accepted definition has exactly one of imageName, dockerfileLines, dockerfilePath, and
//     its dockerfilePath is normalised: relative, no empty, "." or ".." component;
//   * normalising is idempotent and never yields a path above its start;
//   * quote() output is one double-quoted line without control bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "controller/source/captain_definition.h"
#include "controller/source/relative_path.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using captain::fuzz::check;
namespace source = captain::source;

bool normalised(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  while (true) {
    const auto slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

void check_definition(std::string_view text) {
  const auto parsed = source::parse_captain_definition(text);
  if (!parsed) {
    check(!parsed.error().empty());
    return;
  }
  const int given = int(parsed->image_name.has_value()) + int(!parsed->dockerfile_lines.empty()) +
                    int(parsed->dockerfile_path.has_value());
  check(given == 1);
  if (parsed->image_name) check(!parsed->image_name->empty());
  if (parsed->dockerfile_path) check(normalised(*parsed->dockerfile_path));
}

void check_path_rules(std::string_view text) {
  const auto normal = source::normalise_relative_path(text);
  if (normal) {
    check(normal->empty() || normalised(*normal));
    const auto again = source::normalise_relative_path(*normal);
    check(again.has_value() && *again == *normal);
  }
  const std::string quoted = source::quote(text);
  check(quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"');
  check(std::none_of(quoted.begin(), quoted.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  }));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = captain::fuzz::as_text(data, size);
  check_definition(text);
  check_path_rules(text);
  return 0;
}
