#include "controller/deploy/deployer.h"

#include <algorithm>

#include "controller/apps/app_definition.h"
#include "controller/swarm/service_spec.h"
#include "controller/swarm/spec_drift.h"
#include "controller/trace/tracer.h"

namespace captain::deploy {
namespace {

using Clock = std::chrono::steady_clock;
using swarm::Urgency;
using Json = nlohmann::json;

api::RequestContext system_context() {
  api::RequestContext context;
  context.request_id = "reconcile";
  context.client_ip = "-";
  context.user_agent = "captain-controller";
  return context;
}

const char* to_string(ConvergeResult result) {
  switch (result) {
    case ConvergeResult::done:
      return "done";
    case ConvergeResult::retry:
      return "retry";
    case ConvergeResult::conflict:
      return "conflict";
  }
  return "unknown";
}

// The swarm check of GET /info: "" when this node can manage services.
std::string swarm_problem(const Json& info) {
  const Json swarm = info.value("Swarm", Json::object());
  const std::string state = swarm.value("LocalNodeState", "");
  if (state != "active") {
    return "Docker is not part of a Swarm (LocalNodeState \"" + state +
           "\"): run `docker swarm init --advertise-addr <this node's address>`";
  }
  if (!swarm.value("ControlAvailable", false)) {
    return "this Docker node is a Swarm worker: the controller must run on a manager";
  }
  return "";
}

}  // namespace

Deployer::Deployer(swarm::DockerClient& docker, store::Database& db, BuildLogs& builds,
                   audit::AuditTrail& audit, logging::JsonLog& log, DeployerOptions options)
    : docker_(docker),
      db_(db),
      builds_(builds),
      audit_(audit),
      log_(log),
      options_(options),
      tracker_(docker, db, builds, audit, log,
               {options.deploy_timeout, options.update_monitor, options.poll_interval}) {}

Deployer::~Deployer() {
  stop();
}

void Deployer::start() {
  tracker_.start([this](const TrackedRollout& rollout, RolloutPhase phase) {
    if (on_change_) on_change_();
    // A failed version no longer counts: the next pass puts back the last good one (or
    // removes the service when there is none).
    if (phase != RolloutPhase::converged) converge(rollout.app, rollout.context);
  });
  threads_.emplace_back([this] { monitor_loop(); });
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    threads_.emplace_back([this] { worker_loop(); });
  }
}

void Deployer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.stop();
  tracker_.stop();
  wake_monitor_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Deployer::converge(const std::string& app, const api::RequestContext& context) {
  work_.push(app, context);
}

DeployOutcome Deployer::wait_for(const std::string& app, std::int64_t version,
                                 std::chrono::milliseconds timeout) {
  return tracker_.wait_for(app, version, timeout);
}

std::string Deployer::docker_state() const {
  std::lock_guard lock(mutex_);
  return docker_state_;
}

std::string Deployer::check_docker() {
  auto info = docker_.info(Urgency::interactive);
  if (!info) return info.error().describe();
  return swarm_problem(*info);
}

std::vector<std::string> Deployer::orphans() const {
  std::lock_guard lock(mutex_);
  return orphans_;
}

bool Deployer::rolling_out() const {
  return tracker_.active() || !work_.idle();
}

tracing::Parent Deployer::rollout_trace() const {
  return tracker_.any_span();
}

// ---- monitor -------------------------------------------------------------------------------

void Deployer::monitor_loop() {
  auto next_reconcile = Clock::now() + options_.reconcile_interval;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    auto ping = docker_.ping(std::chrono::milliseconds(1000));
    lock.lock();
    if (!ping) {
      const std::string state = "unreachable: " + ping.error().message;
      if (connected_ || docker_state_ != state) {
        log_.error("docker unreachable",
                   {{"socket", docker_.socket_path()}, {"error", ping.error().message}});
      }
      connected_ = false;
      docker_state_ = state;
    } else if (!connected_) {
      lock.unlock();
      connect();
      lock.lock();
      next_reconcile = Clock::now() + options_.reconcile_interval;
    } else if (Clock::now() >= next_reconcile) {
      lock.unlock();
      reconcile_all();
      lock.lock();
      next_reconcile = Clock::now() + options_.reconcile_interval;
    }
    // Apps whose last pass failed on Docker go round again while Docker answers.
    if (connected_) work_.retry_waiting();
    wake_monitor_.wait_for(lock, options_.ping_interval, [this] { return stopping_; });
  }
}

void Deployer::connect() {
  auto info = docker_.info(Urgency::interactive);
  std::string problem = info ? swarm_problem(*info) : info.error().describe();
  if (problem.empty()) {
    auto network = network_id();
    if (!network)
      problem = "cannot create the overlay network " + std::string(apps::kCaptainOverlayNetwork);
  }
  {
    std::lock_guard lock(mutex_);
    if (!problem.empty()) {
      if (docker_state_ != problem) log_.error("docker not usable", {{"reason", problem}});
      docker_state_ = problem;
      return;
    }
    connected_ = true;
    docker_state_ = "ok";
  }
  log_.info("docker connected", {{"socket", docker_.socket_path()}});
  reconcile_all();
}

std::optional<std::string> Deployer::network_id() {
  {
    std::lock_guard lock(mutex_);
    if (!network_id_.empty()) return network_id_;
  }
  const std::string name = apps::kCaptainOverlayNetwork;
  auto found = docker_.inspect_network(name, Urgency::background);
  if (found && !*found) {
    if (auto created = docker_.create_overlay_network(name, Urgency::background); !created) {
      log_.error("cannot create network", {{"network", name}, {"error", created.error().message}});
      return std::nullopt;
    }
    log_.info("network created", {{"network", name}});
    found = docker_.inspect_network(name, Urgency::background);
  }
  if (!found || !*found) {
    if (!found) log_.error("cannot inspect network", {{"error", found.error().message}});
    return std::nullopt;
  }
  const Json& network = **found;
  if (!network.value("Attachable", false) || network.value("Driver", "") != "overlay") {
    log_.warn("network is not an attachable overlay network",
              {{"network", name}, {"driver", network.value("Driver", "")}});
  }
  std::lock_guard lock(mutex_);
  network_id_ = network.value("Id", "");
  return network_id_;
}

void Deployer::reconcile_all() {
  std::vector<std::string> apps;
  std::vector<std::string> removals;
  auto read = db_.read([&](store::Transaction& tx) -> store::Status {
    auto records = store::AppStore().list(tx);
    if (!records) return Unexpected(records.error());
    for (const auto& r : *records) apps.push_back(r.name);
    auto pending = pending_removals(tx);
    if (!pending) return Unexpected(pending.error());
    removals = std::move(*pending);
    return {};
  });
  if (!read) {
    log_.error("reconcile: store unreadable", {{"error", read.error().message}});
    return;
  }
  auto services =
      docker_.list_services(std::string(swarm::kManagedLabel) + "=true", Urgency::background);
  if (services && services->is_array()) {
    std::vector<std::string> orphans;
    for (const Json& service : *services) {
      const Json labels = service.value("Spec", Json::object()).value("Labels", Json::object());
      const std::string app = labels.value(swarm::kAppLabel, "");
      const bool known = std::binary_search(apps.begin(), apps.end(), app) ||
                         std::find(removals.begin(), removals.end(), app) != removals.end();
      if (!known) {
        orphans.push_back(service.value("Spec", Json::object()).value("Name", app));
      }
    }
    std::lock_guard lock(mutex_);
    for (const auto& name : orphans) {
      if (std::find(orphans_.begin(), orphans_.end(), name) == orphans_.end()) {
        log_.warn(
            "orphan service: labeled as Tyaprover's but its app is not in the store; "
            "left running (remove it with docker service rm if unwanted)",
            {{"service", name}});
      }
    }
    orphans_ = std::move(orphans);
  } else if (!services) {
    log_.error("reconcile: cannot list services", {{"error", services.error().message}});
  }
  log_.info("reconcile", {{"apps", apps.size()}, {"removals", removals.size()}});
  apps.insert(apps.end(), removals.begin(), removals.end());
  {
    std::lock_guard lock(mutex_);
    reconcile_started_ = Clock::now();
    reconcile_apps_ = apps.size();
  }
  // All queued at once, so "reconcile finished" cannot fire between two of them; a client's
  // pending change keeps its own context.
  work_.push(apps, system_context(), /*keep_context=*/true);
}

// ---- workers -------------------------------------------------------------------------------

void Deployer::worker_loop() {
  while (auto item = work_.take()) {
    ConvergeResult result = ConvergeResult::done;
    {
      // The pass joins the trace of the request that queued it (a deploy, an update); passes
      // of a reconcile carry none and make no spans.
      tracing::ScopedSpan pass(tracing::start_span(item->context.span, "deploy converge"));
      pass->set("captain.app", item->app);
      try {
        result = converge_now(item->app, item->context);
      } catch (const std::exception& e) {
        // A bug must not take the worker (and every later deploy) with it.
        log_.error("converge failed", {{"app", item->app}, {"error", e.what()}});
        pass->set_error(std::string("converge failed: ") + e.what());
      }
      pass->set("captain.converge.result", to_string(result));
    }
    if (!work_.done(item->app, result)) continue;
    std::lock_guard lock(mutex_);
    if (reconcile_started_) {
      const double seconds =
          std::chrono::duration<double>(Clock::now() - *reconcile_started_).count();
      log_.info("reconcile finished", {{"apps", reconcile_apps_}, {"seconds", seconds}});
      reconcile_started_.reset();
    }
  }
}

ConvergeResult Deployer::converge_now(const std::string& app, const api::RequestContext& context) {
  auto loaded = db_.read([&](store::Transaction& tx) { return load_desired_state(tx, app); });
  if (!loaded) {
    log_.error("converge: store", {{"app", app}, {"error", loaded.error().message}});
    return ConvergeResult::done;  // not Docker's fault; the next change or reconcile tries again
  }
  const DesiredState& state = *loaded;
  if (!state.definition) {
    return state.removal ? remove_now(state, context) : ConvergeResult::done;
  }

  const std::string name = swarm::service_name(app);
  const std::optional<store::AppVersion>& target = state.target;
  const bool pending = target && rollout_pending(*target);
  std::optional<TrackedRollout> rollout;
  if (pending) {
    rollout.emplace();
    rollout->app = app;
    rollout->version = target->version;
    rollout->image = target->image;
    rollout->deadline = Clock::now() + options_.deploy_timeout;
    rollout->context = context;
  }
  // A Docker refusal of a version being deployed fails that version; the daemon being
  // unavailable only postpones the pass.
  auto failed = [&](const std::string& what, const swarm::DockerError& error) -> ConvergeResult {
    log_.error("converge: docker", {{"app", app}, {"step", what}, {"error", error.message}});
    if (tracing::Span* pass = tracing::current_span()) pass->set_error(what + ": " + error.message);
    if (error.daemon_unavailable()) {
      if (pending)
        tracker_.say(app, target->version, what + ": " + error.describe() + "; will retry");
      return ConvergeResult::retry;
    }
    if (pending) tracker_.finish(*rollout, RolloutPhase::failed, what + ": " + error.message);
    return ConvergeResult::done;
  };

  auto service = docker_.inspect_service(name, Urgency::background);
  if (!service) return failed("inspecting " + name, service.error());
  if (!target) {
    // Nothing good to run (never deployed, or the first deploy failed): no service.
    if (*service) {
      auto removed = docker_.remove_service(name, Urgency::background);
      if (!removed) return failed("removing " + name, removed.error());
      log_.info("service removed: the app has no deployable version", {{"app", app}});
    }
    return ConvergeResult::done;
  }
  if (pending && !builds_.status(app).building) {
    builds_.start(app);  // a deploy resumed after a restart
    tracker_.say(
        app, target->version,
        "Resuming the deploy of version " + std::to_string(target->version) + " after a restart");
  }
  auto network = network_id();
  if (!network) {
    if (pending) tracker_.say(app, target->version, "Overlay network unavailable; will retry");
    return ConvergeResult::retry;
  }
  swarm::ServiceSpecInputs inputs;
  inputs.image = target->image;
  inputs.version = static_cast<int>(target->version);
  inputs.network = *network;
  inputs.update_monitor_ns = options_.update_monitor.count() * swarm::kNanosPerSecond;
  inputs.publish_http_port = options_.publish_http_port;
  const Json spec = swarm::build_service_spec(*state.definition, inputs);

  auto ensure_image = [&]() -> std::optional<swarm::DockerError> {
    tracing::ScopedSpan stage(tracing::start_span("deploy pull"));
    stage->set("captain.image", target->image);
    auto present = docker_.image_present(target->image, Urgency::background);
    if (!present) {
      stage->set_error(present.error().message);
      return present.error();
    }
    stage->set("captain.image.pulled", !*present);
    if (*present) return std::nullopt;
    if (pending) tracker_.say(app, target->version, "Pulling " + target->image);
    auto pulled = docker_.pull_image(target->image, [&](const std::string& line) {
      if (pending) tracker_.say(app, target->version, line);
    });
    if (!pulled) {
      stage->set_error(pulled.error().message);
      return pulled.error();
    }
    return std::nullopt;
  };

  if (!*service) {
    if (auto problem = ensure_image()) return failed("pulling " + target->image, *problem);
    auto created = [&] {
      tracing::ScopedSpan stage(tracing::start_span("deploy service create"));
      stage->set("captain.service", name);
      auto result = docker_.create_service(spec, Urgency::background);
      if (!result) stage->set_error(result.error().message);
      return result;
    }();
    if (!created) return failed("creating " + name, created.error());
    log_.info("service created", {{"app", app}, {"version", target->version}});
    if (pending) tracker_.say(app, target->version, "Service " + name + " created");
  } else {
    const Json& current = **service;
    const swarm::SpecDrift drift = swarm::spec_drift(spec, current.value("Spec", Json::object()));
    if (!drift.empty()) {
      if (drift.image) {
        if (auto problem = ensure_image()) return failed("pulling " + target->image, *problem);
      }
      const std::uint64_t index =
          current.value("Version", Json::object()).value("Index", std::uint64_t{0});
      auto updated = [&] {
        tracing::ScopedSpan stage(tracing::start_span("deploy service update"));
        stage->set("captain.service", name);
        stage->set("captain.drift", drift.summary());
        auto result =
            docker_.update_service(current.value("ID", name), index, spec, Urgency::background);
        if (!result) stage->set_error(result.error().message);
        return result;
      }();
      if (!updated) {
        // Someone changed the service since we read it: read again and redo the pass.
        if (updated.error().kind == swarm::DockerError::Kind::conflict) {
          return ConvergeResult::conflict;
        }
        return failed("updating " + name, updated.error());
      }
      log_.info("service updated",
                {{"app", app}, {"version", target->version}, {"drift", drift.summary()}});
      if (pending)
        tracker_.say(app, target->version, "Service " + name + " updated (rolling update)");
    }
  }

  if (pending) {
    if (target->status == kVersionRecorded) {
      auto marked = db_.write([&](store::Transaction& tx) {
        return store::AppStore().set_version_status(tx, app, target->version, kVersionDeploying);
      });
      if (!marked) log_.error("converge: store", {{"app", app}, {"error", marked.error().message}});
    }
    // The rollout's span: a child of this pass, ended when the tracker records the outcome.
    tracker_.track(*rollout, tracing::current_parent());
  }
  return ConvergeResult::done;
}

ConvergeResult Deployer::remove_now(const DesiredState& state, const api::RequestContext& context) {
  const std::string name = swarm::service_name(state.app);
  auto removed = docker_.remove_service(name, Urgency::background);
  if (!removed) {
    log_.error("remove: docker", {{"app", state.app}, {"error", removed.error().message}});
    return removed.error().daemon_unavailable() ? ConvergeResult::retry : ConvergeResult::done;
  }
  if (*removed) log_.info("service removed", {{"app", state.app}});
  // A volume stays in use until the service's containers are gone, which takes a moment.
  for (const auto& volume : *state.removal) {
    const std::string docker_volume = swarm::volume_name(volume);
    for (int attempt = 0;; ++attempt) {
      auto gone = docker_.remove_volume(docker_volume, Urgency::background);
      if (gone) break;
      if (gone.error().kind != swarm::DockerError::Kind::conflict || attempt >= 30) {
        log_.error("volume not removed",
                   {{"volume", docker_volume}, {"error", gone.error().message}});
        if (gone.error().daemon_unavailable()) return ConvergeResult::retry;
        break;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  auto cleared = db_.write([&](store::Transaction& tx) -> store::Status {
    if (auto c = clear_removal(tx, state.app); !c) return c;
    return audit_.record(
        tx, context,
        {"admin", "swarm.remove", "app:" + state.app, "ok",
         "service " + name + " removed" + (state.removal->empty() ? "" : ", volumes removed")});
  });
  if (!cleared)
    log_.error("remove: store", {{"app", state.app}, {"error", cleared.error().message}});
  return ConvergeResult::done;
}

}  // namespace captain::deploy
