// controller/apps/validation: every field rule at its boundaries, and applying update bodies.
#include <gtest/gtest.h>

#include <string>

#include "controller/apps/validation.h"

namespace captain::apps {
namespace {

using nlohmann::json;

// The error's field and message, for one-line assertions.
template <class T>
std::string error_of(const Validated<T>& result) {
  if (result) return "<valid>";
  return result.error().field + ": " + result.error().message;
}

TEST(ValidateAppName, AcceptsAndReturnsTheName) {
  auto name = validate_app_name("my-app");
  ASSERT_TRUE(name);
  EXPECT_EQ(*name, "my-app");
}

TEST(ValidateAppName, ErrorNamesTheField) {
  EXPECT_EQ(error_of(validate_app_name("My-App")),
            "appName: appName may contain only lowercase letters, digits and hyphens");
  EXPECT_TRUE(validate_app_name(std::string(49, 'x')));
  EXPECT_FALSE(validate_app_name(std::string(50, 'x')));
  EXPECT_FALSE(validate_app_name("captain-nginx"));
}

TEST(ValidateInstanceCount, BoundariesZeroAndFifty) {
  EXPECT_EQ(*validate_instance_count(json(0)), 0);
  EXPECT_EQ(*validate_instance_count(json(1)), 1);
  EXPECT_EQ(*validate_instance_count(json(50)), 50);
  EXPECT_EQ(error_of(validate_instance_count(json(51))),
            "instanceCount: instanceCount must be an integer from 0 to 50");
  EXPECT_FALSE(validate_instance_count(json(-1)));
}

TEST(ValidateInstanceCount, RefusesNonIntegers) {
  for (const json& v : {json(2.5), json(3.0), json("3"), json(true), json(nullptr), json::array(),
                        json::object(), json(1e300)}) {
    EXPECT_FALSE(validate_instance_count(v)) << v.dump();
  }
}

TEST(ValidateInstanceCount, RefusesHugeNumbersWithoutWrapping) {
  EXPECT_FALSE(validate_instance_count(json::parse("18446744073709551615")));
  EXPECT_FALSE(validate_instance_count(json::parse("4294967297")));
  EXPECT_FALSE(validate_instance_count(json::parse("-9223372036854775808")));
}

TEST(ValidateEnvVar, AcceptsPosixNames) {
  for (const char* key : {"A", "_", "PATH", "my_var", "_X1", "a1_B2"}) {
    EXPECT_TRUE(validate_env_var(key, "v")) << key;
  }
}

TEST(ValidateEnvVar, TrimsTheKeyLikeCapRover) {
  auto env = validate_env_var("  FOO\t", " bar ");
  ASSERT_TRUE(env);
  EXPECT_EQ(env->key, "FOO");
  EXPECT_EQ(env->value, " bar ");  // values are kept byte for byte
}

TEST(ValidateEnvVar, RefusesBadKeys) {
  EXPECT_EQ(error_of(validate_env_var("", "v", "envVars[3]")),
            "envVars[3].key: envVars[3].key must not be empty");
  EXPECT_EQ(error_of(validate_env_var("1ABC", "v")),
            "envVars.key: envVars.key must start with a letter or '_'");
  for (const char* key : {"A-B", "A.B", "A B", "A=B", "\xc3\xa9"}) {
    EXPECT_FALSE(validate_env_var(key, "v")) << key;
  }
}

TEST(ValidateEnvVar, KeyLengthBoundary) {
  EXPECT_TRUE(validate_env_var(std::string(256, 'K'), ""));
  EXPECT_FALSE(validate_env_var(std::string(257, 'K'), ""));
}

TEST(ValidateEnvVar, ValueBoundsAndNul) {
  EXPECT_TRUE(validate_env_var("K", std::string(64 * 1024, 'v')));
  EXPECT_FALSE(validate_env_var("K", std::string(64 * 1024 + 1, 'v')));
  EXPECT_EQ(error_of(validate_env_var("K", std::string("a\0b", 3))),
            "envVars.value: envVars.value must not contain NUL characters");
  EXPECT_TRUE(validate_env_var("K", "line1\nline2 = \"quoted\" $HOME"));
}

TEST(ValidateImageReference, AcceptsDockerReferences) {
  for (const char* ref : {
           "nginx",
           "nginx:1.25",
           "nginx:latest",
           "library/nginx",
           "docker.io/library/nginx:1.25-alpine",
           "ghcr.io/owner/repo/sub:v1.2.3",
           "localhost/app",
           "localhost:5000/app:dev",
           "registry.example.com:5000/team/app",
           "10.0.0.1:5000/app",
           "[::1]:5000/app",
           "my-registry.local/a__b/c.d/e--f:Tag_1.0-rc",
           "captain/app-x:3",
           "Registry.Example.com/app",
           "img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
           "img:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
       }) {
    EXPECT_TRUE(validate_image_reference(ref))
        << ref << " " << error_of(validate_image_reference(ref));
  }
}

TEST(ValidateImageReference, RefusesMalformedReferences) {
  for (const char* ref : {
           "",
           "Nginx",       // capitals in a path
           "nginx:",      // empty tag
           ":tag",        // no name
           "nginx:-tag",  // tag must start with a word character
           "nginx::tag",
           "a//b",  // empty path component
           "/nginx",
           "nginx/",
           "a___b",  // three underscores
           "a..b",   // two dots
           "-a",
           "a-",
           "a_",
           "my image",
           "nginx@sha256:abc",  // short digest
           "nginx@md5:0123456789abcdef0123456789abcdef",
           "img@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
           "-registry.com/app",      // bad host
           "registry.com:port/app",  // non-numeric port
           "[::1/app",
       }) {
    EXPECT_FALSE(validate_image_reference(ref)) << ref;
  }
}

TEST(ValidateImageReference, TagLengthBoundary) {
  EXPECT_TRUE(validate_image_reference("app:" + std::string(128, 't')));
  EXPECT_FALSE(validate_image_reference("app:" + std::string(129, 't')));
}

TEST(ValidateImageReference, NameLengthBoundary) {
  // 255 characters of name, tag and digest not counted.
  std::string name = std::string(127, 'a') + "/" + std::string(127, 'b');
  ASSERT_EQ(name.size(), 255u);
  EXPECT_TRUE(validate_image_reference(name + ":tag"));
  EXPECT_EQ(error_of(validate_image_reference(name + "b")),
            "imageName: imageName has a repository name longer than 255 characters");
}

TEST(ValidateImageReference, ErrorsSayWhatIsWrong) {
  EXPECT_NE(error_of(validate_image_reference("app:")).find("invalid tag"), std::string::npos);
  EXPECT_NE(error_of(validate_image_reference("app@sha256:1")).find("digest"), std::string::npos);
  EXPECT_NE(error_of(validate_image_reference("App")).find("repository path"), std::string::npos);
}

TEST(ValidateDomain, LowercasesOnInput) {
  auto domain = validate_domain("WWW.Example.COM");
  ASSERT_TRUE(domain);
  EXPECT_EQ(*domain, "www.example.com");
}

TEST(ValidateDomain, ErrorsNameTheField) {
  EXPECT_EQ(error_of(validate_domain("example.com.")),
            "customDomain: customDomain must not end with a dot");
  EXPECT_EQ(validate_domain("x", "publicDomain").error().field, "publicDomain");
  EXPECT_TRUE(validate_domain(std::string(63, 'A') + ".com"));
  EXPECT_FALSE(validate_domain(std::string(64, 'A') + ".com"));
}

TEST(ValidatePort, Boundaries) {
  EXPECT_FALSE(validate_port(json(0), "hostPort"));
  EXPECT_EQ(*validate_port(json(1), "hostPort"), 1);
  EXPECT_EQ(*validate_port(json(65535), "hostPort"), 65535);
  EXPECT_EQ(error_of(validate_port(json(65536), "hostPort")),
            "hostPort: hostPort must be an integer from 1 to 65535");
  EXPECT_FALSE(validate_port(json(-80), "hostPort"));
}

TEST(ValidatePort, RefusesNonIntegers) {
  for (const json& v : {json("80"), json(80.0), json(80.5), json(false), json(nullptr)}) {
    EXPECT_FALSE(validate_port(v, "containerPort")) << v.dump();
  }
}

TEST(ValidateAbsolutePath, AcceptsAbsolutePaths) {
  for (const char* p : {"/", "/data", "/var/lib/app/", "/a/./b", "/a/..b/c", "/a/b..", "/..."}) {
    EXPECT_TRUE(validate_absolute_path(p, "containerPath")) << p;
  }
}

TEST(ValidateAbsolutePath, RefusesRelativeDotDotAndNul) {
  EXPECT_EQ(error_of(validate_absolute_path("data", "containerPath")),
            "containerPath: containerPath must be an absolute path (start with '/')");
  EXPECT_EQ(error_of(validate_absolute_path("/a/../etc", "hostPath")),
            "hostPath: hostPath must not contain \"..\" segments");
  EXPECT_FALSE(validate_absolute_path("/..", "hostPath"));
  EXPECT_FALSE(validate_absolute_path("/a/..", "hostPath"));
  EXPECT_FALSE(validate_absolute_path("", "hostPath"));
  EXPECT_FALSE(validate_absolute_path(std::string("/a\0b", 4), "hostPath"));
}

TEST(ValidateAbsolutePath, LengthBoundary) {
  EXPECT_TRUE(validate_absolute_path("/" + std::string(4095, 'a'), "hostPath"));
  EXPECT_FALSE(validate_absolute_path("/" + std::string(4096, 'a'), "hostPath"));
}

TEST(ValidateVolumeName, DockerRule) {
  for (const char* n : {"a", "data", "My.Volume", "my_volume-1", "0abc", "a..b", "a-"}) {
    EXPECT_TRUE(validate_volume_name(n)) << n;
  }
  for (const char* n : {"", "-a", ".a", "_a", "a b", "a/b", "a:b", "a@b"}) {
    EXPECT_FALSE(validate_volume_name(n)) << n;
  }
  EXPECT_TRUE(validate_volume_name(std::string(255, 'v')));
  EXPECT_FALSE(validate_volume_name(std::string(256, 'v')));
}

TEST(ValidateRateLimit, AcceptsNginxStyleRates) {
  for (const char* r : {"10r/s", "1r/m", "100r/5m", "5r/15m", "20r/ms", "3r/h", "1000000r/d"}) {
    EXPECT_TRUE(validate_rate_limit(r)) << r;
  }
}

TEST(ValidateRateLimit, RefusesOtherSpellings) {
  for (const char* r : {"", "10", "r/s", "0r/s", "10r/", "10r/x", "10 r/s", "10r/0s", "-1r/s",
                        "1000001r/s", "10r/s ", "99999999999r/s", "10R/s"}) {
    EXPECT_FALSE(validate_rate_limit(r)) << r;
  }
}

AppDefinition sample_app() {
  return make_app_definition("my-app", false);
}

Validated<AppDefinition> update(const json& body) {
  return apply_update(sample_app(), body);
}

TEST(ApplyUpdate, EmptyBodyChangesNothing) {
  auto app = update(json::object());
  ASSERT_TRUE(app);
  EXPECT_EQ(*app, sample_app());
}

TEST(ApplyUpdate, RefusesANonObjectBody) {
  EXPECT_FALSE(update(json::array()));
  EXPECT_FALSE(update(json("x")));
}

TEST(ApplyUpdate, AppliesWhatTheCliSends) {
  // The body ApiManager.updateConfigAndSave builds (undefined fields are dropped by JSON).
  json body = json::parse(R"({
    "appName": "my-app", "instanceCount": 3, "notExposeAsWebApp": false, "forceSsl": false,
    "volumes": [{"containerPath": "/data", "volumeName": "my-app-data"},
                {"containerPath": "/etc/x", "hostPath": "/srv/x"}],
    "ports": [{"containerPort": 5432, "hostPort": 15432}],
    "nodeId": "", "envVars": [{"key": "A", "value": "1"}, {"key": "B", "value": ""}],
    "customNginxConfig": "", "preDeployFunction": "", "appPushWebhook": null
  })");
  auto app = update(body);
  ASSERT_TRUE(app) << error_of(app);
  EXPECT_EQ(app->instance_count, 3);
  ASSERT_EQ(app->volumes.size(), 2u);
  EXPECT_EQ(app->volumes[0].volume_name, "my-app-data");
  EXPECT_FALSE(app->volumes[0].host_path);
  EXPECT_EQ(app->volumes[1].host_path, "/srv/x");
  ASSERT_EQ(app->ports.size(), 1u);
  EXPECT_EQ(app->ports[0], (PortMapping{5432, 15432}));
  EXPECT_EQ(app->env_vars, (std::vector<EnvVar>{{"A", "1"}, {"B", ""}}));
}

TEST(ApplyUpdate, AbsentAndNullFieldsKeepTheirValues) {
  AppDefinition current = sample_app();
  current.instance_count = 4;
  current.env_vars = {{"KEEP", "me"}};
  current.description = "kept";
  auto app = apply_update(current, json{{"instanceCount", nullptr}, {"forceSsl", false}});
  ASSERT_TRUE(app);
  EXPECT_EQ(app->instance_count, 4);
  EXPECT_EQ(app->env_vars, current.env_vars);
  EXPECT_EQ(app->description, "kept");
}

TEST(ApplyUpdate, DeployTokenConfig) {
  // Enabled without a token: the API fills a random one; a given one is kept.
  auto app = update(json{{"appDeployTokenConfig", {{"enabled", true}}}});
  ASSERT_TRUE(app) << error_of(app);
  EXPECT_TRUE(app->deploy_token_enabled);
  EXPECT_EQ(app->deploy_token, "");
  app = update(json{{"appDeployTokenConfig",
                     {{"enabled", true}, {"appDeployToken", "0123456789abcdef0123"}}}});
  ASSERT_TRUE(app) << error_of(app);
  EXPECT_EQ(app->deploy_token, "0123456789abcdef0123");
  // Disabled: the token goes.
  AppDefinition current = *app;
  app = apply_update(current, json{{"appDeployTokenConfig", {{"enabled", false}}}});
  ASSERT_TRUE(app);
  EXPECT_FALSE(app->deploy_token_enabled);
  EXPECT_EQ(app->deploy_token, "");
  // Too short to be a secret, or not an object.
  EXPECT_EQ(update(json{{"appDeployTokenConfig", {{"enabled", true}, {"appDeployToken", "abc"}}}})
                .error()
                .field,
            "appDeployTokenConfig.appDeployToken");
  EXPECT_FALSE(update(json{{"appDeployTokenConfig", true}}));
}

TEST(ApplyUpdate, PushWebhook) {
  auto hook = [](json repo_info) { return json{{"appPushWebhook", {{"repoInfo", repo_info}}}}; };
  auto app = update(hook({{"repo", "https://github.com/o/r.git"}, {"branch", "main"},
                          {"user", "u"}, {"password", "p"}}));
  ASSERT_TRUE(app) << error_of(app);
  ASSERT_TRUE(app->push_webhook);
  EXPECT_EQ(app->push_webhook->repo_info.branch, "main");
  EXPECT_EQ(app->push_webhook->push_webhook_token, "");  // the API makes one
  // A public repository needs no credentials; scp-like SSH addresses are fine.
  EXPECT_TRUE(update(hook({{"repo", "git://127.0.0.1:9418/r.git"}, {"branch", "dev"}})));
  EXPECT_TRUE(update(hook({{"repo", "git@github.com:o/r.git"}, {"branch", "main"},
                           {"sshKey", "-----BEGIN OPENSSH PRIVATE KEY-----"}})));
  // Local paths and file:// would read the controller's own disk; options hide in branches.
  for (const char* repo : {"/srv/repo", "file:///srv/repo", "../repo", "ext::sh -c id"}) {
    EXPECT_EQ(update(hook({{"repo", repo}, {"branch", "main"}})).error().field,
              "appPushWebhook.repoInfo.repo")
        << repo;
  }
  for (const char* branch : {"", "--upload-pack=x", "a..b", "a b"}) {
    EXPECT_EQ(update(hook({{"repo", "https://h/r"}, {"branch", branch}})).error().field,
              "appPushWebhook.repoInfo.branch")
        << branch;
  }
  EXPECT_FALSE(update(hook({{"repo", "https://h/r"}, {"branch", "main"}, {"user", "u"}})));
  // The token survives a change of repository; an empty repository removes the webhook.
  AppDefinition current = *app;
  current.push_webhook->push_webhook_token = "t";
  auto moved = apply_update(current, hook({{"repo", "https://h/other"}, {"branch", "main"}}));
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->push_webhook->push_webhook_token, "t");
  auto removed = apply_update(current, hook({{"repo", ""}, {"branch", ""}}));
  ASSERT_TRUE(removed);
  EXPECT_FALSE(removed->push_webhook);
}

TEST(ApplyUpdate, UnknownFieldsAreIgnored) {
  auto app = update(json{{"somethingNew", 1}, {"httpAuth", {{"user", "x"}}}, {"versions", 7}});
  ASSERT_TRUE(app);
  EXPECT_EQ(*app, sample_app());
}

TEST(ApplyUpdate, AppNameMustMatch) {
  EXPECT_EQ(update(json{{"appName", "other"}}).error().field, "appName");
  EXPECT_EQ(update(json{{"appName", 5}}).error().message, "appName must be a string");
}

TEST(ApplyUpdate, InstanceCountMessage) {
  for (const json& v : {json(51), json(-1), json("2"), json(1.5), json(true)}) {
    auto app = update(json{{"instanceCount", v}});
    ASSERT_FALSE(app) << v.dump();
    EXPECT_EQ(app.error().field, "instanceCount");
    EXPECT_EQ(app.error().message, "instanceCount must be an integer from 0 to 50");
  }
  EXPECT_EQ(update(json{{"instanceCount", 0}})->instance_count, 0);
  EXPECT_EQ(update(json{{"instanceCount", 50}})->instance_count, 50);
}

TEST(ApplyUpdate, ContainerHttpPort) {
  EXPECT_EQ(update(json{{"containerHttpPort", 3000}})->container_http_port, 3000);
  EXPECT_EQ(update(json{{"containerHttpPort", 0}}).error().field, "containerHttpPort");
  EXPECT_EQ(update(json{{"containerHttpPort", 65536}}).error().field, "containerHttpPort");
  EXPECT_EQ(update(json{{"containerHttpPort", "80"}}).error().field, "containerHttpPort");
}

TEST(ApplyUpdate, BooleansMustBeBooleans) {
  for (const char* key : {"forceSsl", "websocketSupport", "notExposeAsWebApp", "cache"}) {
    auto app = update(json{{key, "true"}});
    ASSERT_FALSE(app) << key;
    EXPECT_EQ(app.error().message, std::string(key) + " must be true or false");
  }
  auto app = update(json{{"websocketSupport", true}, {"notExposeAsWebApp", true}, {"cache", true}});
  ASSERT_TRUE(app);
  EXPECT_TRUE(app->websocket_support);
  EXPECT_TRUE(app->not_expose_as_web_app);
  EXPECT_TRUE(app->cache);
}

TEST(ApplyUpdate, StringsMustBeStrings) {
  EXPECT_EQ(update(json{{"description", 1}}).error().message, "description must be a string");
  EXPECT_EQ(update(json{{"nodeId", false}}).error().field, "nodeId");
  EXPECT_EQ(update(json{{"headerPolicy", json::array()}}).error().field, "headerPolicy");
  EXPECT_EQ(update(json{{"captainDefinitionRelativeFilePath", 3}}).error().field,
            "captainDefinitionRelativeFilePath");
}

TEST(ApplyUpdate, DescriptionBounds) {
  EXPECT_TRUE(update(json{{"description", std::string(8192, 'd')}}));
  EXPECT_FALSE(update(json{{"description", std::string(8193, 'd')}}));
  EXPECT_FALSE(update(json{{"description", std::string("a\0b", 3)}}));
}

TEST(ApplyUpdate, EnvVarsErrorsCarryTheIndex) {
  auto app = update(json{{"envVars", json::array({{{"key", "OK"}, {"value", "1"}},
                                                  {{"key", "BAD-KEY"}, {"value", "2"}}})}});
  ASSERT_FALSE(app);
  EXPECT_EQ(app.error().field, "envVars[1].key");
  EXPECT_EQ(update(json{{"envVars", "A=1"}}).error().message, "envVars must be an array");
  EXPECT_EQ(update(json{{"envVars", json::array({"A=1"})}}).error().message,
            "envVars[0] must be an object");
  EXPECT_EQ(update(json{{"envVars", json::array({{{"key", "A"}, {"value", 1}}})}}).error().message,
            "envVars[0].value must be a string");
}

TEST(ApplyUpdate, EnvVarsBlankRowsDroppedDuplicatesRefused) {
  auto app = update(json{
      {"envVars", json::array({{{"key", ""}, {"value", ""}}, {{"key", " A "}, {"value", "x"}}})}});
  ASSERT_TRUE(app);
  EXPECT_EQ(app->env_vars, (std::vector<EnvVar>{{"A", "x"}}));
  auto dup = update(json{
      {"envVars", json::array({{{"key", "A"}, {"value", "1"}}, {{"key", "A"}, {"value", "2"}}})}});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().field, "envVars[1].key");
  // A value without a key is not blank: the key is missing.
  EXPECT_EQ(update(json{{"envVars", json::array({{{"key", ""}, {"value", "v"}}})}}).error().field,
            "envVars[0].key");
}

TEST(ApplyUpdate, EnvVarsCountBound) {
  json many = json::array();
  for (int i = 0; i < 1000; ++i) many.push_back({{"key", "K" + std::to_string(i)}, {"value", ""}});
  EXPECT_TRUE(update(json{{"envVars", many}}));
  many.push_back({{"key", "ONE_MORE"}, {"value", ""}});
  EXPECT_EQ(update(json{{"envVars", many}}).error().message,
            "envVars must have at most 1000 entries");
}

TEST(ApplyUpdate, VolumeRules) {
  auto vol = [](json v) { return update(json{{"volumes", json::array({std::move(v)})}}); };
  EXPECT_EQ(vol({{"containerPath", "data"}, {"volumeName", "v"}}).error().field,
            "volumes[0].containerPath");
  EXPECT_EQ(vol({{"containerPath", "/data"}, {"volumeName", "-v"}}).error().field,
            "volumes[0].volumeName");
  EXPECT_EQ(vol({{"containerPath", "/data"}, {"hostPath", "srv"}}).error().field,
            "volumes[0].hostPath");
  EXPECT_EQ(vol({{"containerPath", "/data"}, {"hostPath", "/a/../etc"}}).error().field,
            "volumes[0].hostPath");
  EXPECT_EQ(
      vol({{"containerPath", "/data"}, {"volumeName", "v"}, {"hostPath", "/srv"}}).error().message,
      "volumes[0] must have either volumeName or hostPath, not both");
  EXPECT_EQ(vol({{"containerPath", "/data"}}).error().message,
            "volumes[0] needs a volumeName or a hostPath");
  EXPECT_EQ(vol({{"containerPath", 1}, {"volumeName", "v"}}).error().message,
            "volumes[0].containerPath must be a string");
  // Trimmed like CapRover; blank rows dropped.
  auto trimmed = vol({{"containerPath", " /data "}, {"volumeName", " v "}});
  ASSERT_TRUE(trimmed);
  EXPECT_EQ(trimmed->volumes[0], (Volume{"/data", "v", std::nullopt}));
  EXPECT_TRUE(vol({{"containerPath", ""}, {"volumeName", ""}})->volumes.empty());
}

TEST(ApplyUpdate, DuplicateMountPointRefused) {
  auto app =
      update(json{{"volumes", json::array({{{"containerPath", "/d"}, {"volumeName", "a"}},
                                           {{"containerPath", "/d"}, {"volumeName", "b"}}})}});
  ASSERT_FALSE(app);
  EXPECT_EQ(app.error().field, "volumes[1].containerPath");
}

TEST(ApplyUpdate, PortRules) {
  auto port = [](json p) { return update(json{{"ports", json::array({std::move(p)})}}); };
  EXPECT_EQ(port({{"containerPort", 0}, {"hostPort", 80}}).error().field, "ports[0].containerPort");
  EXPECT_EQ(port({{"containerPort", 80}, {"hostPort", 65536}}).error().message,
            "ports[0].hostPort must be an integer from 1 to 65535");
  EXPECT_EQ(port({{"containerPort", 80}}).error().message, "ports[0].hostPort is missing");
  EXPECT_EQ(port({{"containerPort", "80"}, {"hostPort", 80}}).error().field,
            "ports[0].containerPort");
  EXPECT_TRUE(port({{"containerPort", 1}, {"hostPort", 65535}}));
  EXPECT_TRUE(port(json::object())->ports.empty());
  auto dup = update(json{{"ports", json::array({{{"containerPort", 1}, {"hostPort", 8080}},
                                                {{"containerPort", 2}, {"hostPort", 8080}}})}});
  EXPECT_EQ(dup.error().field, "ports[1].hostPort");
}

TEST(ApplyUpdate, Tags) {
  auto app = update(json{{"tags", json::array({{{"tagName", "web"}}, {{"tagName", "prod"}}})}});
  ASSERT_TRUE(app);
  EXPECT_EQ(app->tags, (std::vector<std::string>{"web", "prod"}));
  EXPECT_EQ(update(json{{"tags", json::array({{{"tagName", ""}}})}}).error().field,
            "tags[0].tagName");
  EXPECT_TRUE(update(json{{"tags", json::array({{{"tagName", std::string(64, 't')}}})}}));
  EXPECT_FALSE(update(json{{"tags", json::array({{{"tagName", std::string(65, 't')}}})}}));
  EXPECT_FALSE(update(json{{"tags", json::array({"web"})}}));
}

TEST(ApplyUpdate, CaptainDefinitionPath) {
  EXPECT_EQ(update(json{{"captainDefinitionRelativeFilePath", "./sub/captain-definition"}})
                ->captain_definition_relative_file_path,
            "./sub/captain-definition");
  EXPECT_EQ(update(json{{"captainDefinitionRelativeFilePath", ""}})
                ->captain_definition_relative_file_path,
            "./captain-definition");
  EXPECT_FALSE(update(json{{"captainDefinitionRelativeFilePath", "../../etc/passwd"}}));
  EXPECT_FALSE(update(json{{"captainDefinitionRelativeFilePath", "a/../../b"}}));
}

TEST(ApplyUpdate, NodeId) {
  EXPECT_EQ(update(json{{"nodeId", "abc123XYZ"}})->node_id, "abc123XYZ");
  EXPECT_EQ(update(json{{"nodeId", ""}})->node_id, "");
  EXPECT_FALSE(update(json{{"nodeId", "a b"}}));
}

TEST(ApplyUpdate, RateLimitSetAndCleared) {
  auto set = update(json{{"rateLimit", "10r/s"}});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->rate_limit, "10r/s");
  auto cleared = apply_update(*set, json{{"rateLimit", ""}});
  ASSERT_TRUE(cleared);
  EXPECT_FALSE(cleared->rate_limit);
  EXPECT_EQ(apply_update(*set, json{{"rateLimit", nullptr}})->rate_limit, "10r/s");
  EXPECT_EQ(update(json{{"rateLimit", "fast"}}).error().field, "rateLimit");
  EXPECT_EQ(update(json{{"rateLimit", 10}}).error().field, "rateLimit");
}

TEST(ApplyUpdate, HeaderPolicy) {
  EXPECT_EQ(update(json{{"headerPolicy", "strict"}})->header_policy, "strict");
  EXPECT_FALSE(update(json{{"headerPolicy", "Strict Policy"}}));
  EXPECT_FALSE(update(json{{"headerPolicy", std::string(65, 'p')}}));
}

TEST(ApplyUpdate, ForceSslNeedsAnSslDomain) {
  auto app = update(json{{"forceSsl", true}});
  ASSERT_FALSE(app);
  EXPECT_EQ(app.error().message,
            "forceSsl cannot be enabled without at least one SSL-enabled domain");
  AppDefinition with_ssl = sample_app();
  with_ssl.custom_domain = {{"www.example.com", true}};
  EXPECT_TRUE(apply_update(with_ssl, json{{"forceSsl", true}})->force_ssl);
  AppDefinition default_ssl = sample_app();
  default_ssl.has_default_sub_domain_ssl = true;
  EXPECT_TRUE(apply_update(default_ssl, json{{"forceSsl", true}}));
}

TEST(ApplyUpdate, FailureLeavesTheInputUntouched) {
  AppDefinition current = sample_app();
  auto app = apply_update(current, json{{"instanceCount", 5}, {"ports", "bad"}});
  ASSERT_FALSE(app);
  EXPECT_EQ(current, sample_app());
}

}  // namespace
}  // namespace captain::apps
