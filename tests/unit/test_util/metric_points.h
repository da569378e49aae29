// Helpers shared by the unit tests.
#pragma once

#include <cstdint>
#include <string>

#include "tracking/entities.h"

namespace slipway::testing {

// A metric point with only the fields most tests care about.
inline tracking::MetricPoint Point(const std::string& key, double value, int64_t timestamp,
                                   int64_t step) {
  tracking::MetricPoint point;
  point.key = key;
  point.value = value;
  point.timestamp = timestamp;
  point.step = step;
  return point;
}

}  // namespace slipway::testing
