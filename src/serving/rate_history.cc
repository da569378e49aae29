#include "serving/rate_history.h"

#include <algorithm>

namespace slipway::serving {

RateHistory::RateHistory(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

void RateHistory::Append(RateSample sample) {
  std::lock_guard lock(mu_);
  if (!samples_.empty() && sample.time_ms <= samples_.back().time_ms) {
    sample.time_ms = samples_.back().time_ms + 1;
  }
  samples_.push_back(std::move(sample));
  while (samples_.size() > capacity_) samples_.pop_front();
}

std::vector<RateSample> RateHistory::Since(int64_t since_ms) const {
  std::lock_guard lock(mu_);
  auto first = std::upper_bound(
      samples_.begin(), samples_.end(), since_ms,
      [](int64_t since, const RateSample& sample) { return since < sample.time_ms; });
  return {first, samples_.end()};
}

}  // namespace slipway::serving
