// Timing of the native tree evaluator against XGBoost's own predictor, in
// process, on one core: the part of a 1000-row request that is neither HTTP
// nor parsing.
//
// The anchor is XGBoosterPredictFromDense (Debian's libxgboost, the C API of
// Booster.inplace_predict) with nthread=1 on the same model file and the same
// rows, so the ratio says whether compiling the trees pays. Build and run:
//
//   cmake --build build --target tree_timing
//   build/tests/unit/tree_timing MODEL_FILE [ROWS [native]]
//
// MODEL_FILE is an XGBoost model (JSON or UBJSON), e.g. the model.ubj that
// bench/serving/run.py saves under its work folder. Rows are drawn from a
// seeded normal distribution; 5% are missing (NaN). Prints the nanoseconds
// per row and tree of each, their ratio, and the largest difference of the
// margins (they must agree to float rounding).
#include <time.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ml/xgboost_model.h"

namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void Check(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "%s: %s\n", what, XGBGetLastError());
    std::exit(1);
  }
}

// The calling thread's CPU time in seconds: other work on shared cores does
// not count (it still costs caches).
double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Best of 5 rounds, each repeating `fn` for at least 0.3 s of CPU; seconds
// of CPU per call.
double BestSeconds(const std::function<void()>& fn) {
  double best = std::numeric_limits<double>::infinity();
  for (int round = 0; round < 5; ++round) {
    const double start = CpuSeconds();
    int calls = 0;
    double elapsed = 0;
    do {
      fn();
      ++calls;
      elapsed = CpuSeconds() - start;
    } while (elapsed < 0.3);
    best = std::min(best, elapsed / calls);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_FILE [ROWS]\n", argv[0]);
    return 2;
  }
  const std::string bytes = ReadFile(argv[1]);
  const size_t rows = argc > 2 ? std::stoul(argv[2]) : 1000;
  auto parsed = slipway::ml::ParseXGBoostModel(bytes, "xgboost.core.Booster");
  const auto& ensemble = *parsed.ensemble;
  const size_t features = ensemble.num_features();
  const size_t outputs = ensemble.num_outputs();

  std::mt19937_64 rng(20261206);
  std::normal_distribution<double> normal;
  std::bernoulli_distribution missing(0.05);
  std::vector<double> values(rows * features);
  std::vector<float> values32(rows * features);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = missing(rng) ? std::nan("") : normal(rng);
    values32[i] = static_cast<float>(values[i]);
  }

  std::vector<double> ours(rows * outputs);
  const double native = BestSeconds(
      [&] { ensemble.Predict(values.data(), rows, features, ours.data(), /*margin=*/true); });

  if (argc > 3 && std::string(argv[3]) == "native") {  // for perf stat: no anchor
    std::printf("%.2f ns per row and tree\n", native * 1e9 / (rows * ensemble.num_trees()));
    return 0;
  }
  BoosterHandle booster = nullptr;
  Check(XGBoosterCreate(nullptr, 0, &booster), "XGBoosterCreate");
  Check(XGBoosterLoadModelFromBuffer(booster, bytes.data(), bytes.size()), "load model");
  Check(XGBoosterSetParam(booster, "nthread", "1"), "nthread");
  char array[256];
  std::snprintf(array, sizeof array,
                "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
                "\"version\": 3}",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(values32.data())), rows,
                features);
  const char* config =
      "{\"type\": 1, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
      "\"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}";
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* theirs = nullptr;
  auto predict = [&] {
    Check(XGBoosterPredictFromDense(booster, array, config, nullptr, &shape, &dims, &theirs),
          "predict");
  };
  const double reference = BestSeconds(predict);
  predict();
  // XGBoost before 2.0 reads a newer model's base score differently (a
  // constant offset of every margin), so the margins are compared after
  // taking out their mean difference, and the offset is printed.
  double offset = 0;
  for (size_t i = 0; i < rows * outputs; ++i) offset += ours[i] - static_cast<double>(theirs[i]);
  offset /= static_cast<double>(rows * outputs);
  double max_diff = 0;
  for (size_t i = 0; i < rows * outputs; ++i)
    max_diff = std::max(max_diff, std::abs(ours[i] - static_cast<double>(theirs[i]) - offset));
  XGBoosterFree(booster);

  const double per = static_cast<double>(rows * ensemble.num_trees());
  std::printf("model: %zu trees, %zu features, %zu outputs; %zu rows, 5%% missing\n",
              ensemble.num_trees(), features, outputs, rows);
  std::printf("slipway TreeEnsemble::Predict   %7.2f ns per row and tree (%.0f rows/s)\n",
              native * 1e9 / per, rows / native);
  std::printf("xgboost PredictFromDense, 1 thr %7.2f ns per row and tree (%.0f rows/s)\n",
              reference * 1e9 / per, rows / reference);
  std::printf(
      "ratio (xgboost time / slipway time): %.2fx; max |margin diff| %.2e after a "
      "constant offset of %.3e\n",
      reference / native, max_diff, offset);
  return max_diff < 1e-4 ? 0 : 1;
}
