// Controller settings: built-in defaults, then CAPTAIN_* environment variables, then the
// command line, each layer overriding the one before.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "controller/common/expected.h"
#include "controller/config/listen_address.h"

namespace captain::config {

inline constexpr std::string_view kDefaultListen = "127.0.0.1:3000";
inline constexpr std::string_view kListenEnv = "CAPTAIN_LISTEN";

struct Settings {
  ListenAddress listen;
};

// What the process was asked to do.
struct Startup {
  Settings settings;
  bool show_help = false;
};

// Reads one environment variable; nullopt when unset. Injected so tests need no real
// environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The real process environment (getenv). Call before other threads start.
EnvLookup process_environment();

// Builds the settings from defaults, env and args (argv without the program name). Every
// value given is validated, including an env value that a flag overrides, so a typo never
// lies dormant. The error is a one-line message for stderr.
Expected<Startup, std::string> load_settings(std::span<const std::string_view> args,
                                             const EnvLookup& env);

// --help text.
std::string usage_text();

}  // namespace captain::config
