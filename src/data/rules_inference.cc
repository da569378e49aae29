// InferRules: a starting point for rules from a profile (see rules.h). A
// pure function of the profile and the options; thread-safe.
#include <algorithm>
#include <cmath>

#include "data/rules.h"

namespace slipway::data {

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

}  // namespace slipway::data
