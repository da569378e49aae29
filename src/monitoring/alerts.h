// Alerting: rules evaluated by the server over its own /metrics series, and
// notifications to Alertmanager and JSON webhooks.
//
// AlertEvaluator is the state machine alone, driven by explicit times (the
// unit tests drive it): per (deployment, rule, series labels) an alert goes
// inactive -> pending (the condition holds, `for` has not elapsed) ->
// firing -> resolved, as Prometheus does. A pending alert whose condition
// clears goes back to inactive without a notification. A series that has
// disappeared keeps its alert's state until it has been absent for
// `stale_after` (then the alert resolves), so a restart (counters start
// again, a rate needs two evaluations) does not resolve and re-fire.
//
// AlertService is the domain service: it keeps each deployment's rule file
// (set and delete need MANAGE on the deployment, reading needs READ),
// evaluates every rule set on the App's scheduler (Evaluate), and delivers
// transitions (Deliver): each firing and resolved transition is written
// with one delivery per receiver in the same transaction as the state
// change, then sent with retries and exponential backoff until the receiver
// answers 2xx; a delivery marked delivered is never sent again, one still
// pending after a restart is sent then. Every attempt of a transition
// carries the same idempotency key. Alertmanager also gets the firing
// alerts again every `resend_interval` (as Prometheus re-sends them), with
// an endsAt ahead that keeps them alive until the next one. Each transition
// is audited as `system:alerts(<owner of the rule set>)`. The rules of a
// deployment that no longer exists are removed at the next evaluation. The number of
// firing alerts is exported as `slipway_alerts_firing{deployment,alert,severity}`.
//
// Thread-safe. Evaluate and Deliver are each run by one scheduler task (the
// scheduler never runs a task twice at once); they may run concurrently
// with each other and with requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "governance/audit_log.h"
#include "governance/authorization.h"
#include "monitoring/alert_rules.h"
#include "monitoring/alert_store.h"
#include "monitoring/metric_registry.h"

namespace slipway::monitoring {

// The hex digest that identifies an alert's label set (sorted by name).
std::string Fingerprint(const Labels& labels);

class AlertEvaluator {
 public:
  // One matching series and the value the rule compares (a rate or the
  // value itself). A series whose value is unknown this time (a rate's
  // first sample) is left out.
  struct Point {
    Labels labels;
    double value = 0;
  };
  struct Transition {
    ActiveAlert alert;  // as it is after the transition
    std::string state;  // "firing" or "resolved"
    int64_t ends_at_ms = 0;
  };

  explicit AlertEvaluator(std::chrono::milliseconds stale_after) : stale_after_(stale_after) {}

  // Puts back a firing alert the store kept.
  void Restore(const ActiveAlert& alert);
  // Evaluates one rule of a deployment at `now_ms` over the points that
  // match it; returns the transitions it caused.
  std::vector<Transition> Evaluate(const std::string& deployment, const AlertRule& rule,
                                   const std::vector<Point>& points, int64_t now_ms);
  // Resolves (firing) or drops (pending) the alerts of a deployment whose
  // rule is not in `keep`.
  std::vector<Transition> Retain(const std::string& deployment, const std::set<std::string>& keep,
                                 int64_t now_ms);
  // The pending and firing alerts of a deployment ("" for all).
  std::vector<ActiveAlert> Active(const std::string& deployment) const;

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // deployment, rule, fingerprint
  std::chrono::milliseconds stale_after_;
  std::map<Key, ActiveAlert> alerts_;
};

// What GET .../alerts answers.
struct AlertRuleSetInfo {
  AlertRuleSetRecord record;
  AlertRuleSet rules;
};

// What GET .../alerts/history answers.
struct AlertHistory {
  std::vector<ActiveAlert> active;
  std::vector<AlertTransition> transitions;  // newest first
};

class AlertService {
 public:
  struct Options {
    // Where series are read and slipway_alerts_firing is written; with
    // none, rules see no series.
    MetricRegistry* metrics = nullptr;
    // How often Evaluate runs (the App's scheduler); rates are per second
    // over it, and retries back off from it.
    std::chrono::milliseconds interval{std::chrono::seconds(15)};
    std::chrono::milliseconds resend_interval{std::chrono::minutes(1)};
    std::chrono::milliseconds stale_after{std::chrono::minutes(5)};
    // The longest wait between two attempts of a delivery, and how long a
    // delivery is retried before it is marked failed.
    std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
    std::chrono::milliseconds give_up_after{std::chrono::hours(24)};
    std::chrono::milliseconds send_timeout{std::chrono::seconds(5)};
    // The server's own URL, for generatorURL ("" leaves it out).
    std::string external_url;
    // Whether a deployment exists (rules are set on existing ones only).
    std::function<bool(const std::string&)> deployment_exists;
    // Called with each transition once it is committed and audited (the
    // closed loop starts retrains on firing ones); on the evaluating thread,
    // so it must be quick; what it throws is logged.
    std::function<void(const AlertTransition&)> on_transition;
  };

  AlertService(AlertStore& store, governance::Authorizer& authorizer, governance::AuditLog& audit,
               Options options);

  // Parses `yaml` (errors name the line and column) and replaces the
  // deployment's rule file; alerts of rules that are gone resolve.
  AlertRuleSetInfo Set(const std::string& deployment, const std::string& yaml);
  AlertRuleSetInfo Get(const std::string& deployment);
  // Removes the rule file; its firing alerts resolve.
  void Delete(const std::string& deployment);
  AlertHistory History(const std::string& deployment, size_t limit);

  // One evaluation of every rule set at `now_ms`.
  void Evaluate(int64_t now_ms);
  // Sends what is due at `now_ms` (pending deliveries, Alertmanager resends).
  void Deliver(int64_t now_ms);

  const Options& options() const { return options_; }

  // Replicas (app/replica_sync.h): with several servers on one store, one
  // of them, the leader, evaluates, delivers and resolves; the others
  // keep the rule files (Set, Delete) and leave the alerts to it. A
  // service leads from its construction; Lead(true) after Lead(false)
  // takes the rules and the firing alerts from the store again, as at a
  // start (the pending alerts of the old leader start over).
  void Lead(bool leading);
  // The rule files as stored now (changed through another server); the
  // alerts of rules that are gone resolve when this server leads.
  void ReloadRules(int64_t now_ms);

 private:
  struct Loaded {
    AlertRuleSetRecord record;
    AlertRuleSet rules;
  };
  struct Previous {
    double value = 0;
    int64_t time_ms = 0;
  };
  using SeriesHistory = std::map<std::string, std::vector<Previous>>;  // oldest first

  Loaded LoadRuleSet(const AlertRuleSetRecord& record) const;
  // The rule sets and the firing alerts as stored. Holds mu_.
  void LoadFromStore();
  // A deployment deleted takes its rules along (its firing alerts
  // resolve), so a new deployment of the same name starts without them.
  void DropRulesOfDeletedDeployments(int64_t now_ms);
  // Turns evaluator transitions into stored ones with their deliveries,
  // commits them, and audits them. Holds mu_.
  void Record(const std::vector<AlertEvaluator::Transition>& transitions, const Loaded& set,
              int64_t now_ms);
  std::vector<AlertEvaluator::Point> PointsOf(const std::string& deployment, const AlertRule& rule,
                                              const std::vector<MetricRegistry::Sample>& samples,
                                              const SeriesHistory& previous, int64_t now_ms) const;
  void ExportFiring();
  bool Send(AlertDelivery& delivery, const AlertTransition& transition, int64_t now_ms);
  void ResendToAlertmanagers(int64_t now_ms);

  AlertStore& store_;
  governance::Authorizer& authorizer_;
  governance::AuditLog& audit_;
  const Options options_;

  mutable std::mutex mu_;               // guards everything below
  std::map<std::string, Loaded> sets_;  // by deployment
  AlertEvaluator evaluator_;
  std::map<std::string, SeriesHistory> previous_;  // metric -> series -> recent samples
  std::set<std::tuple<std::string, std::string, std::string>> exported_;  // firing gauges set
  int64_t last_resend_ms_ = 0;
  bool leading_ = true;    // evaluates and resolves (see Lead)
  std::mutex deliver_mu_;  // one Deliver at a time (a direct call beside the task's)
};

}  // namespace slipway::monitoring
