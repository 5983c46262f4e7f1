#include "controller/api/image_routes.h"

#include <charconv>

#include "controller/api/mutation.h"

namespace captain::api {
namespace {

ApiResult unused_images(ApiServices& services, Call& call) {
  int most_recent = 0;
  if (call.req.has_param("mostRecentLimit")) {
    const std::string text = call.req.get_param_value("mostRecentLimit");
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), most_recent);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return failure(ApiStatus::illegal_parameter, "mostRecentLimit must be a whole number");
    }
  }
  if (auto docker = require_docker(services); !docker) return docker.error().refusal;
  auto images = services.images.unused(most_recent);
  if (!images) {
    return failure(most_recent < 0 ? ApiStatus::illegal_parameter : ApiStatus::generic_error,
                   images.error());
  }
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& image : *images) list.push_back({{"id", image.id}, {"tags", image.tags}});
  return ok("Unused images retrieved.", {{"unusedImages", std::move(list)}});
}

ApiResult delete_images(ApiServices& services, Call& call) {
  std::vector<std::string> ids;
  if (auto it = call.body.find("imageIds"); it != call.body.end() && !it->is_null()) {
    if (!it->is_array()) return failure(ApiStatus::illegal_parameter, "imageIds must be an array");
    for (const auto& id : *it) {
      if (!id.is_string()) {
        return failure(ApiStatus::illegal_parameter, "imageIds must hold strings");
      }
      ids.push_back(id.get<std::string>());
    }
  }
  if (auto docker = require_docker(services); !docker) return docker.error().refusal;
  auto problems = services.images.remove(ids);
  audit::AuditEntry entry{"admin", "images.delete", "images", "ok",
                          std::to_string(ids.size()) + " requested"};
  if (!problems) {
    entry.result = "error:1000";
    entry.detail = problems.error();
    services.audit.record_alone(call.context, entry);
    return failure(ApiStatus::generic_error, problems.error());
  }
  if (!problems->empty()) {
    std::string text;
    for (const auto& p : *problems) text += (text.empty() ? "" : "; ") + p;
    entry.result = "partial";
    entry.detail = text;
    services.audit.record_alone(call.context, entry);
    ApiResult partly = ok("Some images were not deleted: " + text);
    partly.status = ApiStatus::partially_ok;
    return partly;
  }
  services.audit.record_alone(call.context, entry);
  return ok("Images Deleted.");
}

}  // namespace

void register_image_routes(ApiRouter& router, ApiServices& services) {
  router.get("/user/apps/appDefinitions/unusedImages", "/user/apps/appDefinitions/unusedImages",
             [&services](Call& call) { return unused_images(services, call); });
  router.post("/user/apps/appDefinitions/deleteImages", "/user/apps/appDefinitions/deleteImages",
              [&services](Call& call) { return delete_images(services, call); });
}

}  // namespace captain::api
