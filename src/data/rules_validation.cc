// Validate: evaluating rules against a profile and, where the profile cannot
// settle a rule or a failure should name its line, one streaming pass over
// the CSV for all such rules together; and the report it returns.
//
// Plain values and functions; a Validate call owns everything it reads and
// is thread-compatible (see rules.h).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "data/drift.h"
#include "data/hyperloglog.h"
#include "data/rules.h"
#include "data/rules_format.h"

namespace slipway::data {
using rules_internal::Bounds;
using rules_internal::FormatMetric;
using rules_internal::FormatNumber;
using rules_internal::FormatShare;
using rules_internal::Quote;

namespace {

using nlohmann::json;

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
