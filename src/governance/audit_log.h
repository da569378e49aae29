// The audit trail: who did what, to what, when, from where, and how it ended.
//
// Every state-changing request appends one AuditEntry. Entries are
// hash-chained: each holds the SHA-256 of the previous entry and its own
// fields, and the store keeps the last entry's number and hash apart, so
// editing, deleting or reordering any entry is detected by Verify. (Someone
// who can rewrite the whole database can rewrite the whole chain; anchoring
// the head outside the database is a later step.)
//
// AuditLog is thread-safe; Append returns once the entry is durable.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::governance {

struct AuditEntry {
  int64_t seq = 0;
  int64_t time_ms = 0;
  std::string principal;
  std::string action;
  std::string target;
  int outcome = 0;  // the HTTP status of the reply
  std::string request_digest;
  std::string prev_hash;
  std::string hash;
  std::string source;  // the client's address; "" in entries written before it was kept
  int64_t count = 1;   // the requests the entry stands for
};

struct AuditQuery {
  std::optional<int64_t> since_ms;
  std::optional<int64_t> until_ms;
  std::string principal;
  std::string action;
  std::string target;
  int64_t offset = 0;
  int64_t limit = 1000;
};

struct AuditProblem {
  int64_t seq = 0;
  std::string kind;  // "edited", "deleted" or "reordered"
  std::string message;
};

struct AuditReport {
  bool ok = true;
  int64_t entries = 0;
  std::vector<AuditProblem> problems;
};

// Persistence of the chain; SqliteAuditStore fills it.
class AuditStore {
 public:
  virtual ~AuditStore() = default;
  // Appends atomically: `seal` receives the entry with seq and prev_hash set
  // from the current head and returns its hash; the entry and the new head
  // are written in one transaction.
  virtual AuditEntry Append(AuditEntry entry,
                            const std::function<std::string(const AuditEntry&)>& seal) = 0;
  virtual std::vector<AuditEntry> Query(const AuditQuery& query, bool* has_more) = 0;
  // Every entry in seq order, and the head (0 and "" when there is none).
  virtual std::vector<AuditEntry> ReadAll(int64_t* head_seq, std::string* head_hash) = 0;
};

class AuditLog {
 public:
  explicit AuditLog(AuditStore& store) : store_(store) {}

  // Fills in time, seq and hashes and appends durably.
  AuditEntry Append(AuditEntry entry);
  std::vector<AuditEntry> Query(const AuditQuery& query, bool* has_more);
  AuditReport Verify();

  // The hex SHA-256 that seals an entry (its fields and prev_hash).
  static std::string HashOf(const AuditEntry& entry);
  // Hex SHA-256 of arbitrary bytes (request digests).
  static std::string Sha256Hex(std::string_view data);

 private:
  AuditStore& store_;
};

}  // namespace slipway::governance
