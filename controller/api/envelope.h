// CapRover's response envelope: HTTP 200 with {"status", "description", "data"}, where status is
// one of CapRover's API codes. The official caprover CLI reads only these three keys.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/http/message.h"

namespace captain::api {

// CapRover's ApiStatusCodes (the ones this controller answers with).
enum class ApiStatus : int {
  ok = 100,
  deploy_started = 101,
  partially_ok = 102,
  generic_error = 1000,
  not_authorized = 1102,
  already_exists = 1103,
  bad_name = 1104,
  wrong_password = 1105,
  auth_token_invalid = 1106,
  verification_failed = 1107,
  illegal_operation = 1108,
  build_error = 1109,
  illegal_parameter = 1110,
  not_found = 1111,
  password_back_off = 1113,
  nginx_validation_failed = 1116,
  // Not an API code: the request answers HTTP 404 "Not Found" (text), as CapRover does for an
  // unknown path, instead of an envelope.
  route_not_found = 404,
};

struct ApiResult {
  ApiStatus status = ApiStatus::ok;
  std::string description;
  nlohmann::ordered_json data = nlohmann::ordered_json::object();
  // When set, the whole envelope already serialized (a cached rendering of this same result):
  // sent as is instead of rendering status, description and data.
  std::shared_ptr<const std::string> rendered;
  // Extra response headers (e.g. X-Captain-Login-Failed for the edge's login limiter).
  std::vector<std::pair<std::string, std::string>> headers;
  // CapRover answers 200 with the status in the envelope; a webhook sender only sees the HTTP
  // status, so a refused webhook says it there too.
  int http_status = 200;

  bool succeeded() const noexcept {
    return status == ApiStatus::ok || status == ApiStatus::deploy_started ||
           status == ApiStatus::partially_ok;
  }
};

inline ApiResult ok(std::string description,
                    nlohmann::ordered_json data = nlohmann::ordered_json::object()) {
  return {ApiStatus::ok, std::move(description), std::move(data), nullptr, {}, 200};
}

inline ApiResult failure(ApiStatus status, std::string description) {
  return {status, std::move(description), nlohmann::ordered_json::object(), nullptr, {}, 200};
}

inline constexpr const char* kEnvelopeContentType = "application/json; charset=utf-8";

// {"status":N,"description":"...","data":{...}} in that key order, as CapRover sends it.
std::string envelope_body(const ApiResult& result);

// HTTP 200 with the envelope.
void send(http::Response& res, const ApiResult& result);

}  // namespace captain::api
