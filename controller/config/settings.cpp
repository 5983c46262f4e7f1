#include "controller/config/settings.h"

#include <cstdlib>
#include <utility>

namespace captain::config {
namespace {

constexpr std::string_view kListenFlag = "--listen";

Expected<ListenAddress, std::string> listen_from(std::string_view source, std::string_view text) {
  auto parsed = parse_listen_address(text);
  if (!parsed) {
    std::string message(source);
    message += ": ";
    message += parsed.error();
    return Unexpected(std::move(message));
  }
  return parsed;
}

}  // namespace

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Expected<Startup, std::string> load_settings(std::span<const std::string_view> args,
                                             const EnvLookup& env) {
  Startup startup;

  auto listen = parse_listen_address(kDefaultListen);
  if (!listen) return Unexpected("built-in default: " + listen.error());
  startup.settings.listen = std::move(*listen);

  if (auto value = env(kListenEnv)) {
    auto from_env = listen_from(kListenEnv, *value);
    if (!from_env) return Unexpected(from_env.error());
    startup.settings.listen = std::move(*from_env);
  }

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "-h" || arg == "--help") {
      startup.show_help = true;
      continue;
    }

    std::optional<std::string_view> listen_value;
    if (arg == kListenFlag) {
      if (i + 1 == args.size()) return Unexpected(std::string("--listen needs a value HOST:PORT"));
      listen_value = args[++i];
    } else if (arg.starts_with(kListenFlag) && arg.size() > kListenFlag.size() &&
               arg[kListenFlag.size()] == '=') {
      listen_value = arg.substr(kListenFlag.size() + 1);
    }
    if (listen_value) {
      auto from_flag = listen_from(kListenFlag, *listen_value);
      if (!from_flag) return Unexpected(from_flag.error());
      startup.settings.listen = std::move(*from_flag);
      continue;
    }

    if (arg.starts_with("-")) return Unexpected("unknown option \"" + std::string(arg) + "\"");
    return Unexpected("unexpected argument \"" + std::string(arg) + "\"");
  }
  return startup;
}

std::string usage_text() {
  return "Usage: captain-controller [--listen HOST:PORT]\n"
         "\n"
         "Tyaprover controller: owns app definitions, drives Docker Swarm and nginx.\n"
         "\n"
         "Options:\n"
         "  --listen HOST:PORT  address of the HTTP API; an IPv6 host goes in brackets,\n"
         "                      [::1]:3000 (env CAPTAIN_LISTEN, default 127.0.0.1:3000)\n"
         "  -h, --help          print this help and exit\n"
         "\n"
         "Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 when the service fails\n"
         "(for example the address cannot be bound), 2 for invalid usage.\n";
}

}  // namespace captain::config
