// captain-controller: argument parsing, wiring of the stages, and the process lifecycle.
#include <signal.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string_view>
#include <vector>

#include "controller/api/api_metrics.h"
#include "controller/api/api_router.h"
#include "controller/api/api_services.h"
#include "controller/api/app_routes.h"
#include "controller/api/deploy_routes.h"
#include "controller/api/error_responses.h"
#include "controller/api/health.h"
#include "controller/api/login_routes.h"
#include "controller/api/system_routes.h"
#include "controller/audit/audit_trail.h"
#include "controller/auth/sessions.h"
#include "controller/config/settings.h"
#include "controller/deploy/build_log.h"
#include "controller/deploy/deployer.h"
#include "controller/http/server.h"
#include "controller/log/json_log.h"
#include "controller/nginx/config_renderer.h"
#include "controller/nginx/docker_nginx_control.h"
#include "controller/nginx/nginx_manager.h"
#include "controller/process/shutdown_signals.h"
#include "controller/store/schema.h"
#include "controller/swarm/docker_client.h"
#include "controller/swarm/docker_metrics.h"
#include "shared/metrics/exposition.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr std::string_view kProgram = "captain-controller";

void render_orphans(std::string& out, std::size_t count) {
  captain::metrics::TextWriter w(out);
  w.family("captain_swarm_orphan_services", captain::metrics::MetricType::gauge,
           "Services labeled as Tyaprover's whose app is not in the store (left running).");
  w.sample("captain_swarm_orphan_services", {}, static_cast<std::uint64_t>(count));
}

// Everything global the nginx renderer and pipeline need, from the settings.
captain::nginx::NginxManagerOptions nginx_options(const captain::config::Settings& settings,
                                                  captain::swarm::DockerClient& docker,
                                                  captain::logging::JsonLog& log) {
  namespace nginx = captain::nginx;
  nginx::NginxManagerOptions o;
  nginx::RenderInputs& in = o.base;
  in.root_domain = settings.root_domain;
  in.controller = settings.nginx_controller.value_or(settings.listen);
  in.module_path = settings.nginx_module;
  in.http_listen = settings.nginx_listen;
  in.upstream_mode = settings.nginx_published_ports ? nginx::UpstreamMode::published_port
                                                    : nginx::UpstreamMode::docker_dns;
  in.resolve_tasks = settings.nginx_resolve_tasks;
  in.metrics.allow = settings.metrics_allow;
  in.metrics.bearer_token = settings.metrics_token;
  in.paths.pid = settings.nginx_pid_file;
  in.paths.error_log = settings.nginx_log_dir + "/error.log";
  in.paths.access_log = settings.nginx_log_dir + "/access.log";
  in.paths.temp_dir = settings.nginx_temp_dir;
  in.paths.acme_webroot = settings.data_dir + "/letsencrypt/webroot";
  o.override_file = settings.nginx_override_file;
  o.pipeline.conf_dir = settings.nginx_conf_dir;
  o.pipeline.nginx_binary = settings.nginx_binary;
  if (settings.nginx_reload == captain::config::NginxReload::docker) {
    o.pipeline.control =
        nginx::docker_nginx_control(docker, settings.nginx_service, settings.nginx_conf_dir, log);
  } else {
    o.pipeline.pid_file = settings.nginx_pid_file;
    // nginx -t and the master need these to exist; nginx itself does not create parents.
    std::error_code ec;
    std::filesystem::create_directories(settings.nginx_log_dir, ec);
    std::filesystem::create_directories(settings.nginx_temp_dir, ec);
  }
  return o;
}

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

  // The store: created on first run, migrated to this binary's schema, then the credentials.
  std::error_code dir_error;
  std::filesystem::create_directories(settings.data_dir, dir_error);
  if (dir_error) {
    std::cerr << kProgram << ": cannot create data directory " << settings.data_dir << ": "
              << dir_error.message() << "\n";
    return kExitFailure;
  }
  const std::filesystem::path db_path = std::filesystem::path(settings.data_dir) / "captain.db";
  auto db = captain::store::open_store(db_path);
  if (!db) {
    std::cerr << kProgram << ": store " << db_path.string() << ": " << db.error().message << "\n";
    return kExitFailure;
  }
  auto sessions = captain::auth::Sessions::open(**db, settings.password,
                                                {settings.token_ttl, settings.secret_rotation},
                                                std::chrono::system_clock::now());
  if (!sessions) {
    std::cerr << kProgram << ": " << sessions.error() << "\n";
    return kExitFailure;
  }
  if ((*sessions)->created_password()) log.info("first run: password set from configuration");
  log.info("store open", {{"path", db_path.string()}});

  captain::api::ApiMetrics metrics;
  captain::audit::AuditTrail audit(**db, log);
  captain::deploy::BuildLogs builds;
  captain::api::AppListCache app_list;

  // Swarm: the Docker client (breakers, retries, call metrics) and the deployer behind it.
  captain::swarm::BreakerConfig breaker_config;
  breaker_config.reset_timeout = settings.docker_breaker_reset;
  captain::swarm::BreakerRegistry breakers(breaker_config);
  captain::swarm::DockerMetrics docker_metrics;
  captain::swarm::DockerClientOptions docker_options;
  if (settings.registry_username && settings.registry_password) {
    // Docker sends the credentials to whichever registry the image names.
    docker_options.registry_auth = captain::swarm::registry_auth_header(
        *settings.registry_username, *settings.registry_password, "");
  }
  captain::swarm::DockerClient docker(captain::swarm::DockerTransport(settings.docker_socket),
                                      breakers, docker_metrics, docker_options);
  captain::deploy::DeployerOptions deployer_options;
  deployer_options.deploy_timeout = settings.deploy_timeout;
  deployer_options.update_monitor = settings.update_monitor;
  deployer_options.reconcile_interval = settings.reconcile_interval;
  deployer_options.publish_http_port = settings.nginx_published_ports;
  captain::deploy::Deployer deployer(docker, **db, builds, audit, log, deployer_options);

  // nginx: rendered from the store and Swarm's running tasks, validated, swapped, reloaded.
  std::unique_ptr<captain::nginx::NginxManager> nginx;
  if (settings.nginx_reload != captain::config::NginxReload::off) {
    auto options = nginx_options(settings, docker, log);
    // The nginx settings are checked now, by rendering a tree without apps: a bad value stops
    // the start here rather than every render later.
    if (auto dry = captain::nginx::render_nginx_tree(options.base); !dry) {
      std::cerr << kProgram << ": nginx settings: " << dry.error().message << "\n";
      return kExitUsage;
    }
    nginx = std::make_unique<captain::nginx::NginxManager>(
        **db, docker, log, std::move(options), [&deployer] { return deployer.rolling_out(); });
  }
  deployer.on_change([&app_list, &nginx] {
    app_list.invalidate();
    if (nginx) nginx->request_render();
  });

  captain::api::ApiServices services{**db, **sessions, audit,    metrics, builds, settings,
                                     log,  app_list,   deployer, {},      {}};
  if (nginx) {
    services.nginx_changed = [&nginx] { nginx->request_render(); };
    services.nginx_check = [&nginx](captain::store::Transaction& tx,
                                    const captain::apps::AppDefinition& app) {
      return nginx->check(tx, app);
    };
  }

  captain::http::ServerOptions server_options{};
  server_options.payload_max_bytes = settings.max_body_bytes;
  captain::http::Server server(server_options);
  captain::api::install_error_responses(server.routes(), log);
  captain::api::HealthProbes probes;
  probes.store = [&db]() -> std::string {
    auto checked = (*db)->read([](captain::store::Transaction& tx) -> captain::store::Status {
      return tx.exec("SELECT 1");
    });
    return checked ? "ok" : checked.error().message;
  };
  probes.docker = [&deployer] { return deployer.docker_state(); };
  probes.nginx = [&nginx] { return nginx ? nginx->state() : std::string("not managed"); };
  captain::api::register_health_routes(server.routes(), probes, metrics, [&](std::string& out) {
    docker_metrics.render(out, breakers, std::chrono::steady_clock::now());
    render_orphans(out, deployer.orphans().size());
    if (nginx) nginx->render_metrics(out);
  });

  captain::api::ApiRouter router(server.routes(), metrics, log,
                                 captain::api::token_authenticator(services));
  captain::api::register_login_routes(router, services);
  captain::api::register_system_routes(router, services);
  captain::api::register_app_routes(router, services);
  captain::api::register_deploy_routes(router, services);
  router.finish();

  if (auto bound = server.bind(settings.listen); !bound) {
    std::cerr << kProgram << ": cannot listen on " << bound.error().address << ": "
              << bound.error().reason << "\n";
    log.error("cannot listen",
              {{"address", bound.error().address}, {"reason", bound.error().reason}});
    return kExitFailure;
  }

  deployer.start();
  if (nginx) nginx->start();
  bool served = false;
  {
    // Declared after the server and log it touches, so it is joined before they go away.
    captain::process::ShutdownWatcher watcher(shutdown_signals, [&](int signal) {
      log.info("stopping", {{"signal", captain::process::shutdown_signal_name(signal)}});
      // First the deployer: it wakes API calls waiting for a rollout, which the server's
      // shutdown would otherwise wait for. A rollout in flight is taken up again on restart.
      deployer.stop();
      if (nginx) nginx->stop();
      server.stop();
    });
    log.info("listening", {{"address", settings.listen.to_string()}});
    served = server.run();
  }

  deployer.stop();
  if (nginx) nginx->stop();
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
