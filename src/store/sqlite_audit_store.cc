#include "store/sqlite_audit_store.h"

namespace slipway::store {

using governance::AuditEntry;

namespace {

constexpr const char* kColumns =
    "SELECT seq, time_ms, principal, action, target, outcome, request_digest, prev_hash, hash, "
    "source, count FROM audit_log ";

AuditEntry ReadEntry(const Statement& row) {
  AuditEntry entry;
  entry.seq = row.Int(0);
  entry.time_ms = row.Int(1);
  entry.principal = row.Text(2);
  entry.action = row.Text(3);
  entry.target = row.Text(4);
  entry.outcome = static_cast<int>(row.Int(5));
  entry.request_digest = row.Text(6);
  entry.prev_hash = row.Text(7);
  entry.hash = row.Text(8);
  entry.source = row.Text(9);
  entry.count = row.Int(10);
  return entry;
}

}  // namespace

AuditEntry SqliteAuditStore::Append(AuditEntry entry,
                                    const std::function<std::string(const AuditEntry&)>& seal) {
  db_->Write([&](Connection& db) {
    Statement head = db.Prepare("SELECT last_seq, last_hash FROM audit_head WHERE id = 1");
    if (head.Step()) {
      entry.seq = head.Int(0) + 1;
      entry.prev_hash = head.Text(1);
    } else {
      entry.seq = 1;
      entry.prev_hash = std::string(64, '0');
    }
    entry.hash = seal(entry);
    db.Prepare(
          "INSERT INTO audit_log (seq, time_ms, principal, action, target, outcome, "
          "request_digest, prev_hash, hash, source, count) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .Bind(1, entry.seq)
        .Bind(2, entry.time_ms)
        .Bind(3, entry.principal)
        .Bind(4, entry.action)
        .Bind(5, entry.target)
        .Bind(6, static_cast<int64_t>(entry.outcome))
        .Bind(7, entry.request_digest)
        .Bind(8, entry.prev_hash)
        .Bind(9, entry.hash)
        .Bind(10, entry.source)
        .Bind(11, entry.count)
        .Run();
    db.Prepare(
          "INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, ?, ?) "
          "ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, "
          "last_hash = excluded.last_hash")
        .Bind(1, entry.seq)
        .Bind(2, entry.hash)
        .Run();
  });
  return entry;
}

std::vector<AuditEntry> SqliteAuditStore::Query(const governance::AuditQuery& query,
                                                bool* has_more) {
  std::string sql = std::string(kColumns) + "WHERE 1 = 1";
  std::vector<std::variant<int64_t, double, std::string>> binds;
  if (query.since_ms) {
    sql += " AND time_ms >= ?";
    binds.emplace_back(*query.since_ms);
  }
  if (query.until_ms) {
    sql += " AND time_ms <= ?";
    binds.emplace_back(*query.until_ms);
  }
  for (const auto& [column, value] :
       {std::pair<const char*, const std::string&>{"principal", query.principal},
        {"action", query.action},
        {"target", query.target}}) {
    if (value.empty()) continue;
    sql += std::string(" AND ") + column + " = ?";
    binds.emplace_back(value);
  }
  sql += " ORDER BY seq LIMIT ? OFFSET ?";
  binds.emplace_back(query.limit + 1);
  binds.emplace_back(query.offset);
  return db_->Read([&](Connection& db) {
    Statement rows = db.Prepare(sql);
    for (size_t i = 0; i < binds.size(); ++i) rows.BindVariant(static_cast<int>(i + 1), binds[i]);
    std::vector<AuditEntry> out;
    while (rows.Step()) out.push_back(ReadEntry(rows));
    *has_more = out.size() > static_cast<size_t>(query.limit);
    if (*has_more) out.resize(query.limit);
    return out;
  });
}

std::vector<AuditEntry> SqliteAuditStore::ReadAll(int64_t* head_seq, std::string* head_hash) {
  return db_->Read([&](Connection& db) {
    std::vector<AuditEntry> out;
    {
      Statement rows = db.Prepare(std::string(kColumns) + "ORDER BY seq");
      while (rows.Step()) out.push_back(ReadEntry(rows));
    }
    Statement head = db.Prepare("SELECT last_seq, last_hash FROM audit_head WHERE id = 1");
    *head_seq = 0;
    head_hash->clear();
    if (head.Step()) {
      *head_seq = head.Int(0);
      *head_hash = head.Text(1);
    }
    return out;
  });
}

}  // namespace slipway::store
