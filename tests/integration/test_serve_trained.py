"""Serving what `slipway train` makes (issues 11 and 14): no training/serving skew.

Models are trained with the real `slipway train` on a real `slipway server`
(scikit-learn's breast cancer set, and a generated shop table with a text
column, missing values, scaling and a category that only the holdout has).
The logged model folder is then served by `slipway serve <folder>` and, once
registered, by a deployment of the running server; `/invocations` with the
holdout's raw rows in `dataframe_split` must answer the predictions the CLI
logged for them (evaluation/holdout_predictions.csv) to 1e-6, and labels
that agree with them.
"""
from __future__ import annotations

import io
import json
import math
import signal
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.tracking import MlflowClient

from conftest import free_port, slipway_binary, unique
from test_data import slipway
from test_serving import _answers, create, invoke, serving_version, wait_for
from test_train import _artifact, _run_id, cancer_frame

pytestmark = pytest.mark.slipway_only

PROBA = {"predict_method": "predict_proba"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("serve-trained-ws")
    cancer_frame().to_csv(ws / "cancer.csv", index=False)
    slipway("data", "add", "cancer.csv", "--name", "cancer", cwd=ws)
    _shop().to_csv(ws / "shop.csv", index=False)
    slipway("data", "add", "shop.csv", "--name", "shop", cwd=ws)
    return ws


def _shop(n: int = 600) -> pd.DataFrame:
    """A day that orders the rows; `color` (text, with holes) whose "violet"
    appears only in the last 10% (the time-ordered holdout: unseen in
    training); `price` with holes and a scale far from 1; `size` numeric;
    `member` a bool column (true/false in requests)."""
    rng = np.random.default_rng(12)
    color = rng.choice(["red", "blue", "green", "amber", None], n, p=[.3, .25, .2, .15, .1])
    color = np.where((np.arange(n) >= int(n * 0.9)) & (rng.random(n) < .3), "violet", color)
    shop = pd.DataFrame({
        "day": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "color": color,
        "price": np.where(rng.random(n) < .12, np.nan, rng.normal(500, 120, n)),
        "size": rng.integers(1, 6, n),
        "member": rng.random(n) < .3,
    })
    score = ((shop["price"].fillna(500) - 500) / 120 + (shop["color"] == "red")
             - .4 * shop["size"] + .8 * shop["member"] + rng.normal(scale=.6, size=n))
    shop["bought"] = np.where(score > -0.6, "yes", "no")
    shop["units"] = score * 3 + 20
    return shop


def _train(ws: Path, server, spec: str) -> tuple[str, pd.DataFrame]:
    (ws / "spec.yaml").write_text(spec)
    out = slipway("train", "spec.yaml", "--tracking-uri", server.url, "--experiment",
                  "serve-trained", cwd=ws, check=False)
    assert out.returncode == 0, out.stderr
    run_id = _run_id(out.stdout)
    holdout = pd.read_csv(io.BytesIO(_artifact(server, run_id,
                                               "evaluation/holdout_predictions.csv")))
    return run_id, holdout


def _body(rows: pd.DataFrame, params: dict | None = None) -> dict:
    body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    if params:
        body["params"] = params
    return body


def _raw_rows(ws: Path, csv: str, holdout: pd.DataFrame, inputs: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(ws / csv)
    return frame.loc[holdout["row"], inputs].reset_index(drop=True)


def _check_answers(post, rows: pd.DataFrame, holdout: pd.DataFrame, task: str) -> None:
    """`post(body)` answers the CLI's holdout predictions (probabilities on
    request, labels by default)."""
    if task == "regression":
        r = post(_body(rows))
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["predictions"], holdout["prediction"], rtol=0,
                                   atol=1e-6)
        return
    r = post(_body(rows, PROBA))
    assert r.status_code == 200, r.text
    proba = np.array(r.json()["predictions"])
    if task == "binary":
        assert proba.shape == (len(rows), 2)
        np.testing.assert_allclose(proba[:, 1], holdout["prediction"], rtol=0, atol=1e-6)
        index = (holdout["prediction"].to_numpy() > 0.5).astype(int)
    else:
        expected = holdout[[c for c in holdout.columns if c.startswith("p")]].to_numpy()
        np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-6)
        index = expected.argmax(axis=1)
    # Labels: the class the CLI's predictions pick, by its label.
    labels = post(_body(rows))
    assert labels.status_code == 200, labels.text
    by_index = dict(zip(holdout["y"], holdout["label"]))
    want = [by_index.get(i) for i in index]
    got = labels.json()["predictions"]
    assert [str(g) for g in got] == [str(w) for w in want]


def _serve_folder(folder: Path, tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen([str(slipway_binary()), "serve", str(folder), "--port", str(port),
                             "--no-access-log"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{url}/ping") or proc.poll() is not None,
                 what="slipway serve to start")
    except BaseException:
        proc.kill()
        raise
    if proc.poll() is not None:
        out, _ = proc.communicate()
        pytest.fail(f"slipway serve {folder} exited: {out}")
    return proc, url


def _stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


def _download(server, run_id: str, tmp_path: Path) -> Path:
    mlflow.set_tracking_uri(server.url)
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model",
                                                    dst_path=str(tmp_path / run_id)))


SHOP_SPEC = """\
data: shop@1
target: bought
task: binary
exclude: [day, units]
preprocessing: {categorical: native, scale: standard,
                impute: {numeric: none, categorical: missing_category}}
model: {type: xgboost, params: {num_boost_round: 40, max_depth: 4}}
cv: {scheme: time, folds: 3, time: day}
holdout: 0.2
seed: 3
"""

CASES = {
    # XGBoost with native categories, kept missing values, scaling and an
    # unseen category: the tree evaluator's categorical splits.
    "shop_xgboost_native": ("shop.csv", SHOP_SPEC, "binary"),
    # One-hot (unseen: all zeros), imputed median and most frequent, min-max
    # scaling, a logistic model: the linear evaluator; labels "no"/"yes".
    "shop_logistic_onehot": ("shop.csv", SHOP_SPEC.replace(
        "categorical: native, scale: standard,\n                impute: {numeric: none, "
        "categorical: missing_category}", "scale: minmax").replace(
        "{type: xgboost, params: {num_boost_round: 40, max_depth: 4}}",
        "{type: logistic, params: {l2: 0.5}}"), "binary"),
    # Regression on the same table: XGBoost with native categories.
    "shop_xgboost_regression": ("shop.csv", SHOP_SPEC.replace("target: bought", "target: units")
                                .replace("task: binary", "task: regression")
                                .replace("exclude: [day, units]", "exclude: [day, bought]"),
                                "regression"),
    # scikit-learn's breast cancer set: XGBoost, and logistic with scaling.
    "cancer_xgboost": ("cancer.csv", """\
data: cancer@1
target: malignant
task: binary
model: {type: xgboost, params: {num_boost_round: 30, max_depth: 3}}
cv: {scheme: stratified, folds: 3}
holdout: 0.2
seed: 11
""", "binary"),
    "cancer_logistic": ("cancer.csv", """\
data: cancer@1
target: malignant
task: binary
preprocessing: {scale: standard}
model: {type: logistic, params: {l2: 1.0}}
cv: {scheme: stratified, folds: 3}
holdout: 0.2
seed: 11
""", "binary"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_slipway_serve_answers_the_holdout_predictions_of_training(workspace, server, tmp_path,
                                                                   case):
    csv, spec, task = CASES[case]
    run_id, holdout = _train(workspace, server, spec)
    folder = _download(server, run_id, tmp_path)
    pre = json.loads((folder / "preprocessing.json").read_text())
    inputs = [f["name"] for f in pre["features"]]
    rows = _raw_rows(workspace, csv, holdout, inputs)
    if csv == "shop.csv":
        # The holdout holds what preprocessing must handle: holes and a
        # category training never saw.
        assert rows["color"].isna().any() and rows["price"].isna().any()
        assert (rows["color"] == "violet").any()
        assert "violet" not in next(f for f in pre["features"] if f["name"] == "color")[
            "categories"]
        member = next(f for f in pre["features"] if f["name"] == "member")
        assert member["kind"] == "numeric" and member["boolean"] is True
    if case == "shop_xgboost_native":
        # Splits on sets of categories (five of them: more than XGBoost's
        # max_cat_to_onehot), the evaluator's categorical path.
        import xgboost as xgb
        booster = xgb.Booster()
        booster.load_model(str(folder / "model.ubj"))
        trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]
        assert any(size > 1 for tree in trees["trees"] for size in tree["categories_sizes"])
    # Columns in another order than training's: found by name.
    rows = rows[inputs[::-1]]
    proc, url = _serve_folder(folder, tmp_path)
    try:
        _check_answers(lambda body: requests.post(f"{url}/invocations", json=body, timeout=30),
                       rows, holdout, task)
    finally:
        _stop(proc)


def test_the_bare_booster_would_differ_where_preprocessing_acts(workspace, server, tmp_path):
    """What makes the test above able to fail: serving the folder's model.ubj
    without its preprocessing gives other numbers on the same rows."""
    import xgboost as xgb

    run_id, holdout = _train(workspace, server, SHOP_SPEC)
    folder = _download(server, run_id, tmp_path)
    booster = xgb.Booster()
    booster.load_model(str(folder / "model.ubj"))
    rows = _raw_rows(workspace, "shop.csv", holdout, ["color", "price", "size", "member"])
    cats = next(f for f in json.loads((folder / "preprocessing.json").read_text())["features"]
                if f["name"] == "color")["categories"]
    codes = rows["color"].map({c: float(i) for i, c in enumerate(cats)})  # no imputation
    raw = np.column_stack([codes, rows["price"], rows["size"], rows["member"]])  # no scaling
    bare = booster.predict(xgb.DMatrix(raw, feature_names=booster.feature_names,
                                       feature_types=booster.feature_types,
                                       enable_categorical=True))
    assert np.abs(bare - holdout["prediction"].to_numpy()).max() > 1e-3


def test_a_deployment_serves_a_registered_trained_model(workspace, server, mlflow_client):
    run_id, holdout = _train(workspace, server, SHOP_SPEC)
    run = MlflowClient(server.url).get_run(run_id)
    name = unique("shop")
    mlflow_client.create_registered_model(name)
    version = mlflow_client.create_model_version(name, f"{run.info.artifact_uri}/model",
                                                 run_id=run_id).version
    dep = unique("dep")
    create(server, dep, f"models:/{name}/{version}")
    wait_for(lambda: serving_version(server, dep), timeout=60, what="the trained model to load")
    rows = _raw_rows(workspace, "shop.csv", holdout, ["color", "price", "size", "member"])
    assert rows["member"].dtype == bool  # sent as JSON true/false
    _check_answers(lambda body: invoke(server, dep, body), rows, holdout, "binary")

    # The signature comes from the slipway flavor: a missing column, or a
    # value of the wrong type, is a 400 that names the column.
    r = invoke(server, dep, _body(rows.drop(columns=["price"])))
    assert r.status_code == 400, r.text
    assert "price" in r.json()["message"], r.text
    wrong = rows.head(3).assign(color=[1.5, 2.5, 3.5])
    r = invoke(server, dep, _body(wrong))
    assert r.status_code == 400, r.text
    assert "color" in r.json()["message"], r.text
    # A bool column is typed boolean: numbers in its place are refused.
    r = invoke(server, dep, _body(rows.head(3).assign(member=[0.5, 1.5, 2.5])))
    assert r.status_code == 400, r.text
    assert "member" in r.json()["message"], r.text
    # An unknown predict_method is refused, naming the param.
    r = invoke(server, dep, _body(rows.head(2), {"predict_method": "explain"}))
    assert r.status_code == 400, r.text
    assert "predict_method" in r.json()["message"], r.text
    # The Open Inference Protocol on the same deployment: labels as BYTES.
    full = rows.dropna().head(5)
    oip = {"inputs": [
        {"name": "color", "shape": [len(full)], "datatype": "BYTES", "data": list(full["color"])},
        {"name": "price", "shape": [len(full)], "datatype": "FP64", "data": list(full["price"])},
        {"name": "size", "shape": [len(full)], "datatype": "INT64",
         "data": [int(v) for v in full["size"]]},
        {"name": "member", "shape": [len(full)], "datatype": "BOOL",
         "data": [bool(v) for v in full["member"]]}]}
    r = requests.post(f"{server.url}/v2/models/{dep}/infer", json=oip, timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["datatype"] == "BYTES" and out["shape"] == [len(full)]
    picked = holdout["prediction"].to_numpy()[full.index] > 0.5  # classes: no, yes
    assert out["data"] == ["yes" if p else "no" for p in picked]
    # One row with every feature missing: imputation and NaN paths, no error.
    empty = pd.DataFrame({"color": [None], "price": [math.nan], "size": [3], "member": [False]})
    r = invoke(server, dep, _body(empty))
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0] in ("no", "yes")
