#include "controller/api/envelope.h"

#include "controller/log/json_log.h"

namespace captain::api {

std::string envelope_body(const ApiResult& result) {
  if (result.rendered) return *result.rendered;
  nlohmann::ordered_json body;
  body["status"] = static_cast<int>(result.status);
  body["description"] = result.description;
  body["data"] = result.data;
  return logging::dump_json(body);
}

void send(http::Response& res, const ApiResult& result) {
  res.status = result.http_status;
  for (const auto& [name, value] : result.headers) res.set_header(name, value);
  res.set_content(envelope_body(result), kEnvelopeContentType);
}

}  // namespace captain::api
