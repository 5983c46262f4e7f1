#include "controller/api/error_responses.h"

#include <exception>

#include "controller/api/health.h"

namespace captain::api {
namespace {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 408:
      return "request timeout";
    case 413:
      return "payload too large";
    case 414:
      return "URI too long";
    case 416:
      return "range not satisfiable";
    case 431:
      return "request header fields too large";
    case 500:
      return "internal error";
    case 503:
      return "service unavailable";
    default:
      return status >= 500 ? "server error" : "client error";
  }
}

std::string exception_text(const std::exception_ptr& error) {
  try {
    if (error) std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "non-standard exception";
  }
  return "unknown";
}

}  // namespace

std::string error_body(std::string_view description) {
  nlohmann::ordered_json body;
  body["status"] = "error";
  body["description"] = description;
  return logging::dump_json(body);
}

std::string describe_status(int status, std::string_view path) {
  std::string description(reason_phrase(status));
  if (status == 404) {
    description += ": ";
    description += path;
  }
  return description;
}

void install_error_responses(http::Router& http, logging::JsonLog& log) {
  // Called for every status >= 400 whose body is still empty (a handler's own body stays).
  http.set_error_handler(
      [](const http::Request& req, http::Response& res, std::string_view detail) {
        if (res.status == 404 && req.path.starts_with("/api/")) {
          // CapRover's answer to an unknown API path, which API clients may match on.
          res.set_content("Not Found", "text/plain; charset=utf-8");
          return;
        }
        std::string description = describe_status(res.status, req.path);
        if (!detail.empty()) description += ": " + std::string(detail);
        res.set_content(error_body(description), kJsonContentType);
      });

  http.set_exception_handler(
      [&log](const http::Request& req, http::Response& res, std::exception_ptr error) {
        log.error("request handler failed",
                  {{"method", req.method}, {"path", req.path}, {"error", exception_text(error)}});
        res.status = 500;
        res.set_content(error_body("internal error"), kJsonContentType);
      });
}

}  // namespace captain::api
