// controller/nginx/nginx_text: values outside the emitted grammar are refused with the field
// named, and operator snippets cannot leave the block they are included in.
#include "controller/nginx/nginx_text.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "shared/validation/rate.h"

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

// The refusal of `text`, cut to the length of `want`: for checks on the start of a message.
std::string server_snippet_head(const std::string& text, const std::string& want) {
  return server_snippet(text).substr(0, want.size());
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

// Found by fuzz_nginx_text: inet_pton reads up to the first NUL, so "127.0.0.1\0..." passed as
// 127.0.0.1 and the bytes after the NUL went into the config with it.
TEST(NginxText, AnAddressWithANulByteIsRefused) {
  using namespace std::string_view_literals;
  const auto allow = check_ip("127.0.0.1\0; allow all"sv, "allow", true);
  ASSERT_FALSE(allow);
  EXPECT_EQ(allow.error().message, "allow \"127.0.0.1\\x00; allow all\" contains a NUL byte");
  EXPECT_FALSE(check_ip("::\0\0\0\0\0\0\0\x14"sv, "resolver", false));
  EXPECT_FALSE(check_host("::1\0 x"sv, "publishedHost"));
}

// Found by fuzz_nginx_text: check_rate had its own copy of the rate grammar, stricter on
// leading zeros, so an app saved with rateLimit "00150100r/5m" (150100 per 5 minutes for the
// validation and the module alike) was refused when its config was rendered.
TEST(NginxText, RatesFollowTheAppValidation) {
  for (const char* rate : {"00150100r/5m", "01000000r/s", "10r/00000015m"}) {
    EXPECT_TRUE(validation::rate_problem(rate).empty()) << rate;
    EXPECT_TRUE(check_rate(rate)) << rate;
  }
  EXPECT_FALSE(check_rate("01000001r/s"));
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
  // Unquoted, nginx itself ends the word at '{': what follows reads as a directive "2}$".
  EXPECT_EQ(server_snippet_head("location ~ ^/a{2}$ { return 204; }",
                                "snippet|1: snippet line 1: \"2}$\" is not allowed"),
            "snippet|1: snippet line 1: \"2}$\" is not allowed");
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

TEST(NginxTextSnippet, AcceptsLegitimateAppSnippets) {
  const char* snippets[] = {
      // Proxy tuning, with variables where nginx takes them.
      "proxy_read_timeout 300s;\nproxy_send_timeout 300s;\nproxy_buffering off;\n"
      "proxy_request_buffering off;\nproxy_buffers 8 16k;\nproxy_buffer_size 32k;\n"
      "proxy_set_header X-Forwarded-Host $host;\nproxy_hide_header X-Powered-By;\n"
      "proxy_next_upstream error timeout http_502;\nproxy_ssl_server_name on;",
      "location /api/ {\n  set $backend http://srv-captain--api:3000;\n  proxy_pass $backend;\n"
      "  proxy_http_version 1.1;\n  proxy_set_header Upgrade $http_upgrade;\n"
      "  proxy_redirect http://srv-captain--api:3000/ /api/;\n}",
      // Rewrites and returns.
      "rewrite ^/old/(.*)$ /new/$1 permanent;\nlocation = /gone { return 410; }\n"
      "location ~ ^/(?<slug>[a-z]+)\\.html$ { return 301 /$slug; }\n"
      "if ($http_user_agent ~* \"badbot\" ) { return 403; }\n"
      "if ($request_method = POST) { set $posted 1; }",
      // Headers and caching hints.
      "add_header X-Frame-Options SAMEORIGIN always;\nadd_header Cache-Control \"no-store\";\n"
      "expires 1h;\netag off;\ncaptain_security_header Referrer-Policy no-referrer;\n"
      "captain_hide_header X-Runtime;\ncaptain_security_headers on;",
      // Compression and body size.
      "gzip on;\ngzip_types text/plain application/json;\ngzip_min_length 1000;\n"
      "gzip_comp_level 5;\ngzip_vary on;\ngzip_proxied any;\nclient_max_body_size 500m;\n"
      "client_body_buffer_size 1m;\nkeepalive_timeout 30s;",
      // Access control and error pages (a URI or a named location, never a path).
      "location /admin {\n  allow 10.0.0.0/8;\n  allow 192.168.1.7;\n  deny all;\n"
      "  limit_except GET HEAD { deny all; }\n}\nerror_page 502 503 /maintenance.html;\n"
      "error_page 404 = @fallback;\nlocation = /maintenance.html { internal; return 503 "
      "\"down for maintenance\\n\"; }\nlocation @fallback { return 302 https://example.com; }",
      // Subrequests, filters, real IP, and the zones only turned off.
      "location /private {\n  auth_request /auth;\n  auth_request_set $user "
      "$upstream_http_x_user;\n"
      "}\nlocation = /auth { internal; proxy_pass http://srv-captain--auth:80; }\n"
      "sub_filter 'http://old' 'https://new';\nsub_filter_once off;\n"
      "set_real_ip_from 10.0.0.0/8;\nreal_ip_header X-Forwarded-For;\n"
      "location /static/ { captain_limit off; captain_metrics off; access_log off; "
      "captain_cache off; return 204; }",
      "try_files $uri @app;\nlocation @app { proxy_pass http://127.0.0.1:8080; }\n"
      "return 200 \"Loading... ../ is text here\";",
  };
  for (const char* s : snippets) EXPECT_EQ(server_snippet(s), "<ok>") << s;
}

// Each directive of issue 15's list (and its neighbours), inside a location on line 3: the
// refusal names the directive and the line.
TEST(NginxTextSnippet, RefusesDirectivesOffTheAllowList) {
  const std::pair<const char*, const char*> cases[] = {
      {"root /;",
       "\"root\" is not allowed in an app snippet: it reads or writes files on the host"},
      {"alias /etc/;",
       "\"alias\" is not allowed in an app snippet: it reads or writes files on the host"},
      {"autoindex on;",
       "\"autoindex\" is not allowed in an app snippet: it reads or writes files on the host"},
      {"autoindex_format json;", "\"autoindex_format\" is not allowed in an app snippet: "},
      {"access_log /tmp/x;",
       "\"access_log\" is allowed in an app snippet only as \"access_log off\": a log path is a "
       "file on the host"},
      {"access_log off combined;", "\"access_log\" is allowed in an app snippet only as "},
      {"error_log /tmp/y;",
       "\"error_log\" is not allowed in an app snippet: it reads or writes files on the host"},
      {"error_log off;", "\"error_log\" is not allowed in an app snippet: "},
      {"open_log_file_cache max=10;", "\"open_log_file_cache\" is not allowed in an app snippet"},
      {"auth_basic_user_file /etc/passwd;",
       "\"auth_basic_user_file\" is not allowed in an app snippet: it reads or writes files on "
       "the host"},
      {"ssl_certificate_key /etc/ssl/private/x;",
       "\"ssl_certificate_key\" is not allowed in an app snippet: it reads or writes files on "
       "the host"},
      {"ssl_certificate /etc/ssl/x.pem;", "\"ssl_certificate\" is not allowed in an app snippet"},
      {"ssl_protocols TLSv1;",
       "\"ssl_protocols\" is not allowed in an app snippet: TLS is configured by the controller "
       "from the app's certificates"},
      {"proxy_ssl_certificate_key /etc/ssl/private/x;",
       "\"proxy_ssl_certificate_key\" is not allowed in an app snippet: it reads or writes "
       "files"},
      {"proxy_ssl_trusted_certificate /etc/ssl/ca.pem;",
       "\"proxy_ssl_trusted_certificate\" is not allowed in an app snippet: it reads"},
      {"proxy_ssl_conf_command Certificate /x;",
       "\"proxy_ssl_conf_command\" is not allowed in an app snippet: it passes commands to "
       "OpenSSL"},
      {"client_body_temp_path /tmp/z;",
       "\"client_body_temp_path\" is not allowed in an app snippet: it reads or writes files on "
       "the host"},
      {"proxy_temp_path /tmp/p;", "\"proxy_temp_path\" is not allowed in an app snippet: it "},
      {"client_body_in_file_only on;", "\"client_body_in_file_only\" is not allowed in an app "},
      {"proxy_store on;", "\"proxy_store\" is not allowed in an app snippet: it reads or writes"},
      {"dav_methods PUT;", "\"dav_methods\" is not allowed in an app snippet: it reads or writes"},
      {"index index.html;", "\"index\" is not allowed in an app snippet: it reads or writes"},
      {"captain_status;",
       "\"captain_status\" is not allowed in an app snippet: it exposes the module's metrics and "
       "cache purge for every app (served only on the controller's /metrics)"},
      {"captain_status_token abcdefghijklmnopqrstuvwx;",
       "\"captain_status_token\" is not allowed in an app snippet: it belongs to the module's "
       "metrics and cache-purge endpoint"},
      {"stub_status;", "\"stub_status\" is not allowed in an app snippet: it exposes nginx's "},
      {"captain_limit login;",
       "\"captain_limit\" is allowed in an app snippet only as \"captain_limit off\": rate-limit "
       "zones are shared between apps"},
      {"captain_cache apps key=$http_host;",
       "\"captain_cache\" is allowed in an app snippet only as \"captain_cache off\": the cache "
       "zone is shared between apps"},
      {"captain_metrics captain route=other;",
       "\"captain_metrics\" is allowed in an app snippet only as \"captain_metrics off\": "},
      {"limit_req zone=z;",
       "\"limit_req\" is not allowed in an app snippet: it uses or exposes state shared with "
       "other apps"},
      {"limit_conn addr 10;", "\"limit_conn\" is not allowed in an app snippet: it uses or "},
      {"proxy_cache one;", "\"proxy_cache\" is not allowed in an app snippet: it uses or exposes"},
      {"proxy_cache_valid 200 1m;", "\"proxy_cache_valid\" is not allowed in an app snippet: it "},
      {"listen 8080;",
       "\"listen\" is not allowed in an app snippet: the controller owns the server's addresses "
       "and ports"},
      {"perl Mod::handler;",
       "\"perl\" is not allowed in an app snippet: it runs embedded code inside nginx"},
      {"js_content main.handler;", "\"js_content\" is not allowed in an app snippet: it runs "},
      {"content_by_lua_block;", "\"content_by_lua_block\" is not allowed in an app snippet: it "},
      {"types { text/html html; }",
       "\"types\" is not allowed in an app snippet: it is not on the allow-list of directives "
       "that act inside the server block and take no file-system path"},
      {"Root /;", "\"Root\" is not allowed in an app snippet: it is not on the allow-list"},
      {"\"r\\\"oot\" /;", "\"r\\x22oot\" is not allowed in an app snippet: it is not on the "},
      {"include /etc/passwd;", "\"include\" is not allowed: a snippet cannot pull in other files"},
      {"load_module /tmp/x.so;", "\"load_module\" is not allowed: modules are loaded by "},
  };
  for (const auto& [directive, message] : cases) {
    const std::string text = std::string("gzip on;\nlocation /x {\n  ") + directive + "\n}\n";
    const std::string want = std::string("snippet|3: snippet line 3: ") + message;
    EXPECT_EQ(server_snippet(text).substr(0, want.size()), want) << directive;
  }
}

TEST(NginxTextSnippet, RefusesPathsInAllowedDirectives) {
  EXPECT_EQ(server_snippet("location /d {\n  proxy_pass http://unix:/var/run/docker.sock:/;\n}"),
            "snippet|2: snippet line 2: \"proxy_pass\" to a unix socket is not allowed in an app "
            "snippet: the socket is a path on the host");
  EXPECT_EQ(server_snippet_head("location /p { fastcgi_pass unix:/run/php/fpm.sock; }",
                                "snippet|1: snippet line 1: \"fastcgi_pass\""),
            "snippet|1: snippet line 1: \"fastcgi_pass\"");
  EXPECT_EQ(server_snippet_head("location /g { grpc_pass grpc://unix:/tmp/g.sock; }",
                                "snippet|1: snippet line 1: \"grpc_pass\""),
            "snippet|1: snippet line 1: \"grpc_pass\"");
  EXPECT_EQ(server_snippet("if (-f /etc/shadow) { return 200; }"),
            "snippet|1: snippet line 1: \"if (-f ...)\" is not allowed in an app snippet: it "
            "tests a path on the host");
  EXPECT_EQ(server_snippet_head("gzip on;\nif ( !-e $request_filename ) { return 404; }",
                                "snippet|2: snippet line 2: \"if (!-e ...)\""),
            "snippet|2: snippet line 2: \"if (!-e ...)\"");
  EXPECT_EQ(server_snippet_head("location /x {\n  if (-d $x) { return 404; }\n}",
                                "snippet|2: snippet line 2: \"if (-d ...)\""),
            "snippet|2: snippet line 2: \"if (-d ...)\"");
  // A regex or a compared value is no file test.
  EXPECT_EQ(
      server_snippet("if ($http_x = \"-f\" ) { return 403; }\nif ($uri ~ -x) { return 403; }"),
      "<ok>");
  // nginx does not normalize URIs it builds itself: ".." reaches outside the document root.
  EXPECT_EQ(server_snippet("location /t {\n  try_files /../../../etc/passwd =404;\n}"),
            "snippet|2: snippet line 2: \"try_files\" argument \"/../../../etc/passwd\" is not "
            "allowed in an app snippet: a \"..\" segment reaches outside the document root");
  EXPECT_EQ(server_snippet_head("location /r { rewrite ^ /a/../../etc/passwd break; }",
                                "snippet|1: snippet line 1: \"rewrite\""),
            "snippet|1: snippet line 1: \"rewrite\"");
  EXPECT_EQ(server_snippet_head("set $up ..;", "snippet|1: snippet line 1: \"set\""),
            "snippet|1: snippet line 1: \"set\"");
}

TEST(NginxTextSnippet, OnlyLocationIfAndLimitExceptOpenBlocks) {
  EXPECT_EQ(server_snippet("add_header X-A a {\n}"),
            "snippet|1: snippet line 1: \"add_header\" takes no block");
  EXPECT_EQ(server_snippet("location /a;"),
            "snippet|1: snippet line 1: \"location\" needs a block");
  EXPECT_EQ(server_snippet_head("captain_limit off { }",
                                "snippet|1: snippet line 1: \"captain_limit\" is"),
            "snippet|1: snippet line 1: \"captain_limit\" is");
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

// The operator's own file: looser, but nothing that makes nginx create files as root, replaces
// the controller's certificates or runs embedded code.
TEST(NginxTextSnippet, HttpContextRefusesTempPathsCertificatesAndCode) {
  auto http = [](const std::string& text) {
    return error_of(check_snippet(text, SnippetContext::http, "globalOverride"));
  };
  EXPECT_EQ(http("proxy_cache_path /var/cache/nginx/c keys_zone=c:10m;\n"
                 "limit_req_zone $binary_remote_addr zone=z:10m rate=1r/s;\n"
                 "access_log /var/log/nginx/extra.log;\nroot /srv/www;\n"
                 "server { listen 81; location / { root /srv/www; autoindex on; } }"),
            "<ok>");
  EXPECT_EQ(http("gzip on;\nclient_body_temp_path /tmp/z;"),
            "globalOverride|2: globalOverride line 2: \"client_body_temp_path\" is not allowed in "
            "the http-level override: it makes nginx create directories as root; temp paths are "
            "the controller's (nginx_temp_dir)");
  EXPECT_EQ(http("server {\n  ssl_certificate_key /etc/ssl/private/x;\n}"),
            "globalOverride|2: globalOverride line 2: \"ssl_certificate_key\" is not allowed in "
            "the http-level override: certificates are the controller's (the SSL endpoints)");
  for (const char* bad :
       {"perl_set $x 'sub { 1 }';", "js_import /etc/x.js;", "lua_package_path '/x/?.lua';",
        "pid /tmp/nginx.pid;", "load_module /tmp/x.so;"}) {
    EXPECT_EQ(http(bad).substr(0, 18), "globalOverride|1: ") << bad;
  }
}

}  // namespace
}  // namespace captain::nginx
