// Keeps nginx's configuration in step with the store and Swarm:
//
//   store change (API) / rollout progress / timer ──▶ request_render() ──▶ coalesce ──▶
//   read apps (store) + routing (Swarm tasks) ──▶ render_nginx_tree ──▶ same as live? stop
//                                                                    └─▶ ConfigPipeline::apply
//
// One thread does the rendering, so any number of changes in a burst become one reload. A tree
// identical to the live one is never reloaded, so polling Swarm for task changes costs no
// reload. The API checks a changed app with check() before storing it (1116 when nginx refuses).
// A stored custom snippet that no longer passes (a store written by hand or an older version)
// is left out of the tree, logged, rather than holding every other app's routing back.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "controller/apps/app_definition.h"
#include "controller/log/json_log.h"
#include "controller/nginx/config_pipeline.h"
#include "controller/nginx/config_renderer.h"
#include "controller/nginx/routing_table.h"
#include "controller/store/sqlite.h"
#include "controller/swarm/docker_client.h"

namespace captain::nginx {

struct NginxManagerOptions {
  RenderInputs base;  // everything global; apps, routing and snippets are filled per render
  PipelineOptions pipeline;
  std::string override_file;                     // http-level text read on every render; "" none
  std::chrono::milliseconds coalesce{300};       // a change this soon after another one joins it
  std::chrono::milliseconds coalesce_max{2000};  // ... but a burst waits at most this long
  std::chrono::milliseconds poll_busy{250};      // Swarm task poll while a rollout runs
  std::chrono::milliseconds poll_idle{3000};     // ... otherwise
};

class NginxManager {
 public:
  // `busy`: whether a rollout is under way (tasks are polled closely meanwhile).
  NginxManager(store::Database& db, swarm::DockerClient& docker, logging::JsonLog& log,
               NginxManagerOptions options, std::function<bool()> busy);
  ~NginxManager();
  NginxManager(const NginxManager&) = delete;
  NginxManager& operator=(const NginxManager&) = delete;

  void start();
  void stop();

  // Something nginx may need to hear about changed (store committed first).
  void request_render();

  // Would the tree with `candidate` in place of the stored app (or added) pass our checks and
  // `nginx -t`? nullopt if so, else the message for the API (1116). The other apps are read
  // through `tx`, the API call's own transaction.
  std::optional<std::string> check(store::Transaction& tx, const apps::AppDefinition& candidate);

  // "ok" when the last render went live, else why not (for /health/ready).
  std::string state() const;
  // captain_nginx_* series for the controller's /metrics.
  void render_metrics(std::string& out) const;

 private:
  struct Snapshot {
    std::vector<apps::AppDefinition> apps;
    RoutingTable routing;
  };

  void loop();
  void render_and_apply();
  std::optional<Snapshot> snapshot(std::string& why);
  RenderInputs inputs_for(const Snapshot& snapshot) const;
  // Renders; a stored snippet that fails our checks or nginx -t is dropped (logged) and the
  // render repeated. Sets `why` on failure.
  std::optional<RenderedTree> render_checked(RenderInputs inputs, bool test_with_nginx,
                                             std::string& why);

  void report_once(std::string_view message, const nlohmann::json& fields);

  store::Database& db_;
  swarm::DockerClient& docker_;
  logging::JsonLog& log_;
  const NginxManagerOptions options_;
  std::function<bool()> busy_;

  std::mutex pipeline_mutex_;  // the pipeline and live_tree_: one user at a time
  ConfigPipeline pipeline_;
  std::optional<RenderedTree> live_tree_;
  std::optional<RenderedTree> refused_tree_;  // nginx -t refused it: not tried again
  RoutingTable last_routing_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool dirty_ = true;
  std::string state_ = "starting";
  std::set<std::string> reported_;  // stored problems already logged
  std::uint64_t applied_ = 0, reloads_ = 0, refused_ = 0, failed_ = 0, skipped_ = 0;
  std::thread thread_;
};

}  // namespace captain::nginx
