#include "data/rules.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include "core/error.h"
#include "data/drift.h"
#include "data/hyperloglog.h"

namespace slipway::data {

namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------
// Formatting

// Shortest text that parses back to the same double.
std::string FormatNumber(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string FormatShare(double share) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g%%", share * 100);
  return buffer;
}

std::string FormatMetric(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", value);
  return buffer;
}

// A value quoted for a message: control characters escaped, long texts cut.
std::string Quote(std::string_view text, size_t limit = 60) {
  std::string out = "'";
  for (unsigned char c : text.substr(0, limit)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > limit) out += "...";
  return out + "'";
}

std::string Bounds(const std::optional<double>& min, const std::optional<double>& max) {
  if (min && max) return "[" + FormatNumber(*min) + ", " + FormatNumber(*max) + "]";
  if (min) return ">= " + FormatNumber(*min);
  return "<= " + FormatNumber(*max);
}

std::string Bounds(const std::optional<int64_t>& min, const std::optional<int64_t>& max) {
  if (min && max) return "[" + std::to_string(*min) + ", " + std::to_string(*max) + "]";
  if (min) return ">= " + std::to_string(*min);
  return "<= " + std::to_string(*max);
}

// ---------------------------------------------------------------------------
// Parsing

constexpr std::string_view kColumnKeys[] = {"type", "required", "max_missing", "min",
                                            "max",  "allowed",  "unique"};
constexpr std::string_view kMetricKeys[] = {"psi", "ks", "js"};

std::string KeyList(std::span<const std::string_view> keys) {
  std::string out;
  for (std::string_view key : keys) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// A key of a mapping with its value, and where it is.
struct Entry {
  std::string key;
  std::string path;  // dotted key path from the top, e.g. "columns.age.max"
  YAML::Node key_node;
  YAML::Node value;

  // The value's position, or the key's when the value is null (yaml-cpp
  // places a null value at the next token, often on the next line).
  YAML::Mark Mark() const { return value.IsNull() ? key_node.Mark() : value.Mark(); }
};

class RulesParser {
 public:
  explicit RulesParser(std::string_view source) : source_(source) {}

  Rules Parse(std::string_view text) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      Fail(e.mark, "", "invalid YAML: " + e.msg);
    }
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
    std::string message = source_;
    if (mark.line >= 0) {
      message += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    }
    message += ": ";
    if (!path.empty()) message += path + ": ";
    throw Error(ErrorCode::kInvalidParameterValue, message + what);
  }
  [[noreturn]] void Fail(const Entry& e, const std::string& what) const {
    Fail(e.Mark(), e.path, what);
  }
  [[noreturn]] void UnknownKey(const Entry& e, std::span<const std::string_view> known) const {
    Fail(e.key_node.Mark(), e.path,
         "unknown key '" + e.key + "'; expected one of: " + KeyList(known));
  }

  // The entries of a mapping, in order; keys must be distinct names.
  std::vector<Entry> Entries(const YAML::Node& map, const std::string& path,
                             const YAML::Mark& mark) const {
    if (!map.IsMap()) Fail(mark, path, "expected a mapping, got " + Describe(map));
    std::vector<Entry> out;
    std::set<std::string, std::less<>> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        Fail(key.Mark(), path,
             key.IsNull() ? "a key must be a name (write null or ~ in quotes to mean the text)"
                          : "a key must be a name, got " + Describe(key));
      }
      const std::string path_here = path.empty() ? key.Scalar() : path + "." + key.Scalar();
      if (!seen.insert(key.Scalar()).second) {
        Fail(key.Mark(), path_here, "duplicate key '" + key.Scalar() + "'");
      }
      const YAML::Node value = it->second;
      out.push_back({key.Scalar(), path_here, key, value});
    }
    return out;
  }

  static bool Plain(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "?"; }

  bool Bool(const Entry& e) const {
    bool value;
    if (!Plain(e.value) || !ParseBool(e.value.Scalar(), &value)) {
      Fail(e, "expected true or false, got " + Describe(e.value));
    }
    return value;
  }

  double Number(const Entry& e) const {
    double value;
    if (!Plain(e.value) || !ParseFloat64(e.value.Scalar(), &value)) {
      Fail(e, "expected a number, got " + Describe(e.value));
    }
    return value;
  }

  int64_t Count(const Entry& e) const {
    int64_t value;
    if (!Plain(e.value) || !ParseInt64(e.value.Scalar(), &value) || value < 0) {
      Fail(e, "expected a non-negative integer, got " + Describe(e.value));
    }
    return value;
  }

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

  std::string source_;
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

// ---------------------------------------------------------------------------
// Row-level checks

// Re-reads single fields of a CSV file at known offsets (to confirm that two
// values with the same hash are equal). The file has been parsed up to there,
// so the field is well-formed.
class FieldFetcher {
 public:
  FieldFetcher(const std::filesystem::path& path, char delimiter)
      : in_(path, std::ios::binary), delimiter_(delimiter) {
    if (!in_) {
      throw Error(ErrorCode::kResourceDoesNotExist, "Cannot reopen '" + path.string() + "'");
    }
  }

  std::string ReadAt(uint64_t offset) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    std::string out;
    int c = in_.get();
    if (c == '"') {
      while ((c = in_.get()) != EOF) {
        if (c == '"') {
          if (in_.peek() != '"') break;
          in_.get();
        }
        out.push_back(static_cast<char>(c));
      }
    } else {
      while (c != EOF && c != delimiter_ && c != '\n' && c != '\r') {
        out.push_back(static_cast<char>(c));
        c = in_.get();
      }
    }
    return out;
  }

 private:
  std::ifstream in_;
  char delimiter_;
};

// The texts of one column seen so far, as 64-bit hashes with the file offset
// of their first occurrence (open addressing, linear probing, load <= 1/2).
class UniqueIndex {
 public:
  // The offset of an earlier field with the same text, or nullopt (and the
  // text is recorded under `offset`).
  std::optional<uint64_t> Insert(std::string_view text, uint64_t offset, FieldFetcher& fetcher) {
    if ((used_ + 1) * 2 > slots_.size()) Grow();
    const uint64_t hash = HashBytes(text);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.offset_plus_one == 0) {
        slot = {hash, offset + 1};
        ++used_;
        return std::nullopt;
      }
      if (slot.hash != hash) continue;
      if (fetcher.ReadAt(slot.offset_plus_one - 1) == text) return slot.offset_plus_one - 1;
      // A true 64-bit collision: other texts with this hash are listed apart.
      std::vector<uint64_t>& others = collisions_[hash];
      for (uint64_t other : others) {
        if (fetcher.ReadAt(other) == text) return other;
      }
      others.push_back(offset);
      return std::nullopt;
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint64_t offset_plus_one = 0;  // 0: empty
  };

  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(1024, old.size() * 2), Slot{});
    const size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.offset_plus_one == 0) continue;
      size_t i = slot.hash & mask;
      while (slots_[i].offset_plus_one != 0) i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  size_t used_ = 0;
  std::unordered_map<uint64_t, std::vector<uint64_t>> collisions_;
};

// The first offending field of a check and how many rows offend.
struct Offence {
  int64_t rows = 0;
  uint64_t first_offset = 0;
  std::string first_value;
  std::string first_reason;

  void Add(std::string_view value, uint64_t offset, std::string_view reason) {
    if (rows++ == 0) {
      first_offset = offset;
      first_value = std::string(value);
      first_reason = std::string(reason);
    }
  }
};

// What the scan of the CSV checks and found for one column.
struct ColumnScan {
  const ColumnRules* rules = nullptr;
  bool check_range = false;
  bool check_allowed = false;
  bool check_unique = false;
  bool in_header = true;  // false: the CSV lacks the column
  size_t field = 0;

  std::set<std::string, std::less<>> allowed;
  Offence range;
  Offence not_allowed;
  std::unique_ptr<UniqueIndex> index;
  bool duplicate_found = false;
  uint64_t duplicate_first_offset = 0;
  uint64_t duplicate_second_offset = 0;
  std::string duplicate_value;
  // Lines of the offsets above, filled after the scan.
  int64_t range_line = 0;
  int64_t allowed_line = 0;
  int64_t duplicate_first_line = 0;
  int64_t duplicate_second_line = 0;
};

bool IsMissing(std::string_view text, const std::vector<std::string>& missing_values) {
  return std::find(missing_values.begin(), missing_values.end(), text) != missing_values.end();
}

void RunScan(const std::filesystem::path& csv_path, const CsvOptions& csv_options,
             std::vector<ColumnScan>& scans) {
  const std::unique_ptr<CsvReader> reader = CsvReader::Open(csv_path, csv_options);
  const std::vector<std::string>& header = reader->header();
  std::vector<ColumnScan*> active;
  bool any_unique = false;
  for (ColumnScan& scan : scans) {
    const auto it = std::find(header.begin(), header.end(), scan.rules->name);
    if (it == header.end()) {
      scan.in_header = false;
      continue;
    }
    scan.field = static_cast<size_t>(it - header.begin());
    if (scan.check_unique) {
      scan.index = std::make_unique<UniqueIndex>();
      any_unique = true;
    }
    active.push_back(&scan);
  }
  if (active.empty()) return;
  std::optional<FieldFetcher> fetcher;
  if (any_unique) fetcher.emplace(csv_path, csv_options.delimiter);

  reader->ForEachRow(reader->DataRange(), [&](const CsvRow& row) {
    for (ColumnScan* scan : active) {
      const std::string_view text = row.fields[scan->field];
      if (IsMissing(text, csv_options.missing_values)) continue;
      const uint64_t offset = row.field_offsets[scan->field];
      if (scan->check_range) {
        const ColumnRules& r = *scan->rules;
        double value;
        if (!ParseFloat64(text, &value)) {
          scan->range.Add(text, offset, "is not a number");
        } else if (r.min && value < *r.min) {
          scan->range.Add(text, offset, "is below the minimum " + FormatNumber(*r.min));
        } else if (r.max && value > *r.max) {
          scan->range.Add(text, offset, "is above the maximum " + FormatNumber(*r.max));
        }
      }
      if (scan->check_allowed && scan->allowed.find(text) == scan->allowed.end()) {
        scan->not_allowed.Add(text, offset, "is not allowed");
      }
      if (scan->index) {
        if (const std::optional<uint64_t> earlier = scan->index->Insert(text, offset, *fetcher)) {
          scan->duplicate_found = true;
          scan->duplicate_first_offset = *earlier;
          scan->duplicate_second_offset = offset;
          scan->duplicate_value = std::string(text);
          scan->index.reset();  // decided: stop tracking this column
        }
      }
    }
  });

  for (ColumnScan* scan : active) {
    if (scan->range.rows > 0) scan->range_line = reader->Locate(scan->range.first_offset).line;
    if (scan->not_allowed.rows > 0) {
      scan->allowed_line = reader->Locate(scan->not_allowed.first_offset).line;
    }
    if (scan->duplicate_found) {
      scan->duplicate_first_line = reader->Locate(scan->duplicate_first_offset).line;
      scan->duplicate_second_line = reader->Locate(scan->duplicate_second_offset).line;
    }
  }
}

// ---------------------------------------------------------------------------
// Evaluation

RuleResult Result(std::string rule, std::string column, bool passed, std::string observed,
                  std::string expected, std::string message) {
  RuleResult r;
  r.rule = std::move(rule);
  r.column = std::move(column);
  r.passed = passed;
  r.observed = std::move(observed);
  r.expected = std::move(expected);
  r.message = std::move(message);
  return r;
}

bool RangeHolds(const ColumnRules& r, const ColumnProfile& c) {
  if (c.count == 0) return true;
  if (!IsNumeric(c.type)) return false;
  return !(r.min && c.min < *r.min) && !(r.max && c.max > *r.max);
}

// Values outside `allowed` among the tracked top values: (value, count).
std::vector<std::pair<std::string, int64_t>> DisallowedTopValues(
    const ColumnProfile& c, const std::set<std::string, std::less<>>& allowed) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const FrequentItems::Item& item : c.top_items.Top(c.top_items.size())) {
    if (item.lower_bound > 0 && allowed.find(item.value) == allowed.end()) {
      out.emplace_back(item.value, item.lower_bound);
    }
  }
  return out;
}

bool TopValuesProveUnique(const ColumnProfile& c) {
  if (c.count <= 1) return true;
  if (!c.top_items.exact()) return false;
  for (const FrequentItems::Item& item : c.top_items.Top(1)) {
    if (item.lower_bound > 1) return false;
  }
  return true;
}

void EvaluateRange(const ColumnRules& r, const ColumnProfile& c, const ColumnScan* scan,
                   std::vector<RuleResult>& out) {
  const std::string expected = Bounds(r.min, r.max);
  std::string observed;
  if (c.count == 0) {
    observed = "no values";
  } else if (IsNumeric(c.type)) {
    observed = "[" + FormatNumber(c.min) + ", " + FormatNumber(c.max) + "]";
  } else {
    observed = std::string(ColumnTypeName(c.type)) + " values";
  }
  if (RangeHolds(r, c)) {
    out.push_back(Result("range", r.name, true, observed, expected,
                         c.count == 0 ? "no non-missing values to check"
                                      : "values range over " + observed + ", within " + expected));
    return;
  }
  RuleResult result = Result("range", r.name, false, observed, expected, "");
  if (scan != nullptr && scan->range.rows > 0) {
    const Offence& o = scan->range;
    result.observed = Quote(o.first_value);
    result.message = "line " + std::to_string(scan->range_line) + ": value " +
                     Quote(o.first_value) + " " + o.first_reason + "; " + std::to_string(o.rows) +
                     (o.rows == 1 ? " row" : " rows") + " outside " + expected;
    result.lines = {scan->range_line};
    result.offending_rows = o.rows;
  } else if (!IsNumeric(c.type)) {
    result.message = "the column holds " + observed + ", not numbers within " + expected;
  } else {
    result.message = "values range over " + observed + ", outside " + expected +
                     " (rows not located: no CSV was read)";
  }
  out.push_back(std::move(result));
}

void EvaluateAllowed(const ColumnRules& r, const ColumnProfile& c, const ColumnScan* scan,
                     std::vector<RuleResult>& out) {
  const std::set<std::string, std::less<>> allowed(r.allowed.begin(), r.allowed.end());
  std::string expected = "one of " + std::to_string(r.allowed.size()) + " values";
  const auto bad = DisallowedTopValues(c, allowed);
  if (c.count == 0 || (c.top_items.exact() && bad.empty())) {
    out.push_back(
        Result("allowed", r.name, true,
               std::to_string(static_cast<int64_t>(c.DistinctEstimate())) + " distinct values",
               expected, "every value is allowed"));
    return;
  }
  RuleResult result = Result("allowed", r.name, false, "", expected, "");
  if (scan != nullptr && scan->not_allowed.rows > 0) {
    const Offence& o = scan->not_allowed;
    result.observed = Quote(o.first_value);
    result.message = "line " + std::to_string(scan->allowed_line) + ": value " +
                     Quote(o.first_value) + " is not allowed; " + std::to_string(o.rows) +
                     (o.rows == 1 ? " row has" : " rows have") + " a value outside the allowed set";
    result.lines = {scan->allowed_line};
    result.offending_rows = o.rows;
  } else if (scan != nullptr) {
    result.passed = true;
    result.observed = "no offending row";
    result.message = "every value is allowed (checked row by row)";
  } else if (!bad.empty()) {
    int64_t rows = 0;
    for (const auto& [value, count] : bad) rows += count;
    result.observed = Quote(bad.front().first);
    result.message = "value " + Quote(bad.front().first) + " is not allowed; at least " +
                     std::to_string(rows) + " rows have values outside the allowed set" +
                     " (rows not located: no CSV was read)";
    if (c.top_items.exact()) result.offending_rows = rows;
  } else {
    result.observed = "more than " + std::to_string(c.top_items.capacity()) + " distinct values";
    result.message =
        "cannot be decided from the profile alone (too many distinct values); needs the CSV";
  }
  out.push_back(std::move(result));
}

void EvaluateUnique(const ColumnRules& r, const ColumnProfile& c, const ColumnScan* scan,
                    std::vector<RuleResult>& out) {
  const std::string expected = "no value twice";
  if (TopValuesProveUnique(c)) {
    out.push_back(Result("unique", r.name, true, std::to_string(c.count) + " distinct values",
                         expected, "every non-missing value is distinct"));
    return;
  }
  RuleResult result = Result("unique", r.name, false, "", expected, "");
  if (scan != nullptr && scan->duplicate_found) {
    result.observed = Quote(scan->duplicate_value);
    result.message = "value " + Quote(scan->duplicate_value) + " appears on line " +
                     std::to_string(scan->duplicate_first_line) + " and again on line " +
                     std::to_string(scan->duplicate_second_line);
    result.lines = {scan->duplicate_first_line, scan->duplicate_second_line};
  } else if (scan != nullptr) {
    result.passed = true;
    result.observed = std::to_string(c.count) + " distinct values";
    result.message = "every non-missing value is distinct (checked row by row)";
  } else {
    const std::vector<FrequentItems::Item> top = c.top_items.Top(1);
    if (!top.empty() && top.front().lower_bound > 1) {
      result.observed = Quote(top.front().value);
      result.message = "value " + Quote(top.front().value) + " appears at least " +
                       std::to_string(top.front().lower_bound) +
                       " times (rows not located: no CSV was read)";
    } else {
      result.observed = "about " + std::to_string(std::llround(c.DistinctEstimate())) +
                        " distinct of " + std::to_string(c.count);
      result.message = "cannot be decided from the profile alone; needs the CSV";
    }
  }
  out.push_back(std::move(result));
}

void EvaluateDriftMetric(const char* rule, const std::string& column,
                         const std::optional<double>& threshold, double value, const char* label,
                         std::vector<RuleResult>& out) {
  if (!threshold) return;
  const bool passed = value <= *threshold;
  out.push_back(Result(rule, column, passed, FormatMetric(value), "<= " + FormatNumber(*threshold),
                       std::string(label) + " " + FormatMetric(value) +
                           (passed ? " is within " : " exceeds ") + FormatNumber(*threshold)));
}

void EvaluateDrift(const DriftRules& drift, const DatasetProfile& profile,
                   const DatasetProfile* reference, std::vector<RuleResult>& out) {
  if (reference == nullptr) {
    out.push_back(Result("drift", "", false, "no reference", "a reference profile",
                         "drift rules need a reference profile to compare with "
                         "(needs --reference)"));
    return;
  }
  for (const ColumnProfile& current : profile.columns) {
    const ColumnProfile* ref = reference->Find(current.name);
    if (ref == nullptr) continue;
    const DriftThresholds& t = drift.For(current.name);
    if (!t.psi && !t.ks && !t.js) continue;
    const ColumnDrift d = ComputeDrift(*ref, current);
    if (!d.comparable) {
      const bool both_empty = d.reference_count == 0 && d.current_count == 0;
      out.push_back(Result("drift", current.name, both_empty, "not comparable",
                           "comparable distributions", "cannot compare: " + d.note));
      continue;
    }
    EvaluateDriftMetric("drift.psi", current.name, t.psi, d.psi, "PSI", out);
    if (d.ks) EvaluateDriftMetric("drift.ks", current.name, t.ks, *d.ks, "KS statistic", out);
    EvaluateDriftMetric("drift.js", current.name, t.js, d.js, "Jensen-Shannon distance", out);
  }
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

Rules InferRules(const DatasetProfile& profile, const InferOptions& options) {
  Rules rules;
  const auto n = static_cast<double>(profile.row_count);
  rules.rows.min = static_cast<int64_t>(std::floor(n * options.min_rows_factor));
  rules.rows.max = static_cast<int64_t>(std::ceil(n * options.max_rows_factor));
  DriftRules drift;
  drift.defaults = options.drift;
  for (const ColumnProfile& c : profile.columns) {
    ColumnRules r;
    r.name = c.name;
    r.required = true;
    if (c.type != ColumnType::kEmpty) r.type = c.type;
    const int64_t total = c.count + c.missing;
    if (c.missing == 0) {
      r.max_missing = 0.0;
    } else {
      const double share = static_cast<double>(c.missing) / static_cast<double>(total);
      r.max_missing = std::min(1.0, std::ceil((share + options.missing_margin) * 1e4) / 1e4);
    }
    if (IsNumeric(c.type) && c.count > 0) {
      // The observed range widened by a tenth of its span on each side (a
      // fresh sample of the same process rarely lands exactly inside the
      // first one's extremes), kept non-negative if it was, and whole for
      // integer columns.
      const double margin = (c.max - c.min) * options.range_margin;
      double low = c.min - margin;
      double high = c.max + margin;
      if (c.min >= 0) low = std::max(low, 0.0);
      if (c.type == ColumnType::kInt64) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      r.min = low;
      r.max = high;
    }
    const double distinct = c.DistinctEstimate();
    if (c.type == ColumnType::kString && c.top_items.exact() && c.count > 0 &&
        distinct <= options.max_allowed_values &&
        static_cast<double>(c.count) >= distinct * options.min_rows_per_value) {
      for (const FrequentItems::Item& item : c.top_items.Top(c.top_items.size())) {
        r.allowed.push_back(item.value);
      }
    }
    if ((c.type == ColumnType::kInt64 || c.type == ColumnType::kString) && c.count >= 2) {
      const std::vector<FrequentItems::Item> top = c.top_items.Top(1);
      const bool seen_twice = !top.empty() && top.front().lower_bound > 1;
      const double tolerance = c.top_items.exact() ? 0 : 3 * c.distinct.RelativeStandardError();
      if (!seen_twice && distinct >= static_cast<double>(c.count) * (1 - tolerance)) {
        r.unique = true;
        r.comment =
            "unique is a guess from the distinct count: delete it if duplicates are legitimate";
        drift.columns.emplace(c.name, DriftThresholds{});
      }
    }
    rules.columns.push_back(std::move(r));
  }
  rules.drift = std::move(drift);
  return rules;
}

// ---------------------------------------------------------------------------
// Validation

ValidationReport Validate(const Rules& rules, const DatasetProfile& profile,
                          const std::filesystem::path& csv_path, const CsvOptions& csv_options,
                          const DatasetProfile* reference) {
  // Decide from the profile which columns need the rows.
  std::vector<ColumnScan> scans;
  for (const ColumnRules& r : rules.columns) {
    const ColumnProfile* c = profile.Find(r.name);
    if (c == nullptr || c->count == 0) continue;
    ColumnScan scan;
    scan.rules = &r;
    scan.check_range = (r.min || r.max) && !RangeHolds(r, *c);
    if (!r.allowed.empty()) {
      scan.allowed.insert(r.allowed.begin(), r.allowed.end());
      scan.check_allowed = !(c->top_items.exact() && DisallowedTopValues(*c, scan.allowed).empty());
    }
    scan.check_unique = r.unique && !TopValuesProveUnique(*c);
    if (scan.check_range || scan.check_allowed || scan.check_unique)
      scans.push_back(std::move(scan));
  }
  const bool scanned = !scans.empty() && !csv_path.empty();
  if (scanned) RunScan(csv_path, csv_options, scans);
  const auto scan_of = [&](const ColumnRules& r) -> const ColumnScan* {
    if (!scanned) return nullptr;
    for (const ColumnScan& s : scans) {
      if (s.rules == &r) return s.in_header ? &s : nullptr;
    }
    return nullptr;
  };

  ValidationReport report;
  std::vector<RuleResult>& out = report.results;
  if (rules.rows.min || rules.rows.max) {
    const int64_t n = profile.row_count;
    const bool too_few = rules.rows.min && n < *rules.rows.min;
    const bool too_many = rules.rows.max && n > *rules.rows.max;
    const std::string expected = Bounds(rules.rows.min, rules.rows.max);
    std::string message = std::to_string(n) + " rows";
    if (too_few) {
      message += ", fewer than the minimum " + std::to_string(*rules.rows.min);
    } else if (too_many) {
      message += ", more than the maximum " + std::to_string(*rules.rows.max);
    } else {
      message += ", within " + expected;
    }
    out.push_back(Result("rows", "", !too_few && !too_many, std::to_string(n), expected, message));
  }

  for (const ColumnRules& r : rules.columns) {
    const ColumnProfile* c = profile.Find(r.name);
    if (c == nullptr) {
      if (r.required) {
        out.push_back(Result("required", r.name, false, "absent", "present",
                             "required column '" + r.name + "' is missing from the file"));
      } else {
        out.push_back(
            Result("optional", r.name, true, "absent", "present or absent",
                   "optional column '" + r.name + "' is absent; its other rules were not checked"));
      }
      continue;
    }
    if (r.required) {
      out.push_back(Result("required", r.name, true, "present", "present", "column is present"));
    }
    if (r.type) {
      const std::string expected(ColumnTypeName(*r.type));
      const bool passed =
          c->type == ColumnType::kEmpty || PromoteTypes(c->type, *r.type) == *r.type;
      std::string message;
      if (c->type == ColumnType::kEmpty) {
        message = "no non-missing values, so none contradicts " + expected;
      } else if (passed) {
        message = "values are " + std::string(ColumnTypeName(c->type)) + ", which fits " + expected;
      } else {
        message = "values are " + std::string(ColumnTypeName(c->type)) + ", not " + expected;
      }
      out.push_back(
          Result("type", r.name, passed, std::string(ColumnTypeName(c->type)), expected, message));
    }
    if (r.max_missing) {
      const int64_t total = c->count + c->missing;
      const double share =
          total == 0 ? 0.0 : static_cast<double>(c->missing) / static_cast<double>(total);
      const bool passed = share <= *r.max_missing;
      RuleResult result = Result(
          "max_missing", r.name, passed, FormatShare(share), "<= " + FormatShare(*r.max_missing),
          FormatShare(share) + " of rows missing (" + std::to_string(c->missing) + " of " +
              std::to_string(total) + ")" + (passed ? ", within " : ", more than ") +
              FormatShare(*r.max_missing));
      if (!passed) result.offending_rows = c->missing;
      out.push_back(std::move(result));
    }
    if (r.min || r.max) EvaluateRange(r, *c, scan_of(r), out);
    if (!r.allowed.empty()) EvaluateAllowed(r, *c, scan_of(r), out);
    if (r.unique) EvaluateUnique(r, *c, scan_of(r), out);
  }

  if (rules.drift) EvaluateDrift(*rules.drift, profile, reference, out);

  for (const RuleResult& result : out) report.ok = report.ok && result.passed;
  return report;
}

// ---------------------------------------------------------------------------
// ValidationReport

int ValidationReport::failed() const {
  return static_cast<int>(
      std::count_if(results.begin(), results.end(), [](const RuleResult& r) { return !r.passed; }));
}

const RuleResult* ValidationReport::Find(std::string_view rule, std::string_view column) const {
  for (const RuleResult& r : results) {
    if (r.rule == rule && r.column == column) return &r;
  }
  return nullptr;
}

json ValidationReport::ToJson() const {
  json list = json::array();
  for (const RuleResult& r : results) {
    json item = {{"rule", r.rule},         {"column", r.column},     {"passed", r.passed},
                 {"observed", r.observed}, {"expected", r.expected}, {"message", r.message},
                 {"lines", r.lines}};
    if (r.offending_rows) item["offending_rows"] = *r.offending_rows;
    list.push_back(std::move(item));
  }
  return {
      {"ok", ok}, {"rules", results.size()}, {"failed", failed()}, {"results", std::move(list)}};
}

std::string ValidationReport::RenderText() const {
  size_t rule_width = 4;
  size_t column_width = 1;
  for (const RuleResult& r : results) {
    rule_width = std::max(rule_width, r.rule.size());
    column_width = std::max(column_width, r.column.size());
  }
  std::string out;
  const auto render = [&](bool passed) {
    for (const RuleResult& r : results) {
      if (r.passed != passed) continue;
      out += passed ? "PASS  " : "FAIL  ";
      std::string column = r.column.empty() ? "-" : r.column;
      column.resize(column_width, ' ');
      std::string rule = r.rule;
      rule.resize(rule_width, ' ');
      out += column + "  " + rule + "  " + r.message + "\n";
    }
  };
  render(false);
  render(true);
  const int failures = failed();
  if (failures == 0) {
    out += "OK: all " + std::to_string(results.size()) + " rules passed\n";
  } else {
    out += "FAILED: " + std::to_string(failures) + " of " + std::to_string(results.size()) +
           " rules failed\n";
  }
  return out;
}

}  // namespace slipway::data
