#include "controller/api/mutation.h"

namespace captain::api {

Mutation<std::string> required_string(const nlohmann::json& body, const std::string& field) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null())
    return refuse(ApiStatus::illegal_parameter, field + " is required");
  if (!it->is_string()) return refuse(ApiStatus::illegal_parameter, field + " must be a string");
  return it->get<std::string>();
}

}  // namespace captain::api
