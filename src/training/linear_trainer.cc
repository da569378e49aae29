// Ridge and binary logistic regression on Eigen (see trainer.h).
#include <Eigen/Dense>
#include <cmath>

#include "core/error.h"
#include "training/trainer.h"

namespace slipway::training {
namespace {

using nlohmann::json;

double Param(const TrainerOptions& options, const std::string& name, double fallback) {
  auto it = options.params.find(name);
  return it == options.params.end() ? fallback : std::get<double>(it->second);
}

// The matrix as Eigen's, refusing missing values: a linear model has no
// answer for them, the spec's imputation must fill them.
Eigen::MatrixXd ToEigen(const Matrix& x, const std::vector<std::string>& names) {
  Eigen::MatrixXd m(x.rows, x.cols);
  for (size_t r = 0; r < x.rows; ++r) {
    for (size_t c = 0; c < x.cols; ++c) {
      const double v = x(r, c);
      if (std::isnan(v)) {
        ThrowInvalid("'" + (c < names.size() ? names[c] : std::to_string(c)) +
                     "' has missing values, which a linear model cannot take: set "
                     "preprocessing.impute.numeric to median or mean");
      }
      m(r, c) = v;
    }
  }
  return m;
}

class LinearModel : public FittedModel {
 public:
  LinearModel(const TrainerOptions& options, double intercept, Eigen::VectorXd coefficients)
      : options_(options), intercept_(intercept), coefficients_(std::move(coefficients)) {}

  Matrix Predict(const Matrix& x) const override {
    if (x.cols != static_cast<size_t>(coefficients_.size()))
      ThrowInvalid("the model takes " + std::to_string(coefficients_.size()) + " columns");
    const Eigen::VectorXd z =
        (ToEigen(x, options_.feature_names) * coefficients_).array() + intercept_;
    Matrix out;
    out.rows = x.rows;
    out.cols = 1;
    out.values.resize(x.rows);
    for (size_t i = 0; i < x.rows; ++i)
      out.values[i] = options_.model == ModelType::kLogistic ? 1 / (1 + std::exp(-z[i])) : z[i];
    return out;
  }

  std::vector<ModelFile> Files() const override {
    json coefficients = json::object();
    for (Eigen::Index i = 0; i < coefficients_.size(); ++i) {
      const size_t at = static_cast<size_t>(i);
      coefficients[at < options_.feature_names.size() ? options_.feature_names[at]
                                                      : std::to_string(i)] = coefficients_[i];
    }
    json model = {{"format_version", 1},
                  {"model", std::string(ModelTypeName(options_.model))},
                  {"link", options_.model == ModelType::kLogistic ? "logistic" : "identity"},
                  {"intercept", intercept_},
                  {"features", options_.feature_names},
                  {"coefficients", coefficients}};
    return {{"model.json", model.dump(2)}};
  }

  // No MLflow flavor reads model.json; Slipway's own section describes it.
  json Flavors() const override { return json::object(); }

 private:
  TrainerOptions options_;
  double intercept_;
  Eigen::VectorXd coefficients_;
};

class LinearTrainer : public Trainer {
 public:
  explicit LinearTrainer(const TrainerOptions& options) : options_(options) {
    if (Param(options, "l1", 0) > 0) {
      ThrowInvalid("model.params.l1: L1 regularisation is not built yet; use l2");
    }
    if (options.model == ModelType::kLogistic && options.task != Task::kBinary) {
      ThrowInvalid(
          "model.type: multiclass logistic regression is not built yet; use xgboost for "
          "several classes");
    }
    l2_ = Param(options, "l2", 1.0);
    max_iter_ = static_cast<int>(Param(options, "max_iter", 100));
    tol_ = Param(options, "tol", 1e-8);
  }

  std::unique_ptr<FittedModel> Fit(const Matrix& x, std::span<const double> y) const override {
    const Eigen::MatrixXd a = ToEigen(x, options_.feature_names);
    const Eigen::VectorXd b = Eigen::Map<const Eigen::VectorXd>(y.data(), y.size());
    return options_.model == ModelType::kLinear ? Ridge(a, b) : Logistic(a, b);
  }

 private:
  // Centered normal equations: (Xc'Xc + l2 I) w = Xc'yc, b = mean(y) - mean(x)'w.
  std::unique_ptr<FittedModel> Ridge(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) const {
    const Eigen::RowVectorXd x_mean = x.colwise().mean();
    const double y_mean = y.mean();
    const Eigen::MatrixXd xc = x.rowwise() - x_mean;
    Eigen::MatrixXd gram = xc.transpose() * xc;
    gram.diagonal().array() += l2_;
    const Eigen::VectorXd w = gram.ldlt().solve(xc.transpose() * (y.array() - y_mean).matrix());
    return std::make_unique<LinearModel>(options_, y_mean - x_mean.dot(w), w);
  }

  // Newton's method on [x 1]: gradient X'(p - y) + l2 w, Hessian X'SX + l2 I
  // (the intercept's entries unpenalised). Stops when the step is below tol.
  std::unique_ptr<FittedModel> Logistic(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) const {
    const Eigen::Index n = x.rows(), d = x.cols();
    Eigen::MatrixXd a(n, d + 1);
    a << x, Eigen::VectorXd::Ones(n);
    Eigen::VectorXd penalty = Eigen::VectorXd::Constant(d + 1, l2_);
    penalty[d] = 0;
    Eigen::VectorXd w = Eigen::VectorXd::Zero(d + 1);
    for (int iter = 0; iter < max_iter_; ++iter) {
      const Eigen::VectorXd p = (1.0 + (-(a * w)).array().exp()).inverse().matrix();
      const Eigen::VectorXd gradient = a.transpose() * (p - y) + penalty.cwiseProduct(w);
      const Eigen::VectorXd s = p.array() * (1 - p.array());
      Eigen::MatrixXd hessian = a.transpose() * s.asDiagonal() * a;
      hessian.diagonal() += penalty;
      const Eigen::VectorXd step = hessian.ldlt().solve(gradient);
      w -= step;
      if (step.lpNorm<Eigen::Infinity>() < tol_) break;
    }
    return std::make_unique<LinearModel>(options_, w[d], w.head(d));
  }

  TrainerOptions options_;
  double l2_ = 1;
  int max_iter_ = 100;
  double tol_ = 1e-8;
};

}  // namespace

std::unique_ptr<Trainer> MakeLinearTrainer(const TrainerOptions& options) {
  return std::make_unique<LinearTrainer>(options);
}

std::unique_ptr<FittedModel> LoadLinearModel(const TrainerOptions& options,
                                             const std::string& text) {
  try {
    const json model = json::parse(text);
    const std::vector<std::string> features = model.at("features");
    Eigen::VectorXd w(features.size());
    for (size_t i = 0; i < features.size(); ++i)
      w[static_cast<Eigen::Index>(i)] = model.at("coefficients").at(features[i]).get<double>();
    TrainerOptions with_names = options;
    with_names.feature_names = features;
    return std::make_unique<LinearModel>(with_names, model.at("intercept").get<double>(), w);
  } catch (const json::exception& e) {
    ThrowInvalid(std::string("model.json: ") + e.what());
  }
}

}  // namespace slipway::training
