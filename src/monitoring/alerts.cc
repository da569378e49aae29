#include "monitoring/alerts.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "core/clock.h"
#include "core/error.h"
#include "core/sha256.h"
#include "monitoring/alert_notifier.h"

namespace slipway::monitoring {
namespace {

using governance::Permission;
using governance::ResourceType;

constexpr const char* kFiringMetric = "slipway_alerts_firing";
constexpr const char* kFiringHelp = "Alerts firing, by deployment, alert (rule) and severity.";

Labels Sorted(Labels labels) {
  std::sort(labels.begin(), labels.end());
  return labels;
}

// The alert's labels: the series' (but `deployment`, the rule set's own),
// the rule's, then alertname, deployment and severity, which win.
Labels AlertLabels(const std::string& deployment, const AlertRule& rule, const Labels& series) {
  std::map<std::string, std::string> merged;
  for (const auto& [k, v] : series) merged[k] = v;
  for (const auto& [k, v] : rule.labels) merged[k] = v;
  merged["alertname"] = rule.name;
  merged["deployment"] = deployment;
  merged["severity"] = rule.severity;
  return Labels(merged.begin(), merged.end());
}

std::string Describe(const AlertTransition& t) {
  std::string labels;
  for (const auto& [k, v] : t.labels) {
    if (k == "alertname" || k == "deployment") continue;
    labels += (labels.empty() ? "" : ",") + k + "=" + v;
  }
  return "alert " + t.rule + " of deployment " + t.deployment + " {" + labels + "} " + t.state +
         " (value " + std::to_string(t.value) + ")";
}

std::string GeneratorUrl(const std::string& external_url, const std::string& deployment) {
  if (external_url.empty()) return "";
  return external_url + "/api/v1/deployments/" + deployment + "/alerts/history";
}

}  // namespace

std::string Fingerprint(const Labels& labels) {
  std::string text;
  for (const auto& [k, v] : Sorted(labels)) {
    text += k;
    text += '\0';
    text += v;
    text += '\0';
  }
  return Sha256::Hex(text).substr(0, 16);
}

// --- AlertEvaluator

void AlertEvaluator::Restore(const ActiveAlert& alert) {
  alerts_[{alert.deployment, alert.rule, alert.fingerprint}] = alert;
}

std::vector<AlertEvaluator::Transition> AlertEvaluator::Evaluate(const std::string& deployment,
                                                                 const AlertRule& rule,
                                                                 const std::vector<Point>& points,
                                                                 int64_t now_ms) {
  std::vector<Transition> out;
  std::set<std::string> seen;
  for (const Point& point : points) {
    Labels labels = AlertLabels(deployment, rule, point.labels);
    const std::string fingerprint = Fingerprint(labels);
    seen.insert(fingerprint);
    const Key key{deployment, rule.name, fingerprint};
    auto it = alerts_.find(key);
    const bool holds = Compare(point.value, rule.comparison, rule.threshold);
    if (!holds) {
      if (it == alerts_.end()) continue;
      ActiveAlert alert = it->second;
      alerts_.erase(it);
      alert.value = point.value;
      alert.last_seen_ms = now_ms;
      if (alert.state == "firing") out.push_back({alert, "resolved", now_ms});
      continue;  // a pending alert goes back to inactive silently
    }
    if (it == alerts_.end()) {
      ActiveAlert alert;
      alert.deployment = deployment;
      alert.rule = rule.name;
      alert.fingerprint = fingerprint;
      alert.labels = std::move(labels);
      alert.state = "pending";
      alert.active_since_ms = now_ms;
      it = alerts_.emplace(key, std::move(alert)).first;
    }
    ActiveAlert& alert = it->second;
    alert.annotations = rule.annotations;
    alert.value = point.value;
    alert.last_seen_ms = now_ms;
    if (alert.state == "pending" && now_ms - alert.active_since_ms >= rule.for_duration.count()) {
      alert.state = "firing";
      alert.fired_ms = now_ms;
      out.push_back({alert, "firing", 0});
    }
  }
  // Series not seen: resolved once stale; until then as they were.
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    const auto& [d, r, f] = it->first;
    if (d != deployment || r != rule.name || seen.count(f) ||
        now_ms - it->second.last_seen_ms < stale_after_.count()) {
      ++it;
      continue;
    }
    if (it->second.state == "firing") out.push_back({it->second, "resolved", now_ms});
    it = alerts_.erase(it);
  }
  return out;
}

std::vector<AlertEvaluator::Transition> AlertEvaluator::Retain(const std::string& deployment,
                                                               const std::set<std::string>& keep,
                                                               int64_t now_ms) {
  std::vector<Transition> out;
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    const auto& [d, r, f] = it->first;
    if (d != deployment || keep.count(r)) {
      ++it;
      continue;
    }
    if (it->second.state == "firing") out.push_back({it->second, "resolved", now_ms});
    it = alerts_.erase(it);
  }
  return out;
}

std::vector<ActiveAlert> AlertEvaluator::Active(const std::string& deployment) const {
  std::vector<ActiveAlert> out;
  for (const auto& [key, alert] : alerts_) {
    if (deployment.empty() || std::get<0>(key) == deployment) out.push_back(alert);
  }
  return out;
}

// --- AlertService

AlertService::AlertService(AlertStore& store, governance::Authorizer& authorizer,
                           governance::AuditLog& audit, Options options)
    : store_(store),
      authorizer_(authorizer),
      audit_(audit),
      options_(std::move(options)),
      evaluator_(options_.stale_after) {
  std::lock_guard lock(mu_);
  LoadFromStore();
}

void AlertService::LoadFromStore() {
  sets_.clear();
  for (const AlertRuleSetRecord& record : store_.ListRuleSets()) {
    try {
      sets_[record.deployment] = LoadRuleSet(record);
    } catch (const std::exception& e) {
      spdlog::error("alert rules of deployment {} no longer load: {}", record.deployment, e.what());
    }
  }
  // Staleness counts from now: the series were away while the server was.
  const int64_t now_ms = NowMillis();
  evaluator_ = AlertEvaluator(options_.stale_after);
  for (ActiveAlert alert : store_.LoadFiring()) {
    alert.last_seen_ms = std::max(alert.last_seen_ms, now_ms);
    evaluator_.Restore(alert);
  }
  ExportFiring();
}

void AlertService::Lead(bool leading) {
  std::lock_guard lock(mu_);
  if (leading && !leading_) LoadFromStore();
  leading_ = leading;
}

void AlertService::ReloadRules(int64_t now_ms) {
  std::lock_guard lock(mu_);
  std::map<std::string, Loaded> sets;
  for (const AlertRuleSetRecord& record : store_.ListRuleSets()) {
    try {
      sets[record.deployment] = LoadRuleSet(record);
    } catch (const std::exception& e) {
      spdlog::error("alert rules of deployment {} no longer load: {}", record.deployment, e.what());
    }
  }
  if (leading_) {
    for (const auto& [deployment, old] : sets_) {
      auto now = sets.find(deployment);
      std::set<std::string> keep;
      if (now != sets.end())
        for (const AlertRule& rule : now->second.rules.rules) keep.insert(rule.name);
      std::vector<AlertEvaluator::Transition> gone = evaluator_.Retain(deployment, keep, now_ms);
      if (!gone.empty()) Record(gone, old, now_ms);
    }
  }
  sets_ = std::move(sets);
  ExportFiring();
}

AlertService::Loaded AlertService::LoadRuleSet(const AlertRuleSetRecord& record) const {
  return {record, ParseAlertRules(record.yaml, "alerts of " + record.deployment)};
}

AlertRuleSetInfo AlertService::Set(const std::string& deployment, const std::string& yaml) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kManage, ResourceType::kDeployment, deployment);
  if (options_.deployment_exists && !options_.deployment_exists(deployment)) {
    ThrowNotFound("Deployment '" + deployment + "' does not exist.");
  }
  AlertRuleSetRecord record;
  record.deployment = deployment;
  record.yaml = yaml;
  const governance::Actor& actor = governance::CurrentActor();
  record.owner = actor.user ? actor.user->username : actor.name;
  record.owner_user_id = actor.user ? actor.user->user_id : 0;
  record.updated_ms = NowMillis();
  Loaded loaded{record, ParseAlertRules(yaml, "alerts.yaml")};
  std::lock_guard lock(mu_);
  store_.PutRuleSet(record);
  std::set<std::string> keep;
  for (const AlertRule& rule : loaded.rules.rules) keep.insert(rule.name);
  // Alerts of rules that are gone resolve, told to the receivers they fired to.
  auto old = sets_.find(deployment);
  // (The leader does it, when another server leads: ReloadRules.)
  std::vector<AlertEvaluator::Transition> gone;
  if (leading_) gone = evaluator_.Retain(deployment, keep, NowMillis());
  if (!gone.empty()) Record(gone, old != sets_.end() ? old->second : loaded, NowMillis());
  sets_[deployment] = loaded;
  ExportFiring();
  return {loaded.record, loaded.rules};
}

AlertRuleSetInfo AlertService::Get(const std::string& deployment) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, deployment);
  std::lock_guard lock(mu_);
  auto it = sets_.find(deployment);
  if (it == sets_.end()) ThrowNotFound("Deployment '" + deployment + "' has no alert rules.");
  return {it->second.record, it->second.rules};
}

void AlertService::Delete(const std::string& deployment) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kManage, ResourceType::kDeployment, deployment);
  std::lock_guard lock(mu_);
  auto it = sets_.find(deployment);
  if (it == sets_.end()) ThrowNotFound("Deployment '" + deployment + "' has no alert rules.");
  std::vector<AlertEvaluator::Transition> gone;
  if (leading_) gone = evaluator_.Retain(deployment, {}, NowMillis());
  if (!gone.empty()) Record(gone, it->second, NowMillis());
  store_.DeleteRuleSet(deployment);
  sets_.erase(it);
  ExportFiring();
}

AlertHistory AlertService::History(const std::string& deployment, size_t limit) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, deployment);
  AlertHistory history;
  {
    std::lock_guard lock(mu_);
    history.active = evaluator_.Active(deployment);
  }
  history.transitions = store_.History(deployment, limit);
  return history;
}

std::vector<AlertEvaluator::Point> AlertService::PointsOf(
    const std::string& deployment, const AlertRule& rule,
    const std::vector<MetricRegistry::Sample>& samples, const SeriesHistory& previous,
    int64_t now_ms) const {
  std::vector<AlertEvaluator::Point> points;
  for (const MetricRegistry::Sample& sample : samples) {
    bool ours = false;
    for (const auto& [k, v] : sample.labels) {
      if (k == "deployment") ours = v == deployment;
    }
    if (!ours) continue;
    if (!std::all_of(rule.matchers.begin(), rule.matchers.end(),
                     [&](const LabelMatcher& m) { return m.Matches(sample.labels); })) {
      continue;
    }
    Labels series;
    for (const auto& [k, v] : sample.labels) {
      if (k != "deployment") series.emplace_back(k, v);
    }
    if (!rule.rate) {
      points.push_back({std::move(series), sample.value});
      continue;
    }
    auto history = previous.find(RenderLabels(sample.labels));
    if (history == previous.end() || history->second.empty()) continue;  // no rate yet
    // The base: the oldest sample within the range, else the latest before.
    const Previous* base = &history->second.back();
    for (const Previous& p : history->second) {
      if (p.time_ms >= now_ms - rule.range.count() && p.time_ms < now_ms) {
        base = &p;
        break;
      }
    }
    if (base->time_ms >= now_ms) continue;
    // A counter that went down started again (a reload): count from zero.
    double increase = sample.value >= base->value ? sample.value - base->value : sample.value;
    points.push_back(
        {std::move(series), increase * 1000.0 / static_cast<double>(now_ms - base->time_ms)});
  }
  return points;
}

void AlertService::Evaluate(int64_t now_ms) {
  std::lock_guard lock(mu_);
  DropRulesOfDeletedDeployments(now_ms);
  std::map<std::string, std::vector<MetricRegistry::Sample>> samples;
  for (const auto& [deployment, set] : sets_) {
    for (const AlertRule& rule : set.rules.rules) {
      if (!samples.count(rule.metric)) {
        samples[rule.metric] = options_.metrics ? options_.metrics->Snapshot(rule.metric)
                                                : std::vector<MetricRegistry::Sample>{};
      }
    }
  }
  for (const auto& [deployment, set] : sets_) {
    std::vector<AlertEvaluator::Transition> transitions;
    for (const AlertRule& rule : set.rules.rules) {
      std::vector<AlertEvaluator::Point> points =
          PointsOf(deployment, rule, samples[rule.metric], previous_[rule.metric], now_ms);
      for (auto& t : evaluator_.Evaluate(deployment, rule, points, now_ms)) {
        transitions.push_back(std::move(t));
      }
    }
    if (!transitions.empty()) {
      try {
        Record(transitions, set, now_ms);
      } catch (const std::exception& e) {
        spdlog::error("alerts of deployment {}: could not record transitions: {}", deployment,
                      e.what());
      }
    }
  }
  // The samples of this evaluation are later ones' bases for rates: kept
  // for the longest range of a rule on the metric, and at least the last.
  std::map<std::string, int64_t> keep_ms;
  for (const auto& [deployment, set] : sets_) {
    for (const AlertRule& rule : set.rules.rules) {
      keep_ms[rule.metric] = std::max(keep_ms[rule.metric], int64_t{rule.range.count()});
    }
  }
  for (auto& [metric, list] : samples) {
    SeriesHistory fresh;
    SeriesHistory& old = previous_[metric];
    for (const MetricRegistry::Sample& s : list) {
      const std::string key = RenderLabels(s.labels);
      std::vector<Previous>& kept = fresh[key];
      auto it = old.find(key);
      if (it != old.end()) {
        for (const Previous& p : it->second) {
          if (p.time_ms >= now_ms - keep_ms[metric]) kept.push_back(p);
        }
      }
      kept.push_back({s.value, now_ms});
    }
    old = std::move(fresh);
  }
  for (auto it = previous_.begin(); it != previous_.end();) {
    it = samples.count(it->first) ? std::next(it) : previous_.erase(it);
  }
  ExportFiring();
}

void AlertService::DropRulesOfDeletedDeployments(int64_t now_ms) {
  if (!options_.deployment_exists) return;
  for (auto it = sets_.begin(); it != sets_.end();) {
    const std::string deployment = it->first;
    bool exists = true;
    try {
      exists = options_.deployment_exists(deployment);
    } catch (const std::exception& e) {
      spdlog::error("alerts of deployment {}: {}", deployment, e.what());
    }
    if (exists) {
      ++it;
      continue;
    }
    try {
      std::vector<AlertEvaluator::Transition> gone = evaluator_.Retain(deployment, {}, now_ms);
      if (!gone.empty()) Record(gone, it->second, now_ms);
      store_.DeleteRuleSet(deployment);
      spdlog::info("deployment {} is gone: its alert rules are removed", deployment);
      it = sets_.erase(it);
    } catch (const std::exception& e) {
      spdlog::error("alerts of deleted deployment {}: {}", deployment, e.what());
      ++it;
    }
  }
}

void AlertService::Record(const std::vector<AlertEvaluator::Transition>& transitions,
                          const Loaded& set, int64_t now_ms) {
  std::vector<ActiveAlert> firing, resolved;
  std::vector<AlertTransition> stored;
  for (const AlertEvaluator::Transition& t : transitions) {
    (t.state == "firing" ? firing : resolved).push_back(t.alert);
    AlertTransition record;
    record.deployment = t.alert.deployment;
    record.rule = t.alert.rule;
    record.fingerprint = t.alert.fingerprint;
    record.labels = t.alert.labels;
    record.annotations = t.alert.annotations;
    record.state = t.state;
    record.starts_at_ms = t.alert.fired_ms;
    record.ends_at_ms = t.ends_at_ms;
    record.time_ms = now_ms;
    record.value = t.alert.value;
    record.owner = set.record.owner;
    record.idempotency_key = record.deployment + "/" + record.rule + "/" + record.fingerprint +
                             "/" + std::to_string(record.starts_at_ms) + "/" + record.state;
    for (const AlertmanagerReceiver& am : set.rules.alertmanagers) {
      AlertDelivery d;
      d.receiver = "alertmanager " + am.url;
      d.kind = "alertmanager";
      d.url = am.url;
      d.next_attempt_ms = now_ms;
      record.deliveries.push_back(std::move(d));
    }
    for (const WebhookReceiver& hook : set.rules.webhooks) {
      AlertDelivery d;
      d.receiver = "webhook " + hook.name;
      d.kind = "webhook";
      d.url = hook.url;
      d.headers = hook.headers;
      d.headers_from_env = hook.headers_from_env;
      d.next_attempt_ms = now_ms;
      record.deliveries.push_back(std::move(d));
    }
    stored.push_back(std::move(record));
  }
  store_.Commit(firing, resolved, stored);
  governance::Principal owner;
  owner.user_id = set.record.owner_user_id;
  owner.username = set.record.owner;
  for (const AlertTransition& t : stored) {
    spdlog::info("{}", Describe(t));
    try {
      governance::AuditedOperation(audit_, governance::Actor::System("alerts", owner),
                                   "alerts/" + t.state, "background", Describe(t))
          .Run([&] { governance::SetTarget("deployment:" + t.deployment + "/alert:" + t.rule); });
    } catch (const std::exception& e) {
      spdlog::error("could not audit {}: {}", Describe(t), e.what());
    }
  }
  if (!options_.on_transition) return;
  for (const AlertTransition& t : stored) {
    try {
      options_.on_transition(t);
    } catch (const std::exception& e) {
      spdlog::error("after {}: {}", Describe(t), e.what());
    }
  }
}

void AlertService::ExportFiring() {
  if (!options_.metrics) return;
  std::map<std::tuple<std::string, std::string, std::string>, int> counts;
  for (const auto& key : exported_) counts[key] = 0;
  for (const auto& [deployment, set] : sets_) {
    for (const AlertRule& rule : set.rules.rules) counts[{deployment, rule.name, rule.severity}];
  }
  for (const ActiveAlert& alert : evaluator_.Active("")) {
    if (alert.state != "firing") continue;
    std::string severity;
    for (const auto& [k, v] : alert.labels) {
      if (k == "severity") severity = v;
    }
    counts[{alert.deployment, alert.rule, severity}] += 1;
  }
  for (const auto& [key, count] : counts) {
    const auto& [deployment, alert, severity] = key;
    options_.metrics
        ->GetGauge(kFiringMetric, kFiringHelp,
                   {{"deployment", deployment}, {"alert", alert}, {"severity", severity}})
        .Set(count);
    exported_.insert(key);
  }
}

// --- Delivery

bool AlertService::Send(AlertDelivery& delivery, const AlertTransition& transition,
                        int64_t now_ms) {
  const std::string generator = GeneratorUrl(options_.external_url, transition.deployment);
  std::map<std::string, std::string> headers = delivery.headers;
  std::string error;
  for (const auto& [header, variable] : delivery.headers_from_env) {
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) {
      error = "environment variable " + variable + " (header " + header + ") is not set";
      break;
    }
    headers[header] = value;
  }
  if (error.empty()) {
    if (delivery.kind == "alertmanager") {
      // Firing: alive until the next re-send is surely due; resolved: ended.
      const int64_t valid = 4 * std::max(options_.resend_interval, options_.interval).count();
      const int64_t ends_at =
          transition.state == "resolved" ? transition.ends_at_ms : now_ms + valid;
      error =
          PostJson(delivery.url, "/api/v2/alerts", AlertmanagerBody(transition, ends_at, generator),
                   headers, options_.send_timeout);
    } else {
      headers["Idempotency-Key"] = transition.idempotency_key;
      error = PostJson(
          delivery.url, "",
          WebhookBody(transition, delivery.receiver.substr(8), options_.external_url, generator),
          headers, options_.send_timeout);
    }
  }
  delivery.attempts += 1;
  if (error.empty()) {
    delivery.status = "delivered";
    delivery.delivered_ms = now_ms;
    delivery.last_error.clear();
    return true;
  }
  delivery.last_error = error;
  if (now_ms - transition.time_ms >= options_.give_up_after.count()) {
    delivery.status = "failed";
    spdlog::error("alert delivery to {} failed for good after {} attempts: {}", delivery.receiver,
                  delivery.attempts, error);
    return false;
  }
  int64_t backoff = options_.interval.count();
  for (int i = 1; i < delivery.attempts && backoff < options_.max_backoff.count(); ++i)
    backoff *= 2;
  backoff = std::min(backoff, static_cast<int64_t>(options_.max_backoff.count()));
  delivery.next_attempt_ms = now_ms + backoff;
  spdlog::warn("alert delivery to {} failed (attempt {}, next in {} ms): {}", delivery.receiver,
               delivery.attempts, backoff, error);
  return false;
}

void AlertService::Deliver(int64_t now_ms) {
  std::lock_guard deliver_lock(deliver_mu_);
  // In order per receiver and alert: a later transition waits for an
  // earlier one still undelivered (a resolved never overtakes its firing).
  std::set<std::tuple<std::string, std::string, std::string, std::string>> blocked;
  for (AlertTransition& t : store_.PendingDeliveries()) {
    for (AlertDelivery& d : t.deliveries) {
      auto key = std::make_tuple(d.receiver, t.deployment, t.rule, t.fingerprint);
      if (blocked.count(key)) continue;
      if (d.next_attempt_ms > now_ms || !Send(d, t, now_ms)) blocked.insert(key);
      if (d.attempts > 0) {
        try {
          store_.UpdateDelivery(d);
        } catch (const std::exception& e) {
          spdlog::error("could not record the delivery to {}: {}", d.receiver, e.what());
        }
      }
    }
  }
  ResendToAlertmanagers(now_ms);
}

void AlertService::ResendToAlertmanagers(int64_t now_ms) {
  std::vector<std::pair<AlertTransition, std::vector<std::string>>> resend;
  {
    std::lock_guard lock(mu_);
    if (now_ms - last_resend_ms_ < options_.resend_interval.count()) return;
    last_resend_ms_ = now_ms;
    for (const ActiveAlert& alert : evaluator_.Active("")) {
      if (alert.state != "firing" || alert.fired_ms == now_ms) continue;
      auto set = sets_.find(alert.deployment);
      if (set == sets_.end() || set->second.rules.alertmanagers.empty()) continue;
      AlertTransition t;
      t.deployment = alert.deployment;
      t.rule = alert.rule;
      t.fingerprint = alert.fingerprint;
      t.labels = alert.labels;
      t.annotations = alert.annotations;
      t.state = "firing";
      t.starts_at_ms = alert.fired_ms;
      t.time_ms = now_ms;
      std::vector<std::string> urls;
      for (const AlertmanagerReceiver& am : set->second.rules.alertmanagers) urls.push_back(am.url);
      resend.emplace_back(std::move(t), std::move(urls));
    }
  }
  const int64_t valid = 4 * std::max(options_.resend_interval, options_.interval).count();
  for (const auto& [t, urls] : resend) {
    for (const std::string& url : urls) {
      std::string error = PostJson(
          url, "/api/v2/alerts",
          AlertmanagerBody(t, now_ms + valid, GeneratorUrl(options_.external_url, t.deployment)),
          {}, options_.send_timeout);
      if (!error.empty()) spdlog::warn("alert re-send to alertmanager {}: {}", url, error);
    }
  }
}

}  // namespace slipway::monitoring
