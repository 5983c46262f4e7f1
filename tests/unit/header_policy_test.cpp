#include "ngx_module/core/header_policy.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace captain {
namespace {

std::vector<std::string> names(const HeaderPolicy& policy) {
  std::vector<std::string> out;
  for (const auto& h : policy.headers) out.push_back(h.name);
  return out;
}

// The rule for `name` (exact spelling), or nullptr.
const HeaderRule* find(const HeaderPolicy& policy, std::string_view name) {
  for (const auto& h : policy.headers) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

std::string value_of(const HeaderPolicy& policy, std::string_view name) {
  const HeaderRule* rule = find(policy, name);
  return rule == nullptr ? "<absent>" : rule->value;
}

const std::vector<std::string> kDefaultNames = {
    "X-Frame-Options",    "X-Content-Type-Options", "Referrer-Policy",
    "Permissions-Policy", "X-XSS-Protection",       "Strict-Transport-Security",
};

// --- defaults -------------------------------------------------------------------------------

TEST(DefaultSecurityPolicy, HasTheDocumentedHeadersInOrder) {
  const HeaderPolicy p = default_security_policy();
  EXPECT_EQ(names(p), kDefaultNames);
  EXPECT_EQ(value_of(p, "X-Frame-Options"), "SAMEORIGIN");
  EXPECT_EQ(value_of(p, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(value_of(p, "Referrer-Policy"), "strict-origin-when-cross-origin");
  EXPECT_EQ(value_of(p, "Permissions-Policy"), "geolocation=(), microphone=(), camera=()");
  EXPECT_EQ(value_of(p, "X-XSS-Protection"), "0");
  EXPECT_EQ(value_of(p, "Strict-Transport-Security"), "max-age=63072000; includeSubDomains");
  for (const auto& h : p.headers) EXPECT_EQ(h.action, HeaderAction::set) << h.name;
}

TEST(DefaultSecurityPolicy, HidesXPoweredBy) {
  EXPECT_EQ(default_security_policy().hidden, std::vector<std::string>{"X-Powered-By"});
}

TEST(DefaultSecurityPolicy, DefaultsPassTheirOwnConfigurationChecks) {
  const HeaderPolicy p = default_security_policy();
  for (const auto& h : p.headers) {
    EXPECT_EQ(check_header_name(h.name), std::nullopt) << h.name;
    EXPECT_EQ(check_header_value(h.value), std::nullopt) << h.name;
    EXPECT_EQ(check_settable_header(h.name), std::nullopt) << h.name;
  }
  for (const auto& name : p.hidden) EXPECT_EQ(check_hideable_header(name), std::nullopt) << name;
}

TEST(IsTlsOnlyHeader, OnlyStrictTransportSecurityCaseInsensitively) {
  EXPECT_TRUE(is_tls_only_header("Strict-Transport-Security"));
  EXPECT_TRUE(is_tls_only_header("strict-transport-security"));
  EXPECT_TRUE(is_tls_only_header("STRICT-TRANSPORT-SECURITY"));
  EXPECT_FALSE(is_tls_only_header("X-Frame-Options"));
  EXPECT_FALSE(is_tls_only_header("Strict-Transport-Security2"));
  EXPECT_FALSE(is_tls_only_header(""));
}

TEST(HeaderNamesEqual, IgnoresAsciiCaseOnly) {
  EXPECT_TRUE(header_names_equal("X-Frame-Options", "x-frame-options"));
  EXPECT_TRUE(header_names_equal("", ""));
  EXPECT_FALSE(header_names_equal("X-Frame-Options", "X-Frame-Option"));
  EXPECT_FALSE(header_names_equal("a-b", "a_b"));
  // '@' (0x40) and '`' (0x60) differ from letters by the case bit but are not letters.
  EXPECT_FALSE(header_names_equal("@", "`"));
  EXPECT_FALSE(header_names_equal("[", "{"));
}

// --- inheritance ----------------------------------------------------------------------------

TEST(MergePolicy, EmptyOverridesInheritEverything) {
  const HeaderPolicy parent = default_security_policy();
  const HeaderPolicy merged = merge_policy(parent, HeaderOverrides{});
  EXPECT_EQ(names(merged), names(parent));
  EXPECT_EQ(merged.hidden, parent.hidden);
}

TEST(MergePolicy, OverridingOneHeaderKeepsTheOtherInheritedOnes) {
  HeaderOverrides own;
  own.rules.push_back({"X-Frame-Options", "DENY", HeaderAction::set});
  const HeaderPolicy merged = merge_policy(default_security_policy(), own);

  EXPECT_EQ(names(merged), kDefaultNames) << "replaced in place, order kept";
  EXPECT_EQ(value_of(merged, "X-Frame-Options"), "DENY");
  EXPECT_EQ(value_of(merged, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(value_of(merged, "Referrer-Policy"), "strict-origin-when-cross-origin");
  EXPECT_EQ(value_of(merged, "X-XSS-Protection"), "0");
  EXPECT_EQ(merged.hidden, std::vector<std::string>{"X-Powered-By"});
}

TEST(MergePolicy, OverrideMatchesInheritedNameCaseInsensitively) {
  HeaderOverrides own;
  own.rules.push_back({"x-xss-protection", "1; mode=block", HeaderAction::set});
  const HeaderPolicy merged = merge_policy(default_security_policy(), own);

  ASSERT_EQ(merged.headers.size(), kDefaultNames.size()) << "no duplicate entry";
  EXPECT_TRUE(header_names_equal(merged.headers[4].name, "X-XSS-Protection"));
  EXPECT_EQ(merged.headers[4].value, "1; mode=block");
}

TEST(MergePolicy, DoesNotModifyTheParent) {
  const HeaderPolicy parent = default_security_policy();
  HeaderOverrides own;
  own.rules.push_back({"X-Frame-Options", "DENY", HeaderAction::set});
  own.rules.push_back({"Referrer-Policy", "", HeaderAction::remove});
  own.hidden.push_back("Server");
  (void)merge_policy(parent, own);
  EXPECT_EQ(names(parent), kDefaultNames);
  EXPECT_EQ(value_of(parent, "X-Frame-Options"), "SAMEORIGIN");
  EXPECT_EQ(parent.hidden, std::vector<std::string>{"X-Powered-By"});
}

TEST(MergePolicy, RemoveDropsOnlyThatHeader) {
  HeaderOverrides own;
  own.rules.push_back({"permissions-policy", "", HeaderAction::remove});
  const HeaderPolicy merged = merge_policy(default_security_policy(), own);
  EXPECT_EQ(names(merged), (std::vector<std::string>{"X-Frame-Options", "X-Content-Type-Options",
                                                     "Referrer-Policy", "X-XSS-Protection",
                                                     "Strict-Transport-Security"}));
  for (const auto& h : merged.headers) EXPECT_NE(h.action, HeaderAction::remove) << h.name;
}

TEST(MergePolicy, RemovingAnAbsentHeaderChangesNothing) {
  HeaderOverrides own;
  own.rules.push_back({"X-Not-There", "", HeaderAction::remove});
  const HeaderPolicy merged = merge_policy(default_security_policy(), own);
  EXPECT_EQ(names(merged), kDefaultNames);
}

TEST(MergePolicy, NewNameIsAppended) {
  HeaderOverrides own;
  own.rules.push_back({"Content-Security-Policy", "default-src 'self'", HeaderAction::set});
  const HeaderPolicy merged = merge_policy(default_security_policy(), own);
  std::vector<std::string> expected = kDefaultNames;
  expected.push_back("Content-Security-Policy");
  EXPECT_EQ(names(merged), expected);
  EXPECT_EQ(value_of(merged, "Content-Security-Policy"), "default-src 'self'");
}

TEST(MergePolicy, IfAbsentActionIsPreserved) {
  HeaderOverrides own;
  own.rules.push_back({"X-Frame-Options", "DENY", HeaderAction::set_if_absent});
  own.rules.push_back({"Cross-Origin-Opener-Policy", "same-origin", HeaderAction::set_if_absent});
  const HeaderPolicy merged = merge_policy(default_security_policy(), own);
  ASSERT_NE(find(merged, "X-Frame-Options"), nullptr);
  EXPECT_EQ(find(merged, "X-Frame-Options")->action, HeaderAction::set_if_absent);
  EXPECT_EQ(find(merged, "X-Frame-Options")->value, "DENY");
  ASSERT_NE(find(merged, "Cross-Origin-Opener-Policy"), nullptr);
  EXPECT_EQ(find(merged, "Cross-Origin-Opener-Policy")->action, HeaderAction::set_if_absent);
  EXPECT_EQ(find(merged, "X-Content-Type-Options")->action, HeaderAction::set);
}

TEST(MergePolicy, RulesOfOneLevelApplyInDirectiveOrder) {
  HeaderOverrides own;
  own.rules.push_back({"X-Frame-Options", "DENY", HeaderAction::set});
  own.rules.push_back({"x-frame-options", "SAMEORIGIN", HeaderAction::set_if_absent});
  own.rules.push_back({"Referrer-Policy", "", HeaderAction::remove});
  own.rules.push_back({"Referrer-Policy", "no-referrer", HeaderAction::set});
  const HeaderPolicy merged = merge_policy(default_security_policy(), own);

  EXPECT_EQ(merged.headers.size(), kDefaultNames.size());
  EXPECT_TRUE(header_names_equal(merged.headers[0].name, "X-Frame-Options"));
  EXPECT_EQ(merged.headers[0].value, "SAMEORIGIN");
  EXPECT_EQ(merged.headers[0].action, HeaderAction::set_if_absent);
  // Removed, then set again: it comes back at the end.
  EXPECT_EQ(merged.headers.back().name, "Referrer-Policy");
  EXPECT_EQ(merged.headers.back().value, "no-referrer");
}

TEST(MergePolicy, HiddenNamesAccumulateWithoutDuplicates) {
  HeaderOverrides own;
  own.hidden = {"Server", "x-powered-by", "X-AspNet-Version", "SERVER"};
  const HeaderPolicy merged = merge_policy(default_security_policy(), own);
  EXPECT_EQ(merged.hidden,
            (std::vector<std::string>{"X-Powered-By", "Server", "X-AspNet-Version"}));
}

TEST(MergePolicy, ThreeLevelInheritance) {
  const HeaderPolicy defaults = default_security_policy();

  HeaderOverrides http_own;
  http_own.rules.push_back({"X-Frame-Options", "DENY", HeaderAction::set});
  http_own.hidden.push_back("X-AspNet-Version");
  const HeaderPolicy http = merge_policy(defaults, http_own);

  HeaderOverrides server_own;
  server_own.rules.push_back({"Content-Security-Policy", "default-src 'self'", HeaderAction::set});
  server_own.hidden.push_back("Server");
  const HeaderPolicy server = merge_policy(http, server_own);

  HeaderOverrides location_own;
  location_own.rules.push_back({"X-XSS-Protection", "", HeaderAction::remove});
  location_own.rules.push_back(
      {"content-security-policy", "default-src 'none'", HeaderAction::set});
  location_own.hidden.push_back("x-aspnet-version");
  const HeaderPolicy location = merge_policy(server, location_own);

  // http: one change on top of the defaults.
  EXPECT_EQ(names(http), kDefaultNames);
  EXPECT_EQ(value_of(http, "X-Frame-Options"), "DENY");
  EXPECT_EQ(http.hidden, (std::vector<std::string>{"X-Powered-By", "X-AspNet-Version"}));

  // server: keeps http's DENY and adds CSP.
  EXPECT_EQ(value_of(server, "X-Frame-Options"), "DENY");
  EXPECT_EQ(value_of(server, "Content-Security-Policy"), "default-src 'self'");
  EXPECT_EQ(server.headers.size(), kDefaultNames.size() + 1);
  EXPECT_EQ(server.hidden,
            (std::vector<std::string>{"X-Powered-By", "X-AspNet-Version", "Server"}));

  // location: keeps everything else from both outer levels.
  EXPECT_EQ(location.headers.size(), kDefaultNames.size());
  EXPECT_EQ(find(location, "X-XSS-Protection"), nullptr);
  EXPECT_EQ(value_of(location, "X-Frame-Options"), "DENY");
  EXPECT_EQ(value_of(location, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(value_of(location, "Referrer-Policy"), "strict-origin-when-cross-origin");
  EXPECT_EQ(value_of(location, "Permissions-Policy"), "geolocation=(), microphone=(), camera=()");
  EXPECT_EQ(value_of(location, "Strict-Transport-Security"), "max-age=63072000; includeSubDomains");
  ASSERT_TRUE(header_names_equal(location.headers.back().name, "Content-Security-Policy"));
  EXPECT_EQ(location.headers.back().value, "default-src 'none'");
  EXPECT_EQ(location.hidden,
            (std::vector<std::string>{"X-Powered-By", "X-AspNet-Version", "Server"}));
}

// --- configuration checks -------------------------------------------------------------------

TEST(CheckHeaderName, AcceptsTokens) {
  for (std::string_view name :
       {"X-Frame-Options", "x", "Content-Security-Policy", "X_Custom.1", "!#$%&'*+-.^_`|~", "A1"}) {
    EXPECT_EQ(check_header_name(name), std::nullopt) << name;
  }
}

TEST(CheckHeaderName, RejectsEmptySeparatorsControlAndNonAscii) {
  for (std::string_view name :
       {"",       "X Frame", " X",   "X ",   "X-Frame:", ":authority", "X\tY",
        "X\r\nY", "X(Y)",    "X/Y",  "X,Y",  "X;Y",      "X=Y",        "X\"Y",
        "X@Y",    "X[Y]",    "X{Y}", "X\\Y", "X?Y",      "X\x7fY",     "Caf\xc3\xa9"}) {
    const auto reason = check_header_name(name);
    ASSERT_TRUE(reason.has_value()) << name;
    EXPECT_FALSE(reason->empty()) << name;
  }
  EXPECT_TRUE(check_header_name(std::string_view("X\0Y", 3)).has_value());
}

TEST(CheckHeaderValue, AcceptsPrintableTabsAndObsText) {
  for (std::string_view value : {"", "SAMEORIGIN", "a\tb", "\t", "max-age=1; includeSubDomains",
                                 "caf\xc3\xa9", "\x80\xff", "  spaced  "}) {
    EXPECT_EQ(check_header_value(value), std::nullopt) << value;
  }
}

TEST(CheckHeaderValue, RejectsControlCharacters) {
  for (std::string_view value :
       {"a\rb", "a\nb", "a\r\nX-Injected: 1", "\x01", "a\x1f", "a\x7f", "\x0b", "\x0c"}) {
    EXPECT_TRUE(check_header_value(value).has_value()) << value;
  }
  EXPECT_TRUE(check_header_value(std::string_view("a\0b", 3)).has_value());
}

TEST(CheckSettableHeader, RejectsFramingHeadersNamingNginx) {
  for (std::string_view name :
       {"Content-Length", "content-length", "Content-Type", "Transfer-Encoding", "Connection",
        "Keep-Alive", "Upgrade", "Date", "Content-Encoding", "Server", "SERVER"}) {
    const auto reason = check_settable_header(name);
    ASSERT_TRUE(reason.has_value()) << name;
    EXPECT_NE(reason->find("nginx"), std::string::npos) << *reason;
  }
}

TEST(CheckSettableHeader, RejectsHeadersOwnedByOtherFeaturesNamingTheOwner) {
  const struct {
    std::string_view name;
    std::string_view owner;
  } cases[] = {
      {"X-Request-ID", "captain_request_id"}, {"x-request-id", "captain_request_id"},
      {"traceparent", "captain_trace"},       {"Traceparent", "captain_trace"},
      {"tracestate", "captain_trace"},        {"X-Response-Time", "captain_response_time"},
  };
  for (const auto& c : cases) {
    const auto reason = check_settable_header(c.name);
    ASSERT_TRUE(reason.has_value()) << c.name;
    EXPECT_NE(reason->find(c.owner), std::string::npos) << *reason;
  }
}

TEST(CheckSettableHeader, AcceptsSecurityHeaders) {
  for (std::string_view name : {"X-Frame-Options", "Content-Security-Policy",
                                "Strict-Transport-Security", "X-Custom", "Cache-Control"}) {
    EXPECT_EQ(check_settable_header(name), std::nullopt) << name;
  }
}

TEST(CheckHideableHeader, AcceptsServerAndUpstreamLeaks) {
  for (std::string_view name : {"Server", "server", "X-Powered-By", "X-AspNet-Version", "Via"}) {
    EXPECT_EQ(check_hideable_header(name), std::nullopt) << name;
  }
}

TEST(CheckHideableHeader, RejectsFramingHeaders) {
  for (std::string_view name :
       {"Content-Type", "content-type", "Content-Length", "Transfer-Encoding", "Connection"}) {
    const auto reason = check_hideable_header(name);
    ASSERT_TRUE(reason.has_value()) << name;
    EXPECT_NE(reason->find("managed by"), std::string::npos) << *reason;
  }
}

}  // namespace
}  // namespace captain
