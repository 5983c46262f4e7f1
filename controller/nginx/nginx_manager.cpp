#include "controller/nginx/nginx_manager.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "controller/store/app_store.h"
#include "controller/swarm/service_spec.h"
#include "shared/metrics/exposition.h"

namespace captain::nginx {
namespace {

constexpr std::string_view kNotRunning =
    "nginx not running; it starts with the generated configuration";

std::vector<ConfigFile> files_of(const RenderedTree& tree) {
  std::vector<ConfigFile> files;
  files.reserve(tree.size());
  for (const auto& f : tree) files.push_back({f.path, f.content, f.secret});
  return files;
}

// "snippets/app-<name>.conf" in nginx's message: the app whose snippet nginx refused.
std::string app_of_refused_snippet(const std::string& message) {
  const std::string marker = "snippets/app-";
  const auto at = message.find(marker);
  if (at == std::string::npos) return {};
  const auto start = at + marker.size();
  const auto end = message.find(".conf", start);
  return end == std::string::npos ? std::string() : message.substr(start, end - start);
}

const char* log_message(Diagnostic::Effect effect) {
  switch (effect) {
    case Diagnostic::Effect::app_left_out:
      return "stored app cannot be rendered; left out of nginx";
    case Diagnostic::Effect::snippet_left_out:
      return "stored custom nginx config refused; app served without it";
    case Diagnostic::Effect::served_without_tls:
      return "certificate not usable; served over HTTP only";
    case Diagnostic::Effect::override_left_out:
      return "nginx override file refused; left out";
  }
  return "left out of nginx";
}

}  // namespace

NginxManager::NginxManager(store::Database& db, swarm::DockerClient& docker, logging::JsonLog& log,
                           NginxManagerOptions options, std::function<bool()> busy)
    : db_(db),
      docker_(docker),
      log_(log),
      options_(std::move(options)),
      busy_(std::move(busy)),
      pipeline_(options_.pipeline) {}

NginxManager::~NginxManager() {
  stop();
}

void NginxManager::on_problems_changed(std::function<void()> callback) {
  on_problems_changed_ = std::move(callback);
}

void NginxManager::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void NginxManager::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  applied_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t NginxManager::request_render() {
  const tracing::Parent asking = tracing::current_parent();
  std::uint64_t ticket = 0;
  {
    std::lock_guard lock(mutex_);
    dirty_ = true;
    ticket = ++requested_;
    if (!render_parent_.valid()) render_parent_ = asking;
  }
  wake_.notify_all();
  return ticket;
}

ApplyOutcome NginxManager::wait_applied(std::uint64_t ticket, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const bool done =
      applied_cv_.wait_for(lock, timeout, [&] { return stopping_ || finished_ >= ticket; });
  ApplyOutcome out;
  out.done = done && finished_ >= ticket;
  out.live = out.done && last_live_;
  if (!out.done) {
    out.detail = stopping_ ? "the controller is stopping" : "nginx was not reconfigured in time";
  } else if (!out.live) {
    out.detail = state_;
  }
  return out;
}

std::string NginxManager::state() const {
  std::lock_guard lock(mutex_);
  // The tree is in place; whether nginx serves it is a fact of now, not of the last apply (a
  // master started after it, or gone since).
  if (tree_in_place_) {
    if (const std::optional<bool> running = pipeline_.master_running()) {
      return *running ? "ok" : std::string(kNotRunning);
    }
  }
  return state_;
}

std::vector<std::string> NginxManager::problems_of(const std::string& app) const {
  std::lock_guard lock(mutex_);
  auto it = problems_.find(app);
  return it == problems_.end() ? std::vector<std::string>{} : it->second;
}

void NginxManager::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto poll = busy_ && busy_() ? options_.poll_busy : options_.poll_idle;
    wake_.wait_for(lock, poll, [this] { return stopping_ || dirty_; });
    if (stopping_) break;
    if (dirty_) {
      // Let the rest of a burst of changes arrive; they all go into this one render: wait
      // until `coalesce` passes without a change, for at most `coalesce_max`.
      const auto give_up = std::chrono::steady_clock::now() + options_.coalesce_max;
      while (!stopping_ && dirty_ && std::chrono::steady_clock::now() < give_up) {
        dirty_ = false;
        wake_.wait_for(lock, options_.coalesce, [this] { return stopping_ || dirty_; });
      }
      if (stopping_) break;
    }
    dirty_ = false;
    const std::uint64_t covers = requested_;  // every request so far is in this render
    const std::uint64_t requests = covers - std::min(covers, finished_);
    const tracing::Parent asked = std::exchange(render_parent_, tracing::Parent{});
    lock.unlock();
    render_and_apply(asked, requests);
    lock.lock();
    finished_ = std::max(finished_, covers);
    applied_cv_.notify_all();
  }
}

std::optional<NginxManager::Snapshot> NginxManager::snapshot(std::string& why) {
  Snapshot snap;
  auto read = db_.read([&](store::Transaction& tx) -> store::Status {
    auto system = store::SystemStore().load(tx);
    if (!system) return Unexpected(system.error());
    snap.system = *system;
    auto records = store::AppStore().list(tx);
    if (!records) return Unexpected(records.error());
    for (const auto& record : *records) {
      auto app = apps::from_json(record.definition);
      if (!app) {
        report_once("stored app definition unreadable; left out of nginx",
                    {{"app", record.name}, {"error", app.error()}});
        continue;
      }
      snap.apps.push_back(std::move(*app));
    }
    return {};
  });
  if (!read) {
    why = "store: " + read.error().message;
    return std::nullopt;
  }
  std::map<std::string, int> http_ports;
  for (const auto& app : snap.apps) http_ports[app.app_name] = app.container_http_port;
  // Interactive: a few quick attempts. Routing must follow tasks closely, and when Docker is
  // away the last routing stays (below) instead of the render waiting out long back-offs.
  auto services = docker_.list_services(std::string(swarm::kManagedLabel) + "=true",
                                        swarm::Urgency::interactive);
  auto tasks = services ? docker_.list_wanted_tasks(swarm::Urgency::interactive)
                        : swarm::DockerResult<nlohmann::json>(Unexpected(services.error()));
  if (services && tasks) {
    snap.routing = routing_from_swarm(*services, *tasks, http_ports);
    std::lock_guard lock(pipeline_mutex_);
    last_routing_ = snap.routing;
  } else {
    // Docker unreachable: keep routing what was routed (apps keep running without us).
    std::lock_guard lock(pipeline_mutex_);
    snap.routing = last_routing_;
  }
  return snap;
}

RenderState NginxManager::state_for(const Snapshot& snap) const {
  RenderState state;
  state.root_domain = snap.system.root_or(options_.configured_root_domain);
  state.root_ssl = snap.system.has_root_ssl;
  state.root_force_ssl = snap.system.force_ssl;
  state.apps = snap.apps;
  state.routable_apps = snap.routing.routable_apps;
  state.published_ports = snap.routing.published_ports;
  for (const auto& app : snap.apps) {
    if (!app.custom_nginx_config.empty()) {
      state.app_snippets[app.app_name] = app.custom_nginx_config;
    }
  }
  if (!options_.override_file.empty()) {
    std::ifstream file(options_.override_file, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    state.global_override = text.str();
  }
  if (options_.certificates) {
    state.certificates =
        options_.certificates(wanted_certificates(state.root_domain, state.root_ssl, state.apps));
  }
  state.default_certificate = options_.default_certificate;
  return state;
}

std::optional<RenderOutput> NginxManager::render_checked(RenderState state, bool test_with_nginx,
                                                         const std::string& protect,
                                                         std::string& why,
                                                         const CheckedSettings* settings) {
  std::vector<Diagnostic> dropped;  // snippets nginx -t refused on the way
  for (std::size_t attempt = 0; attempt <= state.apps.size() + 1; ++attempt) {
    auto out = render_nginx_tree(settings != nullptr ? *settings : options_.settings, state);
    if (!out) {
      why = out.error().message;
      return std::nullopt;
    }
    out->diagnostics.insert(out->diagnostics.end(), dropped.begin(), dropped.end());
    if (!test_with_nginx) return std::move(*out);
    auto tested = pipeline_.test(files_of(out->tree));
    if (tested) return std::move(*out);
    const std::string app = app_of_refused_snippet(tested.error().message);
    if (tested.error().kind == PipelineError::Kind::invalid_config && !app.empty() &&
        app != protect && state.app_snippets.erase(app) != 0) {
      dropped.push_back({Diagnostic::Effect::snippet_left_out, app, "snippet", 0,
                         "app \"" + app + "\": custom nginx config refused by nginx -t: " +
                             tested.error().message});
      continue;
    }
    why = tested.error().message;
    return std::nullopt;
  }
  why = "no renderable configuration";
  return std::nullopt;
}

void NginxManager::publish_problems(const std::vector<Diagnostic>& diagnostics) {
  std::map<std::string, std::vector<std::string>> problems;
  for (const auto& d : diagnostics) {
    report_once(log_message(d.effect), {{"app", d.app}, {"field", d.field}, {"error", d.message}});
    problems[d.app].push_back(d.message);
  }
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    changed = problems != problems_;
    problems_ = std::move(problems);
  }
  if (changed && on_problems_changed_) on_problems_changed_();
}

void NginxManager::render_and_apply(const tracing::Parent& requested, std::uint64_t requests) {
  using Clock = std::chrono::steady_clock;
  const auto ms_since = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
  };
  // A render someone asked for is traced from the start. A poll's is traced only once it turns
  // out to change the tree (below), so the polls that change nothing leave no spans at all.
  tracing::Span span = tracing::start_span(requested, "nginx apply");
  std::optional<tracing::CurrentScope> traced;
  traced.emplace(span);
  span.set("captain.nginx.requests", requests);
  const auto outcome = [&](std::string_view what) { span.set("captain.nginx.outcome", what); };
  const auto started = Clock::now();
  std::string why;
  std::optional<Snapshot> snap;
  std::optional<RenderOutput> out;
  std::int64_t read_ms = 0, rendered_ms = 0;
  std::unique_lock pipeline_lock(pipeline_mutex_, std::defer_lock);
  {
    tracing::ScopedSpan rendering(tracing::start_span("nginx render"));
    snap = snapshot(why);
    read_ms = ms_since(started);
    pipeline_lock.lock();
    const auto render_started = Clock::now();
    if (snap) out = render_checked(state_for(*snap), false, "", why);
    rendered_ms = ms_since(render_started);
    if (snap) rendering->set("captain.nginx.apps", snap->apps.size());
    if (!out) rendering->set_error(why);
  }
  if (!out) {
    outcome("failed");
    span.set_error(why);
    std::lock_guard lock(mutex_);
    if (state_ != why) log_.error("nginx configuration not rendered", {{"error", why}});
    state_ = why;
    tree_in_place_ = false;
    last_live_ = false;
    ++failed_;
    return;
  }
  if (out->tree == live_tree_) {
    outcome("unchanged");
    publish_problems(out->diagnostics);
    std::lock_guard lock(mutex_);
    last_live_ = true;
    ++skipped_;
    return;
  }
  if (out->tree == refused_tree_ && Clock::now() < refused_retry_at_) {
    outcome("postponed");
    std::lock_guard lock(mutex_);
    last_live_ = false;
    ++skipped_;
    return;
  }
  if (!span.context().valid()) {
    // A poll found a change: most likely a rollout's task became routable, so under that
    // rollout's span; else a trace of its own.
    const tracing::Parent rollout =
        options_.poll_parent ? options_.poll_parent() : tracing::Parent{};
    if (rollout.valid()) {
      span = tracing::start_span(rollout, "nginx apply");
    } else if (options_.tracer != nullptr) {
      span = options_.tracer->start_root("nginx apply");
    }
    span.set("captain.nginx.requests", requests);
    traced.reset();
    traced.emplace(span);
  }
  const auto apply_started = Clock::now();
  auto applied = pipeline_.apply(files_of(out->tree));
  if (!applied && applied.error().kind == PipelineError::Kind::invalid_config &&
      !app_of_refused_snippet(applied.error().message).empty()) {
    // A stored snippet nginx refuses: render again without it, tested first.
    auto retry = render_checked(state_for(*snap), true, "", why);
    if (retry) {
      out = std::move(retry);
      applied = pipeline_.apply(files_of(out->tree));
    }
  }
  publish_problems(out->diagnostics);
  if (!applied) {
    outcome(applied.error().kind == PipelineError::Kind::invalid_config ? "refused" : "failed");
    span.set_error(applied.error().message);
  } else {
    outcome("applied");
    span.set("captain.nginx.reloaded", pipeline_.last_apply_reloaded());
  }
  std::lock_guard lock(mutex_);
  if (!applied) {
    const bool refused = applied.error().kind == PipelineError::Kind::invalid_config;
    // Logged when the reason changes, not on every retry.
    if (state_ != applied.error().message) {
      log_.error(refused ? "nginx refused the generated configuration; the last good one stays"
                         : "nginx configuration not applied",
                 {{"error", applied.error().message}});
    }
    if (refused) {
      // Tried again after a growing pause: the same tree may pass once a name resolves.
      refused_backoff_ = out->tree == refused_tree_
                             ? std::min(options_.refused_retry_max, refused_backoff_ * 2)
                             : options_.refused_retry_min;
      refused_tree_ = out->tree;
      refused_retry_at_ = Clock::now() + refused_backoff_;
      ++refused_;
    } else {
      ++failed_;
    }
    state_ = applied.error().message;
    tree_in_place_ = false;
    last_live_ = false;
    return;
  }
  live_tree_ = out->tree;
  refused_tree_.reset();
  ++applied_;
  if (pipeline_.last_apply_reloaded()) ++reloads_;
  last_live_ = true;
  // Not running is not "ok": the tree is in place, but no nginx serves it yet (/health: degraded).
  state_ = pipeline_.last_apply_reloaded() ? "ok" : std::string(kNotRunning);
  tree_in_place_ = true;
  // read_ms: the store, Swarm's tasks and certificates; render_ms: the tree; apply_ms: write,
  // nginx -t, swap, reload until new workers run.
  log_.info("nginx configuration applied", {{"apps", snap->apps.size()},
                                            {"routable", snap->routing.routable_apps.size()},
                                            {"reloaded", pipeline_.last_apply_reloaded()},
                                            {"read_ms", read_ms},
                                            {"render_ms", rendered_ms},
                                            {"apply_ms", ms_since(apply_started)}});
}

std::optional<std::string> NginxManager::check(store::Transaction& tx,
                                               const apps::AppDefinition& candidate) {
  Snapshot snap;
  auto system = store::SystemStore().load(tx);
  if (!system) return "store: " + system.error().message;
  snap.system = *system;
  auto records = store::AppStore().list(tx);
  if (!records) return "store: " + records.error().message;
  for (const auto& record : *records) {
    auto app = apps::from_json(record.definition);
    if (app && app->app_name != candidate.app_name) snap.apps.push_back(std::move(*app));
  }
  snap.apps.push_back(candidate);
  std::lock_guard pipeline_lock(pipeline_mutex_);
  snap.routing = last_routing_;
  std::string why;
  // The candidate's `nginx -t` writes nothing where the live nginx does: its pid, logs and
  // temporary directories go to a scratch directory beside the generations.
  CheckedSettings scratch = options_.settings;
  const auto dir = options_.pipeline.conf_dir / "check-scratch";
  scratch.s.paths.pid = (dir / "nginx.pid").string();
  scratch.s.paths.error_log = (dir / "error.log").string();
  scratch.s.paths.access_log = (dir / "access.log").string();
  scratch.s.paths.temp_dir = (dir / "tmp").string();
  std::error_code ec;
  std::filesystem::create_directories(dir / "tmp", ec);
  auto out = render_checked(state_for(snap), true, candidate.app_name, why, &scratch);
  if (!out) return why;
  // Other apps' stored problems are not this change's fault; the candidate's own are.
  for (const auto& d : out->diagnostics) {
    if (d.app == candidate.app_name && d.effect != Diagnostic::Effect::served_without_tls) {
      return d.message;
    }
  }
  return std::nullopt;
}

void NginxManager::report_once(std::string_view message, const nlohmann::json& fields) {
  // Polling renders the same store again and again: a stored problem is logged once.
  std::lock_guard lock(mutex_);
  if (reported_.insert(std::string(message) + fields.dump()).second) log_.error(message, fields);
}

void NginxManager::render_metrics(std::string& out) const {
  std::lock_guard lock(mutex_);
  metrics::TextWriter w(out);
  w.family("captain_nginx_config_applies_total", metrics::MetricType::counter,
           "Generated nginx configurations by outcome: applied (live), refused (nginx -t), "
           "failed (not rendered, written or reloaded), unchanged (no reload needed).");
  w.sample("captain_nginx_config_applies_total", {{"outcome", "applied"}}, applied_);
  w.sample("captain_nginx_config_applies_total", {{"outcome", "refused"}}, refused_);
  w.sample("captain_nginx_config_applies_total", {{"outcome", "failed"}}, failed_);
  w.sample("captain_nginx_config_applies_total", {{"outcome", "unchanged"}}, skipped_);
  w.family("captain_nginx_reloads_total", metrics::MetricType::counter,
           "Reloads of a running nginx onto a new configuration.");
  w.sample("captain_nginx_reloads_total", {}, reloads_);
}

}  // namespace captain::nginx
