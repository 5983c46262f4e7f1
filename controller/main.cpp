// captain-controller: argument parsing, wiring of the stages, and the process lifecycle.
#include <signal.h>

#include <exception>
#include <iostream>
#include <string_view>
#include <vector>

#include "controller/api/error_responses.h"
#include "controller/api/health.h"
#include "controller/config/settings.h"
#include "controller/http/server.h"
#include "controller/log/json_log.h"
#include "controller/process/shutdown_signals.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr std::string_view kProgram = "captain-controller";

int run(int argc, char** argv) {
  // Before anything can start a thread (the HTTP worker pool, the signal watcher).
  const sigset_t shutdown_signals = captain::process::block_shutdown_signals();
  // Writes to a vanished client or a closed stdout must fail with EPIPE, not kill us.
  ::signal(SIGPIPE, SIG_IGN);

  const std::vector<std::string_view> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  auto startup = captain::config::load_settings(args, captain::config::process_environment());
  if (!startup) {
    std::cerr << kProgram << ": " << startup.error() << "\n"
              << "Try '" << kProgram << " --help'.\n";
    return kExitUsage;
  }
  if (startup->show_help) {
    std::cout << captain::config::usage_text();
    return kExitOk;
  }
  const captain::config::Settings& settings = startup->settings;

  captain::logging::JsonLog log(std::cout);
  captain::http::Server server;
  captain::api::install_error_responses(server.routes(), log);
  captain::api::register_health_routes(server.routes());

  if (auto bound = server.bind(settings.listen); !bound) {
    std::cerr << kProgram << ": cannot listen on " << bound.error().address << ": "
              << bound.error().reason << "\n";
    log.error("cannot listen",
              {{"address", bound.error().address}, {"reason", bound.error().reason}});
    return kExitFailure;
  }

  bool served = false;
  {
    // Declared after the server and log it touches, so it is joined before they go away.
    captain::process::ShutdownWatcher watcher(shutdown_signals, [&](int signal) {
      log.info("stopping", {{"signal", captain::process::shutdown_signal_name(signal)}});
      server.stop();
    });
    log.info("listening", {{"address", settings.listen.to_string()}});
    served = server.run();
  }

  if (!served) {
    log.error("stopped: the accept loop failed", {{"address", settings.listen.to_string()}});
    return kExitFailure;
  }
  log.info("stopped");
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    // Only programming errors and resource exhaustion get here; expected failures are results.
    std::cerr << kProgram << ": fatal: " << e.what() << "\n";
    return kExitFailure;
  }
}
