#include "store/postgres/pg_schema.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <vector>

namespace slipway::store::postgres {
namespace {

// A key for pg_advisory_xact_lock that no other program on the database is
// likely to take: "slipway" in ASCII.
constexpr int64_t kMigrationLock = 0x736c6970776179;

// The case-insensitive collation COLLATE NOCASE renders to (ICU, which
// Debian's PostgreSQL is built with; nondeterministic collations need 12).
constexpr const char* kNocaseCollation =
    "CREATE COLLATION IF NOT EXISTS slipway_nocase "
    "(provider = icu, locale = 'und-u-ks-level2', deterministic = false);\n";

// Columns that SQLite keeps as 0/1 integers and PostgreSQL as BOOLEAN, as
// MLflow's schema has them and SqlDialect::Postgres() compares is_nan. Not
// the assessments' `valid` and `serialized`: the trace search SQL shared by
// both engines (sql_trace_search.cc) compares them with 1.
constexpr std::pair<std::string_view, std::string_view> kFlagColumns[] = {
    {"metrics", "is_nan"},
    {"latest_metrics", "is_nan"},
    {"latest_metrics", "in_step_order"},
    {"users", "is_admin"},
};

struct Token {
  enum Kind { kSpace, kWord, kOther } kind;
  std::string text;
};

// Splits SQL into words, runs of space and comments, and everything else
// (string literals and quoted names whole, so nothing inside them is
// rewritten).
std::vector<Token> Tokenize(std::string_view sql) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    size_t start = i;
    if (std::isspace(static_cast<unsigned char>(c))) {
      while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
      tokens.push_back({Token::kSpace, std::string(sql.substr(start, i - start))});
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
      tokens.push_back({Token::kSpace, std::string(sql.substr(start, i - start))});
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (i < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) {
        ++i;
      }
      tokens.push_back({Token::kWord, std::string(sql.substr(start, i - start))});
    } else if (c == '\'' || c == '"' || c == '`') {
      ++i;
      while (i < sql.size()) {
        if (sql[i] == c && i + 1 < sql.size() && sql[i + 1] == c) {
          i += 2;  // a doubled quote stands for itself
        } else if (sql[i++] == c) {
          break;
        }
      }
      tokens.push_back({Token::kOther, std::string(sql.substr(start, i - start))});
    } else {
      ++i;
      tokens.push_back({Token::kOther, std::string(1, c)});
    }
  }
  return tokens;
}

std::string Upper(std::string_view word) {
  std::string out(word);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Walks the tokens, skipping space, and matches words case-insensitively.
class Cursor {
 public:
  explicit Cursor(const std::vector<Token>& tokens) : tokens_(tokens) {}

  // The index of the next token that is not space, at or after `from`.
  size_t NextSolid(size_t from) const {
    while (from < tokens_.size() && tokens_[from].kind == Token::kSpace) ++from;
    return from;
  }
  bool IsWord(size_t at, std::string_view upper) const {
    return at < tokens_.size() && tokens_[at].kind == Token::kWord &&
           Upper(tokens_[at].text) == upper;
  }
  bool IsText(size_t at, std::string_view text) const {
    return at < tokens_.size() && tokens_[at].text == text;
  }
  // True if the words in `upper` follow `at` in order (space between them
  // skipped); `end` is then one past the last.
  bool Words(size_t at, std::initializer_list<std::string_view> upper, size_t* end) const {
    for (std::string_view word : upper) {
      at = NextSolid(at);
      if (!IsWord(at, word)) return false;
      ++at;
    }
    *end = at;
    return true;
  }
  size_t size() const { return tokens_.size(); }

 private:
  const std::vector<Token>& tokens_;
};

// One past `REFERENCES table [(columns)] [ON DELETE|UPDATE action]...`.
size_t SkipReferences(const Cursor& cursor, size_t at) {
  at = cursor.NextSolid(at + 1) + 1;  // the table
  size_t next = cursor.NextSolid(at);
  if (cursor.IsText(next, "(")) {
    while (next < cursor.size() && !cursor.IsText(next, ")")) ++next;
    at = next + 1;
  }
  for (;;) {
    size_t end;
    if (!cursor.Words(at, {"ON"}, &end)) return at;
    size_t event = cursor.NextSolid(end);
    if (!cursor.IsWord(event, "DELETE") && !cursor.IsWord(event, "UPDATE")) return at;
    at = event + 1;
    if (cursor.Words(at, {"SET", "NULL"}, &end) || cursor.Words(at, {"SET", "DEFAULT"}, &end) ||
        cursor.Words(at, {"NO", "ACTION"}, &end) || cursor.Words(at, {"CASCADE"}, &end) ||
        cursor.Words(at, {"RESTRICT"}, &end)) {
      at = end;
    }
  }
}

}  // namespace

std::string RenderPostgres(std::string_view sqlite_sql) {
  std::vector<Token> tokens = Tokenize(sqlite_sql);
  Cursor cursor(tokens);
  std::string out;
  bool nocase = false;
  // Where the text is: the table a CREATE TABLE or ALTER TABLE names, the
  // parenthesis depth inside CREATE TABLE, and the column being defined.
  std::string table, column;
  int depth = 0;
  bool in_create = false;
  bool boolean_default = false;  // a flag column's DEFAULT 0/1 comes next
  std::string last_solid;        // the previous token that is not space
  for (size_t i = 0; i < tokens.size();) {
    const Token& token = tokens[i];
    if (token.kind != Token::kWord) {
      std::string text = token.text;
      if (text == "(") ++depth;
      if (text == ")") --depth;
      if (text == ";") {
        table.clear();
        column.clear();
        in_create = false;
        depth = 0;
      }
      if (boolean_default && (text == "0" || text == "1")) {
        text = text == "1" ? "TRUE" : "FALSE";
        boolean_default = false;
      }
      if (token.kind != Token::kSpace) last_solid = token.text;
      out += text;
      ++i;
      continue;
    }
    std::string word = Upper(token.text);
    size_t end;
    if (in_create && depth == 1 && (last_solid == "(" || last_solid == ",") && word != "PRIMARY" &&
        word != "UNIQUE" && word != "CHECK" && word != "CONSTRAINT" && word != "FOREIGN") {
      column = token.text;
      boolean_default = false;
    }
    last_solid = token.text;
    if (word == "CREATE" && cursor.Words(i + 1, {"TABLE"}, &end)) {
      size_t name = cursor.NextSolid(end);
      if (cursor.Words(end, {"IF", "NOT", "EXISTS"}, &end)) name = cursor.NextSolid(end);
      table = name < tokens.size() ? tokens[name].text : "";
      in_create = true;
      depth = 0;
      out += token.text;
      ++i;
    } else if (word == "ALTER" && cursor.Words(i + 1, {"TABLE"}, &end)) {
      size_t name = cursor.NextSolid(end);
      table = name < tokens.size() ? tokens[name].text : "";
      size_t add_end;
      if (cursor.Words(name + 1, {"ADD", "COLUMN"}, &add_end) ||
          cursor.Words(name + 1, {"ADD"}, &add_end)) {
        size_t col = cursor.NextSolid(add_end);
        column = col < tokens.size() ? tokens[col].text : "";
      }
      out += token.text;
      ++i;
    } else if (word == "INTEGER" && IsFlagColumn(table, column)) {
      out += "BOOLEAN";
      boolean_default = true;
      ++i;
    } else if (word == "INTEGER" &&
               cursor.Words(i + 1, {"PRIMARY", "KEY", "AUTOINCREMENT"}, &end)) {
      out += "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
      i = end;
    } else if (word == "INTEGER" && cursor.Words(i + 1, {"PRIMARY", "KEY"}, &end)) {
      out += "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
      i = end;
    } else if (word == "INTEGER") {
      out += "BIGINT";
      ++i;
    } else if (word == "REAL") {
      out += "DOUBLE PRECISION";
      ++i;
    } else if (word == "BLOB") {
      out += "BYTEA";
      ++i;
    } else if (word == "COLLATE" && cursor.Words(i + 1, {"NOCASE"}, &end)) {
      out += "COLLATE slipway_nocase";
      nocase = true;
      i = end;
    } else if (word == "WITHOUT" && cursor.Words(i + 1, {"ROWID"}, &end)) {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      i = end;
    } else if (word == "REFERENCES") {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      i = SkipReferences(cursor, i);
    } else if (word == "PRAGMA" || word == "STRFTIME" || word == "JULIANDAY" ||
               word == "AUTOINCREMENT" || (word == "INSERT" && cursor.Words(i + 1, {"OR"}, &end)) ||
               word == "GLOB") {
      throw Error(ErrorCode::kInternalError, "schema: no PostgreSQL rendering for SQLite's '" +
                                                 token.text +
                                                 "': give the migration its postgres_sql");
    } else {
      if (word != "DEFAULT" && word != "NOT" && word != "NULL") boolean_default = false;
      out += token.text;
      ++i;
    }
  }
  return nocase ? kNocaseCollation + out : out;
}

bool IsFlagColumn(std::string_view table, std::string_view column) {
  for (const auto& [flag_table, flag_column] : kFlagColumns) {
    if (table == flag_table && column == flag_column) return true;
  }
  return false;
}

std::string PostgresSqlOf(const Migration& migration) {
  return migration.postgres_sql ? std::string(migration.postgres_sql)
                                : RenderPostgres(migration.sql);
}

SchemaUpgrade MigratePostgres(PgDb& db, std::span<const Migration> migrations) {
  int newest = migrations.empty() ? 0 : migrations.back().version;
  SchemaUpgrade upgrade = db.Run(PgDb::Isolation::kReadCommitted, [&](PgConnection& c) {
    c.Exec("SELECT pg_advisory_xact_lock($1)", PgParams().Add(kMigrationLock));
    c.ExecScript(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
        "description TEXT NOT NULL, applied_at BIGINT NOT NULL)");
    SchemaUpgrade done;
    done.from = static_cast<int>(
        c.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Int(0, 0));
    if (done.from > newest) {
      throw Error(ErrorCode::kInternalError,
                  "the metadata store " + db.description() + " has schema version " +
                      std::to_string(done.from) + ", newer than this Slipway knows (" +
                      std::to_string(newest) + "); upgrade Slipway");
    }
    done.to = done.from;
    for (const Migration& migration : migrations) {
      if (migration.version <= done.from) continue;
      try {
        c.ExecScript(PostgresSqlOf(migration));
      } catch (const Error& e) {
        throw Error(e.code(), "schema migration " + std::to_string(migration.version) + " (" +
                                  migration.description + ") failed on " + db.description() + ": " +
                                  e.what());
      }
      c.Exec(
          "INSERT INTO schema_migrations (version, description, applied_at) "
          "VALUES ($1, $2, EXTRACT(EPOCH FROM now())::BIGINT)",
          PgParams().Add(migration.version).Add(migration.description));
      done.to = migration.version;
    }
    return done;
  });
  if (upgrade.to != upgrade.from) {
    spdlog::info("metadata store: {} migrated from schema version {} to {}", db.description(),
                 upgrade.from, upgrade.to);
  }
  return upgrade;
}

}  // namespace slipway::store::postgres
