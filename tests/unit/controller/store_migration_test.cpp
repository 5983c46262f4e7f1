#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include "controller/store/schema.h"
#include "tests/unit/controller/store_fixture.h"

namespace captain::store {
namespace {

class StoreMigration : public TempDirTest {
 protected:
  std::unique_ptr<Database> open_db() {
    auto db = Database::open(dir_ / "test.db");
    EXPECT_TRUE(db) << (db ? "" : db.error().message);
    return db ? std::move(*db) : nullptr;
  }

  static std::vector<std::string> tables(Database& db) {
    auto names = db.read([](Transaction& tx) -> Result<std::vector<std::string>> {
      auto stmt = tx.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
      if (!stmt) return Unexpected(stmt.error());
      std::vector<std::string> out;
      for (;;) {
        auto row = stmt->step();
        if (!row) return Unexpected(row.error());
        if (!*row) return out;
        out.push_back(stmt->column_text(0));
      }
    });
    EXPECT_TRUE(names);
    return names ? *names : std::vector<std::string>{};
  }
};

// A test-only schema history: version 2 adds a column and fills it from existing rows.
constexpr std::array k_two_steps{
    Migration{1, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"},
    Migration{2, "notes.length",
              "ALTER TABLE notes ADD COLUMN length INTEGER NOT NULL DEFAULT 0;"
              "UPDATE notes SET length = length(body);"},
};

TEST_F(StoreMigration, NewDatabaseMigratesToCurrentVersion) {
  auto db = open_db();
  ASSERT_EQ(*schema_version(*db), 0);
  auto version = migrate(*db);
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(*version, static_cast<int>(migrations().size()));
  EXPECT_EQ(*schema_version(*db), static_cast<int>(migrations().size()));
  EXPECT_EQ(tables(*db), (std::vector<std::string>{"app_versions", "apps", "audit_events",
                                                   "login_failures", "settings"}));
}

TEST_F(StoreMigration, VersionOneStoreGainsLoginFailuresKeepingItsRows) {
  {
    auto db = open_db();
    ASSERT_EQ(*migrate(*db, migrations().first(1)), 1);
    ASSERT_TRUE(db->write([](Transaction& tx) {
      return tx.exec("INSERT INTO settings (key, value) VALUES ('k', 'v')");
    }));
  }
  auto db = open_db();
  ASSERT_EQ(*migrate(*db), 2);
  auto counts = db->read([](Transaction& tx) -> Result<std::pair<std::int64_t, std::int64_t>> {
    auto stmt =
        tx.prepare("SELECT (SELECT COUNT(*) FROM settings), (SELECT COUNT(*) FROM login_failures)");
    if (!stmt) return Unexpected(stmt.error());
    auto row = stmt->step();
    if (!row) return Unexpected(row.error());
    return std::pair(stmt->column_int64(0), stmt->column_int64(1));
  });
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_EQ(counts->first, 1);   // the settings row is still there
  EXPECT_EQ(counts->second, 0);  // and login_failures is new and empty
}

TEST_F(StoreMigration, MigratingTwiceIsANoOp) {
  auto db = open_db();
  ASSERT_TRUE(migrate(*db));
  auto again = migrate(*db);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, static_cast<int>(migrations().size()));
}

TEST_F(StoreMigration, OpenStoreOpensAndMigrates) {
  auto db = open_store(dir_ / "captain.db");
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ(*schema_version(**db), static_cast<int>(migrations().size()));
}

TEST_F(StoreMigration, TwoStepsFromZero) {
  auto db = open_db();
  auto version = migrate(*db, k_two_steps);
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(*version, 2);
  EXPECT_EQ(*schema_version(*db), 2);
}

TEST_F(StoreMigration, SecondStepUpgradesExistingDataAfterReopen) {
  {
    auto db = open_db();
    ASSERT_EQ(*migrate(*db, std::span(k_two_steps).first(1)), 1);
    ASSERT_TRUE(db->write(
        [](Transaction& tx) { return tx.exec("INSERT INTO notes (body) VALUES ('hello')"); }));
  }
  auto db = open_db();
  ASSERT_EQ(*schema_version(*db), 1);
  ASSERT_EQ(*migrate(*db, k_two_steps), 2);
  auto length = db->read([](Transaction& tx) -> Result<std::int64_t> {
    auto stmt = tx.prepare("SELECT length FROM notes");
    if (!stmt) return Unexpected(stmt.error());
    auto row = stmt->step();
    if (!row) return Unexpected(row.error());
    return stmt->column_int64(0);
  });
  ASSERT_TRUE(length);
  EXPECT_EQ(*length, 5);
}

TEST_F(StoreMigration, DatabaseNewerThanBinaryIsRefused) {
  {
    auto db = open_db();
    ASSERT_EQ(*migrate(*db, k_two_steps), 2);
  }
  auto db = open_db();
  auto version = migrate(*db, std::span(k_two_steps).first(1));
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().kind, StoreError::Kind::schema);
  EXPECT_NE(version.error().message.find("newer than this binary"), std::string::npos)
      << version.error().message;
  EXPECT_EQ(*schema_version(*db), 2);  // untouched
}

TEST_F(StoreMigration, FailingStepLeavesPreviousVersionAndNoPartialChanges) {
  constexpr std::array broken{
      k_two_steps[0],
      Migration{2, "half done", "CREATE TABLE extra (x); INSERT INTO no_such_table VALUES (1);"},
  };
  auto db = open_db();
  auto version = migrate(*db, broken);
  ASSERT_FALSE(version);
  EXPECT_NE(version.error().message.find("migration 2"), std::string::npos);
  EXPECT_EQ(*schema_version(*db), 1);
  EXPECT_EQ(tables(*db), (std::vector<std::string>{"notes"}));
}

TEST_F(StoreMigration, ListOutOfOrderIsRefused) {
  constexpr std::array gap{Migration{2, "gap", "SELECT 1;"}};
  auto db = open_db();
  auto version = migrate(*db, gap);
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().kind, StoreError::Kind::invalid);
  EXPECT_EQ(*schema_version(*db), 0);
}

}  // namespace
}  // namespace captain::store
