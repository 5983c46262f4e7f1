// controller/nginx/config_renderer: golden files for representative app definitions, and the
// render-level refusals (bad values named by app and field, conflicting server names).
//
// Golden files live next to this source in golden/nginx/<case>/<relative path>, found through
// __FILE__ (no build-system setting). The rendered tree must match them byte for byte and file
// for file. After an intended change, regenerate them with
//   CAPTAIN_UPDATE_GOLDEN=1 ./build/tests/captain_controller_tests --gtest_filter='NginxGolden*'
// then read the diff: every case must still pass `nginx -t` with the real module (paths in the
// goldens are relative to nginx's prefix, the module is at <prefix>/modules/).
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

apps::AppDefinition app(const std::string& name) {
  apps::AppDefinition a;
  a.app_name = name;
  return a;
}

// Relative paths only, so a case runs under `nginx -p <dir>` anywhere.
RenderInputs base_inputs() {
  RenderInputs in;
  in.root_domain = "example.com";
  in.controller = config::ListenAddress{"127.0.0.1", 3000};
  in.module_path = "modules/ngx_http_captain_module.so";
  in.paths.acme_webroot = "acme";
  in.metrics.allow = {"127.0.0.1", "10.0.0.0/8"};
  return in;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void check_golden(const std::string& name, const RenderInputs& in) {
  auto tree = render_nginx_tree(in);
  ASSERT_TRUE(tree) << tree.error().message;
  const fs::path dir = golden_root() / name;
  const char* update = std::getenv("CAPTAIN_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    fs::remove_all(dir);
    for (const auto& file : *tree) {
      fs::create_directories((dir / file.path).parent_path());
      std::ofstream(dir / file.path, std::ios::binary) << file.content;
    }
  }
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing; run with CAPTAIN_UPDATE_GOLDEN=1";
  std::set<std::string> on_disk;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) on_disk.insert(fs::relative(entry.path(), dir).generic_string());
  }
  std::set<std::string> rendered;
  for (const auto& file : *tree) {
    rendered.insert(file.path);
    EXPECT_EQ(file.content, read_file(dir / file.path)) << name << "/" << file.path;
  }
  EXPECT_EQ(rendered, on_disk) << name;
}

TEST(NginxGolden, Plain) {
  RenderInputs in = base_inputs();
  in.apps = {app("web")};
  in.routable_apps = {"web"};
  check_golden("plain", in);
}

TEST(NginxGolden, CustomDomains) {
  RenderInputs in = base_inputs();
  auto a = app("shop");
  a.container_http_port = 3000;
  a.custom_domain = {{"shop.example.org", false}, {"www.shop.example.org", true}};
  in.apps = {a};
  in.routable_apps = {"shop"};
  check_golden("custom_domains", in);
}

TEST(NginxGolden, Websocket) {
  RenderInputs in = base_inputs();
  auto a = app("chat");
  a.websocket_support = true;
  a.container_http_port = 8080;
  in.apps = {a};
  in.routable_apps = {"chat"};
  check_golden("websocket", in);
}

TEST(NginxGolden, ForceSslKeepsAcmeOpen) {
  RenderInputs in = base_inputs();
  auto a = app("secure");
  a.force_ssl = true;
  a.has_default_sub_domain_ssl = true;
  in.apps = {a};
  in.routable_apps = {"secure"};
  check_golden("force_ssl", in);
}

TEST(NginxGolden, RateLimitAndHeaderPolicies) {
  RenderInputs in = base_inputs();
  auto api = app("api");
  api.rate_limit = "10r/s";
  api.header_policy = "strict";
  auto slow = app("slow");
  slow.rate_limit = "100r/5m";
  slow.header_policy = "off";
  in.apps = {slow, api};  // rendered sorted by name
  in.routable_apps = {"api", "slow"};
  check_golden("rate_limit", in);
}

// The module documents no cache directive yet: the flag renders only a comment.
TEST(NginxGolden, CacheFlag) {
  RenderInputs in = base_inputs();
  auto a = app("static");
  a.cache = true;
  in.apps = {a};
  in.routable_apps = {"static"};
  check_golden("cache", in);
}

TEST(NginxGolden, SnippetOverrideAndToken) {
  RenderInputs in = base_inputs();
  in.apps = {app("blog")};
  in.routable_apps = {"blog"};
  in.app_snippets["blog"] =
      "# uploads\n"
      "client_max_body_size 50m;\n"
      "location /x { return 204; }\n"
      "location = /healthz {\n"
      "    access_log off;\n"
      "    return 200 \"ok; { not a block }\\n\";\n"
      "}";
  in.global_override = "proxy_read_timeout 120s;\ngzip on;\n";
  in.metrics.bearer_token = "s3cret-scrape-token-0123456789";
  check_golden("snippet", in);
}

TEST(NginxGolden, NotExposedAsWebApp) {
  RenderInputs in = base_inputs();
  auto worker = app("worker");
  worker.not_expose_as_web_app = true;
  worker.rate_limit = "1r/s";
  in.apps = {worker};
  in.routable_apps = {"worker"};
  in.app_snippets["worker"] = "this is not checked {";
  check_golden("not_exposed", in);
}

TEST(NginxGolden, NotRoutableGets503) {
  RenderInputs in = base_inputs();
  auto a = app("fresh");
  a.custom_domain = {{"fresh.example.org", false}};
  in.apps = {a, app("live")};
  in.routable_apps = {"live"};
  check_golden("not_routable", in);
}

TEST(NginxGolden, PublishedPort) {
  RenderInputs in = base_inputs();
  in.upstream_mode = UpstreamMode::published_port;
  auto ws = app("chat");
  ws.websocket_support = true;
  in.apps = {ws, app("web"), app("noport")};
  in.routable_apps = {"chat", "web", "noport"};
  in.published_ports = {{"chat", {10001}}, {"web", {10003, 10002, 10003}}};
  in.metrics.allow.clear();
  in.metrics.bearer_token = "only-the-token-0123456789";
  check_golden("published_port", in);
}

TEST(NginxRender, ResolveTasksProxiesToEveryTasksOwnAddress) {
  RenderInputs in = base_inputs();
  in.apps = {app("web")};
  in.routable_apps = {"web"};
  in.resolve_tasks = true;
  auto tree = render_nginx_tree(in);
  ASSERT_TRUE(tree) << tree.error().message;
  const auto server = std::find_if(tree->begin(), tree->end(),
                                   [](const auto& f) { return f.path == "servers/app-web.conf"; });
  ASSERT_NE(server, tree->end());
  EXPECT_NE(server->content.find("set $captain_upstream http://tasks.srv-captain--web:80;"),
            std::string::npos)
      << server->content;
  EXPECT_NE(server->content.find("proxy_next_upstream error timeout;"), std::string::npos);
}

TEST(NginxRender, IsDeterministic) {
  RenderInputs in = base_inputs();
  in.apps = {app("b"), app("a")};
  in.routable_apps = {"a", "b"};
  auto first = render_nginx_tree(in);
  std::swap(in.apps[0], in.apps[1]);
  auto second = render_nginx_tree(in);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(*first, *second);
}

TEST(NginxRender, NoMetricsAccessDeniesAll) {
  RenderInputs in = base_inputs();
  in.metrics.allow.clear();
  auto tree = render_nginx_tree(in);
  ASSERT_TRUE(tree);
  for (const auto& f : *tree) {
    if (f.path != "servers/captain-root.conf") continue;
    EXPECT_NE(f.content.find("        deny all;\n"), std::string::npos);
    EXPECT_EQ(f.content.find("allow"), std::string::npos);
  }
}

// The error of a render that must fail: "app|field|line: message".
std::string error_of(const RenderInputs& in) {
  auto tree = render_nginx_tree(in);
  if (tree) return "<rendered>";
  const auto& e = tree.error();
  return e.app + "|" + e.field + "|" + std::to_string(e.line) + ": " + e.message;
}

TEST(NginxRender, RefusesHostileAppNames) {
  for (const char* bad : {"we\"b", "web;", "web{", "web}", "we\nb", "$web", "web app", "Web"}) {
    RenderInputs in = base_inputs();
    in.apps = {app(bad)};
    std::string err = error_of(in);
    EXPECT_NE(err.find("|appName|0: "), std::string::npos) << err;
  }
}

TEST(NginxRender, RefusesHostileDomainsNamingTheField) {
  for (const char* bad : {"a\".example.org", "a.example.org;", "a{.example.org", "a}.org",
                          "a.example.org\nserver_name evil.org", "$host.example.org",
                          "a .example.org", "*.example.org", "example"}) {
    RenderInputs in = base_inputs();
    auto a = app("web");
    a.custom_domain = {{"ok.example.org", false}, {bad, false}};
    in.apps = {a};
    std::string err = error_of(in);
    EXPECT_EQ(err.rfind("web|customDomain[1]|0: app \"web\": customDomain[1] \"", 0), 0u) << err;
  }
  // The message never carries the raw control byte.
  RenderInputs in = base_inputs();
  auto a = app("web");
  a.custom_domain = {{"a.org\nx", false}};
  in.apps = {a};
  std::string err = error_of(in);
  EXPECT_EQ(err,
            "web|customDomain[0]|0: app \"web\": customDomain[0] \"a.org\\x0ax\" may contain "
            "only lowercase letters, digits, '-' and '.'");
}

TEST(NginxRender, RefusesHostileGlobalValues) {
  RenderInputs in = base_inputs();
  in.root_domain = "example.com;}";
  EXPECT_EQ(error_of(in).substr(0, 13), "|rootDomain|0");
  in = base_inputs();
  in.module_path = "/x.so; load_module /evil.so";
  EXPECT_EQ(error_of(in).substr(0, 13), "|modulePath|0");
  in = base_inputs();
  in.metrics.allow = {"127.0.0.1", "10.0.0.0/8; allow all"};
  EXPECT_EQ(error_of(in).substr(0, 20), "|metrics.allow[1]|0:");
  in = base_inputs();
  in.metrics.bearer_token = "token-with-a-quote\"-and-more";
  EXPECT_EQ(error_of(in),
            "|metrics.bearerToken|0: metrics.bearerToken may contain only letters, digits and "
            ". _ ~ + / = -");
  in = base_inputs();
  in.paths.acme_webroot = "/srv/../etc";
  EXPECT_EQ(error_of(in).substr(0, 22), "|paths.acmeWebroot|0: ");
  in = base_inputs();
  in.controller.host = "127.0.0.1;";
  EXPECT_EQ(error_of(in).substr(0, 19), "|controller.host|0:");
  in = base_inputs();
  auto cached = app("static");
  cached.cache = true;
  in.apps = {cached};
  in.cache_zone_size = "64m; evil";
  EXPECT_EQ(error_of(in).substr(0, 18), "|cacheZoneSize|0: ");
}

TEST(NginxRender, RefusesBadRateAndPolicyAndSnippet) {
  RenderInputs in = base_inputs();
  auto a = app("api");
  a.rate_limit = "10r/s key=$evil";
  in.apps = {a};
  EXPECT_EQ(error_of(in).substr(0, 16), "api|rateLimit|0:");
  a.rate_limit.reset();
  a.header_policy = "paranoid";
  in.apps = {a};
  EXPECT_EQ(error_of(in),
            "api|headerPolicy|0: app \"api\": headerPolicy \"paranoid\" is not a known policy "
            "(default, strict or off)");
  a.header_policy.clear();
  in.apps = {a};
  in.app_snippets["api"] = "gzip on;\n}\nserver { listen 81; }";
  EXPECT_EQ(error_of(in),
            "api|snippet|2: app \"api\": snippet line 2: unbalanced '}': there is no '{' for it to "
            "close");
  in.app_snippets.clear();
  in.global_override = "include /etc/passwd;";
  EXPECT_EQ(error_of(in),
            "|globalOverride|1: globalOverride line 1: \"include\" is not allowed: a snippet "
            "cannot pull in other files");
}

TEST(NginxRender, RefusesServerNameClaimedTwice) {
  RenderInputs in = base_inputs();
  auto a = app("a");
  auto b = app("b");
  b.custom_domain = {{"a.example.com", false}};
  in.apps = {a, b};
  EXPECT_EQ(error_of(in),
            "b|customDomain[0]|0: app \"b\": customDomain[0] \"a.example.com\" is "
            "already served by app \"a\"");
  in.apps = {app("captain")};
  EXPECT_EQ(error_of(in),
            "captain|appName|0: app \"captain\": appName \"captain.example.com\" is "
            "already served by the controller (captain root)");
  in.apps = {app("a"), app("a")};
  EXPECT_EQ(error_of(in).substr(0, 12), "a|appName|0:");
}

}  // namespace
}  // namespace captain::nginx
