#include "controller/http/router.h"

namespace captain::http {

void Router::get(const std::string& pattern, Handler handler, RouteOptions options) {
  std::string name = options.name.empty() ? pattern : options.name;
  routes_.push_back(
      {"GET", std::regex(pattern), std::move(handler), std::move(options), std::move(name)});
}

void Router::post(const std::string& pattern, Handler handler, RouteOptions options) {
  std::string name = options.name.empty() ? pattern : options.name;
  routes_.push_back(
      {"POST", std::regex(pattern), std::move(handler), std::move(options), std::move(name)});
}

void Router::set_not_found(Handler handler) {
  not_found_ = std::move(handler);
}

void Router::set_error_handler(ErrorHandler handler) {
  on_error_ = std::move(handler);
}

void Router::set_exception_handler(
    std::function<void(const Request&, Response&, std::exception_ptr)> handler) {
  on_exception_ = std::move(handler);
}

const Route* Router::match(std::string_view method, const std::string& path,
                           std::vector<std::string>& captures) const {
  const std::string_view wanted = method == "HEAD" ? std::string_view("GET") : method;
  for (const Route& route : routes_) {
    if (route.method != wanted) continue;
    std::smatch m;
    if (std::regex_match(path, m, route.pattern)) {
      captures.clear();
      for (const auto& group : m) captures.push_back(group.str());
      return &route;
    }
  }
  return nullptr;
}

void Router::fill_error(const Request& req, Response& res, std::string_view detail) const noexcept {
  if (res.status < 400 || !res.body.empty() || !on_error_) return;
  try {
    on_error_(req, res, detail);
  } catch (...) {
    res.body.clear();  // the status alone, rather than nothing
  }
}

void Router::handle(const Route* route, Request& req, Response& res) const noexcept {
  try {
    if (route != nullptr) {
      route->handler(req, res);
    } else if (not_found_) {
      not_found_(req, res);
    } else {
      res.status = 404;
    }
  } catch (...) {
    res = Response{};
    res.status = 500;
    if (on_exception_) {
      try {
        on_exception_(req, res, std::current_exception());
      } catch (...) {
        res.status = 500;
      }
    }
  }
  fill_error(req, res);
}

}  // namespace captain::http
