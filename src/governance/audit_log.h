// The audit trail: who did what, to what, when, from where, and how it ended.
//
// Every state-changing request appends one AuditEntry. Entries are
// hash-chained: each holds the SHA-256 of the previous entry and its own
// fields, and the store keeps the last entry's number and hash apart, so
// editing, deleting or reordering any entry is detected by Verify. (Someone
// who can rewrite the whole database can rewrite the whole chain; anchoring
// the head outside the database is a later step.)
//
// Refusals (outcomes 401, 403 and 429) are rate-limited, because anyone can
// send them by the thousand and each entry is a durable, chained write. Per
// key (source address, principal, outcome, action, target: the same refusal
// repeated) the first `refusal_burst` refusals of each interval get entries
// of their own, and the rest are counted into one summary entry (`count` > 1)
// written at the end of the interval, and at destruction for the interval
// under way. FlushRefusals ends an interval: the owner calls it every
// `refusal_interval` from a periodic background task (app::App::Start
// schedules it on the shared core::Scheduler); a short-lived owner that does
// not (a CLI command) gets its summaries written at destruction. Distinct refusals (another
// resource, another account tried) stay visible one by one up to `max_refusal_keys` keys per
// interval; beyond that they are counted under one key per outcome. A crash of the process loses
// the counts of the current interval, nothing already written.
//
// AuditLog is thread-safe; Append returns once the entry is durable (or, for
// a refusal beyond its burst, once it is counted). It starts no thread. The
// store must outlive the log, and the task that calls FlushRefusals must be
// cancelled before the log is destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
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
  int64_t count = 1;   // the requests the entry stands for: more than 1 in a refusal summary
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
  struct Options {
    // The interval over which refusals are counted and summarised: how
    // often the owner is to call FlushRefusals.
    std::chrono::milliseconds refusal_interval{std::chrono::seconds(60)};
    // Refusals per key and interval that get an entry of their own; at
    // least 1.
    int refusal_burst = 1;
    // Keys counted per interval; refusals of further keys are counted under
    // source, principal, action and target "*", so that many addresses or
    // targets cannot grow the memory or the trail without bound: an interval
    // writes at most (refusal_burst + 1) * (max_refusal_keys + 3) refusal
    // entries.
    size_t max_refusal_keys = 256;
  };

  explicit AuditLog(AuditStore& store) : AuditLog(store, Options()) {}
  AuditLog(AuditStore& store, Options options);
  // Writes the summaries of the interval under way.
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Fills in time, seq and hashes and appends durably. A refusal beyond its
  // key's burst is counted towards the interval's summary instead, and comes
  // back with seq 0.
  AuditEntry Append(AuditEntry entry);
  std::vector<AuditEntry> Query(const AuditQuery& query, bool* has_more);
  AuditReport Verify();

  // Writes one summary entry per key with refusals counted and not written,
  // and starts a new interval for every key. The owner calls it every
  // refusal_interval (see the top of this file); others may too. Throws if
  // the store cannot write (the counts of that interval are then lost).
  void FlushRefusals();

  // Whether an outcome is a refusal (401, 403, 429).
  static bool IsRefusal(int outcome) { return outcome == 401 || outcome == 403 || outcome == 429; }
  // The hex SHA-256 that seals an entry (its fields and prev_hash).
  static std::string HashOf(const AuditEntry& entry);

 private:
  // source, principal, outcome, action, target
  using RefusalKey = std::tuple<std::string, std::string, int, std::string, std::string>;
  // One key's refusals in the current interval.
  struct RefusalWindow {
    int written = 0;           // entries of their own
    int64_t counted = 0;       // the rest, for the summary
    std::string digest_chain;  // SHA-256 chained over their request digests
  };

  // Counts a refusal; true if it gets an entry of its own.
  bool Admit(const AuditEntry& entry);

  AuditStore& store_;
  const Options options_;

  std::mutex mu_;  // guards windows_
  std::map<RefusalKey, RefusalWindow> windows_;
};

}  // namespace slipway::governance
