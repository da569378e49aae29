"""`slipway train SPEC`: a training spec checked against a dataset version of
the workspace (`--dry-run`), and trained: cross-validation, the holdout, and a
run on a real `slipway server` with the model as an MLflow Model (issue 14).

The data is scikit-learn's breast cancer set (it ships in the package),
added with the real `slipway data add`; the spec's errors must name the file,
line and column, and the plan must describe that data. The trained model is
loaded back with the real `mlflow.xgboost.load_model`, and its predictions and
the run's metrics are checked against what Python computes from them."""
from __future__ import annotations

import hashlib
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


def cancer_frame() -> pd.DataFrame:
    """scikit-learn's breast cancer set, its target named `malignant` and
    its column names without spaces."""
    frame = skdatasets.load_breast_cancer(as_frame=True).frame
    frame = frame.rename(columns={"target": "malignant"})
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("train-ws")
    frame = cancer_frame()
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


def test_a_search_without_tracking_tunes_and_saves_nothing(workspace):
    spec = SPEC.replace("trials: 20", "trials: 2").replace("num_boost_round: 100",
                                                           "num_boost_round: 10")
    spec = spec.replace("gates:\n  - {metric: roc_auc, min: 0.95}\n", "")
    out = _train(workspace, spec, "--no-tracking")
    assert out.returncode == 0, out.stderr
    assert "data      cancer@1" in out.stdout  # the plan is checked and printed first
    assert "trial 2/2" in out.stdout and "not tracked (--no-tracking)" in out.stdout
    assert "not registered: --no-tracking" in out.stdout


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


# --- Tuning, gates and registration

TUNE_SPEC = """\
data: cancer@1
target: malignant
task: binary
model:
  type: xgboost
  params: {num_boost_round: 20}
search:
  algorithm: random
  trials: 6
  space:
    max_depth: {int: [1, 6]}
    eta: {log_uniform: [0.01, 0.5]}
cv: {scheme: stratified, folds: 3}
holdout: 0.2
metric: roc_auc
seed: 3
"""


def _children(client: MlflowClient, parent: str) -> list:
    run = client.get_run(parent)
    return client.search_runs([run.info.experiment_id],
                              f"tags.mlflow.parentRunId = '{parent}'", max_results=1000)


def test_random_search_logs_each_trial_as_a_child_and_the_parent_holds_the_best(workspace,
                                                                                server):
    experiment = "tune-random"
    out = _train(workspace, TUNE_SPEC, "--tracking-uri", server.url, "--experiment", experiment,
                 "--jobs", "2")
    assert out.returncode == 0, out.stderr
    lines = re.findall(r"^trial (\d)/6  (.*)  roc_auc (\S+)  best (\S+) \(trial (\d)\)$",
                       out.stdout, re.M)
    assert [int(n) for n, *_ in lines] == [1, 2, 3, 4, 5, 6], out.stdout
    parent = _run_id(out.stdout)
    client = MlflowClient(server.url)
    children = _children(client, parent)
    assert len(children) == 6
    assert sorted(int(c.data.tags["slipway.tuning.trial"]) for c in children) == list(range(6))
    means = {}
    for child in children:
        assert child.info.status == "FINISHED"
        depth = child.data.params["model.params.max_depth"]
        eta = float(child.data.params["model.params.eta"])
        assert depth in {"1", "2", "3", "4", "5", "6"} and 0.01 <= eta <= 0.5
        assert child.data.params["model.params.num_boost_round"] == "20"
        history = client.get_metric_history(child.info.run_id, "cv.roc_auc")
        assert sorted(m.step for m in history) == [0, 1, 2]
        mean = child.data.metrics["cv.roc_auc.mean"]
        assert mean == pytest.approx(np.mean([m.value for m in history]), abs=1e-12)
        means[int(child.data.tags["slipway.tuning.trial"])] = (mean, child)
    # Different trials sample different params.
    assert len({(c.data.params["model.params.max_depth"], c.data.params["model.params.eta"])
                for c in children}) == 6
    best = max(means, key=lambda t: (means[t][0], -t))
    run = client.get_run(parent)
    assert run.info.status == "FINISHED"
    assert run.data.params["tuning.best_trial"] == str(best)
    assert run.data.params["search.algorithm"] == "random"
    best_child = means[best][1]
    for key in ("model.params.max_depth", "model.params.eta"):
        assert run.data.params[key] == best_child.data.params[key]
    assert run.data.metrics["cv.roc_auc.mean"] == pytest.approx(means[best][0], abs=1e-12)
    assert f"best      trial {best}:" in out.stdout
    # The parent's model: refit on the 455 non-holdout rows with the best params.
    assert "final     trained on 455 rows, evaluated on 114 holdout rows" in out.stdout
    booster = xgb.Booster()
    booster.load_model(bytearray(_artifact(server, parent, "model/model.ubj")))
    assert booster.num_boosted_rounds() == 20
    # Its trees are no deeper than the best trial's max_depth (a leaf's depth
    # is its indentation in XGBoost's text dump).
    deepest = max(len(line) - len(line.lstrip("\t"))
                  for tree in booster.get_dump() for line in tree.splitlines())
    assert deepest <= int(best_child.data.params["model.params.max_depth"])
    assert "slipway.tuning.session" in run.data.tags

    # The same spec and seed sample the same params (in another experiment).
    again = _train(workspace, TUNE_SPEC, "--tracking-uri", server.url, "--experiment",
                   "tune-random-again")
    assert again.returncode == 0, again.stderr
    other = {int(c.data.tags["slipway.tuning.trial"]): c.data.params
             for c in _children(client, _run_id(again.stdout))}
    for trial, (_, child) in means.items():
        assert other[trial]["model.params.eta"] == child.data.params["model.params.eta"]
        assert other[trial]["model.params.max_depth"] == child.data.params["model.params.max_depth"]


def test_an_interrupted_session_resumes_and_runs_no_trial_twice(workspace, server):
    experiment = "tune-resume"
    spec = TUNE_SPEC.replace("trials: 6", "trials: 5")
    first = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", experiment,
                   "--max-trials", "2")
    assert first.returncode == 0, first.stderr
    assert "stopped   after 2 new trials (--max-trials): 2 of 5 trials done" in first.stdout
    assert "logged    run" not in first.stdout
    parent = re.search(r"^run       ([0-9a-f]+) on ", first.stdout, re.M).group(1)
    client = MlflowClient(server.url)
    assert client.get_run(parent).info.status == "KILLED"
    assert len(_children(client, parent)) == 2

    second = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", experiment)
    assert second.returncode == 0, second.stderr
    assert f"resume    tuning session" in second.stdout
    assert f"run {parent}, 2 trials already done" in second.stdout
    assert second.stdout.count("(done before: resumed)") == 2
    assert _run_id(second.stdout) == parent
    children = _children(client, parent)
    trials = [int(c.data.tags["slipway.tuning.trial"]) for c in children]
    assert sorted(trials) == [0, 1, 2, 3, 4]  # each once
    assert client.get_run(parent).info.status == "FINISHED"
    # A finished session is not resumed: the same command starts a new one.
    third = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", experiment,
                   "--max-trials", "1")
    assert "resume    " not in third.stdout
    assert _children(client, re.search(r"^run       ([0-9a-f]+) on ", third.stdout,
                                       re.M).group(1)).__len__() == 1


def test_a_killed_session_resumes_from_the_trials_it_finished(workspace, server):
    import subprocess
    from conftest import slipway_binary
    experiment = "tune-kill"
    spec = TUNE_SPEC.replace("trials: 6", "trials: 8").replace("num_boost_round: 20",
                                                               "num_boost_round: 200")
    (workspace / "kill.yaml").write_text(spec)
    proc = subprocess.Popen([str(slipway_binary()), "train", "kill.yaml", "--tracking-uri",
                             server.url, "--experiment", experiment], cwd=workspace,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("trial 2/8"):
            proc.kill()
            break
    proc.wait(timeout=30)
    parent = re.search(r"^run       ([0-9a-f]+) on ", "".join(seen), re.M).group(1)
    client = MlflowClient(server.url)
    done_before = len([c for c in _children(client, parent) if c.info.status == "FINISHED"])
    assert 2 <= done_before < 8
    again = slipway("train", "kill.yaml", "--tracking-uri", server.url, "--experiment",
                    experiment, cwd=workspace)
    assert f"run {parent}, {done_before} trials already done" in again.stdout
    children = _children(client, parent)
    trials = [int(c.data.tags["slipway.tuning.trial"]) for c in children
              if c.info.status == "FINISHED"]
    assert sorted(trials) == list(range(8))
    # A child the kill caught while it was being logged ran again; the
    # unfinished one is marked KILLED, not left RUNNING.
    assert {c.info.status for c in children} <= {"FINISHED", "KILLED"}


def test_halving_promotes_the_best_third_with_more_rounds(workspace, server):
    spec = TUNE_SPEC.replace("algorithm: random", "algorithm: halving").replace(
        "trials: 6", "trials: 9").replace("num_boost_round: 20", "num_boost_round: 27")
    out = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", "tune-halving")
    assert out.returncode == 0, out.stderr
    assert "rungs     9 trials x 3 rounds, 3 trials x 9 rounds, 1 trials x 27 rounds" in out.stdout
    assert "13 trials" not in out.stdout and "; 40 model fits" in out.stdout  # 13 x 3 folds + 1
    assert len(re.findall(r"^trial \d+/13  rung 0 \(3 rounds\)", out.stdout, re.M)) == 9
    assert len(re.findall(r"^trial \d+/13  rung 1 \(9 rounds\)", out.stdout, re.M)) == 3
    assert len(re.findall(r"^trial \d+/13  rung 2 \(27 rounds\)", out.stdout, re.M)) == 1
    client = MlflowClient(server.url)
    parent = _run_id(out.stdout)
    children = _children(client, parent)
    rung = {r: [c for c in children if c.data.tags["slipway.tuning.rung"] == str(r)]
            for r in range(3)}
    assert [len(rung[r]) for r in range(3)] == [9, 3, 1]
    for r, rounds in ((0, "3"), (1, "9"), (2, "27")):
        assert all(c.data.params["model.params.num_boost_round"] == rounds for c in rung[r])
    # Each rung's trials are the best third of the rung before.
    for r in (1, 2):
        before = sorted(rung[r - 1], key=lambda c: (-c.data.metrics["cv.roc_auc.mean"],
                                                    int(c.data.tags["slipway.tuning.trial"])))
        keep = {c.data.tags["slipway.tuning.trial"] for c in before[:len(rung[r])]}
        assert {c.data.tags["slipway.tuning.trial"] for c in rung[r]} == keep
    assert client.get_run(parent).data.params["tuning.best_trial"] == \
        rung[2][0].data.tags["slipway.tuning.trial"]


GATED_SPEC = TRAIN_SPEC + "gates:\n  - {metric: roc_auc, min: MIN}\n  - {metric: log_loss, max: 0.5}\n"


def test_gates_pass_and_fail_with_the_exit_code_and_the_table(workspace, server):
    passing = _train(workspace, GATED_SPEC.replace("MIN", "0.9"), "--tracking-uri", server.url)
    assert passing.returncode == 0, passing.stderr
    tail = passing.stdout[passing.stdout.index("\ngates     PASSED\n"):]
    assert "roc_auc >= 0.9" in tail and "log_loss <= 0.5" in tail
    assert tail.count("passed") == 2
    run = MlflowClient(server.url).get_run(_run_id(passing.stdout))
    assert run.data.tags["slipway.gates"] == "PASSED"
    assert run.data.metrics["gate.0.passed"] == 1 and run.data.metrics["gate.1.passed"] == 1

    failing = _train(workspace, GATED_SPEC.replace("MIN", "0.9999"), "--tracking-uri", server.url)
    assert failing.returncode != 0
    assert "1 of 2 gates FAILED" in failing.stderr
    tail = failing.stdout[failing.stdout.index("\ngates     FAILED\n"):]
    assert re.search(r"roc_auc >= 0.9999\s+0\.\d+: short by 0\.\d+\s+FAILED", tail), tail
    run = MlflowClient(server.url).get_run(_run_id(failing.stdout))
    assert run.info.status == "FINISHED"
    assert run.data.tags["slipway.gates"] == "FAILED"
    assert run.data.tags["slipway.gate.0"].endswith("FAILED")
    assert run.data.metrics["gate.0.passed"] == 0 and run.data.metrics["gate.1.passed"] == 1


def test_registration_follows_the_gates(workspace, server, mlflow_client):
    client = MlflowClient(server.url)
    spec = GATED_SPEC + "register: {model: cancer-reg, alias: candidate}\n"
    failing = _train(workspace, spec.replace("MIN", "0.9999"), "--tracking-uri", server.url)
    assert failing.returncode != 0
    assert "not registered: a gate failed, cancer-reg is unchanged" in failing.stdout
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_registered_model("cancer-reg")

    passing = _train(workspace, spec.replace("MIN", "0.9"), "--tracking-uri", server.url)
    assert passing.returncode == 0, passing.stderr
    run_id = _run_id(passing.stdout)
    assert f"registered cancer-reg version 1 from runs:/{run_id}/model" in passing.stdout
    version = client.get_model_version_by_alias("cancer-reg", "candidate")
    assert version.version == "1" and version.run_id == run_id
    assert version.source == f"runs:/{run_id}/model"
    assert version.tags["slipway.gates"] == "PASSED"
    assert version.tags["slipway.dataset"] == "cancer@1"
    assert version.tags["slipway.gate.0"].startswith("roc_auc >= 0.9: 0.9")
    assert version.tags["slipway.spec.sha256"] == hashlib.sha256(
        (workspace / "spec.yaml").read_bytes()).hexdigest()
    # The registered model loads with the real mlflow client.
    booster = mlflow.xgboost.load_model("models:/cancer-reg@candidate")
    assert booster.num_boosted_rounds() == 40

    # A failed gate later adds no version and leaves the alias where it was.
    again = _train(workspace, spec.replace("MIN", "0.9999"), "--tracking-uri", server.url)
    assert again.returncode != 0
    assert [v.version for v in client.search_model_versions("name='cancer-reg'")] == ["1"]
    assert client.get_model_version_by_alias("cancer-reg", "candidate").version == "1"


def test_champion_gates_evaluate_the_champion_on_the_same_holdout(workspace, server, mlflow_client):
    client = MlflowClient(server.url)
    # A weak champion at @production: one shallow tree on one feature.
    weak = TRAIN_SPEC.replace("{num_boost_round: 40, max_depth: 3, eta: 0.2}",
                              "{num_boost_round: 1, max_depth: 1}")
    weak += "features: [mean_fractal_dimension]\nregister: {model: cancer-champ, alias: production}\n"
    out = _train(workspace, weak, "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    assert client.get_model_version_by_alias("cancer-champ", "production").version == "1"

    spec = (TRAIN_SPEC + "gates:\n  - {champion: production, metric: roc_auc, margin: 0.01}\n"
            "register: {model: cancer-champ, alias: candidate}\n")
    first = _train(workspace, spec, "--tracking-uri", server.url)
    assert first.returncode == 0, first.stderr
    assert "\ngates     PASSED\n" in first.stdout, first.stdout
    run_id = _run_id(first.stdout)
    metrics = client.get_run(run_id).data.metrics
    # The champion's AUC on the candidate's holdout rows, recomputed with the
    # real mlflow.xgboost on the champion's registered model.
    holdout = pd.read_csv(io.BytesIO(_artifact(server, run_id, "evaluation/holdout_predictions.csv")))
    frame = _cancer_frame(workspace)
    champion = mlflow.xgboost.load_model("models:/cancer-champ@production")
    p = champion.predict(xgb.DMatrix(frame.loc[holdout["row"], ["mean_fractal_dimension"]]))
    expected = roc_auc_score(holdout["y"], p)
    assert "gate.0.champion" in metrics, first.stdout
    assert metrics["gate.0.champion"] == pytest.approx(expected, abs=1e-6)
    assert metrics["holdout.roc_auc"] > expected + 0.01
    assert f"vs {expected:.4f} (version 1)" in first.stdout
    # The paired bootstrap interval of the improvement is above the margin.
    low, high = map(float, re.search(r"improvement 95% interval \[(\S+), (\S+)\]",
                                     first.stdout).groups())
    assert 0.01 <= low <= metrics["holdout.roc_auc"] - expected <= high
    assert client.get_model_version_by_alias("cancer-champ", "candidate").version == "2"

    # The same model as champion: it does not beat itself by the margin.
    client.set_registered_model_alias("cancer-champ", "production", "2")
    second = _train(workspace, spec, "--tracking-uri", server.url)
    assert second.returncode != 0
    assert "(version 2): by +0.0000, improvement 95% interval [+0.0000, +0.0000]" in second.stdout and "\ngates     FAILED\n" in second.stdout
    assert "not registered: a gate failed, cancer-champ is unchanged" in second.stdout
    assert sorted(v.version for v in client.search_model_versions("name='cancer-champ'")) == \
        ["1", "2"]
    metrics = client.get_run(_run_id(second.stdout)).data.metrics
    assert metrics["gate.0.champion"] == pytest.approx(metrics["holdout.roc_auc"], abs=1e-12)


def test_no_champion_passes_and_says_so(workspace, server):
    spec = (TRAIN_SPEC + "gates:\n  - {champion: production, metric: roc_auc, margin: 0.01}\n"
            "register: {model: cancer-nochamp, alias: candidate}\n")
    out = _train(workspace, spec, "--tracking-uri", server.url)
    assert out.returncode == 0, out.stderr
    assert "no champion" in out.stdout and "\ngates     PASSED\n" in out.stdout


def test_tpe_learns_from_earlier_trials_and_resumes_with_the_same_proposals(workspace, server):
    spec = TUNE_SPEC.replace("algorithm: random", "algorithm: tpe").replace("trials: 6",
                                                                            "trials: 12")
    client = MlflowClient(server.url)
    whole = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", "tune-tpe",
                   "--jobs", "2")
    assert whole.returncode == 0, whole.stderr
    assert "note      tpe runs 2 trials at once" in whole.stdout
    assert re.findall(r"^trial (\d+)/12", whole.stdout, re.M) == [str(n) for n in range(1, 13)]
    parent = _run_id(whole.stdout)
    children = {int(c.data.tags["slipway.tuning.trial"]): c for c in _children(client, parent)}
    assert sorted(children) == list(range(12))
    best = max(children, key=lambda t: (children[t].data.metrics["cv.roc_auc.mean"], -t))
    assert client.get_run(parent).data.params["tuning.best_trial"] == str(best)
    assert client.get_run(parent).data.params["search.algorithm"] == "tpe"
    # The first 11 are random search's trials (same seed, same params): with
    # 2 at once, trial 10 sees 9 finished.
    random = _train(workspace, TUNE_SPEC.replace("trials: 6", "trials: 12"), "--tracking-uri",
                    server.url, "--experiment", "tune-tpe-random")
    assert random.returncode == 0, random.stderr
    random_children = {int(c.data.tags["slipway.tuning.trial"]): c.data.params
                       for c in _children(client, _run_id(random.stdout))}
    for t in range(11):
        assert children[t].data.params["model.params.eta"] == random_children[t]["model.params.eta"]
    assert any(children[t].data.params["model.params.eta"] != random_children[t]["model.params.eta"]
               for t in (10, 11))
    # Interrupted after 10, resumed: trials 11 and 12 proposed as in the whole run.
    first = _train(workspace, spec, "--tracking-uri", server.url, "--experiment",
                   "tune-tpe-resume", "--max-trials", "10", "--jobs", "2")
    assert first.returncode == 0 and "10 of 12 trials done" in first.stdout, first.stdout
    second = _train(workspace, spec, "--tracking-uri", server.url, "--experiment",
                    "tune-tpe-resume", "--jobs", "2")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("(done before: resumed)") == 10
    resumed = {int(c.data.tags["slipway.tuning.trial"]): c.data.params
               for c in _children(client, _run_id(second.stdout))}
    assert sorted(resumed) == list(range(12))
    for t in (10, 11):
        for key in ("model.params.eta", "model.params.max_depth"):
            assert resumed[t][key] == children[t].data.params[key]
