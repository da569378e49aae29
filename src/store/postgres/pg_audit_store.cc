#include "store/postgres/pg_audit_store.h"

namespace slipway::store::postgres {

using governance::AuditEntry;

namespace {

// The advisory lock that guards the chain head: "audit" in ASCII.
constexpr int64_t kChainHeadLock = 0x6175646974;

constexpr const char* kColumns =
    "SELECT seq, time_ms, principal, action, target, outcome, request_digest, prev_hash, hash, "
    "source, count FROM audit_log ";

AuditEntry ReadEntry(const PgResult& rows, int row) {
  AuditEntry entry;
  entry.seq = rows.Int(row, 0);
  entry.time_ms = rows.Int(row, 1);
  entry.principal = rows.Text(row, 2);
  entry.action = rows.Text(row, 3);
  entry.target = rows.Text(row, 4);
  entry.outcome = static_cast<int>(rows.Int(row, 5));
  entry.request_digest = rows.Text(row, 6);
  entry.prev_hash = rows.Text(row, 7);
  entry.hash = rows.Text(row, 8);
  entry.source = rows.Text(row, 9);
  entry.count = rows.Int(row, 10);
  return entry;
}

}  // namespace

// READ COMMITTED, not SERIALIZABLE: there each statement reads the newest
// committed state, so the head read after the lock is granted is the one the
// previous holder committed. (Under SERIALIZABLE the snapshot would be taken
// by the lock's own statement, before the wait, and every contended append
// would fail and run again.) The lock is held to the end of the transaction.
AuditEntry PgAuditStore::Append(AuditEntry entry,
                                const std::function<std::string(const AuditEntry&)>& seal) {
  return db_->Run(PgDb::Isolation::kReadCommitted, [&](PgConnection& db) {
    AuditEntry out = entry;  // the body may run again: start from the caller's entry
    db.Exec("SELECT pg_advisory_xact_lock($1)", PgParams().Add(kChainHeadLock));
    PgResult head = db.Exec("SELECT last_seq, last_hash FROM audit_head WHERE id = 1");
    if (head.Rows() == 1) {
      out.seq = head.Int(0, 0) + 1;
      out.prev_hash = head.Text(0, 1);
    } else {
      out.seq = 1;
      out.prev_hash = std::string(64, '0');
    }
    out.hash = seal(out);
    db.Exec(
        "INSERT INTO audit_log (seq, time_ms, principal, action, target, outcome, "
        "request_digest, prev_hash, hash, source, count) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        PgParams()
            .Add(out.seq)
            .Add(out.time_ms)
            .Add(out.principal)
            .Add(out.action)
            .Add(out.target)
            .Add(static_cast<int64_t>(out.outcome))
            .Add(out.request_digest)
            .Add(out.prev_hash)
            .Add(out.hash)
            .Add(out.source)
            .Add(out.count));
    db.Exec(
        "INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, $1, $2) "
        "ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, "
        "last_hash = excluded.last_hash",
        PgParams().Add(out.seq).Add(out.hash));
    return out;
  });
}

std::vector<AuditEntry> PgAuditStore::Query(const governance::AuditQuery& query, bool* has_more) {
  std::string sql = std::string(kColumns) + "WHERE 1 = 1";
  PgParams params;
  auto next = [&] { return "$" + std::to_string(params.size() + 1); };
  if (query.since_ms) {
    sql += " AND time_ms >= " + next();
    params.Add(*query.since_ms);
  }
  if (query.until_ms) {
    sql += " AND time_ms <= " + next();
    params.Add(*query.until_ms);
  }
  for (const auto& [column, value] :
       {std::pair<const char*, const std::string&>{"principal", query.principal},
        {"action", query.action},
        {"target", query.target}}) {
    if (value.empty()) continue;
    sql += std::string(" AND ") + column + " = " + next();
    params.Add(value);
  }
  sql += " ORDER BY seq LIMIT " + next();
  params.Add(query.limit + 1);
  sql += " OFFSET " + next();
  params.Add(query.offset);
  return db_->Read([&](PgConnection& db) {
    PgResult rows = db.Exec(sql, params);
    std::vector<AuditEntry> out;
    for (int row = 0; row < rows.Rows(); ++row) out.push_back(ReadEntry(rows, row));
    *has_more = out.size() > static_cast<size_t>(query.limit);
    if (*has_more) out.resize(query.limit);
    return out;
  });
}

std::vector<AuditEntry> PgAuditStore::ReadAll(int64_t* head_seq, std::string* head_hash) {
  return db_->Read([&](PgConnection& db) {
    std::vector<AuditEntry> out;
    PgResult rows = db.Exec(std::string(kColumns) + "ORDER BY seq");
    for (int row = 0; row < rows.Rows(); ++row) out.push_back(ReadEntry(rows, row));
    PgResult head = db.Exec("SELECT last_seq, last_hash FROM audit_head WHERE id = 1");
    *head_seq = 0;
    head_hash->clear();
    if (head.Rows() == 1) {
      *head_seq = head.Int(0, 0);
      *head_hash = head.Text(0, 1);
    }
    return out;
  });
}

}  // namespace slipway::store::postgres
