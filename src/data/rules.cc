// The rules' YAML: reading it (ParseRules, LoadRules, with errors that point
// at the line and column) and writing it (ToYaml), and the small methods of
// the rule types. Evaluation is in rules_validation.cc, inference in
// rules_inference.cc, the formatting they share in rules_format.h. Pure
// functions of their arguments; thread-safe.
#include "data/rules.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <span>
#include <sstream>
#include <tuple>

#include "core/error.h"
#include "data/rules_format.h"
#include "data/yaml_reader.h"

namespace slipway::data {
using rules_internal::FormatNumber;
using rules_internal::Quote;

namespace {

// ---------------------------------------------------------------------------
// Parsing

constexpr std::string_view kColumnKeys[] = {"type", "required", "max_missing", "min",
                                            "max",  "allowed",  "unique"};
constexpr std::string_view kMetricKeys[] = {"psi", "ks", "js"};

using Entry = YamlEntry;

class RulesParser {
 public:
  explicit RulesParser(std::string_view source) : yaml_(std::string(source)) {}

  Rules Parse(std::string_view text) {
    const YAML::Node root = yaml_.Load(text);
    Rules rules;
    if (root.IsNull()) {
      Fail(YAML::Mark(), "", "the rules are empty; expected a mapping with rows, columns or drift");
    }
    constexpr std::string_view kTopKeys[] = {"rows", "columns", "drift"};
    for (const Entry& e : Entries(root, "", root.Mark())) {
      if (e.key == "rows") {
        ParseRows(e, rules.rows);
      } else if (e.key == "columns") {
        for (const Entry& c : Entries(e.value, e.path, e.Mark())) {
          rules.columns.push_back(ParseColumn(c));
        }
      } else if (e.key == "drift") {
        rules.drift = ParseDrift(e);
      } else {
        UnknownKey(e, kTopKeys);
      }
    }
    return rules;
  }

 private:
  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& path,
                         const std::string& what) const {
    yaml_.Fail(mark, path, what);
  }
  [[noreturn]] void Fail(const Entry& e, const std::string& what) const { yaml_.Fail(e, what); }
  [[noreturn]] void UnknownKey(const Entry& e, std::span<const std::string_view> known) const {
    yaml_.UnknownKey(e, known);
  }
  std::vector<Entry> Entries(const YAML::Node& map, const std::string& path,
                             const YAML::Mark& mark) const {
    return yaml_.Entries(map, path, mark);
  }
  static bool Plain(const YAML::Node& node) { return YamlReader::Plain(node); }
  static std::string Describe(const YAML::Node& node) { return YamlReader::Describe(node); }
  bool Bool(const Entry& e) const { return yaml_.Bool(e); }
  double Number(const Entry& e) const { return yaml_.Number(e); }
  int64_t Count(const Entry& e) const { return yaml_.Count(e); }

  void ParseRows(const Entry& rows, RowRules& out) const {
    constexpr std::string_view kKeys[] = {"min", "max"};
    for (const Entry& e : Entries(rows.value, rows.path, rows.Mark())) {
      if (e.key == "min") {
        out.min = Count(e);
      } else if (e.key == "max") {
        out.max = Count(e);
      } else {
        UnknownKey(e, kKeys);
      }
    }
    if (out.min && out.max && *out.min > *out.max) {
      Fail(rows,
           "min " + std::to_string(*out.min) + " is greater than max " + std::to_string(*out.max));
    }
  }

  ColumnRules ParseColumn(const Entry& column) const {
    ColumnRules out;
    out.name = column.key;
    for (const Entry& e : Entries(column.value, column.path, column.Mark())) {
      if (e.key == "type") {
        const std::optional<ColumnType> type =
            Plain(e.value) ? ColumnTypeFromName(e.value.Scalar()) : std::nullopt;
        if (!type || *type == ColumnType::kEmpty) {
          Fail(e, "unknown type " + Describe(e.value) +
                      "; expected one of: bool, int64, float64, string");
        }
        out.type = type;
      } else if (e.key == "required") {
        out.required = Bool(e);
      } else if (e.key == "max_missing") {
        const double share = Number(e);
        if (share < 0 || share > 1) {
          Fail(e, "expected a share of rows in [0, 1], got " + FormatNumber(share));
        }
        out.max_missing = share;
      } else if (e.key == "min") {
        out.min = Number(e);
      } else if (e.key == "max") {
        out.max = Number(e);
      } else if (e.key == "allowed") {
        out.allowed = Allowed(e);
      } else if (e.key == "unique") {
        out.unique = Bool(e);
      } else {
        UnknownKey(e, kColumnKeys);
      }
    }
    if (out.min && out.max && *out.min > *out.max) {
      Fail(column,
           "min " + FormatNumber(*out.min) + " is greater than max " + FormatNumber(*out.max));
    }
    return out;
  }

  std::vector<std::string> Allowed(const Entry& e) const {
    if (!e.value.IsSequence()) Fail(e, "expected a list of values, got " + Describe(e.value));
    if (e.value.size() == 0) Fail(e, "expected at least one allowed value");
    std::vector<std::string> out;
    std::set<std::string, std::less<>> seen;
    for (size_t i = 0; i < e.value.size(); ++i) {
      const YAML::Node item = e.value[i];
      const std::string path = e.path + "[" + std::to_string(i) + "]";
      if (item.IsNull()) {
        Fail(item.Mark(), path, "a value must be a text (write null or ~ in quotes to mean it)");
      }
      if (!item.IsScalar()) Fail(item.Mark(), path, "expected a text, got " + Describe(item));
      if (!seen.insert(item.Scalar()).second) {
        Fail(item.Mark(), path, "duplicate value " + Quote(item.Scalar()));
      }
      out.push_back(item.Scalar());
    }
    return out;
  }

  // A threshold: `off`, or a number in [0, limit] (no upper limit if absent).
  std::optional<double> Threshold(const Entry& e, std::optional<double> limit) const {
    if (Plain(e.value) && e.value.Scalar() == "off") return std::nullopt;
    double value;
    if (!Plain(e.value) || !ParseFloat64(e.value.Scalar(), &value) || value < 0 ||
        (limit && value > *limit)) {
      Fail(e, (limit ? "expected a threshold in [0, " + FormatNumber(*limit) + "]"
                     : std::string("expected a non-negative threshold")) +
                  " or off, got " + Describe(e.value));
    }
    return value;
  }

  void ParseThresholds(const Entry& entry, DriftThresholds& out) const {
    for (const Entry& e : Entries(entry.value, entry.path, entry.Mark())) {
      if (e.key == "psi") {
        out.psi = Threshold(e, std::nullopt);
      } else if (e.key == "ks") {
        out.ks = Threshold(e, 1);
      } else if (e.key == "js") {
        out.js = Threshold(e, 1);
      } else {
        UnknownKey(e, kMetricKeys);
      }
    }
  }

  DriftRules ParseDrift(const Entry& drift) const {
    constexpr std::string_view kKeys[] = {"reference", "default", "columns"};
    DriftRules out;
    const std::vector<Entry> entries = Entries(drift.value, drift.path, drift.Mark());
    // The defaults first: per-column overrides apply on top of them.
    for (const Entry& e : entries) {
      if (e.key == "default") ParseThresholds(e, out.defaults);
    }
    for (const Entry& e : entries) {
      if (e.key == "default") continue;
      if (e.key == "reference") {
        if (!e.value.IsScalar() || e.value.Scalar().empty()) {
          Fail(e, "expected a dataset version such as churn@1, got " + Describe(e.value));
        }
        out.reference = e.value.Scalar();
        continue;
      }
      if (e.key != "columns") UnknownKey(e, kKeys);
      for (const Entry& c : Entries(e.value, e.path, e.Mark())) {
        DriftThresholds thresholds = out.defaults;
        if (Plain(c.value) && c.value.Scalar() == "off") {
          thresholds = {};
        } else if (c.value.IsMap()) {
          ParseThresholds(c, thresholds);
        } else {
          Fail(c, "expected a mapping of psi, ks, js thresholds or off, got " + Describe(c.value));
        }
        out.columns.emplace(c.key, thresholds);
      }
    }
    return out;
  }

  YamlReader yaml_;
};

// ---------------------------------------------------------------------------
// Emitting

bool IsYamlSpecialWord(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string, std::less<>> kWords = {"null", "~",  "true", "false", "yes",
                                                            "no",   "on", "off",  "y",     "n"};
  return kWords.count(lower) > 0;
}

// Whether `text` may be written as a plain YAML scalar and read back as the
// same text (conservatively: identifier-like words).
bool PlainSafe(std::string_view text) {
  if (text.empty() || IsYamlSpecialWord(text)) return false;
  const auto ok = [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  };
  if (!std::isalnum(static_cast<unsigned char>(text[0])) && text[0] != '_') return false;
  return std::all_of(text.begin(), text.end(), [&](char c) { return ok(c); });
}

void EmitText(YAML::Emitter& out, const std::string& text) {
  if (PlainSafe(text)) {
    out << text;
  } else {
    out << YAML::DoubleQuoted << text;
  }
}

void EmitThreshold(YAML::Emitter& out, const char* key, const std::optional<double>& value) {
  out << YAML::Key << key << YAML::Value << (value ? FormatNumber(*value) : std::string("off"));
}

void EmitThresholds(YAML::Emitter& out, const DriftThresholds& t) {
  out << YAML::Flow << YAML::BeginMap;
  EmitThreshold(out, "psi", t.psi);
  EmitThreshold(out, "ks", t.ks);
  EmitThreshold(out, "js", t.js);
  out << YAML::EndMap;
}

}  // namespace

// ---------------------------------------------------------------------------
// Rules

bool ColumnRules::operator==(const ColumnRules& other) const {
  return std::tie(name, type, required, max_missing, min, max, allowed, unique) ==
         std::tie(other.name, other.type, other.required, other.max_missing, other.min, other.max,
                  other.allowed, other.unique);
}

const DriftThresholds& DriftRules::For(std::string_view column) const {
  const auto it = columns.find(column);
  return it == columns.end() ? defaults : it->second;
}

const ColumnRules* Rules::Find(std::string_view column) const {
  for (const ColumnRules& c : columns) {
    if (c.name == column) return &c;
  }
  return nullptr;
}

Rules ParseRules(std::string_view yaml, std::string_view source) {
  return RulesParser(source).Parse(yaml);
}

Rules LoadRules(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::kResourceDoesNotExist, "Cannot read rules file '" + path.string() + "'");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseRules(text.str(), path.string());
}

std::string ToYaml(const Rules& rules) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (rules.rows.min || rules.rows.max) {
    out << YAML::Key << "rows" << YAML::Value << YAML::Flow << YAML::BeginMap;
    if (rules.rows.min) out << YAML::Key << "min" << YAML::Value << std::to_string(*rules.rows.min);
    if (rules.rows.max) out << YAML::Key << "max" << YAML::Value << std::to_string(*rules.rows.max);
    out << YAML::EndMap;
  }
  if (!rules.columns.empty()) {
    out << YAML::Key << "columns" << YAML::Value << YAML::BeginMap;
    for (const ColumnRules& c : rules.columns) {
      out << YAML::Key;
      EmitText(out, c.name);
      out << YAML::Value << YAML::Flow << YAML::BeginMap;
      if (c.type) out << YAML::Key << "type" << YAML::Value << std::string(ColumnTypeName(*c.type));
      if (c.required) out << YAML::Key << "required" << YAML::Value << "true";
      if (c.max_missing) {
        out << YAML::Key << "max_missing" << YAML::Value << FormatNumber(*c.max_missing);
      }
      if (c.min) out << YAML::Key << "min" << YAML::Value << FormatNumber(*c.min);
      if (c.max) out << YAML::Key << "max" << YAML::Value << FormatNumber(*c.max);
      if (!c.allowed.empty()) {
        out << YAML::Key << "allowed" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const std::string& value : c.allowed) EmitText(out, value);
        out << YAML::EndSeq;
      }
      if (c.unique) out << YAML::Key << "unique" << YAML::Value << "true";
      out << YAML::EndMap;
      if (!c.comment.empty()) out << YAML::Comment(c.comment);
    }
    out << YAML::EndMap;
  }
  if (rules.drift) {
    out << YAML::Key << "drift" << YAML::Value << YAML::BeginMap;
    if (!rules.drift->reference.empty()) {
      out << YAML::Key << "reference" << YAML::Value << rules.drift->reference;
    }
    out << YAML::Key << "default" << YAML::Value;
    EmitThresholds(out, rules.drift->defaults);
    if (!rules.drift->columns.empty()) {
      out << YAML::Key << "columns" << YAML::Value << YAML::BeginMap;
      for (const auto& [name, thresholds] : rules.drift->columns) {
        out << YAML::Key;
        EmitText(out, name);
        out << YAML::Value;
        if (!thresholds.psi && !thresholds.ks && !thresholds.js) {
          out << "off";
        } else {
          EmitThresholds(out, thresholds);
        }
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace slipway::data
