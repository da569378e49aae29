#include "data/dataset_diff.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace slipway::data {

namespace {

using nlohmann::json;

StatisticChange Change(std::string statistic, std::optional<double> before,
                       std::optional<double> after) {
  StatisticChange change;
  change.statistic = std::move(statistic);
  change.before = before;
  change.after = after;
  if (before && after) {
    change.delta = *after - *before;
    if (*before != 0) change.relative_delta = *change.delta / std::fabs(*before);
  }
  return change;
}

std::optional<double> Numeric(const ColumnProfile& c, double value) {
  if (!IsNumeric(c.type) || c.count == 0) return std::nullopt;
  return value;
}

std::optional<double> Median(const ColumnProfile& c) {
  if (!IsNumeric(c.type) || c.count == 0) return std::nullopt;
  return c.quantiles.Quantile(0.5);
}

double MissingShare(const ColumnProfile& c) {
  const int64_t total = c.count + c.missing;
  return total == 0 ? 0.0 : static_cast<double>(c.missing) / static_cast<double>(total);
}

json OptionalJson(const std::optional<double>& value) {
  return value ? json(*value) : json(nullptr);
}

json ChangeJson(const StatisticChange& c) {
  return {{"statistic", c.statistic},
          {"before", OptionalJson(c.before)},
          {"after", OptionalJson(c.after)},
          {"delta", OptionalJson(c.delta)},
          {"relative_delta", OptionalJson(c.relative_delta)}};
}

std::string Number(const std::optional<double>& value) {
  if (!value) return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", *value);
  return buffer;
}

std::string Signed(const std::optional<double>& value) {
  if (!value) return "";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%+.6g", *value);
  return buffer;
}

std::string Percent(const std::optional<double>& value) {
  if (!value) return "";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%+.3g%%", *value * 100);
  return buffer;
}

std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.resize(width, ' ');
  return text;
}

std::string RenderChange(const StatisticChange& c) {
  std::string line = Pad(c.statistic, 14) + Number(c.before) + " -> " + Number(c.after);
  if (c.delta) line += "  (" + Signed(c.delta);
  if (c.relative_delta) line += ", " + Percent(c.relative_delta);
  if (c.delta) line += ")";
  return line;
}

bool Unchanged(const StatisticChange& c) { return c.before == c.after; }

}  // namespace

const StatisticChange* ColumnDiff::Find(std::string_view statistic) const {
  for (const StatisticChange& s : statistics) {
    if (s.statistic == statistic) return &s;
  }
  return nullptr;
}

const ColumnDiff* DatasetDiff::Find(std::string_view column) const {
  for (const ColumnDiff& c : columns) {
    if (c.column == column) return &c;
  }
  return nullptr;
}

DatasetDiff Diff(const DatasetProfile& a, const DatasetProfile& b,
                 const DriftOptions& drift_options) {
  DatasetDiff diff;
  diff.rows = Change("rows", static_cast<double>(a.row_count), static_cast<double>(b.row_count));
  for (const ColumnProfile& before : a.columns) {
    const ColumnProfile* after = b.Find(before.name);
    if (after == nullptr) {
      diff.removed_columns.push_back(before.name);
      continue;
    }
    if (before.type != after->type) {
      diff.type_changes.push_back({before.name, before.type, after->type});
    }
    ColumnDiff column;
    column.column = before.name;
    column.type_before = before.type;
    column.type_after = after->type;
    column.statistics = {
        Change("count", static_cast<double>(before.count), static_cast<double>(after->count)),
        Change("missing_share", MissingShare(before), MissingShare(*after)),
        Change("distinct", std::round(before.DistinctEstimate()),
               std::round(after->DistinctEstimate())),
        Change("mean", Numeric(before, before.mean), Numeric(*after, after->mean)),
        Change("std", Numeric(before, before.Stddev()), Numeric(*after, after->Stddev())),
        Change("min", Numeric(before, before.min), Numeric(*after, after->min)),
        Change("max", Numeric(before, before.max), Numeric(*after, after->max)),
        Change("median", Median(before), Median(*after)),
    };
    column.drift = ComputeDrift(before, *after, drift_options);
    diff.columns.push_back(std::move(column));
  }
  for (const ColumnProfile& after : b.columns) {
    if (a.Find(after.name) == nullptr) diff.added_columns.push_back(after.name);
  }
  return diff;
}

json DatasetDiff::ToJson() const {
  json type_changes_json = json::array();
  for (const ColumnTypeChange& t : type_changes) {
    type_changes_json.push_back({{"column", t.column},
                                 {"before", ColumnTypeName(t.before)},
                                 {"after", ColumnTypeName(t.after)}});
  }
  json columns_json = json::array();
  for (const ColumnDiff& c : columns) {
    json statistics = json::array();
    for (const StatisticChange& s : c.statistics) statistics.push_back(ChangeJson(s));
    columns_json.push_back({{"column", c.column},
                            {"type_before", ColumnTypeName(c.type_before)},
                            {"type_after", ColumnTypeName(c.type_after)},
                            {"statistics", std::move(statistics)},
                            {"drift", c.drift.ToJson()}});
  }
  return {{"rows", ChangeJson(rows)},
          {"schema",
           {{"added", added_columns},
            {"removed", removed_columns},
            {"type_changes", std::move(type_changes_json)}}},
          {"columns", std::move(columns_json)}};
}

std::string DatasetDiff::RenderText() const {
  std::string out = "Rows: " + RenderChange(rows).substr(14) + "\n";
  if (added_columns.empty() && removed_columns.empty() && type_changes.empty()) {
    out += "Schema: unchanged\n";
  } else {
    out += "Schema:\n";
    for (const std::string& name : added_columns) out += "  + " + name + " (added)\n";
    for (const std::string& name : removed_columns) out += "  - " + name + " (removed)\n";
    for (const ColumnTypeChange& t : type_changes) {
      out += "  ~ " + t.column + ": " + std::string(ColumnTypeName(t.before)) + " -> " +
             std::string(ColumnTypeName(t.after)) + "\n";
    }
  }
  for (const ColumnDiff& c : columns) {
    out += "\n" + c.column + " (" + std::string(ColumnTypeName(c.type_after)) + ")\n";
    bool any_change = false;
    for (const StatisticChange& s : c.statistics) {
      if (Unchanged(s)) continue;
      any_change = true;
      out += "  " + RenderChange(s) + "\n";
    }
    if (!any_change) out += "  statistics unchanged\n";
    const ColumnDrift& d = c.drift;
    if (!d.comparable) {
      out += "  drift: not comparable (" + d.note + ")\n";
      continue;
    }
    out += "  drift (" + std::string(DriftKindName(d.kind)) + "): PSI " + Number(d.psi);
    if (d.ks) out += ", KS " + Number(d.ks) + " (p " + Number(d.ks_p_value) + ")";
    out += ", JS " + Number(d.js) + "\n";
    if (!d.new_categories.empty()) {
      out += "  new categories:";
      for (const std::string& v : d.new_categories) out += " '" + v + "'";
      out += "\n";
    }
    if (!d.missing_categories.empty()) {
      out += "  vanished categories:";
      for (const std::string& v : d.missing_categories) out += " '" + v + "'";
      out += "\n";
    }
  }
  return out;
}

}  // namespace slipway::data
