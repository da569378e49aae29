// The audit trail on the embedded SQLite database.
#pragma once

#include <memory>
#include <string>

#include "governance/audit_log.h"
#include "store/sqlite_db.h"

namespace slipway::store {

// Implements governance::AuditStore over the shared SqliteDb; appends go
// through its single writer, so the chain is extended in commit order.
class SqliteAuditStore : public governance::AuditStore {
 public:
  explicit SqliteAuditStore(std::shared_ptr<SqliteDb> db) : db_(std::move(db)) {}

  governance::AuditEntry Append(
      governance::AuditEntry entry,
      const std::function<std::string(const governance::AuditEntry&)>& seal) override;
  std::vector<governance::AuditEntry> Query(const governance::AuditQuery& query,
                                            bool* has_more) override;
  std::vector<governance::AuditEntry> ReadAll(int64_t* head_seq, std::string* head_hash) override;

 private:
  std::shared_ptr<SqliteDb> db_;
};

}  // namespace slipway::store
