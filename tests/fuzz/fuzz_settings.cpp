// libFuzzer target for the controller's settings file: the input is controller.yaml as
// config::load_settings reads it (--config names it; no environment; a password_file it names
// holds the same bytes).
//
// Invariants checked on every input:
//   * load_settings never throws (yaml-cpp's exceptions stay inside), and a refusal says why;
//   * accepted settings are valid, whichever keys the file set: paths are absolute, durations
//     positive, counts within their bounds, the first-run password (if any) non-empty and
//     without NUL, and no address (listen, nginx_controller, trusted_proxies) holds a NUL that
//     would end it early for inet_pton or bind.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "controller/config/settings.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using captain::fuzz::check;
namespace config = captain::config;

constexpr std::string_view kConfigPath = "/fuzz/controller.yaml";

bool absolute(const std::string& path) {
  return !path.empty() && path.front() == '/';
}

bool without_nul(std::string_view text) {
  return text.find('\0') == std::string_view::npos;
}

void check_valid(const config::Settings& s) {
  for (const std::string* path : {&s.data_dir, &s.docker_socket, &s.nginx_conf_dir,
                                  &s.nginx_pid_file, &s.nginx_binary, &s.nginx_module}) {
    check(absolute(*path));
  }
  check(s.password_file.empty() || absolute(s.password_file));
  check(!s.password || (!s.password->empty() && s.password->find('\0') == std::string::npos));
  check(!s.root_domain.empty() && !s.nginx_service.empty());
  for (auto seconds : {s.token_ttl, s.secret_rotation, s.build_timeout, s.request_header_timeout,
                       s.acme_renew_check, s.deploy_timeout, s.update_monitor,
                       s.docker_breaker_reset, s.reconcile_interval}) {
    check(seconds.count() > 0);
  }
  check(s.max_body_bytes > 0 && s.upload_max_bytes > 0 && s.build_max_unpacked_bytes > 0);
  check(s.build_max_entries > 0 && s.build_concurrency > 0 && s.max_connections > 0);
  check(s.registry_username.has_value() == s.registry_password.has_value());
  check(without_nul(s.listen.host));
  if (s.nginx_controller) check(without_nul(s.nginx_controller->host));
  for (const auto& proxy : s.trusted_proxies) check(without_nul(proxy.text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(captain::fuzz::as_text(data, size));
  const std::string_view args[] = {"--config", kConfigPath};
  const config::EnvLookup no_environment = [](std::string_view) -> std::optional<std::string> {
    return std::nullopt;
  };
  const config::FileReader files =
      [&](const std::string&) -> captain::Expected<std::optional<std::string>, std::string> {
    return std::optional<std::string>(text);
  };
  const auto loaded = config::load_settings(args, no_environment, files);
  if (!loaded) {
    check(!loaded.error().empty());
    return 0;
  }
  check(loaded->config_path == kConfigPath);
  check_valid(loaded->settings);
  return 0;
}
