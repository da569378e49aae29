// XGBoost through its C API (see trainer.h).
#include <fmt/format.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>

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

  // For the fit that boosts it (XgboostTrainer), before anyone else has the model.
  BoosterHandle handle() const { return booster_; }

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
    XgboostBoosting boosting(*this, x, y, eval);
    while (boosting.Next()) {
    }
    return boosting.Finish();
  }

  std::unique_ptr<Boosting> StartBoosting(const Matrix& x, std::span<const double> y,
                                          const EvalSet& eval) const override {
    if (eval.x == nullptr) ThrowInvalid("boosting round by round needs validation rows");
    return std::make_unique<XgboostBoosting>(*this, x, y, eval);
  }

 private:
  // One fit: the training rows, the watched rows (when there are), the
  // booster, and early stopping's state.
  class XgboostBoosting : public Boosting {
   public:
    XgboostBoosting(const XgboostTrainer& trainer, const Matrix& x, std::span<const double> y,
                    const EvalSet& eval)
        : trainer_(trainer), train_(x, trainer.options_) {
      SetLabels(train_, y);
      model_ = std::make_unique<XgboostModel>(NewBooster(train_.get()), trainer.options_);
      booster_ = model_->handle();
      for (const auto& [name, value] : trainer.params_)
        Check(XGBoosterSetParam(booster_, name.c_str(), value.c_str()), name.c_str());
      FeatureInfo(trainer.options_).ApplyTo(XGBoosterSetStrFeatureInfo, booster_, x.cols);
      if (eval.x != nullptr) {
        watched_.emplace(*eval.x, trainer.options_);
        SetLabels(*watched_, eval.y);
        eval_rows_ = eval.x->rows;
      }
    }

    bool Next() override {
      const int stopping = trainer_.stopping_;
      if (round_ >= trainer_.rounds_ || (stopping > 0 && round_ - best_round_ > stopping)) {
        return false;
      }
      Check(XGBoosterUpdateOneIter(booster_, round_, train_.get()), "boosting");
      ++round_;
      if (stopping == 0) return true;
      // Early stopping: the objective's default metric on the watched rows
      // after each round (all of them smaller-is-better), until `stopping`
      // rounds bring no improvement; Finish keeps the rounds up to the best.
      DMatrixHandle watched = watched_->get();
      const char* watched_name = "validation";
      const char* result = nullptr;
      Check(XGBoosterEvalOneIter(booster_, round_ - 1, &watched, &watched_name, 1, &result),
            "evaluating");
      // "[7]\tvalidation-logloss:0.1234"
      const char* colon = std::strrchr(result, ':');
      const double value = colon ? std::strtod(colon + 1, nullptr) : std::nan("");
      if (value < best_) {
        best_ = value;
        best_round_ = round_ - 1;
      }
      return true;
    }

    int64_t Round() const override { return round_; }

    Matrix EvalPredictions() override {
      if (!watched_) ThrowInvalid("no validation rows to predict");
      Matrix out;
      out.rows = eval_rows_;
      out.cols = trainer_.options_.task == Task::kMulticlass
                     ? static_cast<size_t>(trainer_.options_.classes)
                     : 1;
      // The full range of rounds: XGBoost then predicts from its cache of
      // this DMatrix, adding only the rounds since the last call.
      const char* config =
          R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0,)"
          R"( "strict_shape": false})";
      const bst_ulong* shape = nullptr;
      bst_ulong dims = 0;
      const float* result = nullptr;
      Check(XGBoosterPredictFromDMatrix(booster_, watched_->get(), config, &shape, &dims, &result),
            "predicting the validation rows");
      bst_ulong length = 1;
      for (bst_ulong i = 0; i < dims; ++i) length *= shape[i];
      if (length != out.rows * out.cols) {
        throw Error(ErrorCode::kInternalError,
                    fmt::format("XGBoost predicted {} values for {} rows", length, out.rows));
      }
      out.values.assign(result, result + length);
      return out;
    }

    std::unique_ptr<FittedModel> Finish() override {
      if (trainer_.stopping_ == 0 || best_round_ + 1 >= round_) return std::move(model_);
      BoosterHandle sliced = nullptr;
      Check(XGBoosterSlice(booster_, 0, best_round_ + 1, 1, &sliced), "keeping the best rounds");
      return std::make_unique<XgboostModel>(sliced, trainer_.options_);
    }

   private:
    const XgboostTrainer& trainer_;
    DMatrix train_;
    std::optional<DMatrix> watched_;
    size_t eval_rows_ = 0;
    std::unique_ptr<XgboostModel> model_;  // owns booster_
    BoosterHandle booster_ = nullptr;
    int round_ = 0;
    double best_ = std::numeric_limits<double>::infinity();
    int best_round_ = 0;
  };

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
