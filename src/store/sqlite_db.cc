#include "store/sqlite_db.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "core/error.h"

namespace slipway::store {
namespace {

[[noreturn]] void ThrowSqlite(sqlite3* db, const char* what) {
  throw Error(ErrorCode::kInternalError,
              std::string("metadata store: ") + what + ": " + sqlite3_errmsg(db));
}

// How long one MaybeCheckpoint goes on checkpointing while commits keep
// the WAL past its threshold.
constexpr std::chrono::milliseconds kCheckpointBudget{500};

// The writer's page cache, smaller than the readers' (64 MiB). SQLite
// (3.40) walks its whole page-cache hash table at the end of a transaction
// after a b-tree balance has swapped sibling page numbers, which it does
// through the lock-byte page (page 262145) as a temporary number: that raises
// the cache's highest key past the database's end, and the commit's "drop
// pages past the end" then scans every bucket. A balance happens in nearly
// every commit of a busy writer, so the scan costs in proportion to the cache:
// with 64 MiB it was about a tenth of the server's CPU in OTLP ingestion
// (bench/tracing). 8 MiB keeps the b-trees' upper levels that the writer
// walks; misses come from the OS page cache, and tracking's log-metric and
// log-batch rates measured the same with either size.
constexpr int kWriterCacheKiB = 8 * 1024;

}  // namespace

Statement::~Statement() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::Bind(int index, int64_t value) {
  connection_->Check(sqlite3_bind_int64(stmt_, index, value), "bind");
  return *this;
}

Statement& Statement::Bind(int index, double value) {
  connection_->Check(sqlite3_bind_double(stmt_, index, value), "bind");
  return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
  connection_->Check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                       SQLITE_TRANSIENT),
                     "bind");
  return *this;
}

Statement& Statement::BindStatic(int index, std::string_view value) {
  connection_->Check(
      sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC),
      "bind");
  return *this;
}

Statement& Statement::BindNull(int index) {
  connection_->Check(sqlite3_bind_null(stmt_, index), "bind");
  return *this;
}

Statement& Statement::BindVariant(int index,
                                  const std::variant<int64_t, double, std::string>& value) {
  std::visit([&](const auto& v) { Bind(index, v); }, value);
  return *this;
}

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  if (rc == SQLITE_CONSTRAINT) {
    throw Error(ErrorCode::kInvalidParameterValue,
                std::string("constraint violated: ") + sqlite3_errmsg(connection_->handle()));
  }
  ThrowSqlite(connection_->handle(), "step");
}

void Statement::Run() {
  while (Step()) {
  }
}

std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column));
}

Sync ParseSync(const std::string& text) {
  if (text == "full") return Sync::kFull;
  if (text == "normal") return Sync::kNormal;
  throw Error(ErrorCode::kInvalidParameterValue,
              "invalid sync mode '" + text + "': use 'full' or 'normal'");
}

Connection::Connection(const std::string& path, bool read_only, Sync sync) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw Error(ErrorCode::kInternalError,
                "cannot open the metadata store at '" + path + "': " + message);
  }
  sqlite3_busy_timeout(db_, 10000);
  // WAL lets readers run beside the writer. synchronous=FULL fsyncs the WAL
  // at every commit; NORMAL loses nothing committed when only the process
  // dies (the WAL is in the OS page cache), but possibly the last
  // transactions on a power failure or an OS crash.
  Exec("PRAGMA journal_mode=WAL");
  Exec(sync == Sync::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  Exec("PRAGMA foreign_keys=OFF");
  Exec("PRAGMA cache_size=-65536");
  Exec("PRAGMA temp_store=MEMORY");
  if (read_only) Exec("PRAGMA query_only=1");
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Statement Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) ThrowSqlite(db_, ("prepare '" + sql + "'").c_str());
    it = cache_.emplace(sql, stmt).first;
  }
  return Statement(it->second, this);
}

void Connection::Exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    throw Error(ErrorCode::kInternalError, std::string("metadata store: ") + text);
  }
}

void Connection::Check(int rc, const char* what) const {
  if (rc != SQLITE_OK) ThrowSqlite(db_, what);
}

std::unique_ptr<SqliteDb> SqliteDb::Open(const Options& options,
                                         std::span<const Migration> migrations) {
  std::unique_ptr<SqliteDb> db(new SqliteDb(options));
  db->writer_ = std::make_unique<Connection>(options.path, false, options.sync);
  db->writer_->Exec(("PRAGMA cache_size=-" + std::to_string(kWriterCacheKiB)).c_str());
  db->Migrate(migrations);
  // Checkpoints move off the commit path: SQLite's automatic one would run
  // inside the writer's COMMIT and stall every request queued behind it.
  db->writer_->Exec("PRAGMA wal_autocheckpoint=0");
  sqlite3_wal_hook(db->writer_->handle(), &SqliteDb::OnWalCommit, db.get());
  db->writer_thread_ = std::thread([raw = db.get()] { raw->WriterLoop(); });
  pthread_setname_np(db->writer_thread_.native_handle(), "sqlite-writer");
  return db;
}

SqliteDb::~SqliteDb() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
  checkpointer_.reset();
  // Leave a small WAL behind for the next start.
  sqlite3_wal_checkpoint_v2(writer_->handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                            nullptr);
}

int SqliteDb::OnWalCommit(void* self, sqlite3*, const char*, int pages) {
  auto* db = static_cast<SqliteDb*>(self);
  std::lock_guard lock(db->wal_mu_);
  db->wal_pages_ = pages;
  if (pages >= db->options_.checkpoint_pages && db->checkpoint_wakeup_) db->checkpoint_wakeup_();
  return SQLITE_OK;
}

void SqliteDb::SetCheckpointWakeup(std::function<void()> wakeup) {
  std::lock_guard lock(wal_mu_);
  checkpoint_wakeup_ = std::move(wakeup);
}

bool SqliteDb::MaybeCheckpoint() {
  std::lock_guard running(checkpoint_mu_);
  auto take_due = [&] {
    std::lock_guard lock(wal_mu_);
    if (wal_pages_ < options_.checkpoint_pages) return false;
    wal_pages_ = 0;
    return true;
  };
  if (!take_due()) return false;
  try {
    if (!checkpointer_) {
      checkpointer_ = std::make_unique<Connection>(options_.path, false, options_.sync);
    }
  } catch (const std::exception& error) {
    spdlog::warn("metadata store: checkpoint failed: {}", error.what());
    return true;
  }
  // Again while commits made during a checkpoint still leave the WAL past
  // the threshold: the WAL starts over from its beginning only after a
  // checkpoint that copied all of it, which under a steady stream of
  // commits takes a few tries back to back (as the checkpointer thread this
  // replaces did). The budget gives the executor thread back now and then;
  // the next commit past the threshold wakes the task again.
  const auto until = std::chrono::steady_clock::now() + kCheckpointBudget;
  do {
    // PASSIVE never blocks the writer or readers; what it cannot copy now
    // (pages a reader still needs) is copied next time.
    int rc = sqlite3_wal_checkpoint_v2(checkpointer_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                       nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      spdlog::warn("metadata store: checkpoint failed: {}",
                   sqlite3_errmsg(checkpointer_->handle()));
      break;
    }
  } while (std::chrono::steady_clock::now() < until && take_due());
  return true;
}

void SqliteDb::Migrate(std::span<const Migration> migrations) {
  Connection& db = *writer_;
  db.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  {
    Statement current = db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    current.Step();
    schema_version_ = static_cast<int>(current.Int(0));
  }
  int newest = migrations.empty() ? 0 : migrations.back().version;
  if (schema_version_ > newest) {
    throw Error(ErrorCode::kInternalError,
                "the metadata store at '" + options_.path + "' has schema version " +
                    std::to_string(schema_version_) + ", newer than this Slipway knows (" +
                    std::to_string(newest) + "); upgrade Slipway");
  }
  for (const Migration& migration : migrations) {
    if (migration.version <= schema_version_) continue;
    db.Exec("BEGIN IMMEDIATE");
    try {
      db.Exec(migration.sql);
      db.Prepare(
            "INSERT INTO schema_migrations (version, description, applied_at) "
            "VALUES (?, ?, strftime('%s','now'))")
          .Bind(1, migration.version)
          .Bind(2, std::string_view(migration.description))
          .Run();
      db.Exec("COMMIT");
    } catch (...) {
      db.Exec("ROLLBACK");
      throw;
    }
    spdlog::info("metadata store: applied migration {} ({})", migration.version,
                 migration.description);
    schema_version_ = migration.version;
  }
}

void SqliteDb::Write(const std::function<void(Connection&)>& write) {
  PendingWrite pending{&write, {}};
  std::future<void> done = pending.done.get_future();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) {
      throw Error(ErrorCode::kTemporarilyUnavailable, "the metadata store is shutting down");
    }
    queue_.push_back(&pending);
  }
  queue_cv_.notify_one();
  done.get();
}

void SqliteDb::WriterLoop() {
  Connection& db = *writer_;
  std::vector<PendingWrite*> batch;
  std::vector<std::exception_ptr> errors;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to write
      while (!queue_.empty() && batch.size() < static_cast<size_t>(options_.max_batch)) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    errors.assign(batch.size(), nullptr);
    std::exception_ptr commit_error;
    try {
      db.Prepare("BEGIN IMMEDIATE").Run();
      for (size_t i = 0; i < batch.size(); ++i) {
        db.Prepare("SAVEPOINT w").Run();
        try {
          (*batch[i]->write)(db);
          db.Prepare("RELEASE w").Run();
        } catch (...) {
          errors[i] = std::current_exception();
          db.Prepare("ROLLBACK TO w").Run();
          db.Prepare("RELEASE w").Run();
        }
      }
      db.Prepare("COMMIT").Run();
    } catch (...) {
      commit_error = std::current_exception();
      if (!sqlite3_get_autocommit(db.handle())) {
        try {
          db.Exec("ROLLBACK");
        } catch (...) {
          spdlog::error("metadata store: rollback after a failed commit failed");
        }
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (commit_error) {
        batch[i]->done.set_exception(commit_error);
      } else if (errors[i]) {
        batch[i]->done.set_exception(errors[i]);
      } else {
        batch[i]->done.set_value();
      }
    }
    batch.clear();
  }
}

SqliteDb::ReadLease::ReadLease(SqliteDb* db) : db_(db) {
  {
    std::lock_guard lock(db_->pool_mu_);
    if (!db_->pool_.empty()) {
      connection = std::move(db_->pool_.back());
      db_->pool_.pop_back();
    }
  }
  if (!connection) {
    connection = std::make_unique<Connection>(db_->options_.path, true, db_->options_.sync);
  }
}

SqliteDb::ReadLease::~ReadLease() {
  std::lock_guard lock(db_->pool_mu_);
  if (db_->pool_.size() < static_cast<size_t>(db_->options_.read_connections)) {
    db_->pool_.push_back(std::move(connection));
  }
}

std::shared_ptr<SqliteDb> OpenMetadataDatabase(const std::string& path, Sync sync) {
  SqliteDb::Options options;
  options.path = path;
  options.sync = sync;
  return SqliteDb::Open(options, SqliteMigrations());
}

}  // namespace slipway::store
