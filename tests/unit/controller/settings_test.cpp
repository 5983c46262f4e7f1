#include "controller/config/settings.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace captain::config {
namespace {

EnvLookup env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Settings, DefaultListenIsLoopback3000) {
  std::vector<std::string_view> args;
  auto startup = load_settings(args, env_of({}));
  ASSERT_TRUE(startup);
  EXPECT_EQ(startup->settings.listen.to_string(), "127.0.0.1:3000");
}

TEST(Settings, FlagOverridesEnvironment) {
  std::vector<std::string_view> args{"--listen", "127.0.0.1:4000"};
  auto startup = load_settings(args, env_of({{"CAPTAIN_LISTEN", "127.0.0.1:5000"}}));
  ASSERT_TRUE(startup);
  EXPECT_EQ(startup->settings.listen.to_string(), "127.0.0.1:4000");
}

TEST(Settings, InvalidEnvironmentValueIsReportedEvenWhenOverridden) {
  std::vector<std::string_view> args{"--listen", "127.0.0.1:4000"};
  auto startup = load_settings(args, env_of({{"CAPTAIN_LISTEN", "nonsense"}}));
  ASSERT_FALSE(startup);
  EXPECT_NE(startup.error().find("CAPTAIN_LISTEN"), std::string::npos);
}

}  // namespace
}  // namespace captain::config
