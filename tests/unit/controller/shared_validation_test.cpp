// shared/validation: app names and domains (the rules the controller and the module share).
#include <gtest/gtest.h>

#include <string>

#include "shared/validation/app_name.h"
#include "shared/validation/domain.h"

namespace captain::validation {
namespace {

bool name_ok(const std::string& name) {
  return app_name_problem(name).empty();
}
bool domain_ok(const std::string& domain) {
  return domain_problem(domain).empty();
}

TEST(AppName, AcceptsLowercaseDigitsAndSingleHyphens) {
  EXPECT_TRUE(name_ok("my-app"));
  EXPECT_TRUE(name_ok("a"));
  EXPECT_TRUE(name_ok("0"));
  EXPECT_TRUE(name_ok("app-2-go"));
  EXPECT_TRUE(name_ok("9lives"));
}

TEST(AppName, LengthBoundaryIs49) {
  EXPECT_TRUE(name_ok(std::string(49, 'a')));
  EXPECT_FALSE(name_ok(std::string(50, 'a')));
  EXPECT_EQ(app_name_problem(std::string(50, 'a')), "must be at most 49 characters long");
}

TEST(AppName, RefusesEmpty) {
  EXPECT_EQ(app_name_problem(""), "must not be empty");
}

TEST(AppName, RefusesCharactersOutsideTheAlphabet) {
  for (const char* name : {"My-app", "my_app", "my.app", "my app", "app!", "\xc3\xa9t\xc3\xa9"}) {
    EXPECT_EQ(app_name_problem(name), "may contain only lowercase letters, digits and hyphens")
        << name;
  }
}

TEST(AppName, RefusesHyphenAtEitherEnd) {
  EXPECT_FALSE(name_ok("-app"));
  EXPECT_FALSE(name_ok("app-"));
  EXPECT_FALSE(name_ok("-"));
  EXPECT_EQ(app_name_problem("app-"), "must start and end with a lowercase letter or digit");
}

TEST(AppName, RefusesDoubleHyphen) {
  EXPECT_EQ(app_name_problem("my--app"), "must not contain \"--\"");
  EXPECT_TRUE(name_ok("my-a-pp"));
}

TEST(AppName, RefusesReservedNames) {
  for (const char* name : {"captain", "registry", "captain-nginx", "captain-certbot",
                           "captain-registry", "captain-netdata", "captain-captain", "captain-x"}) {
    EXPECT_TRUE(is_reserved_app_name(name)) << name;
    EXPECT_NE(app_name_problem(name).find("reserved"), std::string::npos) << name;
  }
}

TEST(AppName, SimilarButUnreservedNamesAreFine) {
  for (const char* name : {"captains", "my-captain", "captainx", "registry2", "nginx"}) {
    EXPECT_FALSE(is_reserved_app_name(name)) << name;
    EXPECT_TRUE(name_ok(name)) << name;
  }
}

TEST(Domain, AcceptsOrdinaryNames) {
  EXPECT_TRUE(domain_ok("example.com"));
  EXPECT_TRUE(domain_ok("www.example.co.uk"));
  EXPECT_TRUE(domain_ok("a-b.c-d.io"));
  EXPECT_TRUE(domain_ok("xn--bcher-kva.example"));  // punycode
  EXPECT_TRUE(domain_ok("1.example.com"));
  EXPECT_TRUE(domain_ok("a.b"));
}

TEST(Domain, LabelLengthBoundaryIs63) {
  EXPECT_TRUE(domain_ok(std::string(63, 'a') + ".com"));
  EXPECT_FALSE(domain_ok(std::string(64, 'a') + ".com"));
  EXPECT_EQ(domain_problem(std::string(64, 'a') + ".com"), "has a label longer than 63 characters");
}

TEST(Domain, TotalLengthBoundaryIs253) {
  // 4 labels of 63 + 3 dots = 255; trim to exactly 253 and 254.
  std::string label(63, 'a');
  std::string d253 = label + "." + label + "." + label + "." + std::string(61, 'b');
  ASSERT_EQ(d253.size(), 253u);
  EXPECT_TRUE(domain_ok(d253));
  std::string d254 = d253 + "b";
  EXPECT_EQ(domain_problem(d254), "must be at most 253 characters long");
}

TEST(Domain, RefusesSingleLabel) {
  EXPECT_EQ(domain_problem("localhost"), "must have at least two labels (e.g. app.example.com)");
}

TEST(Domain, RefusesTrailingDotAndEmptyLabels) {
  EXPECT_EQ(domain_problem("example.com."), "must not end with a dot");
  EXPECT_FALSE(domain_ok(".example.com"));
  EXPECT_FALSE(domain_ok("example..com"));
  EXPECT_FALSE(domain_ok("."));
  EXPECT_EQ(domain_problem(""), "must not be empty");
}

TEST(Domain, RefusesHyphenAtLabelEnds) {
  EXPECT_FALSE(domain_ok("-a.example.com"));
  EXPECT_FALSE(domain_ok("a-.example.com"));
  EXPECT_FALSE(domain_ok("example.-com"));
}

TEST(Domain, RefusesOtherCharacters) {
  for (const char* d : {"*.example.com", "a_b.example.com", "ex ample.com", "example.com/x",
                        "Example.com", "exa:mple.com"}) {
    EXPECT_FALSE(domain_ok(d)) << d;
  }
}

TEST(Domain, RefusesIpv4Addresses) {
  EXPECT_FALSE(domain_ok("127.0.0.1"));
  EXPECT_FALSE(domain_ok("example.123"));
}

TEST(Domain, LowercaseAsciiTouchesOnlyAsciiLetters) {
  EXPECT_EQ(lowercase_ascii("WWW.Example.COM"), "www.example.com");
  EXPECT_EQ(lowercase_ascii("A-1.\xc3\x89"), "a-1.\xc3\x89");
}

}  // namespace
}  // namespace captain::validation
