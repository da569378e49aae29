"""`slipway train SPEC --dry-run`: a training spec checked against a dataset
version of the workspace, before any training (issue 14's first part).

The data is scikit-learn's breast cancer set (it ships in the package),
added with the real `slipway data add`; the spec's errors must name the file,
line and column, and the plan must describe that data."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn import datasets as skdatasets

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


def test_training_itself_says_it_is_not_built_yet(workspace):
    out = _train(workspace, SPEC)
    assert out.returncode != 0
    assert "data      cancer@1" in out.stdout  # the plan is checked and printed first
    assert "training itself is not built yet" in out.stderr, out.stderr
