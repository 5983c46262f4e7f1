// Deploys from source: an uploaded tar (or a captain-definition sent as text) becomes an image
// built by the Docker engine, then a version the deployer rolls out.
//
//   API ──submit(job)──▶ queue (one job per app: a newer upload replaces the queued one)
//                          │ build_concurrency workers
//                          ▼
//        unpack (safe, bounded) → captain-definition → version reserved ("building")
//          → POST /build (context tar streamed through a pipe, output into the build log)
//          → version "recorded" → deployer.converge()            (or "build_failed": the running
//                                                                  version is untouched)
//
// isAppBuilding is true from submit() to the end of the rollout (BuildLogs::hold). Every job has
// a directory of its own under builds_dir, removed when the job ends, and the images of an app
// beyond the newest keep_versions are removed after each successful build.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/request_context.h"
#include "controller/apps/app_definition.h"
#include "controller/audit/audit_trail.h"
#include "controller/deploy/build_log.h"
#include "controller/deploy/deployer.h"
#include "controller/log/json_log.h"
#include "controller/source/git_fetch.h"
#include "controller/store/sqlite.h"
#include "controller/swarm/docker_client.h"

namespace captain::deploy {

inline constexpr const char* kVersionBuilding = "building";         // being built from source
inline constexpr const char* kVersionBuildFailed = "build_failed";  // its build failed

struct BuilderOptions {
  std::string builds_dir;  // job directories (uploads, unpacked sources)
  int concurrency = 1;     // builds at once on the engine
  std::uint64_t max_unpacked_bytes = 4ULL << 30;
  std::uint64_t max_entries = 50'000;
  std::chrono::seconds build_timeout{3600};
  int keep_versions = 5;  // built images kept per app (the running one is always kept)
};

// What a job builds from: an uploaded tar (a byte range of a spooled upload, moved into the
// job's directory by submit()), a git branch, or a captain-definition text (CapRover's
// captainDefinitionContent, which may hold dockerfileLines).
struct BuildSource {
  std::string upload_file;  // empty: a repository or definition_text is the source
  std::uint64_t tar_offset = 0;
  std::uint64_t tar_length = 0;
  std::optional<source::GitRemote> repo;  // a branch to fetch (push webhooks)
  std::string definition_text;
};

struct BuildJob {
  std::string app;
  BuildSource source;
  std::string git_hash;
  std::string definition_path = "./captain-definition";  // captainDefinitionRelativeFilePath
  std::map<std::string, std::string> build_args;         // the app's environment variables
  api::RequestContext context;
};

// A job for `app` with what its definition says about builds (captainDefinitionRelativeFilePath,
// its environment as build arguments); the caller sets the source.
BuildJob build_job_for(const apps::AppDefinition& app, api::RequestContext context);

struct BuildOutcome {
  enum class Kind { pending, built, failed, replaced } kind = Kind::pending;
  std::int64_t version = -1;  // set once reserved
  std::string detail;
};

class Builder {
 public:
  Builder(swarm::DockerClient& docker, store::Database& db, BuildLogs& builds,
          audit::AuditTrail& audit, logging::JsonLog& log, Deployer& deployer,
          BuilderOptions options);
  ~Builder();

  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  // Marks versions left "building" by a previous run as failed, then starts the workers.
  void start();
  void stop();

  // Queues `job` (its upload file is moved into the job's own directory first); returns the
  // job's id, or why it cannot be queued.
  Expected<std::uint64_t, std::string> submit(BuildJob job);
  // Blocks until job `id` is built (its version then rolls out), fails or is replaced.
  BuildOutcome wait_for(std::uint64_t id, std::chrono::milliseconds timeout);

  const BuilderOptions& options() const { return options_; }

  // After each change of an app's versions or build state (the app list shows both).
  void on_change(std::function<void()> callback) { on_change_ = std::move(callback); }

 private:
  struct Queued {
    std::uint64_t id;
    BuildJob job;
    std::string dir;
  };

  void worker_loop();
  void run(const Queued& queued);
  // Puts the job's source tree at `src`: the fetched commit for a repository, "" otherwise.
  Expected<std::string, std::string> fetch_source(const Queued& queued, const std::string& src);
  // The build itself; the outcome's kind is built or failed.
  BuildOutcome build(const Queued& queued);
  void prune_images(const std::string& app);
  void finish(std::uint64_t id, BuildOutcome outcome);
  void say(const std::string& app, std::int64_t version, const std::string& line);

  swarm::DockerClient& docker_;
  store::Database& db_;
  BuildLogs& builds_;
  audit::AuditTrail& audit_;
  logging::JsonLog& log_;
  Deployer& deployer_;
  const BuilderOptions options_;
  std::function<void()> on_change_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable outcomes_changed_;
  bool stopping_ = false;
  std::uint64_t next_id_ = 1;
  std::deque<Queued> queue_;
  std::set<std::string> running_;  // apps with a job being built now
  std::map<std::uint64_t, BuildOutcome> outcomes_;
  std::vector<std::thread> threads_;
};

// The image a build of `app` makes for `version` (CapRover's naming).
std::string built_image_name(const std::string& app, std::int64_t version);

}  // namespace captain::deploy
