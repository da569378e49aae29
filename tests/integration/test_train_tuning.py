"""`slipway train` tuning (issue 14): TPE with trials in parallel (the
constant liar), successive halving that stops a trial inside its rung, and
each trial's learning curve on its child run, through the real binary, a real
`slipway server` and the real `mlflow` client.

The data is scikit-learn's breast cancer set, as in test_train.py (whose
module-scoped `workspace` fixture this file reuses)."""
from __future__ import annotations

import re

import pytest
from mlflow.tracking import MlflowClient

from test_train import TUNE_SPEC, _children, _run_id, _train, workspace  # noqa: F401

TPE_SPEC = TUNE_SPEC.replace("algorithm: random", "algorithm: tpe").replace("trials: 6",
                                                                            "trials: 14")


def _by_trial(children) -> dict:
    return {int(c.data.tags["slipway.tuning.trial"]): c for c in children}


def _curve(client: MlflowClient, run_id: str) -> list[float]:
    history = client.get_metric_history(run_id, "curve.roc_auc")
    assert sorted(m.step for m in history) == list(range(1, len(history) + 1))
    return [m.value for m in sorted(history, key=lambda m: m.step)]


def test_tpe_runs_jobs_trials_at_once_and_resumes_with_the_same_proposals(workspace, server):
    client = MlflowClient(server.url)
    whole = _train(workspace, TPE_SPEC, "--tracking-uri", server.url, "--experiment",
                   "tuning-tpe-jobs", "--jobs", "2")
    assert whole.returncode == 0, whole.stderr
    assert ("note      tpe runs 2 trials at once: each is proposed from the trials finished "
            "before the 1 latest, which count as running (constant liar)") in whole.stdout
    assert re.findall(r"^trial (\d+)/14", whole.stdout, re.M) == [str(n) for n in range(1, 15)]
    parent = _run_id(whole.stdout)
    children = _by_trial(_children(client, parent))
    assert sorted(children) == list(range(14))
    # With 2 at once trial 10 sees 9 finished trials: random search's params
    # up to it (same seed), TPE's from trial 11.
    random = _train(workspace, TUNE_SPEC.replace("trials: 6", "trials: 14"), "--tracking-uri",
                    server.url, "--experiment", "tuning-tpe-jobs-random")
    assert random.returncode == 0, random.stderr
    random_children = _by_trial(_children(client, _run_id(random.stdout)))
    params = lambda c: (c.data.params["model.params.eta"], c.data.params["model.params.max_depth"])
    for t in range(11):
        assert params(children[t]) == params(random_children[t]), t
    assert any(params(children[t]) != params(random_children[t]) for t in range(11, 14))
    best = max(children, key=lambda t: (children[t].data.metrics["cv.roc_auc.mean"], -t))
    assert client.get_run(parent).data.params["tuning.best_trial"] == str(best)
    assert client.get_run(parent).data.tags["slipway.tuning"].startswith("tpe runs 2 trials")

    # Interrupted after 12, resumed with --jobs 2: the params of the 12 are
    # read back from their runs, and trials 12 and 13 are proposed as in the
    # whole run.
    first = _train(workspace, TPE_SPEC, "--tracking-uri", server.url, "--experiment",
                   "tuning-tpe-jobs-resume", "--jobs", "2", "--max-trials", "12")
    assert first.returncode == 0 and "12 of 14 trials done" in first.stdout, first.stdout
    second = _train(workspace, TPE_SPEC, "--tracking-uri", server.url, "--experiment",
                    "tuning-tpe-jobs-resume", "--jobs", "2")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("(done before: resumed)") == 12
    resumed = _by_trial(_children(client, _run_id(second.stdout)))
    assert sorted(resumed) == list(range(14))
    for t in range(14):
        assert params(resumed[t]) == params(children[t]), t


def test_each_trial_logs_its_learning_curve(workspace, server):
    out = _train(workspace, TUNE_SPEC, "--tracking-uri", server.url, "--experiment",
                 "tuning-curves")
    assert out.returncode == 0, out.stderr
    client = MlflowClient(server.url)
    children = _children(client, _run_id(out.stdout))
    assert len(children) == 6
    for child in children:
        curve = _curve(client, child.info.run_id)
        assert len(curve) == 20  # num_boost_round: one point per round
        # The last round's point is the folds' mean the trial reports.
        assert curve[-1] == pytest.approx(child.data.metrics["cv.roc_auc.mean"], abs=1e-12)
        assert all(0 <= v <= 1 for v in curve)
        assert "slipway.tuning.stopped_at" not in child.data.tags


HALVING_SPEC = TUNE_SPEC.replace("algorithm: random", "algorithm: halving").replace(
    "trials: 6", "trials: 27").replace("num_boost_round: 20", "num_boost_round: 27")


def test_halving_stops_a_trial_clearly_behind_inside_its_rung(workspace, server):
    out = _train(workspace, HALVING_SPEC, "--tracking-uri", server.url, "--experiment",
                 "tuning-halving-stops", "--jobs", "2")
    assert out.returncode == 0, out.stderr
    assert ("rungs     27 trials x 1 rounds, 9 trials x 3 rounds, 3 trials x 9 rounds, "
            "1 trials x 27 rounds") in out.stdout
    client = MlflowClient(server.url)
    parent = _run_id(out.stdout)
    children = _children(client, parent)
    rung = {r: [c for c in children if c.data.tags["slipway.tuning.rung"] == str(r)]
            for r in range(4)}
    assert [len(rung[r]) for r in range(4)] == [27, 9, 3, 1]
    stopped_line = re.search(r"^stopped   (\d+) trials inside their rung", out.stdout, re.M)
    stopped = [c for c in children if "slipway.tuning.stopped_at" in c.data.tags]
    assert stopped and stopped_line and int(stopped_line.group(1)) == len(stopped)
    assert len(re.findall(r"  stopped at round \d+$", out.stdout, re.M)) == len(stopped)

    def rank(runs):  # promotion order: ran on first, by score, ties to the lower trial
        return sorted(runs, key=lambda c: ("slipway.tuning.stopped_at" in c.data.tags,
                                           -c.data.metrics["cv.roc_auc.mean"],
                                           int(c.data.tags["slipway.tuning.trial"])))

    checkpoints = {1: [1], 2: [1, 3], 3: [1, 3, 9]}
    for r in (1, 2, 3):
        promoted = rank(rung[r - 1])[:len(rung[r])]
        # The rung's trials are the best of the one before, the stopped last.
        assert ({c.data.tags["slipway.tuning.trial"] for c in promoted} ==
                {c.data.tags["slipway.tuning.trial"] for c in rung[r]})
        keep = len(rung[r + 1]) if r < 3 else 1
        by_trial = {c.data.tags["slipway.tuning.trial"]: c for c in rung[r]}
        order = [by_trial[c.data.tags["slipway.tuning.trial"]] for c in promoted]
        curves = [_curve(client, c.info.run_id) for c in order]
        for pos, child in enumerate(order):
            # The rule, from what was logged: stopped at the first checkpoint
            # where `keep` trials before it in the rung had done better.
            expected = None
            for cp in checkpoints[r]:
                better = sum(1 for q in range(pos)
                             if len(curves[q]) >= cp and curves[q][cp - 1] > curves[pos][cp - 1])
                if better >= keep:
                    expected = cp
                    break
            got = child.data.tags.get("slipway.tuning.stopped_at")
            assert got == (str(expected) if expected else None), (r, pos)
            rounds = int(child.data.params["rung.rounds"])
            assert len(curves[pos]) == (expected or rounds)
            assert curves[pos][-1] == pytest.approx(child.data.metrics["cv.roc_auc.mean"],
                                                    abs=1e-12)
    best = rung[3][0]
    assert "slipway.tuning.stopped_at" not in best.data.tags
    assert client.get_run(parent).data.params["tuning.best_trial"] == \
        best.data.tags["slipway.tuning.trial"]


LOGISTIC_SPEC = """\
data: cancer@1
target: malignant
task: binary
preprocessing: {scale: standard}
model: {type: logistic}
search:
  algorithm: random
  trials: 3
  space:
    l2: {log_uniform: [0.1, 10]}
cv: {scheme: stratified, folds: 3}
holdout: 0.2
metric: log_loss
seed: 4
"""


def _history(client: MlflowClient, run_id: str, key: str) -> list[float]:
    history = client.get_metric_history(run_id, key)
    assert sorted(m.step for m in history) == list(range(1, len(history) + 1)), key
    return [m.value for m in sorted(history, key=lambda m: m.step)]


def test_logistic_trials_log_a_curve_by_newton_iteration(workspace, server):
    out = _train(workspace, LOGISTIC_SPEC, "--tracking-uri", server.url, "--experiment",
                 "tuning-logistic-curves")
    assert out.returncode == 0, out.stderr
    client = MlflowClient(server.url)
    children = _children(client, _run_id(out.stdout))
    assert len(children) == 3
    for child in children:
        curve = _history(client, child.info.run_id, "curve.log_loss")
        objective = _history(client, child.info.run_id, "curve.objective")
        # One point per Newton iteration: a few, the same for both.
        assert 3 <= len(curve) == len(objective) <= 100
        # The last iteration is each fold's final model: the trial's mean.
        assert curve[-1] == pytest.approx(child.data.metrics["cv.log_loss.mean"], abs=1e-12)
        assert curve[0] > curve[-1]
        # Newton's method from zero weights (log 2 per row) lowers the
        # training objective at every step, to a minimum it then holds.
        assert objective[0] < 0.6931471805599453
        assert all(b <= a + 1e-12 for a, b in zip(objective, objective[1:])), objective
        assert objective[-1] == pytest.approx(objective[-2], abs=1e-9)


def test_ridge_is_closed_form_and_logs_no_curve(workspace, server):
    spec = """\
data: diabetes@1
target: target
task: regression
model: {type: linear}
search:
  algorithm: random
  trials: 2
  space:
    l2: {log_uniform: [0.1, 10]}
cv: {scheme: kfold, folds: 3}
seed: 4
"""
    out = _train(workspace, spec, "--tracking-uri", server.url, "--experiment",
                 "tuning-ridge-curves")
    assert out.returncode == 0, out.stderr
    children = _children(MlflowClient(server.url), _run_id(out.stdout))
    assert len(children) == 2
    for child in children:
        assert "cv.rmse.mean" in child.data.metrics
        assert not [k for k in child.data.metrics if k.startswith("curve.")], child.data.metrics
