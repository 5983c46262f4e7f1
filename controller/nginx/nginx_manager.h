// Keeps nginx's configuration in step with the store, Swarm and the certificates on disk:
//
//   store change (API) / rollout progress / renewal / timer ──▶ request_render() ──▶ coalesce
//   ──▶ read apps + system state (store), routing (Swarm tasks), certificates (disk)
//   ──▶ site model (bad values become diagnostics) ──▶ tree ──▶ same as live? stop
//                                                          └─▶ ConfigPipeline::apply
//
// One thread does the rendering, so any number of changes in a burst become one reload. A tree
// identical to the live one is never reloaded, so polling costs no reload. The API checks a
// changed app with check() before storing it (1116 when nginx refuses). What the model leaves
// out (an app, its snippet, its HTTPS) is logged once and kept per app for its definition.
// A tree nginx refused is retried with backoff, so a refusal that was transient (a name that
// did not resolve for a moment) heals by itself.
//
// Spans (trace/tracer.h): a render is an "nginx apply" span with "nginx render" (reading the
// store and Swarm, building the tree), "nginx test" and "nginx reload" beneath it. Renders are
// coalesced, so the span has one parent: the span of the first request_render() since the last
// render that was called from within one (the API call or deploy that asked; how many requests
// it covers is an attribute). A render nobody asked for (a poll) is traced only when it changes
// the tree: under the span of a rollout in progress (its task became routable), else as a new
// trace of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "controller/apps/app_definition.h"
#include "controller/log/json_log.h"
#include "controller/nginx/config_pipeline.h"
#include "controller/nginx/config_renderer.h"
#include "controller/nginx/routing_table.h"
#include "controller/store/sqlite.h"
#include "controller/store/system_store.h"
#include "controller/swarm/docker_client.h"
#include "controller/trace/tracer.h"

namespace captain::nginx {

// Loads the certificates for a set of domains (the certificate store, in main.cpp).
using CertificateSource =
    std::function<std::map<std::string, CertificateLoad>(const std::set<std::string>& domains)>;

struct NginxManagerOptions {
  CheckedSettings settings;
  std::string configured_root_domain;  // the root_domain setting, until changerootdomain
  PipelineOptions pipeline;
  std::string override_file;  // http-level text read on every render; "" none
  CertificateSource certificates;
  std::optional<tls::CertificatePem> default_certificate;
  std::chrono::milliseconds coalesce{300};       // a change this soon after another one joins it
  std::chrono::milliseconds coalesce_max{2000};  // ... but a burst waits at most this long
  std::chrono::milliseconds poll_busy{250};      // Swarm task poll while a rollout runs
  std::chrono::milliseconds poll_idle{3000};     // ... otherwise
  std::chrono::milliseconds refused_retry_min{5000};    // a refused tree is tried again after
  std::chrono::milliseconds refused_retry_max{300000};  // ... doubling up to this
  // Traces of renders nobody asked for: their own root spans (null: untraced), or the span of
  // the work they most likely belong to (a rollout in progress; empty: none).
  tracing::Tracer* tracer = nullptr;
  std::function<tracing::Parent()> poll_parent;
};

// What became of the renders requested up to a ticket.
struct ApplyOutcome {
  bool done = false;   // a render that began after the request finished
  bool live = false;   // ... and its tree is the live one
  std::string detail;  // why not, when not live
};

class NginxManager {
 public:
  // `busy`: whether a rollout is under way (tasks are polled closely meanwhile).
  NginxManager(store::Database& db, swarm::DockerClient& docker, logging::JsonLog& log,
               NginxManagerOptions options, std::function<bool()> busy);
  ~NginxManager();
  NginxManager(const NginxManager&) = delete;
  NginxManager& operator=(const NginxManager&) = delete;

  // Called whenever the per-app problems change (the app list shows them). Before start().
  void on_problems_changed(std::function<void()> callback);

  void start();
  void stop();

  // Something nginx may need to hear about changed (store committed first). The ticket is for
  // wait_applied. The calling thread's current span, if any, may parent the render's spans.
  std::uint64_t request_render();
  // Waits until a render that began after `ticket` was requested has finished.
  ApplyOutcome wait_applied(std::uint64_t ticket, std::chrono::milliseconds timeout);

  // Would the tree with `candidate` in place of the stored app (or added) pass our checks and
  // `nginx -t`? nullopt if so, else the message for the API (1116). The other apps are read
  // through `tx`, the API call's own transaction.
  std::optional<std::string> check(store::Transaction& tx, const apps::AppDefinition& candidate);

  // Why parts of an app are not served as defined (no certificate, snippet refused, ...), from
  // the last render; empty when all is well. "" is captain.<root>.
  std::vector<std::string> problems_of(const std::string& app) const;

  // "ok" when the last render went live, else why not (for /health/ready).
  std::string state() const;
  // captain_nginx_* series for the controller's /metrics.
  void render_metrics(std::string& out) const;

 private:
  struct Snapshot {
    std::vector<apps::AppDefinition> apps;
    store::SystemState system;
    RoutingTable routing;
  };

  void loop();
  // `requested`: the span of the request that asked (empty: a poll, or nobody traced);
  // `requests`: how many request_render() calls this render covers.
  void render_and_apply(const tracing::Parent& requested, std::uint64_t requests);
  std::optional<Snapshot> snapshot(std::string& why);
  RenderState state_for(const Snapshot& snapshot) const;
  // Renders; a stored snippet nginx -t refuses is dropped (logged) and the render repeated,
  // unless it is `protect`'s (the app an API call is checking). Sets `why` on failure.
  // `settings`: other than the live ones (an API check's scratch paths); null: the live ones.
  std::optional<RenderOutput> render_checked(RenderState state, bool test_with_nginx,
                                             const std::string& protect, std::string& why,
                                             const CheckedSettings* settings = nullptr);
  void publish_problems(const std::vector<Diagnostic>& diagnostics);

  void report_once(std::string_view message, const nlohmann::json& fields);

  store::Database& db_;
  swarm::DockerClient& docker_;
  logging::JsonLog& log_;
  const NginxManagerOptions options_;
  std::function<bool()> busy_;
  std::function<void()> on_problems_changed_;

  std::mutex pipeline_mutex_;  // the pipeline, live_tree_ and refused_*: one user at a time
  ConfigPipeline pipeline_;
  std::optional<RenderedTree> live_tree_;
  std::optional<RenderedTree> refused_tree_;  // nginx -t refused it: retried after a backoff
  std::chrono::steady_clock::time_point refused_retry_at_{};
  std::chrono::milliseconds refused_backoff_{0};
  RoutingTable last_routing_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable applied_cv_;
  bool stopping_ = false;
  bool dirty_ = true;
  std::uint64_t requested_ = 0;  // tickets handed out
  std::uint64_t finished_ = 0;   // every ticket up to this one has had its render
  tracing::Parent render_parent_;  // the first traced request since the last render began
  bool last_live_ = false;
  std::string state_ = "starting";
  bool tree_in_place_ = false;      // the last apply succeeded: state() asks whether nginx runs
  std::set<std::string> reported_;  // stored problems already logged
  std::map<std::string, std::vector<std::string>> problems_;
  std::uint64_t applied_ = 0, reloads_ = 0, refused_ = 0, failed_ = 0, skipped_ = 0;
  std::thread thread_;
};

}  // namespace captain::nginx
