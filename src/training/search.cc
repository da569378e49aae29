#include "training/search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace slipway::training {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): the state advances by a constant,
// the output is a bijective mix of it.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // A real in [0, 1) with 53 random bits.
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace

Params SampleParams(const std::vector<SearchDimension>& space, uint64_t seed, int64_t trial) {
  // A stream per trial: the seed and the trial's number mixed, so trial 7
  // does not depend on trials 0..6.
  SplitMix64 mix(seed ^ (0xd1b54a32d192ed03ULL * static_cast<uint64_t>(trial + 1)));
  SplitMix64 rng(mix.Next());
  Params params;
  for (const SearchDimension& d : space) {
    const double u = rng.Unit();
    switch (d.kind) {
      case SearchDimension::Kind::kInt: {
        const double span = d.high - d.low + 1;
        params[d.name] = std::min(d.high, d.low + std::floor(u * span));
        break;
      }
      case SearchDimension::Kind::kUniform:
        params[d.name] = std::min(d.high, d.low + u * (d.high - d.low));
        break;
      case SearchDimension::Kind::kLogUniform: {
        const double lo = std::log(d.low), hi = std::log(d.high);
        params[d.name] = std::clamp(std::exp(lo + u * (hi - lo)), d.low, d.high);
        break;
      }
      case SearchDimension::Kind::kChoice: {
        const size_t i = std::min(d.choices.size() - 1,
                                  static_cast<size_t>(u * static_cast<double>(d.choices.size())));
        params[d.name] = d.choices[i];
        break;
      }
    }
  }
  return params;
}

std::string ParamValueText(const ParamValue& value) {
  return std::holds_alternative<double>(value) ? fmt::format("{}", std::get<double>(value))
                                               : std::get<std::string>(value);
}

std::vector<Rung> HalvingRungs(int64_t trials, int64_t eta, int64_t min_resource,
                               int64_t max_resource) {
  eta = std::max<int64_t>(2, eta);
  min_resource = std::max<int64_t>(1, std::min(min_resource, max_resource));
  // From the last rung back: one rung per factor eta of resource and trials.
  std::vector<Rung> rungs;
  int64_t resource = max_resource;
  int64_t survivors = std::max<int64_t>(1, trials);
  // How many rungs: while a rung before still has >= eta trials' worth and
  // its resource stays at or above min_resource.
  int64_t count = 1;
  {
    int64_t t = trials, r = max_resource;
    while (t / eta >= 1 && r / eta >= min_resource) {
      t /= eta;
      r /= eta;
      ++count;
    }
  }
  for (int64_t i = 0; i < count; ++i) {
    rungs.push_back({survivors, 0});
    survivors = std::max<int64_t>(1, survivors / eta);
  }
  for (int64_t i = count - 1; i >= 0; --i) {
    rungs[static_cast<size_t>(i)].resource = std::max(min_resource, resource);
    resource /= eta;
  }
  return rungs;
}

std::vector<size_t> Survivors(const std::vector<double>& scores, size_t keep,
                              bool greater_is_better) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const double x = scores[a], y = scores[b];
    if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
    return greater_is_better ? x > y : x < y;
  });
  order.resize(std::min(keep, order.size()));
  return order;
}

}  // namespace slipway::training
