// controller/nginx/nginx_text: values outside the emitted grammar are refused with the field
// named, and operator snippets cannot leave the block they are included in.
#include "controller/nginx/nginx_text.h"

#include <gtest/gtest.h>

#include <string>

namespace captain::nginx {
namespace {

// "field|line: message", or "<ok>".
template <class T>
std::string error_of(const Checked<T>& r) {
  if (r) return "<ok>";
  return r.error().field + "|" + std::to_string(r.error().line) + ": " + r.error().message;
}

std::string server_snippet(const std::string& text) {
  return error_of(check_snippet(text, SnippetContext::server));
}

TEST(NginxText, AppNames) {
  EXPECT_EQ(*check_app_name("my-app-2"), "my-app-2");
  EXPECT_EQ(error_of(check_app_name("a\"b")),
            "appName|0: appName \"a\\x22b\" may contain only lowercase letters, digits and '-'");
  for (const char* bad : {"a;b", "a{b", "a}b", "a\nb", "$a", "a b", "-a", "a-", "a--b", ""}) {
    auto r = check_app_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "appName");
  }
  EXPECT_FALSE(check_app_name(std::string(64, 'a')));
}

TEST(NginxText, Domains) {
  EXPECT_EQ(*check_domain("www.example-1.org", "customDomain"), "www.example-1.org");
  for (const char* bad :
       {"a\".org", "a.org;", "a{b}.org", "a.org\n", "$host.org", "a .org", "*.a.org", "A.org",
        "a..org", ".a.org", "a.org.", "-a.org", "org", "a.org:80", "a/b.org"}) {
    auto r = check_domain(bad, "customDomain[3]");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "customDomain[3]");
    EXPECT_EQ(r.error().message.rfind("customDomain[3] \"", 0), 0u) << r.error().message;
  }
  EXPECT_EQ(error_of(check_domain("a.org;\n", "d")),
            "d|0: d \"a.org;\\x0a\" may contain only lowercase letters, digits, '-' and '.'");
}

TEST(NginxText, ZoneSizes) {
  for (const char* good : {"64m", "32k", "1G", "65536"}) EXPECT_TRUE(check_size(good, "s")) << good;
  for (const char* bad : {"", "m", "16k", "64mb", "-1m", "64m;", "9999999999m"}) {
    EXPECT_FALSE(check_size(bad, "s")) << bad;
  }
}

TEST(NginxText, RatesPathsAddressesTokens) {
  EXPECT_TRUE(check_rate("10r/s"));
  EXPECT_TRUE(check_rate("100r/5m"));
  EXPECT_TRUE(check_rate("10r/500ms"));
  for (const char* bad : {"10r/s;", "0r/s", "10r/y", "10r/s burst=5", "r/s", "10000000r/s"}) {
    EXPECT_EQ(check_rate(bad).error().field, "rateLimit") << bad;
  }
  EXPECT_TRUE(check_path("/usr/lib/nginx/modules/x.so", "modulePath"));
  EXPECT_TRUE(check_path("logs/nginx.pid", "pid"));
  for (const char* bad : {"/a b", "/a;b", "/a/../b", "..", "-x", "/a\"", "/a$b", "", "/a{"}) {
    EXPECT_EQ(check_path(bad, "modulePath").error().field, "modulePath") << bad;
  }
  EXPECT_TRUE(check_ip("10.0.0.0/8", "allow", true));
  EXPECT_TRUE(check_ip("::1", "allow", true));
  EXPECT_TRUE(check_ip("fd00::/8", "allow", true));
  for (const char* bad :
       {"10.0.0.0/33", "10.0.0.0/", "all", "10.0.0.1; allow all", "::/129", "1.2.3"}) {
    EXPECT_FALSE(check_ip(bad, "allow", true)) << bad;
  }
  EXPECT_FALSE(check_ip("10.0.0.0/8", "resolver", false));
  EXPECT_TRUE(check_token("abcdefghijklmnop-_.~+/=", "token"));
  EXPECT_FALSE(check_token("short", "token"));
  EXPECT_FALSE(check_token("abcdefghijklmnop;", "token"));
  EXPECT_FALSE(check_token("abcdefghijklmnop\"", "token"));
  EXPECT_TRUE(check_host("localhost", "host"));
  EXPECT_TRUE(check_host("captain-controller", "host"));
  EXPECT_TRUE(check_host("::1", "host"));
  EXPECT_FALSE(check_host("a;b", "host"));
}

TEST(NginxTextSnippet, AcceptsAValidServerSnippet) {
  EXPECT_EQ(server_snippet("client_max_body_size 50m;\nlocation /x { return 204; }\n"), "<ok>");
  EXPECT_EQ(server_snippet(""), "<ok>");
  EXPECT_EQ(server_snippet("# only a comment }"), "<ok>");
  // Braces inside quotes, after an escape, inside ${var} and inside a word are not blocks.
  EXPECT_EQ(server_snippet("location /q {\n  return 200 \"}{\";\n  add_header X-A '}';\n"
                           "  set $x \"${host}\";\n  return 200 a\\{b;\n}\n"),
            "<ok>");
  EXPECT_EQ(server_snippet("location ~ \"^/a{2}$\" { return 204; }"), "<ok>");
  // Unquoted, nginx itself ends the word at '{': the block is then never closed.
  EXPECT_EQ(server_snippet("location ~ ^/a{2}$ { return 204; }"),
            "snippet|1: snippet line 1: this '{' is never closed");
  EXPECT_EQ(server_snippet("if ($http_x) { return 403; }"), "<ok>");
}

TEST(NginxTextSnippet, RefusesUnbalancedBraces) {
  EXPECT_EQ(server_snippet("gzip on;\n}\n"),
            "snippet|2: snippet line 2: unbalanced '}': there is no '{' for it to close");
  EXPECT_EQ(server_snippet("gzip on;\n}\nserver {\n listen 81;\n"),
            "snippet|2: snippet line 2: unbalanced '}': there is no '{' for it to close");
  EXPECT_EQ(server_snippet("location /a {\n  return 204;\n"),
            "snippet|1: snippet line 1: this '{' is never closed");
  EXPECT_EQ(server_snippet("location /a {\n  location /b {\n  return 204;\n}\n"),
            "snippet|1: snippet line 1: this '{' is never closed");
  // A '}' hidden after a comment or a quote still counts where nginx counts it.
  EXPECT_EQ(server_snippet("return 200 \"x\"; # }\n}"),
            "snippet|2: snippet line 2: unbalanced '}': there is no '{' for it to close");
}

TEST(NginxTextSnippet, RefusesEscapingDirectives) {
  EXPECT_EQ(server_snippet("gzip on;\ninclude /etc/passwd;\n"),
            "snippet|2: snippet line 2: \"include\" is not allowed: a snippet cannot pull in "
            "other files");
  EXPECT_EQ(server_snippet("location /a {\n  \"include\" /etc/passwd;\n}"),
            "snippet|2: snippet line 2: \"include\" is not allowed: a snippet cannot pull in "
            "other files");
  EXPECT_EQ(server_snippet("\n\nserver {\n listen 81;\n}\n"),
            "snippet|3: snippet line 3: \"server\" is an http-level directive and is not "
            "allowed in an app snippet");
  EXPECT_EQ(server_snippet("http {\n}"),
            "snippet|1: snippet line 1: \"http\" is a main-context directive and is not "
            "allowed in a snippet");
  EXPECT_EQ(server_snippet("load_module /tmp/evil.so;"),
            "snippet|1: snippet line 1: \"load_module\" is not allowed: modules are loaded by "
            "nginx.conf");
  EXPECT_EQ(server_snippet("limit_req_zone $binary_remote_addr zone=z:10m rate=1r/s;"),
            "snippet|1: snippet line 1: \"limit_req_zone\" defines shared state at http level "
            "and is not allowed in an app snippet");
  EXPECT_EQ(server_snippet("captain_limit_zone name=x size=1m key=$uri rate=1r/s;").substr(0, 30),
            "snippet|1: snippet line 1: \"ca");
  EXPECT_EQ(server_snippet("proxy_cache_path /tmp/c keys_zone=c:1m;").substr(0, 10), "snippet|1:");
  EXPECT_EQ(server_snippet("server_name evil.example.org;"),
            "snippet|1: snippet line 1: \"server_name\" is not allowed: the app's server names "
            "come from its domains");
  EXPECT_EQ(server_snippet("location / { return 204; }"),
            "snippet|1: snippet line 1: \"location /\" is generated by the controller and cannot "
            "be redefined");
  EXPECT_EQ(server_snippet("upstream u { server 1.2.3.4; }").substr(0, 10), "snippet|1:");
}

TEST(NginxTextSnippet, RefusesMalformedText) {
  EXPECT_EQ(server_snippet("return 200 \"open;\n}\n"),
            "snippet|1: snippet line 1: the quoted string starting here is never closed with \"");
  EXPECT_EQ(server_snippet("gzip on;\nclient_max_body_size 50m"),
            "snippet|2: snippet line 2: directive \"client_max_body_size\" is missing its ';'");
  EXPECT_EQ(server_snippet("location /a { return 204 }"),
            "snippet|1: snippet line 1: directive \"return\" is missing its ';'");
  EXPECT_EQ(server_snippet("gzip on;\n\n;"), "snippet|3: snippet line 3: unexpected ';'");
  EXPECT_EQ(error_of(check_snippet(std::string("gzip on;\nx \0;", 13), SnippetContext::server)),
            "snippet|2: snippet line 2: control character (byte 0) is not allowed");
  EXPECT_EQ(server_snippet("return 200 \"a\"b;"),
            "snippet|1: snippet line 1: unexpected 'b' right after a quoted string");
  EXPECT_FALSE(check_snippet(std::string(kMaxSnippetBytes + 1, ' '), SnippetContext::server));
}

TEST(NginxTextSnippet, HttpContextAllowsServersButNotIncludes) {
  EXPECT_EQ(error_of(check_snippet("map $uri $x { default 1; }\nserver { listen 81; }",
                                   SnippetContext::http, "globalOverride")),
            "<ok>");
  EXPECT_EQ(error_of(check_snippet("gzip on;\ninclude conf.d/*.conf;", SnippetContext::http,
                                   "globalOverride")),
            "globalOverride|2: globalOverride line 2: \"include\" is not allowed: a snippet "
            "cannot pull in other files");
  EXPECT_EQ(error_of(check_snippet("}\nhttp {", SnippetContext::http, "globalOverride")),
            "globalOverride|1: globalOverride line 1: unbalanced '}': there is no '{' for it to "
            "close");
  EXPECT_EQ(
      error_of(check_snippet("events { }", SnippetContext::http, "globalOverride")).substr(0, 18),
      "globalOverride|1: ");
}

}  // namespace
}  // namespace captain::nginx
