#include "controller/api/api_router.h"

#include <exception>
#include <fstream>

#include "controller/trace/tracer.h"

namespace captain::api {
namespace {

constexpr std::string_view kNamespace = "captain";
constexpr std::string_view kUserPrefix = "/user/";

// nlohmann's messages start with "[json.exception.parse_error.101] parse error at line 1,
// column 5: "; keep what follows the position, and give the byte offset ourselves.
std::string parse_error_text(const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  const auto colon = what.find(": ", what.find("parse error"));
  if (colon != std::string::npos) what = what.substr(colon + 2);
  return "malformed JSON body at byte " + std::to_string(e.byte) + ": " + what;
}

// A number too large for a double (1e400): nlohmann names the token, not where it is; the
// byte offset is that of the token's first appearance.
std::string out_of_range_text(const nlohmann::json::out_of_range& e, const std::string& body) {
  std::string what = e.what();
  const auto quote = what.find('\'');
  const auto end = quote == std::string::npos ? quote : what.find('\'', quote + 1);
  std::string where;
  if (end != std::string::npos) {
    const auto at = body.find(what.substr(quote + 1, end - quote - 1));
    if (at != std::string::npos) where = " at byte " + std::to_string(at + 1);
  }
  const auto bracket = what.find("] ");
  if (bracket != std::string::npos) what = what.substr(bracket + 2);
  return "malformed JSON body" + where + ": " + what + " (numbers must fit a double)";
}

bool is_json_content_type(const std::string& content_type) {
  return content_type.empty() || content_type.starts_with("application/json") ||
         content_type.starts_with("text/plain");
}

// A JSON body on an upload route (the CLI's image deploy): read back from its spool file.
constexpr std::size_t kSpooledJsonMax = 8 * 1024 * 1024;

Expected<std::string, std::string> read_spooled_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unexpected("cannot read the request body back: " + path);
  std::string text;
  char block[65536];
  while (in.read(block, sizeof block) || in.gcount() > 0) {
    text.append(block, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kSpooledJsonMax) {
      return Unexpected("a JSON body is limited to " + std::to_string(kSpooledJsonMax) +
                        " bytes; send source code as a multipart upload (sourceFile)");
    }
  }
  return text;
}

http::RouteOptions route_options(http::Lane lane, std::size_t body_limit) {
  http::RouteOptions options;
  options.lane = lane;
  options.body_limit = body_limit;
  return options;
}

// The envelope's status on the request's span (captain.status: 100, 1102, ...).
void annotate_span(int api_status) {
  tracing::Span* span = tracing::current_span();
  if (span == nullptr || api_status == 0) return;  // 0: a plain 404, no envelope
  span->set("captain.status", api_status);
}

}  // namespace

bool Call::query_flag(const std::string& name) const {
  if (!req.has_param(name)) return false;
  const std::string value = req.get_param_value(name);
  return !value.empty() && value != "0" && value != "false";
}

ApiRouter::ApiRouter(http::Router& http, ApiMetrics& metrics, logging::JsonLog& log,
                     Authenticator authenticate, std::vector<config::Cidr> trusted_proxies)
    : http_(http),
      metrics_(metrics),
      log_(log),
      authenticate_(std::move(authenticate)),
      trusted_proxies_(std::move(trusted_proxies)) {}

void ApiRouter::get(const std::string& route, const std::string& pattern, Handler handler,
                    http::Lane lane) {
  add("GET", route, pattern, std::move(handler), route_options(lane, 0));
}

void ApiRouter::post(const std::string& route, const std::string& pattern, Handler handler,
                     http::Lane lane, std::size_t body_limit) {
  add("POST", route, pattern, std::move(handler), route_options(lane, body_limit));
}

void ApiRouter::upload(const std::string& route, const std::string& pattern, Handler handler,
                       http::Lane lane, std::size_t body_limit, std::string spool_dir,
                       AppTokenCheck app_token) {
  if (app_token) app_token_routes_["POST " + route] = std::move(app_token);
  http::RouteOptions options = route_options(lane, body_limit);
  options.spool_dir = std::move(spool_dir);
  options.admit = [this, route](const http::Request& req, http::Response& res) {
    const auto started = std::chrono::steady_clock::now();
    const RequestContext context = make_request_context(req, trusted_proxies_);
    Call call{req, context, nlohmann::json::object(), route};
    auto refused = precheck(route, call);
    if (!refused) return true;
    answer("POST", route, req, context, *refused, started, res);
    return false;
  };
  add("POST", route, pattern, std::move(handler), std::move(options));
}

void ApiRouter::webhook(const std::string& route, const std::string& pattern, Handler handler,
                        std::size_t body_limit) {
  webhook_routes_.insert(route);
  add("POST", route, pattern, std::move(handler), route_options(http::Lane::quick, body_limit));
}

std::optional<ApiResult> ApiRouter::precheck(const std::string& route, const Call& call) const {
  // A missing x-namespace means "captain" (CapRover does the same); any other is refused.
  if (call.req.has_header("x-namespace") &&
      call.req.get_header_value("x-namespace") != kNamespace) {
    return failure(ApiStatus::generic_error, "Namespace unknown");
  }
  if (!route.starts_with(kUserPrefix) || webhook_routes_.count(route) != 0) return std::nullopt;
  const auto app_token = app_token_routes_.find(call.req.method + " " + route);
  if (app_token != app_token_routes_.end() && !call.req.has_header("x-captain-auth") &&
      call.req.has_header("x-captain-app-token")) {
    if (app_token->second(call.path_part(1), call.req.get_header_value("x-captain-app-token"))) {
      return std::nullopt;
    }
    return failure(ApiStatus::auth_token_invalid,
                   "App token is not valid for " + call.path_part(1) +
                       " (enable appDeployTokenConfig and use its appDeployToken)");
  }
  return authenticate_(call);
}

void ApiRouter::add(const std::string& method, const std::string& route, const std::string& pattern,
                    Handler handler, http::RouteOptions options) {
  const std::string regex = std::string(kApiPrefix) + pattern + "/?";
  options.name = std::string(kApiPrefix) + route;
  auto serve_route = [this, method, route, handler = std::move(handler)](const http::Request& req,
                                                                         http::Response& res) {
    serve(method, route, handler, req, res);
  };
  if (method == "GET") {
    http_.get(regex, serve_route, options);
  } else {
    http_.post(regex, serve_route, options);
  }
}

void ApiRouter::finish() {
  // Unknown /api/v2/user/... path: authenticate first, then a plain 404 like CapRover's.
  const Handler not_found = [](Call&) -> ApiResult {
    return failure(ApiStatus::route_not_found, "Not Found");
  };
  for (const char* method : {"GET", "POST"}) {
    add(method, "/user/*", "/user/.*", not_found, route_options(http::Lane::quick, 0));
  }
  const auto wrong_version = [this](const http::Request& req, http::Response& res) {
    const RequestContext context = make_request_context(req, trusted_proxies_);
    add_context_headers(context, res);
    send(res, failure(ApiStatus::generic_error, "This captain instance only accepts API v2"));
    metrics_.record_request("/api/*", req.method, 200, 1000, {});
    annotate_span(1000);
  };
  const std::string other_versions = R"(/api/(?!v2(/|$))[^/]+(/.*)?)";
  http::RouteOptions options = route_options(http::Lane::quick, 0);
  options.name = "/api/*";
  http_.get(other_versions, wrong_version, options);
  http_.post(other_versions, wrong_version, options);
}

void ApiRouter::serve(const std::string& method, const std::string& route, const Handler& handler,
                      const http::Request& req, http::Response& res) {
  const auto started = std::chrono::steady_clock::now();
  const RequestContext context = make_request_context(req, trusted_proxies_);
  Call call{req, context, nlohmann::json::object(), route};

  const auto respond = [&]() -> ApiResult {
    // An upload route checked the namespace and token before its body was read.
    if (!req.admitted) {
      if (auto refused = precheck(route, call)) return *refused;
    }
    // A spooled body (an upload route): a multipart upload is its handler's to read; JSON is
    // read here like any other body, within max_body.
    std::string spooled;
    const std::string* body = &req.body;
    if (!req.body_file.empty() && !req.is_multipart_form_data()) {
      auto text = read_spooled_json(req.body_file);
      if (!text) return failure(ApiStatus::illegal_parameter, text.error());
      spooled = std::move(*text);
      body = &spooled;
    }
    if (req.is_multipart_form_data() && req.body_file.empty()) {
      return failure(ApiStatus::illegal_operation,
                     "multipart/form-data is accepted only by uploads "
                     "(POST /api/v2/user/apps/appData/<app>)");
    }
    const bool raw = webhook_routes_.count(route) != 0;
    if (method == "POST" && !raw && !body->empty() && !req.is_multipart_form_data()) {
      if (!is_json_content_type(req.get_header_value("Content-Type"))) {
        return failure(ApiStatus::illegal_parameter,
                       "request body must be JSON (Content-Type: application/json), not " +
                           req.get_header_value("Content-Type"));
      }
      try {
        call.body = nlohmann::json::parse(*body);
      } catch (const nlohmann::json::parse_error& e) {
        return failure(ApiStatus::illegal_parameter, parse_error_text(e));
      } catch (const nlohmann::json::out_of_range& e) {
        return failure(ApiStatus::illegal_parameter, out_of_range_text(e, *body));
      }
      if (!call.body.is_object()) {
        return failure(ApiStatus::illegal_parameter, "request body must be a JSON object");
      }
    }
    return handler(call);
  };

  ApiResult result;
  try {
    result = respond();
  } catch (const std::exception& e) {
    // A handler bug must not become a crash or an HTML 500: the envelope says what to quote.
    log_.error("request handler failed", {{"route", route},
                                          {"error", e.what()},
                                          {"request_id", context.request_id},
                                          {"trace_id", context.trace_id},
                                          {"span_id", context.span_id}});
    result = failure(ApiStatus::generic_error,
                     "internal error; see the controller log for request " + context.request_id);
  }

  answer(method, route, req, context, result, started, res);
}

void ApiRouter::answer(const std::string& method, const std::string& route,
                       const http::Request& req, const RequestContext& context,
                       const ApiResult& result, std::chrono::steady_clock::time_point started,
                       http::Response& res) {
  add_context_headers(context, res);
  int http_status = 200;
  int api_status = static_cast<int>(result.status);
  if (result.status == ApiStatus::route_not_found) {
    http_status = 404;
    api_status = 0;
    res.status = 404;
    res.set_content("Not Found", "text/plain; charset=utf-8");
  } else {
    send(res, result);
    http_status = result.http_status;
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  metrics_.record_request(route, method, http_status, api_status, elapsed);
  annotate_span(api_status);
  if (tracing::Span* span = tracing::current_span(); span != nullptr && span->recording()) {
    span->set("client.address", context.client_ip);  // the real client, behind a trusted proxy
  }
  log_.info("request", {{"method", method},
                        {"route", route},
                        {"path", req.path},
                        {"status", http_status},
                        {"api_status", api_status},
                        {"duration_ms", std::chrono::duration<double, std::milli>(elapsed).count()},
                        {"client_ip", context.client_ip},
                        {"request_id", context.request_id},
                        {"trace_id", context.trace_id},
                        {"span_id", context.span_id}});
}

}  // namespace captain::api
