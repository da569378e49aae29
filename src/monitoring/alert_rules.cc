#include "monitoring/alert_rules.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <regex>
#include <set>

#include "core/error.h"
#include "data/yaml_reader.h"

namespace slipway::monitoring {
namespace {

using data::YamlEntry;
using data::YamlReader;

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c)); }
bool IsMetricChar(char c) { return IsNameChar(c) || c == ':'; }

bool FullMatch(const std::string& pattern, const std::string& value) {
  return std::regex_match(value, std::regex(pattern, std::regex::ECMAScript));
}

// Header names as RFC 9110 tokens; values without line breaks.
bool IsHeaderName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool IsHttpUrl(const std::string& url) {
  const std::string http = "http://";
  if (url.rfind(http, 0) != 0 || url.size() <= http.size()) return false;
  for (char c : url) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      return false;
  }
  return true;
}

class RuleFileParser {
 public:
  explicit RuleFileParser(const std::string& source) : yaml_(source) {}

  AlertRuleSet Parse(std::string_view text) {
    YAML::Node root = yaml_.Load(text);
    if (!root.IsDefined() || root.IsNull()) {
      yaml_.Fail(YAML::Mark(), "", "the file is empty; it needs rules and receivers");
    }
    AlertRuleSet set;
    bool has_rules = false;
    for (const YamlEntry& e : yaml_.Entries(root, "", root.Mark())) {
      if (e.key == "rules") {
        has_rules = true;
        ParseRules(e, set);
      } else if (e.key == "receivers") {
        ParseReceivers(e, set);
      } else {
        static constexpr std::array<std::string_view, 2> kKnown = {"rules", "receivers"};
        yaml_.UnknownKey(e, kKnown);
      }
    }
    if (!has_rules) yaml_.Fail(root.Mark(), "", "missing key 'rules': a list of alert rules");
    return set;
  }

 private:
  void ParseRules(const YamlEntry& e, AlertRuleSet& set) {
    if (!e.value.IsSequence()) yaml_.Fail(e, "expected a list of rules, got " + Describe(e));
    std::set<std::string> names;
    for (size_t i = 0; i < e.value.size(); ++i) {
      const YAML::Node node = e.value[i];
      const std::string path = e.path + "[" + std::to_string(i) + "]";
      AlertRule rule = ParseRule(node, path);
      if (!names.insert(rule.name).second) {
        yaml_.Fail(node.Mark(), path + ".name", "duplicate rule name '" + rule.name + "'");
      }
      set.rules.push_back(std::move(rule));
    }
  }

  AlertRule ParseRule(const YAML::Node& node, const std::string& path) {
    AlertRule rule;
    rule.line = node.Mark().line + 1;
    bool has_name = false, has_metric = false, has_op = false, has_threshold = false;
    bool has_range = false;
    YamlEntry range_entry;
    for (const YamlEntry& e : yaml_.Entries(node, path, node.Mark())) {
      if (e.key == "name") {
        rule.name = yaml_.Text(e);
        if (!IsNameStart(rule.name[0]) ||
            !std::all_of(rule.name.begin(), rule.name.end(), IsNameChar)) {
          yaml_.Fail(e, "a rule name is letters, digits and _, starting with a letter or _");
        }
        has_name = true;
      } else if (e.key == "metric") {
        std::string text = yaml_.Text(e);
        std::string error;
        size_t offset = 0;
        if (!ParseSelector(text, &rule.metric, &rule.matchers, &error, &offset)) {
          YAML::Mark mark = e.Mark();
          // The offset is exact for a plain scalar on one line.
          if (YamlReader::Plain(e.value) && mark.column >= 0) mark.column += offset;
          yaml_.Fail(mark, e.path, error);
        }
        has_metric = true;
      } else if (e.key == "function") {
        std::string function = yaml_.Text(e);
        if (function != "value" && function != "rate") {
          yaml_.Fail(e, "expected value or rate, got '" + function + "'");
        }
        rule.rate = function == "rate";
      } else if (e.key == "range") {
        std::string text = yaml_.Text(e);
        if (!ParseDuration(text, &rule.range)) {
          yaml_.Fail(e, "expected a duration such as 30s, 5m or 1h, got '" + text + "'");
        }
        has_range = true;
        range_entry = e;
      } else if (e.key == "op") {
        rule.comparison = ParseComparison(e);
        has_op = true;
      } else if (e.key == "threshold") {
        rule.threshold = yaml_.Number(e);
        if (!std::isfinite(rule.threshold)) yaml_.Fail(e, "the threshold must be finite");
        has_threshold = true;
      } else if (e.key == "for") {
        std::string text = yaml_.Text(e);
        if (!ParseDuration(text, &rule.for_duration)) {
          yaml_.Fail(e, "expected a duration such as 30s, 5m or 1h, got '" + text + "'");
        }
      } else if (e.key == "severity") {
        rule.severity = yaml_.Text(e);
      } else if (e.key == "labels") {
        rule.labels = StringMap(e, /*label_names=*/true);
        for (const char* reserved : {"alertname", "deployment", "severity"}) {
          if (rule.labels.count(reserved)) {
            yaml_.Fail(e, std::string("label '") + reserved + "' is set by the rule itself");
          }
        }
      } else if (e.key == "annotations") {
        rule.annotations = StringMap(e, /*label_names=*/true);
      } else {
        static constexpr std::array<std::string_view, 10> kKnown = {
            "name",      "metric", "function", "range",  "op",
            "threshold", "for",    "severity", "labels", "annotations"};
        yaml_.UnknownKey(e, kKnown);
      }
    }
    if (!has_name) yaml_.Fail(node.Mark(), path, "a rule needs a name");
    if (!has_metric) yaml_.Fail(node.Mark(), path, "rule '" + rule.name + "' needs a metric");
    if (!has_op) yaml_.Fail(node.Mark(), path, "rule '" + rule.name + "' needs an op (>, <, ...)");
    if (!has_threshold) yaml_.Fail(node.Mark(), path, "rule '" + rule.name + "' needs a threshold");
    if (has_range && !rule.rate) yaml_.Fail(range_entry, "a range needs function: rate");
    if (rule.severity.empty()) rule.severity = "warning";
    return rule;
  }

  Comparison ParseComparison(const YamlEntry& e) {
    static const std::map<std::string, Comparison> kOps = {
        {">", Comparison::kGreater}, {">=", Comparison::kGreaterOrEqual},
        {"<", Comparison::kLess},    {"<=", Comparison::kLessOrEqual},
        {"==", Comparison::kEqual},  {"!=", Comparison::kNotEqual}};
    std::string text = yaml_.Text(e);
    auto it = kOps.find(text);
    if (it == kOps.end()) yaml_.Fail(e, "expected one of >, >=, <, <=, ==, !=, got '" + text + "'");
    return it->second;
  }

  std::map<std::string, std::string> StringMap(const YamlEntry& e, bool label_names) {
    std::map<std::string, std::string> out;
    for (const YamlEntry& item : yaml_.Entries(e)) {
      if (label_names && (!IsNameStart(item.key[0]) ||
                          !std::all_of(item.key.begin(), item.key.end(), IsNameChar))) {
        yaml_.Fail(item.key_node.Mark(), item.path,
                   "a label name is letters, digits and _, starting with a letter or _");
      }
      if (!item.value.IsScalar()) yaml_.Fail(item, "expected a text, got " + Describe(item));
      out[item.key] = item.value.Scalar();
    }
    return out;
  }

  void ParseReceivers(const YamlEntry& e, AlertRuleSet& set) {
    for (const YamlEntry& kind : yaml_.Entries(e)) {
      if (kind.key != "alertmanager" && kind.key != "webhooks") {
        static constexpr std::array<std::string_view, 2> kKnown = {"alertmanager", "webhooks"};
        yaml_.UnknownKey(kind, kKnown);
      }
      if (!kind.value.IsSequence()) {
        yaml_.Fail(kind, "expected a list of receivers, got " + Describe(kind));
      }
      std::set<std::string> names;
      for (size_t i = 0; i < kind.value.size(); ++i) {
        const YAML::Node node = kind.value[i];
        const std::string path = kind.path + "[" + std::to_string(i) + "]";
        if (kind.key == "alertmanager") {
          set.alertmanagers.push_back(ParseAlertmanager(node, path));
        } else {
          WebhookReceiver webhook = ParseWebhook(node, path, i);
          if (!names.insert(webhook.name).second) {
            yaml_.Fail(node.Mark(), path + ".name",
                       "duplicate webhook name '" + webhook.name + "'");
          }
          set.webhooks.push_back(std::move(webhook));
        }
      }
    }
  }

  std::string Url(const YamlEntry& e) {
    std::string url = yaml_.Text(e);
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (!IsHttpUrl(url)) yaml_.Fail(e, "expected an http:// URL, got '" + url + "'");
    return url;
  }

  AlertmanagerReceiver ParseAlertmanager(const YAML::Node& node, const std::string& path) {
    AlertmanagerReceiver receiver;
    for (const YamlEntry& e : yaml_.Entries(node, path, node.Mark())) {
      if (e.key == "url") {
        receiver.url = Url(e);
      } else {
        static constexpr std::array<std::string_view, 1> kKnown = {"url"};
        yaml_.UnknownKey(e, kKnown);
      }
    }
    if (receiver.url.empty()) yaml_.Fail(node.Mark(), path, "an Alertmanager receiver needs a url");
    return receiver;
  }

  WebhookReceiver ParseWebhook(const YAML::Node& node, const std::string& path, size_t index) {
    WebhookReceiver receiver;
    for (const YamlEntry& e : yaml_.Entries(node, path, node.Mark())) {
      if (e.key == "name") {
        receiver.name = yaml_.Text(e);
      } else if (e.key == "url") {
        receiver.url = Url(e);
      } else if (e.key == "headers" || e.key == "headers_from_env") {
        const bool from_env = e.key == "headers_from_env";
        for (const YamlEntry& h : yaml_.Entries(e)) {
          if (!IsHeaderName(h.key)) yaml_.Fail(h.key_node.Mark(), h.path, "not a header name");
          if (!h.value.IsScalar() || h.value.Scalar().find_first_of("\r\n") != std::string::npos) {
            yaml_.Fail(h, "expected a one-line text, got " + Describe(h));
          }
          const std::string value = h.value.Scalar();
          if (from_env) {
            if (value.rfind(kAlertEnvPrefix, 0) != 0) {
              yaml_.Fail(h, "only environment variables named " + std::string(kAlertEnvPrefix) +
                                "* may be sent to a webhook, got '" + value + "'");
            }
            if (std::getenv(value.c_str()) == nullptr) {
              yaml_.Fail(h, "environment variable " + value + " is not set on the server");
            }
            receiver.headers_from_env[h.key] = value;
          } else {
            receiver.headers[h.key] = value;
          }
        }
      } else {
        static constexpr std::array<std::string_view, 4> kKnown = {"name", "url", "headers",
                                                                   "headers_from_env"};
        yaml_.UnknownKey(e, kKnown);
      }
    }
    if (receiver.url.empty()) yaml_.Fail(node.Mark(), path, "a webhook needs a url");
    if (receiver.name.empty()) receiver.name = "webhook" + std::to_string(index);
    return receiver;
  }

  static std::string Describe(const YamlEntry& e) { return YamlReader::Describe(e.value); }

  YamlReader yaml_;
};

}  // namespace

bool LabelMatcher::Matches(const Labels& labels) const {
  std::string actual;
  for (const auto& [key, v] : labels) {
    if (key == name) {
      actual = v;
      break;
    }
  }
  switch (op) {
    case Op::kEqual:
      return actual == value;
    case Op::kNotEqual:
      return actual != value;
    case Op::kMatch:
      return FullMatch(value, actual);
    case Op::kNoMatch:
      return !FullMatch(value, actual);
  }
  return false;
}

std::string_view ComparisonText(Comparison comparison) {
  switch (comparison) {
    case Comparison::kGreater:
      return ">";
    case Comparison::kGreaterOrEqual:
      return ">=";
    case Comparison::kLess:
      return "<";
    case Comparison::kLessOrEqual:
      return "<=";
    case Comparison::kEqual:
      return "==";
    case Comparison::kNotEqual:
      return "!=";
  }
  return "?";
}

bool Compare(double value, Comparison comparison, double threshold) {
  switch (comparison) {
    case Comparison::kGreater:
      return value > threshold;
    case Comparison::kGreaterOrEqual:
      return value >= threshold;
    case Comparison::kLess:
      return value < threshold;
    case Comparison::kLessOrEqual:
      return value <= threshold;
    case Comparison::kEqual:
      return value == threshold;
    case Comparison::kNotEqual:
      return value != threshold;
  }
  return false;
}

bool ParseDuration(std::string_view text, std::chrono::milliseconds* out) {
  if (text == "0") {
    *out = std::chrono::milliseconds(0);
    return true;
  }
  int64_t total = 0;
  size_t pos = 0;
  if (text.empty()) return false;
  while (pos < text.size()) {
    size_t start = pos;
    int64_t number = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (number > 1'000'000'000) return false;
      number = number * 10 + (text[pos++] - '0');
    }
    if (pos == start) return false;
    int64_t unit = 0;
    if (text.substr(pos, 2) == "ms") {
      unit = 1;
      pos += 2;
    } else if (pos < text.size()) {
      switch (text[pos]) {
        case 's':
          unit = 1000;
          break;
        case 'm':
          unit = 60'000;
          break;
        case 'h':
          unit = 3'600'000;
          break;
        case 'd':
          unit = 86'400'000;
          break;
        default:
          return false;
      }
      ++pos;
    } else {
      return false;
    }
    total += number * unit;
  }
  *out = std::chrono::milliseconds(total);
  return true;
}

bool ParseSelector(std::string_view text, std::string* metric, std::vector<LabelMatcher>* matchers,
                   std::string* error, size_t* error_offset) {
  size_t pos = 0;
  auto fail = [&](std::string what) {
    *error = std::move(what);
    *error_offset = pos;
    return false;
  };
  auto skip_spaces = [&] {
    while (pos < text.size() && text[pos] == ' ') ++pos;
  };
  if (text.empty() || !(IsNameStart(text[0]) || text[0] == ':')) {
    return fail("a metric is a series name such as slipway_serving_requests_total");
  }
  while (pos < text.size() && IsMetricChar(text[pos])) ++pos;
  *metric = std::string(text.substr(0, pos));
  matchers->clear();
  if (pos == text.size()) return true;
  if (text[pos] != '{') return fail("expected { after the metric name");
  ++pos;
  skip_spaces();
  while (pos < text.size() && text[pos] != '}') {
    LabelMatcher m;
    size_t start = pos;
    while (pos < text.size() && IsNameChar(text[pos])) ++pos;
    if (pos == start || !IsNameStart(text[start])) return fail("expected a label name");
    m.name = std::string(text.substr(start, pos - start));
    skip_spaces();
    if (text.substr(pos, 2) == "=~") {
      m.op = LabelMatcher::Op::kMatch;
      pos += 2;
    } else if (text.substr(pos, 2) == "!~") {
      m.op = LabelMatcher::Op::kNoMatch;
      pos += 2;
    } else if (text.substr(pos, 2) == "!=") {
      m.op = LabelMatcher::Op::kNotEqual;
      pos += 2;
    } else if (pos < text.size() && text[pos] == '=') {
      m.op = LabelMatcher::Op::kEqual;
      pos += 1;
    } else {
      return fail("expected =, !=, =~ or !~ after label '" + m.name + "'");
    }
    skip_spaces();
    if (pos >= text.size() || text[pos] != '"') return fail("expected a value in double quotes");
    ++pos;
    while (pos < text.size() && text[pos] != '"') {
      if (text[pos] == '\\' && pos + 1 < text.size()) ++pos;
      m.value += text[pos++];
    }
    if (pos >= text.size()) return fail("unterminated label value");
    const size_t value_end = pos;
    ++pos;
    if (m.op == LabelMatcher::Op::kMatch || m.op == LabelMatcher::Op::kNoMatch) {
      try {
        std::regex check(m.value, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        pos = value_end;
        return fail("invalid regular expression '" + m.value + "': " + e.what());
      }
    }
    if (m.name == "deployment") {
      pos = start;
      return fail("the deployment label is the rule set's own; leave it out");
    }
    matchers->push_back(std::move(m));
    skip_spaces();
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      skip_spaces();
    } else if (pos < text.size() && text[pos] != '}') {
      return fail("expected , or } after a label matcher");
    }
  }
  if (pos >= text.size()) return fail("missing } at the end of the label matchers");
  ++pos;
  if (pos != text.size()) return fail("unexpected text after }");
  return true;
}

AlertRuleSet ParseAlertRules(std::string_view yaml, const std::string& source) {
  return RuleFileParser(source).Parse(yaml);
}

}  // namespace slipway::monitoring
