// libFuzzer target for what POST /api/v2/user/apps/appDefinitions/update does with its body
// (apps::apply_update, as app_routes.cpp calls it) and for reading a stored definition back
// (apps::from_json_text, as every route that loads an app does).
//
// Invariants checked on every input:
//   * a refusal's message starts with the field it names (clients show it as is);
//   * an accepted update, stored (to_json) and read back, equals itself;
//   * applying the same body again changes nothing (a retried request is harmless);
//   * sending back what GET returns (to_caprover_json, as the web UI does) changes nothing;
//   * a stored definition that reads back, written again and read again, equals itself.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/apps/app_definition.h"
#include "controller/apps/validation.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using captain::fuzz::check;
using namespace captain::apps;

// A typical app: one SSL domain (so forceSsl may be turned on), a variable, a volume.
AppDefinition typical_app() {
  AppDefinition app = make_app_definition("web", true);
  app.custom_domain.push_back({"www.example.com", true});
  app.env_vars.push_back({"NODE_ENV", "production"});
  app.volumes.push_back({"/data", "web-data", std::nullopt});
  app.container_http_port = 3000;
  return app;
}

void check_update(const nlohmann::json& body) {
  static const AppDefinition kCurrent = typical_app();
  const auto updated = apply_update(kCurrent, body);
  if (!updated) {
    check(updated.error().message.starts_with(updated.error().field));
    return;
  }
  const auto stored = from_json_text(to_json(*updated).dump());
  check(stored.has_value() && *stored == *updated);

  const auto again = apply_update(*updated, body);
  check(again.has_value() && *again == *updated);

  const auto resent = apply_update(*updated, to_caprover_json(*updated));
  check(resent.has_value() && *resent == *updated);
}

void check_stored(const std::string& text) {
  const auto app = from_json_text(text);
  if (!app) return;
  const auto again = from_json(to_json(*app));
  check(again.has_value() && *again == *app);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(captain::fuzz::as_text(data, size));
  const auto body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!body.is_discarded()) check_update(body);
  check_stored(text);
  return 0;
}
