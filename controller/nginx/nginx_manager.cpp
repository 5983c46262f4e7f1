#include "controller/nginx/nginx_manager.h"

#include <fstream>
#include <sstream>

#include "controller/store/app_store.h"
#include "controller/swarm/service_spec.h"
#include "shared/metrics/exposition.h"

namespace captain::nginx {
namespace {

std::vector<ConfigFile> files_of(const RenderedTree& tree) {
  std::vector<ConfigFile> files;
  files.reserve(tree.size());
  for (const auto& f : tree) files.push_back({f.path, f.content});
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
  if (thread_.joinable()) thread_.join();
}

void NginxManager::request_render() {
  {
    std::lock_guard lock(mutex_);
    dirty_ = true;
  }
  wake_.notify_all();
}

std::string NginxManager::state() const {
  std::lock_guard lock(mutex_);
  return state_;
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
    lock.unlock();
    render_and_apply();
    lock.lock();
  }
}

std::optional<NginxManager::Snapshot> NginxManager::snapshot(std::string& why) {
  Snapshot snap;
  auto read = db_.read([&](store::Transaction& tx) -> store::Status {
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

RenderInputs NginxManager::inputs_for(const Snapshot& snap) const {
  RenderInputs in = options_.base;
  in.apps = snap.apps;
  in.routable_apps = snap.routing.routable_apps;
  in.published_ports = snap.routing.published_ports;
  for (const auto& app : snap.apps) {
    if (!app.custom_nginx_config.empty()) in.app_snippets[app.app_name] = app.custom_nginx_config;
  }
  if (!options_.override_file.empty()) {
    std::ifstream file(options_.override_file, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    in.global_override = text.str();
  }
  return in;
}

std::optional<RenderedTree> NginxManager::render_checked(RenderInputs in, bool test_with_nginx,
                                                         std::string& why) {
  for (std::size_t attempt = 0; attempt <= in.apps.size() + 1; ++attempt) {
    auto tree = render_nginx_tree(in);
    if (!tree) {
      const RenderError& e = tree.error();
      if (!e.app.empty() && in.app_snippets.erase(e.app) != 0 && e.field == "snippet") {
        report_once("stored custom nginx config refused; app served without it",
                    {{"app", e.app}, {"error", e.message}});
        continue;
      }
      if (!e.app.empty()) {
        auto it = std::find_if(in.apps.begin(), in.apps.end(),
                               [&](const auto& a) { return a.app_name == e.app; });
        if (it != in.apps.end()) {
          report_once("stored app cannot be rendered; left out of nginx",
                      {{"app", e.app}, {"error", e.message}});
          in.apps.erase(it);
          continue;
        }
      }
      why = e.message;
      return std::nullopt;
    }
    if (!test_with_nginx) return *tree;
    auto tested = pipeline_.test(files_of(*tree));
    if (tested) return *tree;
    const std::string app = app_of_refused_snippet(tested.error().message);
    if (tested.error().kind == PipelineError::Kind::invalid_config && !app.empty() &&
        in.app_snippets.erase(app) != 0) {
      report_once("stored custom nginx config refused by nginx -t; app served without it",
                  {{"app", app}, {"error", tested.error().message}});
      continue;
    }
    why = tested.error().message;
    return std::nullopt;
  }
  why = "no renderable configuration";
  return std::nullopt;
}

void NginxManager::render_and_apply() {
  using Clock = std::chrono::steady_clock;
  const auto ms_since = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
  };
  const auto started = Clock::now();
  std::string why;
  auto snap = snapshot(why);
  const auto read_ms = ms_since(started);
  std::lock_guard pipeline_lock(pipeline_mutex_);
  const auto render_started = Clock::now();
  std::optional<RenderedTree> tree;
  if (snap) tree = render_checked(inputs_for(*snap), false, why);
  const auto rendered_ms = ms_since(render_started);
  if (!tree) {
    std::lock_guard lock(mutex_);
    if (state_ != why) log_.error("nginx configuration not rendered", {{"error", why}});
    state_ = why;
    ++failed_;
    return;
  }
  if (tree == live_tree_ || tree == refused_tree_) {
    std::lock_guard lock(mutex_);
    ++skipped_;
    return;
  }
  const auto apply_started = Clock::now();
  auto applied = pipeline_.apply(files_of(*tree));
  if (!applied && applied.error().kind == PipelineError::Kind::invalid_config &&
      !app_of_refused_snippet(applied.error().message).empty()) {
    // A stored snippet nginx refuses: render again without it, tested first. The tree with it
    // is not tried again on every poll.
    refused_tree_ = tree;
    auto retry = render_checked(inputs_for(*snap), true, why);
    if (retry) {
      tree = retry;
      applied = pipeline_.apply(files_of(*tree));
    }
  }
  std::lock_guard lock(mutex_);
  if (!applied) {
    const bool refused = applied.error().kind == PipelineError::Kind::invalid_config;
    // Logged when the reason changes, not on every retry (the next poll tries again).
    if (state_ != applied.error().message) {
      log_.error(refused ? "nginx refused the generated configuration; the last good one stays"
                         : "nginx configuration not applied",
                 {{"error", applied.error().message}});
    }
    if (refused) {
      refused_tree_ = tree;
      ++refused_;
    } else {
      ++failed_;
    }
    state_ = applied.error().message;
    return;
  }
  live_tree_ = tree;
  ++applied_;
  if (pipeline_.last_apply_reloaded()) ++reloads_;
  state_ = pipeline_.last_apply_reloaded() ? "ok"
                                           : "ok (nginx not running; it starts with "
                                             "the generated configuration)";
  // read_ms: the store and Swarm's tasks; render_ms: the tree; apply_ms: write, nginx -t, swap,
  // reload until new workers run.
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
  auto records = store::AppStore().list(tx);
  if (!records) return "store: " + records.error().message;
  for (const auto& record : *records) {
    auto app = apps::from_json(record.definition);
    if (app && app->app_name != candidate.app_name) snap.apps.push_back(std::move(*app));
  }
  snap.apps.push_back(candidate);
  std::lock_guard pipeline_lock(pipeline_mutex_);
  snap.routing = last_routing_;
  RenderInputs in = inputs_for(snap);
  auto tree = render_nginx_tree(in);
  if (!tree) {
    // Other apps' stored problems are not this change's fault (render_checked drops them).
    if (tree.error().app == candidate.app_name || tree.error().app.empty()) {
      return tree.error().message;
    }
    std::string why;
    auto others = render_checked(in, false, why);
    if (!others) return why;
    tree = *others;
  }
  auto tested = pipeline_.test(files_of(*tree));
  if (!tested) return tested.error().message;
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
