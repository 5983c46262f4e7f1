#include "controller/deploy/rollout_tracker.h"

#include <algorithm>

#include "controller/apps/app_definition.h"
#include "controller/deploy/desired_state.h"
#include "controller/store/app_store.h"
#include "controller/swarm/service_spec.h"

namespace captain::deploy {
namespace {

using Clock = std::chrono::steady_clock;
using swarm::Urgency;

const char* status_of(RolloutPhase phase) {
  switch (phase) {
    case RolloutPhase::converged:
      return kVersionDeployed;
    case RolloutPhase::rolled_back:
      return kVersionRolledBack;
    default:
      return kVersionFailed;
  }
}

bool same(const TrackedRollout& a, const TrackedRollout& b) {
  return a.app == b.app && a.version == b.version;
}

}  // namespace

RolloutTracker::RolloutTracker(swarm::DockerClient& docker, store::Database& db, BuildLogs& builds,
                               audit::AuditTrail& audit, logging::JsonLog& log,
                               RolloutTrackerOptions options)
    : docker_(docker), db_(db), builds_(builds), audit_(audit), log_(log), options_(options) {}

RolloutTracker::~RolloutTracker() {
  stop();
}

void RolloutTracker::start(OutcomeListener listener) {
  listener_ = std::move(listener);
  thread_ = std::thread([this] { loop(); });
}

void RolloutTracker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  outcomes_changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::map<std::pair<std::string, std::int64_t>, tracing::Span> spans;
  {
    std::lock_guard lock(mutex_);
    spans.swap(spans_);
  }
  // Rollouts still going are taken up again on restart; their spans end here, while the span
  // exporter still ships (it stops after the deployer).
  for (auto& [key, span] : spans) {
    span.set_error("the controller stopped during the rollout");
    span.end();
  }
}

void RolloutTracker::track(TrackedRollout rollout, const tracing::Parent& parent) {
  std::lock_guard lock(mutex_);
  const bool tracked = std::any_of(rollouts_.begin(), rollouts_.end(),
                                   [&](const TrackedRollout& r) { return same(r, rollout); });
  if (tracked) return;
  tracing::Span span = tracing::start_span(parent, "deploy rollout");
  if (span.context().valid()) {
    span.set("captain.app", rollout.app);
    span.set("captain.version", rollout.version);
    span.set("captain.image", rollout.image);
    rollout.span = span.parent();
    spans_[{rollout.app, rollout.version}] = std::move(span);
  }
  rollouts_.push_back(std::move(rollout));
}

tracing::Parent RolloutTracker::any_span() const {
  std::lock_guard lock(mutex_);
  for (const TrackedRollout& r : rollouts_) {
    if (r.span.valid()) return r.span;
  }
  return {};
}

DeployOutcome RolloutTracker::wait_for(const std::string& app, std::int64_t version,
                                       std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const auto key = std::make_pair(app, version);
  outcomes_changed_.wait_for(lock, timeout, [&] { return stopping_ || outcomes_.count(key) != 0; });
  const auto it = outcomes_.find(key);
  if (it == outcomes_.end()) return {RolloutPhase::in_progress, "still rolling out"};
  return it->second;
}

bool RolloutTracker::active() const {
  std::lock_guard lock(mutex_);
  return !rollouts_.empty();
}

template <class F>
void RolloutTracker::update(const TrackedRollout& rollout, F&& change) {
  std::lock_guard lock(mutex_);
  for (TrackedRollout& r : rollouts_) {
    if (same(r, rollout)) change(r);
  }
}

void RolloutTracker::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::vector<TrackedRollout> current = rollouts_;
    lock.unlock();
    for (const TrackedRollout& rollout : current) poll(rollout);
    lock.lock();
    wake_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
  }
}

void RolloutTracker::poll(const TrackedRollout& rollout) {
  const tracing::CurrentScope traced(rollout.span);  // the polls' Docker calls
  const std::string name = swarm::service_name(rollout.app);
  auto service = docker_.inspect_service(name, Urgency::interactive);
  std::optional<swarm::DockerError> error;
  std::optional<RolloutAssessment> assessment;
  if (!service) {
    error = service.error();
  } else if (!*service) {
    assessment = RolloutAssessment{
        RolloutPhase::failed, 0, 0, 0, "the service " + name + " was removed", false};
  } else {
    auto tasks = docker_.list_tasks(name, Urgency::interactive);
    if (!tasks) {
      error = tasks.error();
    } else {
      assessment = assess_rollout(**service, *tasks, static_cast<int>(rollout.version));
    }
  }
  const auto now = Clock::now();
  std::optional<Clock::time_point> converged_since;
  int failed_when_converged = rollout.failed_when_converged;
  if (assessment && assessment->phase == RolloutPhase::converged && !assessment->monitored) {
    // Watch a new service's tasks as long as Swarm watches an updated one's; a task that
    // failed meanwhile starts the watch again.
    const bool failed_since =
        rollout.converged_since.has_value() && assessment->failed > rollout.failed_when_converged;
    converged_since = failed_since ? now : rollout.converged_since.value_or(now);
    if (!rollout.converged_since || failed_since) failed_when_converged = assessment->failed;
    if (now - *converged_since < options_.update_monitor) {
      assessment->phase = RolloutPhase::in_progress;
      assessment->detail +=
          "; watching them for " + std::to_string(options_.update_monitor.count()) + " s";
    }
  }
  update(rollout, [&](TrackedRollout& r) {
    r.converged_since = converged_since;
    r.failed_when_converged = failed_when_converged;
  });
  if (assessment && assessment->phase != RolloutPhase::in_progress) {
    finish(rollout, assessment->phase, assessment->detail);
  } else if (now >= rollout.deadline) {
    finish(rollout, RolloutPhase::failed,
           "not converged within " + std::to_string(options_.deploy_timeout.count()) +
               " s: " + (assessment ? assessment->detail : error->describe()));
  } else if (assessment && assessment->detail != rollout.last_detail) {
    say(rollout.app, rollout.version, assessment->detail);
    update(rollout, [&](TrackedRollout& r) { r.last_detail = assessment->detail; });
  }
}

void RolloutTracker::finish(const TrackedRollout& rollout, RolloutPhase phase,
                            const std::string& detail) {
  const char* status = status_of(phase);
  auto recorded = db_.write([&](store::Transaction& tx) -> store::Status {
    store::AppStore apps;
    auto set = apps.set_version_status(tx, rollout.app, rollout.version, status);
    if (!set) {
      // The app was deleted meanwhile: nothing left to record.
      if (set.error().kind == store::StoreError::Kind::not_found) return {};
      return set;
    }
    if (phase == RolloutPhase::converged) {
      auto record = apps.get(tx, rollout.app);
      if (!record) return Unexpected(record.error());
      auto definition = apps::from_json(record->definition);
      if (definition) {
        definition->deployed_version = static_cast<int>(rollout.version);
        for (auto& v : definition->versions) {
          if (v.version == rollout.version) v.deployed_image_name = rollout.image;
        }
        if (auto saved = apps.update(tx, rollout.app, apps::to_json(*definition)); !saved) {
          return saved;
        }
      }
    }
    return audit_.record(
        tx, rollout.context,
        {"admin", std::string("apps.deploy.") + to_string(phase), "app:" + rollout.app,
         phase == RolloutPhase::converged ? "ok" : std::string("error:") + status,
         "version " + std::to_string(rollout.version) + ": " + detail});
  });
  if (!recorded) {
    log_.error("deploy outcome not recorded",
               {{"app", rollout.app}, {"error", recorded.error().message}});
  }
  switch (phase) {
    case RolloutPhase::converged:
      say(rollout.app, rollout.version,
          "Deployed version " + std::to_string(rollout.version) + ": " + detail);
      break;
    case RolloutPhase::rolled_back:
      say(rollout.app, rollout.version,
          "Version " + std::to_string(rollout.version) +
              " failed and Swarm rolled back to the previous version: " + detail);
      break;
    default:
      say(rollout.app, rollout.version,
          "Deploy of version " + std::to_string(rollout.version) + " failed: " + detail);
      break;
  }
  builds_.finish(rollout.app, phase != RolloutPhase::converged);
  tracing::Span span;
  {
    std::lock_guard lock(mutex_);
    rollouts_.erase(std::remove_if(rollouts_.begin(), rollouts_.end(),
                                   [&](const TrackedRollout& r) { return same(r, rollout); }),
                    rollouts_.end());
    outcomes_[{rollout.app, rollout.version}] = {phase, detail};
    if (auto it = spans_.find({rollout.app, rollout.version}); it != spans_.end()) {
      span = std::move(it->second);
      spans_.erase(it);
    }
  }
  span.set("captain.rollout.phase", to_string(phase));
  if (phase != RolloutPhase::converged) span.set_error(detail);
  span.end();
  outcomes_changed_.notify_all();
  // What the outcome sets off (nginx routing the app, a converge putting back the last good
  // version) belongs to the trace of the request that started the deploy.
  const tracing::CurrentScope traced(rollout.context.span);
  if (listener_) listener_(rollout, phase);
}

void RolloutTracker::say(const std::string& app, std::int64_t version, const std::string& line) {
  builds_.log(app, line);
  log_.info("deploy", {{"app", app}, {"version", version}, {"message", line}});
  auto appended = db_.write([&](store::Transaction& tx) {
    return store::AppStore().append_version_log(tx, app, version, line + "\n");
  });
  (void)appended;  // the app may have been deleted meanwhile; the build log still has the line
}

}  // namespace captain::deploy
