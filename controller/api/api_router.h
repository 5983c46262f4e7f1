// Registers /api/v2 handlers on the HTTP server with everything CapRover does around them:
// the x-namespace check, token authentication for /user/*, JSON body parsing with precise
// errors, the envelope, request/trace ids, a JSON log line and metrics per request. Handlers
// only see a parsed Call and return an ApiResult.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/api/api_metrics.h"
#include "controller/api/envelope.h"
#include "controller/api/request_context.h"
#include "controller/http/router.h"
#include "controller/log/json_log.h"

namespace captain::api {

inline constexpr std::string_view kApiPrefix = "/api/v2";

struct Call {
  const http::Request& req;
  const RequestContext& context;
  nlohmann::json body;  // the request's JSON object ({} for GET or an empty body)
  std::string route;    // the registered pattern, for logs and audit

  // The n-th regex capture of the path (1-based), e.g. the app name of appData/<app>.
  std::string path_part(std::size_t n) const {
    return n < req.matches.size() ? req.matches[n] : std::string();
  }
  bool query_flag(const std::string& name) const;  // ?detached=1 / true
};

using Handler = std::function<ApiResult(Call&)>;

// Checks x-captain-auth; nullopt when the caller may proceed, else the refusal to send.
using Authenticator = std::function<std::optional<ApiResult>(const Call&)>;

// Whether `token` (x-captain-app-token) is the deploy token of `app`.
using AppTokenCheck = std::function<bool(const std::string& app, const std::string& token)>;

class ApiRouter {
 public:
  ApiRouter(http::Router& http, ApiMetrics& metrics, logging::JsonLog& log,
            Authenticator authenticate, std::vector<config::Cidr> trusted_proxies);

  // `route` is shown in logs and metrics ("/user/apps/appData/:app"); `pattern` is the regex
  // after /api/v2 (a trailing slash is accepted, as CapRover's express router does). Routes
  // under /user/ require a valid token.
  // `lane`: the worker pool the handler runs in (http/router.h): priority for login, slow for
  // calls that wait on something long (a rollout, a certificate order).
  void get(const std::string& route, const std::string& pattern, Handler handler,
           http::Lane lane = http::Lane::quick);
  // `body_limit`: 0 takes the server's max_body; routes anyone can call set a small one.
  void post(const std::string& route, const std::string& pattern, Handler handler,
            http::Lane lane = http::Lane::quick, std::size_t body_limit = 0);

  // A POST route whose body (a multipart source upload, or JSON) is spooled to a file in
  // `spool_dir` as it arrives, up to `body_limit` bytes. The namespace and the token are checked
  // before any of the body is read, so only an authenticated client can send a large one.
  // `app_token`: a request without x-captain-auth may instead carry the deploy token of the app
  // its path names (the first capture), as CapRover's CI deploys do.
  void upload(const std::string& route, const std::string& pattern, Handler handler,
              http::Lane lane, std::size_t body_limit, std::string spool_dir,
              AppTokenCheck app_token = {});

  // A POST route called by other services (CapRover's push webhooks): no x-captain-auth (the
  // handler checks its own token), and the body is left unparsed in call.req.body (JSON or a
  // form, within `body_limit`).
  void webhook(const std::string& route, const std::string& pattern, Handler handler,
               std::size_t body_limit);

  // Registers the catch-alls; call after every route: /api/<other version>/... answers 1000
  // "This captain instance only accepts API v2", an unknown /api/v2/user/... path checks the
  // token first (as CapRover does) and then answers HTTP 404 "Not Found".
  void finish();

 private:
  void add(const std::string& method, const std::string& route, const std::string& pattern,
           Handler handler, http::RouteOptions options);
  // The namespace and token checks (nullopt: go on), shared by serve() and admission.
  std::optional<ApiResult> precheck(const std::string& route, const Call& call) const;
  // A refusal sent without running the handler: the envelope, metrics and a log line.
  void answer(const std::string& method, const std::string& route, const http::Request& req,
              const RequestContext& context, const ApiResult& result,
              std::chrono::steady_clock::time_point started, http::Response& res);
  void serve(const std::string& method, const std::string& route, const Handler& handler,
             const http::Request& req, http::Response& res);

  http::Router& http_;
  ApiMetrics& metrics_;
  logging::JsonLog& log_;
  Authenticator authenticate_;
  std::map<std::string, AppTokenCheck> app_token_routes_;  // by "METHOD route"
  std::set<std::string> webhook_routes_;
  std::vector<config::Cidr> trusted_proxies_;
};

}  // namespace captain::api
