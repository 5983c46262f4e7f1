// captain-controller: argument parsing, wiring of the stages, and the process lifecycle.
#include <signal.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include "controller/acme/acme_client.h"
#include "controller/acme/certificate_manager.h"
#include "controller/api/api_metrics.h"
#include "controller/api/api_router.h"
#include "controller/api/api_services.h"
#include "controller/api/app_routes.h"
#include "controller/api/checkhealth_route.h"
#include "controller/api/deploy_routes.h"
#include "controller/api/image_routes.h"
#include "controller/api/webhook_routes.h"
#include "controller/api/error_responses.h"
#include "controller/api/health.h"
#include "controller/api/health_checks.h"
#include "controller/api/login_routes.h"
#include "controller/api/ssl_routes.h"
#include "controller/api/system_routes.h"
#include "controller/api/version.h"
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
#include "controller/nginx/site_model.h"
#include "controller/process/shutdown_signals.h"
#include "controller/store/app_store.h"
#include "controller/store/schema.h"
#include "controller/store/system_store.h"
#include "controller/swarm/docker_client.h"
#include "controller/swarm/docker_metrics.h"
#include "controller/tls/certificate.h"
#include "controller/tls/certificate_store.h"
#include "controller/trace/span_export.h"
#include "controller/trace/tracer.h"
#include "shared/metrics/exposition.h"
#include "shared/otlp/otlp_http.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr std::string_view kProgram = "captain-controller";

// What the span exporter may spend shipping queued spans once the server has stopped.
constexpr std::chrono::seconds kTraceFlushBudget{5};

// HTTP-01 challenge files: on the generated-config volume, which nginx already reads (in the
// Swarm stack the data directory is the controller's alone).
std::filesystem::path acme_webroot(const captain::config::Settings& settings) {
  return std::filesystem::path(settings.nginx_conf_dir) / "acme-webroot";
}

void render_orphans(std::string& out, std::size_t count) {
  captain::metrics::TextWriter w(out);
  w.family("captain_swarm_orphan_services", captain::metrics::MetricType::gauge,
           "Services labeled as Tyaprover's whose app is not in the store (left running).");
  w.sample("captain_swarm_orphan_services", {}, static_cast<std::uint64_t>(count));
}

// What the nginx renderer takes from the settings (checked once, at start).
captain::nginx::RenderSettings render_settings(const captain::config::Settings& settings) {
  namespace nginx = captain::nginx;
  nginx::RenderSettings rs;
  rs.controller = settings.nginx_controller.value_or(settings.listen);
  rs.module_path = settings.nginx_module;
  rs.http_listen = settings.nginx_listen;
  rs.tls_listen = settings.nginx_tls_listen;
  rs.upstream_mode = settings.nginx_published_ports ? nginx::UpstreamMode::published_port
                                                    : nginx::UpstreamMode::docker_dns;
  rs.resolve_tasks = settings.nginx_resolve_tasks;
  rs.published_host = settings.nginx_published_host;
  rs.metrics.allow = settings.metrics_allow;
  rs.metrics.bearer_token = settings.metrics_token;
  rs.api.rate_limit = settings.api_rate_limit;
  rs.trace.endpoint = settings.nginx_trace_export_endpoint.value_or(settings.trace_export_endpoint);
  if (rs.trace.endpoint == "off") rs.trace.endpoint.clear();
  rs.trace.sample_ratio = settings.trace_sample_ratio;
  rs.api.max_body_bytes = settings.max_body_bytes;
  rs.api.upload_max_bytes = settings.upload_max_bytes;
  // A deploy without ?detached=1 answers when its build and rollout end.
  rs.api.read_timeout_seconds = static_cast<int>(settings.deploy_timeout.count() +
                                                 settings.build_timeout.count()) + 60;
  rs.paths.pid = settings.nginx_pid_file;
  rs.paths.error_log = settings.nginx_log_dir + "/error.log";
  rs.paths.access_log = settings.nginx_log_dir + "/access.log";
  rs.paths.temp_dir = settings.nginx_temp_dir;
  rs.paths.acme_webroot = acme_webroot(settings).string();
  return rs;
}

// The pipeline: where trees go, how they are tested and put live.
captain::nginx::PipelineOptions pipeline_options(const captain::config::Settings& settings,
                                                 captain::swarm::DockerClient& docker,
                                                 captain::logging::JsonLog& log) {
  namespace nginx = captain::nginx;
  nginx::PipelineOptions o;
  o.conf_dir = settings.nginx_conf_dir;
  o.nginx_binary = settings.nginx_binary;
  if (settings.nginx_reload == captain::config::NginxReload::docker) {
    o.control =
        nginx::docker_nginx_control(docker, settings.nginx_service, settings.nginx_conf_dir, log);
  } else {
    o.pid_file = settings.nginx_pid_file;
    // nginx -t and the master need these to exist; nginx itself does not create parents.
    std::error_code ec;
    std::filesystem::create_directories(settings.nginx_log_dir, ec);
    std::filesystem::create_directories(settings.nginx_temp_dir, ec);
  }
  return o;
}

// The certificate for HTTPS requests naming no site: made once, kept in the data directory.
std::optional<captain::tls::CertificatePem> default_certificate(
    const captain::config::Settings& settings, captain::logging::JsonLog& log) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(settings.data_dir) / "tls";
  const fs::path crt = dir / "default.crt", key = dir / "default.key";
  const auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  captain::tls::CertificatePem pem{read(crt), read(key)};
  if (captain::tls::certificate_validity(pem.chain)) return pem;
  auto made = captain::tls::make_self_signed("invalid", 3650);
  if (!made) {
    log.error("no default certificate; unknown TLS names are refused", {{"error", made.error()}});
    return std::nullopt;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream(crt, std::ios::binary | std::ios::trunc) << made->chain;
  {
    std::ofstream out(key, std::ios::binary | std::ios::trunc);
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, ec);
    out << made->key;
  }
  return *made;
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

  // The controller's own spans, exported when trace_export_endpoint is set. Declared before
  // everything that makes spans, so the tracer outlives them and the exporter outlives it.
  std::unique_ptr<captain::tracing::SpanExport> span_export;
  if (!settings.trace_export_endpoint.empty()) {
    std::string why;
    captain::tracing::ExportSettings export_settings;
    // load_settings checked the endpoint with traces_url already.
    export_settings.url = captain::otlp::traces_url(settings.trace_export_endpoint, &why).value();
    export_settings.batch = settings.trace_export_batch;
    export_settings.interval = settings.trace_export_interval;
    export_settings.queue = settings.trace_export_queue;
    span_export = std::make_unique<captain::tracing::SpanExport>(
        export_settings,
        captain::tracing::controller_resource(settings.trace_service_name,
                                              captain::api::kControllerVersion),
        captain::otlp::Scope{std::string(kProgram), std::string(captain::api::kControllerVersion)},
        log);
    if (!span_export->start(&why)) {
      std::cerr << kProgram << ": cannot start the span exporter: " << why << "\n";
      return kExitFailure;
    }
    log.info("exporting spans", {{"url", export_settings.url},
                                 {"sample_ratio", settings.trace_sample_ratio},
                                 {"service_name", settings.trace_service_name}});
  }
  captain::tracing::Tracer tracer(settings.trace_sample_ratio, span_export.get());

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
  captain::deploy::BuilderOptions builder_options;
  builder_options.builds_dir = (std::filesystem::path(settings.data_dir) / "builds").string();
  builder_options.concurrency = static_cast<int>(settings.build_concurrency);
  builder_options.max_unpacked_bytes = settings.build_max_unpacked_bytes;
  builder_options.max_entries = settings.build_max_entries;
  builder_options.build_timeout = settings.build_timeout;
  builder_options.keep_versions = static_cast<int>(settings.build_keep_versions);
  captain::deploy::Builder builder(docker, **db, builds, audit, log, deployer, builder_options);
  captain::deploy::ImageCatalog images(docker, **db);

  // Certificates: issued and renewed through lego, kept where lego keeps them.
  captain::tls::CertificateStore certificate_store(std::filesystem::path(settings.data_dir) /
                                                   "letsencrypt");
  captain::acme::LegoOptions lego;
  lego.binary = settings.acme_client;
  lego.directory = settings.acme_directory;
  lego.ca_bundle = settings.acme_ca_bundle;
  lego.state_dir = std::filesystem::path(settings.data_dir) / "letsencrypt";
  lego.webroot = acme_webroot(settings);
  captain::acme::LegoClient acme_client(lego);

  // nginx: rendered from the store, Swarm's running tasks and the certificates, validated,
  // swapped, reloaded.
  std::unique_ptr<captain::nginx::NginxManager> nginx;
  std::unique_ptr<captain::acme::CertificateManager> certificates;
  if (settings.nginx_reload != captain::config::NginxReload::off) {
    // The nginx settings are checked now, once: a bad value stops the start here.
    auto checked = captain::nginx::check_render_settings(render_settings(settings));
    if (!checked) {
      std::cerr << kProgram << ": nginx settings: " << checked.error().message << "\n";
      return kExitUsage;
    }
    captain::nginx::RenderState configured_root;
    configured_root.root_domain = settings.root_domain;
    if (auto root = captain::nginx::build_site_model(*checked, configured_root); !root) {
      std::cerr << kProgram << ": root_domain: " << root.error().message << "\n";
      return kExitUsage;
    }
    std::error_code ec;
    std::filesystem::create_directories(acme_webroot(settings) / ".well-known" / "acme-challenge",
                                        ec);
    captain::nginx::NginxManagerOptions options;
    options.settings = *checked;
    options.configured_root_domain = settings.root_domain;
    options.pipeline = pipeline_options(settings, docker, log);
    options.override_file = settings.nginx_override_file;
    options.tracer = &tracer;
    options.poll_parent = [&deployer] { return deployer.rollout_trace(); };
    options.default_certificate = default_certificate(settings, log);
    options.certificates = [&certificate_store](const std::set<std::string>& domains) {
      std::map<std::string, captain::nginx::CertificateLoad> out;
      const auto now = std::chrono::system_clock::now();
      for (const auto& domain : domains) {
        auto loaded = certificate_store.load(domain, now);
        out[domain] = {loaded.pem, loaded.problem};
      }
      return out;
    };
    nginx = std::make_unique<captain::nginx::NginxManager>(
        **db, docker, log, std::move(options), [&deployer] { return deployer.rolling_out(); });
    nginx->on_problems_changed([&app_list] { app_list.invalidate(); });

    captain::acme::RenewalPolicy policy;
    policy.renew_before = settings.acme_renew_before;
    policy.check_interval = settings.acme_renew_check;
    policy.retry_min = std::min(policy.retry_min, settings.acme_renew_check);
    policy.first_check = std::min(policy.first_check, settings.acme_renew_check);
    certificates = std::make_unique<captain::acme::CertificateManager>(
        acme_client, certificate_store, log, policy,
        [&db, &settings] {
          std::set<std::string> wanted;
          (void)(*db)->read([&](captain::store::Transaction& tx) -> captain::store::Status {
            auto system = captain::store::SystemStore().load(tx);
            if (!system) return captain::Unexpected(system.error());
            auto records = captain::store::AppStore().list(tx);
            if (!records) return captain::Unexpected(records.error());
            std::vector<captain::apps::AppDefinition> apps;
            for (const auto& record : *records) {
              if (auto app = captain::apps::from_json(record.definition)) apps.push_back(*app);
            }
            wanted = captain::nginx::wanted_certificates(system->root_or(settings.root_domain),
                                                         system->has_root_ssl, apps);
            return {};
          });
          return wanted;
        },
        [&db, &settings]() -> std::optional<std::string> {
          auto system = (*db)->read([](captain::store::Transaction& tx) {
            return captain::store::SystemStore().load(tx);
          });
          if (system && system->acme_email) return system->acme_email;
          return settings.acme_email;
        },
        [&nginx] { nginx->request_render(); });
  }
  builder.on_change([&app_list] { app_list.invalidate(); });
  deployer.on_change([&app_list, &nginx] {
    app_list.invalidate();
    if (nginx) nginx->request_render();
  });

  captain::api::ApiServices services{**db,     **sessions, audit,   metrics, builds,
                                     settings, log,        app_list, deployer, builder,
                                     images,   {},         {},       {},       {},
                                     {}};
  if (nginx) {
    services.nginx_changed = [&nginx] { nginx->request_render(); };
    services.nginx_check = [&nginx](captain::store::Transaction& tx,
                                    const captain::apps::AppDefinition& app) {
      return nginx->check(tx, app);
    };
    services.nginx_apply_now = [&nginx]() -> std::optional<std::string> {
      const auto outcome = nginx->wait_applied(nginx->request_render(), std::chrono::seconds(60));
      if (outcome.live) return std::nullopt;
      return outcome.detail;
    };
    services.nginx_problems = [&nginx](const std::string& app) { return nginx->problems_of(app); };
    services.obtain_certificate = [&certificates](const std::string& domain,
                                                  const std::string& email) {
      return certificates->obtain(domain, email);
    };
  }

  captain::http::ServerOptions server_options{};
  server_options.body_max_bytes = settings.max_body_bytes;
  server_options.header_timeout = settings.request_header_timeout;
  server_options.keep_alive_timeout = settings.request_header_timeout;
  server_options.max_connections = settings.max_connections;
  server_options.max_connections_per_client = settings.max_connections_per_client;
  server_options.unlimited_clients = settings.trusted_proxies;
  captain::http::Router routes;
  captain::http::Server server(routes, server_options, &tracer);
  captain::api::install_error_responses(routes, log);
  captain::api::HealthProbes probes;
  probes.store = [&db] {
    auto checked = (*db)->read([](captain::store::Transaction& tx) -> captain::store::Status {
      return tx.exec("SELECT 1");
    });
    return captain::api::store_check(checked ? std::nullopt
                                             : std::optional(checked.error().message));
  };
  probes.docker = [&deployer] { return captain::api::docker_check(deployer.docker_state()); };
  probes.nginx = [&nginx] {
    return captain::api::nginx_check(nginx ? std::optional(nginx->state()) : std::nullopt);
  };
  captain::api::register_checkhealth_route(routes, captain::api::random_uuid_v4());
  captain::api::register_health_routes(routes, probes, metrics, [&](std::string& out) {
    docker_metrics.render(out, breakers, std::chrono::steady_clock::now());
    render_orphans(out, deployer.orphans().size());
    if (nginx) nginx->render_metrics(out);
    if (certificates) certificates->render_metrics(out);
    captain::tracing::render_trace_metrics(out, span_export.get());
  });

  captain::api::ApiRouter router(routes, metrics, log, captain::api::token_authenticator(services),
                                 settings.trusted_proxies);
  captain::api::register_login_routes(router, services);
  captain::api::register_password_routes(router, services);
  captain::api::register_ssl_routes(router, services);
  captain::api::register_system_routes(router, services);
  captain::api::register_app_routes(router, services);
  captain::api::register_deploy_routes(router, services);
  captain::api::register_image_routes(router, services);
  captain::api::register_webhook_routes(router, services);
  router.finish();

  if (auto bound = server.bind(settings.listen); !bound) {
    std::cerr << kProgram << ": cannot listen on " << bound.error().address << ": "
              << bound.error().reason << "\n";
    log.error("cannot listen",
              {{"address", bound.error().address}, {"reason", bound.error().reason}});
    return kExitFailure;
  }

  deployer.start();
  builder.start();
  if (nginx) nginx->start();
  if (certificates) certificates->start();
  bool served = false;
  {
    // Declared after the server and log it touches, so it is joined before they go away.
    captain::process::ShutdownWatcher watcher(shutdown_signals, [&](int signal) {
      log.info("stopping", {{"signal", captain::process::shutdown_signal_name(signal)}});
      // First the deployer: it wakes API calls waiting for a rollout, which the server's
      // shutdown would otherwise wait for. A rollout in flight is taken up again on restart; a
      // build in flight is cancelled (its version is marked failed on restart).
      builder.stop();
      deployer.stop();
      if (certificates) certificates->stop();
      if (nginx) nginx->stop();
      server.stop();
    });
    log.info("listening", {{"address", settings.listen.to_string()}});
    served = server.run();
  }

  builder.stop();
  deployer.stop();
  if (certificates) certificates->stop();
  if (nginx) nginx->stop();
  // Last, so the spans of the requests and work just stopped go too; bounded, so a collector
  // that does not answer cannot hold up the stop.
  if (span_export) span_export->stop(kTraceFlushBudget);
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
