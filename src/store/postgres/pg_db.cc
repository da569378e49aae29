#include "store/postgres/pg_db.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <random>
#include <thread>

namespace slipway::store::postgres {
namespace {

// The first two characters of a SQLSTATE name its class.
bool InClass(std::string_view sqlstate, std::string_view klass) {
  return sqlstate.substr(0, 2) == klass;
}

std::string Trimmed(const char* text) {
  std::string out = text ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* BeginStatement(PgDb::Isolation isolation) {
  switch (isolation) {
    case PgDb::Isolation::kReadCommitted:
      return "BEGIN ISOLATION LEVEL READ COMMITTED";
    case PgDb::Isolation::kRepeatableReadReadOnly:
      return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    case PgDb::Isolation::kSerializable:
      return "BEGIN ISOLATION LEVEL SERIALIZABLE";
  }
  return "BEGIN";
}

// A pause before running a conflicting transaction again: random, so two
// transactions that conflicted do not meet again in step, and longer each
// time.
void BackOff(int attempt) {
  thread_local std::minstd_rand random{std::random_device{}()};
  int ceiling_us = std::min(1000 << std::min(attempt, 6), 50000);
  std::uniform_int_distribution<int> pick(ceiling_us / 4, ceiling_us);
  std::this_thread::sleep_for(std::chrono::microseconds(pick(random)));
}

}  // namespace

ErrorCode CodeForSqlstate(std::string_view sqlstate) {
  if (sqlstate.empty()) return ErrorCode::kTemporarilyUnavailable;  // the connection's failure
  if (sqlstate == "23505") return ErrorCode::kResourceAlreadyExists;
  if (InClass(sqlstate, "23") || InClass(sqlstate, "22")) return ErrorCode::kInvalidParameterValue;
  if (sqlstate == "40001" || sqlstate == "40P01" || InClass(sqlstate, "08") ||
      InClass(sqlstate, "53") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03" || sqlstate == "57014") {
    return ErrorCode::kTemporarilyUnavailable;
  }
  return ErrorCode::kInternalError;
}

bool IsPostgresUri(std::string_view uri) {
  return uri.rfind("postgresql://", 0) == 0 || uri.rfind("postgres://", 0) == 0;
}

std::string DescribePostgresUri(const std::string& uri) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (options == nullptr) {
    std::string message = Trimmed(error);
    PQfreemem(error);
    // libpq's message may quote the URI, password and all: say only where.
    throw Error(ErrorCode::kInvalidParameterValue,
                "invalid PostgreSQL URI (expected postgresql://USER@HOST[:PORT]/DATABASE): " +
                    (message.find(uri) == std::string::npos ? message : "cannot be parsed"));
  }
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    std::string_view key = o->keyword;
    std::string value = o->val ? o->val : "";
    if (key == "user") user = value;
    if (key == "host" || (key == "hostaddr" && host.empty())) host = value;
    if (key == "port") port = value;
    if (key == "dbname") dbname = value;
  }
  PQconninfoFree(options);
  std::string out = "postgresql ";
  if (!user.empty()) out += user + "@";
  out += host.empty() ? "localhost" : host;
  if (!port.empty()) out += ":" + port;
  out += "/" + (dbname.empty() ? user : dbname);
  return out;
}

// ---------------------------------------------------------------- PgParams

void PgParams::Push(PgType type, std::string value, int format) {
  types_.push_back(static_cast<Oid>(type));
  values_.push_back(std::move(value));
  nulls_.push_back(false);
  formats_.push_back(format);
}

PgParams& PgParams::Add(int64_t value) {
  Push(PgType::kInt8, std::to_string(value), 0);
  return *this;
}

PgParams& PgParams::Add(double value) {
  if (std::isnan(value)) {
    Push(PgType::kFloat8, "NaN", 0);
  } else if (std::isinf(value)) {
    Push(PgType::kFloat8, value > 0 ? "Infinity" : "-Infinity", 0);
  } else {
    // The shortest text that reads back as the same double.
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    Push(PgType::kFloat8, std::string(buffer, end), 0);
  }
  return *this;
}

PgParams& PgParams::Add(bool value) {
  Push(PgType::kBool, value ? "t" : "f", 0);
  return *this;
}

PgParams& PgParams::Add(std::string_view value) {
  Push(PgType::kText, std::string(value), 0);
  return *this;
}

PgParams& PgParams::AddBytes(std::string_view value) {
  Push(PgType::kBytea, std::string(value), 1);
  return *this;
}

PgParams& PgParams::AddUntyped(std::string_view text) {
  Push(PgType::kUnknown, std::string(text), 0);
  return *this;
}

PgParams& PgParams::AddNull(PgType type) {
  Push(type, "", 0);
  nulls_.back() = true;
  return *this;
}

// ---------------------------------------------------------------- PgResult

int64_t PgResult::Affected() const {
  const char* text = PQcmdTuples(result_.get());
  return text && *text ? std::strtoll(text, nullptr, 10) : 0;
}

std::string_view PgResult::Text(int row, int column) const {
  return {PQgetvalue(result_.get(), row, column),
          static_cast<size_t>(PQgetlength(result_.get(), row, column))};
}

int64_t PgResult::Int(int row, int column) const {
  std::string_view text = Text(row, column);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

double PgResult::Double(int row, int column) const {
  // strtod reads NaN, Infinity and -Infinity as PostgreSQL writes them.
  return std::strtod(PQgetvalue(result_.get(), row, column), nullptr);
}

bool PgResult::Bool(int row, int column) const {
  std::string_view text = Text(row, column);
  return !text.empty() && text[0] == 't';
}

std::string PgResult::Bytes(int row, int column) const {
  std::string_view text = Text(row, column);  // "\x" and two hex digits a byte
  std::string out;
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') {
    throw Error(ErrorCode::kInternalError,
                "PostgreSQL: a bytea column came back not in hex format (set bytea_output=hex)");
  }
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<char>(HexValue(text[i]) * 16 + HexValue(text[i + 1])));
  }
  return out;
}

// ---------------------------------------------------------------- PgConnection

PgConnection::PgConnection(const std::string& uri, int connect_timeout_s) {
  std::string timeout = std::to_string(connect_timeout_s);
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {uri.c_str(), timeout.c_str(), "slipway", nullptr};
  conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    std::string message = conn_ ? Trimmed(PQerrorMessage(conn_)) : "out of memory";
    PQfinish(conn_);
    conn_ = nullptr;
    throw PgError("",
                  "cannot connect to PostgreSQL (" + DescribePostgresUri(uri) + "): " + message);
  }
  // NOTICEs ("relation ... already exists, skipping") are for debugging,
  // not for the user's terminal, where libpq would print them.
  PQsetNoticeProcessor(
      conn_, [](void*, const char* message) { spdlog::debug("PostgreSQL: {}", Trimmed(message)); },
      nullptr);
  // Settings the stores' SQL relies on, whatever the server's defaults.
  ExecScript("SET client_encoding = 'UTF8'; SET bytea_output = 'hex'; SET TIME ZONE 'UTC'");
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

void PgConnection::Throw(const PGresult* result, const std::string& what) const {
  const char* sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message;
  if (result && PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)) {
    message = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) {
      message += std::string(" (") + detail + ")";
    }
  } else {
    message = Trimmed(PQerrorMessage(conn_));
  }
  std::string state = sqlstate ? sqlstate : "";
  if (!Ok() && state.empty()) message = "lost the connection to PostgreSQL: " + message;
  throw PgError(state, "PostgreSQL: " + message +
                           (state.empty() ? "" : " [SQLSTATE " + state + "]") +
                           (what.empty() ? "" : " in: " + what));
}

PgResult PgConnection::Check(PGresult* result, const std::string& what) const {
  ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
    return PgResult(result);
  }
  PgResult owner(result);  // freed when Throw unwinds
  Throw(result, what);
}

PgResult PgConnection::Exec(const std::string& sql, const PgParams& params) {
  auto found = prepared_.find(sql);
  if (found == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size());
    Check(PQprepare(conn_, name.c_str(), sql.c_str(), params.size(), params.types().data()), sql);
    found = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  for (int i = 0; i < params.size(); ++i) {
    values[i] = params.nulls_[i] ? nullptr : params.values_[i].data();
    lengths[i] = static_cast<int>(params.values_[i].size());
  }
  return Check(PQexecPrepared(conn_, found->second.c_str(), params.size(), values.data(),
                              lengths.data(), params.formats_.data(), /*resultFormat=*/0),
               sql);
}

void PgConnection::ExecScript(const std::string& sql) {
  Check(PQexec(conn_, sql.c_str()), sql.size() > 200 ? sql.substr(0, 200) + "..." : sql);
}

// ---------------------------------------------------------------- PgDb

PgDb::PgDb(Options options) : options_(std::move(options)) {}

PgDb::~PgDb() = default;

std::unique_ptr<PgDb> PgDb::Open(const Options& options) {
  if (options.max_connections < 1 || options.max_attempts < 1) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "PostgreSQL pool: max_connections and max_attempts must be at least 1");
  }
  std::unique_ptr<PgDb> db(new PgDb(options));
  db->description_ = DescribePostgresUri(options.uri);
  auto first = std::make_unique<PgConnection>(options.uri, options.connect_timeout_s);
  db->server_version_ = first->ServerVersion();
  if (db->server_version_ < 120000) {
    throw Error(ErrorCode::kInvalidParameterValue, db->description_ + " runs PostgreSQL " +
                                                       std::to_string(db->server_version_) +
                                                       "; Slipway needs 12 or newer");
  }
  db->open_ = 1;
  db->idle_.push_back(std::move(first));
  return db;
}

std::unique_ptr<PgConnection> PgDb::Acquire() {
  std::unique_lock lock(mu_);
  auto ready = [&] { return !idle_.empty() || open_ < options_.max_connections; };
  if (!released_.wait_for(lock, options_.acquire_timeout, ready)) {
    throw Error(ErrorCode::kTemporarilyUnavailable,
                "all " + std::to_string(options_.max_connections) + " connections to " +
                    description_ + " stayed busy for " +
                    std::to_string(options_.acquire_timeout.count()) + " ms");
  }
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return connection;
  }
  ++open_;
  lock.unlock();
  try {
    return std::make_unique<PgConnection>(options_.uri, options_.connect_timeout_s);
  } catch (...) {
    lock.lock();
    --open_;
    released_.notify_one();
    throw;
  }
}

void PgDb::Release(std::unique_ptr<PgConnection> connection) {
  std::lock_guard lock(mu_);
  if (connection && connection->Ok()) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;  // a broken connection is dropped; the next Acquire opens another
  }
  released_.notify_one();
}

void PgDb::Transact(Isolation isolation, const std::function<void(PgConnection&)>& body) {
  // A unique violation in a SERIALIZABLE write may be a concurrent
  // transaction's insert of the same key (two first versions of one
  // dataset), which PostgreSQL reports as such rather than as 40001 when
  // this one never read that key. A rerun sees the other's row and does what
  // the store does then; a violation that persists is reported.
  int unique_reruns = 0;
  for (int attempt = 1;; ++attempt) {
    std::unique_ptr<PgConnection> connection = Acquire();
    bool commit_sent = false;
    try {
      connection->ExecScript(BeginStatement(isolation));
      body(*connection);
      commit_sent = true;
      connection->ExecScript("COMMIT");
      Release(std::move(connection));
      return;
    } catch (const PgError& e) {
      bool lost = !connection->Ok();
      if (!lost) {
        try {
          connection->ExecScript("ROLLBACK");
        } catch (const PgError&) {
          lost = true;
        }
      }
      Release(lost ? nullptr : std::move(connection));
      if (lost && commit_sent) {
        throw Error(ErrorCode::kTemporarilyUnavailable,
                    "lost the connection to " + description_ +
                        " while committing: the write may or may not have been applied (" +
                        e.what() + ")");
      }
      bool unique_rerun =
          e.IsUniqueViolation() && isolation == Isolation::kSerializable && unique_reruns++ < 2;
      bool again = (e.IsRetryable() || lost || unique_rerun) && attempt < options_.max_attempts;
      if (!again) throw;
      spdlog::debug("{}: transaction attempt {} failed ({}); running it again", description_,
                    attempt, e.what());
      if (!lost) BackOff(attempt);
    } catch (...) {
      // The body's own error (not found, invalid): undo its statements.
      bool ok = connection->Ok();
      if (ok) {
        try {
          connection->ExecScript("ROLLBACK");
        } catch (const PgError&) {
          ok = false;
        }
      }
      Release(ok ? std::move(connection) : nullptr);
      throw;
    }
  }
}

}  // namespace slipway::store::postgres
