// Alerting: the rule file's parser (errors with line and column), the
// state machine driven by explicit times, and the service over a real
// SQLite store (restart, rates, deliveries that fail and back off).
#include "monitoring/alerts.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "governance/audit_log.h"
#include "governance/authorization.h"
#include "monitoring/alert_rules.h"
#include "monitoring/metric_registry.h"
#include "store/metadata_store.h"
#include "test_util/temp_dir.h"

namespace slipway::monitoring {
namespace {

using std::chrono::milliseconds;

const char* kGoodFile = R"(rules:
  - name: ClientErrors
    metric: slipway_serving_requests_total{status="client_error", role=~"prim.*"}
    function: rate
    op: ">"
    threshold: 0.5
    for: 1m30s
    severity: critical
    labels: {team: ml}
    annotations:
      summary: bad requests
receivers:
  alertmanager:
    - url: http://127.0.0.1:9093/
  webhooks:
    - name: ops
      url: http://127.0.0.1:8080/hook
      headers: {X-Source: slipway}
)";

// The message of the error ParseAlertRules throws for `yaml`.
std::string ErrorOf(const std::string& yaml) {
  try {
    ParseAlertRules(yaml, "alerts.yaml");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << yaml;
  return "";
}

TEST(AlertRulesTest, ParsesRulesAndReceivers) {
  AlertRuleSet set = ParseAlertRules(kGoodFile, "alerts.yaml");
  ASSERT_EQ(set.rules.size(), 1u);
  const AlertRule& rule = set.rules[0];
  EXPECT_EQ(rule.name, "ClientErrors");
  EXPECT_EQ(rule.metric, "slipway_serving_requests_total");
  ASSERT_EQ(rule.matchers.size(), 2u);
  EXPECT_EQ(rule.matchers[0].name, "status");
  EXPECT_EQ(rule.matchers[0].op, LabelMatcher::Op::kEqual);
  EXPECT_EQ(rule.matchers[1].op, LabelMatcher::Op::kMatch);
  EXPECT_TRUE(rule.rate);
  EXPECT_EQ(rule.comparison, Comparison::kGreater);
  EXPECT_EQ(rule.threshold, 0.5);
  EXPECT_EQ(rule.for_duration, milliseconds(90'000));
  EXPECT_EQ(rule.severity, "critical");
  EXPECT_EQ(rule.labels.at("team"), "ml");
  EXPECT_EQ(rule.annotations.at("summary"), "bad requests");
  EXPECT_EQ(rule.line, 2);
  ASSERT_EQ(set.alertmanagers.size(), 1u);
  EXPECT_EQ(set.alertmanagers[0].url, "http://127.0.0.1:9093");
  ASSERT_EQ(set.webhooks.size(), 1u);
  EXPECT_EQ(set.webhooks[0].name, "ops");
  EXPECT_EQ(set.webhooks[0].headers.at("X-Source"), "slipway");
}

TEST(AlertRulesTest, ErrorsNameTheLineColumnAndField) {
  EXPECT_EQ(ErrorOf("rules:\n  - name: A\n    metric: m\n    op: '>'\n    treshold: 1\n"),
            "alerts.yaml:5:5: rules[0].treshold: unknown key 'treshold'; expected one of: name, "
            "metric, function, range, op, threshold, for, severity, labels, annotations");
  EXPECT_EQ(ErrorOf("rules:\n  - name: A\n    metric: m\n    range: 5s\n    op: '>'\n"
                    "    threshold: 1\n"),
            "alerts.yaml:4:12: rules[0].range: a range needs function: rate");
  EXPECT_EQ(ErrorOf("rules:\n  - name: A\n    metric: m\n    op: '=>'\n    threshold: 1\n"),
            "alerts.yaml:4:9: rules[0].op: expected one of >, >=, <, <=, ==, !=, got '=>'");
  EXPECT_EQ(ErrorOf("rules:\n  - name: A\n    metric: m\n    op: '>'\n    threshold: high\n"),
            "alerts.yaml:5:16: rules[0].threshold: expected a number, got 'high'");
  EXPECT_EQ(ErrorOf("rules:\n  - name: A\n    metric: m\n    op: '>'\n    threshold: 1\n"
                    "    for: soon\n"),
            "alerts.yaml:6:10: rules[0].for: expected a duration such as 30s, 5m or 1h, got "
            "'soon'");
  EXPECT_EQ(ErrorOf("rules:\n  - name: A\n    metric: m\n    op: '>'\n"),
            "alerts.yaml:2:5: rules[0]: rule 'A' needs a threshold");
  // The column points into the selector: at the missing quote.
  EXPECT_EQ(ErrorOf("rules:\n  - name: A\n    metric: m{status=ok}\n    op: '>'\n"
                    "    threshold: 1\n"),
            "alerts.yaml:3:22: rules[0].metric: expected a value in double quotes");
  EXPECT_EQ(ErrorOf("rules:\n  - name: A\n    metric: m\n    op: '>'\n    threshold: 1\n"
                    "  - name: A\n    metric: m\n    op: '<'\n    threshold: 1\n"),
            "alerts.yaml:6:5: rules[1].name: duplicate rule name 'A'");
  EXPECT_NE(ErrorOf("rules: [\n").find("alerts.yaml:2:1: invalid YAML"), std::string::npos);
  EXPECT_EQ(ErrorOf("receivers: {}\n"),
            "alerts.yaml:1:1: missing key 'rules': a list of alert "
            "rules");
  EXPECT_EQ(ErrorOf("rules: []\nreceivers:\n  webhooks:\n    - url: ftp://x\n"),
            "alerts.yaml:4:12: receivers.webhooks[0].url: expected an http:// URL, got 'ftp://x'");
  EXPECT_EQ(ErrorOf("rules:\n  - name: A\n    metric: m{deployment=\"x\"}\n    op: '>'\n"
                    "    threshold: 1\n"),
            "alerts.yaml:3:15: rules[0].metric: the deployment label is the rule set's own; "
            "leave it out");
}

TEST(AlertRulesTest, WebhookSecretsComeOnlyFromPrefixedVariablesThatExist) {
  const std::string head =
      "rules: []\nreceivers:\n  webhooks:\n    - url: http://h\n"
      "      headers_from_env:\n        Authorization: ";
  EXPECT_EQ(ErrorOf(head + "HOME\n"),
            "alerts.yaml:6:24: receivers.webhooks[0].headers_from_env.Authorization: only "
            "environment variables named SLIPWAY_ALERT_* may be sent to a webhook, got 'HOME'");
  ::unsetenv("SLIPWAY_ALERT_UNIT_MISSING");
  EXPECT_EQ(ErrorOf(head + "SLIPWAY_ALERT_UNIT_MISSING\n"),
            "alerts.yaml:6:24: receivers.webhooks[0].headers_from_env.Authorization: environment "
            "variable SLIPWAY_ALERT_UNIT_MISSING is not set on the server");
  ::setenv("SLIPWAY_ALERT_UNIT_TOKEN", "Bearer s3cret", 1);
  AlertRuleSet set = ParseAlertRules(head + "SLIPWAY_ALERT_UNIT_TOKEN\n", "alerts.yaml");
  ASSERT_EQ(set.webhooks.size(), 1u);
  // The variable's name is kept, never its value.
  EXPECT_EQ(set.webhooks[0].headers_from_env.at("Authorization"), "SLIPWAY_ALERT_UNIT_TOKEN");
  EXPECT_TRUE(set.webhooks[0].headers.empty());
}

TEST(AlertRulesTest, Durations) {
  milliseconds d;
  ASSERT_TRUE(ParseDuration("0", &d));
  EXPECT_EQ(d.count(), 0);
  ASSERT_TRUE(ParseDuration("1h30m", &d));
  EXPECT_EQ(d.count(), 5'400'000);
  ASSERT_TRUE(ParseDuration("250ms", &d));
  EXPECT_EQ(d.count(), 250);
  EXPECT_FALSE(ParseDuration("5", &d));
  EXPECT_FALSE(ParseDuration("m", &d));
  EXPECT_FALSE(ParseDuration("-1s", &d));
}

// --- The state machine, with explicit times.

AlertRule Rule(milliseconds for_duration) {
  AlertRule rule;
  rule.name = "High";
  rule.metric = "m";
  rule.comparison = Comparison::kGreater;
  rule.threshold = 10;
  rule.for_duration = for_duration;
  rule.severity = "page";
  return rule;
}

std::vector<AlertEvaluator::Point> At(double value) { return {{{{"status", "x"}}, value}}; }

TEST(AlertEvaluatorTest, PendingThenFiringAfterForThenResolved) {
  AlertEvaluator evaluator(milliseconds(60'000));
  AlertRule rule = Rule(milliseconds(1000));
  EXPECT_TRUE(evaluator.Evaluate("d", rule, At(11), 0).empty());
  ASSERT_EQ(evaluator.Active("d").size(), 1u);
  EXPECT_EQ(evaluator.Active("d")[0].state, "pending");
  EXPECT_TRUE(evaluator.Evaluate("d", rule, At(12), 999).empty());
  auto fired = evaluator.Evaluate("d", rule, At(13), 1000);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].state, "firing");
  EXPECT_EQ(fired[0].alert.fired_ms, 1000);
  EXPECT_EQ(fired[0].alert.value, 13);
  // The labels: the series', then alertname, deployment, severity.
  Labels expected = {
      {"alertname", "High"}, {"deployment", "d"}, {"severity", "page"}, {"status", "x"}};
  EXPECT_EQ(fired[0].alert.labels, expected);
  // Still true: firing, no new transition.
  EXPECT_TRUE(evaluator.Evaluate("d", rule, At(20), 2000).empty());
  auto resolved = evaluator.Evaluate("d", rule, At(5), 3000);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state, "resolved");
  EXPECT_EQ(resolved[0].ends_at_ms, 3000);
  EXPECT_EQ(resolved[0].alert.fired_ms, 1000);
  EXPECT_TRUE(evaluator.Active("d").empty());
}

TEST(AlertEvaluatorTest, PendingThatClearsGoesBackSilently) {
  AlertEvaluator evaluator(milliseconds(60'000));
  AlertRule rule = Rule(milliseconds(5000));
  EXPECT_TRUE(evaluator.Evaluate("d", rule, At(11), 0).empty());
  EXPECT_TRUE(evaluator.Evaluate("d", rule, At(1), 1000).empty());
  EXPECT_TRUE(evaluator.Active("d").empty());
  // The `for` counts again from the next time the condition holds.
  EXPECT_TRUE(evaluator.Evaluate("d", rule, At(11), 2000).empty());
  EXPECT_TRUE(evaluator.Evaluate("d", rule, At(11), 6999).empty());
  EXPECT_EQ(evaluator.Evaluate("d", rule, At(11), 7000).size(), 1u);
}

TEST(AlertEvaluatorTest, ZeroForFiresAtOnce) {
  AlertEvaluator evaluator(milliseconds(60'000));
  auto fired = evaluator.Evaluate("d", Rule(milliseconds(0)), At(11), 5);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].state, "firing");
}

TEST(AlertEvaluatorTest, AbsentSeriesKeepsItsStateUntilStale) {
  AlertEvaluator evaluator(milliseconds(10'000));
  AlertRule rule = Rule(milliseconds(0));
  ASSERT_EQ(evaluator.Evaluate("d", rule, At(11), 0).size(), 1u);
  EXPECT_TRUE(evaluator.Evaluate("d", rule, {}, 9'999).empty());
  EXPECT_EQ(evaluator.Active("d").size(), 1u);
  auto resolved = evaluator.Evaluate("d", rule, {}, 10'000);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state, "resolved");
}

TEST(AlertEvaluatorTest, RestoredFiringAlertDoesNotFireAgain) {
  AlertEvaluator first(milliseconds(60'000));
  AlertRule rule = Rule(milliseconds(0));
  auto fired = first.Evaluate("d", rule, At(11), 0);
  ASSERT_EQ(fired.size(), 1u);
  AlertEvaluator second(milliseconds(60'000));  // after a restart
  second.Restore(fired[0].alert);
  EXPECT_TRUE(second.Evaluate("d", rule, At(12), 1000).empty());
  EXPECT_EQ(second.Evaluate("d", rule, At(1), 2000).size(), 1u);
}

TEST(AlertEvaluatorTest, SeriesAreAlertsOfTheirOwnAndDeploymentsApart) {
  AlertEvaluator evaluator(milliseconds(60'000));
  AlertRule rule = Rule(milliseconds(0));
  std::vector<AlertEvaluator::Point> two = {{{{"status", "a"}}, 11}, {{{"status", "b"}}, 12}};
  EXPECT_EQ(evaluator.Evaluate("d", rule, two, 0).size(), 2u);
  EXPECT_EQ(evaluator.Evaluate("e", rule, At(11), 0).size(), 1u);
  auto gone = evaluator.Retain("d", {}, 100);
  EXPECT_EQ(gone.size(), 2u);
  EXPECT_TRUE(evaluator.Active("d").empty());
  EXPECT_EQ(evaluator.Active("e").size(), 1u);
}

// --- The service over a real store.

class AlertServiceTest : public ::testing::Test {
 protected:
  AlertServiceTest() : dir_("alerts-test") { Open(); }

  void Open() {
    service_.reset();
    audit_.reset();
    stores_.reset();
    stores_ = store::OpenMetadataStore("sqlite:///" + (dir_.path() / "slipway.db").string());
    audit_ = std::make_unique<governance::AuditLog>(*stores_->audit);
    AlertService::Options options;
    options.metrics = &registry_;
    options.interval = milliseconds(1000);
    options.resend_interval = milliseconds(3'600'000);
    options.deployment_exists = [this](const std::string& name) {
      return name == "churn" && !deleted_;
    };
    service_ = std::make_unique<AlertService>(*stores_->alerts, governance::Authorizer::AllowAll(),
                                              *audit_, options);
  }

  void SetRules(const std::string& yaml) {
    governance::Operation op(governance::Actor::Operator("local:test"), "alerts/set");
    service_->Set("churn", yaml);
  }

  AlertHistory History() {
    governance::Operation op(governance::Actor::Operator("local:test"), "alerts/history");
    return service_->History("churn", 100);
  }

  Counter& Errors(const std::string& deployment) {
    return registry_.GetCounter("slipway_serving_requests_total", "",
                                {{"deployment", deployment}, {"status", "client_error"}});
  }

  testing::TempDir dir_;
  bool deleted_ = false;
  MetricRegistry registry_;
  std::unique_ptr<store::MetadataStores> stores_;
  std::unique_ptr<governance::AuditLog> audit_;
  std::unique_ptr<AlertService> service_;
};

// A webhook on a port nobody listens on: deliveries fail and stay pending.
const char* kRateRules = R"(rules:
  - name: ClientErrors
    metric: slipway_serving_requests_total{status="client_error"}
    function: rate
    op: ">"
    threshold: 1
receivers:
  webhooks:
    - name: down
      url: http://127.0.0.1:1/hook
)";

TEST_F(AlertServiceTest, RateFiresOnlyOnItsDeploymentAndSurvivesARestart) {
  SetRules(kRateRules);
  Errors("churn").Increment(0);
  Errors("other").Increment(0);
  service_->Evaluate(10'000);  // the first sample: no rate yet
  EXPECT_TRUE(History().active.empty());
  Errors("churn").Increment(5);   // 5 per second
  Errors("other").Increment(50);  // another deployment's series: not seen
  service_->Evaluate(11'000);
  AlertHistory history = History();
  ASSERT_EQ(history.active.size(), 1u);
  EXPECT_EQ(history.active[0].state, "firing");
  EXPECT_DOUBLE_EQ(history.active[0].value, 5.0);
  ASSERT_EQ(history.transitions.size(), 1u);
  EXPECT_EQ(history.transitions[0].state, "firing");
  EXPECT_EQ(history.transitions[0].owner, "local:test");
  ASSERT_EQ(history.transitions[0].deliveries.size(), 1u);
  EXPECT_EQ(history.transitions[0].deliveries[0].status, "pending");
  EXPECT_NE(registry_.Render().find("slipway_alerts_firing{deployment=\"churn\","
                                    "alert=\"ClientErrors\",severity=\"warning\"} 1"),
            std::string::npos);

  // Restart: the firing alert is restored and does not fire again, even
  // though the first evaluation after it has no rate yet.
  Open();
  Errors("churn").Increment(5);
  service_->Evaluate(12'000);
  Errors("churn").Increment(5);
  service_->Evaluate(13'000);
  history = History();
  ASSERT_EQ(history.active.size(), 1u);
  EXPECT_EQ(history.transitions.size(), 1u);
  // The condition clears: one resolved transition.
  service_->Evaluate(14'000);
  history = History();
  EXPECT_TRUE(history.active.empty());
  ASSERT_EQ(history.transitions.size(), 2u);
  EXPECT_EQ(history.transitions[0].state, "resolved");
  EXPECT_EQ(history.transitions[0].ends_at_ms, 14'000);
  EXPECT_NE(history.transitions[0].idempotency_key, history.transitions[1].idempotency_key);
}

TEST_F(AlertServiceTest, RateOverARangeSpansQuietEvaluations) {
  SetRules(R"(rules:
  - name: ClientErrors
    metric: slipway_serving_requests_total{status="client_error"}
    function: rate
    range: 3s
    op: ">"
    threshold: 0
)");
  Errors("churn").Increment(0);
  service_->Evaluate(10'000);
  Errors("churn").Increment(6);
  service_->Evaluate(11'000);  // 6 per second since 10 s
  ASSERT_EQ(History().active.size(), 1u);
  EXPECT_DOUBLE_EQ(History().active[0].value, 6.0);
  service_->Evaluate(12'000);  // nothing new: 6 over the 2 s since 10 s
  ASSERT_EQ(History().active.size(), 1u);
  EXPECT_DOUBLE_EQ(History().active[0].value, 3.0);
  service_->Evaluate(13'000);  // the oldest within 3 s is 10 s: 2 per second
  EXPECT_DOUBLE_EQ(History().active[0].value, 2.0);
  service_->Evaluate(14'000);  // from 11 s on, nothing: resolved
  EXPECT_TRUE(History().active.empty());
  ASSERT_EQ(History().transitions.size(), 2u);
}

TEST_F(AlertServiceTest, FailedDeliveriesBackOffAndAreKeptAcrossARestart) {
  SetRules(R"(rules:
  - name: Any
    metric: slipway_serving_requests_total
    op: ">="
    threshold: 0
receivers:
  webhooks:
    - name: down
      url: http://127.0.0.1:1/hook
)");
  Errors("churn").Increment(1);
  service_->Evaluate(NowMillis());
  const int64_t now = NowMillis();
  service_->Deliver(now);
  AlertDelivery d = History().transitions.at(0).deliveries.at(0);
  EXPECT_EQ(d.status, "pending");
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.next_attempt_ms, now + 1000);
  EXPECT_NE(d.last_error.find("could not reach http://127.0.0.1:1"), std::string::npos);
  service_->Deliver(now + 500);  // not due yet
  EXPECT_EQ(History().transitions.at(0).deliveries.at(0).attempts, 1);
  Open();
  service_->Deliver(now + 1000);
  d = History().transitions.at(0).deliveries.at(0);
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(d.next_attempt_ms, now + 1000 + 2000);  // doubled
}

TEST_F(AlertServiceTest, SettingRulesNeedsAnExistingDeploymentAndGoodYaml) {
  governance::Operation op(governance::Actor::Operator("local:test"), "alerts/set");
  try {
    service_->Set("nope", kRateRules);
    FAIL() << "set on a missing deployment";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceDoesNotExist);
  }
  try {
    service_->Set("churn", "rules:\n  - name: A\n    metric: m\n    op: '>'\n    threshold: x\n");
    FAIL() << "bad rule file accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "alerts.yaml:5:16: rules[0].threshold: expected a number, got 'x'");
  }
}

TEST_F(AlertServiceTest, RulesOfADeletedDeploymentGoWithIt) {
  SetRules(R"(rules:
  - name: Any
    metric: slipway_serving_requests_total
    op: ">="
    threshold: 0
)");
  Errors("churn").Increment(1);
  service_->Evaluate(1000);
  ASSERT_EQ(History().active.size(), 1u);
  deleted_ = true;
  service_->Evaluate(2000);
  AlertHistory history = History();
  EXPECT_TRUE(history.active.empty());
  ASSERT_EQ(history.transitions.size(), 2u);
  EXPECT_EQ(history.transitions[0].state, "resolved");
  EXPECT_FALSE(stores_->alerts->GetRuleSet("churn").has_value());
  governance::Operation op(governance::Actor::Operator("local:test"), "alerts/get");
  EXPECT_THROW(service_->Get("churn"), Error);
}

TEST(MetricRegistrySnapshotTest, CountersAndGaugesWithTheirLabels) {
  MetricRegistry registry;
  registry.GetCounter("c", "", {{"a", "1"}}).Increment(3);
  registry.GetGauge("g", "", {{"b", "2"}}).Set(-4);
  registry.GetHistogram("h", "", MetricRegistry::LatencyBuckets(), {}).Observe(1);
  auto c = registry.Snapshot("c");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].labels, (Labels{{"a", "1"}}));
  EXPECT_EQ(c[0].value, 3);
  auto g = registry.Snapshot("g");
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].value, -4);
  EXPECT_TRUE(registry.Snapshot("h").empty());
  EXPECT_TRUE(registry.Snapshot("missing").empty());
  EXPECT_EQ(registry.TypeOf("c"), "counter");
  EXPECT_EQ(registry.TypeOf("missing"), "");
}

}  // namespace
}  // namespace slipway::monitoring
