#include "controller/api/mutation.h"

namespace captain::api {

Mutation<std::string> required_string(const nlohmann::json& body, const std::string& field) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null())
    return refuse(ApiStatus::illegal_parameter, field + " is required");
  if (!it->is_string()) return refuse(ApiStatus::illegal_parameter, field + " must be a string");
  return it->get<std::string>();
}

Mutation<void> require_docker(ApiServices& services) {
  std::string problem = services.deployer.check_docker();
  if (!problem.empty()) return refuse(ApiStatus::generic_error, std::move(problem));
  return {};
}

}  // namespace captain::api
