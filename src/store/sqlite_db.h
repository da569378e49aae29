// A SQLite database shared by many threads, with one writer and group commit.
//
// SQLite allows one writer at a time; many threads that each BEGIN/COMMIT
// fight over the lock ("database is locked", MLflow PR #6490) and pay one
// commit per request. SqliteDb instead funnels every write through a single
// writer thread: writes queued while a transaction commits are applied
// together in the next one, each inside its own SAVEPOINT so that one failing
// write rolls back alone. Write() returns after the transaction that holds
// the write has committed to the WAL. With Sync::kFull (the default) the WAL
// is fsynced at every commit, so a committed write survives a crash of the
// operating system or a power loss too; with Sync::kNormal it survives a
// crash of the process, and a power loss may take the last commits. Group
// commit makes the fsync cheap: one per transaction, not one per write.
// Reads run concurrently on a pool of read-only connections (WAL readers see
// the last committed state and never block the writer).
//
// Checkpoints (copying the WAL back into the database file, with an fsync)
// never run inside a commit, so a commit never waits for one: SQLite's
// automatic checkpoint is off, and MaybeCheckpoint() runs a PASSIVE one when
// the WAL has passed `checkpoint_pages`. The owner calls it from a periodic
// background task that the commit passing the threshold wakes at once
// (app::App schedules it on the shared core::Scheduler; see
// store::MetadataStores::upkeep). Without one (CLI commands, unit tests) the
// WAL grows until the database is closed, where a TRUNCATE checkpoint runs.
//
// The writer is a thread of this object's own, not a task on the shared
// executor: it is the single writer that group commit depends on, it waits
// on its queue for the whole life of the database, and every request's Write
// waits for it. As an executor task it would hold one of the few background
// threads for good, and the executor's bounded queue could put background
// work ahead of commits, or refuse the writer outright.
//
// Thread-safe. The object owns its connections and the writer thread.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "store/sqlite_schema.h"

namespace slipway::store {

class Connection;

// A prepared statement, cached by its connection; reset on destruction of the
// handle so it can be reused by the next caller.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, Connection* connection) : stmt_(stmt), connection_(connection) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, std::string_view value);  // copied: any value will do
  // Binds `value` without copying it: the caller keeps it alive and unchanged
  // until this Statement is destroyed (which resets it). For large values
  // that live in the caller's data for the whole write (span content).
  Statement& BindStatic(int index, std::string_view value);
  Statement& BindNull(int index);
  Statement& BindVariant(int index, const std::variant<int64_t, double, std::string>& value);

  // Advances to the next row; false when done.
  bool Step();
  // Runs a statement that returns no rows.
  void Run();
  // Makes the statement ready to step again from the start (bindings stay).
  void Reset() { sqlite3_reset(stmt_); }

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const { return sqlite3_column_double(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string Text(int column) const;

 private:
  sqlite3_stmt* stmt_;
  Connection* connection_;
};

// One SQLite connection and its statement cache. Not thread-safe: used by one
// thread at a time (the writer, or a reader holding it from the pool).
// SQLite's `synchronous` setting: when commits wait for the disk.
enum class Sync {
  kNormal,  // PRAGMA synchronous=NORMAL: the WAL is fsynced at checkpoints only
  kFull,    // PRAGMA synchronous=FULL: also at every commit
};

// "full" or "normal" (as the --sync option takes them); throws
// INVALID_PARAMETER_VALUE for anything else.
Sync ParseSync(const std::string& text);

class Connection {
 public:
  Connection(const std::string& path, bool read_only, Sync sync = Sync::kFull);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Statement Prepare(const std::string& sql);
  void Exec(const char* sql);
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* handle() const { return db_; }

  // Throws INTERNAL_ERROR with SQLite's message if `rc` is an error.
  void Check(int rc, const char* what) const;

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

class SqliteDb {
 public:
  struct Options {
    std::string path;             // file name; created if missing
    int read_connections = 8;     // pool size for concurrent reads
    int max_batch = 4096;         // writes applied in one transaction at most
    int checkpoint_pages = 1000;  // WAL size from which MaybeCheckpoint checkpoints
    Sync sync = Sync::kFull;      // durability of a commit (see the top of this file)
  };

  // Opens (creating if needed) and migrates the database to the newest
  // schema in `migrations`. Throws if the file holds a newer schema.
  static std::unique_ptr<SqliteDb> Open(const Options& options,
                                        std::span<const Migration> migrations);
  ~SqliteDb();

  // Runs `write` on the writer connection inside a transaction shared with
  // other queued writes; returns once committed. Exceptions thrown by `write`
  // roll back that write alone and are rethrown here.
  void Write(const std::function<void(Connection&)>& write);

  // Runs `read` on a pooled read connection, inside one read transaction so
  // that all its statements see the same committed state.
  template <typename F>
  auto Read(F&& read) {
    ReadLease lease(this);
    ReadTransaction transaction(*lease.connection);
    return read(*lease.connection);
  }

  // If the WAL has passed `checkpoint_pages` since the last checkpoint,
  // copies it back into the database file with a PASSIVE checkpoint (which
  // never blocks the writer or readers; what a reader still needs is copied
  // next time) and returns true; else returns false at once. One checkpoint
  // runs at a time; failures are logged, not thrown. Thread-safe; the owner's
  // periodic task must stop calling it before the database is destroyed.
  bool MaybeCheckpoint();

  // `wakeup` is called on the writer thread after each commit that leaves
  // the WAL past `checkpoint_pages`, so that the owner's task can call
  // MaybeCheckpoint now rather than at its next tick (a Scheduler Handle's
  // Waker). It must be quick and must not call into this object. Null (the
  // default): none.
  void SetCheckpointWakeup(std::function<void()> wakeup);

  int SchemaVersion() const { return schema_version_; }

 private:
  struct PendingWrite {
    const std::function<void(Connection&)>* write;
    std::promise<void> done;
  };

  class ReadLease {
   public:
    explicit ReadLease(SqliteDb* db);
    ~ReadLease();
    std::unique_ptr<Connection> connection;

   private:
    SqliteDb* db_;
  };

  class ReadTransaction {
   public:
    explicit ReadTransaction(Connection& connection) : connection_(connection) {
      connection_.Exec("BEGIN");
    }
    ~ReadTransaction() { sqlite3_exec(connection_.handle(), "COMMIT", nullptr, nullptr, nullptr); }

   private:
    Connection& connection_;
  };

  explicit SqliteDb(Options options) : options_(std::move(options)) {}
  void Migrate(std::span<const Migration> migrations);
  void WriterLoop();
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);

  Options options_;
  int schema_version_ = 0;
  std::unique_ptr<Connection> writer_;  // used only by writer_thread_ after Open

  std::mutex queue_mu_;  // guards queue_ and stopping_
  std::condition_variable queue_cv_;
  std::deque<PendingWrite*> queue_;
  bool stopping_ = false;
  std::thread writer_thread_;

  std::mutex wal_mu_;  // guards wal_pages_ and checkpoint_wakeup_
  int wal_pages_ = 0;  // pages in the WAL after the last commit
  std::function<void()> checkpoint_wakeup_;

  std::mutex checkpoint_mu_;                  // guards checkpointer_; held while a checkpoint runs
  std::unique_ptr<Connection> checkpointer_;  // opened by the first checkpoint

  std::mutex pool_mu_;  // guards pool_
  std::vector<std::unique_ptr<Connection>> pool_;
};

// Opens (creating if needed) Slipway's metadata database at `path` with every
// migration of sqlite_schema.cc applied; the stores share the result.
std::shared_ptr<SqliteDb> OpenMetadataDatabase(const std::string& path, Sync sync = Sync::kFull);

}  // namespace slipway::store
