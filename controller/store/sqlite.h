// A thin RAII layer over one SQLite connection: open with durable pragmas, prepared (cached)
// statements, and transactions that hold the connection's lock for their whole lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "controller/common/expected.h"

struct sqlite3;
struct sqlite3_stmt;

namespace captain::store {

// What went wrong in the store. `code` is SQLite's extended result code when the failure came
// from SQLite (0 otherwise), so callers can log it; `kind` is what callers branch on.
struct StoreError {
  enum class Kind {
    sqlite,     // any other SQLite failure (I/O, corruption, constraint, misuse, ...)
    busy,       // SQLITE_BUSY / SQLITE_LOCKED after busy_timeout: retry later, answer 503
    exists,     // inserting a key that is already there
    not_found,  // reading, updating or deleting a key that is not there
    schema,     // the database's schema cannot be used by this binary (e.g. newer version)
    invalid,    // bad input or stored data that does not parse (not JSON, not an object, ...)
  };

  Kind kind = Kind::sqlite;
  int code = 0;
  std::string message;
};

template <class T>
using Result = Expected<T, StoreError>;
using Status = Expected<void, StoreError>;

inline Unexpected<StoreError> store_error(StoreError::Kind kind, std::string message) {
  return Unexpected(StoreError{kind, 0, std::move(message)});
}

class Database;

// A prepared statement. Obtained from Transaction::prepare and valid only while that
// transaction is open (it uses the connection the transaction holds the lock of). Statements
// come from a per-SQL-text cache; destroying one resets it and hands it back to the cache.
//
// bind_* return *this for chaining; a failed bind is remembered and reported by the next step()
// or run(), so callers check one result instead of one per parameter. Indexes are 1-based
// (SQLite's convention) for binds and 0-based for columns.
class Statement {
 public:
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  Statement& bind_int64(int index, std::int64_t value);
  Statement& bind_text(int index, std::string_view value);
  Statement& bind_null(int index);

  // true: a row is available through the column accessors; false: the statement is done.
  Result<bool> step();
  // Steps to completion, ignoring any rows (INSERT / UPDATE / DELETE / DDL).
  Status run();
  // Back to before the first step, with every parameter unbound.
  void reset();

  bool column_is_null(int column) const;
  std::int64_t column_int64(int column) const;
  std::string column_text(int column) const;  // "" for NULL

 private:
  friend class Database;
  Statement(Database* owner, std::string sql, sqlite3_stmt* stmt)
      : owner_(owner), sql_(std::move(sql)), stmt_(stmt) {}
  void record_bind(int rc);
  void release() noexcept;

  Database* owner_ = nullptr;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
  StoreError bind_error_{};
  bool bind_failed_ = false;
};

// An open transaction; holds the database's lock until it ends. Destroying it without a
// successful commit() rolls back, so an early return or an exception leaves nothing behind.
// Move-only; obtained from Database::begin, or passed to the lambda of Database::write/read.
class Transaction {
 public:
  enum class Mode {
    read,   // BEGIN DEFERRED with PRAGMA query_only: a consistent snapshot, writes refused
    write,  // BEGIN IMMEDIATE: takes SQLite's write lock up front, so no upgrade deadlock later
  };

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Result<Statement> prepare(std::string_view sql);
  // Runs one or more SQL statements without parameters (migrations, pragmas).
  Status exec(std::string_view sql);
  // Rows changed by the last INSERT / UPDATE / DELETE.
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;

  // Ends the transaction, keeping its writes. After a failed commit the transaction is rolled
  // back by the destructor.
  Status commit();
  Mode mode() const { return mode_; }

 private:
  friend class Database;
  Transaction(Database* db, std::unique_lock<std::mutex> lock, Mode mode)
      : db_(db), lock_(std::move(lock)), mode_(mode) {}
  void finish(bool committed) noexcept;

  Database* db_ = nullptr;
  std::unique_lock<std::mutex> lock_;
  Mode mode_ = Mode::write;
  bool active_ = true;
};

// One SQLite connection, guarded by one mutex.
//
// Why one connection and not a pool: SQLite serializes writers anyway (one write lock per
// database file), the controller's writes are small and rare (API mutations, audit lines), and
// reads are index lookups measured in microseconds. A single connection means a single statement
// cache, no cross-connection WAL snapshot surprises, and nothing to size. Reads take the same lock;
// if they ever show up in a profile, a read-only pool can be added behind Database::read.
//
// Pinned in memory (statements point back to it), hence open() returns a unique_ptr.
class Database {
 public:
  struct Options {
    int busy_timeout_ms = 5000;
  };

  // Opens or creates the file with journal_mode=WAL, synchronous=FULL (a committed write is on
  // disk before commit returns: survives kill -9 and power loss), foreign_keys=ON and the busy
  // timeout. Fails if WAL cannot be enabled (e.g. a filesystem without shared memory).
  static Result<std::unique_ptr<Database>> open(const std::filesystem::path& path);
  static Result<std::unique_ptr<Database>> open(const std::filesystem::path& path, Options options);

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  const std::filesystem::path& path() const { return path_; }

  // Takes the lock and begins a transaction. Beginning a second one on the thread that already
  // holds one is refused (kind sqlite, message "nested transaction") rather than deadlocking.
  Result<Transaction> begin(Transaction::Mode mode);

  // Runs fn(Transaction&) inside BEGIN IMMEDIATE .. COMMIT. fn returns an Expected<T, E> (E
  // constructible from StoreError); an error result, or an exception, rolls everything back.
  // Returns fn's result, or the error of BEGIN / COMMIT.
  template <class F>
  auto write(F&& fn) -> std::invoke_result_t<F&, Transaction&> {
    return run_in(Transaction::Mode::write, fn);
  }
  // Same for reads: a consistent snapshot; writes inside fn fail with SQLITE_READONLY.
  template <class F>
  auto read(F&& fn) -> std::invoke_result_t<F&, Transaction&> {
    return run_in(Transaction::Mode::read, fn);
  }

 private:
  friend class Statement;
  friend class Transaction;
  Database(std::filesystem::path path, sqlite3* db) : path_(std::move(path)), db_(db) {}

  template <class F>
  auto run_in(Transaction::Mode mode, F& fn) -> std::invoke_result_t<F&, Transaction&> {
    auto tx = begin(mode);
    if (!tx) return Unexpected(tx.error());
    auto result = fn(*tx);
    if (!result) return result;  // tx's destructor rolls back
    if (auto committed = tx->commit(); !committed) return Unexpected(committed.error());
    return result;
  }

  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  void give_back(std::string sql, sqlite3_stmt* stmt) noexcept;

  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
  // The thread holding mutex_ through a Transaction; atomic because begin() reads it unlocked.
  std::atomic<std::thread::id> owner_{};
  // Idle prepared statements by SQL text; a statement in use is out of the map, so nested use
  // of the same SQL simply prepares a second copy.
  std::unordered_multimap<std::string, sqlite3_stmt*> cache_;
};

}  // namespace captain::store
