// `slipway evaluate models:/NAME@ALIAS --data DATASET@VERSION`: the
// evaluation `slipway train` makes of its holdout, made of any registered
// model on any dataset version of the workspace, models trained in Python
// (mlflow.xgboost, mlflow.sklearn, any pyfunc) included.
//
// The model is fetched from the tracking server and loaded as serving loads
// it (ml::LoadModel: natively, or through a Python worker); its predictions
// of the rows scored give the metrics, curves and charts of
// training/evaluation.h, and, where the model is XGBoost or linear, its
// feature importance, coefficients and SHAP values (training/explain.h).
// The rows scored are every row of the dataset version, or with `--spec
// --holdout` the rows `slipway train` held out with that spec and seed
// (training_run.h's HoldoutOf: the same split code). Fairness (the spec's
// sensitive columns and `--sensitive`'s, training/fairness.h) and
// robustness (the spec's, or `--robustness`; training/robustness.h, the
// perturbed rows predicted by the loaded model) are assessed on those
// rows as training assesses its holdout; the gates read their metrics.
// The target and task come from `--spec` (whose gates are then checked),
// else `--target`/`--task`, else the model's own `slipway` flavor.
// `--against models:/NAME@ALIAS` evaluates a second model on the same rows:
// the spec's champion gates compare with it (paired bootstrap interval,
// training/gates.h), or, without a spec, one gate on the task's metric
// with `--margin`. A gate table is printed; a failed gate exits 1. Unless
// --no-tracking, one run logs the metrics, the gates, which rows were
// scored (param `rows`), and the files under `evaluation/`, `fairness/` and
// `robustness/`.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddEvaluateCommand(CLI::App& app);

}  // namespace slipway::cli
