"""The model folder `slipway train` writes is an MLflow Model the real mlflow
client loads (issue 14): `mlflow.pyfunc.load_model` through the loader module
the folder ships (code/slipway_pyfunc.py), which applies preprocessing.json
as Slipway's serving does, and `mlflow.xgboost.load_model` for the booster.

Trained with the real `slipway train` on a real `slipway server` (the tables
of test_serve_trained: scikit-learn's breast cancer set and wine set, and a
generated shop table with a text column, missing values, scaling and a
category only the holdout has). pyfunc's predictions of the holdout's raw
rows must be the CLI's holdout predictions (to 1e-6) and what `slipway
serve` answers for the same rows; its labels Slipway's labels.
"""
from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import mlflow
import mlflow.pyfunc
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb
from sklearn import datasets as skdatasets

from test_data import slipway
from test_serve_trained import (CASES, PROBA, SHOP_SPEC, _body, _download, _raw_rows,
                                _serve_folder, _stop, _train, workspace)  # noqa: F401

pytestmark = pytest.mark.slipway_only

WINE_SPEC = """\
data: wine@1
target: target
task: multiclass
preprocessing: {scale: standard}
model: {type: logistic, params: {l2: 1.0}}
cv: {scheme: stratified, folds: 3}
holdout: 0.25
seed: 5
"""

PYFUNC_CASES = {
    **CASES,
    "wine_logistic_multiclass": ("wine.csv", WINE_SPEC, "multiclass"),
    "wine_xgboost_multiclass": ("wine.csv", WINE_SPEC.replace(
        "{type: logistic, params: {l2: 1.0}}",
        "{type: xgboost, params: {num_boost_round: 20, max_depth: 3}}"), "multiclass"),
}


@pytest.fixture(scope="module")
def wine_workspace(workspace):  # noqa: F811
    if not (workspace / "wine.csv").exists():
        wine = skdatasets.load_wine(as_frame=True).frame
        wine.columns = [c.replace("/", "_") for c in wine.columns]
        wine.to_csv(workspace / "wine.csv", index=False)
        slipway("data", "add", "wine.csv", "--name", "wine", cwd=workspace)
    return workspace


def _expected_labels(holdout: pd.DataFrame, task: str) -> list[str]:
    if task == "binary":
        index = (holdout["prediction"].to_numpy() > 0.5).astype(int)
    else:
        index = holdout[[c for c in holdout.columns if c.startswith("p")]].to_numpy().argmax(1)
    by_index = dict(zip(holdout["y"], holdout["label"]))
    return [str(by_index[i]) for i in index]


@pytest.mark.parametrize("case", list(PYFUNC_CASES))
def test_pyfunc_predicts_what_training_and_serving_predict(wine_workspace, server, tmp_path,
                                                            case):
    csv, spec, task = PYFUNC_CASES[case]
    run_id, holdout = _train(wine_workspace, server, spec)
    folder = _download(server, run_id, tmp_path)
    pre = json.loads((folder / "preprocessing.json").read_text())
    inputs = [f["name"] for f in pre["features"]]
    rows = _raw_rows(wine_workspace, csv, holdout, inputs)[inputs[::-1]]  # found by name

    model = mlflow.pyfunc.load_model(str(folder))
    assert model.metadata.flavors["python_function"]["loader_module"] == "slipway_pyfunc"
    if task == "regression":
        got = np.asarray(model.predict(rows))
        np.testing.assert_allclose(got, holdout["prediction"], rtol=0, atol=1e-6)
    else:
        proba = np.asarray(model.predict(rows, params=PROBA))
        if task == "binary":
            assert proba.shape == (len(rows), 2)
            np.testing.assert_allclose(proba[:, 1], holdout["prediction"], rtol=0, atol=1e-6)
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        else:
            expected = holdout[[c for c in holdout.columns if c.startswith("p")]].to_numpy()
            np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-6)
        labels = model.predict(rows)
        assert [str(v) for v in labels] == _expected_labels(holdout, task)

    # The same rows through `slipway serve` of the same folder: the same answers.
    proc, url = _serve_folder(folder, tmp_path)
    try:
        post = lambda body: requests.post(f"{url}/invocations", json=body, timeout=30)  # noqa: E731
        if task == "regression":
            served = post(_body(rows)).json()["predictions"]
            np.testing.assert_allclose(model.predict(rows), served, rtol=0, atol=1e-6)
        else:
            served = post(_body(rows, PROBA)).json()["predictions"]
            np.testing.assert_allclose(model.predict(rows, params=PROBA), served, rtol=0,
                                       atol=1e-6)
            served_labels = post(_body(rows)).json()["predictions"]
            assert list(model.predict(rows)) == served_labels
    finally:
        _stop(proc)

    if "xgboost" in case:
        booster = mlflow.xgboost.load_model(str(folder))
        assert isinstance(booster, xgb.Booster)
        assert booster.feature_names == pre["outputs"]


def test_pyfunc_handles_holes_unseen_categories_and_a_row_of_nothing(workspace, server,  # noqa: F811
                                                                     tmp_path):
    """The shop table's holdout: a color training never saw, missing colors
    and prices; then rows made up here: every feature missing, a color
    never seen, a bool column as true/false; and errors named like serving's."""
    run_id, holdout = _train(workspace, server, SHOP_SPEC)
    folder = _download(server, run_id, tmp_path)
    model = mlflow.pyfunc.load_model(str(folder))
    rows = _raw_rows(workspace, "shop.csv", holdout, ["color", "price", "size", "member"])
    assert rows["color"].isna().any() and rows["price"].isna().any()
    assert (rows["color"] == "violet").any()
    np.testing.assert_allclose(model.predict(rows, params=PROBA)[:, 1], holdout["prediction"],
                               rtol=0, atol=1e-6)

    made = pd.DataFrame({"color": [None, "ultraviolet", "red", "red"],
                         "price": [math.nan, 480.0, None, 510.5],
                         "size": [3, 1, 2, 5], "member": [False, True, True, False]})
    proc, url = _serve_folder(folder, tmp_path)
    try:
        served = requests.post(f"{url}/invocations", json=_body(made, PROBA), timeout=30)
        assert served.status_code == 200, served.text
        np.testing.assert_allclose(model.predict(made, params=PROBA),
                                   served.json()["predictions"], rtol=0, atol=1e-6)
        labels = requests.post(f"{url}/invocations", json=_body(made), timeout=30).json()
        assert list(model.predict(made)) == labels["predictions"]
    finally:
        _stop(proc)

    # What preprocessing must refuse, it refuses naming the column.
    with pytest.raises(Exception, match="price"):
        model.predict(made.drop(columns=["price"]))
    with pytest.raises(Exception, match="color"):
        model.predict(made.assign(color=[1.5, 2.5, 3.5, 4.5]))
    with pytest.raises(Exception, match="predict_method"):
        model.predict(made, params={"predict_method": "explain"})


def test_pyfunc_loads_in_a_fresh_python_from_the_run(workspace, server, tmp_path):  # noqa: F811
    """`runs:/<id>/model` in another interpreter: nothing but the folder and
    mlflow is needed (the loader comes with the folder)."""
    run_id, holdout = _train(workspace, server, CASES["cancer_logistic"][1])
    code = (
        "import sys, mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({server.url!r})\n"
        f"m = mlflow.pyfunc.load_model('runs:/{run_id}/model')\n"
        "rows = pd.read_csv(sys.argv[1])\n"
        "p = m.predict(rows, params={'predict_method': 'predict_proba'})\n"
        "print('\\n'.join(repr(float(v)) for v in p[:, 1]))\n")
    pre = json.loads((_download(server, run_id, tmp_path) / "preprocessing.json").read_text())
    rows = _raw_rows(workspace, "cancer.csv", holdout, [f["name"] for f in pre["features"]])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "rows.csv")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    got = [float(v) for v in out.stdout.split()]
    np.testing.assert_allclose(got, holdout["prediction"], rtol=0, atol=1e-6)
