#include "training/search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
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

constexpr double kPi = 3.14159265358979323846;

// log(Phi(b) - Phi(a)) for a < b, the standard normal's mass between them,
// each side from the tail it lies in so that a far tail keeps its digits;
// at least log(1e-300) when the mass underflows (a far component's term,
// which the prior's outweighs in the mixture).
double LogGaussMass(double a, double b) {
  const double r = 1.0 / std::sqrt(2.0);
  double mass;
  if (a >= 0) {
    mass = 0.5 * (std::erfc(a * r) - std::erfc(b * r));
  } else if (b <= 0) {
    mass = 0.5 * (std::erfc(-b * r) - std::erfc(-a * r));
  } else {
    mass = 1.0 - 0.5 * std::erfc(-a * r) - 0.5 * std::erfc(b * r);
  }
  return std::log(std::max(mass, 1e-300));
}

double Gaussian(SplitMix64& rng) {
  // Box-Muller; 1 - Unit() is in (0, 1].
  const double u = 1.0 - rng.Unit(), v = rng.Unit();
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * kPi * v);
}

// TPE's density of a set of observations (the best, or the rest): a
// mixture with one component per observation and a prior, each component a
// product over the space's dimensions. It follows Optuna's _ParzenEstimator
// (optuna 5.1.0, optuna/samplers/_tpe/parzen_estimator.py and
// probability_distributions.py, the defaults TPESampler() uses):
//
// - numeric: a Gaussian at the observation, truncated to the range; in log
//   space for log_uniform; for int on [low - 0.5, high + 0.5], and an int's
//   density is the mass of its bin [v - 0.5, v + 0.5] over the range's mass
//   (Optuna's _BatchedDiscreteTruncNormDistributions), not the curve's
//   height at v.
// - widths: the larger gap to the neighbouring observations, the range's
//   ends counting as neighbours except for the lowest and highest
//   observation when there are two or more (consider_endpoints=False),
//   clipped to [range / min(100, n + 2), range] (the magic clip: n + 1
//   kernels with the prior, plus one).
// - prior: one more component, at the middle of the range with the range's
//   width; a choice's prior is 1/k for each of its k values.
// - choice: the observed value gets weight 1 + 1/(n + 1) and every value
//   1/(n + 1) (prior_weight over the n + 1 kernels), normalised, so the
//   kernels sharpen as observations accumulate.
// - component weights: 1 each (the prior too); from 25 observations on,
//   the oldest n - 25 ramp linearly from 1/n up to 1 (default_weights),
//   then all are normalised.
class Mixture {
 public:
  Mixture(const std::vector<SearchDimension>& space, const std::vector<const Params*>& points)
      : space_(space) {
    const size_t n = points.size();
    weights_.assign(n + 1, 1.0);
    if (n >= 25) {
      const size_t ramp = n - 25;  // the oldest, from 1/n up to 1 (exclusive of the flat part)
      for (size_t i = 0; i < ramp; ++i) {
        weights_[i] = ramp == 1 ? 1.0 / static_cast<double>(n)
                                : 1.0 / static_cast<double>(n) +
                                      (1.0 - 1.0 / static_cast<double>(n)) *
                                          static_cast<double>(i) / static_cast<double>(ramp - 1);
      }
    }
    double sum = 0;
    for (double w : weights_) sum += w;
    for (double& w : weights_) w /= sum;
    for (const SearchDimension& d : space) {
      Dimension dim;
      if (d.kind == SearchDimension::Kind::kChoice) {
        const size_t k = d.choices.size();
        const double prior = 1.0 / static_cast<double>(n + 1);  // prior_weight / kernels
        dim.choice_weights.assign(n, std::vector<double>(k, prior));
        dim.choice_weights.emplace_back(k, 1.0 / static_cast<double>(k));
        for (size_t i = 0; i < n; ++i) {
          const ParamValue& v = points[i]->at(d.name);
          for (size_t c = 0; c < k; ++c)
            if (d.choices[c] == v) dim.choice_weights[i][c] += 1;
          double sum = 0;
          for (double w : dim.choice_weights[i]) sum += w;
          for (double& w : dim.choice_weights[i]) w /= sum;
        }
        dims_.push_back(std::move(dim));
        continue;
      }
      dim.log = d.kind == SearchDimension::Kind::kLogUniform;
      dim.integer = d.kind == SearchDimension::Kind::kInt;
      dim.low = dim.integer ? d.low - 0.5 : dim.log ? std::log(d.low) : d.low;
      dim.high = dim.integer ? d.high + 0.5 : dim.log ? std::log(d.high) : d.high;
      const double range = std::max(dim.high - dim.low, 1e-12);
      for (size_t i = 0; i < n; ++i) {
        const double v = std::get<double>(points[i]->at(d.name));
        dim.mus.push_back(dim.log ? std::log(v) : v);
      }
      // Widths: the larger gap to the neighbours, sorted with the ends.
      std::vector<size_t> order(n);
      std::iota(order.begin(), order.end(), size_t{0});
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return dim.mus[a] < dim.mus[b]; });
      std::vector<double> sorted = {dim.low};
      for (size_t i : order) sorted.push_back(dim.mus[i]);
      sorted.push_back(dim.high);
      std::vector<double> sigma_sorted(n);
      for (size_t j = 0; j < n; ++j)
        sigma_sorted[j] = std::max(sorted[j + 1] - sorted[j], sorted[j + 2] - sorted[j + 1]);
      if (n >= 2) {
        sigma_sorted[0] = sorted[2] - sorted[1];
        sigma_sorted[n - 1] = sorted[n] - sorted[n - 1];
      }
      const double min_sigma = range / std::min(100.0, static_cast<double>(n) + 2);
      dim.sigmas.resize(n);
      for (size_t j = 0; j < n; ++j)
        dim.sigmas[order[j]] = std::clamp(sigma_sorted[j], min_sigma, range);
      dim.mus.push_back((dim.low + dim.high) / 2);
      dim.sigmas.push_back(range);
      dims_.push_back(std::move(dim));
    }
  }

  // One draw: a component by weight, then each dimension from it.
  Params Sample(SplitMix64& rng) const {
    double u = rng.Unit();
    size_t c = 0;
    while (c + 1 < weights_.size() && u >= weights_[c]) u -= weights_[c++];
    Params params;
    for (size_t j = 0; j < space_.size(); ++j) {
      const SearchDimension& d = space_[j];
      const Dimension& dim = dims_[j];
      if (d.kind == SearchDimension::Kind::kChoice) {
        double v = rng.Unit();
        size_t k = 0;
        const auto& w = dim.choice_weights[c];
        while (k + 1 < w.size() && v >= w[k]) v -= w[k++];
        params[d.name] = d.choices[k];
        continue;
      }
      double x = std::clamp(dim.mus[c], dim.low, dim.high);
      for (int attempt = 0; attempt < 100; ++attempt) {
        const double draw = dim.mus[c] + dim.sigmas[c] * Gaussian(rng);
        if (draw >= dim.low && draw <= dim.high) {
          x = draw;
          break;
        }
      }
      const double value = dim.integer ? std::round(x) : dim.log ? std::exp(x) : x;
      params[d.name] = std::clamp(value, d.low, d.high);
    }
    return params;
  }

  // The log density of `params` (in the space's transformed coordinates).
  double LogDensity(const Params& params) const {
    std::vector<double> terms(weights_.size());
    for (size_t c = 0; c < weights_.size(); ++c) terms[c] = std::log(weights_[c]);
    for (size_t j = 0; j < space_.size(); ++j) {
      const SearchDimension& d = space_[j];
      const Dimension& dim = dims_[j];
      const ParamValue& value = params.at(d.name);
      if (d.kind == SearchDimension::Kind::kChoice) {
        const size_t k = static_cast<size_t>(std::find(d.choices.begin(), d.choices.end(), value) -
                                             d.choices.begin());
        for (size_t c = 0; c < terms.size(); ++c)
          terms[c] += std::log(dim.choice_weights[c][std::min(k, d.choices.size() - 1)]);
        continue;
      }
      const double v = std::get<double>(value);
      const double x = dim.log ? std::log(v) : v;
      for (size_t c = 0; c < terms.size(); ++c) {
        const double mu = dim.mus[c], sigma = dim.sigmas[c];
        const double range_mass = LogGaussMass((dim.low - mu) / sigma, (dim.high - mu) / sigma);
        if (dim.integer) {
          terms[c] += LogGaussMass((x - 0.5 - mu) / sigma, (x + 0.5 - mu) / sigma) - range_mass;
        } else {
          const double z = (x - mu) / sigma;
          terms[c] += -0.5 * z * z - std::log(sigma * std::sqrt(2 * kPi)) - range_mass;
        }
      }
    }
    const double top = *std::max_element(terms.begin(), terms.end());
    double sum = 0;
    for (double t : terms) sum += std::exp(t - top);
    return top + std::log(sum);
  }

 private:
  struct Dimension {
    bool log = false, integer = false;
    double low = 0, high = 0;
    std::vector<double> mus, sigmas;                  // numeric: per component (the prior last)
    std::vector<std::vector<double>> choice_weights;  // choice: per component, per value
  };
  const std::vector<SearchDimension>& space_;
  std::vector<double> weights_;  // per component, the prior last; sum 1
  std::vector<Dimension> dims_;  // as space_
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

// SampleTpe against Optuna 5.1.0's TPESampler() for one objective (the
// defaults bench/training gives it). The same: 10 startup trials of random
// search; gamma min(ceil(0.1 n), 25) of the n finished trials, running ones
// not counted; the best and the rest each a Mixture (above), the running
// trials among the rest (constant_liar=True, Optuna 5's default); one joint
// (multivariate) density over all dimensions; 24 candidates drawn from the
// best's density, the first with the highest log l - log g wins; ties in the
// ranking of scores go to the older trial. Where it departs, on purpose:
// - failed trials (NaN score) count as finished with the worst score (among
//   the rest, and towards the startup and gamma); Optuna leaves FAIL trials
//   out of TPE altogether. Slipway keeps proposals away from params that
//   fail.
// - random numbers: one SplitMix64 stream per (seed, trial), so parallel and
//   resumed sessions propose the same params; Optuna draws every proposal
//   from one numpy RandomState in order (and startup trials from a second).
//   Same distributions, other draws.
// - a truncated Gaussian is drawn by rejection (100 tries, then the
//   component's centre; with the centre in range a try lands in range with
//   probability >= 0.34), Optuna's by inverting the CDF: the same
//   distribution.
// - a component's mass underflowing 1e-300 counts as 1e-300 (LogGaussMass);
//   Optuna keeps deep tails exact in log space. Only components that the
//   prior's term outweighs in the sum are affected.
// - observations with equal values get their widths in trial order (a
//   stable sort); Optuna's np.argsort (quicksort) leaves the order of ties
//   to the sort. Which of two equal observations gets the wider kernel is
//   arbitrary either way; the test ParzenDensityMatchesOptunas shows the
//   densities are Optuna's with a stable argsort.
// - no pruned trials: Optuna ranks PRUNED trials after the complete ones by
//   their last intermediate value; Slipway's TPE does not prune (successive
//   halving uses random search).
Params SampleTpe(const std::vector<SearchDimension>& space, uint64_t seed, int64_t trial,
                 const std::vector<Observation>& history, bool greater_is_better) {
  auto complete = [&](const Params& p) {
    return std::all_of(space.begin(), space.end(),
                       [&](const SearchDimension& d) { return p.count(d.name) > 0; });
  };
  std::vector<double> scores;
  std::vector<size_t> finished;  // indices into history
  for (size_t i = 0; i < history.size(); ++i) {
    if (history[i].pending || !complete(history[i].params)) continue;
    finished.push_back(i);
    scores.push_back(history[i].score);
  }
  if (finished.size() < kTpeStartupTrials) return SampleParams(space, seed, trial);
  const size_t n_below = std::min<size_t>(
      25, static_cast<size_t>(std::ceil(0.1 * static_cast<double>(finished.size()))));
  const std::vector<size_t> order = Survivors(scores, finished.size(), greater_is_better);
  std::vector<bool> below(history.size(), false);  // pending ones stay above
  for (size_t i = 0; i < n_below; ++i) below[finished[order[i]]] = true;
  std::vector<const Params*> good, bad;  // in trial order
  for (size_t i = 0; i < history.size(); ++i) {
    if (!complete(history[i].params)) continue;
    (below[i] ? good : bad).push_back(&history[i].params);
  }
  const Mixture l(space, good), g(space, bad);

  SplitMix64 mix(seed ^ (0xa0761d6478bd642fULL * static_cast<uint64_t>(trial + 1)));
  SplitMix64 rng(mix.Next());
  constexpr int kCandidates = 24;
  Params best;
  double best_gain = -std::numeric_limits<double>::infinity();
  for (int n = 0; n < kCandidates; ++n) {
    Params candidate = l.Sample(rng);
    const double gain = l.LogDensity(candidate) - g.LogDensity(candidate);
    if (best.empty() || gain > best_gain) {
      best_gain = gain;
      best = std::move(candidate);
    }
  }
  return best;
}

double TpeLogDensity(const std::vector<SearchDimension>& space, const std::vector<Params>& points,
                     const Params& params) {
  std::vector<const Params*> pointers;
  for (const Params& p : points) pointers.push_back(&p);
  return Mixture(space, pointers).LogDensity(params);
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
