// What the alerting keeps: each deployment's rule file, the alerts firing
// now, and every transition (firing, resolved) with its delivery to each
// receiver. SqliteAlertStore fills it (store/sqlite_alert_store.h).
//
// A transition and its deliveries are written in the same transaction as
// the state change that caused them, so a restart neither re-sends a
// delivered transition (its delivery is marked delivered) nor loses an
// undelivered one (it is still pending). Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "monitoring/metric_registry.h"

namespace slipway::monitoring {

// A deployment's rule file as the user wrote it, and who set it.
struct AlertRuleSetRecord {
  std::string deployment;
  std::string yaml;
  std::string owner;          // the user (or operator) who set it
  int64_t owner_user_id = 0;  // 0 for the operator
  int64_t updated_ms = 0;
};

// One alert: a rule of a deployment, for the labels of one series.
struct ActiveAlert {
  std::string deployment;
  std::string rule;
  std::string fingerprint;  // hex digest of `labels`
  Labels labels;            // alertname, deployment, severity, the series' and the rule's labels
  std::map<std::string, std::string> annotations;
  std::string state;            // "pending" or "firing"
  int64_t active_since_ms = 0;  // since when the condition holds
  int64_t fired_ms = 0;         // when it fired (startsAt); 0 while pending
  double value = 0;             // the last value compared
  int64_t last_seen_ms = 0;     // the last evaluation that saw its series
};

// The delivery of one transition to one receiver.
struct AlertDelivery {
  int64_t transition_id = 0;
  std::string receiver;  // "alertmanager <url>" or "webhook <name>"
  std::string kind;      // "alertmanager" or "webhook"
  std::string url;
  std::map<std::string, std::string> headers;
  std::map<std::string, std::string> headers_from_env;  // header -> variable (never its value)
  std::string status = "pending";                       // "pending", "delivered" or "failed"
  int attempts = 0;
  int64_t next_attempt_ms = 0;
  int64_t delivered_ms = 0;
  std::string last_error;
};

struct AlertTransition {
  int64_t id = 0;
  std::string deployment;
  std::string rule;
  std::string fingerprint;
  Labels labels;
  std::map<std::string, std::string> annotations;
  std::string state;  // "firing" or "resolved"
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // 0 while firing
  int64_t time_ms = 0;
  double value = 0;
  std::string idempotency_key;  // the same for every attempt of every receiver
  std::string owner;            // whose rule set
  std::vector<AlertDelivery> deliveries;
};

class AlertStore {
 public:
  virtual ~AlertStore() = default;

  virtual void PutRuleSet(const AlertRuleSetRecord& record) = 0;
  virtual std::optional<AlertRuleSetRecord> GetRuleSet(const std::string& deployment) = 0;
  virtual bool DeleteRuleSet(const std::string& deployment) = 0;
  virtual std::vector<AlertRuleSetRecord> ListRuleSets() = 0;

  // The alerts firing when the server last wrote them.
  virtual std::vector<ActiveAlert> LoadFiring() = 0;
  // One evaluation's outcome, atomically: `firing` written (new or
  // updated), `resolved` (deployment, rule, fingerprint) removed,
  // `transitions` appended with their deliveries (their ids are set).
  virtual void Commit(const std::vector<ActiveAlert>& firing,
                      const std::vector<ActiveAlert>& resolved,
                      std::vector<AlertTransition>& transitions) = 0;
  // Every transition with a pending delivery, oldest first, carrying only
  // its pending deliveries.
  virtual std::vector<AlertTransition> PendingDeliveries() = 0;
  // Writes a delivery's status, attempts, next attempt, time and error.
  virtual void UpdateDelivery(const AlertDelivery& delivery) = 0;
  // A deployment's transitions, newest first, with all their deliveries.
  virtual std::vector<AlertTransition> History(const std::string& deployment, size_t limit) = 0;
};

}  // namespace slipway::monitoring
