// A deployment's alert rules and receivers, as the user writes them in YAML
// (`slipway alerts set churn alerts.yaml`; docs/alerts.md has the format).
//
// A rule watches one series family of the server's /metrics registry
// (monitoring/metric_registry.h), narrowed by label matchers, and compares
// each matching series' value (or its per-second rate, for counters) with a
// threshold; the condition must hold for `for` before the alert fires. A
// deployment's rules only see series whose `deployment` label is that
// deployment (alerts.cc adds the matcher). Receivers: Alertmanager servers
// (its v2 API) and JSON webhooks, whose header values may come from the
// server's environment (secrets stay out of the rule file and the store).
//
// ParseAlertRules reports every mistake as INVALID_PARAMETER_VALUE with the
// place: "<source>:<line>:<column>: <key path>: <what>". Pure functions;
// thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "monitoring/metric_registry.h"

namespace slipway::monitoring {

// `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"` (regexes match the
// whole value, as in PromQL).
struct LabelMatcher {
  enum class Op { kEqual, kNotEqual, kMatch, kNoMatch };
  std::string name;
  Op op = Op::kEqual;
  std::string value;

  bool Matches(const Labels& labels) const;
};

enum class Comparison { kGreater, kGreaterOrEqual, kLess, kLessOrEqual, kEqual, kNotEqual };
// ">", ">=", ...
std::string_view ComparisonText(Comparison comparison);
bool Compare(double value, Comparison comparison, double threshold);

struct AlertRule {
  std::string name;    // the `alertname` label
  std::string metric;  // the series family
  std::vector<LabelMatcher> matchers;
  // The value compared: the series' value, or (counters) its increase per
  // second over `range` (from the oldest evaluation within it; 0: since
  // the previous evaluation), as PromQL's rate(metric[range]).
  bool rate = false;
  std::chrono::milliseconds range{0};
  Comparison comparison = Comparison::kGreater;
  double threshold = 0;
  std::chrono::milliseconds for_duration{0};
  std::string severity;                       // also a label
  std::map<std::string, std::string> labels;  // added to the alert's labels
  std::map<std::string, std::string> annotations;
  int line = 0;  // where the rule starts in its file (1-based)
};

// An Alertmanager server; alerts are posted to `<url>/api/v2/alerts`.
struct AlertmanagerReceiver {
  std::string url;  // http://host:port[/prefix]
};

// A JSON webhook: one POST per transition (firing, resolved).
struct WebhookReceiver {
  std::string name;
  std::string url;
  std::map<std::string, std::string> headers;           // header -> fixed value
  std::map<std::string, std::string> headers_from_env;  // header -> environment variable
};

struct AlertRuleSet {
  std::vector<AlertRule> rules;
  std::vector<AlertmanagerReceiver> alertmanagers;
  std::vector<WebhookReceiver> webhooks;
};

// Environment variables a webhook header may name: only these, so that a
// rule file cannot send the server's other secrets to a URL of its choice.
inline constexpr std::string_view kAlertEnvPrefix = "SLIPWAY_ALERT_";

// Parses and checks a rule file; `source` names it in errors. Environment
// variables are checked to exist (and to carry the prefix), never read
// into the result.
AlertRuleSet ParseAlertRules(std::string_view yaml, const std::string& source);

// "30s", "5m", "1h30m", "250ms", "0": a duration; false when it is not one.
bool ParseDuration(std::string_view text, std::chrono::milliseconds* out);
// A metric selector: `name` or `name{a="x",b!~"y.*"}`; false with `error`
// set (what is wrong, and the offset into `text`) when it is not one.
bool ParseSelector(std::string_view text, std::string* metric, std::vector<LabelMatcher>* matchers,
                   std::string* error, size_t* error_offset);

}  // namespace slipway::monitoring
