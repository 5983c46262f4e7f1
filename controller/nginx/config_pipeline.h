// Puts a rendered nginx configuration live without ever taking the ingress down:
//
//   write the tree to a new generation directory  <conf_dir>/gen-<n>/
//   `nginx -t` on it (with the real module)       fails → nothing live changed; nginx's message
//   point <conf_dir>/current at it (atomic rename of a symlink)
//   SIGHUP the master (pid file), wait for new workers
//                                                 unhealthy → point current back, HUP again
//   (or whatever NginxControl does instead, e.g. the captain-nginx containers via Docker)
//
// The master runs with `-c <conf_dir>/current/nginx.conf`, so relative includes in the tree
// resolve inside the generation it was started or reloaded with, and after a host reboot it
// comes up with the last tree that passed `nginx -t` whatever the store holds by then.
// Older generations beyond keep_generations are deleted. Not thread-safe: one caller at a time
// (the reload coalescer).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "controller/common/expected.h"

namespace captain::nginx {

struct ConfigFile {
  std::string path;  // relative to the tree's root, e.g. "servers/app-web.conf"
  std::string content;
  bool secret = false;  // a private key: mode 0600 (the master reads it as root)
};

struct PipelineError;

// How a tree is validated and put live. Unset in PipelineOptions: the local nginx binary
// (`nginx -t -c`) and a SIGHUP to the master in pid_file.
struct NginxControl {
  std::function<Expected<void, PipelineError>(const std::filesystem::path& conf)> test;
  // Reloads the running nginx onto `current`; false when no nginx runs (it will start with
  // `current`, so the swap alone puts the tree live).
  std::function<Expected<bool, PipelineError>()> reload;
};

struct PipelineOptions {
  std::filesystem::path conf_dir;
  std::string nginx_binary = "/usr/sbin/nginx";
  std::filesystem::path pid_file;  // empty: no local master to reload (test only)
  std::chrono::milliseconds test_timeout{30'000};
  std::chrono::milliseconds reload_timeout{10'000};
  int keep_generations = 3;
  std::optional<NginxControl> control;
};

struct PipelineError {
  enum class Kind {
    invalid_config,  // nginx -t refused the tree: message is nginx's own output
    io,              // the tree could not be written or swapped
    reload_failed,   // the master did not take the new tree; the previous one is live again
  };
  Kind kind = Kind::io;
  std::string message;
};

class ConfigPipeline {
 public:
  explicit ConfigPipeline(PipelineOptions options);

  // Validates only: the tree in a scratch generation, `nginx -t`, then removed.
  Expected<void, PipelineError> test(const std::vector<ConfigFile>& files);
  // Validates, swaps and reloads as above.
  Expected<void, PipelineError> apply(const std::vector<ConfigFile>& files);

  // What the master's -c points at.
  std::filesystem::path live_conf() const;
  // Whether the last successful apply() reloaded a running nginx (false: none was running).
  bool last_apply_reloaded() const { return last_reloaded_; }
  // Whether the local master in pid_file runs now; nullopt when there is none to look at (no
  // pid_file, or a custom reload).
  std::optional<bool> master_running() const;

 private:
  Expected<std::filesystem::path, PipelineError> write_generation(
      const std::vector<ConfigFile>& files);
  // `nginx -t` in an "nginx test" span (a child of the thread's current one, if any).
  Expected<void, PipelineError> nginx_test(const std::filesystem::path& generation);
  Expected<void, PipelineError> run_nginx_test(const std::filesystem::path& generation);
  Expected<void, PipelineError> point_current_at(const std::filesystem::path& generation);
  Expected<bool, PipelineError> reload();
  Expected<bool, PipelineError> reload_local_master();
  void prune();

  PipelineOptions options_;
  unsigned long next_generation_ = 0;
  bool last_reloaded_ = false;
};

// Refuses paths that could leave the tree: absolute, empty, "." / ".." components.
bool safe_relative_path(const std::string& path);

}  // namespace captain::nginx
