#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "controller/store/sqlite.h"
#include "tests/unit/controller/store_fixture.h"

namespace captain::store {
namespace {

// The database file lives in the test's own directory.
class SqliteDatabase : public TempDirTest {
 protected:
  std::filesystem::path file() const { return dir_ / "test.db"; }

  std::unique_ptr<Database> open_db() {
    auto db = Database::open(file());
    EXPECT_TRUE(db) << (db ? "" : db.error().message);
    return db ? std::move(*db) : nullptr;
  }

  static Status create_table(Database& db) {
    return db.write([](Transaction& tx) {
      return tx.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, note TEXT)");
    });
  }

  static Status insert(Transaction& tx, std::int64_t id, std::string_view name) {
    auto stmt = tx.prepare("INSERT INTO t (id, name) VALUES (?1, ?2)");
    if (!stmt) return Unexpected(stmt.error());
    stmt->bind_int64(1, id).bind_text(2, name);
    return stmt->run();
  }

  static std::int64_t count(Database& db) {
    auto n = db.read([](Transaction& tx) -> Result<std::int64_t> {
      auto stmt = tx.prepare("SELECT COUNT(*) FROM t");
      if (!stmt) return Unexpected(stmt.error());
      auto row = stmt->step();
      if (!row) return Unexpected(row.error());
      return stmt->column_int64(0);
    });
    EXPECT_TRUE(n);
    return n ? *n : -1;
  }

  static std::string pragma(Database& db, const std::string& name) {
    auto value = db.read([&](Transaction& tx) -> Result<std::string> {
      auto stmt = tx.prepare("PRAGMA " + name);
      if (!stmt) return Unexpected(stmt.error());
      auto row = stmt->step();
      if (!row) return Unexpected(row.error());
      return stmt->column_text(0);
    });
    EXPECT_TRUE(value);
    return value ? *value : "";
  }
};

TEST_F(SqliteDatabase, OpensInWalModeWithDurablePragmas) {
  auto db = open_db();
  ASSERT_TRUE(db);
  EXPECT_EQ(pragma(*db, "journal_mode"), "wal");
  EXPECT_EQ(pragma(*db, "synchronous"), "2");  // FULL
  EXPECT_EQ(pragma(*db, "foreign_keys"), "1");
  EXPECT_EQ(pragma(*db, "busy_timeout"), "5000");
}

TEST_F(SqliteDatabase, OpenFailsWithSqliteMessageForMissingDirectory) {
  auto db = Database::open(dir_ / "no-such-dir" / "x.db");
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().kind, StoreError::Kind::sqlite);
  EXPECT_NE(db.error().code, 0);
  EXPECT_NE(db.error().message.find("unable to open"), std::string::npos) << db.error().message;
}

TEST_F(SqliteDatabase, CommittedDataSurvivesReopen) {
  {
    auto db = open_db();
    ASSERT_TRUE(create_table(*db));
    ASSERT_TRUE(db->write([](Transaction& tx) { return insert(tx, 1, "one"); }));
  }
  auto db = open_db();
  EXPECT_EQ(count(*db), 1);
}

TEST_F(SqliteDatabase, ErrorFromLambdaRollsBackEveryWrite) {
  {
    auto db = open_db();
    ASSERT_TRUE(create_table(*db));
    auto result = db->write([](Transaction& tx) -> Status {
      if (auto done = insert(tx, 1, "one"); !done) return done;
      if (auto done = insert(tx, 2, "two"); !done) return done;
      return store_error(StoreError::Kind::invalid, "caller gave up midway");
    });
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().message, "caller gave up midway");
    EXPECT_EQ(count(*db), 0);
  }
  auto db = open_db();
  EXPECT_EQ(count(*db), 0);
}

TEST_F(SqliteDatabase, ExceptionFromLambdaRollsBackAndPropagates) {
  {
    auto db = open_db();
    ASSERT_TRUE(create_table(*db));
    EXPECT_THROW(static_cast<void>(db->write([](Transaction& tx) -> Status {
                   static_cast<void>(insert(tx, 1, "one"));
                   static_cast<void>(insert(tx, 2, "two"));
                   throw std::runtime_error("boom");
                 })),
                 std::runtime_error);
    // The lock was released: the database is usable again on this thread.
    ASSERT_TRUE(db->write([](Transaction& tx) { return insert(tx, 3, "three"); }));
  }
  auto db = open_db();
  EXPECT_EQ(count(*db), 1);
}

// A child process writes and is killed with SIGKILL (no destructors, no close): what it
// committed is there, what it had not committed is not.
TEST_F(SqliteDatabase, KillNineKeepsCommittedAndDropsUncommitted) {
  {
    auto db = open_db();
    ASSERT_TRUE(create_table(*db));
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto db = Database::open(file());
    if (!db) _exit(1);
    if (!(*db)->write([](Transaction& tx) { return insert(tx, 1, "committed"); })) _exit(2);
    auto tx = (*db)->begin(Transaction::Mode::write);
    if (!tx || !insert(*tx, 2, "in flight")) _exit(3);
    raise(SIGKILL);
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  auto db = open_db();
  EXPECT_EQ(count(*db), 1);
}

TEST_F(SqliteDatabase, FailingStatementReportsExtendedCodeAndRollsBack) {
  auto db = open_db();
  ASSERT_TRUE(create_table(*db));
  auto result = db->write([](Transaction& tx) -> Status {
    if (auto done = insert(tx, 1, "same"); !done) return done;
    return insert(tx, 2, "same");  // UNIQUE violation
  });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, 2067);  // SQLITE_CONSTRAINT_UNIQUE
  EXPECT_NE(result.error().message.find("UNIQUE"), std::string::npos) << result.error().message;
  EXPECT_EQ(count(*db), 0);
}

TEST_F(SqliteDatabase, TransactionWithoutCommitRollsBackInDestructor) {
  auto db = open_db();
  ASSERT_TRUE(create_table(*db));
  {
    auto tx = db->begin(Transaction::Mode::write);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(insert(*tx, 1, "one"));
  }
  EXPECT_EQ(count(*db), 0);
  {
    auto tx = db->begin(Transaction::Mode::write);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(insert(*tx, 1, "one"));
    ASSERT_TRUE(tx->commit());
    EXPECT_FALSE(tx->commit());  // ended
  }
  EXPECT_EQ(count(*db), 1);
}

TEST_F(SqliteDatabase, NestedTransactionOnSameThreadIsRefusedNotDeadlocked) {
  auto db = open_db();
  auto tx = db->begin(Transaction::Mode::write);
  ASSERT_TRUE(tx);
  auto nested = db->begin(Transaction::Mode::read);
  ASSERT_FALSE(nested);
  EXPECT_NE(nested.error().message.find("nested"), std::string::npos);
}

TEST_F(SqliteDatabase, ConcurrentWritersFromManyThreadsAreSerialized) {
  auto db = open_db();
  ASSERT_TRUE(create_table(*db));
  constexpr int k_threads = 4;
  constexpr int k_per_thread = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(k_threads, 0);
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < k_per_thread; ++i) {
        std::int64_t id = t * k_per_thread + i + 1;
        auto done = db->write([&](Transaction& tx) { return insert(tx, id, std::to_string(id)); });
        if (!done) ++failures[static_cast<std::size_t>(t)];
        if (count(*db) < 1) ++failures[static_cast<std::size_t>(t)];  // reads interleave too
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  EXPECT_EQ(count(*db), k_threads * k_per_thread);
}

TEST_F(SqliteDatabase, ReadTransactionRefusesWrites) {
  auto db = open_db();
  ASSERT_TRUE(create_table(*db));
  auto result = db->read([](Transaction& tx) { return insert(tx, 1, "one"); });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code & 0xff, 8);  // SQLITE_READONLY
  // query_only is switched off again for the next write.
  EXPECT_TRUE(db->write([](Transaction& tx) { return insert(tx, 1, "one"); }));
  EXPECT_EQ(count(*db), 1);
}

TEST_F(SqliteDatabase, StatementsAreReusableAndNestedUseOfSameSqlWorks) {
  auto db = open_db();
  ASSERT_TRUE(create_table(*db));
  auto result = db->write([](Transaction& tx) -> Result<std::int64_t> {
    for (std::int64_t i = 1; i <= 3; ++i) {
      if (auto done = insert(tx, i, "n" + std::to_string(i)); !done) {
        return Unexpected(done.error());
      }
    }
    // Two live statements with the same SQL text: the cache hands out a second copy.
    auto outer = tx.prepare("SELECT id FROM t ORDER BY id");
    if (!outer) return Unexpected(outer.error());
    std::int64_t pairs = 0;
    while (true) {
      auto row = outer->step();
      if (!row) return Unexpected(row.error());
      if (!*row) break;
      auto inner = tx.prepare("SELECT id FROM t ORDER BY id");
      if (!inner) return Unexpected(inner.error());
      while (true) {
        auto inner_row = inner->step();
        if (!inner_row) return Unexpected(inner_row.error());
        if (!*inner_row) break;
        ++pairs;
      }
    }
    return pairs;
  });
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(*result, 9);
}

TEST_F(SqliteDatabase, ResetAllowsRebindingAndNullIsReadBack) {
  auto db = open_db();
  ASSERT_TRUE(create_table(*db));
  auto result = db->write([](Transaction& tx) -> Result<bool> {
    auto stmt = tx.prepare("INSERT INTO t (id, name, note) VALUES (?1, ?2, ?3)");
    if (!stmt) return Unexpected(stmt.error());
    stmt->bind_int64(1, 1).bind_text(2, "a").bind_null(3);
    if (auto done = stmt->run(); !done) return Unexpected(done.error());
    stmt->reset();
    stmt->bind_int64(1, 2).bind_text(2, "b").bind_text(3, "note");
    if (auto done = stmt->run(); !done) return Unexpected(done.error());
    auto read = tx.prepare("SELECT note FROM t WHERE id = ?1");
    if (!read) return Unexpected(read.error());
    read->bind_int64(1, 1);
    auto row = read->step();
    if (!row) return Unexpected(row.error());
    return *row && read->column_is_null(0) && read->column_text(0).empty();
  });
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(*result);
  EXPECT_EQ(count(*db), 2);
}

TEST_F(SqliteDatabase, BindErrorIsReportedByStep) {
  auto db = open_db();
  ASSERT_TRUE(create_table(*db));
  auto result = db->write([](Transaction& tx) -> Status {
    auto stmt = tx.prepare("INSERT INTO t (id) VALUES (?1)");
    if (!stmt) return Unexpected(stmt.error());
    stmt->bind_int64(7, 1);  // no such parameter
    return stmt->run();
  });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, 25);  // SQLITE_RANGE
}

TEST_F(SqliteDatabase, PrepareErrorCarriesSqliteMessage) {
  auto db = open_db();
  auto result = db->read([](Transaction& tx) -> Status {
    auto stmt = tx.prepare("SELECT * FROM missing_table");
    if (!stmt) return Unexpected(stmt.error());
    return {};
  });
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("no such table"), std::string::npos);
}

}  // namespace
}  // namespace captain::store
