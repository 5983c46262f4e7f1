#include "controller/deploy/builder.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "controller/apps/app_definition.h"
#include "controller/deploy/desired_state.h"
#include "controller/source/build_context.h"
#include "controller/source/captain_definition.h"
#include "controller/source/tar_unpack.h"
#include "controller/store/app_store.h"
#include "controller/trace/tracer.h"

namespace captain::deploy {
namespace fs = std::filesystem;

constexpr std::chrono::seconds kFetchTimeout{600};

std::string built_image_name(const std::string& app, std::int64_t version) {
  return "img-captain--" + app + ":" + std::to_string(version);
}

BuildJob build_job_for(const apps::AppDefinition& app, api::RequestContext context) {
  BuildJob job;
  job.app = app.app_name;
  job.definition_path = app.captain_definition_relative_file_path;
  for (const auto& env : app.env_vars) job.build_args[env.key] = env.value;
  job.context = std::move(context);
  return job;
}

Builder::Builder(swarm::DockerClient& docker, store::Database& db, BuildLogs& builds,
                 audit::AuditTrail& audit, logging::JsonLog& log, Deployer& deployer,
                 BuilderOptions options)
    : docker_(docker),
      db_(db),
      builds_(builds),
      audit_(audit),
      log_(log),
      deployer_(deployer),
      options_(std::move(options)) {}

Builder::~Builder() {
  stop();
}

void Builder::start() {
  // A build cut short by a restart never finished: its version cannot run.
  auto marked = db_.write([&](store::Transaction& tx) -> store::Status {
    auto stmt =
        tx.prepare("UPDATE app_versions SET status = ?1, log = log || ?2 WHERE status = ?3");
    if (!stmt) return Unexpected(stmt.error());
    stmt->bind_text(1, kVersionBuildFailed)
        .bind_text(2, "The controller stopped during this build.\n")
        .bind_text(3, kVersionBuilding);
    return stmt->run();
  });
  if (!marked) log_.error("builder: store", {{"error", marked.error().message}});
  // Job directories of a previous run are never resumed.
  std::error_code ignored;
  fs::remove_all(options_.builds_dir, ignored);
  fs::create_directories(options_.builds_dir + "/uploads", ignored);
  std::lock_guard lock(mutex_);
  for (int i = 0; i < std::max(1, options_.concurrency); ++i) {
    threads_.emplace_back([this] { worker_loop(); });
  }
}

void Builder::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  outcomes_changed_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

Expected<std::uint64_t, std::string> Builder::submit(BuildJob job) {
  std::uint64_t id;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return Unexpected(std::string("the controller is stopping"));
    id = next_id_++;
  }
  const std::string dir = options_.builds_dir + "/" + job.app + "-" + std::to_string(id);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unexpected("cannot create " + dir + ": " + ec.message());
  if (!job.source.upload_file.empty()) {
    const std::string moved = dir + "/upload";
    fs::rename(job.source.upload_file, moved, ec);
    if (ec) {
      fs::remove_all(dir, ec);
      return Unexpected("cannot keep the upload: " + ec.message());
    }
    job.source.upload_file = moved;
  }

  const std::string app = job.app;
  std::optional<Queued> replaced;
  {
    std::lock_guard lock(mutex_);
    // One queued job per app: the newest upload is the one users want built.
    auto it = std::find_if(queue_.begin(), queue_.end(),
                           [&](const Queued& q) { return q.job.app == app; });
    if (it != queue_.end()) {
      replaced = std::move(*it);
      queue_.erase(it);
    }
    const bool idle = running_.count(app) == 0 && !replaced && !builds_.status(app).building;
    if (idle) builds_.start(app);
    builds_.hold(app);
    queue_.push_back(Queued{id, std::move(job), dir});
  }
  if (replaced) {
    builds_.release(app);
    fs::remove_all(replaced->dir, ec);
    say(app, -1, "A newer deploy replaced the one queued before it.");
    finish(replaced->id,
           {BuildOutcome::Kind::replaced, -1, "replaced by a newer deploy of " + app});
  }
  say(app, -1, "Deploy queued for " + app);
  wake_.notify_one();
  return id;
}

BuildOutcome Builder::wait_for(std::uint64_t id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  outcomes_changed_.wait_for(lock, timeout, [&] {
    auto it = outcomes_.find(id);
    return stopping_ || (it != outcomes_.end() && it->second.kind != BuildOutcome::Kind::pending);
  });
  auto it = outcomes_.find(id);
  if (it == outcomes_.end()) return {};
  BuildOutcome outcome = it->second;
  if (outcome.kind != BuildOutcome::Kind::pending) outcomes_.erase(it);
  return outcome;
}

void Builder::worker_loop() {
  for (;;) {
    Queued next;
    {
      std::unique_lock lock(mutex_);
      // The first queued job whose app is not being built now: two builds of one app never
      // run at once, and one app's queue does not hold up the others.
      std::deque<Queued>::iterator it;
      wake_.wait(lock, [&] {
        if (stopping_) return true;
        it = std::find_if(queue_.begin(), queue_.end(),
                          [&](const Queued& q) { return running_.count(q.job.app) == 0; });
        return it != queue_.end();
      });
      if (stopping_) return;
      next = std::move(*it);
      queue_.erase(it);
      running_.insert(next.job.app);
    }
    run(next);
    {
      std::lock_guard lock(mutex_);
      running_.erase(next.job.app);
    }
    wake_.notify_all();
  }
}

void Builder::run(const Queued& queued) {
  const std::string& app = queued.job.app;
  // The job joins the trace of the request that submitted it; its stages (the source, the
  // engine's build) are children of this span.
  tracing::ScopedSpan job_span(tracing::start_span(queued.job.context.span, "deploy build"));
  job_span->set("captain.app", app);
  builds_.resume(app);
  builds_.release(app);
  say(app, -1, "------------------------- " + store::utc_now_iso8601());
  say(app, -1, "Build started for " + app);
  BuildOutcome outcome;
  try {
    outcome = build(queued);
  } catch (const std::exception& e) {
    outcome = {BuildOutcome::Kind::failed, -1, std::string("internal error: ") + e.what()};
  }
  if (outcome.version >= 0) job_span->set("captain.version", outcome.version);
  if (outcome.kind != BuildOutcome::Kind::built) job_span->set_error(outcome.detail);
  std::error_code ignored;
  fs::remove_all(queued.dir, ignored);

  if (outcome.kind == BuildOutcome::Kind::built) {
    say(app, outcome.version, "Deploying version " + std::to_string(outcome.version) + " to Swarm");
    deployer_.converge(app, queued.job.context);
    prune_images(app);
  } else {
    say(app, outcome.version, "Build has failed! " + outcome.detail);
    builds_.finish(app, true);
    audit_.record_alone(queued.job.context,
                        {"admin", "apps.build", "app:" + app, "error:build", outcome.detail});
  }
  if (on_change_) on_change_();
  finish(queued.id, outcome);
}

Expected<std::string, std::string> Builder::fetch_source(const Queued& queued,
                                                         const std::string& src) {
  const BuildJob& job = queued.job;
  std::error_code ec;
  if (job.source.repo) {
    const auto& repo = *job.source.repo;
    tracing::ScopedSpan stage(tracing::start_span("deploy fetch"));
    say(job.app, -1, "Fetching branch " + repo.branch + " of " + source::printable_repo(repo.repo));
    auto commit = source::fetch_branch(repo, src, queued.dir + "/git", kFetchTimeout);
    if (commit) say(job.app, -1, "Fetched commit " + *commit);
    if (!commit) stage->set_error(commit.error());
    return commit;
  }
  fs::create_directories(src, ec);
  if (ec) return Unexpected("cannot create " + src + ": " + ec.message());
  if (!job.source.upload_file.empty()) {
    tracing::ScopedSpan stage(tracing::start_span("deploy unpack"));
    source::UnpackLimits limits;
    limits.max_total_bytes = options_.max_unpacked_bytes;
    limits.max_entries = options_.max_entries;
    auto unpacked = source::unpack_tar(job.source.upload_file, job.source.tar_offset,
                                       job.source.tar_length, src, limits);
    if (!unpacked) {
      stage->set_error(unpacked.error());
      return Unexpected(unpacked.error());
    }
    stage->set("captain.unpack.entries", unpacked->entries);
    stage->set("captain.unpack.bytes", unpacked->bytes);
    say(job.app, -1,
        "Unpacked the upload: " + std::to_string(unpacked->entries) + " entries, " +
            std::to_string(unpacked->bytes) + " bytes");
    fs::remove(job.source.upload_file, ec);
    return std::string();
  }
  const fs::path definition = fs::path(src) / fs::path(job.definition_path).lexically_normal();
  fs::create_directories(definition.parent_path(), ec);
  std::ofstream out(definition, std::ios::binary);
  out << job.source.definition_text;
  if (!out.flush()) return Unexpected("cannot write " + definition.string());
  return std::string();
}

BuildOutcome Builder::build(const Queued& queued) {
  const BuildJob& job = queued.job;
  const auto failed = [](std::string why, std::int64_t version = -1) {
    return BuildOutcome{BuildOutcome::Kind::failed, version, std::move(why)};
  };

  // The source tree.
  const std::string src = queued.dir + "/src";
  auto fetched = fetch_source(queued, src);
  if (!fetched) return failed(fetched.error());
  const std::string git_hash = fetched->empty() ? job.git_hash : *fetched;
  // CapRover hands the commit to builds and apps alike.
  std::map<std::string, std::string> build_args = job.build_args;
  if (!git_hash.empty()) build_args["CAPROVER_GIT_COMMIT_SHA"] = git_hash;
  auto plan = source::prepare_build(src, job.definition_path);
  if (!plan) return failed(plan.error());

  // The version, reserved before the build so its image carries its number.
  std::int64_t version = -1;
  std::string image;
  auto reserved = db_.write([&](store::Transaction& tx) -> store::Result<std::int64_t> {
    store::AppStore apps;
    auto record = apps.get(tx, job.app);
    if (!record) return Unexpected(record.error());
    auto definition = apps::from_json(record->definition);
    if (!definition) {
      return Unexpected(store::StoreError{store::StoreError::Kind::invalid, 0, definition.error()});
    }
    auto versions = apps.versions(tx, job.app);
    if (!versions) return Unexpected(versions.error());
    const std::int64_t next = versions->empty() ? 0 : versions->back().version + 1;
    image = plan->image_name ? *plan->image_name : built_image_name(job.app, next);
    auto added = apps.add_version(tx, job.app, image,
                                  plan->image_name ? kVersionRecorded : kVersionBuilding);
    if (!added) return Unexpected(added.error());
    apps::AppVersion entry;
    entry.version = static_cast<int>(*added);
    entry.image_name = image;
    entry.time_stamp = store::utc_now_iso8601();
    entry.git_hash = git_hash;
    definition->versions.push_back(entry);
    if (auto saved = apps.update(tx, job.app, apps::to_json(*definition)); !saved) {
      return Unexpected(saved.error());
    }
    return *added;
  });
  if (!reserved) return failed("cannot record the version: " + reserved.error().message);
  version = *reserved;
  if (on_change_) on_change_();

  if (plan->image_name) {
    say(job.app, version,
        "An explicit image name was provided (" + image +
            "). Therefore, no build process is needed.");
    return {BuildOutcome::Kind::built, version, image};
  }

  // The build: the context tar is written into a pipe by one thread while curl streams it to
  // Docker, so it never exists whole in memory or on disk.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return failed("pipe: " + std::string(std::strerror(errno)));
  std::string writer_error;
  // The build output goes to the build log line by line, and to the version's stored log once
  // at the end (its tail): one store write per line would be an fsync per line.
  constexpr std::size_t kStoredLogBytes = 256 * 1024;
  std::string transcript;
  const auto on_line = [&](const std::string& line) {
    builds_.log(job.app, line);
    log_.info("build", {{"app", job.app}, {"version", version}, {"message", line}});
    transcript += line;
    transcript += '\n';
    if (transcript.size() > 2 * kStoredLogBytes)
      transcript.erase(0, transcript.size() - kStoredLogBytes);
  };
  std::thread writer([&] {
    auto written = source::write_context_tar(plan->context_dir, fds[1]);
    if (!written) writer_error = written.error();
    ::close(fds[1]);
  });
  const auto cancelled = [this] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };
  auto built = docker_.build_image(image, fds[0], plan->dockerfile, build_args, on_line, cancelled,
                                   options_.build_timeout);
  ::close(fds[0]);  // a writer still writing gets EPIPE and stops
  writer.join();

  const bool ok = built.has_value() && writer_error.empty();
  auto recorded = db_.write([&](store::Transaction& tx) -> store::Status {
    store::AppStore apps;
    if (auto logged = apps.append_version_log(tx, job.app, version, transcript); !logged) {
      return logged;
    }
    return apps.set_version_status(tx, job.app, version,
                                   ok ? kVersionRecorded : kVersionBuildFailed);
  });
  if (!ok) {
    return failed(!built ? built.error().message : "sending the build context: " + writer_error,
                  version);
  }
  if (!recorded) return failed("cannot record the build: " + recorded.error().message, version);
  say(job.app, version, "Build has finished successfully!");
  return {BuildOutcome::Kind::built, version, image};
}

void Builder::prune_images(const std::string& app) {
  if (options_.keep_versions <= 0) return;
  auto images = docker_.list_images("img-captain--" + app, swarm::Urgency::background);
  if (!images || !images->is_array()) return;
  const std::string prefix = "img-captain--" + app + ":";
  std::vector<std::int64_t> versions;
  for (const auto& image : *images) {
    const auto tags = image.find("RepoTags");
    if (tags == image.end() || !tags->is_array()) continue;
    for (const auto& tag : *tags) {
      if (!tag.is_string()) continue;
      const std::string text = tag.get<std::string>();
      if (text.rfind(prefix, 0) != 0) continue;
      std::int64_t v = -1;
      const char* first = text.data() + prefix.size();
      const char* last = text.data() + text.size();
      if (std::from_chars(first, last, v).ptr == last) versions.push_back(v);
    }
  }
  std::sort(versions.rbegin(), versions.rend());
  auto deployed = db_.read([&](store::Transaction& tx) -> store::Result<std::int64_t> {
    auto record = store::AppStore().get(tx, app);
    if (!record) return Unexpected(record.error());
    auto definition = apps::from_json(record->definition);
    return definition ? definition->deployed_version : -1;
  });
  for (std::size_t i = static_cast<std::size_t>(options_.keep_versions); i < versions.size(); ++i) {
    if (deployed && versions[i] == *deployed) continue;
    // A conflict (a container still uses it) leaves it for the next build's pass.
    (void)docker_.remove_image(built_image_name(app, versions[i]), swarm::Urgency::background);
  }
}

void Builder::finish(std::uint64_t id, BuildOutcome outcome) {
  {
    std::lock_guard lock(mutex_);
    outcomes_[id] = std::move(outcome);
    // Outcomes nobody waits for are dropped once there are many.
    while (outcomes_.size() > 256) outcomes_.erase(outcomes_.begin());
  }
  outcomes_changed_.notify_all();
}

void Builder::say(const std::string& app, std::int64_t version, const std::string& line) {
  builds_.log(app, line);
  log_.info("build", {{"app", app}, {"version", version}, {"message", line}});
  if (version < 0) return;
  auto appended = db_.write([&](store::Transaction& tx) {
    return store::AppStore().append_version_log(tx, app, version, line + "\n");
  });
  (void)appended;  // the app may have been deleted meanwhile; the build log still has the line
}

}  // namespace captain::deploy
