#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "controller/store/app_store.h"
#include "tests/unit/controller/store_fixture.h"

namespace captain::store {
namespace {

using nlohmann::json;

class AppStoreTest : public OpenStoreTest {
 protected:
  Status insert(const std::string& name, const json& definition) {
    return db_->write([&](Transaction& tx) { return apps_.insert(tx, name, definition); });
  }
  Result<AppRecord> get(const std::string& name) {
    return db_->read([&](Transaction& tx) { return apps_.get(tx, name); });
  }
  Result<std::vector<AppVersion>> versions(const std::string& app) {
    return db_->read([&](Transaction& tx) { return apps_.versions(tx, app); });
  }
  Result<std::int64_t> add_version(const std::string& app, const std::string& image) {
    return db_->write(
        [&](Transaction& tx) { return apps_.add_version(tx, app, image, "building"); });
  }

  int tick_ = 0;
  AppStore apps_{[this] { return "2024-01-01T00:00:0" + std::to_string(tick_++) + ".000Z"; }};
};

TEST_F(AppStoreTest, InsertThenGetReturnsDefinitionAndTimestamps) {
  json definition = {{"instanceCount", 1}, {"envVars", json::array()}};
  ASSERT_TRUE(insert("web", definition));
  auto app = get("web");
  ASSERT_TRUE(app) << app.error().message;
  EXPECT_EQ(app->name, "web");
  EXPECT_EQ(app->definition, definition);
  EXPECT_EQ(app->created_at, "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(app->updated_at, app->created_at);
}

TEST_F(AppStoreTest, ListIsOrderedByName) {
  ASSERT_TRUE(insert("zeta", json::object()));
  ASSERT_TRUE(insert("alpha", json::object()));
  ASSERT_TRUE(insert("mid", json::object()));
  auto list = db_->read([&](Transaction& tx) { return apps_.list(tx); });
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "alpha");
  EXPECT_EQ((*list)[1].name, "mid");
  EXPECT_EQ((*list)[2].name, "zeta");
}

TEST_F(AppStoreTest, InsertExistingNameIsExistsError) {
  ASSERT_TRUE(insert("web", {{"instanceCount", 1}}));
  auto again = insert("web", {{"instanceCount", 2}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, StoreError::Kind::exists);
  EXPECT_EQ(get("web")->definition["instanceCount"], 1);
}

TEST_F(AppStoreTest, NonObjectDefinitionIsInvalid) {
  auto result = insert("web", json::array());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, StoreError::Kind::invalid);
}

TEST_F(AppStoreTest, InvalidUtf8IsRefusedWithoutThrowing) {
  auto result = insert("web", {{"envVar", std::string("\xff\xfe")}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, StoreError::Kind::invalid);
}

TEST_F(AppStoreTest, GetMissingIsNotFound) {
  auto app = get("nope");
  ASSERT_FALSE(app);
  EXPECT_EQ(app.error().kind, StoreError::Kind::not_found);
}

TEST_F(AppStoreTest, UpdateReplacesDefinitionAndBumpsUpdatedAt) {
  ASSERT_TRUE(insert("web", {{"instanceCount", 1}}));
  ASSERT_TRUE(db_->write([&](Transaction& tx) {
    return apps_.update(tx, "web", {{"instanceCount", 3}});
  }));
  auto app = get("web");
  ASSERT_TRUE(app);
  EXPECT_EQ(app->definition, (json{{"instanceCount", 3}}));
  EXPECT_EQ(app->created_at, "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(app->updated_at, "2024-01-01T00:00:01.000Z");
}

TEST_F(AppStoreTest, UpdateMissingIsNotFound) {
  auto result =
      db_->write([&](Transaction& tx) { return apps_.update(tx, "nope", json::object()); });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, StoreError::Kind::not_found);
}

TEST_F(AppStoreTest, RemoveDeletesAndMissingIsNotFound) {
  ASSERT_TRUE(insert("web", json::object()));
  ASSERT_TRUE(db_->write([&](Transaction& tx) { return apps_.remove(tx, "web"); }));
  EXPECT_EQ(get("web").error().kind, StoreError::Kind::not_found);
  auto again = db_->write([&](Transaction& tx) { return apps_.remove(tx, "web"); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, StoreError::Kind::not_found);
}

TEST_F(AppStoreTest, VersionsAreNumberedFromZero) {
  ASSERT_TRUE(insert("web", json::object()));
  EXPECT_EQ(*add_version("web", "nginx:1"), 0);
  EXPECT_EQ(*add_version("web", "nginx:2"), 1);
  EXPECT_EQ(*add_version("web", "nginx:3"), 2);
  ASSERT_TRUE(insert("api", json::object()));
  EXPECT_EQ(*add_version("api", "api:1"), 0);  // per app
  auto list = versions("web");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[2].version, 2);
  EXPECT_EQ((*list)[2].image, "nginx:3");
  EXPECT_EQ((*list)[2].status, "building");
  EXPECT_EQ((*list)[2].log, "");
}

TEST_F(AppStoreTest, AddVersionToMissingAppIsNotFound) {
  auto version = add_version("ghost", "img");
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().kind, StoreError::Kind::not_found);
}

TEST_F(AppStoreTest, VersionStatusAndLogUpdates) {
  ASSERT_TRUE(insert("web", json::object()));
  ASSERT_EQ(*add_version("web", "img"), 0);
  ASSERT_TRUE(db_->write([&](Transaction& tx) -> Status {
    if (auto done = apps_.append_version_log(tx, "web", 0, "pulling\n"); !done) return done;
    if (auto done = apps_.append_version_log(tx, "web", 0, "started\n"); !done) return done;
    return apps_.set_version_status(tx, "web", 0, "deployed");
  }));
  auto list = versions("web");
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0].status, "deployed");
  EXPECT_EQ((*list)[0].log, "pulling\nstarted\n");
  auto missing =
      db_->write([&](Transaction& tx) { return apps_.set_version_status(tx, "web", 7, "x"); });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, StoreError::Kind::not_found);
}

TEST_F(AppStoreTest, RemovingAnAppCascadesToItsVersions) {
  ASSERT_TRUE(insert("web", json::object()));
  ASSERT_TRUE(add_version("web", "img:1"));
  ASSERT_TRUE(add_version("web", "img:2"));
  ASSERT_TRUE(db_->write([&](Transaction& tx) { return apps_.remove(tx, "web"); }));
  ASSERT_TRUE(insert("web", json::object()));
  auto list = versions("web");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
  EXPECT_EQ(*add_version("web", "img:3"), 0);  // numbering restarts with the new app
}

TEST_F(AppStoreTest, OneApiCallIsOneTransaction) {
  // Register + first version in one write; a failure after both leaves neither.
  auto failed = db_->write([&](Transaction& tx) -> Status {
    if (auto done = apps_.insert(tx, "web", json::object()); !done) return done;
    if (auto version = apps_.add_version(tx, "web", "img", "building"); !version) {
      return Unexpected(version.error());
    }
    return store_error(StoreError::Kind::invalid, "nginx validation failed");
  });
  ASSERT_FALSE(failed);
  reopen();
  EXPECT_EQ(get("web").error().kind, StoreError::Kind::not_found);
  auto list = versions("web");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
}

TEST_F(AppStoreTest, DataSurvivesReopen) {
  ASSERT_TRUE(insert("web", {{"instanceCount", 2}}));
  ASSERT_TRUE(add_version("web", "img"));
  reopen();
  EXPECT_EQ(get("web")->definition["instanceCount"], 2);
  EXPECT_EQ(versions("web")->size(), 1u);
}

}  // namespace
}  // namespace captain::store
