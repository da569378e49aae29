"""The endpoints MLflow's web UI calls beside the public API: every route under the
`/ajax-api` prefix, `metrics/get-history-bulk` and `metrics/get-history-bulk-interval`
(a long metric history sampled server-side for charts).

Expectations are what `mlflow server` 3.17 answers (mlflow/server/handlers.py,
mlflow/store/tracking/sqlalchemy_store.py `get_metric_history_bulk_interval`); run with
SLIPWAY_ITEST_REFERENCE=mlflow to check them against it.
"""

from __future__ import annotations

import json
import math
import time

import mlflow
import pytest
import requests
from mlflow.entities import Metric

from conftest import REFERENCE, assert_mlflow_error, unique


def _ajax(server) -> str:
    return server.url + "/ajax-api/2.0/mlflow"


def _log(client, run_id: str, key: str, points: list[tuple[int, float]], ts: int) -> None:
    metrics = [Metric(key, value, ts + i, step) for i, (step, value) in enumerate(points)]
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start:start + 1000])


def _expected_sample(rows: list[tuple], k: int) -> list[tuple]:
    """MLflow's sampling: rows ordered by (step, timestamp, value), NTILE(k) buckets,
    the first row of each, then the last row in place of the last one taken (or added)."""
    rows = sorted(rows)
    n = len(rows)
    if n == 0:
        return []
    q, r = divmod(n, k)
    starts, at = [], 0
    for b in range(min(k, n)):
        starts.append(at)
        at += q + (1 if b < r else 0)
    sample = [rows[i] for i in starts]
    if sample[-1] != rows[-1]:
        if len(sample) >= k:
            sample[-1] = rows[-1]
        else:
            sample.append(rows[-1])
    return sample


@pytest.fixture(scope="module")
def long_runs(server, tmp_path_factory):
    import mlflow

    mlflow.set_tracking_uri(server.url)
    client = mlflow.MlflowClient(server.url)
    exp = client.create_experiment(unique("ui-charts"))
    runs = []
    for r in range(2):
        run_id = client.create_run(exp).info.run_id
        points = [(step, math.sin(step / 50.0) + r) for step in range(1000 + 37 * r)]
        _log(client, run_id, "loss", points, ts=1_700_000_000_000)
        runs.append((run_id, [(s, 1_700_000_000_000 + i, v) for i, (s, v) in enumerate(points)]))
    return client, exp, runs


def _interval(server, **params) -> requests.Response:
    return requests.get(f"{server.api}/metrics/get-history-bulk-interval", params=params)


def test_bulk_interval_samples_each_run_as_mlflow_does(server, long_runs):
    _, _, runs = long_runs
    ids = [run_id for run_id, _ in runs]
    r = _interval(server, run_ids=ids, metric_key="loss", max_results=100)
    assert r.status_code == 200, r.text
    got = r.json()["metrics"]
    for run_id, rows in runs:
        mine = [(m["step"], m["timestamp"], m["value"]) for m in got if m["run_id"] == run_id]
        assert mine == _expected_sample(rows, 100)
        assert len(mine) == 100
        assert mine[0][0] == 0 and mine[-1][0] == rows[-1][0]  # both ends kept
    assert [m["run_id"] for m in got] == [ids[0]] * 100 + [ids[1]] * 100  # runs in the order asked
    assert all(m["key"] == "loss" for m in got)


def test_bulk_interval_within_a_step_range_and_small_histories(server, long_runs):
    _, _, runs = long_runs
    run_id, rows = runs[0]
    r = _interval(server, run_ids=run_id, metric_key="loss", max_results=10,
                  start_step=100, end_step=199)
    assert r.status_code == 200, r.text
    steps = [m["step"] for m in r.json()["metrics"]]
    in_range = [row for row in rows if 100 <= row[0] <= 199]
    assert steps == [row[0] for row in _expected_sample(in_range, 10)]
    assert steps[0] == 100 and steps[-1] == 199
    # Fewer points than max_results: all of them, in step order.
    r = _interval(server, run_ids=run_id, metric_key="loss", start_step=5, end_step=9)
    assert [m["step"] for m in r.json()["metrics"]] == [5, 6, 7, 8, 9]
    # One point asked: the last one.
    r = _interval(server, run_ids=run_id, metric_key="loss", max_results=1)
    assert [m["step"] for m in r.json()["metrics"]] == [rows[-1][0]]
    # A metric the run does not have: nothing.
    r = _interval(server, run_ids=run_id, metric_key="nope")
    assert r.json().get("metrics", []) == []


def test_bulk_interval_is_bounded_when_every_point_has_one_step(server, mlflow_client):
    exp = mlflow_client.create_experiment(unique("one-step"))
    run_id = mlflow_client.create_run(exp).info.run_id
    _log(mlflow_client, run_id, "acc", [(0, i / 3000) for i in range(3000)], ts=1_000)
    r = _interval(server, run_ids=run_id, metric_key="acc", max_results=50)
    assert r.status_code == 200, r.text
    assert len(r.json()["metrics"]) == 50


def test_bulk_interval_errors(server, long_runs):
    _, _, runs = long_runs
    run_id = runs[0][0]
    assert_mlflow_error(_interval(server, metric_key="loss"), 400, "INVALID_PARAMETER_VALUE")
    assert_mlflow_error(_interval(server, run_ids=[f"{i:032x}" for i in range(101)],
                                  metric_key="loss"),
                        400, "INVALID_PARAMETER_VALUE", "at most 100 run_ids")
    assert_mlflow_error(_interval(server, run_ids=run_id), 400, "INVALID_PARAMETER_VALUE")
    for bad in (0, 2501):
        assert_mlflow_error(_interval(server, run_ids=run_id, metric_key="loss", max_results=bad),
                            400, "INVALID_PARAMETER_VALUE", "max_results must be between 1 and 2500")
    assert_mlflow_error(_interval(server, run_ids=run_id, metric_key="loss", start_step=3),
                        400, "INVALID_PARAMETER_VALUE", "both must be specified")
    assert_mlflow_error(_interval(server, run_ids=run_id, metric_key="loss", start_step=9,
                                  end_step=3),
                        400, "INVALID_PARAMETER_VALUE", "end_step must be greater than start_step")
    # A run that does not exist has no points (MLflow answers so too).
    r = _interval(server, run_ids=["0" * 32, run_id], metric_key="loss", max_results=3)
    assert r.status_code == 200, r.text
    assert {m["run_id"] for m in r.json()["metrics"]} == {run_id}


def test_bulk_history_for_the_ui(server, long_runs):
    _, _, runs = long_runs
    ids = [run_id for run_id, _ in runs]
    r = requests.get(f"{_ajax(server)}/metrics/get-history-bulk",
                     params={"run_id": list(reversed(ids)), "metric_key": "loss",
                             "max_results": 1500})
    assert r.status_code == 200, r.text
    got = r.json()["metrics"]
    assert len(got) == 1500
    first, second = sorted(ids)
    assert [m["run_id"] for m in got] == [first] * 1000 + [second] * 500 if first == ids[0] \
        else [first] * 1037 + [second] * 463
    by_run = [m for m in got if m["run_id"] == first]
    assert [(m["timestamp"], m["step"]) for m in by_run] == sorted(
        (m["timestamp"], m["step"]) for m in by_run)
    r = requests.get(f"{_ajax(server)}/metrics/get-history-bulk", params={"metric_key": "loss"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "at least one run_id")
    r = requests.get(f"{_ajax(server)}/metrics/get-history-bulk", params={"run_id": ids[0]})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "metric_key")


def test_every_api_route_answers_under_ajax_api(server, long_runs):
    _, exp, runs = long_runs
    r = requests.get(f"{_ajax(server)}/experiments/get", params={"experiment_id": exp})
    assert r.status_code == 200, r.text
    assert r.json()["experiment"]["experiment_id"] == exp
    r = requests.post(f"{_ajax(server)}/runs/search",
                      json={"experiment_ids": [exp], "max_results": 10})
    assert r.status_code == 200, r.text
    assert {run["info"]["run_id"] for run in r.json()["runs"]} == {run_id for run_id, _ in runs}
    r = requests.post(f"{_ajax(server)}/runs/create",
                      json={"experiment_id": exp, "start_time": int(time.time() * 1000)})
    assert r.status_code == 200, r.text
    name = unique("ajax-model")
    r = requests.post(f"{_ajax(server)}/registered-models/create", json={"name": name})
    assert r.status_code == 200, r.text
    r = requests.get(f"{_ajax(server)}/registered-models/get", params={"name": name})
    assert r.json()["registered_model"]["name"] == name
    r = requests.get(f"{_ajax(server)}/no-such-route")
    assert r.status_code == 404


def test_bulk_interval_when_steps_do_not_follow_time(server, mlflow_client):
    # Steps logged out of time order (a resumed run, a back-filled metric): the
    # sample is still taken in step order.
    exp = mlflow_client.create_experiment(unique("shuffled"))
    run_id = mlflow_client.create_run(exp).info.run_id
    points = [((i * 389) % 1000, float(i % 7)) for i in range(1000)]
    _log(mlflow_client, run_id, "m", points, ts=5_000)
    rows = [(s, 5_000 + i, v) for i, (s, v) in enumerate(points)]
    r = _interval(server, run_ids=run_id, metric_key="m", max_results=64)
    assert r.status_code == 200, r.text
    got = [(m["step"], m["timestamp"], m["value"]) for m in r.json()["metrics"]]
    assert got == _expected_sample(rows, 64)


def test_search_datasets_lists_what_the_experiments_runs_used(server, mlflow_client):
    import mlflow
    import pandas as pd

    exp = mlflow_client.create_experiment(unique("used-data"))
    other = mlflow_client.create_experiment(unique("other-data"))
    train = mlflow.data.from_pandas(pd.DataFrame({"a": [1, 2]}), name="train-set")
    evaluation = mlflow.data.from_pandas(pd.DataFrame({"a": [3]}), name="eval-set")
    mlflow.set_tracking_uri(server.url)
    with mlflow.start_run(experiment_id=exp):
        mlflow.log_input(train, context="training")
        mlflow.log_input(evaluation)  # no context
    with mlflow.start_run(experiment_id=exp):
        mlflow.log_input(train, context="training")  # the same triple again: listed once
        mlflow.log_input(train, context="tuning")  # the run has this input: left as it was
    with mlflow.start_run(experiment_id=exp):
        mlflow.log_input(train, context="tuning")
    with mlflow.start_run(experiment_id=other):
        mlflow.log_input(evaluation, context="eval")
    r = requests.post(f"{_ajax(server)}/experiments/search-datasets",
                      json={"experiment_ids": [exp]})
    assert r.status_code == 200, r.text
    got = sorted((s["experiment_id"], s["name"], s["digest"], s.get("context"))
                 for s in r.json()["dataset_summaries"])
    assert got == sorted([(exp, "train-set", train.digest, "training"),
                          (exp, "train-set", train.digest, "tuning"),
                          (exp, "eval-set", evaluation.digest, None)])
    r = requests.post(f"{_ajax(server)}/experiments/search-datasets",
                      json={"experiment_ids": [exp, other]})
    assert len(r.json()["dataset_summaries"]) == 4
    empty = mlflow_client.create_experiment(unique("no-data"))
    r = requests.post(f"{_ajax(server)}/experiments/search-datasets",
                      json={"experiment_ids": [empty]})
    assert r.status_code == 200 and r.json() == {}
    r = requests.post(f"{_ajax(server)}/experiments/search-datasets", json={"experiment_ids": []})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "at least one experiment_id")
    r = requests.post(f"{_ajax(server)}/experiments/search-datasets",
                      json={"experiment_ids": [str(i) for i in range(21)]})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "more than 20 experiment_ids")


def test_upload_artifact_from_the_ui(server, mlflow_client):
    exp = mlflow_client.create_experiment(unique("uploads"))
    run_id = mlflow_client.create_run(exp).info.run_id
    url = f"{_ajax(server)}/upload-artifact"
    r = requests.post(url, params={"run_uuid": run_id, "path": "notes/readme.txt"},
                      data=b"hello from the UI")
    assert r.status_code == 200, r.text
    listed = mlflow_client.list_artifacts(run_id, "notes")
    assert [(f.path, f.file_size) for f in listed] == [("notes/readme.txt", 17)]
    local = mlflow_client.download_artifacts(run_id, "notes/readme.txt")
    with open(local, "rb") as f:
        assert f.read() == b"hello from the UI"
    assert_mlflow_error(requests.post(url, params={"path": "a.txt"}, data=b"x"),
                        400, "INVALID_PARAMETER_VALUE", "run_uuid")
    assert_mlflow_error(requests.post(url, params={"run_uuid": run_id}, data=b"x"),
                        400, "INVALID_PARAMETER_VALUE", "path")
    assert_mlflow_error(requests.post(url, params={"run_uuid": run_id, "path": "a.txt"}),
                        400, "INVALID_PARAMETER_VALUE", "data")
    for bad in ("../escape.txt", "notes/../../x.txt", "/etc/passwd"):
        r = requests.post(url, params={"run_uuid": run_id, "path": bad}, data=b"x")
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = requests.post(url, params={"run_uuid": "0" * 32, "path": "a.txt"}, data=b"x")
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_ui_reads_files_of_runs_logged_models_and_versions(server, mlflow_client, tmp_path):
    """The UI's artifact viewer: `/get-artifact` (a run's file), `/model-versions/get-artifact`
    and the logged-model `artifacts/directories` and `artifacts/files` routes."""
    import mlflow

    exp = mlflow_client.create_experiment(unique("ui-files"))
    run_id = mlflow_client.create_run(exp).info.run_id
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "model" / "page.html").write_text("<script>alert(1)</script>")
    mlflow_client.log_artifacts(run_id, str(tmp_path / "model"), "model")

    r = requests.get(f"{server.url}/get-artifact", params={"run_id": run_id,
                                                           "path": "model/MLmodel"})
    assert r.status_code == 200, r.text
    assert r.content == b"flavors: {}\n"
    assert r.headers["Content-Disposition"].startswith("attachment")
    # an HTML artifact is a download, never a page of this server
    r = requests.get(f"{server.url}/get-artifact", params={"run_uuid": run_id,
                                                           "path": "model/page.html"})
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    if not REFERENCE:  # MLflow sends it as text/html (an attachment all the same)
        assert not r.headers["Content-Type"].startswith("text/html")
        assert r.headers["X-Content-Type-Options"] == "nosniff"

    name = unique("ui-files-model")
    mlflow_client.create_registered_model(name)
    mlflow_client.create_model_version(name, f"runs:/{run_id}/model", run_id)
    r = requests.get(f"{server.url}/model-versions/get-artifact",
                     params={"name": name, "version": "1", "path": "MLmodel"})
    if not REFERENCE:  # mlflow server 3.17 answers 500 for a runs:/ source (no tracking URI)
        assert r.status_code == 200, r.text
        assert r.content == b"flavors: {}\n"
    # Slipway's own listing of a version's files (its UI's), relative to the version
    files_url = f"{server.url}/api/v1/models/{name}/versions/1/files"
    if not REFERENCE:
        r = requests.get(files_url)
        assert r.status_code == 200, r.text
        assert sorted(f["path"] for f in r.json()["files"]) == ["MLmodel", "page.html"]
        assert_mlflow_error(requests.get(f"{server.url}/api/v1/models/{name}/versions/9/files"),
                            404, "RESOURCE_DOES_NOT_EXIST")

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return model_input

    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment(experiment_id=exp)
    info = mlflow.pyfunc.log_model(name="echo", python_model=Echo())
    r = requests.get(f"{_ajax(server)}/logged-models/{info.model_id}/artifacts/directories")
    assert r.status_code == 200, r.text
    listing = r.json()
    assert "MLmodel" in [f["path"] for f in listing["files"]]
    assert listing["root_uri"] == mlflow_client.get_logged_model(info.model_id).artifact_location
    r = requests.get(f"{_ajax(server)}/logged-models/{info.model_id}/artifacts/files",
                     params={"artifact_file_path": "MLmodel"})
    assert r.status_code == 200, r.text
    assert info.model_id in r.text and "python_function" in r.text
    r = requests.get(f"{_ajax(server)}/logged-models/{info.model_id}/artifacts/files")
    assert_mlflow_error(r, 400, "BAD_REQUEST", "artifact_file_path")

    # MLflow's path check, with its message, on every one of them
    for url, params in [
        (f"{server.url}/api/2.0/mlflow/artifacts/list", {"run_id": run_id}),
        (f"{server.url}/get-artifact", {"run_id": run_id}),
        (f"{server.url}/model-versions/get-artifact", {"name": name, "version": "1"}),
        (f"{_ajax(server)}/logged-models/{info.model_id}/artifacts/files", {}),
    ] + ([] if REFERENCE else [(files_url, {})]):
        key = "artifact_file_path" if "logged-models" in url else "path"
        # (a backslash is a separator only on Windows to MLflow; Slipway refuses it anywhere)
        for bad in ["../path", "model/../../x", "/etc/passwd", "%2e%2e/x", "a#b",
                    "file:///etc/passwd"] + ([] if REFERENCE else ["a\\..\\b"]):
            r = requests.get(url, params={**params, key: bad})
            assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid path")
            assert r.json()["message"] == "Invalid path", (url, bad)


def test_prompt_engineering_ui_saves_its_run(server, mlflow_client):
    """`runs/create-promptlab-run`: the prompt lab's result as a finished run."""
    exp = mlflow_client.create_experiment(unique("promptlab"))
    url = f"{_ajax(server)}/runs/create-promptlab-run"
    body = {
        "experiment_id": exp, "run_name": "try-1",
        "prompt_template": "Say hello to {{ name }}",
        "prompt_parameters": [{"key": "name", "value": "Ada"}],
        "model_route": "my_route",
        "model_parameters": [{"key": "temperature", "value": 0.1},
                             {"key": "max_tokens", "value": 20}],
        "model_input": "Say hello to Ada", "model_output": "Hello Ada!",
        "model_output_parameters": [{"key": "latency_ms", "value": 120}],
        "mlflow_version": mlflow.__version__, "user_id": "ada", "start_time": 456,
    }
    if not REFERENCE:  # MLflow 3.17's handler fails on tags (a 500)
        body["tags"] = [{"key": "k", "value": "v"}]
    for missing in ("experiment_id", "prompt_template", "prompt_parameters", "model_route",
                    "model_input", "mlflow_version"):
        r = requests.post(url, json={k: v for k, v in body.items() if k != missing})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE",
                            f"CreatePromptlabRun request must specify {missing}.")
    r = requests.post(url, json=body)
    assert r.status_code == 200, r.text
    run = r.json()["run"]
    info = run["info"]
    assert (info["run_name"], info["experiment_id"], info["user_id"], info["status"],
            info["start_time"]) == ("try-1", exp, "ada", "FINISHED", 456)
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params == {"model_route": "my_route", "prompt_template": "Say hello to {{ name }}",
                      "temperature": "0.1", "max_tokens": "20"}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["mlflow.loggedArtifacts"] == (
        '[{"path": "eval_results_table.json", "type": "table"}]')
    assert tags["mlflow.runSourceType"] == "PROMPT_ENGINEERING"
    assert REFERENCE or tags["k"] == "v"
    table = json.loads(open(mlflow_client.download_artifacts(
        info["run_id"], "eval_results_table.json")).read())
    assert table == {"columns": ["name", "prompt", "output", "latency_ms"],
                     "data": [["Ada", "Say hello to Ada", "Hello Ada!", "120"]]}
