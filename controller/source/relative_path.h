// The one rule for paths that come from users inside an uploaded source tree (tar entry names,
// hard-link targets, captain-definition paths): relative, and never above where they start.
#pragma once

#include <string>
#include <string_view>

#include "controller/common/expected.h"

namespace captain::source {

// "./a//b/./c/" -> "a/b/c"; "./" and "." -> "" (the caller decides what an empty path means).
// Refuses an absolute path and any ".." component, with the reason as a sentence fragment:
// `is an absolute path`, `leaves the source directory ("..")`.
Expected<std::string, std::string> normalise_relative_path(std::string_view path);

// `text` in double quotes, with quotes, backslashes and control bytes escaped, so a hostile
// name cannot forge a message or a log line.
std::string quote(std::string_view text);

}  // namespace captain::source
