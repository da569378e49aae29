"""The closed loop (issue 15): a retrain, the gates against the champion, and
a promotion that the deployment hot-swaps, on a real server.

The champion at @production is deliberately weak (one tree of depth 1 on one
feature of scikit-learn's breast cancer set); the loop's spec trains the real
model on the server's own dataset (pushed there with `slipway data push`)
with a champion gate, so a retrain that truly beats it passes and one that
must beat it by an impossible margin fails. Traffic runs through the swap:
not one request may fail. Retrains here are started by hand (`slipway loop
trigger`), which is also what an alert does through LoopService::OnAlert.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import requests
from mlflow.tracking import MlflowClient

from conftest import unique
from test_data import slipway
from test_serving import create, serving_version, wait_for
from test_train import TRAIN_SPEC, cancer_frame

pytestmark = pytest.mark.slipway_only

RETRAIN_TIMEOUT = 300


@pytest.fixture(scope="module")
def setup(tmp_path_factory, server):
    """A workspace with the cancer set, pushed to the server; a weak
    champion registered at @production; a deployment following it."""
    ws = tmp_path_factory.mktemp("loop-ws")
    dataset = unique("cancer")
    model = unique("cancer-loop")
    cancer_frame().to_csv(ws / "cancer.csv", index=False)
    slipway("data", "add", "cancer.csv", "--name", dataset, cwd=ws)
    slipway("data", "push", dataset, cwd=ws, env={"SLIPWAY_TRACKING_URI": server.url})
    base = TRAIN_SPEC.replace("data: cancer@1", f"data: {dataset}@1")
    weak = base.replace("{num_boost_round: 40, max_depth: 3, eta: 0.2}",
                        "{num_boost_round: 1, max_depth: 1}")
    weak += f"features: [mean_fractal_dimension]\nregister: {{model: {model}, alias: production}}\n"
    (ws / "weak.yaml").write_text(weak)
    slipway("train", "weak.yaml", "--tracking-uri", server.url, cwd=ws)
    # The loop's spec: the real model, which must beat the champion.
    good = (base + "gates:\n  - {champion: production, metric: roc_auc, margin: 0.01}\n"
            f"register: {{model: {model}, alias: production}}\n")
    (ws / "loop.yaml").write_text(good)
    (ws / "impossible.yaml").write_text(good.replace("margin: 0.01", "margin: 0.5"))
    # A threshold gate only: a retrain of the same data passes it again.
    (ws / "threshold.yaml").write_text(
        base + "gates:\n  - {metric: roc_auc, min: 0.95}\n"
        f"register: {{model: {model}, alias: production}}\n")
    dep = unique("loopdep")
    create(server, dep, f"models:/{model}@production")
    wait_for(lambda: serving_version(server, dep) == "1", 60, "version 1 serving")
    return {"ws": ws, "model": model, "dep": dep, "dataset": dataset}


def loop(server, *args, check=True, **kw):
    return slipway("loop", *args, "--tracking-uri", server.url, cwd=Path("."), check=check, **kw)


def loop_json(server, *args) -> dict:
    return json.loads(loop(server, *args, "--json").stdout)


def finished(server, dep: str, run_id: int) -> dict:
    def done():
        r = requests.get(f"{server.url}/api/v1/deployments/{dep}/loop/runs/{run_id}", timeout=30)
        assert r.status_code == 200, r.text
        run = r.json()["run"]
        return run if run["state"] not in ("queued", "running") else None
    return wait_for(done, RETRAIN_TIMEOUT, f"loop run {run_id} to finish")


def rows(n: int = 5) -> dict:
    frame = cancer_frame().drop(columns=["malignant"]).head(n)
    return {"dataframe_split": {"columns": list(frame.columns),
                                "data": frame.values.tolist()}}


class Traffic:
    """Requests to a deployment, one after another, until stopped: the body
    of `next_body()` each time (the same rows by default)."""

    def __init__(self, server, dep: str, next_body=None):
        self.url = f"{server.url}/deployments/{dep}/invocations"
        body = rows()
        self.next_body = next_body or (lambda: body)
        self.ok = 0
        self.failed: list[str] = []
        self.versions: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                r = requests.post(self.url, json=self.next_body(), timeout=30)
                if r.status_code == 200:
                    self.ok += 1
                    self.versions.add(r.headers.get("X-Model-Version", ""))
                else:
                    self.failed.append(f"{r.status_code} {r.text[:200]}")
            except requests.RequestException as e:
                self.failed.append(str(e))
            time.sleep(0.005)

    def start(self) -> "Traffic":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def test_a_retrain_that_beats_the_champion_is_promoted_and_hot_swapped(server, setup):
    dep, model = setup["dep"], setup["model"]
    out = loop(server, "set", dep, "--on", "drift_high,accuracy_low", "--train",
               str(setup["ws"] / "loop.yaml"), "--promote", "production", "--max-per-day", "2")
    assert "drift_high, accuracy_low" in out.stdout and "loop.yaml" in out.stdout
    with Traffic(server, dep) as traffic:
        run = loop_json(server, "trigger", dep, "--reason", "test")["run"]
        assert run["state"] == "queued" and run["trigger"] == "manual"
        done = finished(server, dep, run["id"])
        assert done["state"] == "promoted", done
        assert done["model"] == model and done["version"] == "2"
        assert done["data"] == f"{setup['dataset']}@latest"
        assert "gates passed" in done["reason"]
        wait_for(lambda: serving_version(server, dep) == "2", 60, "version 2 serving")
        # Answers from the new version before the traffic stops.
        wait_for(lambda: "2" in traffic.versions, 30, "an answer from version 2")
    assert traffic.failed == [], traffic.failed[:5]
    assert traffic.ok > 0 and traffic.versions == {"1", "2"}

    client = MlflowClient(server.url)
    assert client.get_model_version_by_alias(model, "production").version == "2"
    version = client.get_model_version(model, "2")
    # Lineage: the version says which loop run made it, and why.
    assert version.tags["slipway.loop.run"] == f"{dep}/{run['id']}"
    assert version.tags["slipway.loop.trigger"] == "manual"
    assert json.loads(version.tags["slipway.loop.cause"]) == {"reason": "test"}
    assert version.tags["slipway.gates"] == "PASSED"
    tracked = client.get_run(done["run_id"])
    assert tracked.data.tags["slipway.loop.run"] == f"{dep}/{run['id']}"
    assert tracked.data.tags["mlflow.runName"] == f"loop-{dep}-{run['id']}"


def test_a_failed_gate_leaves_production_untouched_and_the_budget_holds(server, setup):
    dep, model = setup["dep"], setup["model"]
    client = MlflowClient(server.url)
    before = client.get_model_version_by_alias(model, "production").version
    loop(server, "set", dep, "--on", "drift_high", "--train",
         str(setup["ws"] / "impossible.yaml"), "--max-per-day", "2")
    run = loop_json(server, "trigger", dep)["run"]
    done = finished(server, dep, run["id"])
    assert done["state"] == "gate_failed", done
    assert "champion" in done["reason"] and "FAILED" in done["reason"]
    assert done["version"] == ""
    assert client.get_model_version_by_alias(model, "production").version == before
    assert serving_version(server, dep) == before
    versions = {v.version for v in client.search_model_versions(f"name='{model}'")}
    assert versions == {"1", "2"}

    # Two retrains in the last 24 hours (this test's and the one before):
    # the budget of two refuses a third, and says when the next may start.
    third = loop_json(server, "trigger", dep)["run"]
    assert third["state"] == "skipped"
    assert third["reason"].startswith("budget: 2 retrains in the last 24 hours (max_per_day 2)")
    shown = loop(server, "show", dep).stdout
    assert "skipped" in shown and "gate_failed" in shown and "promoted" in shown


def test_manual_approval_waits_for_a_person(server, setup):
    dep, model = setup["dep"], setup["model"]
    client = MlflowClient(server.url)
    before = client.get_model_version_by_alias(model, "production").version
    loop(server, "set", dep, "--train", str(setup["ws"] / "threshold.yaml"), "--approval", "manual",
         "--max-per-day", "10")
    run = loop_json(server, "trigger", dep)["run"]
    done = finished(server, dep, run["id"])
    assert done["state"] == "pending_approval", done
    pending = done["version"]
    assert pending not in ("", before)
    # Registered, but production has not moved.
    assert client.get_model_version_by_alias(model, "production").version == before
    assert serving_version(server, dep) == before

    approved = loop_json(server, "approve", dep, str(run["id"]))["run"]
    assert approved["state"] == "promoted" and approved["decided_by"] == "anonymous"
    assert client.get_model_version_by_alias(model, "production").version == pending
    wait_for(lambda: serving_version(server, dep) == pending, 60, "the approved version serving")
    # A decided run cannot be decided again.
    again = loop(server, "approve", dep, str(run["id"]), check=False)
    assert again.returncode != 0 and "is promoted, not pending_approval" in again.stderr

    second = loop_json(server, "trigger", dep)["run"]
    assert finished(server, dep, second["id"])["state"] == "pending_approval"
    rejected = loop_json(server, "reject", dep, str(second["id"]), "--reason", "not today")["run"]
    assert rejected["state"] == "rejected" and "rejected: not today" in rejected["reason"]
    assert client.get_model_version_by_alias(model, "production").version == pending


def test_bad_policies_are_refused_with_what_is_wrong(server, setup, tmp_path):
    dep = setup["dep"]
    api = f"{server.url}/api/v1/deployments/{dep}/loop"
    no_register = TRAIN_SPEC
    r = requests.put(api, json={"spec": no_register, "spec_name": "x.yaml"})
    assert r.status_code == 400 and "x.yaml: the spec has no `register:` section" in r.text
    r = requests.put(api, json={"spec": "data: [\n", "spec_name": "broken.yaml"})
    assert r.status_code == 400 and "broken.yaml:" in r.json()["message"], r.text
    good = (setup["ws"] / "loop.yaml").read_text()
    r = requests.put(api, json={"spec": good, "approval": "sometimes"})
    assert r.status_code == 400 and "approval" in r.json()["message"]
    r = requests.put(api, json={"spec": good, "on": ["drift high"]})
    assert r.status_code == 400 and "'drift high' is not an alert name" in r.text
    r = requests.put(api, json={"spec": good, "max_per_day": 0})
    assert r.status_code == 400 and "max_per_day" in r.text
    r = requests.put(api, json={"spec": good, "data": "cancer"})
    assert r.status_code == 400 and "NAME@VERSION" in r.text
    missing = f"{server.url}/api/v1/deployments/{unique('nodep')}/loop"
    r = requests.put(missing, json={"spec": good})
    assert r.status_code == 404, r.text
    r = requests.get(f"{api}/runs/0x1")
    assert r.status_code == 400 and "not a loop run id" in r.text
    # Another deployment's run is not found through this one.
    other = unique("loopdep")
    create(server, other, f"models:/{setup['model']}@production")
    runs = requests.get(f"{api}/runs").json()["runs"]
    r = requests.get(f"{server.url}/api/v1/deployments/{other}/loop/runs/{runs[0]['id']}")
    assert r.status_code == 404


ADMIN = ("admin", "admin-Pa55word!")
ALICE = ("alice", "alice-Pa55word!")
BOB = ("bob", "bob-Pa55word!")


def _as(srv, user) -> dict:
    return {"SLIPWAY_TRACKING_URI": srv.url, "MLFLOW_TRACKING_USERNAME": user[0],
            "MLFLOW_TRACKING_PASSWORD": user[1]}


def _grant(srv, owner, user, kind: str, name: str, permission: str) -> None:
    r = requests.post(f"{srv.url}/api/3.0/mlflow/users/permissions/grant",
                      json={"username": user[0], "resource_type": kind, "resource_id": name,
                            "permission": permission}, auth=owner, timeout=30)
    assert r.status_code == 200, r.text


def test_with_auth_a_retrain_acts_as_the_policy_owner(tmp_path_factory):
    from conftest import SlipwayServer, slipway_binary
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("loop-auth"),
                        extra_args=["--auth"], env={"SLIPWAY_ADMIN_PASSWORD": ADMIN[1]}).start()
    try:
        for user in (ALICE, BOB):
            r = requests.post(f"{srv.api}/users/create", auth=ADMIN,
                              json={"username": user[0], "password": user[1]})
            assert r.status_code == 200, r.text
        ws = tmp_path_factory.mktemp("loop-auth-ws")
        dataset, model, dep = unique("cancer"), unique("cancer-auth"), unique("authdep")
        cancer_frame().to_csv(ws / "cancer.csv", index=False)
        slipway("data", "add", "cancer.csv", "--name", dataset, cwd=ws)
        slipway("data", "push", dataset, cwd=ws, env=_as(srv, ALICE))
        base = TRAIN_SPEC.replace("data: cancer@1", f"data: {dataset}@1")
        spec = (base + "gates:\n  - {metric: roc_auc, min: 0.95}\n"
                f"register: {{model: {model}, alias: production}}\n")
        (ws / "spec.yaml").write_text(spec)
        slipway("train", "spec.yaml", "--experiment", "alice", cwd=ws, env=_as(srv, ALICE))
        r = requests.post(f"{srv.url}/api/v1/deployments", auth=ALICE, timeout=30,
                          json={"name": dep, "model_uri": f"models:/{model}@production"})
        assert r.status_code == 200, r.text
        api = f"{srv.url}/api/v1/deployments/{dep}/loop"

        # Bob (the default READ) may look, not set or trigger.
        assert requests.put(api, json={"spec": spec}, auth=BOB).status_code == 403
        assert requests.post(f"{api}/trigger", json={}, auth=BOB).status_code == 403
        assert requests.put(api, json={"spec": spec}).status_code == 401

        out = slipway("loop", "set", dep, "--train", str(ws / "spec.yaml"), cwd=ws,
                      env=_as(srv, ALICE))
        assert "owner:       alice" in out.stdout
        assert requests.get(api, auth=BOB).status_code == 200
        run = requests.post(f"{api}/trigger", json={"reason": "auth"}, auth=ALICE).json()["run"]
        done = wait_for(lambda: (lambda r: r if r["state"] not in ("queued", "running") else None)(
            requests.get(f"{api}/runs/{run['id']}", auth=ALICE).json()["run"]),
            RETRAIN_TIMEOUT, "the retrain")
        assert done["state"] == "promoted", done
        assert done["version"] == "2"
        # The child's requests were alice's (its token), the retrain the loop's for her.
        entries = requests.get(f"{srv.url}/api/v1/audit", auth=ADMIN,
                               params={"max_results": 50000}).json()["entries"]
        assert any(e["action"] == "loop/retrain" and e["principal"] == "system:loop(alice)"
                   and e["outcome"] == 200 for e in entries), [e["action"] for e in entries][-20:]
        creates = [e for e in entries if e["action"] == "model-versions/create"]
        assert [e["principal"] for e in creates] == ["alice", "alice"]
        # The token made for the run is revoked once it ends.
        tokens = requests.get(f"{srv.url}/api/v1/tokens", auth=ALICE).json()["tokens"]
        assert [t for t in tokens if t["name"].startswith("loop run")] == []

        # Bob may manage the deployment but may not read the dataset: a loop
        # he owns cannot reach the data through the deployment.
        _grant(srv, ALICE, BOB, "deployment", dep, "MANAGE")
        _grant(srv, ALICE, BOB, "dataset", dataset, "NO_PERMISSIONS")
        r = requests.put(api, json={"spec": spec, "spec_name": "spec.yaml"}, auth=BOB)
        assert r.status_code == 200, r.text
        run = requests.post(f"{api}/trigger", json={}, auth=BOB).json()["run"]
        done = wait_for(lambda: (lambda r: r if r["state"] not in ("queued", "running") else None)(
            requests.get(f"{api}/runs/{run['id']}", auth=BOB).json()["run"]),
            RETRAIN_TIMEOUT, "bob's retrain")
        assert done["state"] == "failed", done
        assert "user 'system:loop(bob)' has NO_PERMISSIONS on dataset" in done["reason"], done
        assert done["version"] == "" and done["run_id"] == ""
        # Nothing was trained, nothing registered.
        versions = requests.get(f"{srv.api}/model-versions/search", auth=ALICE,
                                params={"filter": f"name='{model}'"}).json()["model_versions"]
        assert sorted(v["version"] for v in versions) == ["1", "2"]
    finally:
        srv.stop()
