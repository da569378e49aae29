// A PostgreSQL database reached through libpq: a pool of connections,
// parameterised statements, and transactions retried on serialization
// failures.
//
// Every user value travels as a parameter ($1..$n, each with its type), never
// in the SQL text. Statements are prepared once per connection and cached by
// their text, so the stores write SQL as plain strings, as with SqliteDb.
//
// Transactions. Write() runs its function in a SERIALIZABLE transaction, so
// the stores may reason as if writes ran one at a time, as they do on SQLite's
// single writer; PostgreSQL then aborts a transaction that conflicts with a
// concurrent one (SQLSTATE 40001) or deadlocks (40P01), and Write() runs the
// function again on a fresh transaction, up to `max_attempts` times with a
// short random pause. A unique violation (23505) in a SERIALIZABLE write is
// run again up to twice too: PostgreSQL reports a concurrent insert of a key
// this transaction never read as that, not as 40001, and the rerun sees the
// other's row. The function may therefore run more than once: it must
// do nothing outside the database that it cannot repeat. A statement that
// fails aborts its transaction (PostgreSQL's rule): a store that expects a
// failure, say a unique violation it words as its own error, lets it end
// the transaction, or avoids it (ON CONFLICT). Read() runs in a
// REPEATABLE READ, READ ONLY transaction: all its statements see one
// snapshot. A connection found broken before COMMIT was sent (the server
// restarted, a pooled connection timed out) is replaced and the transaction
// retried; a connection lost while COMMIT was in flight leaves the outcome
// unknown, which is reported (TEMPORARILY_UNAVAILABLE), never retried.
// Write() returns once PostgreSQL acknowledged the COMMIT: with the server's
// default synchronous_commit=on the transaction is then on its disk.
//
// Errors are PgError: a slipway::Error whose code maps the SQLSTATE to the
// domain's (unique violation -> RESOURCE_ALREADY_EXISTS; see CodeForSqlstate),
// whose message is the server's, and which keeps the SQLSTATE for stores that
// turn a specific failure into their own message.
//
// Thread-safe: PgDb hands each transaction a connection of its own from the
// pool; a PgConnection is used by one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace slipway::store::postgres {

// The parameter types the stores use (PostgreSQL's type OIDs).
enum class PgType : Oid {
  kUnknown = 0,  // PostgreSQL infers the type from where the parameter stands
  kBool = 16,
  kBytea = 17,
  kInt8 = 20,
  kText = 25,
  kFloat8 = 701,
};

// The domain's error code for a SQLSTATE: 23505 (unique violation) ->
// RESOURCE_ALREADY_EXISTS; other integrity and data errors (23xxx, 22xxx) ->
// INVALID_PARAMETER_VALUE; serialization failures, deadlocks, lost or
// refused connections, shutdowns and exhausted resources (40001, 40P01,
// 08xxx, 57P0x, 53xxx, 57014) -> TEMPORARILY_UNAVAILABLE; anything else
// (syntax, undefined objects: our bugs) -> INTERNAL_ERROR.
ErrorCode CodeForSqlstate(std::string_view sqlstate);

// An error reported by PostgreSQL or libpq. `sqlstate` is empty when the
// failure was the connection's (libpq gave no SQLSTATE).
class PgError : public Error {
 public:
  PgError(std::string sqlstate, std::string message)
      : Error(CodeForSqlstate(sqlstate), std::move(message)), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool IsUniqueViolation() const { return sqlstate_ == "23505"; }
  // Worth running the whole transaction again: 40001, 40P01.
  bool IsRetryable() const { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }

 private:
  std::string sqlstate_;
};

// The parameters of one statement, in order ($1, $2, ...), each with its
// type. Values are copied.
class PgParams {
 public:
  PgParams() = default;
  PgParams& Add(int64_t value);
  PgParams& Add(int value) { return Add(static_cast<int64_t>(value)); }
  PgParams& Add(double value);  // NaN and infinities as PostgreSQL spells them
  PgParams& Add(bool value);
  PgParams& Add(std::string_view value);  // text: must be valid UTF-8 without NUL
  PgParams& Add(const char* value) { return Add(std::string_view(value)); }
  PgParams& Add(const std::string& value) { return Add(std::string_view(value)); }
  PgParams& AddBytes(std::string_view value);  // bytea: any bytes
  PgParams& AddNull(PgType type);
  // A value in PostgreSQL's text form whose type PostgreSQL infers (kUnknown).
  PgParams& AddUntyped(std::string_view text);

  int size() const { return static_cast<int>(types_.size()); }
  const std::vector<Oid>& types() const { return types_; }

 private:
  friend class PgConnection;
  void Push(PgType type, std::string value, int format);

  std::vector<Oid> types_;
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> formats_;  // 0 text, 1 binary (bytea)
};

// The rows of one statement, in PostgreSQL's text format. Owns its PGresult.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}

  int Rows() const { return PQntuples(result_.get()); }
  int Columns() const { return PQnfields(result_.get()); }
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t Affected() const;

  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view Text(int row, int column) const;
  int64_t Int(int row, int column) const;  // NULL reads as 0
  double Double(int row, int column) const;
  bool Bool(int row, int column) const;
  std::string Bytes(int row, int column) const;  // a bytea column, decoded
  std::string ColumnName(int column) const { return PQfname(result_.get(), column); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

// One connection and its prepared statements. Not thread-safe.
class PgConnection {
 public:
  // Connects; throws PgError (TEMPORARILY_UNAVAILABLE) with libpq's message.
  PgConnection(const std::string& uri, int connect_timeout_s);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with `params` (prepared on first use of its text on
  // this connection). Throws PgError.
  PgResult Exec(const std::string& sql, const PgParams& params = {});
  // Runs statements without parameters, several separated by ';' allowed
  // (migrations, BEGIN/COMMIT). Throws PgError.
  void ExecScript(const std::string& sql);

  // False once the connection is lost; a broken connection is not reused.
  bool Ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  int ServerVersion() const { return PQserverVersion(conn_); }

 private:
  [[noreturn]] void Throw(const PGresult* result, const std::string& what) const;
  PgResult Check(PGresult* result, const std::string& what) const;

  PGconn* conn_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

class PgDb {
 public:
  struct Options {
    std::string uri;          // postgresql://user[:password]@host[:port]/database[?...]
    int max_connections = 8;  // the pool's size: transactions beyond it wait
    std::chrono::milliseconds acquire_timeout{30000};  // the wait, then TEMPORARILY_UNAVAILABLE
    int connect_timeout_s = 10;
    int max_attempts = 10;  // runs of a transaction that keeps hitting 40001 or 40P01
  };

  enum class Isolation { kReadCommitted, kRepeatableReadReadOnly, kSerializable };

  // Connects once (so that a wrong URI or an unreachable server fails here,
  // with libpq's message) and keeps that connection in the pool.
  static std::unique_ptr<PgDb> Open(const Options& options);
  ~PgDb();

  // See the top of this file. `write` may run more than once.
  template <typename F>
  auto Write(F&& write) {
    return Run(Isolation::kSerializable, std::forward<F>(write));
  }
  template <typename F>
  auto Read(F&& read) {
    return Run(Isolation::kRepeatableReadReadOnly, std::forward<F>(read));
  }
  // A transaction at `isolation` with the same retries (migrations use READ
  // COMMITTED under an advisory lock).
  template <typename F>
  auto Run(Isolation isolation, F&& body) {
    using R = std::invoke_result_t<F&, PgConnection&>;
    if constexpr (std::is_void_v<R>) {
      Transact(isolation, [&](PgConnection& c) { body(c); });
    } else {
      std::optional<R> out;
      Transact(isolation, [&](PgConnection& c) { out.emplace(body(c)); });
      return std::move(*out);
    }
  }

  // "postgresql user@host:port/database": the URI without its password.
  const std::string& description() const { return description_; }
  int server_version() const { return server_version_; }

 private:
  explicit PgDb(Options options);
  void Transact(Isolation isolation, const std::function<void(PgConnection&)>& body);
  std::unique_ptr<PgConnection> Acquire();
  void Release(std::unique_ptr<PgConnection> connection);

  Options options_;
  std::string description_;
  int server_version_ = 0;

  std::mutex mu_;  // guards idle_ and open_
  std::condition_variable released_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  int open_ = 0;  // connections in idle_ plus those lent out
};

// The URI without its password, for logs and messages: "postgresql
// user@host:port/database". Throws INVALID_PARAMETER_VALUE if libpq cannot
// parse it.
std::string DescribePostgresUri(const std::string& uri);

// True for the schemes libpq takes: postgresql:// and postgres://.
bool IsPostgresUri(std::string_view uri);

}  // namespace slipway::store::postgres
