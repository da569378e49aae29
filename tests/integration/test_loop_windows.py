"""The closed loop trains on labelled live traffic (issue 15): a real server
serves a model, keeps its predictions under a monitor, receives feedback,
and a loop policy with `--data windows:1h` builds a dataset version of the
predictions that have feedback and retrains on exactly that version.

The rows sent are scikit-learn's breast cancer set, sent with their exact
floats; the feedback is their true label for 50 of the 60 requests. The
dataset version `<deployment>-feedback@1` must hold exactly those 250 rows
(the model's inputs plus the label under the spec's target name), and the
registered version's tags must name it, the windows it came from, and the
window the trigger saw.

The 10 unlabelled requests ask for class probabilities (`predict_proba`):
the last window's CBPE estimate (NannyML's formula, calibration off) must
equal the formula applied here to the probabilities the server answered,
in the windows response and on /metrics.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import requests
from mlflow.tracking import MlflowClient

from conftest import unique
from test_data import slipway
from test_serving import create, invoke, serving_version, wait_for
from test_train import TRAIN_SPEC, cancer_frame

pytestmark = pytest.mark.slipway_only

RETRAIN_TIMEOUT = 300
ROWS_PER_REQUEST = 5
REQUESTS = 60
LABELLED = 50


def _loop(server, *args, check=True):
    return slipway("loop", *args, "--tracking-uri", server.url, cwd=Path("."), check=check)


def _finished(server, dep: str, run_id: int) -> dict:
    def done():
        r = requests.get(f"{server.url}/api/v1/deployments/{dep}/loop/runs/{run_id}", timeout=30)
        assert r.status_code == 200, r.text
        run = r.json()["run"]
        return run if run["state"] not in ("queued", "running") else None
    return wait_for(done, RETRAIN_TIMEOUT, f"loop run {run_id} to finish")


def test_a_loop_retrains_on_the_predictions_that_have_feedback(server, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    env = {"SLIPWAY_TRACKING_URI": server.url}
    frame = cancer_frame()
    dataset, model, dep = unique("cancer"), unique("cancer-win"), unique("windep")
    frame.to_csv(ws / "cancer.csv", index=False)
    slipway("data", "add", "cancer.csv", "--name", dataset, cwd=ws)
    slipway("data", "push", dataset, cwd=ws, env=env)
    base = TRAIN_SPEC.replace("data: cancer@1", f"data: {dataset}@1")
    spec = (base + "gates:\n  - {metric: roc_auc, min: 0.8}\n"
            f"register: {{model: {model}, alias: production}}\n")
    (ws / "spec.yaml").write_text(spec)
    slipway("train", "spec.yaml", "--tracking-uri", server.url, cwd=ws)
    create(server, dep, f"models:/{model}@production")
    wait_for(lambda: serving_version(server, dep) == "1", 60, "version 1 serving")
    r = requests.put(f"{server.url}/api/v1/deployments/{dep}/monitor",
                     json={"reference": f"{dataset}@1", "window": "100rows"}, timeout=30)
    assert r.status_code == 200, r.text

    # 60 requests of 5 rows, with their exact floats; feedback for 50; the
    # other 10 ask for class probabilities.
    inputs = frame.drop(columns=["malignant"])
    sent = []
    probabilities = []
    for k in range(REQUESTS):
        rows = inputs.iloc[k * ROWS_PER_REQUEST:(k + 1) * ROWS_PER_REQUEST]
        body = {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
        if k >= LABELLED:
            body["params"] = {"predict_method": "predict_proba"}
        r = invoke(server, dep, body)
        assert r.status_code == 200, r.text
        sent.append(r.headers["X-Request-Id"])
        if k >= LABELLED:
            probabilities += r.json()["predictions"]
    truth = frame["malignant"].tolist()
    feedback = [{"request_id": rid,
                 "labels": truth[k * ROWS_PER_REQUEST:(k + 1) * ROWS_PER_REQUEST]}
                for k, rid in enumerate(sent[:LABELLED])]
    r = requests.post(f"{server.url}/api/v1/deployments/{dep}/feedback",
                      json={"feedback": feedback}, timeout=30)
    assert r.status_code == 200, r.text
    labelled_rows = LABELLED * ROWS_PER_REQUEST
    # The 300 rows fill three windows of 100 rows: all closed once folded.
    windows = wait_for(lambda: (w := requests.get(
        f"{server.url}/api/v1/deployments/{dep}/monitor/windows", timeout=30).json()["windows"])
        and sum(x["rows"] for x in w) == REQUESTS * ROWS_PER_REQUEST and w, 60, "rows folded")
    assert [w["seq"] for w in windows] == [0, 1, 2] and all(w["closed"] for w in windows)

    # CBPE of the last window: its 50 rows of two class probabilities.
    assert len(probabilities) == 50 and all(len(p) == 2 for p in probabilities)
    scores = [p[1] for p in probabilities]
    expected = sum(s if s > p[0] else 1 - s for s, p in zip(scores, probabilities)) / len(scores)
    estimated = windows[2]["estimated"]
    assert estimated["method"] == "cbpe" and estimated["rows"] == 50
    assert estimated["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert 0.5 < expected < 1.0
    assert windows[0]["estimated"]["rows"] == 0 and windows[0]["estimated"]["accuracy"] is None
    pattern = rf'^slipway_monitor_estimated_accuracy\{{deployment="{dep}"\}} (\S+)$'
    gauge = wait_for(lambda: re.search(pattern, requests.get(f"{server.url}/metrics",
                                                               timeout=30).text, re.M),
                     30, "the estimated accuracy gauge")
    assert float(gauge.group(1)) == pytest.approx(expected, abs=1e-9)

    # Fewer labelled rows than the policy's minimum: skipped, saying so.
    out = _loop(server, "set", dep, "--train", str(ws / "spec.yaml"), "--data", "windows:1h",
                "--min-rows", "400", "--max-per-day", "5")
    assert "windows:1h" in out.stdout and "min rows:    400" in out.stdout, out.stdout
    run = json.loads(_loop(server, "trigger", dep, "--json").stdout)["run"]
    skipped = _finished(server, dep, run["id"])
    assert skipped["state"] == "skipped", skipped
    assert f"{labelled_rows} labelled rows" in skipped["reason"], skipped["reason"]
    assert "min_rows is 400" in skipped["reason"]
    assert requests.get(f"{server.url}/api/v1/datasets/{dep}-feedback/versions/1",
                        timeout=30).status_code == 404

    _loop(server, "set", dep, "--train", str(ws / "spec.yaml"), "--data", "windows:1h",
          "--min-rows", "100", "--max-per-day", "5")
    run = json.loads(_loop(server, "trigger", dep, "--reason", "feedback", "--json").stdout)["run"]
    done = _finished(server, dep, run["id"])
    assert done["state"] == "promoted", done
    feedback_version = f"{dep}-feedback@1"
    assert done["data"] == feedback_version
    lineage = done["windows"]
    assert lineage["dataset"] == feedback_version and lineage["deployment"] == dep
    assert lineage["rows"] == labelled_rows and lineage["requests"] == LABELLED
    assert (lineage["first_seq"], lineage["last_seq"]) == (0, 2)
    assert lineage["window"] == "100rows" and lineage["label"] == "malignant"
    # The window the trigger saw: the newest closed one.
    assert done["window"]["seq"] == 2 and done["window"]["rows"] == 100

    client = MlflowClient(server.url)
    version = client.get_model_version(model, done["version"])
    assert version.tags["slipway.loop.data"] == feedback_version
    assert json.loads(version.tags["slipway.loop.windows"]) == lineage
    assert json.loads(version.tags["slipway.loop.window"])["seq"] == 2
    assert client.get_model_version_by_alias(model, "production").version == done["version"]
    # The training's own lineage names the version it read.
    tracked = client.get_run(done["run_id"])
    assert f"{dep}-feedback" in [i.dataset.name for i in tracked.inputs.dataset_inputs]

    # The dataset version: exactly the labelled rows, inputs then the label.
    stored = requests.get(f"{server.url}/api/v1/datasets/{dep}-feedback/versions/1",
                          timeout=30).json()["version"]
    assert stored["row_count"] == labelled_rows
    assert f"deployment {dep}" in stored["description"]
    other = tmp_path / "other"
    other.mkdir()
    slipway("data", "pull", feedback_version, cwd=other, env=env)
    slipway("data", "get", feedback_version, "-o", other / "got.csv", cwd=other)
    got = pd.read_csv(other / "got.csv", float_precision="round_trip")
    assert list(got.columns) == list(frame.columns)  # the cancer columns, malignant last
    expected = frame.iloc[:labelled_rows].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)
