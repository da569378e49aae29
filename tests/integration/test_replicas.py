"""Stateless replicas (issue 16): two and three `slipway server` processes on
one real PostgreSQL database and one artifact folder, behind Debian's nginx
on loopback, act as one service.

- Writers through different replicas at once (the real mlflow client: runs,
  params, metrics, batches, registered models, versions, aliases): every
  replica then reads back all of it, and `slipway audit verify` finds one
  intact hash chain holding every write.
- A deployment created through one replica is served by the other; an alias
  moved through one is served by the other within seconds; a deployment
  deleted through one stops serving on the other.
- kill -9 of one replica (the one that leads the background work) under a
  write and serving load through the balancer: every acknowledged write is
  there afterwards, the balancer keeps answering through the others, and
  another replica takes over the leadership.

Replicas learn of each other's changes through PostgreSQL's LISTEN/NOTIFY
(app/replica_sync.h); nothing here sleeps for a fixed time: each wait polls
for what it expects, with a generous deadline.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time

import numpy as np
import pytest
import requests

from conftest import slipway_binary, unique
from replicas import ReplicaSet, find_nginx
from test_serving import log_xgboost, split_body, training_data, wait_for

pytestmark = [
    pytest.mark.slipway_only,
    pytest.mark.skipif(find_nginx() is None,
                       reason="nginx not installed (Debian's nginx-light: make test installs it)"),
]


@pytest.fixture
def replica_set(tmp_path, postgres_db):
    """A factory: replica_set(n) starts n replicas and nginx; all stop at the end."""
    started: list[ReplicaSet] = []

    def make(n: int) -> ReplicaSet:
        group = ReplicaSet(tmp_path / f"set-{len(started)}", postgres_db)
        started.append(group)
        return group.start(n)

    yield make
    for group in started:
        group.stop()


def client_of(url: str):
    from mlflow import MlflowClient
    return MlflowClient(tracking_uri=url, registry_uri=url)


def point_mlflow_at(url: str, monkeypatch) -> None:
    import mlflow
    while mlflow.active_run() is not None:
        mlflow.end_run()
    for var in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", url)
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    import mlflow.tracking.fluent as fluent
    fluent._active_experiment_id = None


def audit_verify(url: str) -> dict:
    """`slipway audit verify` through a replica (it verifies the chain in the
    shared PostgreSQL database; `--store` takes SQLite files only today)."""
    result = subprocess.run([str(slipway_binary()), "audit", "verify", "--tracking-uri", url,
                             "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"], report
    return report


# ------------------------------------------------------------------ writers


def write_through(url: str, prefix: str, runs: int, out: dict, errors: list) -> None:
    """One writer: an experiment of its own with `runs` runs, and a registered
    model with a version per run and an alias, all through replica `url`."""
    from mlflow.entities import Metric, Param
    try:
        client = client_of(url)
        experiment = client.create_experiment(f"{prefix}-exp")
        model = f"{prefix}-model"
        client.create_registered_model(model)
        written = {"experiment": experiment, "model": model, "runs": {}, "versions": []}
        for i in range(runs):
            run = client.create_run(experiment, run_name=f"{prefix}-run-{i}")
            run_id = run.info.run_id
            client.log_param(run_id, "writer", prefix)
            for step in range(5):
                client.log_metric(run_id, "loss", 1.0 / (step + 1 + i), step=step)
            client.log_batch(run_id, metrics=[Metric("acc", 0.5 + j / 100, 0, j)
                                              for j in range(20)],
                             params=[Param(f"p{j}", str(j)) for j in range(3)])
            client.set_terminated(run_id)
            version = client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
            written["runs"][run_id] = i
            written["versions"].append(version.version)
        client.set_registered_model_alias(model, "champion", written["versions"][-1])
        out[prefix] = written
    except Exception as e:  # reported by the test, with the writer's name
        errors.append(f"{prefix} through {url}: {e!r}")


def check_read_back(url: str, written: dict) -> None:
    """Everything a writer wrote, read through replica `url`."""
    client = client_of(url)
    for prefix, w in written.items():
        runs = client.search_runs([w["experiment"]], max_results=1000)
        assert {r.info.run_id for r in runs} == set(w["runs"]), (url, prefix)
        for run in runs:
            i = w["runs"][run.info.run_id]
            assert run.data.params["writer"] == prefix
            assert {k: v for k, v in run.data.params.items() if k.startswith("p")} == \
                {"p0": "0", "p1": "1", "p2": "2"}
            assert run.info.status == "FINISHED"
            loss = client.get_metric_history(run.info.run_id, "loss")
            assert sorted((m.step, m.value) for m in loss) == \
                [(s, 1.0 / (s + 1 + i)) for s in range(5)], (url, prefix, i)
            assert len(client.get_metric_history(run.info.run_id, "acc")) == 20
        versions = client.search_model_versions(f"name = '{w['model']}'")
        assert sorted(v.version for v in versions) == sorted(w["versions"])
        champion = client.get_model_version_by_alias(w["model"], "champion")
        assert champion.version == w["versions"][-1]


def test_writers_through_three_replicas_read_back_everywhere_and_one_audit_chain(
        replica_set, monkeypatch):
    group = replica_set(3)
    point_mlflow_at(group.url, monkeypatch)
    written: dict = {}
    errors: list[str] = []
    # Two writers per replica, straight at it, and two through the balancer.
    targets = [r.url for r in group.replicas for _ in range(2)] + [group.url, group.url]
    threads = [threading.Thread(target=write_through,
                                args=(url, unique(f"w{i}"), 4, written, errors))
               for i, url in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    assert len(written) == len(targets)

    for replica in group.replicas:
        check_read_back(replica.url, written)
    check_read_back(group.url, written)

    # One chain, intact, with an entry for every write (each writer made
    # 2 + runs * 10 + 1 changing requests; the chain holds more: the server's
    # own entries).
    writes = len(targets) * (2 + 4 * 10 + 1)
    for replica in group.replicas:
        report = audit_verify(replica.url)
        assert report["entries"] >= writes, report


# ------------------------------------------------------------------ serving


def deployment_on(url: str, name: str) -> requests.Response:
    return requests.get(f"{url}/api/v1/deployments/{name}", timeout=30)


def served_version(url: str, name: str, rows) -> str | None:
    r = requests.post(f"{url}/deployments/{name}/invocations", json=split_body(rows), timeout=30)
    return r.headers.get("X-Model-Version") if r.status_code == 200 else None


def test_alias_move_through_one_replica_reaches_the_others_serving(replica_set, monkeypatch):
    group = replica_set(2)
    a, b = group.replicas
    point_mlflow_at(a.url, monkeypatch)
    model_name = unique("churn")
    m1, v1 = log_xgboost(model_name, depth=2, seed=1)
    m2, v2 = log_xgboost(model_name, depth=5, seed=2)
    client_of(a.url).set_registered_model_alias(model_name, "production", v1)
    name = unique("dep")
    r = requests.post(f"{a.url}/api/v1/deployments",
                      json={"name": name, "model_uri": f"models:/{model_name}@production"},
                      timeout=30)
    assert r.status_code == 200, r.text

    x, _ = training_data(seed=7, rows=10)
    # Created through A: B learns of it and serves v1.
    wait_for(lambda: served_version(b.url, name, x) == v1, timeout=30,
             what="replica B to serve v1 of a deployment created through A")
    r = requests.post(f"{b.url}/deployments/{name}/invocations", json=split_body(x), timeout=30)
    np.testing.assert_allclose(r.json()["predictions"], m1.predict(x), rtol=0, atol=1e-6)

    # The alias moves through A: B serves v2 within seconds.
    client_of(a.url).set_registered_model_alias(model_name, "production", v2)
    wait_for(lambda: served_version(b.url, name, x) == v2, timeout=30,
             what="replica B to serve v2 after the alias moved through A")
    r = requests.post(f"{b.url}/deployments/{name}/invocations", json=split_body(x), timeout=30)
    np.testing.assert_allclose(r.json()["predictions"], m2.predict(x), rtol=0, atol=1e-6)
    wait_for(lambda: served_version(a.url, name, x) == v2, timeout=30, what="A to serve v2")

    # Changed through B (pinned back to v1 by a rollback): A follows.
    r = requests.post(f"{b.url}/api/v1/deployments/{name}/rollback", timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: served_version(a.url, name, x) == v1, timeout=30,
             what="replica A to serve v1 after a rollback through B")
    assert deployment_on(a.url, name).json()["deployment"]["pinned_version"] == v1

    # Deleted through B: A stops serving it.
    r = requests.delete(f"{b.url}/api/v1/deployments/{name}", timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: deployment_on(a.url, name).status_code == 404, timeout=30,
             what="replica A to drop the deployment deleted through B")
    r = requests.post(f"{a.url}/deployments/{name}/invocations", json=split_body(x), timeout=30)
    assert r.status_code == 404, r.text


# ------------------------------------------------------------------ kill -9


def test_kill_9_of_the_leader_under_load_loses_nothing_acknowledged(replica_set, monkeypatch):
    group = replica_set(3)
    # One replica leads the background work; the others follow.
    leaders = wait_for(lambda: group.leaders() if len(group.leaders()) == 1 else None,
                       timeout=30, what="exactly one leader among three replicas")
    victim = group.replicas[leaders[0]]

    point_mlflow_at(group.url, monkeypatch)
    model_name = unique("svc")
    _, v1 = log_xgboost(model_name, depth=3, seed=3)
    client_of(group.url).set_registered_model_alias(model_name, "production", v1)
    name = unique("dep")
    r = requests.post(f"{group.url}/api/v1/deployments",
                      json={"name": name, "model_uri": f"models:/{model_name}@production"},
                      timeout=30)
    assert r.status_code == 200, r.text
    x, _ = training_data(seed=9, rows=3)
    for replica in group.replicas:
        wait_for(lambda: served_version(replica.url, name, x) == v1, timeout=60,
                 what=f"{replica.url} to serve the deployment")

    client = client_of(group.url)
    experiment = client.create_experiment(unique("kill"))
    run_ids = [client.create_run(experiment).info.run_id for _ in range(4)]

    stop = threading.Event()
    acknowledged: list[tuple[str, int, float]] = []  # run, step, value
    lock = threading.Lock()
    predictions = {"ok": 0, "failed": 0}

    def writer(run_id: str, offset: int) -> None:
        session = requests.Session()
        step = 0
        while not stop.is_set() and step < 5000:
            value = float(offset * 100000 + step)
            try:
                r = session.post(f"{group.url}/api/2.0/mlflow/runs/log-metric",
                                 json={"run_id": run_id, "key": "m", "value": value,
                                       "timestamp": 1, "step": step}, timeout=30)
                if r.status_code == 200:
                    with lock:
                        acknowledged.append((run_id, step, value))
            except requests.RequestException:
                pass  # not acknowledged: nothing promised
            step += 1

    def predictor() -> None:
        session = requests.Session()
        n = 0
        while not stop.is_set() and n < 20000:
            try:
                r = session.post(f"{group.url}/deployments/{name}/invocations",
                                 json=split_body(x), timeout=30)
                predictions["ok" if r.status_code == 200 else "failed"] += 1
            except requests.RequestException:
                predictions["failed"] += 1
            n += 1

    threads = [threading.Thread(target=writer, args=(run_id, i))
               for i, run_id in enumerate(run_ids)] + [threading.Thread(target=predictor)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(acknowledged) >= 200, timeout=120, what="writes before the kill")
        victim.kill()  # SIGKILL of its process group
        before = len(acknowledged)
        wait_for(lambda: len(acknowledged) >= before + 200, timeout=120,
                 what="writes through the balancer after the kill")
        served_before = predictions["ok"]
        wait_for(lambda: predictions["ok"] >= served_before + 100, timeout=120,
                 what="predictions through the balancer after the kill")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)

    # Through the balancer, the survivors keep answering, every time.
    for _ in range(30):
        r = requests.post(f"{group.url}/deployments/{name}/invocations", json=split_body(x),
                          timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["X-Model-Version"] == v1

    # Every acknowledged point is there, read through each survivor.
    expected: dict[str, set] = {}
    for run_id, step, value in acknowledged:
        expected.setdefault(run_id, set()).add((step, value))
    for replica in group.replicas:
        if not replica.alive():
            continue
        survivor = client_of(replica.url)
        for run_id, points in expected.items():
            got = {(m.step, m.value) for m in survivor.get_metric_history(run_id, "m")}
            missing = points - got
            assert not missing, f"{len(missing)} acknowledged points missing on {replica.url}"

    # Another replica leads now (the victim's session went with it).
    new_leaders = wait_for(lambda: group.leaders() or None, timeout=30,
                           what="a survivor to take over the leadership")
    assert len(new_leaders) == 1 and group.replicas[new_leaders[0]] is not victim
