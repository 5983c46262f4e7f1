// controller/nginx: the settings check (render_settings), the site model (site_model: bad
// stored values become diagnostics, certificates decide HTTPS) and the renderer
// (config_renderer: golden files for representative states).
//
// Golden files live next to this source in golden/nginx/<case>/<relative path>, found through
// __FILE__ (no build-system setting). The rendered tree must match them byte for byte and file
// for file. After an intended change, regenerate them with
//   CAPTAIN_UPDATE_GOLDEN=1 ./build/tests/captain_controller_tests --gtest_filter='NginxGolden*'
// then read the diff: every case must still pass `nginx -t` with the real module (paths in the
// goldens are relative to nginx's prefix, the module is at <prefix>/modules/;
// t/test_nginx_goldens.py checks that).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "controller/nginx/config_renderer.h"

namespace captain::nginx {
namespace {

namespace fs = std::filesystem;

fs::path golden_root() {
  return fs::path(__FILE__).parent_path() / "golden" / "nginx";
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// A self-signed certificate for example.com, *.example.com, shop.example.org and
// www.shop.example.org (fixtures/README.md).
tls::CertificatePem test_certificate() {
  const fs::path dir = fs::path(__FILE__).parent_path() / "fixtures";
  return {read_file(dir / "test-tls.crt"), read_file(dir / "test-tls.key")};
}

apps::AppDefinition app(const std::string& name) {
  apps::AppDefinition a;
  a.app_name = name;
  return a;
}

// Relative paths only, so a case runs under `nginx -p <dir>` anywhere.
RenderSettings base_settings() {
  RenderSettings s;
  s.controller = config::ListenAddress{"127.0.0.1", 3000};
  s.module_path = "modules/ngx_http_captain_module.so";
  s.paths.acme_webroot = "acme";
  s.metrics.allow = {"127.0.0.1", "10.0.0.0/8"};
  return s;
}

struct Case {
  RenderSettings settings = base_settings();
  RenderState state;
  Case() { state.root_domain = "example.com"; }
};

CheckedSettings checked(const RenderSettings& s) {
  auto c = check_render_settings(s);
  EXPECT_TRUE(c) << c.error().message;
  return c ? *c : CheckedSettings{};
}

RenderOutput render(const Case& c) {
  auto out = render_nginx_tree(checked(c.settings), c.state);
  EXPECT_TRUE(out) << out.error().message;
  return out ? *out : RenderOutput{};
}

const RenderedFile* file(const RenderOutput& out, const std::string& path) {
  for (const auto& f : out.tree) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

void check_golden(const std::string& name, const Case& c) {
  const RenderOutput out = render(c);
  EXPECT_TRUE(out.diagnostics.empty()) << out.diagnostics.front().message;
  const fs::path dir = golden_root() / name;
  const char* update = std::getenv("CAPTAIN_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    fs::remove_all(dir);
    for (const auto& f : out.tree) {
      fs::create_directories((dir / f.path).parent_path());
      std::ofstream(dir / f.path, std::ios::binary) << f.content;
    }
  }
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing; run with CAPTAIN_UPDATE_GOLDEN=1";
  std::set<std::string> on_disk;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) on_disk.insert(fs::relative(entry.path(), dir).generic_string());
  }
  std::set<std::string> rendered;
  for (const auto& f : out.tree) {
    rendered.insert(f.path);
    EXPECT_EQ(f.content, read_file(dir / f.path)) << name << "/" << f.path;
  }
  EXPECT_EQ(rendered, on_disk) << name;
}

TEST(NginxGolden, Plain) {
  Case c;
  c.state.apps = {app("web")};
  c.state.routable_apps = {"web"};
  check_golden("plain", c);
}

TEST(NginxGolden, CustomDomains) {
  Case c;
  auto a = app("shop");
  a.container_http_port = 3000;
  a.custom_domain = {{"shop.example.org", false}, {"www.shop.example.org", false}};
  c.state.apps = {a};
  c.state.routable_apps = {"shop"};
  check_golden("custom_domains", c);
}

TEST(NginxGolden, Websocket) {
  Case c;
  auto a = app("chat");
  a.websocket_support = true;
  a.container_http_port = 8080;
  c.state.apps = {a};
  c.state.routable_apps = {"chat"};
  check_golden("websocket", c);
}

TEST(NginxGolden, RateLimitAndHeaderPolicies) {
  Case c;
  auto api = app("api");
  api.rate_limit = "10r/s";
  api.header_policy = "strict";
  auto slow = app("slow");
  slow.rate_limit = "100r/5m";
  slow.header_policy = "off";
  c.state.apps = {slow, api};  // rendered sorted by name
  c.state.routable_apps = {"api", "slow"};
  check_golden("rate_limit", c);
}

TEST(NginxGolden, CacheFlag) {
  Case c;
  auto a = app("static");
  a.cache = true;
  c.state.apps = {a};
  c.state.routable_apps = {"static"};
  check_golden("cache", c);
}

TEST(NginxGolden, SnippetOverrideAndToken) {
  Case c;
  c.state.apps = {app("blog")};
  c.state.routable_apps = {"blog"};
  c.state.app_snippets["blog"] =
      "# uploads\n"
      "client_max_body_size 50m;\n"
      "location /x { return 204; }\n"
      "location = /healthz {\n"
      "    access_log off;\n"
      "    return 200 \"ok; { not a block }\\n\";\n"
      "}";
  c.state.global_override = "proxy_read_timeout 120s;\ngzip on;\n";
  c.settings.metrics.bearer_token = "s3cret-scrape-token-0123456789";
  check_golden("snippet", c);
}

TEST(NginxGolden, NotExposedAsWebApp) {
  Case c;
  auto worker = app("worker");
  worker.not_expose_as_web_app = true;
  worker.rate_limit = "1r/s";
  worker.has_default_sub_domain_ssl = true;
  c.state.apps = {worker};
  c.state.routable_apps = {"worker"};
  c.state.app_snippets["worker"] = "this is not checked {";
  check_golden("not_exposed", c);
}

TEST(NginxGolden, NotRoutableGets503) {
  Case c;
  auto a = app("fresh");
  a.custom_domain = {{"fresh.example.org", false}};
  c.state.apps = {a, app("live")};
  c.state.routable_apps = {"live"};
  check_golden("not_routable", c);
}

TEST(NginxGolden, PublishedPort) {
  Case c;
  c.settings.upstream_mode = UpstreamMode::published_port;
  c.settings.metrics.allow.clear();
  c.settings.metrics.bearer_token = "only-the-token-0123456789";
  auto ws = app("chat");
  ws.websocket_support = true;
  c.state.apps = {ws, app("web"), app("noport")};
  c.state.routable_apps = {"chat", "web", "noport"};
  c.state.published_ports = {{"chat", {10001}}, {"web", {10003, 10002, 10003}}};
  check_golden("published_port", c);
}

// HTTPS everywhere it is asked for: captain.<root> forced to HTTPS, an app's default domain,
// a custom domain with forceSsl, one without SSL; unknown SNI gets the default certificate.
TEST(NginxGolden, Tls) {
  Case c;
  c.settings.tls_listen = "8443";
  c.state.root_ssl = true;
  c.state.root_force_ssl = true;
  auto shop = app("shop");
  shop.has_default_sub_domain_ssl = true;
  shop.force_ssl = true;
  shop.custom_domain = {{"shop.example.org", true}, {"www.shop.example.org", false}};
  auto web = app("web");
  web.has_default_sub_domain_ssl = true;
  c.state.apps = {shop, web};
  c.state.routable_apps = {"shop", "web"};
  for (const char* d :
       {"captain.example.com", "shop.example.com", "shop.example.org", "web.example.com"}) {
    c.state.certificates[d] = {test_certificate(), ""};
  }
  c.state.default_certificate = test_certificate();
  check_golden("tls", c);
}

TEST(NginxRender, KeysAreSecretFilesAndCertificatesAreNot) {
  Case c;
  auto web = app("web");
  web.has_default_sub_domain_ssl = true;
  c.state.apps = {web};
  c.state.certificates["web.example.com"] = {test_certificate(), ""};
  c.state.default_certificate = test_certificate();
  const auto out = render(c);
  for (const char* key : {"certs/web.example.com.key", "certs/_default.key"}) {
    ASSERT_NE(file(out, key), nullptr) << key;
    EXPECT_TRUE(file(out, key)->secret) << key;
  }
  ASSERT_NE(file(out, "certs/web.example.com.crt"), nullptr);
  EXPECT_FALSE(file(out, "certs/web.example.com.crt")->secret);
  EXPECT_EQ(file(out, "certs/web.example.com.crt")->content, test_certificate().chain);
}

TEST(NginxRender, NoCertificateAnywhereMeansNoHttpsListener) {
  Case c;
  c.state.apps = {app("web")};
  c.state.default_certificate = test_certificate();
  const auto out = render(c);
  for (const auto& f : out.tree) {
    EXPECT_EQ(f.content.find(" ssl"), std::string::npos) << f.path;
    EXPECT_NE(f.path.rfind("certs/", 0), 0u) << f.path;
  }
}

TEST(NginxRender, AMissingCertificateServesThatNameOverHttpOnlyAndSaysWhy) {
  Case c;
  auto a = app("a");
  a.has_default_sub_domain_ssl = true;
  a.force_ssl = true;
  auto b = app("b");
  b.has_default_sub_domain_ssl = true;
  c.state.apps = {a, b};
  c.state.routable_apps = {"a", "b"};
  c.state.certificates["a.example.com"] = {std::nullopt, "the certificate expired on 2026-01-01"};
  c.state.certificates["b.example.com"] = {test_certificate(), ""};
  const auto out = render(c);
  ASSERT_EQ(out.diagnostics.size(), 1u);
  const Diagnostic& d = out.diagnostics.front();
  EXPECT_EQ(d.effect, Diagnostic::Effect::served_without_tls);
  EXPECT_EQ(d.app, "a");
  EXPECT_EQ(d.field, "appName");
  EXPECT_EQ(d.message, "app \"a\": the certificate expired on 2026-01-01; served over HTTP only");
  const std::string a_conf = file(out, "servers/app-a.conf")->content;
  EXPECT_EQ(a_conf.find("ssl"), std::string::npos) << a_conf;
  EXPECT_EQ(a_conf.find("return 301"), std::string::npos) << "no redirect without a certificate";
  EXPECT_NE(a_conf.find("proxy_pass"), std::string::npos);
  const std::string b_conf = file(out, "servers/app-b.conf")->content;
  EXPECT_NE(b_conf.find("listen 443 ssl http2;"), std::string::npos) << b_conf;
  EXPECT_EQ(file(out, "certs/a.example.com.crt"), nullptr);
}

TEST(NginxRender, RootSslWithoutACertificateIsADiagnostic) {
  Case c;
  c.state.root_ssl = true;
  c.state.root_force_ssl = true;
  const auto out = render(c);
  ASSERT_EQ(out.diagnostics.size(), 1u);
  EXPECT_EQ(out.diagnostics[0].field, "hasRootSsl");
  EXPECT_EQ(out.diagnostics[0].message,
            "no certificate for captain.example.com; served over HTTP only");
  const std::string conf = file(out, "servers/captain-root.conf")->content;
  EXPECT_EQ(conf.find("return 301"), std::string::npos) << conf;
  EXPECT_NE(conf.find("location /api/"), std::string::npos);
}

TEST(NginxRender, RedirectsKeepTheMethodAndNameTheTlsPort) {
  Case c;
  auto a = app("a");
  a.has_default_sub_domain_ssl = true;
  a.force_ssl = true;
  c.state.apps = {a};
  c.state.certificates["a.example.com"] = {test_certificate(), ""};
  for (const auto& [listen, target] : std::vector<std::pair<std::string, std::string>>{
           {"443", "https://$host$request_uri"},
           {"127.0.0.1:8443", "https://$host:8443$request_uri"}}) {
    c.settings.tls_listen = listen;
    const std::string conf = file(render(c), "servers/app-a.conf")->content;
    EXPECT_NE(conf.find("if ($request_method !~ ^(GET|HEAD)$) {\n            return 308 " + target),
              std::string::npos)
        << conf;
    EXPECT_NE(conf.find("        return 301 " + target + ";"), std::string::npos) << conf;
    // The ACME path stays on HTTP.
    EXPECT_NE(conf.find("location ^~ /.well-known/acme-challenge/"), std::string::npos);
  }
}

TEST(NginxRender, ResolveTasksProxiesToEveryTasksOwnAddress) {
  Case c;
  c.state.apps = {app("web")};
  c.state.routable_apps = {"web"};
  c.settings.resolve_tasks = true;
  const std::string conf = file(render(c), "servers/app-web.conf")->content;
  EXPECT_NE(conf.find("set $captain_upstream http://tasks.srv-captain--web:80;"), std::string::npos)
      << conf;
  EXPECT_NE(conf.find("proxy_next_upstream error timeout;"), std::string::npos);
}

TEST(NginxRender, AControllerNamedByHostIsResolvedPerRequest) {
  Case c;
  c.settings.controller = config::ListenAddress{"controller", 3000};
  std::string conf = file(render(c), "servers/captain-root.conf")->content;
  EXPECT_NE(conf.find("set $captain_controller http://controller:3000;\n"
                      "        proxy_pass $captain_controller;"),
            std::string::npos)
      << conf;
  c.settings.upstream_mode = UpstreamMode::published_port;  // no resolver: resolved at load
  conf = file(render(c), "servers/captain-root.conf")->content;
  EXPECT_NE(conf.find("proxy_pass http://controller:3000;"), std::string::npos) << conf;
}

TEST(NginxRender, TheApiIsRateLimitedAndWrongPasswordsAreCharged) {
  Case c;
  c.settings.api.rate_limit = "30r/m";
  const auto out = render(c);
  const std::string conf = file(out, "nginx.conf")->content;
  EXPECT_NE(conf.find("captain_limit_zone name=captain_api size=1m key=$binary_remote_addr "
                      "rate=30r/m;"),
            std::string::npos);
  EXPECT_NE(conf.find("captain_limit_zone name=captain_login size=1m key=$binary_remote_addr "
                      "rate=5r/15m;"),
            std::string::npos);
  const std::string root = file(out, "servers/captain-root.conf")->content;
  EXPECT_NE(root.find("captain_limit captain_login count=failures "
                      "failure_if=$upstream_http_x_captain_login_failed;"),
            std::string::npos);
  c.settings.api.rate_limit.clear();
  const std::string without = file(render(c), "servers/captain-root.conf")->content;
  EXPECT_EQ(without.find("captain_api"), std::string::npos);
}

TEST(NginxRender, NginxExportsItsSpansWhereTheControllerDoes) {
  Case c;
  std::string conf = file(render(c), "nginx.conf")->content;
  EXPECT_NE(conf.find("    captain_trace_sample_rate 1;\n"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("captain_trace_export"), std::string::npos);
  c.settings.trace.endpoint = "http://127.0.0.1:4318";
  c.settings.trace.sample_ratio = 0.25;
  conf = file(render(c), "nginx.conf")->content;
  EXPECT_NE(conf.find("    captain_trace_sample_rate 0.25;\n"
                      "    # Spans of sampled requests, as OTLP/HTTP (README: Span export).\n"
                      "    captain_trace_export endpoint=http://127.0.0.1:4318;\n"
                      "    captain_trace_service_name captain-nginx;\n"),
            std::string::npos)
      << conf;
}

TEST(NginxRender, IsDeterministic) {
  Case c;
  c.state.apps = {app("b"), app("a")};
  c.state.routable_apps = {"a", "b"};
  const auto first = render(c);
  std::swap(c.state.apps[0], c.state.apps[1]);
  const auto second = render(c);
  EXPECT_EQ(first.tree, second.tree);
}

TEST(NginxRender, NoMetricsAccessDeniesAll) {
  Case c;
  c.settings.metrics.allow.clear();
  const std::string conf = file(render(c), "servers/captain-root.conf")->content;
  EXPECT_NE(conf.find("        deny all;\n"), std::string::npos);
  EXPECT_EQ(conf.find("allow"), std::string::npos);
}

// The one diagnostic of a render: "app|field|line: message".
std::string diagnostic_of(const Case& c) {
  const auto out = render(c);
  if (out.diagnostics.size() != 1) return "<" + std::to_string(out.diagnostics.size()) + ">";
  const auto& d = out.diagnostics.front();
  return d.app + "|" + d.field + "|" + std::to_string(d.line) + ": " + d.message;
}

TEST(NginxModel, HostileAppNamesAreLeftOutAndTheRestServed) {
  for (const char* bad : {"we\"b", "web;", "web{", "web}", "we\nb", "$web", "web app", "Web"}) {
    Case c;
    c.state.apps = {app(bad), app("fine")};
    const std::string d = diagnostic_of(c);
    EXPECT_NE(d.find("|appName|0: "), std::string::npos) << d;
    const auto out = render(c);
    EXPECT_NE(file(out, "servers/app-fine.conf"), nullptr);
    EXPECT_EQ(out.tree.size(), 5u);  // nginx.conf, default, captain, fine, override
  }
}

TEST(NginxModel, HostileDomainsAreLeftOutNamingTheField) {
  for (const char* bad : {"a\".example.org", "a.example.org;", "a{.example.org", "a}.org",
                          "a.example.org\nserver_name evil.org", "$host.example.org",
                          "a .example.org", "*.example.org", "example"}) {
    Case c;
    auto a = app("web");
    a.custom_domain = {{"ok.example.org", false}, {bad, false}};
    c.state.apps = {a};
    const std::string d = diagnostic_of(c);
    EXPECT_EQ(d.rfind("web|customDomain[1]|0: app \"web\": customDomain[1] \"", 0), 0u) << d;
    EXPECT_EQ(file(render(c), "servers/app-web.conf"), nullptr);
  }
  // The message never carries the raw control byte.
  Case c;
  auto a = app("web");
  a.custom_domain = {{"a.org\nx", false}};
  c.state.apps = {a};
  EXPECT_EQ(diagnostic_of(c),
            "web|customDomain[0]|0: app \"web\": customDomain[0] \"a.org\\x0ax\" may contain "
            "only lowercase letters, digits, '-' and '.'");
}

TEST(NginxModel, BadRatePolicyAndSnippet) {
  Case c;
  auto a = app("api");
  a.rate_limit = "10r/s key=$evil";
  c.state.apps = {a};
  EXPECT_EQ(diagnostic_of(c).substr(0, 16), "api|rateLimit|0:");
  a.rate_limit.reset();
  a.header_policy = "paranoid";
  c.state.apps = {a};
  EXPECT_EQ(diagnostic_of(c),
            "api|headerPolicy|0: app \"api\": headerPolicy \"paranoid\" is not a known policy "
            "(default, strict or off)");
  a.header_policy.clear();
  c.state.apps = {a};
  c.state.app_snippets["api"] = "gzip on;\n}\nserver { listen 81; }";
  EXPECT_EQ(diagnostic_of(c),
            "api|snippet|2: app \"api\": snippet line 2: unbalanced '}': there is no '{' for it "
            "to close");
  // The app is served, without its snippet.
  const auto out = render(c);
  EXPECT_EQ(out.diagnostics[0].effect, Diagnostic::Effect::snippet_left_out);
  EXPECT_NE(file(out, "servers/app-api.conf"), nullptr);
  EXPECT_EQ(file(out, "snippets/app-api.conf"), nullptr);
  c.state.app_snippets.clear();
  c.state.global_override = "include /etc/passwd;";
  EXPECT_EQ(diagnostic_of(c),
            "|globalOverride|1: globalOverride line 1: \"include\" is not allowed: a snippet "
            "cannot pull in other files");
}

TEST(NginxModel, AServerNameHasOneOwner) {
  Case c;
  auto b = app("b");
  b.custom_domain = {{"a.example.com", false}};
  c.state.apps = {app("a"), b};
  EXPECT_EQ(diagnostic_of(c),
            "b|customDomain[0]|0: app \"b\": customDomain[0] \"a.example.com\" is already "
            "served by app \"a\"");
  c.state.apps = {app("captain")};
  EXPECT_EQ(diagnostic_of(c),
            "captain|appName|0: app \"captain\": appName \"captain.example.com\" is already "
            "served by the controller (captain root)");
  c.state.apps = {app("a"), app("a")};
  EXPECT_EQ(diagnostic_of(c).substr(0, 12), "a|appName|0:");
}

TEST(NginxModel, AnUnusableRootDomainIsAnError) {
  Case c;
  c.state.root_domain = "example.com;}";
  auto out = render_nginx_tree(checked(c.settings), c.state);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().field, "rootDomain");
}

TEST(NginxModel, WantedCertificates) {
  auto a = app("a");
  a.has_default_sub_domain_ssl = true;
  a.custom_domain = {{"x.example.org", true}, {"y.example.org", false}};
  auto hidden = app("hidden");
  hidden.not_expose_as_web_app = true;
  hidden.has_default_sub_domain_ssl = true;
  EXPECT_EQ(wanted_certificates("example.com", true, {a, hidden, app("plain")}),
            (std::set<std::string>{"captain.example.com", "a.example.com", "x.example.org"}));
  EXPECT_EQ(wanted_certificates("example.com", false, {}), std::set<std::string>{});
}

// The error of a settings check that must fail: "field: message".
std::string settings_error(const RenderSettings& s) {
  auto c = check_render_settings(s);
  return c ? "<ok>" : c.error().field + ": " + c.error().message;
}

TEST(NginxSettings, TraceExportSettingsAreChecked) {
  RenderSettings s = base_settings();
  s.trace.endpoint = "127.0.0.1:4318";
  EXPECT_EQ(settings_error(s), "trace.endpoint: trace.endpoint must start with http:// or https://");
  s.trace.endpoint = "http://collector:4318/v1/traces;load_module";
  EXPECT_EQ(settings_error(s).substr(0, 16), "trace.endpoint: ");
  s.trace.endpoint = "http://collector:4318";
  EXPECT_EQ(settings_error(s), "<ok>");
  s.trace.sample_ratio = 1.5;
  EXPECT_EQ(settings_error(s).substr(0, 19), "trace.sampleRatio: ");
  s.trace.sample_ratio = 0.5;
  s.trace.service_name = "edge; evil";
  EXPECT_EQ(settings_error(s).substr(0, 19), "trace.serviceName: ");
}

TEST(NginxSettings, HostileValuesAreRefusedOnceAtStart) {
  RenderSettings s = base_settings();
  s.module_path = "/x.so; load_module /evil.so";
  EXPECT_EQ(settings_error(s).substr(0, 12), "modulePath: ");
  s = base_settings();
  s.metrics.allow = {"127.0.0.1", "10.0.0.0/8; allow all"};
  EXPECT_EQ(settings_error(s).substr(0, 18), "metrics.allow[1]: ");
  s = base_settings();
  s.metrics.bearer_token = "token-with-a-quote\"-and-more";
  EXPECT_EQ(settings_error(s),
            "metrics.bearerToken: metrics.bearerToken may contain only letters, digits and "
            ". _ ~ + / = -");
  s = base_settings();
  s.paths.acme_webroot = "/srv/../etc";
  EXPECT_EQ(settings_error(s).substr(0, 20), "paths.acmeWebroot: p");
  s = base_settings();
  s.controller.host = "127.0.0.1;";
  EXPECT_EQ(settings_error(s).substr(0, 17), "controller.host: ");
  s = base_settings();
  s.cache_zone_size = "64m; evil";
  EXPECT_EQ(settings_error(s).substr(0, 15), "cacheZoneSize: ");
  s = base_settings();
  s.tls_listen = "443; evil";
  EXPECT_EQ(settings_error(s), "tlsListen: tlsListen must be PORT or IPv4:PORT");
  s = base_settings();
  s.tls_listen = "80";
  EXPECT_EQ(settings_error(s), "tlsListen: tlsListen must differ from httpListen");
  s = base_settings();
  s.api.rate_limit = "100r/m burst=5";
  EXPECT_EQ(settings_error(s).substr(0, 15), "api.rateLimit: ");
  EXPECT_EQ(settings_error(base_settings()), "<ok>");
}

}  // namespace
}  // namespace captain::nginx
