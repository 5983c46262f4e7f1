// controller/deploy/desired_state: which version Swarm should run, and removals of deleted apps,
// read from a real store.
#include "controller/deploy/desired_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controller/apps/app_definition.h"
#include "controller/store/app_store.h"
#include "controller/store/settings_store.h"
#include "tests/unit/controller/store_fixture.h"

namespace captain::deploy {
namespace {

using nlohmann::json;
using store::AppVersion;
using store::Transaction;

AppVersion version(std::int64_t number, const std::string& status) {
  AppVersion v;
  v.app = "web";
  v.version = number;
  v.image = "img-captain--web:" + std::to_string(number);
  v.status = status;
  return v;
}

TEST(DesiredStateTarget, EmptyHistoryHasNoTarget) {
  EXPECT_FALSE(target_version({}).has_value());
}

TEST(DesiredStateTarget, NewestRunnableVersionWins) {
  for (const char* status : {kVersionRecorded, kVersionDeploying, kVersionDeployed}) {
    const auto target = target_version({version(0, kVersionDeployed), version(1, status)});
    ASSERT_TRUE(target) << status;
    EXPECT_EQ(target->version, 1) << status;
    EXPECT_EQ(target->status, status);
    EXPECT_EQ(target->image, "img-captain--web:1");
  }
}

TEST(DesiredStateTarget, FailedAndRolledBackVersionsAreSkipped) {
  const auto target = target_version({version(0, kVersionDeployed), version(1, kVersionDeployed),
                                      version(2, kVersionFailed), version(3, kVersionRolledBack)});
  ASSERT_TRUE(target);
  EXPECT_EQ(target->version, 1);
}

TEST(DesiredStateTarget, OnlyBadVersionsHaveNoTarget) {
  EXPECT_FALSE(target_version({version(0, kVersionFailed), version(1, kVersionRolledBack)}));
  // Statuses outside the deploy's own (the build phase's "building", say) are not runnable.
  EXPECT_FALSE(target_version({version(0, "building")}));
}

TEST(DesiredStateTarget, OrderNotNumberDecides) {
  // Versions come oldest first; the last runnable one is the target.
  const auto target = target_version({version(0, kVersionRecorded), version(1, kVersionFailed),
                                      version(2, kVersionDeploying), version(3, kVersionFailed)});
  ASSERT_TRUE(target);
  EXPECT_EQ(target->version, 2);
}

TEST(DesiredStateTarget, RolloutPendingForRecordedAndDeploying) {
  EXPECT_TRUE(rollout_pending(version(0, kVersionRecorded)));
  EXPECT_TRUE(rollout_pending(version(0, kVersionDeploying)));
  EXPECT_FALSE(rollout_pending(version(0, kVersionDeployed)));
  EXPECT_FALSE(rollout_pending(version(0, kVersionFailed)));
  EXPECT_FALSE(rollout_pending(version(0, kVersionRolledBack)));
  EXPECT_FALSE(rollout_pending(version(0, "")));
}

class DesiredStateStoreTest : public store::OpenStoreTest {
 protected:
  void add_app(const std::string& name, const json& definition) {
    auto inserted = db_->write([&](Transaction& tx) { return apps_.insert(tx, name, definition); });
    ASSERT_TRUE(inserted) << inserted.error().message;
  }
  void add_version(const std::string& app, const std::string& image, const std::string& status) {
    auto added =
        db_->write([&](Transaction& tx) { return apps_.add_version(tx, app, image, status); });
    ASSERT_TRUE(added) << added.error().message;
  }
  store::Result<DesiredState> load(const std::string& app) {
    return db_->read([&](Transaction& tx) { return load_desired_state(tx, app); });
  }
  void mark(const std::string& app, const std::vector<std::string>& volumes) {
    auto marked = db_->write([&](Transaction& tx) { return mark_for_removal(tx, app, volumes); });
    ASSERT_TRUE(marked) << marked.error().message;
  }
  void clear(const std::string& app) {
    auto cleared = db_->write([&](Transaction& tx) { return clear_removal(tx, app); });
    ASSERT_TRUE(cleared) << cleared.error().message;
  }
  std::vector<std::string> pending() {
    auto apps = db_->read([&](Transaction& tx) { return pending_removals(tx); });
    EXPECT_TRUE(apps) << apps.error().message;
    return apps ? *apps : std::vector<std::string>{};
  }

  store::AppStore apps_;
};

TEST_F(DesiredStateStoreTest, ExistingAppWithVersions) {
  apps::AppDefinition definition = apps::make_app_definition("web", true);
  definition.instance_count = 3;
  ASSERT_NO_FATAL_FAILURE(add_app("web", apps::to_json(definition)));
  ASSERT_NO_FATAL_FAILURE(add_version("web", "img-captain--web:0", kVersionDeployed));
  ASSERT_NO_FATAL_FAILURE(add_version("web", "img-captain--web:1", kVersionFailed));
  ASSERT_NO_FATAL_FAILURE(add_version("web", "img-captain--web:2", kVersionRolledBack));

  auto state = load("web");
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(state->app, "web");
  ASSERT_TRUE(state->definition);
  EXPECT_EQ(state->definition->app_name, "web");
  EXPECT_EQ(state->definition->instance_count, 3);
  EXPECT_TRUE(state->definition->has_persistent_data);
  ASSERT_TRUE(state->target);
  EXPECT_EQ(state->target->version, 0);
  EXPECT_EQ(state->target->image, "img-captain--web:0");
  EXPECT_EQ(state->target->status, kVersionDeployed);
  EXPECT_FALSE(state->removal);

  ASSERT_NO_FATAL_FAILURE(add_version("web", "img-captain--web:3", kVersionRecorded));
  state = load("web");
  ASSERT_TRUE(state);
  ASSERT_TRUE(state->target);
  EXPECT_EQ(state->target->version, 3);
  EXPECT_TRUE(rollout_pending(*state->target));
}

TEST_F(DesiredStateStoreTest, ExistingAppWithoutVersionsHasNoTarget) {
  ASSERT_NO_FATAL_FAILURE(add_app("web", apps::to_json(apps::make_app_definition("web", false))));
  auto state = load("web");
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_TRUE(state->definition);
  EXPECT_FALSE(state->target);
  EXPECT_FALSE(state->removal);
}

TEST_F(DesiredStateStoreTest, MissingAppHasNoDefinition) {
  ASSERT_NO_FATAL_FAILURE(add_app("web", apps::to_json(apps::make_app_definition("web", false))));
  ASSERT_NO_FATAL_FAILURE(add_version("web", "img-captain--web:0", kVersionDeployed));
  auto state = load("gone");
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(state->app, "gone");
  EXPECT_FALSE(state->definition);
  EXPECT_FALSE(state->target);
  EXPECT_FALSE(state->removal);
}

TEST_F(DesiredStateStoreTest, UnreadableDefinitionIsAnError) {
  ASSERT_NO_FATAL_FAILURE(add_app("web", {{"instanceCount", "three"}}));
  auto state = load("web");
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().kind, store::StoreError::Kind::invalid);
  EXPECT_NE(state.error().message.find("web"), std::string::npos) << state.error().message;
}

TEST_F(DesiredStateStoreTest, MarkForRemovalReadsBackVolumes) {
  // The delete removes the app and marks its service in one transaction.
  ASSERT_NO_FATAL_FAILURE(add_app("web", apps::to_json(apps::make_app_definition("web", true))));
  auto deleted = db_->write([&](Transaction& tx) -> store::Status {
    if (auto removed = apps_.remove(tx, "web"); !removed) return removed;
    return mark_for_removal(tx, "web", {"captain--web-data", "captain--web-logs"});
  });
  ASSERT_TRUE(deleted) << deleted.error().message;

  auto state = load("web");
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_FALSE(state->definition);
  ASSERT_TRUE(state->removal);
  EXPECT_EQ(*state->removal, (std::vector<std::string>{"captain--web-data", "captain--web-logs"}));
  EXPECT_EQ(pending(), std::vector<std::string>{"web"});

  ASSERT_NO_FATAL_FAILURE(clear("web"));
  state = load("web");
  ASSERT_TRUE(state);
  EXPECT_FALSE(state->removal);
  EXPECT_TRUE(pending().empty());
}

TEST_F(DesiredStateStoreTest, RemovalWithoutVolumesIsStillARemoval) {
  ASSERT_NO_FATAL_FAILURE(mark("web", {}));
  auto state = load("web");
  ASSERT_TRUE(state);
  ASSERT_TRUE(state->removal);
  EXPECT_TRUE(state->removal->empty());
  EXPECT_EQ(pending(), std::vector<std::string>{"web"});
}

TEST_F(DesiredStateStoreTest, MarkingAgainReplacesVolumes) {
  ASSERT_NO_FATAL_FAILURE(mark("web", {"a"}));
  ASSERT_NO_FATAL_FAILURE(mark("web", {"b", "c"}));
  auto state = load("web");
  ASSERT_TRUE(state);
  ASSERT_TRUE(state->removal);
  EXPECT_EQ(*state->removal, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(pending(), std::vector<std::string>{"web"});
}

TEST_F(DesiredStateStoreTest, PendingRemovalsListsOnlyMarkedAppsSorted) {
  ASSERT_NO_FATAL_FAILURE(mark("zeta", {}));
  ASSERT_NO_FATAL_FAILURE(mark("alpha", {"alpha-data"}));
  ASSERT_NO_FATAL_FAILURE(mark("mid", {}));
  // Other settings, including look-alike keys, are not removals.
  auto other = db_->write([&](Transaction& tx) -> store::Status {
    store::SettingsStore settings;
    if (auto s = settings.set(tx, "swarm.removed", "x"); !s) return s;
    if (auto s = settings.set(tx, "swarm.remove", "x"); !s) return s;
    return settings.set(tx, "root.domain", "example.com");
  });
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(pending(), (std::vector<std::string>{"alpha", "mid", "zeta"}));

  ASSERT_NO_FATAL_FAILURE(clear("mid"));
  EXPECT_EQ(pending(), (std::vector<std::string>{"alpha", "zeta"}));
  // Clearing an app never marked is not an error.
  ASSERT_NO_FATAL_FAILURE(clear("never-marked"));
  EXPECT_EQ(pending(), (std::vector<std::string>{"alpha", "zeta"}));
}

TEST_F(DesiredStateStoreTest, RemovalOfAnAppStillInTheStore) {
  // Both read: a definition and a removal (the reconciler decides what wins).
  ASSERT_NO_FATAL_FAILURE(add_app("web", apps::to_json(apps::make_app_definition("web", false))));
  ASSERT_NO_FATAL_FAILURE(mark("web", {"v"}));
  auto state = load("web");
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->definition);
  ASSERT_TRUE(state->removal);
  EXPECT_EQ(*state->removal, std::vector<std::string>{"v"});
}

TEST_F(DesiredStateStoreTest, RemovalsSurviveReopen) {
  ASSERT_NO_FATAL_FAILURE(mark("web", {"captain--web-data"}));
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ(pending(), std::vector<std::string>{"web"});
  auto state = load("web");
  ASSERT_TRUE(state);
  ASSERT_TRUE(state->removal);
  EXPECT_EQ(*state->removal, std::vector<std::string>{"captain--web-data"});
}

}  // namespace
}  // namespace captain::deploy
