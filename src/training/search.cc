#include "training/search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
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

double Gaussian(SplitMix64& rng) {
  // Box-Muller; 1 - Unit() is in (0, 1].
  const double u = 1.0 - rng.Unit(), v = rng.Unit();
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * 3.14159265358979323846 * v);
}

// A Parzen density on [low, high]: Gaussians at `points` and a prior at the
// middle with the range's width, equally weighted; each Gaussian's width
// from the range and the count (Scott's rule on the range).
struct Parzen {
  double low = 0, high = 0;
  std::vector<double> mus;
  std::vector<double> sigmas;

  Parzen(double lo, double hi, const std::vector<double>& points) : low(lo), high(hi) {
    const double range = std::max(hi - lo, 1e-12);
    const double sigma =
        std::max(range * std::pow(static_cast<double>(points.size() + 1), -0.2) * 0.5, range / 100);
    mus = points;
    sigmas.assign(points.size(), sigma);
    mus.push_back((lo + hi) / 2);
    sigmas.push_back(range);
  }

  double Sample(SplitMix64& rng) const {
    const size_t k = std::min(mus.size() - 1, static_cast<size_t>(rng.Unit() * mus.size()));
    for (int attempt = 0; attempt < 100; ++attempt) {
      const double x = mus[k] + sigmas[k] * Gaussian(rng);
      if (x >= low && x <= high) return x;
    }
    return std::clamp(mus[k], low, high);
  }

  double LogDensity(double x) const {
    double sum = 0;
    for (size_t i = 0; i < mus.size(); ++i) {
      const double z = (x - mus[i]) / sigmas[i];
      sum += std::exp(-0.5 * z * z) / sigmas[i];
    }
    return std::log(sum / static_cast<double>(mus.size()) + 1e-300);
  }
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

Params SampleTpe(const std::vector<SearchDimension>& space, uint64_t seed, int64_t trial,
                 const std::vector<Observation>& history, bool greater_is_better) {
  std::vector<double> scores;
  std::vector<size_t> finished;  // indices into history
  for (size_t i = 0; i < history.size(); ++i) {
    if (history[i].pending) continue;
    finished.push_back(i);
    scores.push_back(history[i].score);
  }
  if (finished.size() < kTpeStartupTrials) return SampleParams(space, seed, trial);
  const size_t n_below = std::min<size_t>(
      25, static_cast<size_t>(std::ceil(0.1 * static_cast<double>(finished.size()))));
  const std::vector<size_t> order = Survivors(scores, finished.size(), greater_is_better);
  std::vector<bool> below(history.size(), false);  // pending ones stay above
  for (size_t i = 0; i < n_below; ++i) below[finished[order[i]]] = true;

  SplitMix64 mix(seed ^ (0xa0761d6478bd642fULL * static_cast<uint64_t>(trial + 1)));
  SplitMix64 rng(mix.Next());
  constexpr int kCandidates = 24;
  Params params;
  for (const SearchDimension& d : space) {
    if (d.kind == SearchDimension::Kind::kChoice) {
      const size_t k = d.choices.size();
      std::vector<double> good(k, 1.0), bad(k, 1.0);  // a prior of one per value
      for (size_t i = 0; i < history.size(); ++i) {
        const auto found = history[i].params.find(d.name);
        if (found == history[i].params.end()) continue;
        for (size_t c = 0; c < k; ++c) {
          if (d.choices[c] == found->second) (below[i] ? good : bad)[c] += 1;
        }
      }
      double good_sum = 0, bad_sum = 0;
      for (size_t c = 0; c < k; ++c) good_sum += good[c], bad_sum += bad[c];
      size_t best = 0;
      double best_ratio = -1;
      for (int n = 0; n < kCandidates; ++n) {
        double u = rng.Unit() * good_sum;
        size_t c = 0;
        while (c + 1 < k && u >= good[c]) u -= good[c++];
        const double ratio = (good[c] / good_sum) / (bad[c] / bad_sum);
        if (ratio > best_ratio) best_ratio = ratio, best = c;
      }
      params[d.name] = d.choices[best];
      continue;
    }
    const bool log = d.kind == SearchDimension::Kind::kLogUniform;
    const bool integer = d.kind == SearchDimension::Kind::kInt;
    auto to = [&](double v) { return log ? std::log(v) : v; };
    const double lo = integer ? d.low - 0.5 : to(d.low);
    const double hi = integer ? d.high + 0.5 : to(d.high);
    std::vector<double> good_points, bad_points;
    for (size_t i = 0; i < history.size(); ++i) {
      const auto found = history[i].params.find(d.name);
      if (found == history[i].params.end() || !std::holds_alternative<double>(found->second))
        continue;
      (below[i] ? good_points : bad_points).push_back(to(std::get<double>(found->second)));
    }
    const Parzen good(lo, hi, good_points), bad(lo, hi, bad_points);
    double best = good.Sample(rng);
    double best_gain = good.LogDensity(best) - bad.LogDensity(best);
    for (int n = 1; n < kCandidates; ++n) {
      const double x = good.Sample(rng);
      const double gain = good.LogDensity(x) - bad.LogDensity(x);
      if (gain > best_gain) best_gain = gain, best = x;
    }
    double value = integer ? std::round(best) : log ? std::exp(best) : best;
    params[d.name] = std::clamp(value, d.low, d.high);
  }
  return params;
}

std::string ParamValueText(const ParamValue& value) {
  return std::holds_alternative<double>(value) ? fmt::format("{}", std::get<double>(value))
                                               : std::get<std::string>(value);
}

Params ParseParams(const std::vector<SearchDimension>& space,
                   const std::map<std::string, std::string>& text, const std::string& prefix) {
  Params params;
  for (const SearchDimension& d : space) {
    const auto found = text.find(prefix + d.name);
    if (found == text.end()) return {};
    if (d.kind == SearchDimension::Kind::kChoice) {
      const auto choice =
          std::find_if(d.choices.begin(), d.choices.end(),
                       [&](const ParamValue& c) { return ParamValueText(c) == found->second; });
      if (choice == d.choices.end()) return {};
      params[d.name] = *choice;
      continue;
    }
    char* end = nullptr;
    const double value = std::strtod(found->second.c_str(), &end);
    if (found->second.empty() || *end != '\0' || !(value >= d.low && value <= d.high)) return {};
    params[d.name] = value;
  }
  return params;
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
