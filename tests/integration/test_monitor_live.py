"""Live monitoring of deployments (issue 15, the live part).

A real `slipway server`, a model trained by the real `slipway train` on a
dataset pushed to the server (so the model's lineage names it), deployed,
and real traffic: the fold turns the prediction log into windows; drift
against the reference is low for traffic drawn like the reference and high
on exactly the shifted feature; feedback joins predictions by the
X-Request-Id of their replies and gives the accuracy computed here from
what was sent; a SIGKILL mid-window neither loses nor double-counts a
record; and with --auth the routes refuse callers without the permission.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.tracking import MlflowClient

from conftest import SlipwayServer, slipway_binary, unique
from test_data import slipway
from test_serving import create, invoke, serving_version, split_body, wait_for
from test_train import _run_id

pytestmark = pytest.mark.slipway_only

FEATURES = ["f1", "f2", "f3"]
ROWS_PER_REQUEST = 5


def _draw(rng: np.random.Generator, n: int, shift_f2: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame({
        "f1": rng.normal(0, 1, n),
        "f2": rng.normal(5, 2, n) + shift_f2,
        "f3": rng.uniform(0, 10, n),
    })
    return frame


def _label(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    score = frame["f1"] + 0.4 * (frame["f2"] - 5) - 0.2 * (frame["f3"] - 5)
    return (score + rng.normal(0, 0.5, len(frame)) > 0).astype(int).to_numpy()


@pytest.fixture(scope="module")
def served(server, tmp_path_factory):
    """A dataset pushed to the server, a logistic model trained on it with
    `slipway train`, registered; returns a function that deploys it."""
    ws = tmp_path_factory.mktemp("monitor-ws")
    rng = np.random.default_rng(1)
    frame = _draw(rng, 3000)
    frame["y"] = _label(frame, rng)
    frame.to_csv(ws / "ref.csv", index=False)
    dataset = unique("monref")
    slipway("data", "add", "ref.csv", "--name", dataset, cwd=ws)
    slipway("data", "push", dataset, cwd=ws, env={"SLIPWAY_TRACKING_URI": server.url})
    (ws / "spec.yaml").write_text(f"""\
data: {dataset}@1
target: y
task: binary
model: {{type: logistic, params: {{l2: 1.0}}}}
cv: {{scheme: stratified, folds: 2}}
holdout: 0.2
seed: 5
""")
    out = slipway("train", "spec.yaml", "--tracking-uri", server.url, "--experiment",
                  unique("monitor"), cwd=ws, check=False)
    assert out.returncode == 0, out.stderr
    run_id = _run_id(out.stdout)
    client = MlflowClient(server.url)
    model = unique("monmodel")
    client.create_registered_model(model)
    version = client.create_model_version(
        model, f"{client.get_run(run_id).info.artifact_uri}/model", run_id=run_id).version

    def deploy() -> str:
        name = unique("mon")
        create(server, name, f"models:/{model}/{version}")
        wait_for(lambda: serving_version(server, name), timeout=60, what="the model to load")
        return name

    return {"deploy": deploy, "dataset": dataset, "ws": ws}


def _send(server, name: str, frame: pd.DataFrame) -> list[tuple[str, list]]:
    """Sends `frame` in requests of ROWS_PER_REQUEST rows; returns each
    request's X-Request-Id and predictions."""
    sent = []
    for start in range(0, len(frame), ROWS_PER_REQUEST):
        r = invoke(server, name, split_body(frame.iloc[start:start + ROWS_PER_REQUEST]))
        assert r.status_code == 200, r.text
        sent.append((r.headers["X-Request-Id"], r.json()["predictions"]))
    return sent


def _monitor_url(server, name: str, rest: str = "") -> str:
    return f"{server.url}/api/v1/deployments/{name}/monitor{rest}"


def _drift(server, name: str) -> dict:
    r = requests.get(_monitor_url(server, name, "/drift"), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["drift"]


def _wait_rows(server, name: str, rows: int, timeout: float = 60) -> dict:
    return wait_for(lambda: (d := _drift(server, name))["rows"] == rows and d,
                    timeout=timeout, what=f"{rows} rows folded")


def _by_feature(drift: dict) -> dict:
    return {c["column"]: c for c in drift["features"]}


def _metric(server, pattern: str) -> float | None:
    text = requests.get(f"{server.url}/metrics", timeout=30).text
    m = re.search(pattern + r" ([0-9.eE+-]+|NaN)$", text, re.M)
    return float(m.group(1)) if m else None


def test_traffic_like_the_reference_has_low_psi_and_feedback_gives_the_accuracy(server, served):
    name = served["deploy"]()
    # The CLI, with the reference from the model's lineage.
    out = slipway("monitor", "set", name, "--window", "1h", "--features", "all",
                  cwd=served["ws"], env={"SLIPWAY_TRACKING_URI": server.url})
    assert f"{served['dataset']}@1" in out.stdout and "training data" in out.stdout, out.stdout
    monitor = requests.get(_monitor_url(server, name), timeout=30).json()["monitor"]
    assert monitor["reference"] == f"{served['dataset']}@1"
    assert monitor["reference_from_lineage"] is True
    assert monitor["features"] == FEATURES
    assert monitor["window"] == "1h"

    rng = np.random.default_rng(2)
    frame = _draw(rng, 1000)
    labels = _label(frame, rng)
    sent = _send(server, name, frame)
    drift = _wait_rows(server, name, 1000)
    assert drift["windows"] >= 1
    features = _by_feature(drift)
    assert set(features) == set(FEATURES)
    for feature in FEATURES:
        assert features[feature]["psi"] < 0.1, features
        assert features[feature]["over_threshold"] is False
        assert features[feature]["missing_rate"] == 0
    assert drift["features_not_seen"] == []  # the label column is not a model input
    assert [c["column"] for c in drift["predictions"]] == ["prediction"]

    # Feedback for the first 120 requests: 40 single entries, 80 in bulk.
    truth = [labels[i:i + ROWS_PER_REQUEST].tolist()
             for i in range(0, len(frame), ROWS_PER_REQUEST)]
    feedback_url = f"{server.url}/api/v1/deployments/{name}/feedback"
    for (request_id, _), rows in zip(sent[:40], truth[:40]):
        r = requests.post(feedback_url, json={"request_id": request_id, "labels": rows}, timeout=30)
        assert r.status_code == 200, r.text
    bulk = [{"request_id": rid, "labels": rows} for (rid, _), rows in zip(sent[40:120], truth[40:120])]
    r = requests.post(feedback_url, json={"feedback": bulk}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 80
    predicted = [str(p) for _, preds in sent[:120] for p in preds]
    actual = [str(v) for rows in truth[:120] for v in rows]
    expected = sum(p == a for p, a in zip(predicted, actual)) / len(actual)
    accuracy = _drift(server, name)["accuracy"]
    assert accuracy["task"] == "classification"
    assert accuracy["rows"] == 600 and accuracy["requests"] == 120
    assert accuracy["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert 0.5 < expected < 1.0  # a model that learned something, and not a trivial check
    assert accuracy["label_delay_p50_seconds"] >= 0

    # Unknown request ids: a clear 404 naming them, and bulk is all or nothing.
    r = requests.post(feedback_url, json={"request_id": "no-such-request", "label": 1}, timeout=30)
    assert r.status_code == 404, r.text
    assert "no-such-request" in r.json()["message"]
    mixed = [{"request_id": sent[130][0], "labels": truth[130]},
             {"request_id": "missing-one", "labels": [0]}]
    r = requests.post(feedback_url, json={"feedback": mixed}, timeout=30)
    assert r.status_code == 404, r.text
    assert "entry 1 ('missing-one')" in r.json()["message"], r.text
    assert _drift(server, name)["accuracy"]["rows"] == 600  # entry 0 was not stored either
    r = requests.post(feedback_url, json={"feedback": [{"labels": [1]}]}, timeout=30)
    assert r.status_code == 400 and "request_id" in r.json()["message"], r.text

    # The CLI's table.
    out = slipway("monitor", "show", name, cwd=served["ws"],
                  env={"SLIPWAY_TRACKING_URI": server.url}).stdout
    assert "f2" in out and "live accuracy" in out and f"{expected:.4f}" in out, out


def test_shifted_traffic_drifts_on_exactly_the_shifted_feature(server, served):
    name = served["deploy"]()
    r = requests.put(_monitor_url(server, name),
                     json={"reference": f"{served['dataset']}@1", "window": "500rows",
                           "features": FEATURES, "thresholds": {"f1": 0.15}}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["monitor"]["reference_from_lineage"] is False
    rng = np.random.default_rng(3)
    _send(server, name, _draw(rng, 1000, shift_f2=3.0))  # 1.5 standard deviations
    drift = _wait_rows(server, name, 1000)
    assert drift["windows"] == 2
    features = _by_feature(drift)
    assert features["f2"]["psi"] > 0.5 and features["f2"]["over_threshold"] is True, features
    assert features["f2"]["ks"] > 0.3
    for feature in ("f1", "f3"):
        assert features[feature]["psi"] < 0.1 and features[feature]["over_threshold"] is False
    assert features["f1"]["threshold"] == 0.15 and features["f3"]["threshold"] == 0.2
    # Per window, for charts: both closed (500 rows each), both drifted on f2.
    windows = requests.get(_monitor_url(server, name, "/windows"), timeout=30).json()["windows"]
    assert [w["rows"] for w in windows] == [500, 500] and all(w["closed"] for w in windows)
    for w in windows:
        assert {c["column"] for c in w["features"] if c["over_threshold"]} == {"f2"}
    # The gauges of the latest closed window, for Prometheus rules.
    labels = f'deployment="{name}",feature="f2"'
    psi = wait_for(lambda: _metric(server, r"slipway_monitor_drift_psi\{" + labels + r"\}"),
                   what="the PSI gauge")
    assert psi > 0.5
    assert _metric(server, r'slipway_monitor_drift_psi\{deployment="%s",feature="f1"\}' % name) < 0.1
    assert _metric(server, r'slipway_monitor_window_rows\{deployment="%s"\}' % name) == 500
    assert _metric(server, r'slipway_monitor_missing_rate\{' + labels + r'\}') == 0


def test_bad_monitor_settings_get_clear_errors(server, served):
    name = served["deploy"]()
    url = _monitor_url(server, name)
    r = requests.put(url, json={"window": "5 minutes"}, timeout=30)
    assert r.status_code == 400 and "window" in r.json()["message"], r.text
    r = requests.put(url, json={"reference": f"{served['dataset']}@9"}, timeout=30)
    assert r.status_code == 404 and "reference" in r.json()["message"], r.text
    r = requests.put(url, json={"features": ["f1", "nope"]}, timeout=30)
    assert r.status_code == 400 and "'nope'" in r.json()["message"], r.text
    # A reference whose columns are not the model's inputs: named.
    other = unique("other")
    ws = served["ws"]
    pd.DataFrame({"f1": [1.0, 2.0], "g2": [3.0, 4.0]}).to_csv(ws / "other.csv", index=False)
    slipway("data", "add", "other.csv", "--name", other, cwd=ws)
    slipway("data", "push", other, cwd=ws, env={"SLIPWAY_TRACKING_URI": server.url})
    r = requests.put(url, json={"reference": f"{other}@1"}, timeout=30)
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert "f2" in message and "f3" in message and "g2" in message, message
    r = requests.get(url, timeout=30)
    assert r.status_code == 404, r.text
    r = requests.post(f"{server.url}/api/v1/deployments/{name}/feedback",
                      json={"request_id": "x", "label": 1}, timeout=30)
    assert r.status_code == 400 and "no monitor" in r.json()["message"], r.text
    out = slipway("monitor", "set", name, "--window", "0m", cwd=ws,
                  env={"SLIPWAY_TRACKING_URI": server.url}, check=False)
    assert out.returncode != 0 and "window" in out.stderr, out.stderr


def _logged_records(server, name: str) -> int:
    folder = server.data_dir / "serving" / "predictions" / name
    if not folder.exists():
        return 0
    return sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl"))


def test_a_kill_mid_window_neither_loses_nor_double_counts(server, served):
    """Last in this file: it SIGKILLs the module's server and starts it again."""
    name = served["deploy"]()
    r = requests.put(_monitor_url(server, name), json={"window": "1h"}, timeout=30)
    assert r.status_code == 200, r.text
    rng = np.random.default_rng(4)
    first = _send(server, name, _draw(rng, 300))
    _wait_rows(server, name, 300)
    # Acknowledged feedback must survive the kill too.
    feedback_url = f"{server.url}/api/v1/deployments/{name}/feedback"
    r = requests.post(feedback_url, json={"feedback": [
        {"request_id": rid, "labels": [1] * ROWS_PER_REQUEST} for rid, _ in first[:10]]},
        timeout=30)
    assert r.status_code == 200, r.text
    # More traffic; once the log has published it, kill at once: the fold
    # is then before, inside or after its commit of these segments.
    sent = _send(server, name, _draw(rng, 400))
    wait_for(lambda: _logged_records(server, name) == 60 + len(sent), what="the log to publish")
    server.kill()
    server.start()
    drift = _wait_rows(server, name, 700, timeout=90)
    time.sleep(3)  # a few more folds: nothing is counted again
    again = _drift(server, name)
    assert again["rows"] == 700 and again["windows"] == drift["windows"]
    assert again["accuracy"]["rows"] == 10 * ROWS_PER_REQUEST
    # The second half's predictions were kept too: they take feedback.
    r = requests.post(feedback_url,
                      json={"request_id": sent[-1][0], "labels": [0] * ROWS_PER_REQUEST},
                      timeout=30)
    assert r.status_code == 200, r.text
    assert _drift(server, name)["accuracy"]["rows"] == 11 * ROWS_PER_REQUEST


def test_monitor_routes_refuse_callers_without_the_permission(tmp_path_factory):
    import mlflow
    import mlflow.xgboost
    import xgboost as xgb

    admin, alice, bob = ("admin", "admin-Pa55word!"), ("alice", "alice-Pa55word!"), \
        ("bob", "bob-Pa55word!")
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("mon-auth"),
                        extra_args=["--auth"], env={"SLIPWAY_ADMIN_PASSWORD": admin[1]}).start()
    try:
        for user, password in (alice, bob):
            r = requests.post(f"{srv.api}/users/create",
                              json={"username": user, "password": password}, auth=admin)
            assert r.status_code == 200, r.text
        rng = np.random.default_rng(3)
        X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
        booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "nthread": 1},
                            xgb.DMatrix(X, label=(X["a"] > X["b"]).astype(int)), 3)
        import os
        env = {"MLFLOW_TRACKING_USERNAME": alice[0], "MLFLOW_TRACKING_PASSWORD": alice[1]}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            mlflow.set_tracking_uri(srv.url)
            mlflow.set_registry_uri(srv.url)
            mlflow.set_experiment(unique("mon-auth"))
            model = unique("m")
            with mlflow.start_run():
                mlflow.xgboost.log_model(booster, name="m", registered_model_name=model,
                                         pip_requirements=["xgboost"])
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        name = unique("dep")
        r = requests.post(f"{srv.url}/api/v1/deployments",
                          json={"name": name, "model_uri": f"models:/{model}/1"}, auth=alice)
        assert r.status_code == 200, r.text
        url = f"{srv.url}/api/v1/deployments/{name}/monitor"
        feedback = f"{srv.url}/api/v1/deployments/{name}/feedback"
        # Bob holds the default READ: he may read, not set, delete or send feedback.
        assert requests.put(url, json={"window": "5m"}, auth=bob).status_code == 403
        assert requests.delete(url, auth=bob).status_code == 403
        assert requests.post(feedback, json={"request_id": "r", "label": 1},
                             auth=bob).status_code == 403
        r = requests.get(url, auth=bob)
        assert r.status_code == 404 and "no monitor" in r.json()["message"], r.text
        assert requests.get(url).status_code == 401
        # Alice (the creator) passes the check; her reference does not exist.
        r = requests.put(url, json={"reference": "nosuch@1"}, auth=alice)
        assert r.status_code in (403, 404), r.text
        assert "nosuch" in r.json()["message"], r.text
        entries = requests.get(f"{srv.url}/api/v1/audit",
                               params={"target": f"deployment:{name}", "max_results": 1000},
                               auth=admin).json()["entries"]
        seen = {(e["action"], e["principal"], e["outcome"]) for e in entries}
        assert ("monitor/set", "bob", 403) in seen, seen
        assert ("monitor/feedback", "bob", 403) in seen, seen
        assert ("monitor/set", "alice", r.status_code) in seen, seen
    finally:
        srv.stop()
