// controller/swarm/service_spec: the Docker Engine API v1.41 ServiceSpec for an app, checked
// against a golden literal and against the Engine API's own swagger definitions.
#include "controller/swarm/service_spec.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace captain::swarm {
namespace {

using nlohmann::json;

apps::AppDefinition full_app() {
  apps::AppDefinition app = apps::make_app_definition("shop", true);
  app.instance_count = 3;
  app.env_vars = {{"DB_HOST", "srv-captain--db"}, {"GREETING", "a=b c"}};
  app.volumes = {{"/data", "shop-data", std::nullopt}, {"/etc/shop", std::nullopt, "/srv/shop"}};
  app.ports = {{8080, 18080}, {9090, 19090}};
  return app;
}

ServiceSpecInputs full_inputs() {
  ServiceSpecInputs in;
  in.image = "registry.example.com:996/captain/img-captain--shop:7";
  in.version = 7;
  return in;
}

TEST(ServiceSpec, ServiceNameHasCapRoversPrefix) {
  EXPECT_EQ(service_name("shop"), "srv-captain--shop");
  EXPECT_EQ(volume_name("shop-data"), "captain--shop-data");
}

TEST(ServiceSpec, GoldenFullApp) {
  const json expected = json::parse(R"json({
    "Name": "srv-captain--shop",
    "Labels": {
      "com.caprover.managed": "true",
      "captain.app": "shop",
      "captain.version": "7"
    },
    "TaskTemplate": {
      "ContainerSpec": {
        "Image": "registry.example.com:996/captain/img-captain--shop:7",
        "Labels": {
          "com.caprover.managed": "true",
          "captain.app": "shop",
          "captain.version": "7"
        },
        "Env": ["DB_HOST=srv-captain--db", "GREETING=a=b c"],
        "Mounts": [
          {"Type": "volume", "Source": "captain--shop-data", "Target": "/data", "ReadOnly": false},
          {"Type": "bind", "Source": "/srv/shop", "Target": "/etc/shop", "ReadOnly": false}
        ]
      },
      "RestartPolicy": {"Condition": "any", "Delay": 5000000000, "MaxAttempts": 0},
      "Networks": [
        {"Target": "captain-overlay-network", "Aliases": ["srv-captain--shop"]}
      ]
    },
    "Mode": {"Replicated": {"Replicas": 3}},
    "UpdateConfig": {
      "Parallelism": 1,
      "Order": "stop-first",
      "FailureAction": "rollback",
      "Monitor": 15000000000,
      "MaxFailureRatio": 0.0
    },
    "RollbackConfig": {"Parallelism": 1, "Order": "stop-first", "FailureAction": "pause"},
    "EndpointSpec": {
      "Mode": "vip",
      "Ports": [
        {"Protocol": "tcp", "TargetPort": 8080, "PublishedPort": 18080, "PublishMode": "ingress"},
        {"Protocol": "tcp", "TargetPort": 9090, "PublishedPort": 19090, "PublishMode": "ingress"}
      ]
    }
  })json");
  const json actual = build_service_spec(full_app(), full_inputs());
  EXPECT_EQ(actual, expected) << "actual:\n" << actual.dump(2);
  // Env order is the app's order, not sorted.
  EXPECT_EQ(actual["TaskTemplate"]["ContainerSpec"]["Env"][0], "DB_HOST=srv-captain--db");
}

TEST(ServiceSpec, StartFirstWithoutVolumesStopFirstWithVolumes) {
  apps::AppDefinition app = full_app();
  json spec = build_service_spec(app, full_inputs());
  EXPECT_EQ(spec["UpdateConfig"]["Order"], "stop-first");
  EXPECT_EQ(spec["RollbackConfig"]["Order"], "stop-first");

  app.volumes.clear();
  spec = build_service_spec(app, full_inputs());
  EXPECT_EQ(spec["UpdateConfig"]["Order"], "start-first");
  EXPECT_EQ(spec["RollbackConfig"]["Order"], "start-first");
  EXPECT_EQ(spec["TaskTemplate"]["ContainerSpec"]["Mounts"], json::array());

  // A single bind mount counts as a volume too.
  app.volumes = {{"/x", std::nullopt, "/srv/x"}};
  spec = build_service_spec(app, full_inputs());
  EXPECT_EQ(spec["UpdateConfig"]["Order"], "stop-first");
}

TEST(ServiceSpec, ScaleZeroKeepsTheServiceWithZeroReplicas) {
  apps::AppDefinition app = full_app();
  app.instance_count = 0;
  const json spec = build_service_spec(app, full_inputs());
  ASSERT_TRUE(spec["Mode"]["Replicated"]["Replicas"].is_number_integer());
  EXPECT_EQ(spec["Mode"]["Replicated"]["Replicas"], 0);
}

TEST(ServiceSpec, CustomNetworkAndNoPorts) {
  apps::AppDefinition app = apps::make_app_definition("bare", false);
  ServiceSpecInputs in = full_inputs();
  in.network = "other-net";
  const json spec = build_service_spec(app, in);
  EXPECT_EQ(spec["TaskTemplate"]["Networks"],
            json::parse(R"([{"Target": "other-net", "Aliases": ["srv-captain--bare"]}])"));
  EXPECT_EQ(spec["EndpointSpec"]["Ports"], json::array());
  EXPECT_EQ(spec["Mode"]["Replicated"]["Replicas"], 1);
  EXPECT_EQ(spec["Labels"]["captain.app"], "bare");
}

TEST(ServiceSpec, PublishedHttpPortIsHostModeWithADockerChosenPort) {
  apps::AppDefinition app = apps::make_app_definition("web", false);
  app.container_http_port = 8080;
  ServiceSpecInputs in = full_inputs();
  in.publish_http_port = true;
  EXPECT_EQ(build_service_spec(app, in)["EndpointSpec"]["Ports"],
            json::parse(R"([{"Protocol": "tcp", "TargetPort": 8080, "PublishMode": "host"}])"));
  app.not_expose_as_web_app = true;  // nothing for nginx to reach
  EXPECT_EQ(build_service_spec(app, in)["EndpointSpec"]["Ports"], json::array());
}

TEST(ServiceSpec, HealthcheckAndResourcesOnlyWhenGiven) {
  ServiceSpecInputs in = full_inputs();
  json spec = build_service_spec(full_app(), in);
  EXPECT_FALSE(spec["TaskTemplate"]["ContainerSpec"].contains("HealthCheck"));
  EXPECT_FALSE(spec["TaskTemplate"].contains("Resources"));

  in.healthcheck = Healthcheck{{"CMD-SHELL", "curl -fsS http://localhost/ || exit 1"},
                               10 * kNanosPerSecond,
                               3 * kNanosPerSecond,
                               20 * kNanosPerSecond,
                               4};
  in.resources = ResourceLimits{1'500'000'000, 256LL * 1024 * 1024};
  spec = build_service_spec(full_app(), in);
  EXPECT_EQ(spec["TaskTemplate"]["ContainerSpec"]["HealthCheck"], json::parse(R"({
    "Test": ["CMD-SHELL", "curl -fsS http://localhost/ || exit 1"],
    "Interval": 10000000000, "Timeout": 3000000000, "StartPeriod": 20000000000, "Retries": 4
  })"));
  EXPECT_EQ(spec["TaskTemplate"]["Resources"],
            json::parse(R"({"Limits": {"NanoCPUs": 1500000000, "MemoryBytes": 268435456}})"));

  // Only the limits that are set are sent.
  in.resources = ResourceLimits{std::nullopt, 1024};
  spec = build_service_spec(full_app(), in);
  EXPECT_EQ(spec["TaskTemplate"]["Resources"], json::parse(R"({"Limits": {"MemoryBytes": 1024}})"));
}

// --- Schema check against the Docker Engine API v1.41 swagger definitions ---------------------

// The spec lives in the team kit beside the repository, not in it.
std::optional<std::filesystem::path> find_api_spec(std::vector<std::string>& tried) {
  std::vector<std::filesystem::path> candidates;
  if (const char* env = std::getenv("CAPTAIN_DOCKER_API_SPEC"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  }
  // <repo>/tests/unit/controller/service_spec_test.cpp -> <repo>/../shared/reference/...
  const std::filesystem::path repo =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
  candidates.push_back(repo.parent_path() / "shared/reference/docker-engine-api-v1.41.yaml");
  candidates.emplace_back("/work/shared/reference/docker-engine-api-v1.41.yaml");
  for (const auto& c : candidates) {
    tried.push_back(c.string());
    std::error_code ec;
    if (std::filesystem::is_regular_file(c, ec)) return c;
  }
  return std::nullopt;
}

// A schema node with $ref and allOf folded in: its type, properties, items and
// additionalProperties schemas.
struct FlatSchema {
  std::optional<std::string> type;
  std::map<std::string, YAML::Node> properties;
  std::vector<YAML::Node> items;
  std::vector<YAML::Node> additional;
  bool any_additional = false;  // additionalProperties: true
};

class SchemaChecker {
 public:
  explicit SchemaChecker(YAML::Node root) : root_(std::move(root)) {}

  // Every problem found, each naming the JSON path; empty when `value` fits `definition`.
  std::vector<std::string> check(const json& value, const std::string& definition) const {
    std::vector<std::string> errors;
    check_node(value, root_["definitions"][definition], definition, errors);
    return errors;
  }

 private:
  YAML::Node resolve(const std::string& ref) const {
    const std::string prefix = "#/definitions/";
    if (ref.rfind(prefix, 0) != 0) return YAML::Node();
    return root_["definitions"][ref.substr(prefix.size())];
  }

  void flatten(const YAML::Node& node, FlatSchema& flat, int depth = 0) const {
    if (!node || !node.IsMap() || depth > 32) return;
    if (node["$ref"]) flatten(resolve(node["$ref"].as<std::string>()), flat, depth + 1);
    if (node["allOf"]) {
      for (const auto& part : node["allOf"]) flatten(part, flat, depth + 1);
    }
    if (node["type"] && !flat.type) flat.type = node["type"].as<std::string>();
    if (node["properties"]) {
      for (const auto& kv : node["properties"]) {
        flat.properties.emplace(kv.first.as<std::string>(), kv.second);
      }
    }
    if (node["items"]) flat.items.push_back(node["items"]);
    if (const YAML::Node ap = node["additionalProperties"]) {
      if (ap.IsMap()) {
        flat.additional.push_back(ap);
      } else if (ap.IsScalar() && ap.as<std::string>() == "true") {
        flat.any_additional = true;
      }
    }
  }

  static bool type_matches(const json& v, const std::string& type) {
    if (type == "integer") return v.is_number_integer();
    if (type == "number") return v.is_number();
    if (type == "string") return v.is_string();
    if (type == "boolean") return v.is_boolean();
    if (type == "array") return v.is_array();
    if (type == "object") return v.is_object();
    return false;
  }

  void check_node(const json& value, const YAML::Node& schema, const std::string& path,
                  std::vector<std::string>& errors) const {
    if (!schema) {
      errors.push_back(path + ": no schema");
      return;
    }
    FlatSchema flat;
    flatten(schema, flat);
    if (flat.type && !type_matches(value, *flat.type)) {
      errors.push_back(path + ": JSON " + value.type_name() + " where the schema says " +
                       *flat.type);
      return;
    }
    if (value.is_object()) {
      for (const auto& [key, child] : value.items()) {
        const std::string child_path = path + "." + key;
        if (auto it = flat.properties.find(key); it != flat.properties.end()) {
          check_node(child, it->second, child_path, errors);
        } else if (!flat.additional.empty()) {
          check_node(child, flat.additional.front(), child_path, errors);
        } else if (!flat.any_additional) {
          errors.push_back(child_path + ": key not in the schema");
        }
      }
    } else if (value.is_array() && !flat.items.empty()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        check_node(value[i], flat.items.front(), path + "[" + std::to_string(i) + "]", errors);
      }
    }
  }

  YAML::Node root_;
};

class ServiceSpecSchema : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> tried;
    const auto path = find_api_spec(tried);
    if (!path) {
      std::string msg =
          "Docker Engine API v1.41 spec not found; set CAPTAIN_DOCKER_API_SPEC. Tried:";
      for (const auto& t : tried) msg += "\n  " + t;
      load_error_ = new std::string(msg);
      return;
    }
    root_ = new YAML::Node(YAML::LoadFile(path->string()));
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
    delete load_error_;
    load_error_ = nullptr;
  }
  void SetUp() override {
    if (root_ == nullptr) {
      FAIL() << (load_error_ != nullptr ? *load_error_ : std::string("spec not loaded"));
    }
    ASSERT_TRUE((*root_)["definitions"]["ServiceSpec"]) << "no ServiceSpec definition";
  }

  static std::vector<std::string> check(const json& spec) {
    return SchemaChecker(*root_).check(spec, "ServiceSpec");
  }

  static YAML::Node* root_;
  static std::string* load_error_;
};

YAML::Node* ServiceSpecSchema::root_ = nullptr;
std::string* ServiceSpecSchema::load_error_ = nullptr;

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

TEST_F(ServiceSpecSchema, FullSpecFitsTheEngineApi) {
  ServiceSpecInputs in = full_inputs();
  in.healthcheck = Healthcheck{{"CMD", "true"}, kNanosPerSecond, kNanosPerSecond, 0, 3};
  in.resources = ResourceLimits{500'000'000, 64LL * 1024 * 1024};
  const auto errors = check(build_service_spec(full_app(), in));
  EXPECT_TRUE(errors.empty()) << joined(errors);
}

TEST_F(ServiceSpecSchema, MinimalSpecFitsTheEngineApi) {
  const auto errors = check(build_service_spec(apps::make_app_definition("bare", false), {}));
  EXPECT_TRUE(errors.empty()) << joined(errors);
}

TEST_F(ServiceSpecSchema, CatchesAMisspelledKey) {
  json spec = build_service_spec(full_app(), full_inputs());
  spec["Mode"]["Replicated"].erase("Replicas");
  spec["Mode"]["Replicated"]["Replicaz"] = 3;
  const auto errors = check(spec);
  ASSERT_EQ(errors.size(), 1u) << joined(errors);
  EXPECT_EQ(errors[0], "ServiceSpec.Mode.Replicated.Replicaz: key not in the schema");
}

TEST_F(ServiceSpecSchema, CatchesAMisspelledKeyBehindARef) {
  // Mounts items are `$ref: #/definitions/Mount`; Type goes through allOf.
  json spec = build_service_spec(full_app(), full_inputs());
  spec["TaskTemplate"]["ContainerSpec"]["Mounts"][0]["Targett"] = "/x";
  const auto errors = check(spec);
  ASSERT_EQ(errors.size(), 1u) << joined(errors);
  EXPECT_EQ(errors[0],
            "ServiceSpec.TaskTemplate.ContainerSpec.Mounts[0].Targett: key not in the schema");
}

TEST_F(ServiceSpecSchema, CatchesAWrongType) {
  json spec = build_service_spec(full_app(), full_inputs());
  spec["Mode"]["Replicated"]["Replicas"] = "3";
  spec["Labels"]["captain.version"] = 7;
  spec["TaskTemplate"]["ContainerSpec"]["Mounts"][1]["Type"] = 1;
  const auto errors = check(spec);
  EXPECT_EQ(errors.size(), 3u) << joined(errors);
  EXPECT_NE(
      joined(errors).find("Mode.Replicated.Replicas: JSON string where the schema says integer"),
      std::string::npos)
      << joined(errors);
  EXPECT_NE(joined(errors).find("Labels.captain.version: JSON number"), std::string::npos)
      << joined(errors);
  EXPECT_NE(joined(errors).find("Mounts[1].Type: JSON number where the schema says string"),
            std::string::npos)
      << joined(errors);
}

}  // namespace
}  // namespace captain::swarm
