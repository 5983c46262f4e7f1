#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "controller/store/backup.h"
#include "tests/unit/controller/store_fixture.h"

namespace captain::store {
namespace {

using nlohmann::json;

class BackupStore : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    if (HasFatalFailure()) return;
    source_ = open("source.db");
    target_ = open("target.db");
  }
  void TearDown() override {
    source_.reset();
    target_.reset();
    TempDirTest::TearDown();
  }

  std::unique_ptr<Database> open(const std::string& name) {
    auto db = open_store(dir_ / name);
    EXPECT_TRUE(db) << db.error().message;
    return db ? std::move(*db) : nullptr;
  }

  Status insert(Database& db, const std::string& name, const json& definition) {
    return db.write([&](Transaction& tx) { return apps_.insert(tx, name, definition); });
  }

  std::unique_ptr<Database> source_;
  std::unique_ptr<Database> target_;
  AppStore apps_;
};

TEST_F(BackupStore, ExportHasCapRoverShape) {
  ASSERT_TRUE(insert(*source_, "web", {{"instanceCount", 1}}));
  ASSERT_TRUE(insert(*source_, "api", {{"instanceCount", 2}, {"forceSsl", true}}));
  auto backup = export_backup(*source_);
  ASSERT_TRUE(backup) << backup.error().message;
  EXPECT_EQ(*backup, (json{{"appDefinitions",
                            {{"api", {{"instanceCount", 2}, {"forceSsl", true}}},
                             {"web", {{"instanceCount", 1}}}}}}));
}

TEST_F(BackupStore, EmptyStoreExportsEmptyObject) {
  auto backup = export_backup(*source_);
  ASSERT_TRUE(backup);
  EXPECT_EQ(*backup, (json{{"appDefinitions", json::object()}}));
}

TEST_F(BackupStore, ExportImportRoundTrip) {
  ASSERT_TRUE(insert(*source_, "web", {{"instanceCount", 1}, {"envVars", json::array()}}));
  ASSERT_TRUE(insert(*source_, "api", {{"customDomain", json::array({"a.example.com"})}}));
  auto backup = export_backup(*source_);
  ASSERT_TRUE(backup);
  auto imported = import_backup(*target_, apps_, *backup, {});
  ASSERT_TRUE(imported) << imported.error().message;
  EXPECT_EQ(*imported, 2u);
  auto again = export_backup(*target_);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *backup);
}

TEST_F(BackupStore, ConflictLeavesTargetUnchanged) {
  ASSERT_TRUE(insert(*target_, "web", {{"instanceCount", 9}}));
  auto before = export_backup(*target_);
  json backup = {{"appDefinitions", {{"aaa", json::object()}, {"web", {{"instanceCount", 1}}}}}};
  auto imported = import_backup(*target_, apps_, backup, {});
  ASSERT_FALSE(imported);
  EXPECT_EQ(imported.error().kind, StoreError::Kind::exists);
  EXPECT_NE(imported.error().message.find("web"), std::string::npos);
  EXPECT_EQ(*export_backup(*target_), *before);
}

TEST_F(BackupStore, ReplaceOverwritesExistingDefinitions) {
  ASSERT_TRUE(insert(*target_, "web", {{"instanceCount", 9}}));
  json backup = {{"appDefinitions", {{"aaa", json::object()}, {"web", {{"instanceCount", 1}}}}}};
  ImportOptions options;
  options.replace = true;
  auto imported = import_backup(*target_, apps_, backup, options);
  ASSERT_TRUE(imported) << imported.error().message;
  EXPECT_EQ(*imported, 2u);
  EXPECT_EQ(*export_backup(*target_), backup);
}

TEST_F(BackupStore, ValidatorRejectionWritesNothing) {
  json backup = {{"appDefinitions", {{"good", json::object()}, {"Bad--Name", json::object()}}}};
  ImportOptions options;
  options.validate = [](std::string_view name, const json&) -> Status {
    if (name.find("--") != std::string_view::npos) {
      return store_error(StoreError::Kind::invalid, "bad app name");
    }
    return {};
  };
  auto imported = import_backup(*target_, apps_, backup, options);
  ASSERT_FALSE(imported);
  EXPECT_EQ(imported.error().message, "bad app name");
  EXPECT_EQ(*export_backup(*target_), (json{{"appDefinitions", json::object()}}));
}

TEST_F(BackupStore, MalformedDocumentIsInvalid) {
  for (const json& doc :
       {json::array(), json{{"apps", json::object()}}, json{{"appDefinitions", json::array()}},
        json{{"appDefinitions", {{"web", 42}}}}}) {
    auto imported = import_backup(*target_, apps_, doc, {});
    ASSERT_FALSE(imported) << doc.dump();
    EXPECT_EQ(imported.error().kind, StoreError::Kind::invalid) << doc.dump();
  }
  EXPECT_EQ(*export_backup(*target_), (json{{"appDefinitions", json::object()}}));
}

}  // namespace
}  // namespace captain::store
