// The SQLite connection, statements and transactions declared in sqlite.h.
#include "controller/store/sqlite.h"

#include <sqlite3.h>

#include <limits>

namespace captain::store {
namespace {

StoreError::Kind kind_of(int extended_code) {
  switch (extended_code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StoreError::Kind::busy;
    default:
      return StoreError::Kind::sqlite;
  }
}

StoreError error_from(sqlite3* db, int rc, std::string_view context) {
  int code = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  // sqlite3_errmsg describes the most recent failure; fall back to the code's generic text when
  // the connection has none (e.g. the code came from sqlite3_reset or open without a handle).
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (code == SQLITE_OK) {
    code = rc;
    message = sqlite3_errstr(rc);
  }
  std::string full(context);
  full += ": ";
  full += message;
  return StoreError{kind_of(code), code, std::move(full)};
}

}  // namespace

// ---- Statement ----

Statement::Statement(Statement&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      sql_(std::move(other.sql_)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_error_(std::move(other.bind_error_)),
      bind_failed_(std::exchange(other.bind_failed_, false)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    sql_ = std::move(other.sql_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_error_ = std::move(other.bind_error_);
    bind_failed_ = std::exchange(other.bind_failed_, false);
  }
  return *this;
}

Statement::~Statement() {
  release();
}

void Statement::release() noexcept {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  if (owner_ != nullptr) {
    owner_->give_back(std::move(sql_), stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
}

void Statement::record_bind(int rc) {
  if (rc == SQLITE_OK || bind_failed_) return;
  bind_failed_ = true;
  bind_error_ = error_from(sqlite3_db_handle(stmt_), rc, "bind");
}

Statement& Statement::bind_int64(int index, std::int64_t value) {
  record_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind_text(int index, std::string_view value) {
  if (value.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    record_bind(SQLITE_TOOBIG);
    return *this;
  }
  // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may die before step().
  record_bind(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::bind_null(int index) {
  record_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Result<bool> Statement::step() {
  if (bind_failed_) return Unexpected(bind_error_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  StoreError error = error_from(sqlite3_db_handle(stmt_), rc, sql_);
  // A failed step leaves the statement needing a reset before it can run again.
  sqlite3_reset(stmt_);
  return Unexpected(std::move(error));
}

Status Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return Unexpected(row.error());
    if (!*row) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_failed_ = false;
  bind_error_ = {};
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int column) const {
  return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, column));
}

std::string Statement::column_text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  // Bytes after column_text, as SQLite's docs ask, so the length matches the converted text.
  auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
  return std::string(reinterpret_cast<const char*>(text), size);
}

// ---- Transaction ----

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      lock_(std::move(other.lock_)),
      mode_(other.mode_),
      active_(std::exchange(other.active_, false)) {}

Transaction::~Transaction() {
  finish(false);
}

void Transaction::finish(bool committed) noexcept {
  if (db_ == nullptr || !active_) return;
  active_ = false;
  if (!committed) {
    // ROLLBACK can only fail if there is no transaction (SQLite already rolled back after an
    // I/O error or similar); either way nothing of ours survives.
    sqlite3_exec(db_->db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  if (mode_ == Mode::read)
    sqlite3_exec(db_->db_, "PRAGMA query_only=OFF", nullptr, nullptr, nullptr);
  db_->owner_.store(std::thread::id{});
  lock_.unlock();
}

Result<Statement> Transaction::prepare(std::string_view sql) {
  if (!active_) return store_error(StoreError::Kind::sqlite, "prepare: transaction has ended");
  return db_->prepare(sql);
}

Status Transaction::exec(std::string_view sql) {
  if (!active_) return store_error(StoreError::Kind::sqlite, "exec: transaction has ended");
  return db_->exec(sql);
}

std::int64_t Transaction::changes() const {
  return static_cast<std::int64_t>(sqlite3_changes64(db_->db_));
}

std::int64_t Transaction::last_insert_rowid() const {
  return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_->db_));
}

Status Transaction::commit() {
  if (!active_) return store_error(StoreError::Kind::sqlite, "commit: transaction has ended");
  if (auto done = db_->exec("COMMIT"); !done) return done;  // destructor rolls back
  finish(true);
  return {};
}

// ---- Database ----

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& path) {
  return open(path, Options{});
}

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& path,
                                                 Options options) {
  sqlite3* handle = nullptr;
  // NOMUTEX: the Database's own mutex already serializes every use of the connection.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
  if (rc != SQLITE_OK) {
    StoreError error = error_from(handle, rc, "open " + path.string());
    sqlite3_close_v2(handle);  // a handle is returned even on most failures
    return Unexpected(std::move(error));
  }
  std::unique_ptr<Database> db(new Database(path, handle));
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, options.busy_timeout_ms);

  // journal_mode answers with the mode in effect, which is not an error when WAL is refused.
  {
    auto stmt = db->prepare("PRAGMA journal_mode=WAL");
    if (!stmt) return Unexpected(stmt.error());
    auto row = stmt->step();
    if (!row) return Unexpected(row.error());
    std::string mode = *row ? stmt->column_text(0) : std::string();
    if (mode != "wal") {
      return store_error(
          StoreError::Kind::sqlite,
          "open " + path.string() + ": WAL journal mode unavailable (got '" + mode + "')");
    }
  }
  // FULL in WAL mode: the WAL is synced at every commit, so a commit that returned is durable
  // across power loss, not only across a process crash (NORMAL would only promise the latter).
  if (auto done = db->exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"); !done) {
    return Unexpected(done.error());
  }
  return db;
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  cache_.clear();
  // v2: if a statement leaked, the connection closes once it is finalized instead of failing.
  sqlite3_close_v2(db_);
}

Status Database::exec(std::string_view sql) {
  std::string text(sql);  // sqlite3_exec needs a terminated string
  char* message = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  StoreError error = error_from(db_, rc, text);
  sqlite3_free(message);  // the same text as sqlite3_errmsg, already copied into error
  return Unexpected(std::move(error));
}

Result<Statement> Database::prepare(std::string_view sql) {
  std::string text(sql);
  if (auto it = cache_.find(text); it != cache_.end()) {
    sqlite3_stmt* stmt = it->second;
    cache_.erase(it);
    return Statement(this, std::move(text), stmt);
  }
  if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return store_error(StoreError::Kind::invalid, "prepare: SQL text too long");
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, text.data(), static_cast<int>(text.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Unexpected(error_from(db_, rc, "prepare " + text));
  if (stmt == nullptr) return store_error(StoreError::Kind::invalid, "prepare: empty SQL");
  return Statement(this, std::move(text), stmt);
}

void Database::give_back(std::string sql, sqlite3_stmt* stmt) noexcept {
  try {
    cache_.emplace(std::move(sql), stmt);
  } catch (...) {
    sqlite3_finalize(stmt);  // out of memory: forget the statement rather than leak it
  }
}

Result<Transaction> Database::begin(Transaction::Mode mode) {
  if (owner_.load() == std::this_thread::get_id()) {
    return store_error(StoreError::Kind::sqlite,
                       "nested transaction: this thread already holds one on " + path_.string());
  }
  std::unique_lock lock(mutex_);
  if (mode == Transaction::Mode::read) {
    if (auto done = exec("PRAGMA query_only=ON; BEGIN DEFERRED"); !done) {
      static_cast<void>(exec("PRAGMA query_only=OFF"));
      return Unexpected(done.error());
    }
  } else if (auto done = exec("BEGIN IMMEDIATE"); !done) {
    return Unexpected(done.error());
  }
  owner_.store(std::this_thread::get_id());
  return Transaction(this, std::move(lock), mode);
}

}  // namespace captain::store
