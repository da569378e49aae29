// The recent past of a deployment's traffic, for charts: every
// ServingService::kRateSampleInterval the server samples each serving
// version's counters (RateWindow::Sample), and what each version did in
// that interval (requests, errors and rows per second, latency p50/p99)
// becomes one RateSample here.
//
// A RateHistory keeps the newest `capacity` samples (by default an hour of
// 5-second samples) in memory, oldest first; older ones are dropped, and
// the history starts empty after a restart. Samples stay ordered by time:
// one stamped before its predecessor (the wall clock stepped back) takes
// its predecessor's time + 1 ms.
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "serving/servable.h"

namespace slipway::serving {

// What one version did in one sample's interval.
struct VersionRates {
  std::string role;  // "primary", "canary", "shadow"
  std::string model_name;
  std::string version;
  RateWindow::Recent rates;  // `seconds` is the interval's length
};

struct RateSample {
  int64_t time_ms = 0;                 // end of the interval, ms since the epoch
  std::vector<VersionRates> versions;  // those that served through it
};

class RateHistory {
 public:
  static constexpr size_t kDefaultCapacity = 720;

  explicit RateHistory(size_t capacity = kDefaultCapacity);

  void Append(RateSample sample);
  // The samples stamped after `since_ms`, oldest first.
  std::vector<RateSample> Since(int64_t since_ms) const;
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<RateSample> samples_;  // guarded by mu_; oldest first, at most capacity_
};

}  // namespace slipway::serving
