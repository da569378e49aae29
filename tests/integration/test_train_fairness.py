"""`slipway train` with `fairness:` and `robustness:` (issue 14): per-group
metrics of the final model on the holdout, the disparities fairlearn defines,
and the stability of its predictions under noise and missing features, logged
to the run as metrics and JSON and checked by the spec's gates.

The data is generated loan applications with a planted bias: in one version
the applicant's sex moves the label (and so the model that reads it), in the
other it does not. The fairness gate must fail on the first and pass on the
second. The numbers of fairness/report.json are recomputed with fairlearn
(PyPI) from the run's own holdout predictions and must agree to 1e-9; the
robustness report's missing-feature numbers are recomputed in numpy from the
logged model.json and preprocessing.json."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (MetricFrame, demographic_parity_difference,
                               demographic_parity_ratio, equal_opportunity_difference,
                               equalized_odds_difference, false_positive_rate, selection_rate,
                               true_positive_rate)
from mlflow.tracking import MlflowClient
from sklearn.metrics import (accuracy_score, mean_absolute_error, mean_squared_error,
                             precision_score, roc_auc_score)

from test_data import slipway
from test_train import _artifact, _run_id

ROWS = 4000


def loans(biased: bool) -> pd.DataFrame:
    """Applications: income, debt, tenure, a column of noise, sex and an age
    band (2% of age bands missing). With `biased`, being male adds 2 to the
    log-odds of approval; otherwise sex has nothing to do with it. Every
    other column is drawn the same way in both."""
    rng = np.random.default_rng(20261207)
    frame = pd.DataFrame({
        "income": rng.normal(50, 15, ROWS).round(2),
        "debt": rng.normal(20, 8, ROWS).round(2),
        "tenure": rng.integers(0, 21, ROWS),
        "noise": rng.normal(0, 1, ROWS).round(3),
        "sex": rng.choice(["F", "M"], ROWS),
        "age_band": rng.choice(["18-29", "30-49", "50+"], ROWS),
    })
    frame.loc[rng.random(ROWS) < 0.02, "age_band"] = None
    logit = (0.08 * (frame["income"] - 50) - 0.12 * (frame["debt"] - 20)
             + 0.06 * (frame["tenure"] - 10))
    if biased:
        logit = logit + np.where(frame["sex"] == "M", 1.0, -1.0)
    frame["approved"] = (rng.random(ROWS) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("fair-ws")
    loans(biased=True).to_csv(ws / "loans_biased.csv", index=False)
    slipway("data", "add", "loans_biased.csv", "--name", "loans", cwd=ws)  # loans@1
    loans(biased=False).to_csv(ws / "loans_fair.csv", index=False)
    slipway("data", "add", "loans_fair.csv", "--name", "loans", cwd=ws)  # loans@2
    return ws


SPEC = """\
data: loans@1
target: approved
task: binary
model: {type: xgboost, params: {num_boost_round: 60, max_depth: 3, eta: 0.2}}
cv: {scheme: stratified, folds: 3}
holdout: 0.25
seed: 5
fairness:
  sensitive: [sex, age_band]
  positive_class: 1
robustness: {noise: 0.05}
gates:
  - {metric: roc_auc, min: 0.7}
  - {metric: fairness.sex.demographic_parity_difference, max: 0.1}
  - {metric: fairness.sex.disparate_impact_ratio, min: 0.8}
register: {model: loans, alias: candidate}
"""


def _train(ws: Path, spec: str, *args: str):
    (ws / "spec.yaml").write_text(spec)
    return slipway("train", "spec.yaml", *args, cwd=ws, check=False)


def _holdout(server, run_id: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(_artifact(server, run_id, "evaluation/holdout_predictions.csv")))


@pytest.fixture(scope="module")
def biased_run(workspace, server):
    out = _train(workspace, SPEC, "--tracking-uri", server.url, "--experiment", "fair-biased")
    return out, _run_id(out.stdout)


@pytest.fixture(scope="module")
def fair_run(workspace, server):
    out = _train(workspace, SPEC, "--data", "loans@2", "--tracking-uri", server.url,
                 "--experiment", "fair-unbiased")
    return out, _run_id(out.stdout)


def test_plan_names_the_sensitive_columns(workspace):
    out = _train(workspace, SPEC, "--dry-run")
    assert out.returncode == 0, out.stderr
    assert ("fairness  groups of sex, age_band on the holdout, positive class 1\n"
            in out.stdout), out.stdout
    assert ("robustness noise of 0.05 x each numeric feature's std, each feature missing in "
            "turn on the holdout\n" in out.stdout)
    assert "gate      fairness.sex.demographic_parity_difference <= 0.1" in out.stdout


def test_planted_bias_fails_the_fairness_gate(biased_run, server):
    out, run_id = biased_run
    assert out.returncode != 0
    assert "2 of 3 gates FAILED" in out.stderr, out.stderr
    tail = out.stdout[out.stdout.index("\ngates     FAILED\n"):]
    assert re.search(r"roc_auc >= 0.7\s+0\.\d+\s+passed", tail), tail
    found = re.search(r"fairness.sex.demographic_parity_difference <= 0.1\s+(0\.\d+): short by "
                      r"0\.\d+\s+FAILED", tail)
    assert found, tail
    assert float(found.group(1)) > 0.3  # the model learnt the bias planted in the labels
    assert re.search(r"fairness.sex.disparate_impact_ratio >= 0.8\s+0\.\d+: short by 0\.\d+\s+"
                     r"FAILED", tail), tail
    assert "not registered: a gate failed, loans is unchanged" in out.stdout
    # The table per group is printed before the gates.
    assert "fairness of 'sex' on 1000 holdout rows, positive class 1" in out.stdout
    run = MlflowClient(server.url).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["slipway.gates"] == "FAILED"
    assert run.data.metrics["gate.1.passed"] == 0 and run.data.metrics["gate.0.passed"] == 1
    assert run.data.metrics["fairness.sex.demographic_parity_difference"] == pytest.approx(
        float(found.group(1)), abs=5e-5)
    # The model card has a fairness section with the same figure.
    card = _artifact(server, run_id, "model_card.md").decode()
    section = card[card.index("\n## Fairness\n"):card.index("\n## Lineage\n")]
    row = re.search(r"\| fairness\.sex\.demographic_parity_difference \| (\S+) \|", section)
    assert row and float(row.group(1)) == pytest.approx(float(found.group(1)), abs=5e-5), section


def test_unbiased_data_passes_and_registers(fair_run, server):
    out, run_id = fair_run
    assert out.returncode == 0, out.stdout + out.stderr
    tail = out.stdout[out.stdout.index("\ngates     PASSED\n"):]
    assert tail.count("passed") == 3, tail
    assert re.search(r"registered loans version \d+ from runs:/" + run_id, out.stdout)
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert metrics["fairness.sex.demographic_parity_difference"] < 0.1
    assert metrics["fairness.sex.disparate_impact_ratio"] > 0.8


def _fairlearn_reference(frame: pd.DataFrame, holdout: pd.DataFrame, column: str) -> dict:
    """fairlearn's numbers for the holdout rows, from the run's predictions."""
    y_true = holdout["y"].to_numpy()
    y_pred = (holdout["prediction"] > 0.5).astype(int).to_numpy()
    groups = frame.loc[holdout["row"], column].fillna("(missing)").to_numpy()
    frame_by_group = MetricFrame(
        metrics={"selection_rate": selection_rate, "true_positive_rate": true_positive_rate,
                 "false_positive_rate": false_positive_rate, "accuracy": accuracy_score,
                 "precision": lambda t, p: precision_score(t, p, zero_division=0)},
        y_true=y_true, y_pred=y_pred, sensitive_features=groups)
    kw = dict(sensitive_features=groups)
    return {
        "by_group": frame_by_group.by_group,
        "counts": pd.Series(groups).value_counts(),
        "demographic_parity_difference": demographic_parity_difference(y_true, y_pred, **kw),
        "disparate_impact_ratio": demographic_parity_ratio(y_true, y_pred, **kw),
        "equal_opportunity_difference": equal_opportunity_difference(y_true, y_pred, **kw),
        "equalized_odds_difference": equalized_odds_difference(y_true, y_pred, **kw),
    }


@pytest.mark.parametrize("which", ["biased", "fair"])
def test_report_agrees_with_fairlearn(which, biased_run, fair_run, workspace, server):
    _, run_id = biased_run if which == "biased" else fair_run
    frame = pd.read_csv(workspace / ("loans_biased.csv" if which == "biased" else
                                     "loans_fair.csv"))
    holdout = _holdout(server, run_id)
    assert len(holdout) == 1000
    report = json.loads(_artifact(server, run_id, "fairness/report.json"))
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    assert report["task"] == "binary" and report["positive_class"] == "1"
    assert report["rows"] == 1000
    assert [c["column"] for c in report["columns"]] == ["sex", "age_band"]
    worst = {}
    for column in report["columns"]:
        name = column["column"]
        assert column["feature"] is True
        ref = _fairlearn_reference(frame, holdout, name)
        names = [g["group"] for g in column["groups"]]
        assert sorted(names) == sorted(ref["counts"].index)
        if name == "age_band":
            assert names[-1] == "(missing)" and column["groups"][-1]["count"] > 0
        for group in column["groups"]:
            expected = ref["by_group"].loc[group["group"]]
            assert group["count"] == ref["counts"][group["group"]]
            for key in ("selection_rate", "true_positive_rate", "false_positive_rate",
                        "accuracy", "precision"):
                assert group[key] == pytest.approx(expected[key], abs=1e-9), (name, group, key)
        for key in ("demographic_parity_difference", "disparate_impact_ratio",
                    "equal_opportunity_difference", "equalized_odds_difference"):
            assert column[key] == pytest.approx(ref[key], abs=1e-9), (name, key)
            assert metrics[f"fairness.{name}.{key}"] == pytest.approx(ref[key], abs=1e-9)
            pick = min if key.endswith("_ratio") else max
            worst[key] = pick(worst.get(key, ref[key]), ref[key])
        # The holdout's own accuracy, as one group.
        assert column["overall"]["accuracy"] == pytest.approx(metrics["holdout.accuracy"],
                                                              abs=1e-12)
    for key, value in worst.items():
        assert metrics[f"fairness.{key}"] == pytest.approx(value, abs=1e-9)
        assert report["metrics"][f"fairness.{key}"] == pytest.approx(value, abs=1e-9)


def test_excluded_sensitive_column_is_still_assessed(workspace, server):
    spec = (SPEC.replace("task: binary\n", "task: binary\nexclude: [sex]\n")
            .replace("robustness: {noise: 0.05}\n", ""))
    spec = spec[:spec.index("gates:")]
    out = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", "fair-excluded")
    assert out.returncode == 0, out.stderr
    assert "fairness  groups of sex (not a feature), age_band" in out.stdout
    assert "fairness of 'sex' (not a feature) on 1000 holdout rows" in out.stdout
    run_id = _run_id(out.stdout)
    report = json.loads(_artifact(server, run_id, "fairness/report.json"))
    assert report["columns"][0]["column"] == "sex" and report["columns"][0]["feature"] is False
    pre = json.loads(_artifact(server, run_id, "model/preprocessing.json"))
    assert "sex" not in [f["name"] for f in pre["features"]]
    # The model cannot see sex, so it selects the sexes alike: demographic
    # parity holds. The labels still hold the planted bias, so among the
    # applicants who were approved, women are selected more often than men:
    # equal opportunity does not.
    frame = pd.read_csv(workspace / "loans_biased.csv")
    ref = _fairlearn_reference(frame, _holdout(server, run_id), "sex")
    for key in ("demographic_parity_difference", "equal_opportunity_difference"):
        assert report["columns"][0][key] == pytest.approx(ref[key], abs=1e-9)
    assert ref["demographic_parity_difference"] < 0.1
    assert ref["equal_opportunity_difference"] > 0.1


def _logistic_probabilities(pre: dict, model: dict, rows: pd.DataFrame) -> np.ndarray:
    """preprocessing.json and model.json applied in numpy (binary, logistic link)."""
    z = np.full(len(rows), float(model["intercept"]))
    for f in pre["features"]:
        values = rows[f["name"]]
        if f["kind"] == "numeric":
            x = (values.fillna(f["fill"]).to_numpy(float) - f["center"]) / f["scale"]
            z += x * model["coefficients"][f["name"]]
        else:
            text = values.fillna(f["missing_as"]).astype(str)
            for c in f["categories"]:
                z += (text == c).to_numpy(float) * model["coefficients"][f"{f['name']}={c}"]
    return 1 / (1 + np.exp(-z))


def test_robustness_report_and_its_missing_features_recomputed(workspace, server):
    spec = """\
data: loans@2
target: approved
model: {type: logistic}
preprocessing: {scale: standard}
cv: {scheme: stratified, folds: 3}
holdout: 0.25
seed: 5
robustness: {noise: 0.05}
gates:
  - {metric: robustness.noise_flip_rate, max: 0.05}
  - {metric: robustness.missing_flip_rate_max, max: 0.05}
  - {metric: robustness.missing.noise.flip_rate, max: 0.05}
"""
    out = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", "robust")
    assert out.returncode != 0  # income missing flips many decisions
    assert "1 of 3 gates FAILED" in out.stderr, out.stderr
    assert re.search(r"robustness.noise_flip_rate <= 0.05\s+0\.\d+\s+passed", out.stdout)
    assert re.search(r"robustness.missing_flip_rate_max <= 0.05\s+0\.\d+: short by", out.stdout)
    # ... while the column of noise, missing, moves next to nothing.
    assert re.search(r"robustness.missing.noise.flip_rate <= 0.05\s+0\.\d+\s+passed", out.stdout)
    run_id = _run_id(out.stdout)
    report = json.loads(_artifact(server, run_id, "robustness/report.json"))
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    holdout = _holdout(server, run_id)
    frame = pd.read_csv(workspace / "loans_fair.csv")
    training = frame.drop(index=holdout["row"])
    rows = frame.loc[holdout["row"]].reset_index(drop=True)
    y = holdout["y"].to_numpy()
    pre = json.loads(_artifact(server, run_id, "model/preprocessing.json"))
    model = json.loads(_artifact(server, run_id, "model/model.json"))
    base = _logistic_probabilities(pre, model, rows)
    np.testing.assert_allclose(base, holdout["prediction"], rtol=0, atol=1e-9)
    assert report["metric"] == "roc_auc" and report["seed"] == 5 and report["rows"] == 1000
    assert report["baseline"] == pytest.approx(roc_auc_score(y, base), abs=1e-9)

    by_feature = {f["feature"]: f for f in report["features"]}
    assert list(by_feature) == [f["name"] for f in pre["features"]]
    for name, f in by_feature.items():
        numeric = name in ("income", "debt", "tenure", "noise")
        assert f["numeric"] is numeric
        if numeric:
            # 0.05 x the population std of the training rows.
            assert f["noise_std"] == pytest.approx(0.05 * training[name].std(ddof=0), rel=1e-9)
            assert 0 <= f["noise"]["flip_rate"] <= 1
        else:
            assert "noise" not in f
        # The feature missing on every holdout row, through the model's own imputation.
        gone = _logistic_probabilities(pre, model, rows.assign(**{name: np.nan}))
        flips = np.mean((gone > 0.5) != (base > 0.5))
        assert f["missing"]["flip_rate"] == pytest.approx(flips, abs=1e-12), name
        drop = roc_auc_score(y, base) - roc_auc_score(y, gone)
        assert f["missing"]["metric_drop"] == pytest.approx(drop, abs=1e-9), name
        assert metrics[f"robustness.missing.{name}.flip_rate"] == pytest.approx(flips, abs=1e-12)
    # income drives approval, noise does not.
    assert by_feature["income"]["missing"]["flip_rate"] > 0.15
    assert by_feature["noise"]["missing"]["flip_rate"] < 0.02
    assert by_feature["income"]["noise"]["flip_rate"] > by_feature["noise"]["noise"]["flip_rate"]
    assert metrics["robustness.missing_flip_rate_max"] == pytest.approx(
        max(f["missing"]["flip_rate"] for f in report["features"]), abs=1e-12)
    assert metrics["robustness.noise_flip_rate"] == pytest.approx(
        report["noise_all"]["flip_rate"], abs=1e-12)


def test_robustness_is_the_same_for_the_same_seed(workspace):
    spec = SPEC[:SPEC.index("gates:")]
    tables = []
    for _ in range(2):
        out = _train(workspace, spec, "--no-tracking")
        assert out.returncode == 0, out.stderr
        tables.append(out.stdout[out.stdout.index("\nrobustness on "):
                                 out.stdout.index("\nnot tracked")])
    assert "(all numeric, noised)" in tables[0]
    assert tables[0] == tables[1]


def test_regression_groups_agree_with_scikit_learn(workspace, server):
    frame = loans(biased=False)
    rng = np.random.default_rng(3)
    # A regression whose error is larger for one region's rows.
    frame["region"] = rng.choice(["north", "south"], ROWS)
    frame["limit"] = (frame["income"] * 40 - frame["debt"] * 30
                      + rng.normal(0, 1, ROWS) * np.where(frame["region"] == "south", 300, 50))
    frame.to_csv(workspace / "limits.csv", index=False)
    slipway("data", "add", "limits.csv", "--name", "limits", cwd=workspace)
    spec = """\
data: limits@1
target: limit
task: regression
exclude: [approved]
model: {type: linear}
cv: {folds: 3}
holdout: 0.25
seed: 2
fairness: [region, sex]
gates:
  - {metric: fairness.region.mae_difference, max: 50}
"""
    out = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", "limits")
    assert out.returncode != 0
    assert re.search(r"fairness.region.mae_difference <= 50\s+\d+\.\d+: short by", out.stdout)
    run_id = _run_id(out.stdout)
    report = json.loads(_artifact(server, run_id, "fairness/report.json"))
    metrics = MlflowClient(server.url).get_run(run_id).data.metrics
    holdout = _holdout(server, run_id)
    assert "positive_class" not in report
    for column in report["columns"]:
        groups = frame.loc[holdout["row"], column["column"]].to_numpy()
        maes, rmses = {}, {}
        for group in column["groups"]:
            mask = groups == group["group"]
            y, p = holdout["y"][mask], holdout["prediction"][mask]
            maes[group["group"]] = mean_absolute_error(y, p)
            rmses[group["group"]] = np.sqrt(mean_squared_error(y, p))
            assert group["count"] == mask.sum()
            assert group["mae"] == pytest.approx(maes[group["group"]], abs=1e-9)
            assert group["rmse"] == pytest.approx(rmses[group["group"]], abs=1e-9)
            assert group["mean_prediction"] == pytest.approx(p.mean(), abs=1e-9)
        mae_difference = max(maes.values()) - min(maes.values())
        assert column["mae_difference"] == pytest.approx(mae_difference, abs=1e-9)
        assert metrics[f"fairness.{column['column']}.mae_difference"] == pytest.approx(
            mae_difference, abs=1e-9)
    assert report["columns"][0]["mae_difference"] > 100  # south's noise is 6x north's


def test_multiclass_compares_the_positive_class_against_the_rest(workspace, server):
    frame = loans(biased=False)
    rng = np.random.default_rng(8)
    score = frame["income"] - frame["debt"] + np.where(frame["sex"] == "M", 8, 0)
    score = score + rng.normal(0, 8, ROWS)
    frame["tier"] = np.select([score < 20, score < 40], ["bronze", "silver"], "gold")
    frame.drop(columns=["approved"]).to_csv(workspace / "tiers.csv", index=False)
    slipway("data", "add", "tiers.csv", "--name", "tiers", cwd=workspace)
    spec = """\
data: tiers@1
target: tier
task: multiclass
model: {type: logistic}
preprocessing: {scale: standard}
cv: {scheme: stratified, folds: 3}
holdout: 0.25
seed: 4
fairness: {sensitive: [sex], positive_class: gold}
"""
    out = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", "tiers")
    assert out.returncode == 0, out.stderr
    assert "fairness of 'sex' on 1000 holdout rows, positive class gold" in out.stdout
    run_id = _run_id(out.stdout)
    report = json.loads(_artifact(server, run_id, "fairness/report.json"))
    holdout = _holdout(server, run_id)
    # Classes in label order: bronze, gold, silver; gold is p1.
    assert report["positive_class"] == "gold"
    predicted = holdout[["p0", "p1", "p2"]].to_numpy().argmax(axis=1)
    y_true = (holdout["y"] == 1).astype(int).to_numpy()
    y_pred = (predicted == 1).astype(int)
    groups = frame.loc[holdout["row"], "sex"].to_numpy()
    kw = dict(sensitive_features=groups)
    column = report["columns"][0]
    assert column["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, **kw), abs=1e-9)
    assert column["equal_opportunity_difference"] == pytest.approx(
        equal_opportunity_difference(y_true, y_pred, **kw), abs=1e-9)
    assert column["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y_true, y_pred, **kw), abs=1e-9)
    assert column["demographic_parity_difference"] > 0.1  # men are scored up 8
    for group in column["groups"]:
        mask = groups == group["group"]
        # Accuracy over every class, not only gold against the rest.
        assert group["accuracy"] == pytest.approx(
            accuracy_score(holdout["y"][mask], predicted[mask]), abs=1e-12)
        assert group["selection_rate"] == pytest.approx(y_pred[mask].mean(), abs=1e-12)


@pytest.mark.parametrize("spec, message", [
    (SPEC.replace("sensitive: [sex, age_band]", "sensitive: [sex, gender]"),
     "spec.yaml:9:20: fairness.sensitive: no column 'gender' in loans@1 (it has: income"),
    (SPEC.replace("positive_class: 1", "positive_class: yes"),
     "spec.yaml:10:19: fairness.positive_class: no class 'yes' in 'approved'"),
    (SPEC.replace("sensitive: [sex, age_band]", "sensitive: [sex, income]"),
     "spec.yaml:9:20: fairness.sensitive: 'income' has ~"),
    (SPEC.replace("fairness.sex.demographic_parity_difference",
                  "fairness.gender.demographic_parity_difference"),
     "spec.yaml:14:14: gates[1].metric: unknown fairness metric "
     "'fairness.gender.demographic_parity_difference' for a binary task"),
    (SPEC.replace("robustness: {noise: 0.05}\n", "").replace(
        "  - {metric: roc_auc, min: 0.7}\n", "  - {metric: robustness.noise_flip_rate, max: 0.1}\n"),
     "spec.yaml:12:14: gates[0].metric: 'robustness.noise_flip_rate' needs a robustness: section "
     "in the spec"),
])
def test_bad_fairness_specs_fail_before_training_with_the_line(workspace, server, spec, message):
    out = _train(workspace, spec, "--tracking-uri", server.url, "--experiment", "fair-bad")
    assert out.returncode != 0
    assert message in out.stderr, out.stderr
    assert "fold 1/3" not in out.stdout and "run       " not in out.stdout
