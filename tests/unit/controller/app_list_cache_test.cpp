#include "controller/api/app_list_cache.h"

#include <gtest/gtest.h>

namespace captain::api {
namespace {

std::shared_ptr<const std::string> text(const char* s) {
  return std::make_shared<const std::string>(s);
}

TEST(AppListCache, EmptyUntilPut) {
  AppListCache cache;
  EXPECT_EQ(cache.get(), nullptr);
  cache.put(cache.generation(), text("a"));
  ASSERT_NE(cache.get(), nullptr);
  EXPECT_EQ(*cache.get(), "a");
}

TEST(AppListCache, InvalidateDropsTheRendering) {
  AppListCache cache;
  cache.put(cache.generation(), text("a"));
  cache.invalidate();
  EXPECT_EQ(cache.get(), nullptr);
}

TEST(AppListCache, RenderingReadBeforeAChangeIsNeverServed) {
  AppListCache cache;
  const auto before = cache.generation();  // a reader starts reading the store
  cache.invalidate();                      // a mutation commits meanwhile
  cache.put(before, text("stale"));        // the reader stores what it rendered
  EXPECT_EQ(cache.get(), nullptr);
  cache.put(cache.generation(), text("fresh"));
  EXPECT_EQ(*cache.get(), "fresh");
}

}  // namespace
}  // namespace captain::api
