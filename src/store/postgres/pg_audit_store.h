// The audit trail on PostgreSQL.
#pragma once

#include <memory>

#include "governance/audit_log.h"
#include "store/postgres/pg_db.h"

namespace slipway::store::postgres {

// Implements governance::AuditStore over a PgDb shared with the other
// stores. The trail stays one hash chain with appenders in many threads and
// many server processes: an append takes a transaction-scoped advisory lock
// on the chain head before it reads the head, so appends extend the chain
// one at a time, in commit order (see Append). Thread-safe.
class PgAuditStore : public governance::AuditStore {
 public:
  explicit PgAuditStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

  governance::AuditEntry Append(
      governance::AuditEntry entry,
      const std::function<std::string(const governance::AuditEntry&)>& seal) override;
  std::vector<governance::AuditEntry> Query(const governance::AuditQuery& query,
                                            bool* has_more) override;
  std::vector<governance::AuditEntry> ReadAll(int64_t* head_seq, std::string* head_hash) override;

 private:
  std::shared_ptr<PgDb> db_;
};

}  // namespace slipway::store::postgres
