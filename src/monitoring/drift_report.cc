#include "monitoring/drift_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/markup.h"

namespace slipway::monitoring {

namespace {

using nlohmann::json;

// A number for people: 4 significant digits, no trailing noise.
std::string Number(double value) {
  if (std::isnan(value)) return "";
  const double magnitude = std::fabs(value);
  if (value != 0 && (magnitude >= 1e6 || magnitude < 1e-3)) return fmt::format("{:.3g}", value);
  return fmt::format("{:.4g}", value);
}

std::string Percent(double share) { return fmt::format("{:.1f}%", 100 * share); }

std::vector<double> SharesFromCdf(const std::vector<double>& cdf_at_inner_edges) {
  std::vector<double> shares;
  double previous = 0;
  for (double c : cdf_at_inner_edges) {
    shares.push_back(std::max(0.0, c - previous));
    previous = std::max(previous, c);
  }
  shares.push_back(std::max(0.0, 1.0 - previous));
  return shares;
}

DistributionChart NumericChart(const data::ColumnProfile& reference,
                               const data::ColumnProfile& current, int bins) {
  DistributionChart chart;
  const data::KllSketch& ref = reference.quantiles;
  const data::KllSketch& cur = current.quantiles;
  double low = std::numeric_limits<double>::infinity();
  double high = -low;
  for (const data::KllSketch* s : {&ref, &cur}) {
    if (s->empty()) continue;
    low = std::min(low, s->min());
    high = std::max(high, s->max());
  }
  if (!(low <= high)) return chart;
  if (low == high) bins = 1;
  const double width = (high - low) / bins;
  std::vector<double> inner;
  for (int i = 1; i < bins; ++i) inner.push_back(low + width * i);
  for (int i = 0; i < bins; ++i) {
    const double a = low + width * i;
    const double b = i + 1 == bins ? high : low + width * (i + 1);
    chart.labels.push_back(bins == 1 ? Number(a) : Number(a) + " – " + Number(b));
  }
  chart.reference = ref.empty() ? std::vector<double>(bins, 0.0) : SharesFromCdf(ref.Cdf(inner));
  chart.current = cur.empty() ? std::vector<double>(bins, 0.0) : SharesFromCdf(cur.Cdf(inner));
  return chart;
}

DistributionChart CategoricalChart(const data::ColumnProfile& reference,
                                   const data::ColumnProfile& current, int categories) {
  DistributionChart chart;
  chart.numeric = false;
  std::map<std::string, std::pair<double, double>> shares;
  const auto collect = [&](const data::ColumnProfile& side, bool is_reference) {
    if (side.count <= 0) return;
    for (const auto& item : side.top_items.Top(side.top_items.size())) {
      auto& entry = shares[item.value];
      (is_reference ? entry.first : entry.second) =
          static_cast<double>(item.lower_bound) / static_cast<double>(side.count);
    }
  };
  collect(reference, true);
  collect(current, false);
  std::vector<std::pair<double, std::string>> order;
  for (const auto& [value, s] : shares) order.emplace_back(-std::max(s.first, s.second), value);
  std::sort(order.begin(), order.end());
  if (order.size() > static_cast<size_t>(categories)) order.resize(categories);
  double ref_shown = 0;
  double cur_shown = 0;
  for (const auto& [negative, value] : order) {
    const auto& s = shares[value];
    chart.labels.push_back(value);
    chart.reference.push_back(s.first);
    chart.current.push_back(s.second);
    ref_shown += s.first;
    cur_shown += s.second;
  }
  const double ref_other = reference.count > 0 ? std::max(0.0, 1.0 - ref_shown) : 0.0;
  const double cur_other = current.count > 0 ? std::max(0.0, 1.0 - cur_shown) : 0.0;
  if (ref_other > 1e-12 || cur_other > 1e-12) {
    chart.labels.push_back("(other)");
    chart.reference.push_back(ref_other);
    chart.current.push_back(cur_other);
  }
  return chart;
}

data::DatasetProfile Select(const data::DatasetProfile& profile,
                            const std::vector<std::string>& columns) {
  data::DatasetProfile out;
  out.row_count = profile.row_count;
  for (const std::string& name : columns) {
    if (const data::ColumnProfile* c = profile.Find(name)) out.columns.push_back(*c);
  }
  return out;
}

std::string Join(const std::vector<std::string>& names, size_t limit = 10) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) {
    if (i > 0) out += ", ";
    out += "'" + names[i] + "'";
  }
  if (names.size() > limit) out += fmt::format(", ... ({} in all)", names.size());
  return out.empty() ? "none" : out;
}

std::vector<std::string> Names(const data::DatasetProfile& profile) {
  std::vector<std::string> names;
  for (const auto& c : profile.columns) names.push_back(c.name);
  return names;
}

json ThresholdJson(const data::DriftThreshold& t) {
  return {{"statistic", data::DriftStatisticName(t.statistic)}, {"threshold", t.threshold}};
}

// --- HTML

constexpr const char* kReferenceColor = "#4c78a8";
constexpr const char* kCurrentColor = "#f58518";

// Grouped vertical bars: per bin the reference's share, then the current's.
// Bin labels go under the bars, rotated when there are many.
std::string ChartSvg(const DistributionChart& chart) {
  const size_t n = chart.labels.size();
  if (n == 0) return "<p class=\"muted\">no values to chart</p>";
  const bool rotate = n > 8;
  const double width = 680;
  const double left = 48;
  const double right = 8;
  const double top = 10;
  const double plot_height = 160;
  const double bottom = rotate ? 110 : 30;
  const double height = top + plot_height + bottom;
  double peak = 0;
  for (size_t i = 0; i < n; ++i) peak = std::max({peak, chart.reference[i], chart.current[i]});
  // The y axis in whole percent steps: 1, 2, 5, 10, 20 or 25.
  const double peak_percent = std::max(1.0, std::ceil(peak * 100));
  double step = 1;
  for (double s : {1.0, 2.0, 5.0, 10.0, 20.0, 25.0}) {
    step = s;
    if (peak_percent / s <= 5) break;
  }
  const double axis_max = std::ceil(peak_percent / step) * step / 100;
  const double slot = (width - left - right) / static_cast<double>(n);
  const double bar = std::max(1.0, slot * 0.38);
  const auto y_of = [&](double share) { return top + plot_height * (1 - share / axis_max); };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"sans-serif\" font-size=\"11\">",
      width, height);
  for (double tick = 0; tick <= axis_max + 1e-12; tick += step / 100) {
    const double y = y_of(tick);
    svg += fmt::format(
        "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"#555\">{:.0f}%</text>",
        left, y, width - right, y, left - 4, y + 4, tick * 100);
  }
  for (size_t i = 0; i < n; ++i) {
    const double x = left + slot * static_cast<double>(i) + slot * 0.1;
    const auto rect = [&](double offset, double share, const char* color, const char* side) {
      const double y = y_of(share);
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\">"
          "<title>{} {}: {}</title></rect>",
          x + offset, y, bar, top + plot_height - y, color, EscapeMarkup(chart.labels[i]), side,
          Percent(share));
    };
    rect(0, chart.reference[i], kReferenceColor, "reference");
    rect(bar, chart.current[i], kCurrentColor, "current");
    std::string label = chart.labels[i];
    if (label.size() > 24) label = label.substr(0, 22) + "…";
    const double cx = left + slot * (static_cast<double>(i) + 0.5);
    const double ly = top + plot_height + 12;
    if (rotate) {
      svg += fmt::format(
          "<text x=\"{0:.1f}\" y=\"{1:.1f}\" text-anchor=\"end\" fill=\"#333\" "
          "transform=\"rotate(-45 {0:.1f} {1:.1f})\">{2}</text>",
          cx, ly, EscapeMarkup(label));
    } else {
      svg += fmt::format(
          "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#333\">{}</text>", cx, ly,
          EscapeMarkup(label));
    }
  }
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#333\"/>",
                     left, top + plot_height, width - right);
  svg += "</svg>";
  return svg;
}

std::string Optional(const std::optional<double>& value) { return value ? Number(*value) : ""; }

std::string ColumnRow(const data::ColumnDrift& c) {
  std::string decision;
  if (c.drift_statistic.empty()) {
    decision = "<td class=\"muted\">not compared</td>";
  } else {
    decision = fmt::format("<td class=\"{}\">{}</td>", c.drifted ? "drift" : "ok",
                           c.drifted ? "drift" : "no drift");
  }
  return fmt::format(
      "<tr><td><a href=\"#col-{0}\">{1}</a></td><td>{2}</td>{3}<td>{4}</td><td>{5}</td>"
      "<td>{6}</td><td>{7}</td><td>{8}</td><td>{9}</td><td>{10}</td><td>{11}</td><td>{12} → "
      "{13}</td></tr>\n",
      EscapeMarkup(c.column), EscapeMarkup(c.column), data::DriftKindName(c.kind), decision,
      EscapeMarkup(c.drift_statistic), c.drift_statistic.empty() ? "" : Number(c.drift_value),
      c.drift_statistic.empty() ? "" : Number(c.drift_threshold), Optional(c.wasserstein_normed),
      c.comparable ? Number(c.psi) : "", c.comparable ? Number(c.js) : "", Optional(c.ks),
      c.chi_square_p_value ? Number(*c.chi_square_p_value) : "", Percent(c.reference_missing_rate),
      Percent(c.current_missing_rate));
}

std::string ColumnSection(const data::ColumnDrift& c, const DistributionChart& chart) {
  std::string details;
  const auto item = [&](const std::string& name, const std::string& value) {
    details += "<dt>" + EscapeMarkup(name) + "</dt><dd>" + value + "</dd>";
  };
  item("decision",
       c.drift_statistic.empty()
           ? "not compared"
           : fmt::format("{} {} {} {} {}",
                         c.drifted ? "drift:" : "no drift:", EscapeMarkup(c.drift_statistic),
                         Number(c.drift_value), c.drifted ? "≥" : "<", Number(c.drift_threshold)) +
                 (c.decided_as_categories ? " (few values: compared as categories)" : ""));
  if (!c.note.empty()) item("note", EscapeMarkup(c.note));
  if (c.comparable) {
    item("PSI", Number(c.psi));
    item("Jensen-Shannon distance (base 2)", Number(c.js));
  }
  if (c.ks) {
    item("Kolmogorov-Smirnov D", Number(*c.ks) + (c.exact ? "" : " ± " + Number(c.ks_error)) +
                                     " (p " + Number(c.ks_p_value.value_or(1)) + ")");
  }
  if (c.wasserstein) {
    item("Wasserstein distance", Number(*c.wasserstein) +
                                     (c.exact ? "" : " ± " + Number(c.wasserstein_error)) +
                                     "; normed " + Number(c.wasserstein_normed.value_or(0)));
  }
  if (c.chi_square) {
    item("chi-square",
         fmt::format("{} (dof {}, p {})", Number(*c.chi_square), c.chi_square_dof.value_or(0),
                     Number(c.chi_square_p_value.value_or(1))));
  }
  item("values (non-missing)", fmt::format("{} → {}", c.reference_count, c.current_count));
  item("missing",
       fmt::format("{} ({}) → {} ({})", c.reference_missing, Percent(c.reference_missing_rate),
                   c.current_missing, Percent(c.current_missing_rate)));
  if (!c.new_categories.empty()) item("new categories", EscapeMarkup(Join(c.new_categories)));
  if (!c.missing_categories.empty()) {
    item("vanished categories", EscapeMarkup(Join(c.missing_categories)));
  }
  item("sketches", c.exact ? "exact (every value held)" : "approximate (see the error bounds)");
  return fmt::format(
      "<section id=\"col-{0}\" class=\"column\"><h3>{0} <span class=\"{1}\">{2}</span></h3>"
      "<div class=\"pair\"><div>{3}<p class=\"legend\"><span style=\"background:{4}\"></span>"
      "reference <span style=\"background:{5}\"></span> current (share of non-missing "
      "values)</p></div><dl>{6}</dl></div></section>\n",
      EscapeMarkup(c.column), c.drifted ? "drift" : "ok", c.drifted ? "drift" : "no drift",
      ChartSvg(chart), kReferenceColor, kCurrentColor, details);
}

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h3 { margin-bottom: 4px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; }
th { background: #f4f4f4; }
.drift { color: #b00020; font-weight: bold; }
.ok { color: #1b7f3b; }
.muted { color: #888; }
.summary { font-size: 15px; }
.pair { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; font-size: 13px; }
dt { color: #555; } dd { margin: 0; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
section.column { border-top: 1px solid #eee; padding-top: 8px; }
)";

}  // namespace

DistributionChart CompareDistributions(const data::ColumnProfile& reference,
                                       const data::ColumnProfile& current, int bins,
                                       int categories) {
  const bool numeric = data::IsNumeric(reference.type) && data::IsNumeric(current.type);
  return numeric ? NumericChart(reference, current, std::max(1, bins))
                 : CategoricalChart(reference, current, std::max(1, categories));
}

BatchDriftReport BuildBatchDriftReport(const data::DatasetProfile& reference,
                                       const data::DatasetProfile& current,
                                       const BatchDriftOptions& options) {
  data::DatasetProfile ref = reference;
  data::DatasetProfile cur = current;
  if (!options.columns.empty()) {
    std::vector<std::string> absent;
    for (const std::string& name : options.columns) {
      if (reference.Find(name) == nullptr || current.Find(name) == nullptr) absent.push_back(name);
    }
    if (!absent.empty()) {
      throw Error(ErrorCode::kInvalidParameterValue,
                  "Selected columns not in both the reference and the current data: " +
                      Join(absent) + " (the reference has " + Join(Names(reference)) +
                      "; the current data has " + Join(Names(current)) + ")");
    }
    ref = Select(reference, options.columns);
    cur = Select(current, options.columns);
  }
  BatchDriftReport report;
  report.reference_name = options.reference_name;
  report.current_name = options.current_name;
  report.reference_rows = reference.row_count;
  report.current_rows = current.row_count;
  report.options = options.drift;
  report.drift = data::DatasetDrift(ref, cur, options.drift);
  if (report.drift.columns.empty()) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "No common columns to compare: the reference (" + options.reference_name +
                    ") has " + Join(Names(reference)) + "; the current data (" +
                    options.current_name + ") has " + Join(Names(current)));
  }
  for (const data::ColumnDrift& c : report.drift.columns) {
    report.charts.push_back(CompareDistributions(*ref.Find(c.column), *cur.Find(c.column),
                                                 options.chart_bins, options.chart_categories));
  }
  return report;
}

json BatchDriftReport::ToJson() const {
  json out = drift.ToJson();
  json& columns = out["columns"];
  for (size_t i = 0; i < charts.size() && i < columns.size(); ++i) {
    columns[i]["distribution"] = {{"kind", charts[i].numeric ? "bins" : "categories"},
                                  {"labels", charts[i].labels},
                                  {"reference", charts[i].reference},
                                  {"current", charts[i].current}};
  }
  out["reference"] = {{"source", reference_name}, {"rows", reference_rows}};
  out["current"] = {{"source", current_name}, {"rows", current_rows}};
  json per_column = json::object();
  for (const auto& [name, t] : options.columns) per_column[name] = ThresholdJson(t);
  out["thresholds"] = {{"numeric", ThresholdJson(options.numeric)},
                       {"categorical", ThresholdJson(options.categorical)},
                       {"columns", per_column},
                       {"few_values", options.few_values},
                       {"dataset_drift_share", options.dataset_drift_share}};
  if (options.missing_rate_threshold) {
    out["thresholds"]["missing_rate"] = *options.missing_rate_threshold;
  }
  return out;
}

std::string BatchDriftReport::ToHtml() const {
  const size_t compared = drift.columns.size();
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>Drift: " +
      EscapeMarkup(reference_name) + " → " + EscapeMarkup(current_name) + "</title><style>" +
      kStyle + "</style></head><body>\n";
  html += "<h1>Data drift: " + EscapeMarkup(reference_name) + " → " + EscapeMarkup(current_name) +
          "</h1>\n";
  html += fmt::format(
      "<p class=\"summary\"><span class=\"{}\">{} of {} columns drifted</span>; dataset drift: "
      "<b>{}</b> (when at least {} of the columns drift).</p>\n",
      drift.drifted_count > 0 ? "drift" : "ok", drift.drifted_count, compared,
      drift.dataset_drift ? "yes" : "no", Percent(drift.dataset_drift_share));
  html += fmt::format(
      "<p>Reference: {} ({} rows). Current: {} ({} rows). Thresholds: numeric {} ≥ {}, "
      "categorical {} ≥ {}{}.</p>\n",
      EscapeMarkup(reference_name), reference_rows, EscapeMarkup(current_name), current_rows,
      data::DriftStatisticName(options.numeric.statistic), Number(options.numeric.threshold),
      data::DriftStatisticName(options.categorical.statistic),
      Number(options.categorical.threshold),
      options.columns.empty() ? "" : fmt::format(", {} per-column", options.columns.size()));
  if (!drift.only_in_reference.empty() || !drift.only_in_current.empty()) {
    html += "<p class=\"muted\">Not compared: only in the reference " +
            EscapeMarkup(Join(drift.only_in_reference)) + "; only in the current data " +
            EscapeMarkup(Join(drift.only_in_current)) + ".</p>\n";
  }
  html +=
      "<table><tr><th>column</th><th>kind</th><th>decision</th><th>by</th><th>value</th>"
      "<th>threshold</th><th>Wasserstein (normed)</th><th>PSI</th><th>JS</th><th>KS D</th>"
      "<th>chi² p</th><th>missing</th></tr>\n";
  for (const data::ColumnDrift& c : drift.columns) html += ColumnRow(c);
  html += "</table>\n<h2>Distributions</h2>\n";
  for (size_t i = 0; i < drift.columns.size() && i < charts.size(); ++i) {
    html += ColumnSection(drift.columns[i], charts[i]);
  }
  html +=
      "<p class=\"muted\">Statistics are computed from the profiles' sketches (docs/monitoring.md "
      "states their errors); decisions use effect sizes, never p-values.</p>\n</body></html>\n";
  return html;
}

}  // namespace slipway::monitoring
