"""`slipway train SPEC`: a training spec checked against a dataset version of
the workspace (`--dry-run`), and trained: cross-validation, the holdout, and a
run on a real `slipway server` with the model as an MLflow Model (issue 14).

The data is scikit-learn's breast cancer set (it ships in the package),
added with the real `slipway data add`; the spec's errors must name the file,
line and column, and the plan must describe that data. The trained model is
loaded back with the real `mlflow.xgboost.load_model`, and its predictions and
the run's metrics are checked against what Python computes from them."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import mlflow
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb
from mlflow.tracking import MlflowClient
from sklearn import datasets as skdatasets
from sklearn.linear_model import Ridge
from sklearn.metrics import (accuracy_score, average_precision_score, brier_score_loss,
                             confusion_matrix, f1_score, log_loss, mean_absolute_error,
                             mean_absolute_percentage_error, mean_squared_error,
                             precision_score, r2_score, recall_score, roc_auc_score)
from sklearn.preprocessing import StandardScaler

from test_data import slipway

SPEC = """\
data: cancer@1
target: malignant
task: binary
model:
  type: xgboost
  params: {num_boost_round: 100}
search:
  algorithm: tpe
  trials: 20
  space:
    max_depth: {int: [2, 6]}
    eta: {log_uniform: [0.02, 0.3]}
cv: {scheme: stratified, folds: 5}
holdout: 0.2
metric: roc_auc
seed: 11
gates:
  - {metric: roc_auc, min: 0.95}
register: {model: cancer, alias: candidate}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("train-ws")
    frame = skdatasets.load_breast_cancer(as_frame=True).frame
    frame = frame.rename(columns={"target": "malignant"})
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.to_csv(ws / "cancer.csv", index=False)
    slipway("data", "add", "cancer.csv", "--name", "cancer", cwd=ws)
    # A second version with a hole in the target and one class only.
    broken = frame.copy()
    broken.loc[3, "malignant"] = None
    broken.to_csv(ws / "cancer_holes.csv", index=False)
    slipway("data", "add", "cancer_holes.csv", "--name", "cancer", cwd=ws)
    frame.assign(malignant=1).to_csv(ws / "cancer_one.csv", index=False)
    slipway("data", "add", "cancer_one.csv", "--name", "cancer", cwd=ws)
    skdatasets.load_diabetes(as_frame=True, scaled=False).frame.to_csv(ws / "diabetes.csv",
                                                                        index=False)
    slipway("data", "add", "diabetes.csv", "--name", "diabetes", cwd=ws)
    wine = skdatasets.load_wine(as_frame=True).frame
    wine.columns = [c.replace("/", "_") for c in wine.columns]
    wine.to_csv(ws / "wine.csv", index=False)
    slipway("data", "add", "wine.csv", "--name", "wine", cwd=ws)
    return ws


def _train(ws: Path, spec: str, *args: str, check: bool = False):
    (ws / "spec.yaml").write_text(spec)
    return slipway("train", "spec.yaml", *args, cwd=ws, check=check)


def test_dry_run_prints_the_plan_of_real_data(workspace):
    out = _train(workspace, SPEC, "--dry-run", check=True)
    text = out.stdout
    assert "data      cancer@1 (sha256 " in text and "569 rows" in text
    assert "split     holdout 114 rows (20%), training 455 rows" in text
    # sklearn's labels: 212 malignant-coded 0, 357 coded 1
    assert "task      binary on 'malignant': classes 1 (357) 0 (212)" in text
    assert "features  30 (30 numeric, 0 categorical)" in text
    assert "search    tpe, 20 trials" in text and "eta                  log-uniform [0.02, 0.3]" in text
    assert "cv        5 folds, stratified" in text
    assert "optimise  roc_auc (greater is better); 101 model fits, seed 11" in text
    assert "gate      roc_auc >= 0.95" in text
    assert "dry run: the spec and the data agree; nothing trained" in text


def test_overrides_and_data_flag(workspace):
    out = _train(workspace, SPEC, "--dry-run", "--set", "holdout=0.5", "--set",
                 "cv.folds=3", "--set", "features=[mean_radius, mean_texture]", check=True)
    assert "split     holdout 285 rows (50%), training 284 rows" in out.stdout
    assert "features  2 (2 numeric, 0 categorical)" in out.stdout
    assert "ignored   " in out.stdout and "worst_area" in out.stdout
    bad = _train(workspace, SPEC, "--dry-run", "--data", "cancer@2")
    assert bad.returncode != 0
    assert "target: 'malignant' has 1 missing values in cancer@2" in bad.stderr, bad.stderr


@pytest.mark.parametrize("spec, message", [
    (SPEC.replace("target: malignant", "target: malign"),
     "spec.yaml:2:9: target: no column 'malign' in cancer@1"),
    (SPEC.replace("data: cancer@1", "data: cancer@3"),
     "spec.yaml:2:9: target: 'malignant' has one class only (1) in cancer@3"),
    (SPEC.replace("data: cancer@1", "data: cancer@9"),
     "spec.yaml:1:7: data: Dataset version cancer@9 does not exist"),
    (SPEC.replace("data: cancer@1", "data: nothing@1"),
     "spec.yaml:1:7: data: Dataset 'nothing' does not exist"),
    (SPEC.replace("num_boost_round", "num_rounds"),
     "spec.yaml:6:12: model.params.num_rounds: unknown parameter 'num_rounds' for xgboost"),
    (SPEC.replace("{int: [2, 6]}", "{int: [6, 2]}"),
     "spec.yaml:11:22: search.space.max_depth.int: low 6 is greater than high 2: nothing to "
     "sample"),
    (SPEC.replace("metric: roc_auc\n", "metric: rmse\n"),
     "spec.yaml:15:9: metric: unknown metric 'rmse' for a binary task"),
])
def test_bad_specs_fail_before_training_with_the_line(workspace, spec, message):
    out = _train(workspace, spec, "--dry-run")
    assert out.returncode != 0
    assert message in out.stderr, out.stderr
    assert "nothing trained" not in out.stdout and "data      " not in out.stdout


TRAIN_SPEC = """\
data: cancer@1
target: malignant
task: binary
model:
  type: xgboost
  params: {num_boost_round: 40, max_depth: 3, eta: 0.2}
cv: {scheme: stratified, folds: 5}
holdout: 0.2
metric: roc_auc
seed: 11
"""


def _run_id(stdout: str) -> str:
    found = re.search(r"^logged    run ([0-9a-f]+): model at runs:/", stdout, re.M)
    assert found, stdout
    return found.group(1)


def _artifact(server, run_id: str, path: str) -> bytes:
    run = MlflowClient(server.url).get_run(run_id)
    root = run.info.artifact_uri.removeprefix("mlflow-artifacts:").lstrip("/")
    r = requests.get(f"{server.artifacts_api}/{root}/{path}", timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return r.content


def _cancer_frame(ws: Path) -> pd.DataFrame:
    return pd.read_csv(ws / "cancer.csv")


def test_trains_breast_cancer_and_logs_a_model_python_loads(workspace, server, mlflow_client):
    out = _train(workspace, TRAIN_SPEC, "--tracking-uri", server.url, "--experiment",
                 "cancer-training")
    assert out.returncode == 0, out.stderr
    for fold in range(1, 6):
        assert f"fold {fold}/5  train 364 rows, validate 91 rows  roc_auc " in out.stdout
    assert "final     trained on 455 rows, evaluated on 114 holdout rows" in out.stdout
    printed = re.search(r"^roc_auc \*\s+(\S+)\s+(\S+)\s+(\S+)$", out.stdout, re.M)
    assert printed, out.stdout
    run_id = _run_id(out.stdout)

    client = MlflowClient(server.url)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "cancer-training"
    params = run.data.params
    assert params["model.type"] == "xgboost"
    assert params["model.params.max_depth"] == "3"
    assert params["model.params.num_boost_round"] == "40"
    assert params["cv.scheme"] == "stratified" and params["cv.folds"] == "5"
    assert params["seed"] == "11" and params["data"] == "cancer@1"
    assert params["preprocessing.impute.numeric"] == "median"
    assert run.data.tags["slipway.dataset"] == "cancer@1"
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["cancer"]
    history = client.get_metric_history(run_id, "cv.roc_auc")
    assert sorted(m.step for m in history) == [0, 1, 2, 3, 4]
    folds = [m.value for m in sorted(history, key=lambda m: m.step)]
    metrics = run.data.metrics
    assert metrics["cv.roc_auc.mean"] == pytest.approx(np.mean(folds), abs=1e-12)
    assert metrics["cv.roc_auc.std"] == pytest.approx(np.std(folds), abs=1e-12)
    assert float(printed.group(1)) == pytest.approx(metrics["cv.roc_auc.mean"], abs=5e-5)
    assert float(printed.group(3)) == pytest.approx(metrics["holdout.roc_auc"], abs=5e-5)

    # The holdout the CLI evaluated: stratified, 20%, rows of the version.
    holdout = pd.read_csv(io.BytesIO(_artifact(server, run_id, "evaluation/holdout_predictions.csv")))
    frame = _cancer_frame(workspace)
    assert len(holdout) == 114 and holdout["row"].is_unique
    assert (holdout["y"].to_numpy() == frame["malignant"].to_numpy()[holdout["row"]]).all()
    assert holdout["y"].sum() == round(357 * 0.2)  # the classes' ratio kept

    # The real mlflow.xgboost loads the logged model; on the holdout's rows it
    # predicts what the CLI reported, and sklearn's AUC of that is the metric.
    booster = mlflow.xgboost.load_model(f"runs:/{run_id}/model")
    assert isinstance(booster, xgb.Booster)
    features = [c for c in frame.columns if c != "malignant"]
    x = frame.loc[holdout["row"], features]
    predicted = booster.predict(xgb.DMatrix(x))
    np.testing.assert_allclose(predicted, holdout["prediction"], rtol=0, atol=1e-6)
    assert roc_auc_score(holdout["y"], predicted) == pytest.approx(metrics["holdout.roc_auc"],
                                                                   abs=1e-6)
    assert booster.feature_names == features
    assert booster.num_boosted_rounds() == 40
    # Every holdout metric is scikit-learn's on the logged predictions.
    y, p = holdout["y"].to_numpy(), holdout["prediction"].to_numpy()
    label = (p > 0.5).astype(int)
    expected = {
        "roc_auc": roc_auc_score(y, p), "pr_auc": average_precision_score(y, p),
        "log_loss": log_loss(y, p), "brier": brier_score_loss(y, p),
        "accuracy": accuracy_score(y, label), "precision": precision_score(y, label),
        "recall": recall_score(y, label), "f1": f1_score(y, label),
        "f1_macro": f1_score(y, label, average="macro"),
    }
    for name, value in expected.items():
        assert metrics[f"holdout.{name}"] == pytest.approx(value, abs=1e-9), name
    counts = json.loads(_artifact(server, run_id, "evaluation/confusion_matrix.json"))["counts"]
    assert counts == confusion_matrix(y, label).tolist()

    # The same spec, data and seed make the same model file, byte for byte.
    again = _train(workspace, TRAIN_SPEC, "--tracking-uri", server.url, "--experiment",
                   "cancer-training")
    assert again.returncode == 0, again.stderr
    assert _artifact(server, _run_id(again.stdout), "model/model.ubj") == _artifact(
        server, run_id, "model/model.ubj")

    mlmodel = _artifact(server, run_id, "model/MLmodel").decode()
    assert "model_format: ubj" in mlmodel and "preprocessing: preprocessing.json" in mlmodel
    pre = json.loads(_artifact(server, run_id, "model/preprocessing.json"))
    assert [f["name"] for f in pre["features"]] == features


def test_preprocessing_is_fitted_on_the_training_rows_only(workspace, server):
    spec = TRAIN_SPEC.replace("type: xgboost\n  params: {num_boost_round: 40, max_depth: 3, "
                              "eta: 0.2}", "type: logistic\n  params: {l2: 1.0}")
    spec += "preprocessing: {scale: standard}\n"
    out = _train(workspace, spec, "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    run_id = _run_id(out.stdout)
    holdout = pd.read_csv(io.BytesIO(_artifact(server, run_id, "evaluation/holdout_predictions.csv")))
    pre = json.loads(_artifact(server, run_id, "model/preprocessing.json"))
    frame = _cancer_frame(workspace)
    training = frame.drop(index=holdout["row"])
    everything = frame
    for f in pre["features"]:
        column = training[f["name"]]
        assert f["center"] == pytest.approx(column.mean(), rel=1e-12), f["name"]
        assert f["scale"] == pytest.approx(column.std(ddof=0), rel=1e-12), f["name"]
    # ... and not on every row: the holdout moves the mean of some feature.
    assert any(f["center"] != pytest.approx(everything[f["name"]].mean(), rel=1e-9)
               for f in pre["features"])
    # The logistic model's holdout AUC, recomputed from its logged predictions.
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert roc_auc_score(holdout["y"], holdout["prediction"]) == pytest.approx(
        metrics["holdout.roc_auc"], abs=1e-9)
    assert metrics["holdout.roc_auc"] > 0.97
    model = json.loads(_artifact(server, run_id, "model/model.json"))
    assert model["link"] == "logistic" and len(model["coefficients"]) == 30


WINE_SPEC = """\
data: wine@1
target: target
task: multiclass
preprocessing: {scale: standard}
model: {type: logistic, params: {l2: 0.5}}
cv: {scheme: stratified, folds: 3}
holdout: 0.3
metric: log_loss
seed: 5
"""


def test_multinomial_logistic_model_files_reproduce_its_predictions(workspace, server):
    out = _train(workspace, WINE_SPEC, "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    assert "fold 3/3" in out.stdout and "log_loss *" in out.stdout
    run_id = _run_id(out.stdout)
    holdout = pd.read_csv(io.BytesIO(_artifact(server, run_id, "evaluation/holdout_predictions.csv")))
    probabilities = holdout[["p0", "p1", "p2"]].to_numpy()
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert log_loss(holdout["y"], probabilities) == pytest.approx(metrics["holdout.log_loss"],
                                                                  abs=1e-9)
    assert accuracy_score(holdout["y"], probabilities.argmax(1)) == pytest.approx(
        metrics["holdout.accuracy"], abs=1e-12)
    assert metrics["holdout.accuracy"] > 0.9
    # preprocessing.json and model.json are the whole model: applied in numpy
    # to the raw holdout rows they give the logged probabilities.
    pre = json.loads(_artifact(server, run_id, "model/preprocessing.json"))
    model = json.loads(_artifact(server, run_id, "model/model.json"))
    assert model["link"] == "softmax"
    wine = pd.read_csv(workspace / "wine.csv")
    names = [f["name"] for f in pre["features"]]
    x = wine.loc[holdout["row"], names].to_numpy()
    x = (x - [f["center"] for f in pre["features"]]) / [f["scale"] for f in pre["features"]]
    z = x @ np.array([model["coefficients"][n] for n in names]) + np.array(model["intercept"])
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, probabilities, rtol=0, atol=1e-9)
    assert list(holdout["label"]) == list(holdout["y"])  # wine's classes are 0, 1, 2


def test_ridge_regression_matches_scikit_learn_on_the_same_rows(workspace, server):
    spec = """\
data: diabetes@1
target: target
task: regression
preprocessing: {scale: standard}
model: {type: linear, params: {l2: 3.0}}
cv: {scheme: kfold, folds: 4}
holdout: 0.25
seed: 2
"""
    out = _train(workspace, spec, "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    assert "rmse *" in out.stdout
    run_id = _run_id(out.stdout)
    holdout = pd.read_csv(io.BytesIO(_artifact(server, run_id, "evaluation/holdout_predictions.csv")))
    frame = pd.read_csv(workspace / "diabetes.csv")
    features = [c for c in frame.columns if c != "target"]
    training = frame.drop(index=holdout["row"])
    # scikit-learn's pipeline on the rows the CLI trained on: the same predictions.
    scaler = StandardScaler().fit(training[features])
    ridge = Ridge(alpha=3.0).fit(scaler.transform(training[features]), training["target"])
    expected = ridge.predict(scaler.transform(frame.loc[holdout["row"], features]))
    np.testing.assert_allclose(holdout["prediction"], expected, rtol=0, atol=1e-8)
    y, p = holdout["y"].to_numpy(), holdout["prediction"].to_numpy()
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    for name, value in {"rmse": np.sqrt(mean_squared_error(y, p)),
                        "mae": mean_absolute_error(y, p), "r2": r2_score(y, p),
                        "mape": mean_absolute_percentage_error(y, p)}.items():
        assert metrics[f"holdout.{name}"] == pytest.approx(value, abs=1e-9), name
    assert sorted(m.step for m in MlflowClient(server.url).get_metric_history(run_id, "cv.rmse")) \
        == [0, 1, 2, 3]


def test_native_categories_and_time_folds_through_preprocessing_json(workspace, server):
    # A store's sales with a text column (with holes) and a day that orders the rows.
    rng = np.random.default_rng(4)
    n = 400
    shop = pd.DataFrame({
        "day": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "color": rng.choice(["red", "blue", "green", None], n, p=[.4, .3, .2, .1]),
        "x": np.where(rng.random(n) < .1, np.nan, rng.normal(size=n)),
    })
    shop["y"] = ((shop["x"].fillna(0) + (shop["color"] == "red") + rng.normal(scale=.5, size=n))
                 > .5).astype(int)
    shop.to_csv(workspace / "shop.csv", index=False)
    slipway("data", "add", "shop.csv", "--name", "shop", cwd=workspace)
    spec = """\
data: shop@1
target: y
exclude: [day]
preprocessing: {categorical: native, impute: {numeric: none, categorical: missing_category}}
model: {type: xgboost, params: {num_boost_round: 30, max_depth: 3}}
cv: {scheme: time, folds: 3, time: day}
holdout: 0.25
seed: 9
"""
    out = _train(workspace, spec, "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    # Time folds grow: each trains on everything before the block it validates.
    assert re.findall(r"fold \d/3  train (\d+) rows", out.stdout) == ["75", "150", "225"]
    run_id = _run_id(out.stdout)
    holdout = pd.read_csv(io.BytesIO(_artifact(server, run_id, "evaluation/holdout_predictions.csv")))
    assert sorted(holdout["row"]) == list(range(300, 400))  # the latest quarter
    pre = json.loads(_artifact(server, run_id, "model/preprocessing.json"))
    color = next(f for f in pre["features"] if f["name"] == "color")
    assert color["encoding"] == "native"
    assert color["categories"] == ["__missing__", "blue", "green", "red"]
    # preprocessing.json turned into XGBoost's inputs in Python; the logged
    # model.ubj then predicts what the CLI logged.
    rows = shop.loc[holdout["row"]]
    codes = rows["color"].fillna("__missing__").map(
        {c: float(i) for i, c in enumerate(color["categories"])})
    assert [f["name"] for f in pre["features"]] == ["color", "x"]  # the CSV's order
    x = np.column_stack([codes.to_numpy(), rows["x"].to_numpy()])  # x's NaN kept: XGBoost's own
    booster = xgb.Booster()
    booster.load_model(bytearray(_artifact(server, run_id, "model/model.ubj")))
    assert booster.feature_names == ["color", "x"] and booster.feature_types == ["c", "q"]
    data = xgb.DMatrix(x, feature_names=["color", "x"], feature_types=["c", "q"],
                       enable_categorical=True)
    np.testing.assert_allclose(booster.predict(data), holdout["prediction"], rtol=0, atol=1e-6)


def test_early_stopping_stops_each_fold_and_the_final_model_boosts_their_mean(workspace, server):
    spec = TRAIN_SPEC.replace("num_boost_round: 40", "num_boost_round: 1000, "
                              "early_stopping_rounds: 10")
    out = _train(workspace, spec, "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    kept = [int(n) for n in re.findall(r"  kept (\d+) rounds", out.stdout)]
    assert len(kept) == 5 and all(1 <= n < 1000 for n in kept), out.stdout
    final = max(1, round(sum(kept) / 5))
    assert f"{final} rounds (the folds' mean)" in out.stdout
    run_id = _run_id(out.stdout)
    run = MlflowClient(server.url).get_run(run_id)
    assert run.data.params["final.num_boost_round"] == str(final)
    assert run.data.params["model.params.early_stopping_rounds"] == "10"
    booster = xgb.Booster()
    booster.load_model(bytearray(_artifact(server, run_id, "model/model.ubj")))
    assert booster.num_boosted_rounds() == final


def test_a_search_trains_with_the_fixed_params_and_says_so(workspace):
    out = _train(workspace, SPEC, "--no-tracking")
    assert out.returncode == 0, out.stderr
    assert "data      cancer@1" in out.stdout  # the plan is checked and printed first
    assert "tuning (search:) is not built yet: training once with the fixed params" in out.stdout
    assert "fold 5/5" in out.stdout and "not tracked (--no-tracking)" in out.stdout


def test_what_a_trainer_cannot_do_fails_before_training(workspace):
    spec = TRAIN_SPEC.replace("type: xgboost\n  params: {num_boost_round: 40, max_depth: 3, "
                              "eta: 0.2}", "type: logistic\n  params: {l1: 0.5}")
    out = _train(workspace, spec, "--dry-run")
    assert out.returncode != 0
    assert "spec.yaml: model.params.l1: L1 regularisation is not built yet; use l2" in out.stderr
    assert "data      " not in out.stdout


def test_an_unreachable_tracking_server_fails_before_training(workspace):
    out = _train(workspace, TRAIN_SPEC, "--tracking-uri", "http://127.0.0.1:9")
    assert out.returncode != 0
    assert "fold 1/5" not in out.stdout
