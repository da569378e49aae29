// Ridge, binary and multinomial logistic regression on Eigen (see trainer.h).
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

enum class Link { kIdentity, kLogistic, kSoftmax };

const char* LinkName(Link link) {
  return link == Link::kIdentity ? "identity" : link == Link::kLogistic ? "logistic" : "softmax";
}

// Row-wise softmax of `z`, shifted by each row's maximum so exp cannot overflow.
Eigen::MatrixXd Softmax(const Eigen::MatrixXd& z) {
  Eigen::MatrixXd p = (z.colwise() - z.rowwise().maxCoeff()).array().exp().matrix();
  return p.array().colwise() / p.rowwise().sum().array();
}

// A linear model: z = x * coefficients + intercept, one column per output
// (ridge and binary logistic: one; multinomial: one per class), then the link.
class LinearModel : public FittedModel {
 public:
  LinearModel(const TrainerOptions& options, Link link, Eigen::RowVectorXd intercept,
              Eigen::MatrixXd coefficients, std::vector<SolverIteration> iterations = {})
      : options_(options),
        link_(link),
        intercept_(std::move(intercept)),
        coefficients_(std::move(coefficients)),
        iterations_(std::move(iterations)) {}

  std::vector<SolverIteration> Iterations() const override { return iterations_; }

  Matrix Predict(const Matrix& x) const override {
    if (x.cols != static_cast<size_t>(coefficients_.rows()))
      ThrowInvalid("the model takes " + std::to_string(coefficients_.rows()) + " columns");
    Eigen::MatrixXd z = ToEigen(x, options_.feature_names) * coefficients_;
    z.rowwise() += intercept_;
    if (link_ == Link::kLogistic) z = (1.0 + (-z).array().exp()).inverse().matrix();
    if (link_ == Link::kSoftmax) z = Softmax(z);
    Matrix out;
    out.rows = x.rows;
    out.cols = static_cast<size_t>(z.cols());
    out.values.resize(out.rows * out.cols);
    for (size_t r = 0; r < out.rows; ++r)
      for (size_t c = 0; c < out.cols; ++c) out(r, c) = z(r, c);
    return out;
  }

  std::vector<ModelFile> Files() const override {
    // One output: a number per feature; softmax: a list per feature, by class.
    auto row = [&](const Eigen::RowVectorXd& v) -> json {
      if (link_ != Link::kSoftmax) return v[0];
      return std::vector<double>(v.data(), v.data() + v.size());
    };
    json coefficients = json::object();
    for (Eigen::Index i = 0; i < coefficients_.rows(); ++i) {
      const size_t at = static_cast<size_t>(i);
      coefficients[at < options_.feature_names.size() ? options_.feature_names[at]
                                                      : std::to_string(i)] =
          row(coefficients_.row(i));
    }
    json model = {{"format_version", 1},
                  {"model", std::string(ModelTypeName(options_.model))},
                  {"link", LinkName(link_)},
                  {"intercept", row(intercept_)},
                  {"features", options_.feature_names},
                  {"coefficients", coefficients}};
    return {{"model.json", model.dump(2)}};
  }

  // No MLflow flavor reads model.json; Slipway's own section describes it.
  json Flavors() const override { return json::object(); }

 private:
  TrainerOptions options_;
  Link link_;
  Eigen::RowVectorXd intercept_;
  Eigen::MatrixXd coefficients_;  // features x outputs
  std::vector<SolverIteration> iterations_;
};

// The probabilities of [x 1] * w (one column: logistic; several: softmax) as a Matrix.
Matrix Probabilities(const Eigen::MatrixXd& a, const Eigen::MatrixXd& w) {
  Eigen::MatrixXd z = a * w;
  if (z.cols() == 1) {
    z = (1.0 + (-z).array().exp()).inverse().matrix();
  } else {
    z = Softmax(z);
  }
  Matrix out;
  out.rows = static_cast<size_t>(z.rows());
  out.cols = static_cast<size_t>(z.cols());
  out.values.resize(out.rows * out.cols);
  for (size_t r = 0; r < out.rows; ++r)
    for (size_t c = 0; c < out.cols; ++c)
      out(r, c) = z(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
  return out;
}

// log(1 + e^z) without overflow.
double Softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

class LinearTrainer : public Trainer {
 public:
  explicit LinearTrainer(const TrainerOptions& options) : options_(options) {
    if (Param(options, "l1", 0) > 0) {
      ThrowInvalid("model.params.l1: L1 regularisation is not built yet; use l2");
    }
    l2_ = Param(options, "l2", 1.0);
    max_iter_ = static_cast<int>(Param(options, "max_iter", 100));
    tol_ = Param(options, "tol", 1e-8);
  }

  // `eval` is only watched: logistic fits predict it after each iteration.
  std::unique_ptr<FittedModel> Fit(const Matrix& x, std::span<const double> y,
                                   const EvalSet& eval) const override {
    const Eigen::MatrixXd a = ToEigen(x, options_.feature_names);
    const Eigen::VectorXd b = Eigen::Map<const Eigen::VectorXd>(y.data(), y.size());
    if (options_.model == ModelType::kLinear) return Ridge(a, b);
    Eigen::MatrixXd watched;
    if (eval.x != nullptr) watched = WithIntercept(ToEigen(*eval.x, options_.feature_names));
    return options_.task == Task::kBinary ? Logistic(a, b, watched) : Multinomial(a, b, watched);
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
    return std::make_unique<LinearModel>(
        options_, Link::kIdentity, Eigen::RowVectorXd::Constant(1, y_mean - x_mean.dot(w)), w);
  }

  // [x 1]: the features and a column for the intercept.
  static Eigen::MatrixXd WithIntercept(const Eigen::MatrixXd& x) {
    Eigen::MatrixXd a(x.rows(), x.cols() + 1);
    a << x, Eigen::VectorXd::Ones(x.rows());
    return a;
  }

  // Newton's method on [x 1]: gradient X'(p - y) + l2 w, Hessian X'SX + l2 I
  // (the intercept's entries unpenalised). Stops when the step is below tol.
  // `watched` ([x 1] of an EvalSet, or empty) is predicted after each
  // iteration.
  std::unique_ptr<FittedModel> Logistic(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                        const Eigen::MatrixXd& watched) const {
    const Eigen::Index d = x.cols();
    const Eigen::MatrixXd a = WithIntercept(x);
    Eigen::VectorXd penalty = Eigen::VectorXd::Constant(d + 1, l2_);
    penalty[d] = 0;
    Eigen::VectorXd w = Eigen::VectorXd::Zero(d + 1);
    std::vector<SolverIteration> iterations;
    // Summed log loss, sum(log(1 + e^z) - y z), plus the penalty; per row.
    auto objective = [&] {
      const Eigen::VectorXd z = a * w;
      double loss = 0;
      for (Eigen::Index i = 0; i < z.size(); ++i) loss += Softplus(z[i]) - y[i] * z[i];
      return (loss + 0.5 * w.dot(penalty.cwiseProduct(w))) / static_cast<double>(a.rows());
    };
    for (int iter = 0; iter < max_iter_; ++iter) {
      const Eigen::VectorXd p = (1.0 + (-(a * w)).array().exp()).inverse().matrix();
      const Eigen::VectorXd gradient = a.transpose() * (p - y) + penalty.cwiseProduct(w);
      const Eigen::VectorXd s = p.array() * (1 - p.array());
      Eigen::MatrixXd hessian = a.transpose() * s.asDiagonal() * a;
      hessian.diagonal() += penalty;
      const Eigen::VectorXd step = hessian.ldlt().solve(gradient);
      w -= step;
      iterations.push_back(
          {objective(), watched.size() > 0 ? Probabilities(watched, w) : Matrix{}});
      if (step.lpNorm<Eigen::Infinity>() < tol_) break;
    }
    return std::make_unique<LinearModel>(options_, Link::kLogistic,
                                         Eigen::RowVectorXd::Constant(1, w[d]), w.head(d),
                                         std::move(iterations));
  }

  // Multinomial (softmax) logistic regression, one weight vector per class as
  // scikit-learn's: Newton's method on the k * (d + 1) weights, gradient
  // X'(P - Y) + l2 W, Hessian blocks X' diag(p_c (δ_cc' - p_c')) X + l2 I.
  // The intercepts are unpenalised and only their differences matter, so the
  // Hessian is singular along "add a constant to every intercept": a tiny
  // ridge on them (1e-10) picks the solution closest to zero and changes no
  // probability.
  std::unique_ptr<FittedModel> Multinomial(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                           const Eigen::MatrixXd& watched) const {
    const Eigen::Index n = x.rows(), d = x.cols(), k = options_.classes, m = d + 1;
    const Eigen::MatrixXd a = WithIntercept(x);
    Eigen::MatrixXd onehot = Eigen::MatrixXd::Zero(n, k);
    for (Eigen::Index i = 0; i < n; ++i) onehot(i, static_cast<Eigen::Index>(y[i])) = 1;
    Eigen::VectorXd penalty = Eigen::VectorXd::Constant(m, l2_);
    penalty[d] = 1e-10;
    Eigen::MatrixXd w = Eigen::MatrixXd::Zero(m, k);  // column c: class c's weights
    std::vector<SolverIteration> iterations;
    // Summed log loss, sum(logsumexp(z) - z_y), plus the penalty; per row.
    auto objective = [&] {
      const Eigen::MatrixXd z = a * w;
      double loss = 0;
      for (Eigen::Index i = 0; i < n; ++i) {
        const double top = z.row(i).maxCoeff();
        loss += top + std::log((z.row(i).array() - top).exp().sum()) -
                z(i, static_cast<Eigen::Index>(y[i]));
      }
      return (loss + 0.5 * (penalty.asDiagonal() * w).cwiseProduct(w).sum()) /
             static_cast<double>(n);
    };
    for (int iter = 0; iter < max_iter_; ++iter) {
      const Eigen::MatrixXd p = Softmax(a * w);
      const Eigen::MatrixXd gradient = a.transpose() * (p - onehot) + penalty.asDiagonal() * w;
      Eigen::MatrixXd hessian(m * k, m * k);
      for (Eigen::Index c = 0; c < k; ++c) {
        for (Eigen::Index e = c; e < k; ++e) {
          const Eigen::VectorXd s = p.col(c).array() * ((c == e ? 1.0 : 0.0) - p.col(e).array());
          Eigen::MatrixXd block = a.transpose() * s.asDiagonal() * a;
          if (c == e) block.diagonal() += penalty;
          hessian.block(c * m, e * m, m, m) = block;
          hessian.block(e * m, c * m, m, m) = block.transpose();
        }
      }
      const Eigen::VectorXd step =
          hessian.ldlt().solve(Eigen::Map<const Eigen::VectorXd>(gradient.data(), gradient.size()));
      w -= Eigen::Map<const Eigen::MatrixXd>(step.data(), m, k);
      iterations.push_back(
          {objective(), watched.size() > 0 ? Probabilities(watched, w) : Matrix{}});
      if (step.lpNorm<Eigen::Infinity>() < tol_) break;
    }
    return std::make_unique<LinearModel>(options_, Link::kSoftmax, w.row(d), w.topRows(d),
                                         std::move(iterations));
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
    const std::string link_name = model.at("link").get<std::string>();
    const Link link = link_name == "softmax"    ? Link::kSoftmax
                      : link_name == "logistic" ? Link::kLogistic
                                                : Link::kIdentity;
    // A number per output, or a list of them (softmax).
    auto values = [](const json& v) {
      return v.is_array() ? v.get<std::vector<double>>() : std::vector<double>{v.get<double>()};
    };
    const std::vector<double> intercept = values(model.at("intercept"));
    const Eigen::Index outputs = static_cast<Eigen::Index>(intercept.size());
    Eigen::MatrixXd w(static_cast<Eigen::Index>(features.size()), outputs);
    for (size_t i = 0; i < features.size(); ++i) {
      const std::vector<double> row = values(model.at("coefficients").at(features[i]));
      if (row.size() != intercept.size()) ThrowInvalid("'" + features[i] + "' has another width");
      for (Eigen::Index c = 0; c < outputs; ++c)
        w(static_cast<Eigen::Index>(i), c) = row[static_cast<size_t>(c)];
    }
    TrainerOptions with_names = options;
    with_names.feature_names = features;
    return std::make_unique<LinearModel>(
        with_names, link, Eigen::Map<const Eigen::RowVectorXd>(intercept.data(), outputs), w);
  } catch (const json::exception& e) {
    ThrowInvalid(std::string("model.json: ") + e.what());
  }
}

}  // namespace slipway::training
