"""`slipway train` on scikit-learn's digits set (issue 14): a multiclass
task with 64 pixel features and 10 classes, as it ships inside scikit-learn
(sklearn.datasets.load_digits), added with the real `slipway data add`.

The gates that should pass pass and the model is registered; a gate that
should fail fails with exit code 1 and a table naming it. The saved model
is loaded by the real Python xgboost, whose predictions of the holdout rows
must equal the run's (1e-6), and the run's holdout metrics are
scikit-learn's on them (1e-9). `slipway evaluate --spec --holdout` of the
registered model scores the same rows with the same probabilities, and its
multiclass fairness (one class against the rest) agrees with pandas. Few
trials and rounds keep it quick."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from mlflow.tracking import MlflowClient
from sklearn import datasets as skdatasets
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from test_data import slipway
from test_train import _artifact, _run_id, _train

SPEC = """\
data: digits@1
target: target
task: multiclass
model:
  type: xgboost
  params: {num_boost_round: 12}
search:
  algorithm: random
  trials: 3
  space:
    max_depth: {int: [2, 4]}
    eta: {log_uniform: [0.2, 0.5]}
cv: {scheme: stratified, folds: 3}
holdout: 0.2
metric: accuracy
seed: 8
gates:
  - {metric: accuracy, min: 0.85}
  - {metric: roc_auc_ovr, min: 0.95}
register: {model: digits, alias: candidate}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("digits-ws")
    frame = skdatasets.load_digits(as_frame=True).frame
    assert frame.shape == (1797, 65)
    frame.to_csv(ws / "digits.csv", index=False)
    slipway("data", "add", "digits.csv", "--name", "digits", cwd=ws)
    return ws


def test_digits_gates_pass_and_the_model_predicts_as_python_xgboost(workspace, server,
                                                                   mlflow_client):
    out = _train(workspace, SPEC, "--tracking-uri", server.url, "--experiment", "digits")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "features  64 (64 numeric, 0 categorical)" in out.stdout
    classes = re.search(r"^task      multiclass on 'target': classes (.*)$", out.stdout, re.M)
    assert classes, out.stdout
    assert sorted(re.findall(r"(\d) \(\d+\)", classes.group(1))) == [str(c) for c in range(10)]
    tail = out.stdout[out.stdout.index("\ngates     PASSED\n"):]
    assert re.search(r"accuracy >= 0.85\s+0\.\d+\s+passed", tail), tail
    assert re.search(r"roc_auc_ovr >= 0.95\s+0\.\d+\s+passed", tail), tail
    run_id = _run_id(out.stdout)
    assert re.search(r"registered digits version \d+ from runs:/" + run_id, out.stdout)

    holdout = pd.read_csv(io.BytesIO(_artifact(server, run_id,
                                               "evaluation/holdout_predictions.csv")))
    assert len(holdout) == round(1797 * 0.2) and holdout["row"].is_unique
    frame = pd.read_csv(workspace / "digits.csv")
    features = [c for c in frame.columns if c != "target"]
    assert len(features) == 64
    assert (holdout["y"].to_numpy() == frame["target"].to_numpy()[holdout["row"]]).all()
    # Every class keeps its share in the stratified holdout (to within a row).
    shares = frame["target"].value_counts() * 0.2
    counts = holdout["y"].value_counts()
    assert all(abs(counts[c] - shares[c]) <= 1 for c in range(10))

    # Python xgboost on the saved file predicts the logged probabilities.
    booster = xgb.Booster()
    booster.load_model(bytearray(_artifact(server, run_id, "model/model.ubj")))
    assert booster.feature_names == features
    p = booster.predict(xgb.DMatrix(frame.loc[holdout["row"], features]))
    assert p.shape == (len(holdout), 10)
    logged = holdout[[f"p{c}" for c in range(10)]].to_numpy()
    np.testing.assert_allclose(logged, p, rtol=0, atol=1e-6)
    loaded = mlflow.xgboost.load_model("models:/digits@candidate")
    np.testing.assert_allclose(loaded.predict(xgb.DMatrix(frame.loc[holdout["row"], features])),
                               p, rtol=0, atol=1e-6)
    # The holdout metrics are scikit-learn's on those predictions.
    y = holdout["y"].to_numpy()
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    label = logged.argmax(axis=1)
    assert metrics["holdout.accuracy"] == pytest.approx(accuracy_score(y, label), abs=1e-9)
    assert metrics["holdout.f1_macro"] == pytest.approx(f1_score(y, label, average="macro"),
                                                        abs=1e-9)
    assert metrics["holdout.log_loss"] == pytest.approx(log_loss(y, logged, labels=range(10)),
                                                        abs=1e-9)
    assert metrics["holdout.roc_auc_ovr"] == pytest.approx(
        roc_auc_score(y, logged, multi_class="ovr"), abs=1e-9)
    assert metrics["gate.0.passed"] == 1 and metrics["gate.1.passed"] == 1

    # `slipway evaluate` of the registered model on the spec's holdout: the
    # same rows and probabilities; fairness of a multiclass task needs the
    # class whose selection the groups compare.
    def evaluate(*args):
        return slipway("evaluate", "models:/digits@candidate", "--data", "digits@1",
                       "--tracking-uri", server.url, *args, cwd=workspace, check=False)

    (workspace / "digits.yaml").write_text(SPEC)
    out = evaluate("--spec", "digits.yaml", "--holdout", "--sensitive", "pixel_0_2")
    assert out.returncode != 0
    assert "--sensitive on a multiclass task needs --positive-class" in out.stderr
    out = evaluate("--spec", "digits.yaml", "--holdout", "--sensitive", "pixel_0_2",
                   "--positive-class", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rows      the holdout of digits.yaml: 359 of 1797 rows" in out.stdout
    assert "fairness of 'pixel_0_2' on 359 holdout rows, positive class 3" in out.stdout
    assert "\ngates     PASSED\n" in out.stdout
    evaluated = re.search(r"^logged    run ([0-9a-f]+): evaluation/", out.stdout, re.M).group(1)
    scored = pd.read_csv(io.BytesIO(_artifact(server, evaluated, "evaluation/predictions.csv")))
    assert list(scored["row"]) == list(holdout["row"])
    np.testing.assert_allclose(scored[[f"p{c}" for c in range(10)]].to_numpy(), p, rtol=0,
                               atol=1e-6)
    # Selection of class 3 per value of pixel_0_2, recomputed with pandas.
    report = json.loads(_artifact(server, evaluated, "fairness/report.json"))
    rates = pd.Series(p.argmax(axis=1) == 3).groupby(
        frame.loc[holdout["row"], "pixel_0_2"].to_numpy()).mean()
    got = {float(g["group"]): g["selection_rate"] for g in report["columns"][0]["groups"]}
    assert got == pytest.approx({float(k): v for k, v in rates.items()}, abs=1e-12)


def test_digits_gate_that_should_fail_fails_and_names_itself(workspace, server):
    # A 12-round model of 8x8 digits is good, not 99.9% accurate.
    spec = SPEC.replace("register: {model: digits, alias: candidate}\n",
                        "  - {metric: accuracy, min: 0.999}\n"
                        "register: {model: digits-strict, alias: candidate}\n")
    spec = spec.replace("trials: 3", "trials: 1")
    out = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", "digits")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 of 3 gates FAILED" in out.stderr
    assert "not registered: a gate failed, digits-strict is unchanged" in out.stdout
    tail = out.stdout[out.stdout.index("\ngates     FAILED\n"):]
    assert re.search(r"accuracy >= 0.85\s+0\.\d+\s+passed", tail), tail
    found = re.search(r"accuracy >= 0.999\s+(0\.\d+): short by (0\.\d+)\s+FAILED", tail)
    assert found, tail
    assert float(found.group(2)) == pytest.approx(0.999 - float(found.group(1)), abs=2e-4)
    run = MlflowClient(server.url).get_run(_run_id(out.stdout))
    assert run.data.tags["slipway.gates"] == "FAILED"
    assert run.data.metrics["gate.2.passed"] == 0
    assert run.data.metrics["holdout.accuracy"] == pytest.approx(float(found.group(1)), abs=5e-5)
    assert "digits-strict" not in {m.name for m in
                                   MlflowClient(server.url).search_registered_models()}
