#include "controller/config/settings.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace captain::config {
namespace {

FileReader files_of(std::map<std::string, std::string> files) {
  return [files = std::move(files)](
             const std::string& path) -> Expected<std::optional<std::string>, std::string> {
    auto it = files.find(path);
    if (it == files.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  };
}

EnvLookup env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Settings, DefaultListenIsLoopback3000) {
  std::vector<std::string_view> args;
  auto startup = load_settings(args, env_of({}), files_of({}));
  ASSERT_TRUE(startup);
  EXPECT_EQ(startup->settings.listen.to_string(), "127.0.0.1:3000");
}

TEST(Settings, FlagOverridesEnvironment) {
  std::vector<std::string_view> args{"--listen", "127.0.0.1:4000"};
  auto startup = load_settings(args, env_of({{"CAPTAIN_LISTEN", "127.0.0.1:5000"}}), files_of({}));
  ASSERT_TRUE(startup);
  EXPECT_EQ(startup->settings.listen.to_string(), "127.0.0.1:4000");
}

TEST(Settings, InvalidEnvironmentValueIsReportedEvenWhenOverridden) {
  std::vector<std::string_view> args{"--listen", "127.0.0.1:4000"};
  auto startup = load_settings(args, env_of({{"CAPTAIN_LISTEN", "nonsense"}}), files_of({}));
  ASSERT_FALSE(startup);
  EXPECT_NE(startup.error().find("CAPTAIN_LISTEN"), std::string::npos);
}

TEST(Settings, DefaultsWithoutFileOrEnvironment) {
  std::vector<std::string_view> args;
  auto startup = load_settings(args, env_of({}), files_of({}));
  ASSERT_TRUE(startup);
  EXPECT_EQ(startup->settings.data_dir, "/captain/data");
  EXPECT_EQ(startup->settings.docker_socket, "/var/run/docker.sock");
  EXPECT_FALSE(startup->settings.password.has_value());
  EXPECT_EQ(startup->settings.token_ttl, std::chrono::hours(24 * 7));
  EXPECT_TRUE(startup->config_path.empty());
}

TEST(Settings, LayersFileThenEnvironmentThenFlags) {
  std::vector<std::string_view> args{"--config", "/c.yaml", "--data-dir", "/flag"};
  auto startup = load_settings(
      args, env_of({{"CAPTAIN_DATA_DIR", "/env"}, {"CAPTAIN_ROOT_DOMAIN", "env.example.com"}}),
      files_of({{"/c.yaml",
                 "data_dir: /file\nroot_domain: file.example.com\ntoken_ttl: 2h\n"
                 "nginx_pid_file: /run/x.pid\n"}}));
  ASSERT_TRUE(startup) << startup.error();
  EXPECT_EQ(startup->settings.data_dir, "/flag");
  EXPECT_EQ(startup->settings.root_domain, "env.example.com");
  EXPECT_EQ(startup->settings.token_ttl, std::chrono::hours(2));
  EXPECT_EQ(startup->settings.nginx_pid_file, "/run/x.pid");
  EXPECT_EQ(startup->config_path, "/c.yaml");
}

TEST(Settings, DefaultConfigPathIsReadWhenPresent) {
  std::vector<std::string_view> args;
  auto startup = load_settings(
      args, env_of({}), files_of({{"/etc/captain/controller.yaml", "listen: 127.0.0.1:3100"}}));
  ASSERT_TRUE(startup) << startup.error();
  EXPECT_EQ(startup->settings.listen.to_string(), "127.0.0.1:3100");
}

TEST(Settings, ExplicitConfigFileMustExist) {
  std::vector<std::string_view> args{"--config=/missing.yaml"};
  auto startup = load_settings(args, env_of({}), files_of({}));
  ASSERT_FALSE(startup);
  EXPECT_EQ(startup.error(), "/missing.yaml: no such file");
}

TEST(Settings, UnknownYamlKeyIsAnErrorWithItsLine) {
  std::vector<std::string_view> args{"--config", "/c.yaml"};
  auto startup = load_settings(args, env_of({}),
                               files_of({{"/c.yaml", "listen: 127.0.0.1:3000\nlisen: x\n"}}));
  ASSERT_FALSE(startup);
  EXPECT_EQ(startup.error(), "/c.yaml:2: unknown setting \"lisen\"");
}

TEST(Settings, YamlSyntaxErrorNamesTheLine) {
  std::vector<std::string_view> args{"--config", "/c.yaml"};
  auto startup = load_settings(args, env_of({}), files_of({{"/c.yaml", "a: [1,\n"}}));
  ASSERT_FALSE(startup);
  EXPECT_EQ(startup.error().rfind("/c.yaml:", 0), 0u) << startup.error();
}

TEST(Settings, InvalidValuesNameTheirSource) {
  std::vector<std::string_view> args{"--config", "/c.yaml"};
  auto relative = load_settings(args, env_of({}), files_of({{"/c.yaml", "data_dir: data\n"}}));
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error(), "/c.yaml:1: data_dir: must be an absolute path, not \"data\"");

  std::vector<std::string_view> none;
  auto ttl = load_settings(none, env_of({{"CAPTAIN_TOKEN_TTL", "7 days"}}), files_of({}));
  ASSERT_FALSE(ttl);
  EXPECT_NE(ttl.error().find("CAPTAIN_TOKEN_TTL: invalid duration \"7 days\""), std::string::npos);

  auto nested = load_settings(args, env_of({}), files_of({{"/c.yaml", "listen: {a: 1}\n"}}));
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error(), "/c.yaml:1: listen must be a single value");
}

// The flaw fuzz_nginx_text found in check_ip, in the settings' own address parsers: YAML's "\0"
// escape put a NUL into an address, and inet_pton (which reads up to it) accepted "::1\0junk"
// as ::1 and "127.0.0.1\0junk" as 127.0.0.1.
TEST(Settings, AddressesWithANulByteAreRefused) {
  std::vector<std::string_view> args{"--config", "/c.yaml"};
  for (const char* yaml :
       {"listen: \"[::1\\0junk]:3000\"\n", "trusted_proxies: \"127.0.0.1\\0junk, ::1\"\n"}) {
    auto startup = load_settings(args, env_of({}), files_of({{"/c.yaml", yaml}}));
    EXPECT_FALSE(startup) << yaml;
  }
}

TEST(Settings, PasswordHasNoFlag) {
  std::vector<std::string_view> args{"--password", "x"};
  auto startup = load_settings(args, env_of({}), files_of({}));
  ASSERT_FALSE(startup);
  EXPECT_EQ(startup.error(), "unknown option \"--password\"");
  std::vector<std::string_view> none;
  auto from_env = load_settings(none, env_of({{"CAPTAIN_PASSWORD", "s3cret"}}), files_of({}));
  ASSERT_TRUE(from_env);
  EXPECT_EQ(from_env->settings.password, "s3cret");
}

TEST(Settings, FlagWithoutValue) {
  std::vector<std::string_view> args{"--listen"};
  auto startup = load_settings(args, env_of({}), files_of({}));
  ASSERT_FALSE(startup);
  EXPECT_EQ(startup.error(), "--listen needs a value");
}

TEST(Durations, UnitsAndBounds) {
  EXPECT_EQ(*parse_duration("90"), std::chrono::seconds(90));
  EXPECT_EQ(*parse_duration("15m"), std::chrono::minutes(15));
  EXPECT_EQ(*parse_duration("7d"), std::chrono::hours(168));
  EXPECT_FALSE(parse_duration("0s"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("1w"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("99999999999d"));
}

TEST(ByteSizes, UnitsAndBounds) {
  EXPECT_EQ(*parse_byte_size("512"), 512u);
  EXPECT_EQ(*parse_byte_size("64k"), 65536u);
  EXPECT_EQ(*parse_byte_size("8m"), 8u << 20);
  EXPECT_FALSE(parse_byte_size("0"));
  EXPECT_FALSE(parse_byte_size("2g"));
  EXPECT_FALSE(parse_byte_size("2048m"));
}

TEST(Settings, SwarmTimingsAndRegistryCredentials) {
  std::vector<std::string_view> args;
  auto loaded = load_settings(args,
                              env_of({{"CAPTAIN_DEPLOY_TIMEOUT", "2m"},
                                      {"CAPTAIN_UPDATE_MONITOR", "3s"},
                                      {"CAPTAIN_REGISTRY_USERNAME", "bot"},
                                      {"CAPTAIN_REGISTRY_PASSWORD", "s3cret"}}),
                              files_of({}));
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->settings.deploy_timeout, std::chrono::seconds(120));
  EXPECT_EQ(loaded->settings.update_monitor, std::chrono::seconds(3));
  EXPECT_EQ(loaded->settings.docker_breaker_reset, std::chrono::seconds(60));
  EXPECT_EQ(loaded->settings.registry_username, "bot");

  auto half = load_settings(args, env_of({{"CAPTAIN_REGISTRY_USERNAME", "bot"}}), files_of({}));
  ASSERT_FALSE(half);
  EXPECT_NE(half.error().find("must be set together"), std::string::npos) << half.error();
}

TEST(Settings, PasswordFromAFileLikeADockerSecret) {
  std::vector<std::string_view> args;
  auto loaded = load_settings(args, env_of({{"CAPTAIN_PASSWORD_FILE", "/run/secrets/pw"}}),
                              files_of({{"/run/secrets/pw", "s3cret pass\n"}}));
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->settings.password, "s3cret pass");
  auto missing =
      load_settings(args, env_of({{"CAPTAIN_PASSWORD_FILE", "/run/secrets/nope"}}), files_of({}));
  EXPECT_EQ(missing.error(), "password_file: /run/secrets/nope: no such file");
  auto both = load_settings(
      args, env_of({{"CAPTAIN_PASSWORD_FILE", "/run/secrets/pw"}, {"CAPTAIN_PASSWORD", "x"}}),
      files_of({{"/run/secrets/pw", "y"}}));
  EXPECT_EQ(both.error(), "set password or password_file, not both");
  auto empty = load_settings(args, env_of({{"CAPTAIN_PASSWORD_FILE", "/run/secrets/pw"}}),
                             files_of({{"/run/secrets/pw", "\n"}}));
  EXPECT_FALSE(empty);
}

TEST(Settings, TlsAcmeAndProxyDefaults) {
  std::vector<std::string_view> args;
  auto loaded = load_settings(args, env_of({}), files_of({}));
  ASSERT_TRUE(loaded) << loaded.error();
  const Settings& s = loaded->settings;
  EXPECT_EQ(s.nginx_tls_listen, "443");
  EXPECT_EQ(s.acme_directory, "https://acme-v02.api.letsencrypt.org/directory");
  EXPECT_FALSE(s.acme_email);
  EXPECT_FALSE(s.acme_renew_before);
  EXPECT_EQ(s.acme_renew_check, std::chrono::hours(12));
  EXPECT_EQ(s.api_rate_limit, "100r/m");
  EXPECT_TRUE(in_any(s.trusted_proxies, "127.0.0.1"));
  EXPECT_TRUE(in_any(s.trusted_proxies, "::1"));
  EXPECT_FALSE(in_any(s.trusted_proxies, "10.0.0.2"));
}

TEST(Settings, TlsAcmeAndProxyValues) {
  std::vector<std::string_view> args;
  auto loaded = load_settings(args,
                              env_of({{"CAPTAIN_NGINX_TLS_LISTEN", "127.0.0.1:8443"},
                                      {"CAPTAIN_ACME_DIRECTORY", "https://127.0.0.1:14000/dir"},
                                      {"CAPTAIN_ACME_EMAIL", "ops@example.org"},
                                      {"CAPTAIN_ACME_CA_BUNDLE", "/etc/ssl/private-ca.pem"},
                                      {"CAPTAIN_ACME_RENEW_BEFORE", "30d"},
                                      {"CAPTAIN_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8"},
                                      {"CAPTAIN_API_RATE_LIMIT", "off"}}),
                              files_of({}));
  ASSERT_TRUE(loaded) << loaded.error();
  const Settings& s = loaded->settings;
  EXPECT_EQ(s.nginx_tls_listen, "127.0.0.1:8443");
  EXPECT_EQ(s.acme_email, "ops@example.org");
  EXPECT_EQ(s.acme_ca_bundle, "/etc/ssl/private-ca.pem");
  EXPECT_EQ(s.acme_renew_before, std::chrono::hours(24 * 30));
  EXPECT_TRUE(in_any(s.trusted_proxies, "10.0.9.9"));
  EXPECT_FALSE(in_any(s.trusted_proxies, "127.0.0.1"));
  EXPECT_EQ(s.api_rate_limit, "");
}

TEST(Settings, TlsAcmeAndProxyMistakesNameTheSetting) {
  std::vector<std::string_view> args;
  const auto error = [&](const char* env, const char* value) {
    auto loaded = load_settings(args, env_of({{env, value}}), files_of({}));
    return loaded ? std::string("<ok>") : loaded.error();
  };
  EXPECT_EQ(error("CAPTAIN_ACME_DIRECTORY", "http://ca.example/dir"),
            "CAPTAIN_ACME_DIRECTORY: must be an https:// URL (RFC 8555), not "
            "\"http://ca.example/dir\"");
  EXPECT_EQ(error("CAPTAIN_ACME_EMAIL", "not an email"),
            "CAPTAIN_ACME_EMAIL: \"not an email\" is not an e-mail address");
  EXPECT_EQ(error("CAPTAIN_TRUSTED_PROXIES", "10.0.0.1/8"),
            "CAPTAIN_TRUSTED_PROXIES: \"10.0.0.1/8\" has address bits set beyond the prefix; "
            "write the network address");
  EXPECT_EQ(error("CAPTAIN_API_RATE_LIMIT", "lots"),
            "CAPTAIN_API_RATE_LIMIT: invalid rate \"lots\": must look like \"10r/s\" or "
            "\"100r/5m\" (unit ms, s, m, h or d)");
  EXPECT_EQ(error("CAPTAIN_ACME_CA_BUNDLE", "relative.pem"),
            "CAPTAIN_ACME_CA_BUNDLE: must be an absolute path, not \"relative.pem\"");
}

TEST(Settings, TraceExportIsOffByDefault) {
  std::vector<std::string_view> args;
  auto startup = load_settings(args, env_of({}), files_of({}));
  ASSERT_TRUE(startup);
  const Settings& s = startup->settings;
  EXPECT_TRUE(s.trace_export_endpoint.empty());
  EXPECT_EQ(s.trace_sample_ratio, 1.0);
  EXPECT_EQ(s.trace_service_name, "captain-controller");
  EXPECT_EQ(s.trace_export_batch, 512u);
  EXPECT_EQ(s.trace_export_interval, std::chrono::seconds(5));
  EXPECT_EQ(s.trace_export_queue, 2048u);
}

TEST(Settings, TraceExportFromFileAndEnvironment) {
  std::vector<std::string_view> args{"--config", "/c.yaml"};
  auto startup = load_settings(
      args,
      env_of({{"CAPTAIN_TRACE_SAMPLE_RATIO", "0.25"}, {"CAPTAIN_TRACE_SERVICE_NAME", "ctl-eu"}}),
      files_of({{"/c.yaml",
                 "trace_export_endpoint: http://otel:4318\n"
                 "trace_sample_ratio: 1\n"
                 "trace_export_batch: 64\n"
                 "trace_export_interval: 60s\n"
                 "trace_export_queue: 100\n"}}));
  ASSERT_TRUE(startup) << startup.error();
  const Settings& s = startup->settings;
  EXPECT_EQ(s.trace_export_endpoint, "http://otel:4318");
  EXPECT_EQ(s.trace_sample_ratio, 0.25);  // the environment over the file
  EXPECT_EQ(s.trace_service_name, "ctl-eu");
  EXPECT_EQ(s.trace_export_batch, 64u);
  EXPECT_EQ(s.trace_export_interval, std::chrono::seconds(60));
  EXPECT_EQ(s.trace_export_queue, 100u);
}

TEST(Settings, AnEmptyEndpointTurnsExportOffAgain) {
  std::vector<std::string_view> args{"--config", "/c.yaml"};
  auto startup = load_settings(
      args, env_of({{"CAPTAIN_TRACE_EXPORT_ENDPOINT", ""}}),
      files_of({{"/c.yaml", "trace_export_endpoint: https://collector/v1/traces\n"}}));
  ASSERT_TRUE(startup) << startup.error();
  EXPECT_TRUE(startup->settings.trace_export_endpoint.empty());
}

TEST(Settings, NginxExportsWhereTheControllerDoesUnlessToldOtherwise) {
  std::vector<std::string_view> none;
  auto same = load_settings(none, env_of({{"CAPTAIN_TRACE_EXPORT_ENDPOINT", "http://otel:4318"}}),
                            files_of({}));
  ASSERT_TRUE(same) << same.error();
  EXPECT_FALSE(same->settings.nginx_trace_export_endpoint.has_value());
  auto other = load_settings(none,
                             env_of({{"CAPTAIN_TRACE_EXPORT_ENDPOINT", "http://127.0.0.1:4318"},
                                     {"CAPTAIN_NGINX_TRACE_EXPORT_ENDPOINT", "http://otel:4318"}}),
                             files_of({}));
  ASSERT_TRUE(other) << other.error();
  EXPECT_EQ(other->settings.nginx_trace_export_endpoint, "http://otel:4318");
  auto off = load_settings(none, env_of({{"CAPTAIN_NGINX_TRACE_EXPORT_ENDPOINT", "off"}}),
                           files_of({}));
  ASSERT_TRUE(off) << off.error();
  EXPECT_EQ(off->settings.nginx_trace_export_endpoint, "off");
  auto bad = load_settings(none, env_of({{"CAPTAIN_NGINX_TRACE_EXPORT_ENDPOINT", "otel:4318"}}),
                           files_of({}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("CAPTAIN_NGINX_TRACE_EXPORT_ENDPOINT"), std::string::npos)
      << bad.error();
}

TEST(Settings, TraceMistakesNameTheSetting) {
  std::vector<std::string_view> none;
  struct Case {
    const char* env;
    const char* value;
    const char* says;
  };
  for (const Case& c : {Case{"CAPTAIN_TRACE_EXPORT_ENDPOINT", "otel:4318", "http:// or https://"},
                        Case{"CAPTAIN_TRACE_EXPORT_ENDPOINT", "http://otel:4318/?x=1", "query"},
                        Case{"CAPTAIN_TRACE_EXPORT_ENDPOINT", "http://", "host"},
                        Case{"CAPTAIN_TRACE_SAMPLE_RATIO", "1.5", "0 to 1"},
                        Case{"CAPTAIN_TRACE_SAMPLE_RATIO", "-0.1", "0 to 1"},
                        Case{"CAPTAIN_TRACE_SAMPLE_RATIO", "half", "0 to 1"},
                        Case{"CAPTAIN_TRACE_SAMPLE_RATIO", "nan", "0 to 1"},
                        Case{"CAPTAIN_TRACE_SERVICE_NAME", "", "empty"},
                        Case{"CAPTAIN_TRACE_EXPORT_BATCH", "0", "1 to"},
                        Case{"CAPTAIN_TRACE_EXPORT_INTERVAL", "0s", "duration"},
                        Case{"CAPTAIN_TRACE_EXPORT_QUEUE", "lots", "number"}}) {
    auto startup = load_settings(none, env_of({{c.env, c.value}}), files_of({}));
    ASSERT_FALSE(startup) << c.env << "=" << c.value;
    EXPECT_NE(startup.error().find(c.env), std::string::npos) << startup.error();
    EXPECT_NE(startup.error().find(c.says), std::string::npos) << startup.error();
  }
  // In the file, the message names the key and its line.
  std::vector<std::string_view> args{"--config", "/c.yaml"};
  auto startup = load_settings(args, env_of({}),
                               files_of({{"/c.yaml",
                                          "listen: 127.0.0.1:3000\n"
                                          "trace_export_endpoint: collector:4318\n"}}));
  ASSERT_FALSE(startup);
  EXPECT_NE(startup.error().find("/c.yaml:2: trace_export_endpoint"), std::string::npos)
      << startup.error();
}

}  // namespace
}  // namespace captain::config
