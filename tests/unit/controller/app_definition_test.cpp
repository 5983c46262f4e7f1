// controller/apps/app_definition: CapRover's JSON shape and the storage round trip.
#include "controller/apps/app_definition.h"

#include <gtest/gtest.h>

#include <string>

namespace captain::apps {
namespace {

using nlohmann::json;

AppDefinition full_app() {
  AppDefinition app = make_app_definition("my-app", true);
  app.instance_count = 2;
  app.description = "demo";
  app.env_vars = {{"A", "1"}, {"B", "two words"}};
  app.volumes = {{"/data", "my-app-data", std::nullopt}, {"/etc/x", std::nullopt, "/srv/x"}};
  app.ports = {{5432, 15432}};
  app.container_http_port = 3000;
  app.custom_domain = {{"www.example.com", true}, {"example.org", false}};
  app.has_default_sub_domain_ssl = true;
  app.force_ssl = true;
  app.websocket_support = true;
  app.not_expose_as_web_app = false;
  app.versions = {
      {0, "nginx:1.25", "2026-11-22T07:00:00.000Z", "img-captain--my-app:0", "abc123"},
      {1, "nginx:1.26", "2026-11-22T08:00:00.000Z", std::nullopt, ""},
  };
  app.deployed_version = 0;
  app.node_id = "node1";
  app.tags = {"web"};
  app.rate_limit = "10r/s";
  app.cache = true;
  app.header_policy = "strict";
  return app;
}

TEST(AppDefinition, RegisterDefaultsMatchCapRover) {
  AppDefinition app = make_app_definition("new-app", false);
  EXPECT_EQ(app.app_name, "new-app");
  EXPECT_EQ(app.instance_count, 1);
  EXPECT_EQ(app.captain_definition_relative_file_path, "./captain-definition");
  EXPECT_EQ(app.container_http_port, 80);
  EXPECT_EQ(app.deployed_version, 0);
  EXPECT_FALSE(app.has_persistent_data);
  EXPECT_FALSE(app.force_ssl);
  EXPECT_TRUE(app.versions.empty());
  EXPECT_FALSE(app.rate_limit);
}

TEST(AppDefinition, CapRoverJsonOfAFreshApp) {
  json expected = json::parse(R"({
    "appName": "new-app",
    "description": "",
    "instanceCount": 1,
    "captainDefinitionRelativeFilePath": "./captain-definition",
    "envVars": [],
    "volumes": [],
    "ports": [],
    "containerHttpPort": 80,
    "customDomain": [],
    "hasDefaultSubDomainSsl": false,
    "forceSsl": false,
    "websocketSupport": false,
    "notExposeAsWebApp": false,
    "hasPersistentData": false,
    "versions": [],
    "deployedVersion": 0,
    "nodeId": "",
    "tags": [],
    "projectId": "",
    "networks": ["captain-overlay-network"],
    "redirectDomain": "",
    "customNginxConfig": "",
    "preDeployFunction": "",
    "serviceUpdateOverride": "",
    "appDeployTokenConfig": {"enabled": false},
    "isAppBuilding": false,
    "isLegacyAppName": false
  })");
  EXPECT_EQ(to_caprover_json(make_app_definition("new-app", false)), expected);
}

TEST(AppDefinition, CapRoverJsonNestedShapes) {
  json out = to_caprover_json(full_app(), true);
  EXPECT_EQ(out["isAppBuilding"], true);
  EXPECT_EQ(out["envVars"], json::parse(R"([{"key":"A","value":"1"},
                                            {"key":"B","value":"two words"}])"));
  EXPECT_EQ(out["volumes"], json::parse(R"([{"containerPath":"/data","volumeName":"my-app-data"},
                                            {"containerPath":"/etc/x","hostPath":"/srv/x"}])"));
  EXPECT_EQ(out["ports"], json::parse(R"([{"containerPort":5432,"hostPort":15432}])"));
  EXPECT_EQ(out["customDomain"], json::parse(R"([{"publicDomain":"www.example.com","hasSsl":true},
                                                 {"publicDomain":"example.org","hasSsl":false}])"));
  EXPECT_EQ(out["tags"], json::parse(R"([{"tagName":"web"}])"));
  // A finished version has deployedImageName and gitHash; a pending one has neither.
  EXPECT_EQ(out["versions"], json::parse(R"([
    {"version":0,"timeStamp":"2026-11-22T07:00:00.000Z",
     "deployedImageName":"img-captain--my-app:0","gitHash":"abc123"},
    {"version":1,"timeStamp":"2026-11-22T08:00:00.000Z"}])"));
}

TEST(AppDefinition, CapRoverJsonLeavesOutOurFields) {
  json out = to_caprover_json(full_app());
  for (const char* key : {"rateLimit", "cache", "headerPolicy", "appPushWebhook", "httpAuth"}) {
    EXPECT_FALSE(out.contains(key)) << key;
  }
  EXPECT_FALSE(out["versions"][0].contains("imageName"));
}

TEST(AppDefinition, CapRoverJsonHasTheFieldsTheCliReads) {
  // caprover CLI: deploy reads appName; updateConfigAndSave echoes these back.
  json out = to_caprover_json(full_app());
  for (const char* key : {"appName", "instanceCount", "envVars", "notExposeAsWebApp", "forceSsl",
                          "volumes", "ports", "nodeId", "customNginxConfig", "preDeployFunction"}) {
    EXPECT_TRUE(out.contains(key)) << key;
  }
}

TEST(AppDefinition, StorageRoundTrip) {
  AppDefinition app = full_app();
  auto back = from_json(to_json(app));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, app);

  auto from_text = from_json_text(to_json(app).dump());
  ASSERT_TRUE(from_text);
  EXPECT_EQ(*from_text, app);
}

TEST(AppDefinition, StorageRoundTripOfDefaults) {
  AppDefinition app = make_app_definition("x", false);
  auto back = from_json(to_json(app));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, app);
  EXPECT_TRUE(to_json(app)["rateLimit"].is_null());
}

TEST(AppDefinition, StorageKeepsOurFields) {
  json stored = to_json(full_app());
  EXPECT_EQ(stored["rateLimit"], "10r/s");
  EXPECT_EQ(stored["cache"], true);
  EXPECT_EQ(stored["headerPolicy"], "strict");
  EXPECT_EQ(stored["versions"][1]["imageName"], "nginx:1.26");
}

TEST(AppDefinition, MissingFieldsTakeDefaults) {
  auto app = from_json(json{{"appName", "old"}});
  ASSERT_TRUE(app);
  EXPECT_EQ(*app, make_app_definition("old", false));
}

// Found by fuzz_app_update: a definition with a deploy token but "enabled": false (a backup,
// a hand-edited row) read back with the token, and stored again without it.
TEST(AppDefinition, ADisabledDeployTokenReadsAsNoToken) {
  auto app = from_json(json{
      {"appName", "web"},
      {"appDeployTokenConfig", {{"enabled", false}, {"appDeployToken", "0123456789abcdef0123"}}}});
  ASSERT_TRUE(app) << app.error();
  EXPECT_FALSE(app->deploy_token_enabled);
  EXPECT_EQ(app->deploy_token, "");
  auto again = from_json(to_json(*app));
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(*again, *app);
}

TEST(AppDefinition, ReadsCapRoverOwnJson) {
  // CapRover's shape (extra fields included) reads as storage too: an import path.
  auto app = from_json(to_caprover_json(full_app()));
  ASSERT_TRUE(app) << app.error();
  EXPECT_EQ(app->instance_count, 2);
  EXPECT_EQ(app->custom_domain, full_app().custom_domain);
}

TEST(AppDefinition, WrongTypesAreErrorsNotExceptions) {
  EXPECT_EQ(from_json(json{{"instanceCount", "2"}}).error(), "instanceCount must be an integer");
  EXPECT_EQ(from_json(json{{"instanceCount", 2.5}}).error(), "instanceCount must be an integer");
  EXPECT_EQ(from_json(json{{"instanceCount", json::parse("18446744073709551615")}}).error(),
            "instanceCount must be an integer");
  EXPECT_EQ(from_json(json{{"forceSsl", 1}}).error(), "forceSsl must be a boolean");
  EXPECT_EQ(from_json(json{{"appName", 1}}).error(), "appName must be a string");
  EXPECT_EQ(from_json(json{{"envVars", json::object()}}).error(), "envVars must be an array");
  EXPECT_EQ(from_json(json{{"envVars", json::array({1})}}).error(), "envVars[0] must be an object");
  EXPECT_EQ(from_json(json{{"versions", json::array({{{"version", "1"}}})}}).error(),
            "versions[0].version must be an integer");
  EXPECT_EQ(from_json(json::array()).error(), "app definition must be a JSON object");
  EXPECT_EQ(from_json_text("{not json").error(), "app definition is not valid JSON");
}

}  // namespace
}  // namespace captain::apps
