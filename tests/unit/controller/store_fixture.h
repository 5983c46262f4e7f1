// Fixtures for the store's tests: a fresh directory per test (removed afterwards), and a store
// opened inside it that a test can close and reopen (durability checks).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "controller/store/schema.h"
#include "controller/store/sqlite.h"

namespace captain::store {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = std::filesystem::temp_directory_path() / "captain-store-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
};

// captain.db in the test's directory, opened and migrated like the controller does.
class OpenStoreTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    if (HasFatalFailure()) return;
    reopen();
  }
  void TearDown() override {
    db_.reset();
    TempDirTest::TearDown();
  }

  void reopen() {
    db_.reset();
    auto db = open_store(dir_ / "captain.db");
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
  }

  std::unique_ptr<Database> db_;
};

}  // namespace captain::store
