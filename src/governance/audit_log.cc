#include "governance/audit_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/clock.h"
#include "core/error.h"
#include "core/sha256.h"

namespace slipway::governance {
namespace {

// Fields are length-prefixed so that no two different entries serialise alike.
void AppendField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
  out += ';';
}

}  // namespace

std::string AuditLog::HashOf(const AuditEntry& entry) {
  std::string text;
  AppendField(text, std::to_string(entry.seq));
  AppendField(text, std::to_string(entry.time_ms));
  AppendField(text, entry.principal);
  AppendField(text, entry.action);
  AppendField(text, entry.target);
  AppendField(text, std::to_string(entry.outcome));
  AppendField(text, entry.request_digest);
  AppendField(text, entry.prev_hash);
  // Entries from before the source and the count were kept hash without them;
  // an entry with either hashes with both, so no two entries serialise alike.
  if (!entry.source.empty() || entry.count != 1) {
    AppendField(text, entry.source);
    AppendField(text, std::to_string(entry.count));
  }
  return Sha256::Hex(text);
}

AuditLog::AuditLog(AuditStore& store, Options options) : store_(store), options_(options) {}

AuditLog::~AuditLog() {
  try {
    FlushRefusals();
  } catch (const std::exception& error) {
    spdlog::error("audit trail: writing the last refusal summaries failed: {}", error.what());
  }
}

AuditEntry AuditLog::Append(AuditEntry entry) {
  if (entry.time_ms == 0) entry.time_ms = NowMillis();
  if (IsRefusal(entry.outcome) && entry.count == 1 && !Admit(entry)) return entry;
  return store_.Append(std::move(entry), [](const AuditEntry& sealed) { return HashOf(sealed); });
}

bool AuditLog::Admit(const AuditEntry& entry) {
  std::lock_guard lock(mu_);
  RefusalKey key{entry.source, entry.principal, entry.outcome, entry.action, entry.target};
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    if (windows_.size() >= options_.max_refusal_keys) key = {"*", "*", entry.outcome, "*", "*"};
    it = windows_.try_emplace(std::move(key)).first;
  }
  RefusalWindow& window = it->second;
  if (window.written < std::max(options_.refusal_burst, 1)) {
    ++window.written;
    return true;
  }
  ++window.counted;
  window.digest_chain = Sha256::Hex(window.digest_chain + entry.request_digest);
  return false;
}

void AuditLog::FlushRefusals() {
  std::map<RefusalKey, RefusalWindow> ended;
  {
    std::lock_guard lock(mu_);
    ended.swap(windows_);
  }
  for (auto& [key, window] : ended) {
    if (window.counted == 0) continue;
    AuditEntry summary;
    std::tie(summary.source, summary.principal, summary.outcome, summary.action, summary.target) =
        key;
    summary.request_digest = std::move(window.digest_chain);
    summary.count = window.counted;
    summary.time_ms = NowMillis();
    store_.Append(std::move(summary), [](const AuditEntry& sealed) { return HashOf(sealed); });
  }
}

std::vector<AuditEntry> AuditLog::Query(const AuditQuery& query, bool* has_more) {
  return store_.Query(query, has_more);
}

AuditReport AuditLog::Verify() {
  int64_t head_seq = 0;
  std::string head_hash;
  std::vector<AuditEntry> entries = store_.ReadAll(&head_seq, &head_hash);
  AuditReport report;
  report.entries = static_cast<int64_t>(entries.size());
  auto problem = [&](int64_t seq, const char* kind, std::string message) {
    report.ok = false;
    report.problems.push_back({seq, kind, std::move(message)});
  };
  std::string expected_prev(64, '0');
  int64_t expected_seq = 1;
  for (const AuditEntry& entry : entries) {
    if (entry.seq > expected_seq) {
      problem(expected_seq, "deleted",
              entry.seq == expected_seq + 1
                  ? "entry " + std::to_string(expected_seq) + " is missing"
                  : "entries " + std::to_string(expected_seq) + " to " +
                        std::to_string(entry.seq - 1) + " are missing");
    }
    if (HashOf(entry) != entry.hash) {
      problem(
          entry.seq, "edited",
          "entry " + std::to_string(entry.seq) + " does not match its hash: a field was changed");
    } else if (entry.prev_hash != expected_prev && entry.seq == expected_seq) {
      // The entry before was rewritten with a fresh hash, or entries swapped.
      problem(entry.seq - 1, entry.seq == 1 ? "reordered" : "edited",
              "entry " + std::to_string(entry.seq) + " does not chain to entry " +
                  std::to_string(entry.seq - 1) + ": that entry was changed or replaced");
    }
    expected_prev = entry.hash;
    expected_seq = entry.seq + 1;
  }
  int64_t last_seq = entries.empty() ? 0 : entries.back().seq;
  if (head_seq > last_seq) {
    problem(last_seq + 1, "deleted",
            "the trail ends at entry " + std::to_string(last_seq) + " but entry " +
                std::to_string(head_seq) + " was written: the last entries were removed");
  } else if (head_seq != 0 && (head_seq != last_seq || head_hash != entries.back().hash)) {
    problem(last_seq, "edited", "the last entry does not match the recorded head of the trail");
  }
  return report;
}

}  // namespace slipway::governance
