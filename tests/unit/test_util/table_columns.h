// Training tables' columns written in tests: numbers (NaN for missing) and
// texts (empty for missing), coded as training's CSV reading codes them.
#pragma once

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "training/table.h"

namespace slipway::testing {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

inline training::TableColumn Numeric(std::string name, std::vector<double> values,
                                     bool boolean = false) {
  return {std::move(name), false, boolean, std::move(values), {}};
}

// Codes in order of first appearance, as training::ReadTable assigns them.
inline training::TableColumn Text(std::string name, const std::vector<std::string>& values) {
  training::TableColumn c{std::move(name), true, false, {}, {}};
  for (const std::string& v : values) {
    if (v.empty()) {
      c.values.push_back(kNaN);
      continue;
    }
    auto it = std::find(c.categories.begin(), c.categories.end(), v);
    if (it == c.categories.end()) it = c.categories.insert(c.categories.end(), v);
    c.values.push_back(static_cast<double>(it - c.categories.begin()));
  }
  return c;
}

}  // namespace slipway::testing
