// Which handler answers a request: routes by method and a regular expression over the whole
// path (captures go to Request::matches), each with the worker pool it runs in and the largest
// body it accepts. The listener (server.h) asks match() once the headers are in, so a body is
// bounded before it is read, then runs handle() on the route's pool.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "controller/http/message.h"

namespace captain::http {

// The worker pool a handler runs in, so slow work never starves quick answers:
//   priority  /health/* and login: answerable while every other thread is busy
//   quick     ordinary API calls (milliseconds)
//   slow      calls that wait on something long (a rollout, a certificate order)
enum class Lane { priority, quick, slow };

using Handler = std::function<void(Request&, Response&)>;

struct RouteOptions {
  Lane lane = Lane::quick;
  std::size_t body_limit = 0;  // 0: the server's default
  // Non-empty: the body goes to a new file in this directory as it arrives (Request::body_file),
  // never into memory; each read resets body_timeout, so a long upload that keeps moving lives.
  std::string spool_dir;
  // Runs on the route's pool once the header is in, before any of the body is read (and before
  // `100 Continue`): false refuses the request with `res` as the answer, its body unread. So an
  // unauthenticated client cannot make the listener take a large body.
  std::function<bool(const Request&, Response&)> admit;
  // The route as traces show it (http.route, the span's name): a template such as
  // "/api/v2/user/apps/appData/:app", never a path with its values. Empty: the pattern.
  std::string name{};
  // Whether a request without a sampled traceparent may start a trace of its own; false for
  // probes and scrapes, which a trace sampled at 100% would otherwise be mostly made of.
  bool starts_traces = true;
};

struct Route {
  std::string method;
  std::regex pattern;
  Handler handler;
  RouteOptions options;
  std::string name;  // options.name, or the pattern as registered
};

class Router {
 public:
  void get(const std::string& pattern, Handler handler, RouteOptions options = {});
  void post(const std::string& pattern, Handler handler, RouteOptions options = {});

  // An unmatched request (default: 404 with an empty body, then the error handler).
  void set_not_found(Handler handler);
  // A response with status >= 400 and no body yet gets its body here; `detail` says what was
  // wrong when the listener refused the request itself (empty otherwise).
  using ErrorHandler = std::function<void(const Request&, Response&, std::string_view detail)>;
  void set_error_handler(ErrorHandler handler);
  // A handler that throws: the response is reset, this fills it (default: 500).
  void set_exception_handler(
      std::function<void(const Request&, Response&, std::exception_ptr)> handler);

  // The route for a method and path (HEAD finds GET routes), or nullptr; `captures` gets the
  // regex groups, [0] the whole path.
  const Route* match(std::string_view method, const std::string& path,
                     std::vector<std::string>& captures) const;

  // Runs `route`'s handler (the not-found handler when null), then the error handler.
  // Never throws.
  void handle(const Route* route, Request& req, Response& res) const noexcept;

  // For statuses the listener answers itself (400, 413, 431): the error handler's body.
  void fill_error(const Request& req, Response& res, std::string_view detail = {}) const noexcept;

 private:
  std::vector<Route> routes_;
  Handler not_found_;
  ErrorHandler on_error_;
  std::function<void(const Request&, Response&, std::exception_ptr)> on_exception_;
};

}  // namespace captain::http
