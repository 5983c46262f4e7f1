// libFuzzer target for the checks on user-provided text before it reaches a generated nginx
// config (controller/nginx/nginx_text.h): an app's customNginxConfig and the operator's override
// snippet (check_snippet, as site_model.cpp calls it), and every value emitted bare.
//
// Invariants checked on every input:
//   * an accepted snippet is returned unchanged; a refused one names the field and a line
//     within the snippet;
//   * a snippet an app may use (server context) is also accepted at http level, whose rules
//     are looser;
//   * a value accepted for bare emission (app name, domain, path, address, size, token, host,
//     rate) holds no byte that could end or open an nginx token: no whitespace, control byte,
//     ';', '{', '}', '#', quote, backslash or '$';
//   * what the app validation accepts (app name, domain, rate), the renderer's checks accept
//     too: an app that saved cannot be refused when its config is rendered.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "controller/apps/validation.h"
#include "controller/nginx/nginx_text.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using captain::fuzz::check;
namespace nginx = captain::nginx;
namespace apps = captain::apps;

bool safe_bare(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == ';' || c == '{' || c == '}' || c == '#' || c == '"' ||
           c == '\'' || c == '\\' || c == '$';
  });
}

void check_bare(const nginx::Checked<std::string>& checked, std::string_view input) {
  if (!checked) return;
  check(*checked == input);
  check(safe_bare(*checked));
}

void check_snippet(std::string_view text) {
  const std::size_t lines =
      1 + static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  bool accepted[2] = {false, false};
  int i = 0;
  for (auto context : {nginx::SnippetContext::server, nginx::SnippetContext::http}) {
    const auto checked = nginx::check_snippet(text, context, "customNginxConfig");
    if (checked) {
      check(*checked == text);
    } else {
      check(checked.error().field == "customNginxConfig");
      check(checked.error().message.starts_with("customNginxConfig"));
      check(checked.error().line <= lines);
    }
    accepted[i++] = checked.has_value();
  }
  if (accepted[0]) check(accepted[1]);
}

void check_values(std::string_view value) {
  check_bare(nginx::check_app_name(value), value);
  check_bare(nginx::check_domain(value, "domain"), value);
  check_bare(nginx::check_rate(value), value);
  check_bare(nginx::check_path(value, "path"), value);
  check_bare(nginx::check_ip(value, "address", true), value);
  check_bare(nginx::check_ip(value, "address", false), value);
  check_bare(nginx::check_size(value, "size"), value);
  check_bare(nginx::check_token(value, "token"), value);
  check_bare(nginx::check_host(value, "host"), value);
}

void check_layers_agree(std::string_view value) {
  if (apps::validate_app_name(value)) check(nginx::check_app_name(value).has_value());
  if (const auto domain = apps::validate_domain(value)) {
    check(nginx::check_domain(*domain, "customDomain").has_value());
  }
  if (apps::validate_rate_limit(value)) check(nginx::check_rate(value).has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = captain::fuzz::as_text(data, size);
  check_snippet(text);
  check_values(text);
  check_layers_agree(text);
  return 0;
}
