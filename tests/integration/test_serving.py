"""Model serving: deployments that follow the registry, and `slipway serve`.

Models are trained here with the real xgboost and scikit-learn, logged with the
real mlflow client to a real `slipway server`, registered, and served by that
server; predictions are compared with the library's own on the same rows. The
hot-swap test puts wrk's steady load on a deployment while the alias moves twice
and a rollback happens, and counts every non-2xx answer (there must be none).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pandas as pd
import pytest
import requests

from conftest import assert_mlflow_error, free_port, slipway_binary, unique

pytestmark = pytest.mark.slipway_only

FEATURES = [f"f{i}" for i in range(8)]


def training_data(seed: int = 0, rows: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    y = x["f0"] * 2 + x["f1"] - x["f2"] * 0.5 + rng.normal(scale=0.1, size=rows)
    return x, y.to_numpy()


def log_xgboost(name: str, depth: int, seed: int):
    """Trains an XGBRegressor, logs and registers it; returns (model, version)."""
    import mlflow
    import mlflow.xgboost
    import xgboost as xgb
    from mlflow.models import infer_signature

    x, y = training_data(seed)
    model = xgb.XGBRegressor(n_estimators=20, max_depth=depth, random_state=seed).fit(x, y)
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(
            model,
            name="model",
            registered_model_name=name,
            signature=infer_signature(x, model.predict(x)),
            input_example=x.head(2),
        )
    return model, str(info.registered_model_version)


def split_body(frame: pd.DataFrame) -> dict:
    return {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; last: {last}")


def deployment(srv, name: str) -> dict:
    r = requests.get(f"{srv.url}/api/v1/deployments/{name}", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["deployment"]


def serving_version(srv, name: str, role: str = "primary") -> str | None:
    for v in deployment(srv, name)["versions"]:
        if v["role"] == role and v["state"] == "ready":
            return v["version"]
    return None


def create(srv, name: str, model_uri: str, **extra) -> dict:
    r = requests.post(f"{srv.url}/api/v1/deployments",
                      json={"name": name, "model_uri": model_uri, **extra}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["deployment"]


def invoke(srv, name: str, body, **kw) -> requests.Response:
    return requests.post(f"{srv.url}/deployments/{name}/invocations", json=body, timeout=30, **kw)


def set_alias(client, model: str, alias: str, version: str) -> None:
    client.set_registered_model_alias(model, alias, version)


def test_deployment_serves_the_aliased_version_and_follows_the_alias(server, mlflow_client):
    model_name = unique("churn")
    m1, v1 = log_xgboost(model_name, depth=2, seed=1)
    m2, v2 = log_xgboost(model_name, depth=5, seed=2)
    set_alias(mlflow_client, model_name, "production", v1)
    name = unique("dep")
    created = create(server, name, f"models:/{model_name}@production")
    assert created["model_uri"] == f"models:/{model_name}@production"
    wait_for(lambda: serving_version(server, name) == v1, what="v1 to serve")

    x, _ = training_data(seed=7, rows=25)
    r = invoke(server, name, split_body(x))
    assert r.status_code == 200, r.text
    assert r.headers["X-Model-Version"] == v1
    assert r.headers.get("X-Request-Id")
    np.testing.assert_allclose(r.json()["predictions"], m1.predict(x), rtol=0, atol=1e-6)

    # Every scoring format MLflow's server takes gives the same answer.
    records = {"dataframe_records": json.loads(x.to_json(orient="records"))}
    inputs = {"inputs": {c: x[c].tolist() for c in FEATURES}}
    for body in (records, inputs):
        r = invoke(server, name, body)
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["predictions"], m1.predict(x), rtol=0, atol=1e-6)
    csv = requests.post(f"{server.url}/deployments/{name}/invocations", data=x.to_csv(index=False),
                        headers={"Content-Type": "text/csv"}, timeout=30)
    assert csv.status_code == 200, csv.text
    np.testing.assert_allclose(csv.json()["predictions"], m1.predict(x), rtol=0, atol=1e-6)

    set_alias(mlflow_client, model_name, "production", v2)
    wait_for(lambda: serving_version(server, name) == v2, what="the swap to v2")
    r = invoke(server, name, split_body(x))
    assert r.headers["X-Model-Version"] == v2
    np.testing.assert_allclose(r.json()["predictions"], m2.predict(x), rtol=0, atol=1e-6)
    shown = deployment(server, name)
    assert shown["previous_version"] == v1
    assert any(f"now serves {model_name} v{v2}" in e["text"] for e in shown["events"]), shown

    # The swap is in the audit trail, as the serving component.
    entries = requests.get(f"{server.url}/api/v1/audit",
                           params={"action": "deployments/load", "max_results": 1000},
                           timeout=30).json()["entries"]
    mine = [e for e in entries if e["target"] == f"deployment:{name}"]
    assert mine and all(e["principal"] == "system:serving" for e in mine), entries
    assert all(e["outcome"] == 200 for e in mine)

    # Rollback pins the previous version; moving the alias again follows it.
    r = requests.post(f"{server.url}/api/v1/deployments/{name}/rollback", timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: serving_version(server, name) == v1, what="the rollback to v1")
    assert deployment(server, name)["pinned_version"] == v1
    # v1 loaded again counts from then (its series on /metrics goes on).
    again = next(v for v in deployment(server, name)["versions"] if v["role"] == "primary")
    assert again.get("requests", 0) == 0, again
    set_alias(mlflow_client, model_name, "production", v2)
    wait_for(lambda: serving_version(server, name) == v2, what="following the alias again")
    assert deployment(server, name)["pinned_version"] == ""

    metrics = requests.get(f"{server.url}/metrics", timeout=30).text
    assert re.search(rf'slipway_serving_requests_total{{deployment="{name}",model="{model_name}",'
                     rf'version="{v1}",role="primary",status="ok"}} [1-9]', metrics), metrics
    assert f'slipway_serving_swaps_total{{deployment="{name}"}}' in metrics


def test_bad_requests_get_clear_errors(server, mlflow_client):
    model_name = unique("errors")
    _, v1 = log_xgboost(model_name, depth=2, seed=3)
    name = unique("dep")
    create(server, name, f"models:/{model_name}/{v1}")
    wait_for(lambda: serving_version(server, name) == v1, what="v1 to serve")
    x, _ = training_data(seed=8, rows=3)

    missing = invoke(server, name, split_body(x.drop(columns=["f3"])))
    assert missing.status_code == 400
    assert "'f3'" in missing.json()["message"]

    malformed = requests.post(f"{server.url}/deployments/{name}/invocations", data=b'{"dataframe_split": {',
                              headers={"Content-Type": "application/json"}, timeout=30)
    assert malformed.status_code == 400
    assert "line 1" in malformed.json()["message"]

    wrong_type = x.astype(object)
    wrong_type.loc[0, "f1"] = "seven"
    typed = invoke(server, name, split_body(wrong_type))
    assert typed.status_code == 400, typed.text
    assert "f1" in typed.json()["message"]

    media = requests.post(f"{server.url}/deployments/{name}/invocations", data="x",
                          headers={"Content-Type": "text/plain"}, timeout=30)
    assert media.status_code == 415

    # NaN and missing values are missing values to a tree model, as in xgboost.
    with_nan = '{"dataframe_split": {"columns": %s, "data": [[NaN, null, 1, 2, 3, 4, 5, 6]]}}' % json.dumps(FEATURES)
    r = requests.post(f"{server.url}/deployments/{name}/invocations", data=with_nan,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200, r.text

    assert invoke(server, unique("nothing"), split_body(x)).status_code == 404

    big = b"{" + b" " * (100 * 1024 * 1024) + b"}"
    r = requests.post(f"{server.url}/deployments/{name}/invocations", data=big,
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413

    r = requests.post(f"{server.url}/api/v1/deployments",
                      json={"name": unique("dep"), "model_uri": f"models:/{unique('absent')}@production"},
                      timeout=30)
    assert r.status_code == 404, r.text
    r = requests.post(f"{server.url}/api/v1/deployments",
                      json={"name": "../etc", "model_uri": f"models:/{model_name}/{v1}"}, timeout=30)
    assert r.status_code == 400, r.text


def test_a_version_that_cannot_load_never_takes_traffic(server, mlflow_client):
    import mlflow

    model_name = unique("broken")
    m1, v1 = log_xgboost(model_name, depth=2, seed=4)
    set_alias(mlflow_client, model_name, "production", v1)
    name = unique("dep")
    create(server, name, f"models:/{model_name}@production")
    wait_for(lambda: serving_version(server, name) == v1, what="v1 to serve")

    # Version 2's model file is garbage.
    with mlflow.start_run() as run:
        mlflow.log_text("flavors:\n  xgboost:\n    data: model.xgb\n    model_format: json\n",
                        "model/MLmodel")
        mlflow.log_text('{"learner": {"gradient_booster": ', "model/model.xgb")
    v2 = mlflow_client.create_model_version(model_name, f"runs:/{run.info.run_id}/model",
                                            run_id=run.info.run_id).version
    set_alias(mlflow_client, model_name, "production", str(v2))

    def failed():
        for v in deployment(server, name)["versions"]:
            if v["role"] == "primary" and v["state"] == "failed":
                return v
        return None

    status = wait_for(failed, what="the load failure to show")
    assert status["error"], status
    assert serving_version(server, name) == v1
    x, _ = training_data(seed=9, rows=5)
    r = invoke(server, name, split_body(x))
    assert r.status_code == 200 and r.headers["X-Model-Version"] == v1
    np.testing.assert_allclose(r.json()["predictions"], m1.predict(x), rtol=0, atol=1e-6)
    entries = requests.get(f"{server.url}/api/v1/audit",
                           params={"action": "deployments/load", "max_results": 1000},
                           timeout=30).json()["entries"]
    assert any(e["target"] == f"deployment:{name}" and e["outcome"] >= 400 for e in entries), entries
    metrics = requests.get(f"{server.url}/metrics", timeout=30).text
    assert f'slipway_serving_load_failures_total{{deployment="{name}"}}' in metrics


def test_canary_splits_traffic_sticky_by_key_and_shadow_mirrors(server, mlflow_client):
    model_name = unique("split")
    _, v1 = log_xgboost(model_name, depth=2, seed=5)
    _, v2 = log_xgboost(model_name, depth=4, seed=6)
    name = unique("dep")
    create(server, name, f"models:/{model_name}/{v1}")
    wait_for(lambda: serving_version(server, name) == v1, what="v1")
    r = requests.patch(f"{server.url}/api/v1/deployments/{name}",
                       json={"canary_uri": f"models:/{model_name}/{v2}", "canary_weight": 50},
                       timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: serving_version(server, name, "canary") == v2, what="the canary")
    x, _ = training_data(seed=10, rows=1)
    seen = {invoke(server, name, split_body(x)).headers["X-Model-Version"] for _ in range(60)}
    assert seen == {v1, v2}
    for key in ("alice", "bob", "carol"):
        versions = {invoke(server, name, split_body(x), headers={"X-Slipway-Route-Key": key})
                    .headers["X-Model-Version"] for _ in range(10)}
        assert len(versions) == 1, (key, versions)
    # A version asked for by OIP's path gets that version, whatever the split.
    meta = requests.get(f"{server.url}/v2/models/{name}/versions/{v2}", timeout=30)
    assert meta.status_code == 200 and v2 in meta.json()["versions"]

    # Rollback removes the canary.
    requests.post(f"{server.url}/api/v1/deployments/{name}/rollback", timeout=30)
    wait_for(lambda: serving_version(server, name, "canary") is None, what="the canary to go")
    assert {invoke(server, name, split_body(x)).headers["X-Model-Version"] for _ in range(20)} == {v1}

    # A shadow sees every request; its answers are never returned.
    requests.patch(f"{server.url}/api/v1/deployments/{name}",
                   json={"shadow_uri": f"models:/{model_name}/{v2}"}, timeout=30)
    wait_for(lambda: serving_version(server, name, "shadow") == v2, what="the shadow")
    for _ in range(20):
        assert invoke(server, name, split_body(x)).headers["X-Model-Version"] == v1
    pattern = (rf'slipway_serving_requests_total{{deployment="{name}",model="{model_name}",'
               rf'version="{v2}",role="shadow",status="ok"}} (\d+)')

    def shadow_count():
        found = re.search(pattern, requests.get(f"{server.url}/metrics", timeout=30).text)
        return found and int(found.group(1)) >= 20

    wait_for(shadow_count, what="the shadow's predictions")


def _metric(srv, pattern: str) -> int | None:
    found = re.search(pattern, requests.get(f"{srv.url}/metrics", timeout=30).text)
    return int(float(found.group(1))) if found else None


def test_each_role_counts_its_own_requests_and_a_shadow_is_no_answer(server, mlflow_client):
    """A shadow of the primary's own version, and a canary of another model
    with the same version number: each role has its own counters, totals and
    history, and the shadow's copies are not counted as the primary's answers."""
    model_name = unique("roles")
    other = unique("roles-other")
    _, v1 = log_xgboost(model_name, depth=2, seed=61)
    _, o1 = log_xgboost(other, depth=3, seed=62)
    assert v1 == o1 == "1"
    name = unique("dep")
    create(server, name, f"models:/{model_name}/{v1}", shadow_uri=f"models:/{model_name}/{v1}",
           canary_uri=f"models:/{other}/{o1}", canary_weight=0)
    for role in ("primary", "shadow", "canary"):
        wait_for(lambda: serving_version(server, name, role) == "1", what=f"the {role}")
    x, _ = training_data(seed=63, rows=3)
    for _ in range(20):
        r = invoke(server, name, split_body(x))
        assert r.status_code == 200 and r.headers["X-Model-Version"] == v1, r.text

    # The history: 20 answers by the primary, 20 copies by the shadow, none
    # by the canary, whatever they share.
    def history():
        samples = requests.get(f"{server.url}/api/v1/deployments/{name}/metrics",
                               timeout=30).json()["samples"]
        count = {}
        for s in samples:
            for v in s["versions"]:
                count[v["role"]] = count.get(v["role"], 0) + v["requests"]
        return count

    # Every copy follows its answer, and all roles are sampled at once: once
    # the shadow's 20 are in, so are the primary's.
    wait_for(lambda: history().get("shadow", 0) >= 20, timeout=30, what="the shadow's copies")
    assert history() == {"primary": 20, "shadow": 20, "canary": 0}, history()
    by_role = {v["role"]: v for v in deployment(server, name)["versions"]}
    assert by_role["primary"]["requests"] == 20, by_role
    assert by_role["shadow"]["requests"] == 20, by_role
    assert "requests" not in by_role["canary"], by_role  # none

    # On /metrics: the labels there were, and the model and the role.
    labels = f'deployment="{name}",model="{model_name}",version="{v1}"'
    assert _metric(server, rf'slipway_serving_requests_total{{{labels},role="primary",status="ok"}} (\S+)') == 20
    assert _metric(server, rf'slipway_serving_requests_total{{{labels},role="shadow",status="ok"}} (\S+)') == 20
    assert _metric(server, rf'slipway_serving_rows_total{{{labels},role="primary"}} (\S+)') == 60
    assert _metric(server, rf'slipway_serving_requests_total{{deployment="{name}",model="{other}",'
                           rf'version="{o1}",role="canary",status="ok"}} (\S+)') == 0


def test_a_swapped_out_version_keeps_its_last_interval_in_the_history(server, mlflow_client):
    model_name = unique("flush")
    _, v1 = log_xgboost(model_name, depth=2, seed=64)
    _, v2 = log_xgboost(model_name, depth=3, seed=65)
    set_alias(mlflow_client, model_name, "live", v1)
    name = unique("dep")
    create(server, name, f"models:/{model_name}@live")
    wait_for(lambda: serving_version(server, name) == v1, what="v1")
    url = f"{server.url}/api/v1/deployments/{name}/metrics"

    # Right after a periodic sample, so the swap comes well before the next.
    def newest():
        samples = requests.get(url, timeout=30).json()["samples"]
        return samples[-1]["time"] if samples else 0

    first = newest()
    wait_for(lambda: newest() > first, timeout=20, what="a periodic sample")
    x, _ = training_data(seed=66, rows=2)
    for _ in range(15):
        assert invoke(server, name, split_body(x)).status_code == 200
    set_alias(mlflow_client, model_name, "live", v2)
    wait_for(lambda: serving_version(server, name) == v2, what="the swap to v2")
    samples = requests.get(url, timeout=30).json()["samples"]
    v1_requests = sum(v["requests"] for s in samples for v in s["versions"]
                      if v["role"] == "primary" and v["version"] == v1)
    assert v1_requests == 15, samples


def test_requests_in_flight_at_a_swap_count_in_the_old_versions_history(server, mlflow_client):
    model_name = unique("inflight")
    _, v1 = log_xgboost(model_name, depth=2, seed=74)
    _, v2 = log_xgboost(model_name, depth=3, seed=75)
    set_alias(mlflow_client, model_name, "live", v1)
    name = unique("dep")
    # A lone request waits a second in the batcher for rows that never come:
    # at any moment requests are in flight, and those at the swap finish on
    # v1 after it.
    create(server, name, f"models:/{model_name}@live", max_batch_rows=1000,
           max_queue_delay_us=1_000_000)
    wait_for(lambda: serving_version(server, name) == v1, what="v1")
    x, _ = training_data(seed=76, rows=1)
    answered, lock, stop, failures = {}, threading.Lock(), threading.Event(), []

    def client():
        while not stop.is_set():
            r = invoke(server, name, split_body(x))
            with lock:
                if r.status_code != 200:
                    failures.append(r.text)
                version = r.headers.get("X-Model-Version")
                answered[version] = answered.get(version, 0) + 1

    clients = [threading.Thread(target=client) for _ in range(3)]
    for t in clients:
        t.start()
    time.sleep(1.5)
    set_alias(mlflow_client, model_name, "live", v2)
    wait_for(lambda: serving_version(server, name) == v2, what="the swap to v2")
    time.sleep(1.5)
    stop.set()
    for t in clients:
        t.join()
    assert not failures, failures
    assert answered.get(v1, 0) >= 3 and answered.get(v2, 0) >= 1, answered

    def in_history(version):
        samples = requests.get(f"{server.url}/api/v1/deployments/{name}/metrics",
                               timeout=30).json()["samples"]
        return sum(v["requests"] for s in samples for v in s["versions"]
                   if v["role"] == "primary" and v["version"] == version)

    # Every request v1 answered is in its history, the last ones included.
    wait_for(lambda: in_history(v1) == answered[v1] and in_history(v2) == answered[v2],
             timeout=20, what=f"the history to hold {answered}")


def test_promote_moves_the_alias_and_removes_the_canary_in_one_call(server, mlflow_client):
    model_name = unique("promote")
    _, v1 = log_xgboost(model_name, depth=2, seed=67)
    _, v2 = log_xgboost(model_name, depth=3, seed=68)
    _, v3 = log_xgboost(model_name, depth=4, seed=69)
    set_alias(mlflow_client, model_name, "live", v1)
    name = unique("dep")
    create(server, name, f"models:/{model_name}@live")
    wait_for(lambda: serving_version(server, name) == v1, what="v1")
    promote = f"{server.url}/api/v1/deployments/{name}/promote"

    # No canary: a clear 400 that says so, and nothing changes.
    assert_mlflow_error(requests.post(promote, timeout=30), 400, "INVALID_STATE", "no canary")
    assert mlflow_client.get_model_version_by_alias(model_name, "live").version == v1
    assert_mlflow_error(requests.post(f"{server.url}/api/v1/deployments/{unique('nothing')}/promote",
                                      timeout=30), 404, "RESOURCE_DOES_NOT_EXIST")

    requests.patch(f"{server.url}/api/v1/deployments/{name}",
                   json={"canary_uri": f"models:/{model_name}/{v2}", "canary_weight": 10}, timeout=30)
    wait_for(lambda: serving_version(server, name, "canary") == v2, what="the canary")
    r = requests.post(promote, timeout=30)
    assert r.status_code == 200, r.text
    promoted = r.json()["deployment"]
    assert promoted["canary_uri"] == "" and promoted["canary_weight"] == 0
    assert promoted["model_uri"] == f"models:/{model_name}@live"  # still follows the alias
    assert mlflow_client.get_model_version_by_alias(model_name, "live").version == v2
    wait_for(lambda: serving_version(server, name) == v2, what="the promoted version")
    shown = deployment(server, name)
    assert serving_version(server, name, "canary") is None
    assert shown["previous_version"] == v1  # a rollback returns to it
    assert any(f"promoted the canary {model_name} v{v2}" in e["text"] for e in shown["events"]), shown
    x, _ = training_data(seed=70, rows=1)
    assert {invoke(server, name, split_body(x)).headers["X-Model-Version"] for _ in range(10)} == {v2}
    # Audited once, as whoever promoted (the alias move is no entry of its own).
    entries = [e for e in requests.get(f"{server.url}/api/v1/audit",
                                       params={"since": shown["creation_time"], "max_results": 5000},
                                       timeout=30).json()["entries"]
               if e["principal"] == "anonymous" and e["outcome"] == 200
               and e["action"] in ("deployments/promote", "registered-models/alias/set",
                                   "deployments/update")
               and (e["target"] == f"deployment:{name}" or model_name in e["target"])]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("deployments/update", f"deployment:{name}"),  # the canary
        ("deployments/promote", f"deployment:{name}")], entries

    # A deployment of a version (no alias) is pointed at the canary's version.
    pinned = unique("dep")
    create(server, pinned, f"models:/{model_name}/{v1}", canary_uri=f"models:/{model_name}/{v3}",
           canary_weight=50)
    wait_for(lambda: serving_version(server, pinned, "canary") == v3, what="the canary")
    r = requests.post(f"{server.url}/api/v1/deployments/{pinned}/promote", timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["deployment"]["model_uri"] == f"models:/{model_name}/{v3}"
    wait_for(lambda: serving_version(server, pinned) == v3, what="the promoted version")
    assert mlflow_client.get_model_version_by_alias(model_name, "live").version == v2  # untouched


def test_two_models_with_one_version_number_and_a_rollback_across_models(server, mlflow_client):
    import tritonclient.http as triton

    first, second = unique("first"), unique("second")
    model_a, va = log_xgboost(first, depth=2, seed=71)
    model_b, vb = log_xgboost(second, depth=4, seed=72)
    assert va == vb == "1"  # two models, one version number
    name = unique("dep")
    create(server, name, f"models:/{first}/{va}", canary_uri=f"models:/{second}/{vb}",
           canary_weight=10)
    wait_for(lambda: serving_version(server, name, "canary") == vb, what="the canary")
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    x, _ = training_data(seed=73, rows=8)

    def infer(version):
        tensor = triton.InferInput("input__0", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x.to_numpy(dtype=np.float32))
        return client.infer(name, [tensor], model_version=version).as_numpy("predictions").reshape(-1)

    # The number names the primary's version; the canary answers to its role.
    expected_a = model_a.predict(x.astype(np.float32))
    expected_b = model_b.predict(x.astype(np.float32))
    assert np.abs(expected_a - expected_b).max() > 1e-3  # the two can be told apart
    np.testing.assert_allclose(infer("1"), expected_a, rtol=0, atol=1e-5)
    np.testing.assert_allclose(infer("primary"), expected_a, rtol=0, atol=1e-5)
    np.testing.assert_allclose(infer("canary"), expected_b, rtol=0, atol=1e-5)
    assert client.get_model_metadata(name)["versions"] == ["1", "canary"]
    assert client.is_model_ready(name, "canary")
    assert not client.is_model_ready(name, "2")

    # Promote the canary (another model): the primary follows it by URI, and
    # the version served before is remembered with its model.
    r = requests.post(f"{server.url}/api/v1/deployments/{name}/promote", timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: deployment(server, name)["previous_model"] == first, what="the swap")
    shown = deployment(server, name)
    assert shown["model_uri"] == f"models:/{second}/{vb}"
    assert (shown["previous_model"], shown["previous_version"]) == (first, va)
    np.testing.assert_allclose(infer(""), expected_b, rtol=0, atol=1e-5)

    # Rollback returns to the first model's version, not to version 1 of the second.
    r = requests.post(f"{server.url}/api/v1/deployments/{name}/rollback", timeout=30)
    assert r.status_code == 200, r.text
    rolled = r.json()["deployment"]
    assert rolled["model_uri"] == f"models:/{first}/{va}" and rolled["pinned_version"] == ""
    assert (rolled["previous_model"], rolled["previous_version"]) == (second, vb)
    wait_for(lambda: np.allclose(infer(""), expected_a, rtol=0, atol=1e-5),
             what="the first model to answer again")
    assert any(f"rolled back to {first} v{va}" in e["text"] for e in deployment(server, name)["events"])


def test_predictions_are_logged_with_their_request_id(server, mlflow_client):
    model_name = unique("logged")
    model, v1 = log_xgboost(model_name, depth=2, seed=23)
    name = unique("dep")
    create(server, name, f"models:/{model_name}/{v1}")
    wait_for(lambda: serving_version(server, name) == v1, what="v1")
    x, _ = training_data(seed=24, rows=3)
    r = invoke(server, name, split_body(x))
    assert r.status_code == 200
    request_id = r.headers["X-Request-Id"]
    folder = server.data_dir / "serving" / "predictions" / name

    def logged():
        for path in folder.glob("*.jsonl") if folder.exists() else []:
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if record["request_id"] == request_id:
                    return record
        return None

    record = wait_for(logged, what="the prediction log record")
    assert record["deployment"] == name and record["version"] == v1 and record["shadow"] is False
    assert record["inputs"]["f0"] == pytest.approx(x["f0"].tolist())
    np.testing.assert_allclose(record["outputs"], model.predict(x), rtol=0, atol=1e-6)
    # A deployment that samples nothing logs nothing. Segments are published
    # a few seconds after their first record, in order: once a record logged
    # after the unsampled ones shows, any of those logged would show too.
    requests.patch(f"{server.url}/api/v1/deployments/{name}", json={"log_sample_rate": 0}, timeout=30)
    before = sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl"))
    for _ in range(5):
        invoke(server, name, split_body(x))
    requests.patch(f"{server.url}/api/v1/deployments/{name}", json={"log_sample_rate": 1}, timeout=30)
    r = invoke(server, name, split_body(x))
    assert r.status_code == 200
    request_id = r.headers["X-Request-Id"]
    wait_for(logged, what="the record logged after the unsampled ones")
    assert sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl")) == before + 1
    # Only published segments are in the folder: a segment being written is
    # a hidden temporary file.
    assert all(not p.name.startswith(".") for p in folder.iterdir())


def cached_versions(srv, model_name: str) -> set[str]:
    """The versions of `model_name` whose files are in the server's model cache."""
    found = set()
    for marker in (srv.data_dir / "serving" / "models").glob("*/.complete"):
        lines = marker.read_text().splitlines()
        if len(lines) >= 3 and lines[1] == model_name:
            found.add(lines[2])
    return found


def test_the_model_cache_keeps_only_what_deployments_need(server, mlflow_client):
    model_name = unique("cached")
    _, v1 = log_xgboost(model_name, depth=2, seed=31)
    _, v2 = log_xgboost(model_name, depth=3, seed=32)
    _, v3 = log_xgboost(model_name, depth=4, seed=33)
    set_alias(mlflow_client, model_name, "production", v1)
    name = unique("dep")
    create(server, name, f"models:/{model_name}@production")
    wait_for(lambda: serving_version(server, name) == v1, what="v1")
    assert cached_versions(server, model_name) == {v1}
    set_alias(mlflow_client, model_name, "production", v2)
    wait_for(lambda: serving_version(server, name) == v2, what="v2")
    # v1 stays: a rollback goes back to it.
    assert cached_versions(server, model_name) == {v1, v2}
    set_alias(mlflow_client, model_name, "production", v3)
    wait_for(lambda: serving_version(server, name) == v3, what="v3")
    wait_for(lambda: cached_versions(server, model_name) == {v2, v3}, timeout=10,
             what="v1 pruned once nothing can go back to it")
    # The rollback target's files are there: rolling back copies nothing.
    r = requests.post(f"{server.url}/api/v1/deployments/{name}/rollback", timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: serving_version(server, name) == v2, what="the rollback to v2")
    assert cached_versions(server, model_name) == {v2, v3}
    r = requests.delete(f"{server.url}/api/v1/deployments/{name}", timeout=30)
    assert r.status_code == 200
    wait_for(lambda: cached_versions(server, model_name) == set(), timeout=10,
             what="the deleted deployment's versions pruned")


def test_tritonclient_http_infers_on_a_deployment(server, mlflow_client):
    import tritonclient.http as triton

    model_name = unique("oip")
    model, v1 = log_xgboost(model_name, depth=3, seed=11)
    name = unique("dep")
    create(server, name, f"models:/{model_name}/{v1}")
    wait_for(lambda: serving_version(server, name) == v1, what="v1")
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(name)
    metadata = client.get_model_metadata(name)
    assert metadata["name"] == name and [i["name"] for i in metadata["inputs"]] == FEATURES
    x, _ = training_data(seed=12, rows=16)
    for binary in (False, True):
        tensor = triton.InferInput("input__0", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x.to_numpy(dtype=np.float32), binary_data=binary)
        result = client.infer(name, [tensor],
                              outputs=[triton.InferRequestedOutput("predictions", binary_data=binary)])
        np.testing.assert_allclose(result.as_numpy("predictions").reshape(-1),
                                   model.predict(x.astype(np.float32)), rtol=0, atol=1e-5)
        assert result.get_response()["model_version"] == v1


def test_deployments_survive_a_restart(fresh_server, fresh_mlflow_client):
    model_name = unique("durable")
    m1, v1 = log_xgboost(model_name, depth=2, seed=13)
    name = unique("dep")
    create(fresh_server, name, f"models:/{model_name}/{v1}", max_batch_rows=64, max_queue_delay_us=500)
    wait_for(lambda: serving_version(fresh_server, name) == v1, what="v1")
    fresh_server.kill()  # SIGKILL: the deployment was acknowledged, it must come back
    fresh_server.start()
    wait_for(lambda: serving_version(fresh_server, name) == v1, what="v1 after the restart")
    shown = deployment(fresh_server, name)
    assert shown["max_batch_rows"] == 64 and shown["max_queue_delay_us"] == 500
    x, _ = training_data(seed=14, rows=4)
    r = invoke(fresh_server, name, split_body(x))
    np.testing.assert_allclose(r.json()["predictions"], m1.predict(x), rtol=0, atol=1e-6)
    r = requests.delete(f"{fresh_server.url}/api/v1/deployments/{name}", timeout=30)
    assert r.status_code == 200
    assert invoke(fresh_server, name, split_body(x)).status_code == 404


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
"""


def test_hot_swap_under_load_loses_no_request(server, mlflow_client, tmp_path):
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (make test installs it)")
    model_name = unique("load")
    _, v1 = log_xgboost(model_name, depth=2, seed=15)
    _, v2 = log_xgboost(model_name, depth=3, seed=16)
    _, v3 = log_xgboost(model_name, depth=4, seed=17)
    set_alias(mlflow_client, model_name, "production", v1)
    name = unique("dep")
    create(server, name, f"models:/{model_name}@production")
    wait_for(lambda: serving_version(server, name) == v1, what="v1")
    x, _ = training_data(seed=18, rows=1)
    script = tmp_path / "post.lua"
    script.write_text(WRK_SCRIPT % json.dumps(split_body(x)))
    load = subprocess.Popen(
        ["wrk", "-t1", "-c8", "-d12s", "-s", str(script), f"{server.url}/deployments/{name}/invocations"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(2)
        set_alias(mlflow_client, model_name, "production", v2)
        wait_for(lambda: serving_version(server, name) == v2, timeout=10, what="v2 under load")
        set_alias(mlflow_client, model_name, "production", v3)
        wait_for(lambda: serving_version(server, name) == v3, timeout=10, what="v3 under load")
        requests.post(f"{server.url}/api/v1/deployments/{name}/rollback", timeout=30)
        wait_for(lambda: serving_version(server, name) == v2, timeout=10, what="the rollback under load")
    finally:
        out, _ = load.communicate(timeout=60)
    assert load.returncode == 0, out
    assert "Non-2xx" not in out, out
    assert "Socket errors" not in out, out
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    assert requests_done > 100, out


def test_slipway_serve_a_folder_and_a_registered_model(server, mlflow_client, tmp_path):
    import mlflow.xgboost

    model_name = unique("standalone")
    model, v1 = log_xgboost(model_name, depth=3, seed=19)
    set_alias(mlflow_client, model_name, "champion", v1)
    folder = tmp_path / "model"
    x, y = training_data(seed=19)
    from mlflow.models import infer_signature
    mlflow.xgboost.save_model(model, str(folder), signature=infer_signature(x, model.predict(x)))
    rows, _ = training_data(seed=20, rows=6)
    for target in (str(folder), f"models:/{model_name}@champion"):
        port = free_port()
        proc = subprocess.Popen(
            [str(slipway_binary()), "serve", target, "--port", str(port), "--tracking-uri", server.url,
             "--cache-dir", str(tmp_path / "cache")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(lambda: _answers(f"{url}/ping"), what="slipway serve to start")
            r = requests.post(f"{url}/invocations", json=split_body(rows), timeout=30)
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(r.json()["predictions"], model.predict(rows), rtol=0, atol=1e-6)
            assert requests.get(f"{url}/health", timeout=30).status_code == 200
            assert requests.get(f"{url}/version", timeout=30).status_code == 200
            # The scoring route takes POST only; a GET is an API's 404.
            assert_mlflow_error(requests.get(f"{url}/invocations", timeout=30), 404,
                                "ENDPOINT_NOT_FOUND")
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_scikit_learn_pipeline_is_served_through_python(server, mlflow_client):
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = training_data(seed=21)
    labels = (y > 0).astype(int)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, labels)
    model_name = unique("sklearn")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(pipeline, name="model", registered_model_name=model_name,
                                        signature=infer_signature(x, pipeline.predict(x)))
    name = unique("dep")
    create(server, name, f"models:/{model_name}/{info.registered_model_version}")
    wait_for(lambda: serving_version(server, name), timeout=60, what="the Python worker to load")
    rows, _ = training_data(seed=22, rows=30)
    r = invoke(server, name, split_body(rows))
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == pipeline.predict(rows).tolist()


def test_slow_and_idle_clients_do_not_stall_slipway_serve(tmp_path):
    """1,000 idle connections plus 200 clients sending one byte a second: a new
    client's /health and /invocations of `slipway serve` still answer."""
    import mlflow.xgboost
    import xgboost as xgb
    from mlflow.models import infer_signature

    from test_http_limits import _raise_fd_limit, _read_reply, _status_of

    x, y = training_data(seed=25)
    model = xgb.XGBRegressor(n_estimators=5, max_depth=2).fit(x, y)
    folder = tmp_path / "model"
    mlflow.xgboost.save_model(model, str(folder), signature=infer_signature(x, model.predict(x)))
    port = free_port()
    proc = subprocess.Popen([str(slipway_binary()), "serve", str(folder), "--port", str(port),
                             "--no-access-log"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _raise_fd_limit(1400)
    url = f"http://127.0.0.1:{port}"
    idle: list[socket.socket] = []
    slow: list[socket.socket] = []
    try:
        wait_for(lambda: _answers(f"{url}/ping"), what="slipway serve to start")
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _status_of(_read_reply(s)) == 200
            idle.append(s)
        slow = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(200)]
        request = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: "
        for i in range(3):  # three seconds of trickle under way
            for s in slow:
                s.send(request[i:i + 1])
            time.sleep(1)
        assert requests.get(f"{url}/health", timeout=5).status_code == 200
        rows, _ = training_data(seed=26, rows=2)
        r = requests.post(f"{url}/invocations", json=split_body(rows), timeout=5)
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["predictions"], model.predict(rows), rtol=0, atol=1e-6)
        for i in range(3, 5):  # the slow ones are still being read, not dropped
            for s in slow:
                s.send(request[i:i + 1])
            time.sleep(1)
        assert requests.post(f"{url}/invocations", json=split_body(rows), timeout=5).status_code == 200
    finally:
        for s in idle + slow:
            s.close()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_slipway_deploy_commands(server, mlflow_client):
    """The `slipway deploy` CLI against a running server: create, show, ls,
    canary, shadow, rollback, delete, and its errors."""
    model_name = unique("cli")
    _, v1 = log_xgboost(model_name, depth=2, seed=27)
    _, v2 = log_xgboost(model_name, depth=3, seed=28)
    name = unique("dep")

    def deploy(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(slipway_binary()), "deploy", *args, "--tracking-uri", server.url],
                                capture_output=True, text=True, timeout=60)
        assert (result.returncode == 0) == ok, (args, result.stdout, result.stderr)
        return result

    out = deploy("create", name, "--model", f"models:/{model_name}/{v1}", "--max-batch-rows", "8").stdout
    assert f"deployment {name}" in out and f"models:/{model_name}/{v1}" in out
    wait_for(lambda: serving_version(server, name) == v1, what="v1")
    shown = json.loads(deploy("show", name, "--json").stdout)["deployment"]
    assert shown["max_batch_rows"] == 8

    # Rates over the last minute: once the server has sampled the version
    # (every 5 s), the requests after that sample, errors among them.
    def recent() -> dict | None:
        versions = json.loads(deploy("show", name, "--json").stdout)["deployment"]["versions"]
        return next((v.get("recent") for v in versions if v["role"] == "primary"), None)

    wait_for(recent, timeout=20, what="the first rate sample")
    rows, _ = training_data(seed=29, rows=3)
    for _ in range(20):
        assert invoke(server, name, split_body(rows)).status_code == 200
    assert invoke(server, name, {"dataframe_split": {"columns": ["nope"], "data": [[1]]}}).status_code == 400
    figures = recent()
    assert figures["requests"] == 21, figures
    assert figures["requests_per_s"] > 0 and figures["errors_per_s"] > 0, figures
    assert figures["latency_p99_ms"] > 0, figures
    table = deploy("show", name).stdout
    assert "REQ/S" in table and "P99 MS" in table
    listed = deploy("ls").stdout
    assert name in listed and f"models:/{model_name}/{v1}" in listed
    out = deploy("canary", name, f"models:/{model_name}/{v2}", "--weight", "25").stdout
    assert "25% of requests" in out
    wait_for(lambda: serving_version(server, name, "canary") == v2, what="the canary")
    deploy("shadow", name, f"models:/{model_name}/{v2}")
    wait_for(lambda: serving_version(server, name, "shadow") == v2, what="the shadow")
    deploy("shadow", name, "--clear")
    out = deploy("show", name).stdout
    assert "canary" in out and "primary" in out and "events" in out
    deploy("rollback", name)
    wait_for(lambda: serving_version(server, name, "canary") is None, what="the rollback")
    failed = deploy("promote", name, ok=False)
    assert "has no canary to promote" in failed.stderr, failed.stderr
    deploy("canary", name, f"models:/{model_name}/{v2}", "--weight", "5")
    wait_for(lambda: serving_version(server, name, "canary") == v2, what="the canary")
    out = deploy("promote", name).stdout
    assert f"models:/{model_name}/{v2}" in out and "canary:" not in out, out
    wait_for(lambda: serving_version(server, name) == v2, what="the promoted version")
    failed = deploy("create", name, "--model", f"models:/{model_name}/{v1}", ok=False)
    assert "already exists" in failed.stderr
    failed = deploy("create", unique("dep"), "--model", "churn", ok=False)
    assert "models:/NAME@ALIAS" in failed.stderr
    deploy("delete", name)
    assert deploy("show", name, ok=False).returncode != 0


def test_native_predictions_answer_while_every_worker_is_held(server_factory, monkeypatch):
    """Predictions of a natively served model run on the I/O threads, so a
    server whose workers are all held by slow uploads still answers them
    (while a route that needs a worker waits)."""
    from conftest import _point_mlflow_at

    srv = server_factory()
    srv.extra_args = ["--threads", "2"]
    srv.start()
    _point_mlflow_at(srv, monkeypatch)
    model_name = unique("held")
    model, v1 = log_xgboost(model_name, depth=2, seed=30)
    name = unique("dep")
    create(srv, name, f"models:/{model_name}/{v1}")
    wait_for(lambda: serving_version(srv, name) == v1, what="v1")
    rows, _ = training_data(seed=31, rows=4)

    # Two uploads that send one byte a second: each holds a worker.
    held = []
    try:
        for i in range(2):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(f"PUT /api/2.0/mlflow-artifacts/artifacts/held/{i}.bin HTTP/1.1\r\n"
                      f"Host: x\r\nContent-Length: 1000\r\n\r\n".encode())
            held.append(s)
        time.sleep(1)
        for s in held:
            s.send(b"x")
        # A route that needs a worker waits behind them...
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"{srv.api}/experiments/search", params={"max_results": 1}, timeout=1.5)
        # ...while predictions answer, correct, at once.
        for _ in range(5):
            r = requests.post(f"{srv.url}/deployments/{name}/invocations", json=split_body(rows),
                              timeout=2)
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(r.json()["predictions"], model.predict(rows), rtol=0,
                                       atol=1e-6)
    finally:
        for s in held:
            s.close()
    # Once the uploads are gone the workers serve again.
    wait_for(lambda: requests.get(f"{srv.api}/experiments/search", params={"max_results": 1},
                                  timeout=5).status_code == 200, what="a worker")


def test_a_deployment_follows_its_model_through_a_rename(server, mlflow_client):
    """Renaming the registered model rewrites the deployment's reference (as
    system:serving, audited); it keeps serving, survives nothing stale, and
    follows the alias under the new name."""
    old = unique("old")
    m1, v1 = log_xgboost(old, depth=2, seed=32)
    m2, v2 = log_xgboost(old, depth=4, seed=33)
    set_alias(mlflow_client, old, "production", v1)
    name = unique("dep")
    create(server, name, f"models:/{old}@production", canary_uri=f"models:/{old}/{v2}",
           canary_weight=0)
    wait_for(lambda: serving_version(server, name) == v1, what="v1")

    new = unique("new")
    mlflow_client.rename_registered_model(old, new)
    wait_for(lambda: deployment(server, name)["model_uri"] == f"models:/{new}@production",
             what="the reference to follow the rename")
    shown = deployment(server, name)
    assert shown["canary_uri"] == f"models:/{new}/{v2}", shown
    assert any(f"renamed to {new}" in e["text"] for e in shown["events"]), shown
    x, _ = training_data(seed=34, rows=5)
    wait_for(lambda: any(v["model_name"] == new and v["state"] == "ready"
                         for v in deployment(server, name)["versions"] if v["role"] == "primary"),
             what="the version under its new name")
    r = invoke(server, name, split_body(x))
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["predictions"], m1.predict(x), rtol=0, atol=1e-6)

    # The alias under the new name moves: the deployment follows it.
    set_alias(mlflow_client, new, "production", v2)
    wait_for(lambda: serving_version(server, name) == v2, what="the alias under the new name")
    np.testing.assert_allclose(invoke(server, name, split_body(x)).json()["predictions"],
                               m2.predict(x), rtol=0, atol=1e-6)

    entries = requests.get(f"{server.url}/api/v1/audit",
                           params={"action": "deployments/follow-rename", "max_results": 100},
                           timeout=30).json()["entries"]
    mine = [e for e in entries if e["target"] == f"deployment:{name}"]
    assert len(mine) == 1 and mine[0]["principal"] == "system:serving", entries
    assert mine[0]["outcome"] == 200
