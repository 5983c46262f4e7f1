#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "controller/store/audit_store.h"
#include "controller/store/settings_store.h"
#include "tests/unit/controller/store_fixture.h"

namespace captain::store {
namespace {

using AuditStoreTest = OpenStoreTest;
using SettingsStoreTest = OpenStoreTest;

AuditEvent event(std::string action, std::string request_id) {
  AuditEvent e;
  e.at = "2024-01-01T00:00:00.000Z";
  e.actor = "admin";
  e.action = std::move(action);
  e.resource = "app:web";
  e.result = "ok";
  e.ip = "127.0.0.1";
  e.user_agent = "caprover-cli";
  e.request_id = std::move(request_id);
  e.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  e.detail = R"({"instanceCount":2})";
  return e;
}

TEST_F(AuditStoreTest, AppendAssignsIncreasingIdsAndRecentIsNewestFirst) {
  AuditStore audit;
  for (int i = 0; i < 5; ++i) {
    auto id = db_->write([&](Transaction& tx) {
      return audit.append(tx, event("action" + std::to_string(i), "req" + std::to_string(i)));
    });
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(*id, i + 1);
  }
  reopen();
  auto recent = db_->read([&](Transaction& tx) { return audit.recent(tx, 3); });
  ASSERT_TRUE(recent);
  ASSERT_EQ(recent->size(), 3u);
  EXPECT_EQ((*recent)[0].action, "action4");
  EXPECT_EQ((*recent)[2].action, "action2");
  const AuditEvent& e = (*recent)[0];
  EXPECT_EQ(e.id, 5);
  EXPECT_EQ(e.at, "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(e.actor, "admin");
  EXPECT_EQ(e.resource, "app:web");
  EXPECT_EQ(e.result, "ok");
  EXPECT_EQ(e.ip, "127.0.0.1");
  EXPECT_EQ(e.user_agent, "caprover-cli");
  EXPECT_EQ(e.request_id, "req4");
  EXPECT_EQ(e.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(e.detail, R"({"instanceCount":2})");
}

TEST_F(AuditStoreTest, ByRequestIdReturnsThatRequestsEventsOldestFirst) {
  AuditStore audit;
  ASSERT_TRUE(db_->write([&](Transaction& tx) -> Status {
    for (auto [action, req] :
         {std::pair{"login", "a"}, std::pair{"register", "b"}, std::pair{"update", "a"}}) {
      if (auto id = audit.append(tx, event(action, req)); !id) return Unexpected(id.error());
    }
    return {};
  }));
  auto events = db_->read([&](Transaction& tx) { return audit.by_request_id(tx, "a"); });
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].action, "login");
  EXPECT_EQ((*events)[1].action, "update");
  auto none = db_->read([&](Transaction& tx) { return audit.by_request_id(tx, "zzz"); });
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(SettingsStoreTest, GetSetOverwriteEraseSurviveReopen) {
  SettingsStore settings;
  auto missing = db_->read([&](Transaction& tx) { return settings.get(tx, "password_hash"); });
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(
      db_->write([&](Transaction& tx) { return settings.set(tx, "password_hash", "$6$a"); }));
  ASSERT_TRUE(
      db_->write([&](Transaction& tx) { return settings.set(tx, "password_hash", "$6$b"); }));
  ASSERT_TRUE(db_->write([&](Transaction& tx) { return settings.set(tx, "jwt_secret", "s"); }));
  reopen();
  auto value = db_->read([&](Transaction& tx) { return settings.get(tx, "password_hash"); });
  ASSERT_TRUE(value);
  EXPECT_EQ(value->value_or(""), "$6$b");

  ASSERT_TRUE(db_->write([&](Transaction& tx) { return settings.erase(tx, "jwt_secret"); }));
  ASSERT_TRUE(db_->write([&](Transaction& tx) { return settings.erase(tx, "jwt_secret"); }));
  auto gone = db_->read([&](Transaction& tx) { return settings.get(tx, "jwt_secret"); });
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->has_value());
}

}  // namespace
}  // namespace captain::store
