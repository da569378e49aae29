"""Evaluation artifacts (issue 14): the curves, charts, feature importance and
SHAP values `slipway train` logs under a run's `evaluation/` folder, and
`slipway evaluate models:/... --data ...` on registered models, Slipway's and
ones logged in Python with mlflow.xgboost and mlflow.sklearn.

Every curve is recomputed with scikit-learn (roc_curve, precision_recall_curve,
calibration_curve) from the predictions the run logged (1e-9); importance and
SHAP values with Python xgboost's Booster.get_score and
predict(pred_contribs=True) on the same model file and rows (1e-5); the
predictions of `slipway evaluate` with the models' own Python libraries.
The data is scikit-learn's breast cancer, wine and diabetes sets, added to a
workspace by test_train's fixture."""
from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import mlflow
import mlflow.sklearn
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from mlflow.tracking import MlflowClient
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (log_loss, precision_recall_curve, roc_auc_score, roc_curve)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from test_data import slipway
from test_train import TRAIN_SPEC, _artifact, _run_id, _train, workspace  # noqa: F401

SVG = "{http://www.w3.org/2000/svg}"


def _csv(server, run_id: str, path: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(_artifact(server, run_id, path)))


def _json(server, run_id: str, path: str):
    return json.loads(_artifact(server, run_id, path))


def _close(got, expected, tol=1e-9):
    got = np.array([np.inf if v is None else v for v in got], dtype=float)
    np.testing.assert_allclose(got, np.asarray(expected, dtype=float), rtol=0, atol=tol)


def _svg(server, run_id: str, path: str) -> ET.Element:
    root = ET.fromstring(_artifact(server, run_id, path))
    assert root.tag == f"{SVG}svg"
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text") if t.text]


def _check_binary_curves(server, run_id: str, y: np.ndarray, p: np.ndarray):
    roc = _json(server, run_id, "evaluation/roc_curve.json")["curves"]
    assert len(roc) == 1
    fpr, tpr, thresholds = roc_curve(y, p)
    _close(roc[0]["fpr"], fpr)
    _close(roc[0]["tpr"], tpr)
    assert roc[0]["thresholds"][0] is None  # sklearn's +inf
    _close(roc[0]["thresholds"][1:], thresholds[1:])
    assert roc[0]["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    pr = _json(server, run_id, "evaluation/pr_curve.json")["curves"][0]
    precision, recall, thresholds = precision_recall_curve(y, p)
    _close(pr["precision"], precision)
    _close(pr["recall"], recall)
    _close(pr["thresholds"], thresholds)
    calibration = _json(server, run_id, "evaluation/calibration_curve.json")
    assert calibration["bins"] == 10 and calibration["strategy"] == "uniform"
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
    _close(calibration["curves"][0]["prob_true"], prob_true)
    _close(calibration["curves"][0]["prob_pred"], prob_pred)
    # The expected calibration error from sklearn's bins and numpy's counts.
    bins = np.searchsorted(np.linspace(0, 1, 11)[1:-1], p)
    counts = np.bincount(bins, minlength=10)
    counts = counts[counts > 0]
    assert list(counts) == calibration["curves"][0]["counts"]
    return float(np.sum(counts / len(y) * np.abs(prob_true - prob_pred)))


def _booster(server, run_id: str, path: str) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(_artifact(server, run_id, path)))
    return booster


def _check_importance_and_shap(server, run_id: str, booster: xgb.Booster, x: pd.DataFrame,
                               rows: list[int]):
    importance = _json(server, run_id, "evaluation/feature_importance.json")
    for kind in ("weight", "gain", "cover"):
        expected = booster.get_score(importance_type=kind)
        assert set(importance[kind]) == set(expected), kind
        for name, value in expected.items():
            assert importance[kind][name] == pytest.approx(value, rel=1e-5), (kind, name)
    contribs = booster.predict(xgb.DMatrix(x), pred_contribs=True)
    shap = _csv(server, run_id, "evaluation/shap_values.csv")
    names = list(booster.feature_names)
    if contribs.ndim == 2:  # binary, regression: one line per row
        assert list(shap.columns) == ["row", *names, "bias"]
        assert list(shap["row"]) == rows[:len(shap)]
        np.testing.assert_allclose(shap[[*names, "bias"]].to_numpy(), contribs[:len(shap)],
                                   rtol=0, atol=1e-5)
        mean_abs = np.abs(contribs[:, :-1]).mean(axis=0)
    else:  # multiclass: a line per row and class
        assert list(shap.columns) == ["row", "class", *names, "bias"]
        groups = contribs.shape[1]
        got = shap[[*names, "bias"]].to_numpy().reshape(-1, groups, len(names) + 1)
        np.testing.assert_allclose(got, contribs[:len(got)], rtol=0, atol=1e-5)
        mean_abs = np.abs(contribs[:, :, :-1]).mean(axis=0).sum(axis=0)
    summary = _json(server, run_id, "evaluation/shap_importance.json")
    assert summary["rows"] == len(x)
    _close([summary["mean_abs_shap"][n] for n in names], mean_abs, tol=1e-5)
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    top = names[int(np.argmax(mean_abs))]
    assert metrics[f"shap.mean_abs.{top}"] == pytest.approx(mean_abs.max(), abs=1e-5)
    chart = _svg(server, run_id, "evaluation/shap_importance.svg")
    labels = _texts(chart)
    assert top in labels  # the largest bar is drawn, and first
    assert labels.index(top) == min(labels.index(n) for n in names if n in labels)


def test_a_training_run_logs_curves_that_match_scikit_learn(workspace, server):
    out = _train(workspace, TRAIN_SPEC, "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    run_id = _run_id(out.stdout)
    holdout = _csv(server, run_id, "evaluation/holdout_predictions.csv")
    y, p = holdout["y"].to_numpy(), holdout["prediction"].to_numpy()
    ece = _check_binary_curves(server, run_id, y, p)
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert metrics["holdout.calibration_error"] == pytest.approx(ece, abs=1e-9)
    assert re.search(r"^calibration_error\s+\S+\s+\S+\s+\S+$", out.stdout, re.M), out.stdout
    summary = _json(server, run_id, "evaluation/metrics.json")
    assert summary["rows"] == 114 and summary["task"] == "binary"
    for name, value in summary["metrics"].items():
        assert metrics[f"holdout.{name}"] == pytest.approx(value, abs=1e-12), name
    # The charts: titled, labelled axes, ticks, one curve and a legend naming its AUC.
    roc = _svg(server, run_id, "evaluation/roc_curve.svg")
    texts = _texts(roc)
    assert "ROC curve: cancer@1 holdout" in texts
    assert "False positive rate" in texts and "True positive rate" in texts
    assert {"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"} <= set(texts)
    assert f"class 1 (AUC {roc_auc_score(y, p):.3f})" in texts
    assert len([e for e in roc.iter(f"{SVG}polyline")]) == 1
    assert "Fraction of positives" in _texts(_svg(server, run_id,
                                                  "evaluation/calibration_curve.svg"))
    assert "Precision" in _texts(_svg(server, run_id, "evaluation/pr_curve.svg"))

    # Importance and SHAP: Python xgboost on the logged model file and the holdout rows.
    booster = _booster(server, run_id, "model/model.ubj")
    frame = pd.read_csv(workspace / "cancer.csv")
    x = frame.loc[holdout["row"], booster.feature_names]
    _check_importance_and_shap(server, run_id, booster, x, list(holdout["row"]))
    gain = booster.get_score(importance_type="gain")
    best = max(gain, key=gain.get)
    assert metrics[f"importance.gain.{best}"] == pytest.approx(gain[best], rel=1e-5)
    assert best in _texts(_svg(server, run_id, "evaluation/feature_importance.svg"))


def test_multiclass_curves_are_one_vs_rest_per_class(workspace, server):
    spec = """\
data: wine@1
target: target
task: multiclass
model: {type: xgboost, params: {num_boost_round: 20, max_depth: 2}}
cv: {scheme: stratified, folds: 3}
holdout: 0.3
seed: 4
gates:
  - {metric: roc_auc_ovr, min: 0.9}
  - {metric: shap.mean_abs.proline, max: 100}
"""
    out = _train(workspace, spec, "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    run_id = _run_id(out.stdout)
    holdout = _csv(server, run_id, "evaluation/holdout_predictions.csv")
    y = holdout["y"].to_numpy()
    p = holdout[["p0", "p1", "p2"]].to_numpy()
    roc = _json(server, run_id, "evaluation/roc_curve.json")["curves"]
    pr = _json(server, run_id, "evaluation/pr_curve.json")["curves"]
    assert [c["class"] for c in roc] == ["0", "1", "2"]
    for c in range(3):
        fpr, tpr, _ = roc_curve(y == c, p[:, c])
        _close(roc[c]["fpr"], fpr)
        _close(roc[c]["tpr"], tpr)
        precision, recall, _ = precision_recall_curve(y == c, p[:, c])
        _close(pr[c]["precision"], precision)
        _close(pr[c]["recall"], recall)
        prob_true, prob_pred = calibration_curve(y == c, p[:, c], n_bins=10)
        curve = _json(server, run_id, "evaluation/calibration_curve.json")["curves"][c]
        _close(curve["prob_true"], prob_true)
        _close(curve["prob_pred"], prob_pred)
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert metrics["holdout.roc_auc_ovr"] == pytest.approx(
        roc_auc_score(y, p, multi_class="ovr"), abs=1e-9)
    assert "\ngates     PASSED\n" in out.stdout and "roc_auc_ovr >= 0.9" in out.stdout
    # A gate on the explanation reads the value shap_importance.json holds.
    proline = _json(server, run_id, "evaluation/shap_importance.json")["mean_abs_shap"]["proline"]
    assert re.search(rf"shap.mean_abs.proline <= 100\s+{proline:.4f}\s+passed", out.stdout), \
        out.stdout
    svg = _svg(server, run_id, "evaluation/roc_curve.svg")
    assert len(list(svg.iter(f"{SVG}polyline"))) == 3
    assert {"class 0 vs rest", "class 1 vs rest", "class 2 vs rest"} <= {
        t.split(" (")[0] for t in _texts(svg)}
    wine = pd.read_csv(workspace / "wine.csv")
    booster = _booster(server, run_id, "model/model.ubj")
    _check_importance_and_shap(server, run_id, booster,
                               wine.loc[holdout["row"], booster.feature_names],
                               list(holdout["row"]))


def test_regression_logs_residuals_and_a_linear_model_its_coefficients(workspace, server):
    spec = """\
data: diabetes@1
target: target
task: regression
preprocessing: {scale: standard}
model: {type: linear, params: {l2: 3.0}}
cv: {scheme: kfold, folds: 3}
holdout: 0.25
seed: 2
"""
    out = _train(workspace, spec, "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    run_id = _run_id(out.stdout)
    holdout = _csv(server, run_id, "evaluation/holdout_predictions.csv")
    residuals = _json(server, run_id, "evaluation/residuals.json")
    _close(residuals["predicted"], holdout["prediction"])
    _close(residuals["residual"], holdout["y"] - holdout["prediction"])
    svg = _svg(server, run_id, "evaluation/residuals.svg")
    assert len(list(svg.iter(f"{SVG}circle"))) == len(holdout)
    assert "Residual (actual - predicted)" in _texts(svg)
    # The coefficients are scikit-learn's Ridge on the standardised training rows.
    frame = pd.read_csv(workspace / "diabetes.csv")
    features = [c for c in frame.columns if c != "target"]
    training = frame.drop(index=holdout["row"])
    scaler = StandardScaler().fit(training[features])
    ridge = Ridge(alpha=3.0).fit(scaler.transform(training[features]), training["target"])
    coefficients = _json(server, run_id, "evaluation/coefficients.json")
    _close([coefficients["coefficients"][f] for f in features], ridge.coef_, tol=1e-8)
    assert coefficients["intercept"] == pytest.approx(ridge.intercept_, abs=1e-8)
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    for f, c in zip(features, ridge.coef_):
        assert metrics[f"coefficient.{f}"] == pytest.approx(c, abs=1e-8), f
    labels = _texts(_svg(server, run_id, "evaluation/coefficients.svg"))
    assert features[int(np.argmax(np.abs(ridge.coef_)))] in labels


def _evaluate(ws: Path, *args: str):
    return slipway("evaluate", *args, cwd=ws, check=False)


def _evaluation_run(stdout: str) -> str:
    found = re.search(r"^logged    run ([0-9a-f]+): evaluation/", stdout, re.M)
    assert found, stdout
    return found.group(1)


def _register(ws: Path, server, spec: str, model: str, alias: str) -> str:
    out = _train(ws, spec + f"register: {{model: {model}, alias: {alias}}}\n", "--tracking-uri",
                 server.url)
    assert out.returncode == 0, out.stderr
    return _run_id(out.stdout)


def test_evaluate_a_registered_slipway_model_on_a_dataset_version(workspace, server, mlflow_client):
    _register(workspace, server, TRAIN_SPEC, "cancer-ev", "candidate")
    out = _evaluate(workspace, "models:/cancer-ev@candidate", "--data", "cancer@1",
                    "--tracking-uri", server.url, "--experiment", "evaluations")
    assert out.returncode == 0, out.stderr
    assert "model     models:/cancer-ev/1 (models:/cancer-ev@candidate, native)" in out.stdout
    assert "data      cancer@1 (sha256 " in out.stdout and "569 rows" in out.stdout
    run_id = _evaluation_run(out.stdout)
    run = MlflowClient(server.url).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["slipway.evaluation.model"] == "models:/cancer-ev/1"
    assert run.data.params["target"] == "malignant" and run.data.params["task"] == "binary"
    # Every row predicted as Python's xgboost predicts the registered model.
    frame = pd.read_csv(workspace / "cancer.csv")
    predictions = _csv(server, run_id, "evaluation/predictions.csv")
    assert list(predictions["row"]) == list(range(569))
    booster = mlflow.xgboost.load_model("models:/cancer-ev@candidate")
    expected = booster.predict(xgb.DMatrix(frame[booster.feature_names]))
    np.testing.assert_allclose(predictions["prediction"], expected, rtol=0, atol=1e-6)
    y, p = frame["malignant"].to_numpy(), predictions["prediction"].to_numpy()
    assert list(predictions["y"]) == list(y)
    assert run.data.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-9)
    assert run.data.metrics["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-9)
    ece = _check_binary_curves(server, run_id, y, p)
    assert run.data.metrics["calibration_error"] == pytest.approx(ece, abs=1e-9)
    printed = re.search(r"^roc_auc\s+(\S+)$", out.stdout, re.M)
    assert printed and float(printed.group(1)) == pytest.approx(roc_auc_score(y, p), abs=1e-4)
    _check_importance_and_shap(server, run_id, booster, frame[booster.feature_names],
                               list(range(569)))
    assert "gates" not in out.stdout  # no spec, no --against: nothing to gate


def test_evaluate_a_model_logged_in_python_with_mlflow_xgboost(workspace, server, mlflow_client):
    frame = pd.read_csv(workspace / "cancer.csv")
    features = [c for c in frame.columns if c != "malignant"]
    # XGBoost 3 estimates the base score from the labels and saves it as a
    # vector ("[6.27E-1]"), which libxgboost 1.7 alone would misread.
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "seed": 0, "nthread": 1},
                        xgb.DMatrix(frame[features], label=frame["malignant"]),
                        num_boost_round=15)
    assert json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"] \
        not in ("5E-1", "[5E-1]")
    mlflow.set_experiment("python-models")
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(booster, name="model", registered_model_name="py-xgb",
                                        model_format="json")
    mlflow_client.set_registered_model_alias("py-xgb", "candidate",
                                             info.registered_model_version)
    out = _evaluate(workspace, "models:/py-xgb@candidate", "--data", "cancer@1", "--target",
                    "malignant", "--task", "binary", "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    run_id = _evaluation_run(out.stdout)
    p = _csv(server, run_id, "evaluation/predictions.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(p, booster.predict(xgb.DMatrix(frame[features])), rtol=0,
                               atol=1e-6)
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(frame["malignant"], p), abs=1e-9)
    _check_importance_and_shap(server, run_id, booster, frame[features], list(range(569)))
    # Without --target a model that does not name its target is refused, saying so.
    bare = _evaluate(workspace, "models:/py-xgb@candidate", "--data", "cancer@1",
                     "--no-tracking", "--tracking-uri", server.url)
    assert bare.returncode != 0
    assert "does not name its target: give --target or --spec" in bare.stderr


def test_evaluate_an_xgb_classifier_by_its_probabilities(workspace, server, mlflow_client):
    wine = pd.read_csv(workspace / "wine.csv")
    features = [c for c in wine.columns if c != "target"]
    clf = xgb.XGBClassifier(n_estimators=10, max_depth=2, random_state=0, n_jobs=1)
    clf.fit(wine[features], wine["target"])
    mlflow.set_experiment("python-models")
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(clf, name="model", registered_model_name="py-wine",
                                        model_format="json")
    out = _evaluate(workspace, f"models:/py-wine/{info.registered_model_version}", "--data",
                    "wine@1", "--target", "target", "--task", "multiclass", "--tracking-uri",
                    server.url)
    assert out.returncode == 0, out.stderr
    assert "is an XGBClassifier: probabilities from XGBoost on model.json" in out.stdout
    run_id = _evaluation_run(out.stdout)
    logged = _csv(server, run_id, "evaluation/predictions.csv")[["p0", "p1", "p2"]].to_numpy()
    expected = clf.predict_proba(wine[features])
    np.testing.assert_allclose(logged, expected, rtol=0, atol=1e-6)
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert metrics["roc_auc_ovr"] == pytest.approx(
        roc_auc_score(wine["target"], logged, multi_class="ovr"), abs=1e-9)
    assert metrics["log_loss"] == pytest.approx(log_loss(wine["target"], logged), abs=1e-9)
    _check_importance_and_shap(server, run_id, clf.get_booster(), wine[features],
                               list(range(len(wine))))


def test_evaluate_a_scikit_learn_model_through_the_python_worker(workspace, server,
                                                                 mlflow_client):
    frame = pd.read_csv(workspace / "cancer.csv")
    features = [c for c in frame.columns if c != "malignant"]
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    pipeline.fit(frame[features], frame["malignant"])
    mlflow.set_experiment("python-models")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(pipeline, name="model", registered_model_name="py-sk",
                                        pyfunc_predict_fn="predict_proba",
                                        input_example=frame[features].head(3))
    mlflow_client.set_registered_model_alias("py-sk", "candidate", info.registered_model_version)
    out = _evaluate(workspace, "models:/py-sk@candidate", "--data", "cancer@1", "--target",
                    "malignant", "--task", "binary", "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    assert "Python worker" in out.stdout
    assert "no feature importance or SHAP" in out.stdout
    run_id = _evaluation_run(out.stdout)
    p = pipeline.predict_proba(frame[features])[:, 1]
    logged = _csv(server, run_id, "evaluation/predictions.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(logged, p, rtol=0, atol=1e-12)
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(frame["malignant"], p), abs=1e-9)
    _check_binary_curves(server, run_id, frame["malignant"].to_numpy(), logged)


GATE_SPEC = """\
data: cancer@1
target: malignant
task: binary
model: {type: xgboost}
gates:
  - {metric: roc_auc, min: MIN}
  - {metric: calibration_error, max: 0.2}
"""


def test_evaluate_checks_the_specs_gates_and_exits_1_when_one_fails(workspace, server):
    _register(workspace, server, TRAIN_SPEC, "cancer-gated", "candidate")
    (workspace / "gates.yaml").write_text(GATE_SPEC.replace("MIN", "0.9"))
    ok = _evaluate(workspace, "models:/cancer-gated@candidate", "--data", "cancer@1", "--spec",
                   "gates.yaml", "--tracking-uri", server.url)
    assert ok.returncode == 0, ok.stderr
    tail = ok.stdout[ok.stdout.index("\ngates     PASSED\n"):]
    assert "roc_auc >= 0.9" in tail and "calibration_error <= 0.2" in tail
    assert tail.count("passed") == 2
    run = MlflowClient(server.url).get_run(_evaluation_run(ok.stdout))
    assert run.data.tags["slipway.gates"] == "PASSED"
    assert run.data.metrics["gate.1.passed"] == 1

    (workspace / "gates.yaml").write_text(GATE_SPEC.replace("MIN", "0.99999"))
    failing = _evaluate(workspace, "models:/cancer-gated@candidate", "--data", "cancer@1",
                        "--spec", "gates.yaml", "--tracking-uri", server.url)
    assert failing.returncode == 1
    assert "1 of 2 gates FAILED" in failing.stderr
    tail = failing.stdout[failing.stdout.index("\ngates     FAILED\n"):]
    assert re.search(r"roc_auc >= 0.99999\s+0\.\d+: short by 0\.\d+\s+FAILED", tail), tail
    run = MlflowClient(server.url).get_run(_evaluation_run(failing.stdout))
    assert run.data.tags["slipway.gates"] == "FAILED"
    assert run.data.metrics["gate.0.passed"] == 0

    # A threshold gate may name the model's explanation: here the feature the
    # trees lean on most may carry at most 0.01 of mean |SHAP| (log-odds).
    shap = _json(server, run.info.run_id, "evaluation/shap_importance.json")["mean_abs_shap"]
    top = max(shap, key=shap.get)
    (workspace / "gates.yaml").write_text(
        GATE_SPEC.replace("MIN", "0.9") + f"  - {{metric: shap.mean_abs.{top}, max: 0.01}}\n")
    leaning = _evaluate(workspace, "models:/cancer-gated@candidate", "--data", "cancer@1",
                        "--spec", "gates.yaml", "--tracking-uri", server.url, "--no-tracking")
    assert leaning.returncode == 1
    assert re.search(rf"shap.mean_abs.{top} <= 0.01\s+{shap[top]:.4f}: short by "
                     rf"{shap[top] - 0.01:.4f}\s+FAILED", leaning.stdout), leaning.stdout

    # A gate on a metric the task does not have fails before anything runs.
    (workspace / "gates.yaml").write_text(
        GATE_SPEC.replace("MIN", "0.9").replace("calibration_error", "rmse"))
    bad = _evaluate(workspace, "models:/cancer-gated@candidate", "--data", "cancer@1", "--spec",
                    "gates.yaml", "--tracking-uri", server.url)
    assert bad.returncode != 0
    assert "gates.yaml:7:" in bad.stderr and "unknown metric 'rmse' for a binary task" in bad.stderr


def test_evaluate_against_a_champion_with_the_paired_bootstrap(workspace, server, mlflow_client):
    weak = TRAIN_SPEC.replace("{num_boost_round: 40, max_depth: 3, eta: 0.2}",
                              "{num_boost_round: 1, max_depth: 1}")
    weak += "features: [mean_fractal_dimension]\n"
    _register(workspace, server, weak, "cancer-duel", "production")
    _register(workspace, server, TRAIN_SPEC, "cancer-duel", "candidate")
    out = _evaluate(workspace, "models:/cancer-duel@candidate", "--data", "cancer@1", "--against",
                    "models:/cancer-duel@production", "--margin", "0.01", "--tracking-uri",
                    server.url)
    assert out.returncode == 0, out.stderr
    assert "against   models:/cancer-duel/1 (models:/cancer-duel@production)" in out.stdout
    run_id = _evaluation_run(out.stdout)
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    # The champion, on one feature, recomputed with the real mlflow.xgboost.
    frame = pd.read_csv(workspace / "cancer.csv")
    champion = mlflow.xgboost.load_model("models:/cancer-duel@production")
    expected = roc_auc_score(frame["malignant"],
                             champion.predict(xgb.DMatrix(frame[["mean_fractal_dimension"]])))
    assert metrics["against.roc_auc"] == pytest.approx(expected, abs=1e-6)
    assert metrics["gate.0.champion"] == pytest.approx(expected, abs=1e-6)
    assert "roc_auc >= champion@production + 0.01" in out.stdout
    low, high = map(float, re.search(r"improvement 95% interval \[(\S+), (\S+)\]",
                                     out.stdout).groups())
    assert 0.01 <= low <= metrics["roc_auc"] - expected <= high
    assert "\ngates     PASSED\n" in out.stdout

    # The same model as champion: no win at all, so the margin is not met and it exits 1.
    same = _evaluate(workspace, "models:/cancer-duel@candidate", "--data", "cancer@1",
                     "--against", "models:/cancer-duel@candidate", "--margin", "0.01",
                     "--tracking-uri", server.url, "--no-tracking")
    assert same.returncode == 1
    assert "by +0.0000, improvement 95% interval [+0.0000, +0.0000]" in same.stdout
    assert "\ngates     FAILED\n" in same.stdout

    # A spec's champion gate finds the champion at its alias of the model's name.
    (workspace / "champ.yaml").write_text(
        GATE_SPEC.replace("MIN", "0.9") +
        "  - {champion: production, metric: roc_auc, margin: 0.01}\n")
    spec = _evaluate(workspace, "models:/cancer-duel@candidate", "--data", "cancer@1", "--spec",
                     "champ.yaml", "--tracking-uri", server.url, "--no-tracking")
    assert spec.returncode == 0, spec.stderr
    assert "against   models:/cancer-duel/1 (models:/cancer-duel@production)" in spec.stdout
    assert spec.stdout[spec.stdout.index("\ngates     PASSED\n"):].count("passed") == 3


def test_evaluate_refuses_what_it_cannot_evaluate_saying_why(workspace, server):
    _register(workspace, server, TRAIN_SPEC, "cancer-bad", "candidate")
    missing_data = _evaluate(workspace, "models:/cancer-bad@candidate", "--data", "cancer@9",
                             "--tracking-uri", server.url)
    assert missing_data.returncode != 0
    assert "Dataset version cancer@9 does not exist" in missing_data.stderr
    missing_model = _evaluate(workspace, "models:/cancer-bad@nowhere", "--data", "cancer@1",
                              "--tracking-uri", server.url)
    assert missing_model.returncode != 0 and "nowhere" in missing_model.stderr
    wrong_task = _evaluate(workspace, "models:/cancer-bad@candidate", "--data", "cancer@1",
                           "--task", "regression", "--tracking-uri", server.url)
    assert wrong_task.returncode != 0
    assert "models:/cancer-bad/1 is a binary model, not regression" in wrong_task.stderr
    # The model's label 1 and 0: data whose target holds other labels is refused.
    frame = pd.read_csv(workspace / "cancer.csv")
    frame.assign(malignant=frame["malignant"] + 1).to_csv(workspace / "cancer_shifted.csv",
                                                          index=False)
    slipway("data", "add", "cancer_shifted.csv", "--name", "cancer-shifted", cwd=workspace)
    shifted = _evaluate(workspace, "models:/cancer-bad@candidate", "--data", "cancer-shifted@1",
                        "--tracking-uri", server.url)
    assert shifted.returncode != 0
    assert "the data's label '2' of 'malignant' is not a class of models:/cancer-bad/1" \
        in shifted.stderr


def test_regression_models_explained_in_training_and_in_evaluate(workspace, server,
                                                                  mlflow_client):
    trees = """\
data: diabetes@1
target: target
task: regression
model: {type: xgboost, params: {num_boost_round: 20, max_depth: 3}}
cv: {scheme: kfold, folds: 3}
holdout: 0.25
seed: 5
"""
    run_id = _register(workspace, server, trees, "diabetes-trees", "candidate")
    holdout = _csv(server, run_id, "evaluation/holdout_predictions.csv")
    frame = pd.read_csv(workspace / "diabetes.csv")
    booster = _booster(server, run_id, "model/model.ubj")
    _check_importance_and_shap(server, run_id, booster,
                               frame.loc[holdout["row"], booster.feature_names],
                               list(holdout["row"]))
    # A linear model registered, then evaluated on the whole version: its
    # coefficients are the training's, its residuals every row's.
    linear = trees.replace("{type: xgboost, params: {num_boost_round: 20, max_depth: 3}}",
                           "{type: linear}").replace("task: regression",
                                                     "task: regression\npreprocessing: "
                                                     "{scale: standard}")
    trained = _register(workspace, server, linear, "diabetes-linear", "candidate")
    out = _evaluate(workspace, "models:/diabetes-linear@candidate", "--data", "diabetes@1",
                    "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    assert "note      " not in out.stdout  # explained: no note of what is missing
    evaluated = _evaluation_run(out.stdout)
    assert _json(server, evaluated, "evaluation/coefficients.json") == \
        _json(server, trained, "evaluation/coefficients.json")
    predictions = _csv(server, evaluated, "evaluation/predictions.csv")
    residuals = _json(server, evaluated, "evaluation/residuals.json")
    _close(residuals["residual"], frame["target"] - predictions["prediction"])
    metrics = MlflowClient(server.url).get_run(evaluated).data.metrics
    rmse = float(np.sqrt(np.mean((frame["target"] - predictions["prediction"]) ** 2)))
    assert metrics["rmse"] == pytest.approx(rmse, abs=1e-9)


def test_evaluate_holdout_scores_exactly_the_rows_training_held_out(workspace, server):
    trained = _register(workspace, server, TRAIN_SPEC, "cancer-holdout", "candidate")
    (workspace / "holdout.yaml").write_text(TRAIN_SPEC)
    out = _evaluate(workspace, "models:/cancer-holdout@candidate", "--data", "cancer@1",
                    "--spec", "holdout.yaml", "--holdout", "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    assert ("rows      the holdout of holdout.yaml: 114 of 569 rows (holdout 0.2, stratified "
            "split, seed 11)") in out.stdout, out.stdout
    evaluated = _evaluation_run(out.stdout)
    # The rows training logged as its holdout, in the same order, with the
    # same labels and (the same model, loaded as serving loads it) predictions.
    held_out = _csv(server, trained, "evaluation/holdout_predictions.csv")
    scored = _csv(server, evaluated, "evaluation/predictions.csv")
    assert list(scored["row"]) == list(held_out["row"])
    assert list(scored["y"]) == list(held_out["y"])
    np.testing.assert_allclose(scored["prediction"], held_out["prediction"], rtol=0, atol=1e-6)
    client = MlflowClient(server.url)
    run = client.get_run(evaluated)
    assert run.data.params["rows"] == "holdout" and run.data.params["rows.count"] == "114"
    assert run.data.params["seed"] == "11" and run.data.params["cv.scheme"] == "stratified"
    assert run.data.tags["slipway.evaluation.rows"] == "holdout"
    training = client.get_run(trained).data.metrics
    for name in ("roc_auc", "log_loss", "accuracy", "brier"):
        assert run.data.metrics[name] == pytest.approx(training[f"holdout.{name}"], abs=1e-6), name
    assert _json(server, evaluated, "evaluation/metrics.json")["rows"] == 114

    # Without --holdout every row is scored, and the run says so.
    every = _evaluate(workspace, "models:/cancer-holdout@candidate", "--data", "cancer@1",
                      "--spec", "holdout.yaml", "--tracking-uri", server.url)
    assert every.returncode == 0, every.stderr
    assert "rows      all 569 rows of cancer@1" in every.stdout
    params = client.get_run(_evaluation_run(every.stdout)).data.params
    assert params["rows"] == "all" and params["rows.count"] == "569"
    # A holdout is a spec's: --holdout alone is refused, saying why.
    alone = _evaluate(workspace, "models:/cancer-holdout@candidate", "--data", "cancer@1",
                      "--holdout", "--tracking-uri", server.url)
    assert alone.returncode != 0
    assert "--holdout needs --spec" in alone.stderr


BANDS_SPEC = """\
data: bands@1
target: malignant
task: binary
exclude: [size_band]
model: {type: xgboost, params: {num_boost_round: 20, max_depth: 2}}
cv: {scheme: stratified, folds: 3}
holdout: 0.3
seed: 3
fairness: {sensitive: [size_band]}
robustness: {noise: 0.1, missing: true}
gates:
  - {metric: roc_auc, min: 0.9}
  - {metric: robustness.noise_flip_rate, max: 0.5}
"""


@pytest.fixture(scope="module")
def bands(workspace) -> pd.DataFrame:
    """The cancer set with a sensitive column: mean_radius in three bands."""
    frame = pd.read_csv(workspace / "cancer.csv")
    frame["size_band"] = pd.cut(frame["mean_radius"], [0, 12, 16, 100],
                                labels=["small", "medium", "large"]).astype(str)
    frame.to_csv(workspace / "bands.csv", index=False)
    slipway("data", "add", "bands.csv", "--name", "bands", cwd=workspace)
    return frame


def _report(server, run_id: str, path: str) -> dict:
    return _json(server, run_id, path)


def test_evaluate_assesses_fairness_and_robustness_as_training_does(workspace, bands, server):
    trained = _register(workspace, server, BANDS_SPEC, "bands", "candidate")
    (workspace / "bands.yaml").write_text(BANDS_SPEC)
    out = _evaluate(workspace, "models:/bands@candidate", "--data", "bands@1", "--spec",
                    "bands.yaml", "--holdout", "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    assert "fairness of 'size_band' (not a feature) on 171 holdout rows, positive class 1" \
        in out.stdout, out.stdout
    assert "robustness on 171 holdout rows: roc_auc " in out.stdout
    tail = out.stdout[out.stdout.index("\ngates     PASSED\n"):]
    assert re.search(r"robustness.noise_flip_rate <= 0.5\s+0\.\d+\s+passed", tail), tail
    evaluated = _evaluation_run(out.stdout)
    # On the same rows with the same model, the same reports as training's.
    for path in ("fairness/report.json", "robustness/report.json"):
        got, expected = _report(server, evaluated, path), _report(server, trained, path)
        assert got["rows"] == expected["rows"] == 171, path
        assert set(got["metrics"]) == set(expected["metrics"]), path
        for name, value in expected["metrics"].items():
            assert got["metrics"][name] == pytest.approx(value, abs=1e-6), (path, name)
    fairness = _report(server, evaluated, "fairness/report.json")
    expected = _report(server, trained, "fairness/report.json")
    assert [(g["group"], g["count"], g["selected"]) for g in fairness["columns"][0]["groups"]] == \
        [(g["group"], g["count"], g["selected"]) for g in expected["columns"][0]["groups"]]
    metrics = MlflowClient(server.url).get_run(evaluated).data.metrics
    assert metrics["fairness.size_band.demographic_parity_difference"] == pytest.approx(
        expected["metrics"]["fairness.size_band.demographic_parity_difference"], abs=1e-9)
    assert "robustness.missing_flip_rate_max" in metrics

    # A fairness gate of the spec fails as in training: exit 1, the gate named.
    # (The bands follow the tumour's size, so the model selects them unequally.)
    (workspace / "bands.yaml").write_text(
        BANDS_SPEC + "  - {metric: fairness.demographic_parity_difference, max: 0.05}\n")
    failing = _evaluate(workspace, "models:/bands@candidate", "--data", "bands@1", "--spec",
                        "bands.yaml", "--holdout", "--tracking-uri", server.url, "--no-tracking")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "1 of 3 gates FAILED" in failing.stderr
    tail = failing.stdout[failing.stdout.index("\ngates     FAILED\n"):]
    dpd = expected["metrics"]["fairness.demographic_parity_difference"]
    assert re.search(rf"fairness.demographic_parity_difference <= 0.05\s+{dpd:.4f}: short by "
                     rf"{dpd - 0.05:.4f}\s+FAILED", tail), tail


def test_evaluate_sensitive_flag_on_every_row(workspace, bands, server):
    if "bands" not in {m.name for m in MlflowClient(server.url).search_registered_models()}:
        _register(workspace, server, BANDS_SPEC, "bands", "candidate")
    out = _evaluate(workspace, "models:/bands@candidate", "--data", "bands@1", "--sensitive",
                    "size_band", "--robustness", "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    assert "fairness of 'size_band' (not a feature) on 569 evaluated rows" in out.stdout
    assert "robustness on 569 evaluated rows" in out.stdout
    run_id = _evaluation_run(out.stdout)
    # Selection rates per band recomputed with pandas from the logged predictions.
    predictions = _csv(server, run_id, "evaluation/predictions.csv")
    assert list(predictions["row"]) == list(range(569))
    selected = (predictions["prediction"] > 0.5).groupby(bands["size_band"]).mean()
    report = _report(server, run_id, "fairness/report.json")
    assert report["rows"] == 569
    by_group = {g["group"]: g for g in report["columns"][0]["groups"]}
    assert set(by_group) == {"small", "medium", "large"}
    for band, rate in selected.items():
        assert by_group[band]["selection_rate"] == pytest.approx(rate, abs=1e-12), band
        assert by_group[band]["count"] == int((bands["size_band"] == band).sum())
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert metrics["fairness.size_band.demographic_parity_difference"] == pytest.approx(
        selected.max() - selected.min(), abs=1e-12)
    assert metrics["fairness.disparate_impact_ratio"] == pytest.approx(
        selected.min() / selected.max(), abs=1e-12)
    robustness = _report(server, run_id, "robustness/report.json")
    assert robustness["rows"] == 569 and robustness["noise"] == 0.05 and robustness["seed"] == 0
    assert robustness["baseline"] == pytest.approx(metrics["roc_auc"], abs=1e-12)
    assert len(robustness["features"]) == 30  # the model's inputs, not size_band

    bad = _evaluate(workspace, "models:/bands@candidate", "--data", "bands@1", "--sensitive",
                    "nope", "--tracking-uri", server.url)
    assert bad.returncode != 0 and "--sensitive: no column 'nope' in bands@1" in bad.stderr
    target = _evaluate(workspace, "models:/bands@candidate", "--data", "bands@1", "--sensitive",
                       "malignant", "--tracking-uri", server.url)
    assert target.returncode != 0 and "'malignant' is the target" in target.stderr
    wrong_class = _evaluate(workspace, "models:/bands@candidate", "--data", "bands@1",
                            "--sensitive", "size_band", "--positive-class", "7", "--no-tracking",
                            "--tracking-uri", server.url)
    assert wrong_class.returncode != 0
    assert "--positive-class: no class '7' in 'malignant'" in wrong_class.stderr


def test_evaluate_a_python_model_for_fairness_and_robustness(workspace, bands, server,
                                                             mlflow_client):
    features = [c for c in bands.columns if c not in ("malignant", "size_band")]
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    pipeline.fit(bands[features], bands["malignant"])
    mlflow.set_experiment("python-models")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(pipeline, name="model", registered_model_name="py-bands",
                                        pyfunc_predict_fn="predict_proba",
                                        input_example=bands[features].head(3))
    out = _evaluate(workspace, f"models:/py-bands/{info.registered_model_version}", "--data",
                    "bands@1", "--target", "malignant", "--task", "binary", "--sensitive",
                    "size_band", "--robustness", "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    assert "Python worker" in out.stdout
    run_id = _evaluation_run(out.stdout)
    p = pipeline.predict_proba(bands[features])[:, 1]
    report = _report(server, run_id, "fairness/report.json")
    rates = pd.Series(p > 0.5).groupby(bands["size_band"]).mean()
    for g in report["columns"][0]["groups"]:
        assert g["selection_rate"] == pytest.approx(rates[g["group"]], abs=1e-12), g["group"]
    # Noise of 0.05 x each feature's std over the rows scored (every row
    # without --holdout). A missing value is refused by LogisticRegression:
    # NaN in the report (not logged as a metric), and a note says why.
    robustness = _report(server, run_id, "robustness/report.json")
    assert [f["feature"] for f in robustness["features"]] == features
    for f in robustness["features"]:
        assert f["noise_std"] == pytest.approx(0.05 * bands[f["feature"]].std(ddof=0),
                                               rel=1e-9), f["feature"]
    assert 0 <= robustness["noise_all"]["flip_rate"] <= 1
    assert robustness["baseline"] == pytest.approx(roc_auc_score(bands["malignant"], p),
                                                   abs=1e-9)
    assert all(f["missing"]["flip_rate"] is None for f in robustness["features"])
    assert "note      robustness: the model could not predict a perturbation" in out.stdout
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert "robustness.noise_flip_rate" in metrics
    assert "robustness.missing_flip_rate_max" not in metrics
