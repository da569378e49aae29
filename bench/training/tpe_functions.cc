// Slipway's TPE (search.h, SampleTpe) on three test functions of
// bench/training's six-dimension space, with no XGBoost and no folds: the
// tuner alone, against Optuna's TPESampler on the same functions
// (tpe_functions.py). Prints "seed best" for seeds 1..SEEDS, TRIALS trials
// each, of function F (0: a separable quadratic, 1: Rosenbrock, 2:
// Rastrigin, each on the dimensions scaled to [0, 1], log scale where the
// space is). Built by hand against the build's object of search.cc:
//
//   g++ -std=c++20 -O2 -I src bench/training/tpe_functions.cc
//     build/src/training/CMakeFiles/slipway_training.dir/search.cc.o -lfmt -o tpe_functions
//   (one line)
//   ./tpe_functions F SEEDS TRIALS > slipway.txt
//   python3 bench/training/tpe_functions.py F SEEDS TRIALS > optuna.txt
//
// And one proposal from a fixed history, for seeds 1..K: the loss of each
// (the two tuners' proposal distributions, compared apart from their runs):
//
//   python3 bench/training/tpe_functions.py --next F N K HISTORY_SEED history.txt > optuna.txt
//   ./tpe_functions --next F history.txt K > slipway.txt
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "training/search.h"

using namespace slipway::training;

std::vector<SearchDimension> Space() {
  return {{"max_depth", SearchDimension::Kind::kInt, 2, 8, {}, {}},
          {"eta", SearchDimension::Kind::kLogUniform, 0.01, 0.3, {}, {}},
          {"subsample", SearchDimension::Kind::kUniform, 0.5, 1.0, {}, {}},
          {"colsample_bytree", SearchDimension::Kind::kUniform, 0.5, 1.0, {}, {}},
          {"min_child_weight", SearchDimension::Kind::kLogUniform, 0.5, 10.0, {}, {}},
          {"lambda", SearchDimension::Kind::kLogUniform, 0.01, 10.0, {}, {}}};
}

// The params scaled to [0, 1] (log scale for log_uniform), as tpe_functions.py.
std::vector<double> Unit(const Params& p) {
  std::vector<double> u;
  for (const SearchDimension& d : Space()) {
    const double v = std::get<double>(p.at(d.name));
    if (d.kind == SearchDimension::Kind::kLogUniform)
      u.push_back((std::log(v) - std::log(d.low)) / (std::log(d.high) - std::log(d.low)));
    else
      u.push_back((v - d.low) / (d.high - d.low));
  }
  return u;
}

double Loss(int f, const Params& p) {
  const std::vector<double> u = Unit(p);
  const double c[6] = {0.55, 0.3, 0.8, 0.35, 0.2, 0.7};
  const double w[6] = {3, 5, 1, 1, 0.5, 0.3};
  double s = 0;
  if (f == 0) {  // separable quadratic
    for (int i = 0; i < 6; ++i) s += w[i] * (u[i] - c[i]) * (u[i] - c[i]);
  } else if (f == 1) {  // Rosenbrock on the scaled coordinates
    for (int i = 0; i < 5; ++i) {
      const double a = 4 * u[i] - 2, b = 4 * u[i + 1] - 2;
      s += 100 * (b - a * a) * (b - a * a) + (1 - a) * (1 - a);
    }
  } else {  // multimodal: Rastrigin-like on the scaled coordinates
    for (int i = 0; i < 6; ++i) {
      const double x = 5.12 * (2 * u[i] - 1) - 1;
      s += x * x - 10 * std::cos(2 * M_PI * x) + 10;
    }
  }
  return s;
}

// HISTORY: one trial a line, the six params in Space()'s order and the
// loss. Prints the loss of trial N's proposal (N: the history's length) for
// seeds 1..K.
int Next(int f, const char* history_path, int k) {
  std::ifstream in(history_path);
  std::vector<Observation> history;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Params p;
    for (const SearchDimension& d : Space()) {
      double v = 0;
      fields >> v;
      p[d.name] = v;
    }
    double loss = 0;
    fields >> loss;
    history.push_back({p, loss});
  }
  const auto trial = static_cast<int64_t>(history.size());
  for (int seed = 1; seed <= k; ++seed)
    std::printf("%.10g\n",
                Loss(f, SampleTpe(Space(), static_cast<uint64_t>(seed), trial, history, false)));
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--next")
    return Next(std::atoi(argv[2]), argv[3], std::atoi(argv[4]));
  if (argc != 4) {
    std::fprintf(stderr, "usage: tpe_functions F SEEDS TRIALS | --next F HISTORY K\n");
    return 2;
  }
  const int f = std::atoi(argv[1]), seeds = std::atoi(argv[2]), trials = std::atoi(argv[3]);
  for (int seed = 1; seed <= seeds; ++seed) {
    std::vector<Observation> history;
    double best = 1e300;
    for (int t = 0; t < trials; ++t) {
      const Params p = SampleTpe(Space(), static_cast<uint64_t>(seed), t, history, false);
      const double l = Loss(f, p);
      history.push_back({p, l});
      best = std::min(best, l);
    }
    std::printf("%d %.10g\n", seed, best);
  }
}
