// XGBoost through its C API (see trainer.h).
#include <fmt/format.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>

#include "core/error.h"
#include "training/trainer.h"

namespace slipway::training {
namespace {

using nlohmann::json;

// Parameters the spec holds that are not the booster's own.
constexpr const char* kRounds = "num_boost_round";
constexpr const char* kEarlyStopping = "early_stopping_rounds";
constexpr double kDefaultRounds = 100;

void Check(int status, const char* what) {
  if (status != 0) {
    throw Error(ErrorCode::kInternalError, fmt::format("XGBoost: {}: {}", what, XGBGetLastError()));
  }
}

// XGBoost refuses feature names holding these.
std::string FeatureName(std::string name) {
  for (char& c : name)
    if (c == '[' || c == ']' || c == '<') c = '_';
  return name;
}

// The feature names and types ("q" numeric, "c" categorical) of XGBoost's
// feature info, for a DMatrix and for the booster (which saves them, so
// Python's booster.feature_names and serving see them).
class FeatureInfo {
 public:
  explicit FeatureInfo(const TrainerOptions& options) {
    for (size_t i = 0; i < options.feature_names.size(); ++i) {
      names_.push_back(FeatureName(options.feature_names[i]));
      types_.push_back(i < options.categorical.size() && options.categorical[i] ? "c" : "q");
    }
    for (const std::string& n : names_) name_ptrs_.push_back(n.c_str());
  }

  template <class Setter, class Handle>
  void ApplyTo(Setter set, Handle handle, size_t cols) {
    if (names_.size() != cols) return;
    Check(set(handle, "feature_name", name_ptrs_.data(), cols), "naming features");
    Check(set(handle, "feature_type", types_.data(), cols), "typing features");
  }

 private:
  std::vector<std::string> names_;
  std::vector<const char*> name_ptrs_;
  std::vector<const char*> types_;
};

class DMatrix {
 public:
  DMatrix(const Matrix& x, const TrainerOptions& options) {
    std::vector<float> values(x.values.begin(), x.values.end());
    Check(XGDMatrixCreateFromMat(values.data(), x.rows, x.cols,
                                 std::numeric_limits<float>::quiet_NaN(), &handle_),
          "creating a DMatrix");
    FeatureInfo(options).ApplyTo(XGDMatrixSetStrFeatureInfo, handle_, x.cols);
  }
  ~DMatrix() { XGDMatrixFree(handle_); }
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;

  DMatrixHandle get() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

class XgboostModel : public FittedModel {
 public:
  XgboostModel(BoosterHandle booster, const TrainerOptions& options)
      : booster_(booster), options_(options) {}
  ~XgboostModel() override { XGBoosterFree(booster_); }

  Matrix Predict(const Matrix& x) const override {
    DMatrix data(x, options_);
    Matrix out;
    out.rows = x.rows;
    out.cols = options_.task == Task::kMulticlass ? static_cast<size_t>(options_.classes) : 1;
    std::lock_guard<std::mutex> lock(mu_);
    bst_ulong length = 0;
    const float* result = nullptr;
    Check(XGBoosterPredict(booster_, data.get(), 0, 0, 0, &length, &result), "predicting");
    if (length != out.rows * out.cols) {
      throw Error(ErrorCode::kInternalError,
                  fmt::format("XGBoost predicted {} values for {} rows", length, x.rows));
    }
    out.values.assign(result, result + length);
    return out;
  }

  std::vector<ModelFile> Files() const override {
    std::lock_guard<std::mutex> lock(mu_);
    bst_ulong length = 0;
    const char* bytes = nullptr;
    Check(XGBoosterSaveModelToBuffer(booster_, R"({"format": "ubj"})", &length, &bytes),
          "saving the model");
    return {{"model.ubj", std::string(bytes, length)}};
  }

  int64_t Rounds() const override {
    std::lock_guard<std::mutex> lock(mu_);
    int rounds = 0;
    Check(XGBoosterBoostedRounds(booster_, &rounds), "counting rounds");
    return rounds;
  }

  json Flavors() const override {
    int major = 0, minor = 0, patch = 0;
    XGBoostVersion(&major, &minor, &patch);
    // What mlflow.xgboost.save_model writes, so mlflow.xgboost.load_model reads it.
    return {{"xgboost",
             {{"code", nullptr},
              {"data", "model.ubj"},
              {"model_class", "xgboost.core.Booster"},
              {"model_format", "ubj"},
              {"xgb_version", fmt::format("{}.{}.{}", major, minor, patch)}}}};
  }

 private:
  BoosterHandle booster_;
  TrainerOptions options_;
  // Guards booster_'s calls: the C API hands out buffers the booster owns
  // until its next call, so one call at a time.
  mutable std::mutex mu_;
};

BoosterHandle NewBooster(DMatrixHandle train) {
  BoosterHandle booster = nullptr;
  Check(XGBoosterCreate(train ? &train : nullptr, train ? 1 : 0, &booster), "creating a booster");
  return booster;
}

class XgboostTrainer : public Trainer {
 public:
  explicit XgboostTrainer(const TrainerOptions& options) : options_(options) {
    params_["objective"] = options.task == Task::kBinary       ? "binary:logistic"
                           : options.task == Task::kMulticlass ? "multi:softprob"
                                                               : "reg:squarederror";
    if (options.task == Task::kMulticlass) params_["num_class"] = std::to_string(options.classes);
    params_["seed"] = std::to_string(options.seed);
    params_["tree_method"] = "hist";
    params_["verbosity"] = "0";
    if (options.nthread > 0) params_["nthread"] = std::to_string(options.nthread);
    for (const auto& [name, value] : options.params) {
      if (name == kRounds || name == kEarlyStopping) {
        (name == kRounds ? rounds_ : stopping_) = static_cast<int>(std::get<double>(value));
        continue;
      }
      params_[name] = std::holds_alternative<std::string>(value)
                          ? std::get<std::string>(value)
                          : fmt::format("{}", std::get<double>(value));
    }
  }

  std::unique_ptr<FittedModel> Fit(const Matrix& x, std::span<const double> y,
                                   const EvalSet& eval) const override {
    if (stopping_ > 0 && eval.x == nullptr) {
      ThrowInvalid(
          "model.params.early_stopping_rounds: early stopping needs validation rows; the "
          "final model takes its rounds from the folds'");
    }
    DMatrix train(x, options_);
    SetLabels(train, y);
    DMatrixHandle handle = train.get();
    BoosterHandle booster = NewBooster(handle);
    auto model = std::make_unique<XgboostModel>(booster, options_);  // owns booster from here
    for (const auto& [name, value] : params_)
      Check(XGBoosterSetParam(booster, name.c_str(), value.c_str()), name.c_str());
    FeatureInfo(options_).ApplyTo(XGBoosterSetStrFeatureInfo, booster, x.cols);
    if (stopping_ == 0) {
      for (int round = 0; round < rounds_; ++round)
        Check(XGBoosterUpdateOneIter(booster, round, handle), "boosting");
      return model;
    }
    // Early stopping: the objective's default metric on `eval` after each
    // round (all of them smaller-is-better), until `stopping_` rounds bring
    // no improvement; then only the rounds up to the best are kept.
    DMatrix watched(*eval.x, options_);
    SetLabels(watched, eval.y);
    DMatrixHandle watched_handle = watched.get();
    const char* watched_name = "validation";
    double best = std::numeric_limits<double>::infinity();
    int best_round = 0;
    for (int round = 0; round < rounds_ && round - best_round <= stopping_; ++round) {
      Check(XGBoosterUpdateOneIter(booster, round, handle), "boosting");
      const char* result = nullptr;
      Check(XGBoosterEvalOneIter(booster, round, &watched_handle, &watched_name, 1, &result),
            "evaluating");
      // "[7]\tvalidation-logloss:0.1234"
      const char* colon = std::strrchr(result, ':');
      const double value = colon ? std::strtod(colon + 1, nullptr) : std::nan("");
      if (value < best) {
        best = value;
        best_round = round;
      }
    }
    if (best_round + 1 >= model->Rounds()) return model;
    BoosterHandle sliced = nullptr;
    Check(XGBoosterSlice(booster, 0, best_round + 1, 1, &sliced), "keeping the best rounds");
    return std::make_unique<XgboostModel>(sliced, options_);
  }

 private:
  static void SetLabels(const DMatrix& data, std::span<const double> y) {
    std::vector<float> labels(y.begin(), y.end());
    Check(XGDMatrixSetFloatInfo(data.get(), "label", labels.data(), labels.size()),
          "setting labels");
  }

  TrainerOptions options_;
  std::map<std::string, std::string> params_;
  int rounds_ = static_cast<int>(kDefaultRounds);
  int stopping_ = 0;  // early_stopping_rounds; 0: none
};

}  // namespace

std::unique_ptr<Trainer> MakeXgboostTrainer(const TrainerOptions& options) {
  return std::make_unique<XgboostTrainer>(options);
}

std::unique_ptr<FittedModel> LoadXgboostModel(const TrainerOptions& options,
                                              const std::string& ubj) {
  BoosterHandle booster = NewBooster(nullptr);
  auto model = std::make_unique<XgboostModel>(booster, options);
  Check(XGBoosterLoadModelFromBuffer(booster, ubj.data(), ubj.size()), "loading a model");
  return model;
}

}  // namespace slipway::training
