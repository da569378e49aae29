"""Authentication and permissions: `slipway server --auth` driven by the real `mlflow`
client (MLFLOW_TRACKING_USERNAME/PASSWORD for HTTP Basic, MLFLOW_TRACKING_TOKEN for
Bearer), MLflow's own auth client (`mlflow.server.get_app_client("basic-auth")`), the
`slipway users` CLI and raw HTTP for the error forms.

The permission model is MLflow's basic-auth app's: READ < USE < EDIT < MANAGE per
experiment and registered model (and, in Slipway, dataset), the creator manages what
they create, admins manage everything, and everyone else gets the default permission
(READ).
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import time

import mlflow
import mlflow.server
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb
from mlflow import MlflowClient
from mlflow.entities import Param
from mlflow.exceptions import MlflowException

from conftest import SlipwayServer, assert_mlflow_error, free_port, slipway_binary, unique

pytestmark = pytest.mark.slipway_only

ADMIN = ("admin", "admin-Pa55word!")
ALICE = ("alice", "alice-Pa55word!")
BOB = ("bob", "bob-Pa55word!")
PIP = ["xgboost"]


def _start_auth_server(tmp_path_factory, name: str, *extra: str) -> SlipwayServer:
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp(name),
                        extra_args=["--auth", *extra],
                        env={"SLIPWAY_ADMIN_PASSWORD": ADMIN[1]})
    return srv.start()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    srv = _start_auth_server(tmp_path_factory, "slipway-auth")
    admin = requests.Session()
    admin.auth = ADMIN
    for user, password in (ALICE, BOB):
        r = admin.post(f"{srv.api}/users/create", json={"username": user, "password": password})
        assert r.status_code == 200, r.text
    yield srv
    srv.assert_clean_exit()


@pytest.fixture
def as_user(auth_server, monkeypatch):
    """Points the mlflow client at the auth server as a given user (or token)."""

    def switch(user: tuple[str, str] | None = None, token: str | None = None) -> MlflowClient:
        for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                    "MLFLOW_TRACKING_TOKEN"):
            monkeypatch.delenv(var, raising=False)
        if user:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user[0])
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", user[1])
        if token:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server.url)
        mlflow.set_tracking_uri(auth_server.url)
        mlflow.set_registry_uri(auth_server.url)
        return MlflowClient(tracking_uri=auth_server.url, registry_uri=auth_server.url)

    yield switch
    while mlflow.active_run() is not None:
        mlflow.end_run()


def _auth_client(srv):
    return mlflow.server.get_app_client("basic-auth", tracking_uri=srv.url)


def _denied(exc_info) -> None:
    assert exc_info.value.error_code == "PERMISSION_DENIED", str(exc_info.value)


def _audit(srv, **params) -> list[dict]:
    r = requests.get(f"{srv.url}/api/v1/audit", params={"max_results": 50000, **params},
                     auth=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


# ------------------------------------------------------------ authentication


def test_requests_without_valid_credentials_get_401_with_a_challenge(auth_server):
    search = f"{auth_server.api}/experiments/search?max_results=10"
    r = requests.get(search)
    body = assert_mlflow_error(r, 401, "UNAUTHENTICATED")
    assert r.headers["WWW-Authenticate"].startswith("Basic ")
    assert "MLFLOW_TRACKING_USERNAME" in body["message"]

    r = requests.get(search, auth=(ALICE[0], "not-her-password"))
    assert_mlflow_error(r, 401, "UNAUTHENTICATED", "Invalid user name or password")
    r = requests.get(search, auth=("nobody-by-that-name", "x"))
    assert_mlflow_error(r, 401, "UNAUTHENTICATED", "Invalid user name or password")
    r = requests.get(search, headers={"Authorization": "Bearer slw_0123456789abcdef_nope"})
    assert_mlflow_error(r, 401, "UNAUTHENTICATED", "API token")
    r = requests.get(search, headers={"Authorization": "Basic !!not-base64!!"})
    assert_mlflow_error(r, 401, "UNAUTHENTICATED", "Malformed")
    r = requests.get(search, headers={"Authorization": "Digest username=x"})
    assert_mlflow_error(r, 401, "UNAUTHENTICATED", "Unsupported")
    # writes are refused the same way, and nothing is written
    r = requests.post(f"{auth_server.api}/experiments/create", json={"name": unique("anon")})
    assert_mlflow_error(r, 401, "UNAUTHENTICATED")

    assert requests.get(search, auth=ALICE).status_code == 200
    # health checks and Prometheus scrapes stay open
    assert requests.get(f"{auth_server.url}/health").status_code == 200
    assert requests.get(f"{auth_server.url}/metrics").status_code == 200


def test_mlflow_client_without_credentials_is_refused(as_user):
    client = as_user(None)
    with pytest.raises(MlflowException) as exc:
        client.search_experiments()
    assert "401" in str(exc.value) or "UNAUTHENTICATED" in str(exc.value)


def test_mlflow_client_with_basic_auth_tracks_a_run(as_user):
    client = as_user(ALICE)
    exp_id = client.create_experiment(unique("alice-exp"))
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_run() as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_metrics({"loss": 0.5, "acc": 0.9}, step=1)
        mlflow.set_tag("team", "a")
    got = client.get_run(run.info.run_id)
    assert got.data.params == {"lr": "0.1"}
    assert got.data.metrics == {"loss": 0.5, "acc": 0.9}
    assert got.info.status == "FINISHED"
    found = client.search_runs([exp_id], "params.lr = '0.1'")
    assert [r.info.run_id for r in found] == [run.info.run_id]


# ------------------------------------------------------------ permissions


def _alice_experiment_with_run(as_user):
    alice = as_user(ALICE)
    exp_id = alice.create_experiment(unique("alice-owned"))
    run_id = alice.create_run(exp_id).info.run_id
    alice.log_metric(run_id, "loss", 1.0, step=0)
    return exp_id, run_id


def test_read_user_cannot_log_to_or_delete_someone_elses_experiment(as_user):
    exp_id, run_id = _alice_experiment_with_run(as_user)

    bob = as_user(BOB)
    # READ (the default) lets bob see everything
    assert bob.get_experiment(exp_id).experiment_id == exp_id
    assert bob.get_run(run_id).data.metrics == {"loss": 1.0}
    assert [r.info.run_id for r in bob.search_runs([exp_id])] == [run_id]
    assert [m.value for m in bob.get_metric_history(run_id, "loss")] == [1.0]
    # ... and nothing else
    attempts = [
        lambda: bob.log_metric(run_id, "loss", 99.0, step=1),
        lambda: bob.log_param(run_id, "sneaky", "1"),
        lambda: bob.log_batch(run_id, params=[Param("batch", "1")]),
        lambda: bob.set_tag(run_id, "owner", "bob"),
        lambda: bob.create_run(exp_id),
        lambda: bob.set_experiment_tag(exp_id, "k", "v"),
        lambda: bob.rename_experiment(exp_id, unique("hijacked")),
        lambda: bob.delete_run(run_id),
        lambda: bob.delete_experiment(exp_id),
    ]
    for attempt in attempts:
        with pytest.raises(MlflowException) as exc:
            attempt()
        _denied(exc)

    alice = as_user(ALICE)
    run = alice.get_run(run_id)
    assert run.data.metrics == {"loss": 1.0}
    assert run.data.params == {}
    assert "owner" not in run.data.tags
    assert run.info.lifecycle_stage == "active"
    assert alice.get_experiment(exp_id).lifecycle_stage == "active"
    assert [m.value for m in alice.get_metric_history(run_id, "loss")] == [1.0]


def test_edit_grant_allows_logging_but_not_deleting_and_revoke_undoes_it(auth_server, as_user):
    exp_id, run_id = _alice_experiment_with_run(as_user)
    as_user(ALICE)
    auth = _auth_client(auth_server)
    auth.grant_user_permission(BOB[0], "experiment", exp_id, "EDIT")
    got = auth.get_user_permission(BOB[0], "experiment", exp_id)
    assert (got.permission, got.allowed) == ("EDIT", True)

    bob = as_user(BOB)
    bob.log_metric(run_id, "loss", 0.5, step=1)
    bob_run = bob.create_run(exp_id).info.run_id
    with pytest.raises(MlflowException) as exc:
        bob.delete_experiment(exp_id)
    _denied(exc)
    with pytest.raises(MlflowException) as exc:
        bob.delete_run(run_id)
    _denied(exc)

    as_user(ALICE)
    auth.revoke_user_permission(BOB[0], "experiment", exp_id)
    got = auth.get_user_permission(BOB[0], "experiment", exp_id)
    assert (got.permission, got.allowed) == ("READ", False)
    bob = as_user(BOB)
    with pytest.raises(MlflowException) as exc:
        bob.log_metric(bob_run, "loss", 0.1)
    _denied(exc)
    assert [m.value for m in bob.get_metric_history(run_id, "loss")] == [1.0, 0.5]


def test_only_managers_and_admins_change_permissions(auth_server, as_user):
    exp_id, _ = _alice_experiment_with_run(as_user)
    as_user(BOB)
    with pytest.raises(MlflowException) as exc:
        _auth_client(auth_server).grant_user_permission(BOB[0], "experiment", exp_id, "MANAGE")
    _denied(exc)
    as_user(ADMIN)
    _auth_client(auth_server).grant_user_permission(BOB[0], "experiment", exp_id, "MANAGE")
    bob = as_user(BOB)
    bob.delete_experiment(exp_id)
    assert bob.get_experiment(exp_id).lifecycle_stage == "deleted"


def test_no_permissions_hides_an_experiment_from_search_and_get(auth_server, as_user):
    exp_id, run_id = _alice_experiment_with_run(as_user)
    as_user(ALICE)
    _auth_client(auth_server).grant_user_permission(BOB[0], "experiment", exp_id, "READ")
    r = requests.patch(f"{auth_server.api}/experiments/permissions/update", auth=ALICE,
                       json={"experiment_id": exp_id, "username": BOB[0],
                             "permission": "NO_PERMISSIONS"})
    assert r.status_code == 200, r.text

    bob = as_user(BOB)
    ids = {e.experiment_id for e in bob.search_experiments(max_results=1000)}
    assert exp_id not in ids
    with pytest.raises(MlflowException) as exc:
        bob.get_experiment(exp_id)
    _denied(exc)
    with pytest.raises(MlflowException) as exc:
        bob.get_run(run_id)
    _denied(exc)
    with pytest.raises(MlflowException) as exc:
        bob.search_runs([exp_id])
    _denied(exc)
    alice = as_user(ALICE)
    assert exp_id in {e.experiment_id for e in alice.search_experiments(max_results=1000)}


def test_traces_are_guarded_by_their_experiments_permissions(auth_server, as_user,
                                                              monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    alice = as_user(ALICE)
    exp_id = alice.create_experiment(unique("alice-traces"))
    mlflow.set_experiment(experiment_id=exp_id)

    @mlflow.trace
    def answer(q):
        return q + "!"

    answer("hi")
    trace_id = mlflow.get_last_active_trace_id()
    assert alice.get_trace(trace_id).info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"

    bob = as_user(BOB)  # READ, the default: he sees the trace and changes nothing
    assert bob.get_trace(trace_id).data.spans[0].outputs == "hi!"
    assert [t.info.trace_id for t in bob.search_traces(locations=[exp_id])] == [trace_id]
    attempts = [
        lambda: bob.set_trace_tag(trace_id, "k", "v"),
        lambda: bob.delete_traces(exp_id, trace_ids=[trace_id]),
        lambda: mlflow.log_feedback(trace_id=trace_id, name="quality", value=0.0),
    ]
    for attempt in attempts:
        with pytest.raises(MlflowException) as exc:
            attempt()
        _denied(exc)
    # Nor can he write spans into her experiment, or move her trace into his own.
    trace_hex = trace_id[3:]
    span = {"traceId": trace_hex, "spanId": "00000000000000aa", "name": "forged",
            "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    r = requests.post(f"{auth_server.url}/v1/traces", json=body, auth=BOB,
                      headers={"x-mlflow-experiment-id": exp_id})
    assert r.status_code == 403, r.text
    bob_exp = bob.create_experiment(unique("bob-traces"))
    r = requests.post(f"{auth_server.url}/v1/traces", json=body, auth=BOB,
                      headers={"x-mlflow-experiment-id": bob_exp})
    assert r.status_code in (400, 403), r.text
    r = requests.post(f"{auth_server.url}/api/3.0/mlflow/traces", auth=BOB, json={
        "trace": {"trace_info": {
            "trace_id": trace_id, "request_time": "2026-01-01T00:00:00Z", "state": "OK",
            "trace_location": {"type": "MLFLOW_EXPERIMENT",
                               "mlflow_experiment": {"experiment_id": bob_exp}}}}})
    assert r.status_code == 403, r.text
    alice = as_user(ALICE)
    trace = alice.get_trace(trace_id)
    assert [s.name for s in trace.data.spans] == ["answer"]
    assert trace.info.trace_location.mlflow_experiment.experiment_id == exp_id
    assert "k" not in trace.info.tags and not trace.info.assessments

    # With no permissions on the experiment, bob does not see the trace at all.
    r = requests.patch(f"{auth_server.api}/experiments/permissions/update", auth=ALICE,
                       json={"experiment_id": exp_id, "username": BOB[0],
                             "permission": "NO_PERMISSIONS"})
    if r.status_code != 200:  # no grant to update yet: create one
        r = requests.post(f"{auth_server.api}/experiments/permissions/create", auth=ALICE,
                          json={"experiment_id": exp_id, "username": BOB[0],
                                "permission": "NO_PERMISSIONS"})
    assert r.status_code == 200, r.text
    bob = as_user(BOB)
    with pytest.raises(MlflowException) as exc:
        bob.get_trace(trace_id)
    _denied(exc)
    with pytest.raises(MlflowException) as exc:
        bob.search_traces(locations=[exp_id])
    _denied(exc)
    r = requests.get(f"{auth_server.url}/api/3.0/mlflow/traces/batchGet", auth=BOB,
                     params={"trace_ids": [trace_id]})
    assert r.status_code == 200 and r.json() == {}
    # Every change is in the audit trail as the principal who made it.
    entries = _audit(auth_server, action="otlp/traces")
    assert {e["principal"] for e in entries} >= {"alice", "bob"}


def _set_permission(srv, owner, experiment_id: str, user: str, permission: str) -> None:
    body = {"experiment_id": experiment_id, "username": user, "permission": permission}
    r = requests.patch(f"{srv.api}/experiments/permissions/update", auth=owner, json=body)
    if r.status_code != 200:  # no grant to update yet: create one
        r = requests.post(f"{srv.api}/experiments/permissions/create", auth=owner, json=body)
    assert r.status_code == 200, r.text


def test_evaluation_datasets_need_permission_on_all_their_experiments(auth_server, as_user):
    from mlflow.genai.datasets import create_dataset, get_dataset

    api = f"{auth_server.url}/api/3.0/mlflow/datasets"
    alice = as_user(ALICE)
    exp_a = alice.create_experiment(unique("alice-evalds-a"))
    exp_b = alice.create_experiment(unique("alice-evalds-b"))
    ds = create_dataset(name=unique("alice-qa"), experiment_id=exp_a)
    ds.merge_records([{"inputs": {"q": "a"}, "expectations": {"answer": "b"}}])

    as_user(BOB)  # READ on alice's experiments, the default: he reads and changes nothing
    assert get_dataset(dataset_id=ds.dataset_id).name == ds.name
    r = requests.post(f"{api}/search", auth=BOB, json={"experiment_ids": [exp_a]})
    assert [d["dataset_id"] for d in r.json()["datasets"]] == [ds.dataset_id]
    refused = [
        ("post", f"{api}/{ds.dataset_id}/records",
         {"records": json.dumps([{"inputs": {"q": "forged"}}])}),
        ("patch", f"{api}/{ds.dataset_id}/tags", {"tags": json.dumps({"k": "v"})}),
        ("delete", f"{api}/{ds.dataset_id}", None),
        ("post", f"{api}/create", {"name": "bob-in-alices", "experiment_ids": [exp_a]}),
    ]
    bob_exp = as_user(BOB).create_experiment(unique("bob-evalds"))
    # linking her dataset to his experiment changes her dataset: refused too
    refused.append(("post", f"{api}/{ds.dataset_id}/add-experiments",
                    {"experiment_ids": [bob_exp]}))
    for method, url, body in refused:
        r = getattr(requests, method)(url, auth=BOB, json=body)
        assert_mlflow_error(r, 403, "PERMISSION_DENIED")
    r = requests.get(f"{api}/{ds.dataset_id}/records", auth=BOB)
    assert [rec["inputs"] for rec in json.loads(r.json()["records"])] == [{"q": "a"}]
    # a dataset that does not exist is refused as a hidden one is
    assert_mlflow_error(requests.get(f"{api}/d-{'0' * 32}", auth=BOB), 403, "PERMISSION_DENIED")

    # Linked to an experiment bob may not read, the dataset is hidden from him.
    _set_permission(auth_server, ALICE, exp_b, BOB[0], "NO_PERMISSIONS")
    r = requests.post(f"{api}/{ds.dataset_id}/add-experiments", auth=ALICE,
                      json={"experiment_ids": [exp_b]})
    assert r.status_code == 200, r.text
    assert_mlflow_error(requests.get(f"{api}/{ds.dataset_id}", auth=BOB), 403,
                        "PERMISSION_DENIED")
    r = requests.post(f"{api}/search", auth=BOB, json={})
    assert ds.dataset_id not in [d["dataset_id"] for d in r.json().get("datasets", [])]
    r = requests.post(f"{api}/search", auth=ALICE, json={"experiment_ids": [exp_a]})
    assert [d["dataset_id"] for d in r.json()["datasets"]] == [ds.dataset_id]

    entries = _audit(auth_server, action="datasets/upsert-records")
    assert {e["principal"] for e in entries} >= {"alice", "bob"}
    assert {e["target"] for e in entries} == {f"evaluation_dataset:{ds.dataset_id}"}


def test_issues_and_scorers_follow_their_experiments_permissions(auth_server, as_user):
    api = f"{auth_server.url}/api/3.0/mlflow"
    alice = as_user(ALICE)
    exp = alice.create_experiment(unique("alice-genai"))
    r = requests.post(f"{api}/issues", auth=ALICE,
                      json={"experiment_id": exp, "name": "n", "description": "d"})
    assert r.status_code == 200, r.text
    issue_id = r.json()["issue"]["issue_id"]
    r = requests.post(f"{api}/scorers/register", auth=ALICE,
                      json={"experiment_id": exp, "name": "judge", "serialized_scorer": "{}"})
    assert r.status_code == 200, r.text

    # bob (READ by default) reads both and changes neither
    assert requests.get(f"{api}/issues/{issue_id}", auth=BOB).status_code == 200
    r = requests.get(f"{api}/scorers/get", auth=BOB, params={"experiment_id": exp,
                                                             "name": "judge"})
    assert r.status_code == 200, r.text
    for method, url, body in [
        ("patch", f"{api}/issues/{issue_id}", {"issue_id": issue_id, "status": "rejected"}),
        ("post", f"{api}/issues", {"experiment_id": exp, "name": "x", "description": "y"}),
        ("post", f"{api}/scorers/register",
         {"experiment_id": exp, "name": "judge", "serialized_scorer": "{}"}),
        ("delete", f"{api}/scorers/delete", {"experiment_id": exp, "name": "judge"}),
    ]:
        assert_mlflow_error(getattr(requests, method)(url, auth=BOB, json=body), 403,
                            "PERMISSION_DENIED")
    # an issue that does not exist is refused as a hidden one is
    assert_mlflow_error(requests.get(f"{api}/issues/iss-nope", auth=BOB), 403,
                        "PERMISSION_DENIED")
    _set_permission(auth_server, ALICE, exp, BOB[0], "NO_PERMISSIONS")
    assert_mlflow_error(requests.get(f"{api}/issues/{issue_id}", auth=BOB), 403,
                        "PERMISSION_DENIED")
    r = requests.post(f"{api}/issues/search", auth=BOB, json={})
    assert issue_id not in [i["issue_id"] for i in r.json().get("issues", [])]
    r = requests.get(f"{api}/scorers/list", auth=BOB)
    assert "judge" not in [s["scorer_name"] for s in r.json().get("scorers", [])]
    assert requests.get(f"{api}/issues/{issue_id}", auth=ALICE).json()["issue"]["status"] == (
        "pending")


def test_mlflow_2x_permission_endpoints(auth_server, as_user):
    exp_id, _ = _alice_experiment_with_run(as_user)
    api = auth_server.api
    body = {"experiment_id": exp_id, "username": BOB[0], "permission": "EDIT"}
    r = requests.post(f"{api}/experiments/permissions/create", json=body, auth=ALICE)
    assert r.status_code == 200, r.text
    assert r.json()["experiment_permission"]["permission"] == "EDIT"
    r = requests.post(f"{api}/experiments/permissions/create", json=body, auth=ALICE)
    assert_mlflow_error(r, 400, "RESOURCE_ALREADY_EXISTS")
    r = requests.get(f"{api}/experiments/permissions/get",
                     params={"experiment_id": exp_id, "username": BOB[0]}, auth=BOB)
    assert r.json()["experiment_permission"] == {"experiment_id": exp_id, "user_id": 3,
                                                 "permission": "EDIT"}
    r = requests.post(f"{api}/experiments/permissions/create", auth=BOB,
                      json={**body, "permission": "MANAGE"})
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")
    r = requests.post(f"{api}/experiments/permissions/create", auth=ALICE,
                      json={**body, "username": ALICE[0], "permission": "SUPERUSER"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid permission 'SUPERUSER'")
    r = requests.delete(f"{api}/experiments/permissions/delete", auth=ALICE,
                        json={"experiment_id": exp_id, "username": BOB[0]})
    assert r.status_code == 200, r.text
    r = requests.get(f"{api}/experiments/permissions/get",
                     params={"experiment_id": exp_id, "username": BOB[0]}, auth=ALICE)
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


# ------------------------------------------------------------ registry under auth


def _booster(rounds: int):
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    y = (X["a"] > X["b"]).astype(int)
    params = {"objective": "binary:logistic", "max_depth": 2, "seed": 0, "nthread": 1}
    return xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=rounds), X


def test_registry_calls_with_auth_through_the_mlflow_client(as_user):
    (b1, X), (b2, _) = _booster(2), _booster(8)
    name = unique("auth-model")
    alice = as_user(ALICE)
    mlflow.set_experiment(unique("auth-reg-exp"))
    with mlflow.start_run():
        first = mlflow.xgboost.log_model(b1, name="m1", registered_model_name=name,
                                         pip_requirements=PIP)
        second = mlflow.xgboost.log_model(b2, name="m2", pip_requirements=PIP)
    mv2 = mlflow.register_model(second.model_uri, name)
    assert mv2.version == "2"
    assert str(first.registered_model_version) == "1"
    alice.set_registered_model_alias(name, "champion", "2")
    assert alice.get_model_version_by_alias(name, "champion").version == "2"
    expected = b2.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(
        np.asarray(mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(X)), expected,
        rtol=1e-6)

    bob = as_user(BOB)
    # READ: bob can find and load the model ...
    assert bob.get_model_version_by_alias(name, "champion").version == "2"
    assert name in {m.name for m in bob.search_registered_models(max_results=1000)}
    assert {v.version for v in bob.search_model_versions(f"name = '{name}'")} == {"1", "2"}
    np.testing.assert_allclose(
        np.asarray(mlflow.pyfunc.load_model(f"models:/{name}/2").predict(X)), expected, rtol=1e-6)
    # ... but not change it
    for attempt in [
        lambda: bob.set_registered_model_alias(name, "champion", "1"),
        lambda: bob.delete_registered_model_alias(name, "champion"),
        lambda: bob.create_model_version(name, second.model_uri),
        lambda: bob.update_registered_model(name, description="bob was here"),
        lambda: bob.transition_model_version_stage(name, "2", "Production"),
        lambda: bob.set_model_version_tag(name, "2", "k", "v"),
        lambda: bob.rename_registered_model(name, unique("stolen")),
        lambda: bob.delete_model_version(name, "1"),
        lambda: bob.delete_registered_model(name),
    ]:
        with pytest.raises(MlflowException) as exc:
            attempt()
        _denied(exc)

    alice = as_user(ALICE)
    assert alice.get_model_version_by_alias(name, "champion").version == "2"
    assert alice.get_registered_model(name).description in ("", None)
    # the creator keeps MANAGE across a rename, and can delete
    renamed = unique("auth-model-renamed")
    alice.rename_registered_model(name, renamed)
    alice.delete_model_version(renamed, "1")
    alice.delete_registered_model(renamed)
    with pytest.raises(MlflowException) as exc:
        alice.get_registered_model(renamed)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_registered_model_with_no_permissions_is_hidden(auth_server, as_user):
    alice = as_user(ALICE)
    run_id = alice.create_run(alice.create_experiment(unique("hidden-exp"))).info.run_id
    name = unique("hidden-model")
    alice.create_registered_model(name)
    alice.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    _auth_client(auth_server).grant_user_permission(BOB[0], "registered_model", name,
                                                    "NO_PERMISSIONS")
    bob = as_user(BOB)
    assert name not in {m.name for m in bob.search_registered_models(max_results=1000)}
    assert bob.search_model_versions(f"name = '{name}'") == []
    with pytest.raises(MlflowException) as exc:
        bob.get_registered_model(name)
    _denied(exc)
    r = requests.get(f"{auth_server.url}/api/v1/models/{name}/versions/1/card", auth=BOB)
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")
    r = requests.get(f"{auth_server.url}/api/v1/lineage/model-versions/{name}/1", auth=BOB)
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")
    r = requests.get(f"{auth_server.url}/api/v1/lineage/model-versions/{name}/1", auth=ALICE)
    assert r.status_code == 200, r.text


def test_artifact_paths_are_checked_against_their_experiment(auth_server, as_user):
    alice = as_user(ALICE)
    exp_id = alice.create_experiment(unique("art-exp"))
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_run() as run:
        mlflow.log_text("secret numbers", "notes.txt")
    _auth_client(auth_server).grant_user_permission(BOB[0], "experiment", exp_id,
                                                    "NO_PERMISSIONS")
    path = f"{exp_id}/{run.info.run_id}/artifacts/notes.txt"
    proxy = auth_server.artifacts_api
    assert requests.get(f"{proxy}/{path}", auth=ALICE).text == "secret numbers"
    assert_mlflow_error(requests.get(f"{proxy}/{path}", auth=BOB), 403, "PERMISSION_DENIED")
    r = requests.get(proxy, params={"path": f"{exp_id}/{run.info.run_id}"}, auth=BOB)
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")
    r = requests.put(f"{proxy}/{exp_id}/{run.info.run_id}/artifacts/evil.txt", data=b"x",
                     auth=BOB)
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")
    # a path that starts in an experiment bob can read and climbs into alice's
    other = as_user(BOB).create_experiment(unique("bob-exp"))
    r = requests.get(f"{proxy}/{other}/%2e%2e/{path}", auth=BOB)
    assert r.status_code in (400, 403, 404), r.text
    assert "secret numbers" not in r.text
    r = requests.get(proxy, params={"path": f"{other}/../{exp_id}"}, auth=BOB)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")


# ------------------------------------------------------------ tokens


def _create_token(srv, user, **body) -> dict:
    r = requests.post(f"{srv.url}/api/v1/tokens", json=body, auth=user)
    assert r.status_code == 200, r.text
    return r.json()


def test_bearer_token_works_and_a_revoked_token_stops_at_once(auth_server, as_user):
    issued = _create_token(auth_server, ALICE, name="ci")
    token = issued["token"]
    assert token.startswith("slw_") and issued["token_info"]["username"] == ALICE[0]
    client = as_user(token=token)
    exp_id = client.create_experiment(unique("token-exp"))
    run_id = client.create_run(exp_id).info.run_id
    client.log_metric(run_id, "m", 1.0)

    # the secret is never listed again, and never stored
    listed = requests.get(f"{auth_server.url}/api/v1/tokens", auth=ALICE).json()["tokens"]
    assert issued["token_info"]["id"] in {t["id"] for t in listed}
    assert token not in str(listed)
    secret = token.split("_", 2)[2]
    con = sqlite3.connect(auth_server.store_path)
    dump = "\n".join(con.iterdump())
    con.close()
    assert secret not in dump

    env = {**os.environ, "SLIPWAY_TRACKING_URI": auth_server.url,
           "MLFLOW_TRACKING_USERNAME": ALICE[0], "MLFLOW_TRACKING_PASSWORD": ALICE[1]}
    out = subprocess.run([str(slipway_binary()), "users", "token", "revoke",
                          issued["token_info"]["id"]], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with pytest.raises(MlflowException) as exc:
        client.log_metric(run_id, "m", 2.0)
    assert "401" in str(exc.value) or "UNAUTHENTICATED" in str(exc.value)
    alice = as_user(ALICE)
    assert [m.value for m in alice.get_metric_history(run_id, "m")] == [1.0]


def test_tokens_belong_to_their_user(auth_server):
    r = requests.post(f"{auth_server.url}/api/v1/tokens", json={"username": ALICE[0]}, auth=BOB)
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")
    issued = _create_token(auth_server, ADMIN, username=BOB[0], name="for-bob",
                           expires_in_days=1)
    assert issued["token_info"]["username"] == BOB[0]
    assert issued["token_info"]["expires_ms"] > time.time() * 1000
    r = requests.delete(f"{auth_server.url}/api/v1/tokens/{issued['token_info']['id']}",
                        auth=ALICE)
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")
    headers = {"Authorization": f"Bearer {issued['token']}"}
    r = requests.get(f"{auth_server.api}/users/current", headers=headers)
    assert r.json()["user"]["username"] == BOB[0]
    r = requests.post(f"{auth_server.url}/api/v1/tokens", json={"expires_in_days": 0}, auth=BOB)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "expires_in_days")


# ------------------------------------------------------------ users


def test_user_management_through_mlflows_auth_client(auth_server, as_user):
    as_user(ADMIN)
    auth = _auth_client(auth_server)
    name = unique("carol")
    user = auth.create_user(name, "first-Pa55")
    assert user.username == name and user.is_admin is False
    assert auth.get_user(name).id == user.id
    with pytest.raises(MlflowException) as exc:
        auth.create_user(name, "again")
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"

    search = f"{auth_server.api}/experiments/search?max_results=1"
    assert requests.get(search, auth=(name, "first-Pa55")).status_code == 200
    auth.update_user_password(name, "second-Pa55")
    assert requests.get(search, auth=(name, "first-Pa55")).status_code == 401
    assert requests.get(search, auth=(name, "second-Pa55")).status_code == 200

    # self-service needs the current password
    as_user((name, "second-Pa55"))
    with pytest.raises(MlflowException) as exc:
        _auth_client(auth_server).update_user_password(name, "third-Pa55")
    assert "Current password" in str(exc.value)
    _auth_client(auth_server).update_user_password(name, "third-Pa55",
                                                   current_password="second-Pa55")
    as_user((name, "third-Pa55"))
    # non-admins cannot manage users
    with pytest.raises(MlflowException) as exc:
        _auth_client(auth_server).create_user(unique("dave"), "x")
    _denied(exc)
    with pytest.raises(MlflowException) as exc:
        _auth_client(auth_server).get_user(ALICE[0])
    _denied(exc)

    as_user(ADMIN)
    auth.update_user_admin(name, True)
    assert auth.get_user(name).is_admin is True
    assert requests.get(f"{auth_server.api}/users/list", auth=(name, "third-Pa55")).ok
    auth.update_user_admin(name, False)
    r = requests.get(f"{auth_server.api}/users/list", auth=(name, "third-Pa55"))
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")
    auth.delete_user(name)
    assert requests.get(search, auth=(name, "third-Pa55")).status_code == 401
    with pytest.raises(MlflowException) as exc:
        auth.get_user(name)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as exc:
        auth.delete_user(ADMIN[0])
    assert "own account" in str(exc.value)


def test_bad_user_input_gets_mlflows_error_forms(auth_server):
    api = auth_server.api
    r = requests.post(f"{api}/users/create", json={"username": "", "password": "x"}, auth=ADMIN)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "cannot be empty")
    r = requests.post(f"{api}/users/create", json={"username": "a:b", "password": "x"},
                      auth=ADMIN)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "':'")
    r = requests.post(f"{api}/users/create", json={"username": "x" * 300, "password": "x"},
                      auth=ADMIN)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "limit")
    r = requests.post(f"{auth_server.url}/api/3.0/mlflow/users/permissions/grant", auth=ADMIN,
                      json={"username": BOB[0], "resource_type": "scorer", "resource_id": "1",
                            "permission": "READ"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid resource type")
    r = requests.get(f"{api}/users/get", params={"username": "ghost"}, auth=ADMIN)
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


# ------------------------------------------------------------ audit and secrets


def test_refusals_are_audited_and_no_secret_reaches_logs_or_audit(auth_server):
    search = f"{auth_server.api}/experiments/search?max_results=1"
    before = _audit(auth_server)
    wrong = "Wr0ng-but-secret-Pa55"
    requests.get(search, auth=(BOB[0], wrong))
    exp = requests.post(f"{auth_server.api}/experiments/create", auth=ALICE,
                        json={"name": unique("audited")}).json()["experiment_id"]
    requests.post(f"{auth_server.api}/experiments/delete", auth=BOB, json={"experiment_id": exp})
    requests.post(f"{auth_server.api}/users/create", auth=ADMIN,
                  json={"username": unique("erin"), "password": "erin-Secret-Pa55"})
    after = _audit(auth_server)[len(before):]
    outcomes = [(e["principal"], e["action"], e["outcome"]) for e in after]
    assert ("anonymous", "experiments/search", 401) in outcomes
    assert ("alice", "experiments/create", 200) in outcomes
    assert ("bob", "experiments/delete", 403) in outcomes
    assert ("admin", "users/create", 200) in outcomes
    verify = requests.get(f"{auth_server.url}/api/v1/audit/verify", auth=ADMIN).json()
    assert verify["ok"] is True
    # only admins read the trail
    assert_mlflow_error(requests.get(f"{auth_server.url}/api/v1/audit", auth=BOB), 403,
                        "PERMISSION_DENIED")

    secrets = [wrong, "erin-Secret-Pa55", ADMIN[1], ALICE[1], BOB[1]]
    encoded = [base64.b64encode(f"{BOB[0]}:{wrong}".encode()).decode()]
    texts = [p.read_text(errors="replace") for p in auth_server.data_dir.glob("server-*.std*")]
    con = sqlite3.connect(auth_server.store_path)
    texts.append("\n".join(con.iterdump()))
    con.close()
    texts.append(str(_audit(auth_server)))
    for text in texts:
        for secret in secrets + encoded:
            assert secret not in text


# ------------------------------------------------------------ browser sessions


def _sign_in(srv, user) -> tuple[requests.Session, str]:
    """A browser's session: the cookie in a requests.Session, and the CSRF token."""
    browser = requests.Session()
    r = browser.post(f"{srv.url}/api/v1/session", auth=user)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"auth", "user", "csrf_token", "expires_ms"}
    assert r.json()["user"] == {"username": user[0], "is_admin": user == ADMIN}
    return browser, r.json()["csrf_token"]


def test_a_browser_session_is_an_httponly_cookie_and_changes_need_its_csrf_token(auth_server):
    browser = requests.Session()
    r = browser.post(f"{auth_server.url}/api/v1/session", auth=ALICE)
    assert r.status_code == 200, r.text
    set_cookie = r.headers["Set-Cookie"]
    assert set_cookie.startswith("slipway_session=slw_")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43"):
        assert attribute in set_cookie
    assert "Secure" not in set_cookie  # plain HTTP here; behind an HTTPS proxy it is set
    cookie = browser.cookies["slipway_session"]
    csrf = r.json()["csrf_token"]
    assert cookie not in r.text and len(csrf) == 64

    api = auth_server.api
    # Reads need the cookie only; who is signed in, and the token again.
    assert browser.get(f"{api}/experiments/search", params={"max_results": 1}).status_code == 200
    me = browser.get(f"{auth_server.url}/api/v1/session").json()
    assert me == {"auth": True, "user": {"username": "alice", "is_admin": False},
                  "csrf_token": csrf}
    # A change without the token (what a forged cross-site form sends), or
    # with another's, is refused before it is done.
    name = unique("session-exp")
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": csrf[:-1]}):
        r = browser.post(f"{api}/experiments/create", json={"name": name}, headers=headers)
        assert_mlflow_error(r, 403, "PERMISSION_DENIED", "CSRF token")
    assert requests.get(f"{api}/experiments/get-by-name", params={"experiment_name": name},
                        auth=ADMIN).status_code == 404
    r = browser.post(f"{api}/experiments/create", json={"name": name},
                     headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    created = [e for e in _audit(auth_server, action="experiments/create")
               if e["outcome"] == 200][-1]
    assert created["principal"] == "alice"
    # The session carries alice's permissions, no more.
    assert_mlflow_error(browser.get(f"{auth_server.url}/api/v1/audit",
                                    headers={"X-CSRF-Token": csrf}), 403, "PERMISSION_DENIED")
    # The cookie is no Bearer token; a session is started with a password only.
    assert requests.get(f"{api}/experiments/search", params={"max_results": 1},
                        headers={"Authorization": f"Bearer {cookie}"}).status_code == 401
    token = _create_token(auth_server, ALICE, name="ci")["token"]
    assert_mlflow_error(requests.post(f"{auth_server.url}/api/v1/session",
                                      headers={"Authorization": f"Bearer {token}"}),
                        400, "INVALID_PARAMETER_VALUE", "user's name and password")
    # Signing out ends it everywhere at once and clears the cookie.
    r = browser.delete(f"{auth_server.url}/api/v1/session", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and "Max-Age=0" in r.headers["Set-Cookie"]
    r = requests.get(f"{api}/experiments/search", params={"max_results": 1},
                     cookies={"slipway_session": cookie})
    assert_mlflow_error(r, 401, "UNAUTHENTICATED", "sign in again")
    # No password dialog over the page: a page's own calls get no challenge.
    assert "WWW-Authenticate" not in r.headers
    r = requests.get(f"{api}/experiments/search", headers={"X-Requested-With": "XMLHttpRequest"})
    assert r.status_code == 401 and "WWW-Authenticate" not in r.headers
    assert "WWW-Authenticate" in requests.get(f"{api}/experiments/search").headers
    # A page asks who is signed in without a 401 when nobody is; a cookie
    # that has ended is a 401 (audited as any refusal).
    r = requests.get(f"{auth_server.url}/api/v1/session")
    assert r.status_code == 200 and r.json() == {"auth": True, "user": None}
    r = requests.get(f"{auth_server.url}/api/v1/session", cookies={"slipway_session": cookie})
    assert_mlflow_error(r, 401, "UNAUTHENTICATED", "sign in again")
    assert _audit(auth_server, action="session/get")[-1]["outcome"] == 401


def test_sessions_are_throttled_audited_and_leave_no_secret(auth_server):
    browser, csrf = _sign_in(auth_server, BOB)
    cookie = browser.cookies["slipway_session"]
    entries = _audit(auth_server, action="session/create")
    assert entries[-1]["principal"] == "bob" and entries[-1]["outcome"] == 200
    r = requests.post(f"{auth_server.url}/api/v1/session", auth=(BOB[0], "wrong-Pa55"))
    assert r.status_code == 401
    assert _audit(auth_server, action="session/create")[-1]["outcome"] == 401
    # A forged cookie is refused and audited under its claimed session id.
    forged = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    r = requests.get(f"{auth_server.api}/experiments/search", params={"max_results": 1},
                     cookies={"slipway_session": forged})
    assert r.status_code == 401
    refused = [e for e in _audit(auth_server) if e["outcome"] == 401][-1]
    assert (refused["principal"], refused["target"]) == (
        "anonymous", "session:" + cookie.split("_")[1])
    texts = [p.read_text(errors="replace") for p in auth_server.data_dir.glob("server-*.std*")]
    texts.append(str(_audit(auth_server)))
    for text in texts:
        # slw_<id>_<secret>: the secret is base64url, which may hold "_" too.
        assert cookie not in text and cookie.split("_", 2)[2] not in text


def test_server_without_auth_has_no_sessions(server):
    r = requests.get(f"{server.url}/api/v1/session")
    assert r.status_code == 200 and r.json() == {"auth": False}
    assert_mlflow_error(requests.post(f"{server.url}/api/v1/session", auth=ALICE), 400,
                        "INVALID_PARAMETER_VALUE", "without --auth")


def test_non_admin_routes_fail_closed(auth_server):
    r = requests.get(f"{auth_server.url}/api/v1/audit/verify", auth=BOB)
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")


# ------------------------------------------------------------ throttling and start-up


def test_repeated_failed_logins_are_slowed_down(tmp_path_factory):
    srv = _start_auth_server(tmp_path_factory, "slipway-throttle")
    try:
        search = f"{srv.api}/experiments/search?max_results=1"
        for _ in range(5):
            assert requests.get(search, auth=(ADMIN[0], "guess")).status_code == 401
        r = requests.get(search, auth=ADMIN)  # even the right password waits now
        body = assert_mlflow_error(r, 429, "REQUEST_LIMIT_EXCEEDED", "retry in")
        assert int(r.headers["Retry-After"]) >= 1
        assert "guess" not in body["message"]
        time.sleep(int(r.headers["Retry-After"]) + 0.2)
        assert requests.get(search, auth=ADMIN).status_code == 200
        # a success clears the count; the next failures start from the beginning
        assert requests.get(search, auth=(ADMIN[0], "guess")).status_code == 401
        assert requests.get(search, auth=ADMIN).status_code == 200
        entries = requests.get(f"{srv.url}/api/v1/audit", auth=ADMIN,
                               params={"max_results": 1000}).json()["entries"]
        assert [e["outcome"] for e in entries].count(429) == 1
    finally:
        srv.assert_clean_exit()


def test_auth_needs_a_first_admin_and_the_cli_can_make_one(tmp_path_factory):
    data = tmp_path_factory.mktemp("slipway-bootstrap")
    store = f"sqlite:///{data / 'slipway.db'}"
    port = free_port()
    cmd = [str(slipway_binary()), "server", "--auth", "--port", str(port), "--store", store,
           "--artifacts", str(data / "artifacts")]
    env = {k: v for k, v in os.environ.items() if k != "SLIPWAY_ADMIN_PASSWORD"}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "SLIPWAY_ADMIN_PASSWORD" in out.stderr

    made = subprocess.run([str(slipway_binary()), "users", "create", "root", "--admin",
                           "--password-stdin", "--store", store], input="root-Pa55word\n",
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert "root" in made.stdout and "admin" in made.stdout
    srv = SlipwayServer(binary=slipway_binary(), data_dir=data, port=port,
                        extra_args=["--auth"], env={})
    srv.start()
    try:
        r = requests.get(f"{srv.api}/users/current", auth=("root", "root-Pa55word"))
        assert r.json()["user"] == {"id": 1, "username": "root", "is_admin": True}
        # The direct-store command is in the audit trail, as the local account that ran it.
        import pwd
        entries = requests.get(f"{srv.url}/api/v1/audit", params={"action": "users/create"},
                               auth=("root", "root-Pa55word")).json()["entries"]
        local = [e for e in entries if e["target"] == "user:root"]
        assert len(local) == 1, entries
        assert local[0]["principal"] == "local:" + pwd.getpwuid(os.geteuid()).pw_name
        assert local[0]["outcome"] == 200
        assert requests.get(f"{srv.url}/api/v1/audit/verify",
                            auth=("root", "root-Pa55word")).json()["ok"] is True
        cli_env = {**env, "SLIPWAY_TRACKING_URI": srv.url,
                   "MLFLOW_TRACKING_USERNAME": "root", "MLFLOW_TRACKING_PASSWORD": "root-Pa55word"}
        made = subprocess.run([str(slipway_binary()), "users", "create", "eve",
                               "--password-stdin"], input="eve-Pa55word\n", env=cli_env,
                              capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        listed = subprocess.run([str(slipway_binary()), "users", "ls"], env=cli_env,
                                capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0 and "eve" in listed.stdout and "root" in listed.stdout
        # without credentials the CLI gets the server's 401
        anon = {k: v for k, v in cli_env.items() if not k.startswith("MLFLOW_TRACKING_")}
        denied = subprocess.run([str(slipway_binary()), "users", "ls"], env=anon,
                                capture_output=True, text=True, timeout=60)
        assert denied.returncode == 1 and "Authentication required" in denied.stderr
    finally:
        srv.assert_clean_exit()


def _data(srv, user, *args, cwd, check=True):
    env = {**os.environ, "SLIPWAY_TRACKING_URI": srv.url,
           "MLFLOW_TRACKING_USERNAME": user[0], "MLFLOW_TRACKING_PASSWORD": user[1]}
    out = subprocess.run([str(slipway_binary()), "data", *map(str, args)], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, f"slipway data {' '.join(map(str, args))}: {out.stderr}"
    return out


def test_datasets_have_permissions_like_experiments(auth_server, as_user, tmp_path):
    """The creator of a dataset (its first push) manages it; others get the default
    (READ) unless granted more or less, through MLflow's own auth client."""
    api = f"{auth_server.url}/api/v1/datasets"
    name = unique("alice-data")
    alice_ws, bob_ws = tmp_path / "alice", tmp_path / "bob"
    alice_ws.mkdir()
    bob_ws.mkdir()
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"id": np.arange(300), "x": rng.random(300).round(4),
                          "cat": rng.choice(["a", "b"], 300)})
    v1, v2 = tmp_path / "v1.csv", tmp_path / "v2.csv"
    frame.iloc[:200].to_csv(v1, index=False)
    frame.to_csv(v2, index=False)
    _data(auth_server, ALICE, "add", v1, "--name", name, cwd=alice_ws)
    _data(auth_server, ALICE, "push", name, cwd=alice_ws)
    as_user(ALICE)
    auth = _auth_client(auth_server)
    assert auth.get_user_permission(ALICE[0], "dataset", name).permission == "MANAGE"

    # bob reads by default, but may not add a version to alice's dataset
    assert requests.get(f"{api}/{name}/versions/1", auth=BOB).status_code == 200
    _data(auth_server, BOB, "pull", name, cwd=bob_ws)
    _data(auth_server, BOB, "add", v2, "--name", name, cwd=bob_ws)
    refused = _data(auth_server, BOB, "push", name, cwd=bob_ws, check=False)
    assert refused.returncode == 1
    assert f"'bob' has READ on dataset '{name}'; this needs EDIT" in refused.stderr
    assert [v["version"] for v in requests.get(f"{api}/{name}/versions", auth=ADMIN)
            .json()["versions"]] == [1]
    # nor start a "new" dataset anywhere but at version 1
    record = requests.get(f"{api}/{name}/versions/1", auth=ALICE).json()["version"]
    r = requests.post(f"{api}/{unique('fresh')}/versions", auth=BOB, json={**record, "version": 2})
    assert_mlflow_error(r, 403, "PERMISSION_DENIED", "this needs EDIT")
    # ... until alice grants EDIT
    auth.grant_user_permission(BOB[0], "dataset", name, "EDIT")
    _data(auth_server, BOB, "push", name, cwd=bob_ws)
    assert [v["version"] for v in requests.get(f"{api}/{name}/versions", auth=ALICE)
            .json()["versions"]] == [1, 2]
    # bob may not pass on what he only edits
    as_user(BOB)
    with pytest.raises(MlflowException) as exc:
        _auth_client(auth_server).grant_user_permission(ADMIN[0], "dataset", name, "READ")
    _denied(exc)

    # NO_PERMISSIONS hides it from bob: list, get, diff and validate against it
    bobs = unique("bob-data")
    _data(auth_server, BOB, "add", v1, "--name", bobs, cwd=bob_ws)
    _data(auth_server, BOB, "push", bobs, cwd=bob_ws)
    as_user(ALICE)
    auth.grant_user_permission(BOB[0], "dataset", name, "NO_PERMISSIONS")
    listed = {d["name"] for d in requests.get(api, auth=BOB).json()["datasets"]}
    assert bobs in listed and name not in listed
    assert name in {d["name"] for d in requests.get(api, auth=ALICE).json()["datasets"]}
    for r in (requests.get(f"{api}/{name}/versions/1", auth=BOB),
              requests.get(f"{api}/{name}/versions/1/manifest", auth=BOB),
              requests.get(f"{api}/{bobs}/versions/1/diff", params={"other": f"{name}@1"},
                           auth=BOB),
              requests.post(f"{api}/{bobs}/versions/1/validate", auth=BOB,
                            json={"rules": "rows: {min: 1}\n", "reference": f"{name}@1"}),
              requests.post(f"{api}/{bobs}/versions/1/validate", auth=BOB,
                            json={"rules": f"drift:\n  reference: {name}@1\n"})):
        assert_mlflow_error(r, 403, "PERMISSION_DENIED", f"dataset '{name}'")
    r = requests.get(f"{api}/{bobs}/versions/1/diff", params={"other": f"{bobs}@1"}, auth=BOB)
    assert r.status_code == 200, r.text
    # its objects neither: not through it, not through his own dataset, not as "missing"
    held = requests.get(f"{api}/{name}/versions/2/objects", auth=ALICE).json()["objects"]
    assert_mlflow_error(requests.post(f"{api}/objects/fetch", auth=BOB,
                                      json={"dataset": f"{name}@2", "digests": held}),
                        403, "PERMISSION_DENIED", f"dataset '{name}'")
    assert_mlflow_error(requests.get(f"{api}/objects/{held[0]}", auth=BOB,
                                     params={"dataset": f"{name}@2"}),
                        403, "PERMISSION_DENIED", f"dataset '{name}'")
    assert_mlflow_error(requests.post(f"{api}/objects/fetch", auth=BOB,
                                      json={"dataset": f"{bobs}@1", "digests": held}),
                        404, "RESOURCE_DOES_NOT_EXIST", f"is not part of {bobs}@1")
    assert_mlflow_error(requests.post(f"{api}/objects/missing", auth=BOB,
                                      json={"dataset": name, "digests": held}),
                        403, "PERMISSION_DENIED", f"dataset '{name}'")
    r = requests.post(f"{api}/objects/fetch", auth=ALICE,
                      json={"dataset": f"{name}@2", "digests": held})
    assert r.status_code == 200, r.text
    # the users CLI grants on datasets too
    cli_env = {**os.environ, "SLIPWAY_TRACKING_URI": auth_server.url,
               "MLFLOW_TRACKING_USERNAME": ALICE[0], "MLFLOW_TRACKING_PASSWORD": ALICE[1]}
    granted = subprocess.run([str(slipway_binary()), "users", "grant", BOB[0], "--dataset", name,
                              "--permission", "READ"], env=cli_env, capture_output=True,
                             text=True, timeout=60)
    assert granted.returncode == 0, granted.stderr
    assert requests.get(f"{api}/{name}/versions/1", auth=BOB).status_code == 200


def test_server_without_auth_takes_no_credentials_and_has_no_user_api(server):
    r = requests.get(f"{server.api}/experiments/search", params={"max_results": 1})
    assert r.status_code == 200
    r = requests.get(f"{server.api}/users/current")
    assert r.status_code == 404


def test_direct_store_commands_are_checked_and_audited_as_the_local_account(auth_server):
    """`slipway users grant/revoke/set-admin --store` work on the store beside a running
    server, through the same AccessControl (canonical ids included), and each lands in
    the audit trail under the operating-system account that ran it, as the API call
    it stands for; the server sees the change within a second."""
    import pwd
    local = "local:" + pwd.getpwuid(os.geteuid()).pw_name
    store = f"sqlite:///{auth_server.store_path}"
    exp_id = requests.post(f"{auth_server.api}/experiments/create", auth=ALICE,
                           json={"name": unique("direct-store")}).json()["experiment_id"]
    get = f"{auth_server.api}/experiments/get"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(slipway_binary()), "users", *args, "--store", store],
                              capture_output=True, text=True, timeout=60)

    # Another spelling of the id is stored under the canonical one.
    out = cli("grant", BOB[0], "--experiment", exp_id, "--permission", "NO_PERMISSIONS")
    assert out.returncode == 0, out.stderr
    deadline = time.time() + 5
    while requests.get(get, auth=BOB, params={"experiment_id": exp_id}).status_code != 403:
        assert time.time() < deadline, "the server never saw the grant"
        time.sleep(0.2)
    out = cli("revoke", BOB[0], "--experiment", exp_id)
    assert out.returncode == 0, out.stderr
    out = cli("revoke", BOB[0], "--experiment", exp_id)  # nothing left to revoke
    assert out.returncode != 0 and "No permission" in out.stderr
    out = cli("set-admin", BOB[0], "true")
    assert out.returncode == 0, out.stderr
    out = cli("set-admin", BOB[0], "false")
    assert out.returncode == 0, out.stderr

    entries = requests.get(f"{auth_server.url}/api/v1/audit", auth=ADMIN,
                           params={"principal": local, "max_results": 1000}).json()["entries"]
    on_grant = f"experiment:{exp_id}/user:{BOB[0]}"
    assert [(e["action"], e["target"], e["outcome"], e["source"]) for e in entries][-5:] == [
        ("users/permissions/grant", on_grant, 200, "cli"),
        ("users/permissions/revoke", on_grant, 200, "cli"),
        ("users/permissions/revoke", on_grant, 404, "cli"),
        ("users/update-admin", f"user:{BOB[0]}", 200, "cli"),
        ("users/update-admin", f"user:{BOB[0]}", 200, "cli"),
    ]
    assert requests.get(f"{auth_server.url}/api/v1/audit/verify", auth=ADMIN).json()["ok"]
    # The first admin, made by the server from SLIPWAY_ADMIN_PASSWORD, is on the
    # server's own account.
    boot = requests.get(f"{auth_server.url}/api/v1/audit", auth=ADMIN,
                        params={"principal": "system:server"}).json()["entries"]
    assert [(e["action"], e["target"], e["outcome"], e["source"]) for e in boot] == [
        ("users/create", f"user:{ADMIN[0]}", 200, "startup")]
    # An id that is no experiment's is refused before anything is stored.
    out = cli("grant", BOB[0], "--experiment", "not-a-number", "--permission", "READ")
    assert out.returncode != 0 and "not-a-number" in out.stderr


def test_new_dataset_is_pushed_on_a_server_that_hides_everything(tmp_path_factory, tmp_path):
    """With NO_PERMISSIONS by default the server answers a dataset nobody has
    pushed as it answers a hidden one (403), so `slipway data push` cannot tell
    them apart before it pushes; version 1 then creates the dataset, and the
    pusher manages it; someone else's hidden dataset stays refused."""
    srv = _start_auth_server(tmp_path_factory, "slipway-auth-hidden",
                             "--auth-default-permission", "NO_PERMISSIONS")
    try:
        for user, password in (ALICE, BOB):
            r = requests.post(f"{srv.api}/users/create", auth=ADMIN,
                              json={"username": user, "password": password})
            assert r.status_code == 200, r.text
        api = f"{srv.url}/api/v1/datasets"
        name = unique("hidden-data")
        assert_mlflow_error(requests.get(f"{api}/{name}/versions", auth=ALICE), 403,
                            "PERMISSION_DENIED")
        csv = tmp_path / "v1.csv"
        pd.DataFrame({"id": np.arange(50), "x": np.arange(50) * 0.5}).to_csv(csv, index=False)
        alice_ws, bob_ws = tmp_path / "alice", tmp_path / "bob"
        alice_ws.mkdir()
        bob_ws.mkdir()
        _data(srv, ALICE, "add", csv, "--name", name, cwd=alice_ws)
        _data(srv, ALICE, "push", name, cwd=alice_ws)
        versions = requests.get(f"{api}/{name}/versions", auth=ALICE)
        assert versions.status_code == 200, versions.text
        assert [v["version"] for v in versions.json()["versions"]] == [1]
        mine = requests.get(f"{srv.url}/api/3.0/mlflow/users/permissions/get", auth=ALICE,
                            params={"username": ALICE[0], "resource_type": "dataset",
                                    "resource_id": name})
        assert mine.status_code == 200, mine.text
        assert mine.json()["permission"] == "MANAGE"
        # bob's "new" dataset of the same name is alice's hidden one: refused
        _data(srv, BOB, "add", csv, "--name", name, cwd=bob_ws)
        refused = _data(srv, BOB, "push", name, cwd=bob_ws, check=False)
        assert refused.returncode == 1
        assert f"'bob' has NO_PERMISSIONS on dataset '{name}'; this needs EDIT" in \
            refused.stderr, refused.stderr
        assert [v["version"] for v in requests.get(f"{api}/{name}/versions", auth=ADMIN)
                .json()["versions"]] == [1]
    finally:
        srv.assert_clean_exit()


def test_searches_leave_out_what_the_caller_may_not_read_in_the_query(auth_server):
    """Hidden experiments and registered models are left out by the store's query, so
    every page but the last is full and the page tokens walk exactly the readable ones
    (the reply is not filtered afterwards, which left pages short or empty)."""
    prefix = unique("paged")
    grant = f"{auth_server.url}/api/3.0/mlflow/users/permissions/grant"
    shown, shown_models = [], []
    for i in range(9):
        name = f"{prefix}-{i}"
        exp_id = requests.post(f"{auth_server.api}/experiments/create", auth=ALICE,
                               json={"name": name}).json()["experiment_id"]
        assert requests.post(f"{auth_server.api}/registered-models/create", auth=ALICE,
                             json={"name": name}).status_code == 200
        if i % 3 != 2:  # bob may not see two of every three
            for kind, rid in (("experiment", exp_id), ("registered_model", name)):
                r = requests.post(grant, auth=ALICE, json={
                    "username": BOB[0], "resource_type": kind, "resource_id": rid,
                    "permission": "NO_PERMISSIONS"})
                assert r.status_code == 200, r.text
        else:
            shown.append(name)
            shown_models.append(name)

    def walk(route: str, key: str, body: dict) -> list[list[str]]:
        pages, token = [], None
        while True:
            r = requests.post(f"{auth_server.api}/{route}", auth=BOB,
                              json={**body, "max_results": 2,
                                    **({"page_token": token} if token else {})})
            assert r.status_code == 200, r.text
            reply = r.json()
            pages.append([item["name"] for item in reply.get(key, [])])
            token = reply.get("next_page_token")
            if not token:
                return pages

    pages = walk("experiments/search", "experiments",
                 {"filter": f"name LIKE '{prefix}-%'", "order_by": ["name ASC"]})
    assert [n for page in pages for n in page] == shown
    assert all(len(page) == 2 for page in pages[:-1]), pages
    r = requests.get(f"{auth_server.api}/registered-models/search", auth=BOB,
                     params={"filter": f"name LIKE '{prefix}-%'", "max_results": 2})
    first_page = [m["name"] for m in r.json()["registered_models"]]
    assert len(first_page) == 2 and set(first_page) <= set(shown_models), first_page
    # alice, who manages them all, sees all nine.
    r = requests.post(f"{auth_server.api}/experiments/search", auth=ALICE,
                      json={"filter": f"name LIKE '{prefix}-%'", "max_results": 100})
    assert len(r.json()["experiments"]) == 9


# ------------------------------------------------------------ deployments

def _deployment_versions(srv, name, auth):
    r = requests.get(f"{srv.url}/api/v1/deployments/{name}", auth=auth, timeout=30)
    assert r.status_code == 200, r.text
    return {v["role"]: v for v in r.json()["deployment"]["versions"]}


def test_deployments_are_checked_and_audited_like_every_resource(auth_server, as_user):
    booster, X = _booster(3)
    model = unique("served")
    alice = as_user(ALICE)
    mlflow.set_experiment(unique("auth-serve-exp"))
    with mlflow.start_run():
        mlflow.xgboost.log_model(booster, name="m", registered_model_name=model, pip_requirements=PIP)
    # Bob may not even read alice's model: he cannot deploy it.
    r = requests.post(f"{auth_server.api}/registered-models/permissions/create",
                      json={"name": model, "username": BOB[0], "permission": "NO_PERMISSIONS"},
                      auth=ALICE, timeout=30)
    assert r.status_code == 200, r.text
    name = unique("dep")
    refused = requests.post(f"{auth_server.url}/api/v1/deployments",
                            json={"name": name, "model_uri": f"models:/{model}/1"}, auth=BOB, timeout=30)
    assert refused.status_code == 403, refused.text
    assert requests.post(f"{auth_server.url}/api/v1/deployments",
                         json={"name": name, "model_uri": f"models:/{model}/1"}, timeout=30).status_code == 401
    created = requests.post(f"{auth_server.url}/api/v1/deployments",
                            json={"name": name, "model_uri": f"models:/{model}/1"}, auth=ALICE, timeout=30)
    assert created.status_code == 200, created.text
    deadline = time.monotonic() + 30
    while _deployment_versions(auth_server, name, ALICE).get("primary", {}).get("state") != "ready":
        assert time.monotonic() < deadline, "the deployment never became ready"
        time.sleep(0.1)
    body = {"dataframe_split": json.loads(X.head(2).to_json(orient="split", index=False))}
    url = f"{auth_server.url}/deployments/{name}/invocations"
    ok = requests.post(url, json=body, auth=ALICE, timeout=30)
    assert ok.status_code == 200, ok.text
    np.testing.assert_allclose(ok.json()["predictions"], booster.predict(xgb.DMatrix(X.head(2))), rtol=1e-6)
    # Bob has the default READ on the deployment: he sees it, but invoking needs USE.
    assert requests.post(url, json=body, auth=BOB, timeout=30).status_code == 403
    assert requests.post(url, json=body, timeout=30).status_code == 401
    assert requests.patch(f"{auth_server.url}/api/v1/deployments/{name}", json={"max_queued": 5},
                          auth=BOB, timeout=30).status_code == 403
    assert requests.delete(f"{auth_server.url}/api/v1/deployments/{name}", auth=BOB,
                           timeout=30).status_code == 403
    grant = requests.post(f"{auth_server.url}/api/3.0/mlflow/users/permissions/grant",
                          json={"username": BOB[0], "resource_type": "deployment", "resource_id": name,
                                "permission": "USE"}, auth=ALICE, timeout=30)
    assert grant.status_code == 200, grant.text
    assert requests.post(url, json=body, auth=BOB, timeout=30).status_code == 200
    # OIP's inference route is the same resource under another path.
    oip = {"inputs": [{"name": "input__0", "shape": [2, 3], "datatype": "FP64",
                       "data": X.head(2).to_numpy().reshape(-1).tolist()}]}
    assert requests.post(f"{auth_server.url}/v2/models/{name}/infer", json=oip, auth=BOB,
                         timeout=30).status_code == 200
    assert requests.patch(f"{auth_server.url}/api/v1/deployments/{name}", json={"max_queued": 5},
                          auth=BOB, timeout=30).status_code == 403
    entries = _audit(auth_server, target=f"deployment:{name}")
    assert ("deployments/create", "alice", 200) in {(e["action"], e["principal"], e["outcome"]) for e in entries}
    assert ("deployments/create", "bob", 403) in {(e["action"], e["principal"], e["outcome"]) for e in entries}
    assert any(e["action"] == "deployments/update" and e["principal"] == "bob" and e["outcome"] == 403
               for e in entries), entries
    assert any(e["action"] == "deployments/load" and e["principal"] == "system:serving" for e in entries)
    # Bob, with the default READ, sees the deployment in the list; a user with NO_PERMISSIONS does not.
    listed = requests.get(f"{auth_server.url}/api/v1/deployments", auth=BOB, timeout=30).json()
    assert name in {d["name"] for d in listed["deployments"]}
    requests.post(f"{auth_server.url}/api/3.0/mlflow/users/permissions/grant",
                  json={"username": BOB[0], "resource_type": "deployment", "resource_id": name,
                        "permission": "NO_PERMISSIONS"}, auth=ALICE, timeout=30)
    listed = requests.get(f"{auth_server.url}/api/v1/deployments", auth=BOB, timeout=30).json()
    assert name not in {d["name"] for d in listed["deployments"]}
    assert requests.get(f"{auth_server.url}/api/v1/deployments/{name}", auth=BOB, timeout=30).status_code == 403
    assert requests.delete(f"{auth_server.url}/api/v1/deployments/{name}", auth=ALICE,
                           timeout=30).status_code == 200


def test_prompts_follow_registered_model_permissions_and_are_audited(auth_server, as_user):
    # MLflow's prompts are registered models: the same grants and the same trail.
    as_user(ALICE)
    name = unique("alice-prompt")
    mlflow.genai.register_prompt(name=name, template="Hi {{x}}")
    as_user(BOB)
    # READ by default: bob may load it, but adding a version needs EDIT.
    assert mlflow.genai.load_prompt(f"prompts:/{name}/1").template == "Hi {{x}}"
    with pytest.raises(MlflowException) as exc:
        mlflow.genai.register_prompt(name=name, template="Mine now {{x}}")
    _denied(exc)
    as_user(ALICE)  # the owner (MANAGE) grants
    _auth_client(auth_server).grant_user_permission(BOB[0], "registered_model", name,
                                                    "NO_PERMISSIONS")
    as_user(BOB)
    with pytest.raises(MlflowException) as exc:  # not from the client's prompt cache
        mlflow.genai.load_prompt(f"prompts:/{name}/1", cache_ttl_seconds=0)
    _denied(exc)
    assert name not in {p.name for p in mlflow.genai.search_prompts(max_results=1000)}
    created = [(e["principal"], e["outcome"]) for e in _audit(auth_server)
               if e["action"] == "model-versions/create" and name in e.get("target", "")]
    assert ("alice", 200) in created, created
    assert ("bob", 403) in created, created


def test_chart_history_routes_check_every_run(auth_server, as_user):
    alice = as_user(ALICE)
    exp = alice.create_experiment(unique("charts"))
    run_id = alice.create_run(exp).info.run_id
    alice.log_metric(run_id, "loss", 0.5, step=1)
    _auth_client(auth_server).grant_user_permission(BOB[0], "experiment", exp, "NO_PERMISSIONS")
    bob_exp = as_user(BOB).create_experiment(unique("bob-charts"))
    bob_run = as_user(BOB).create_run(bob_exp).info.run_id
    for path, params in (
        ("/api/2.0/mlflow/metrics/get-history-bulk-interval",
         {"run_ids": [bob_run, run_id], "metric_key": "loss"}),
        ("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
         {"run_ids": [bob_run, run_id], "metric_key": "loss"}),
        ("/ajax-api/2.0/mlflow/metrics/get-history-bulk",
         {"run_id": [bob_run, run_id], "metric_key": "loss"}),
    ):
        # One run bob may not read refuses the request, whatever else it asks.
        r = requests.get(auth_server.url + path, params=params, auth=BOB)
        assert_mlflow_error(r, 403, "PERMISSION_DENIED")
        r = requests.get(auth_server.url + path, params=params, auth=ALICE)
        assert r.status_code == 200, r.text
        assert [m["run_id"] for m in r.json()["metrics"]] == [run_id]


def test_ui_upload_needs_edit_on_the_runs_experiment(auth_server, as_user):
    alice = as_user(ALICE)
    run_id = alice.create_run(alice.create_experiment(unique("ui-upload"))).info.run_id
    url = f"{auth_server.url}/ajax-api/2.0/mlflow/upload-artifact"
    params = {"run_uuid": run_id, "path": "x.txt"}
    # bob has READ (the default), not EDIT
    assert_mlflow_error(requests.post(url, params=params, data=b"bob's", auth=BOB), 403,
                        "PERMISSION_DENIED")
    r = requests.post(url, params=params, data=b"alice's", auth=ALICE)
    assert r.status_code == 200, r.text
    assert [f.path for f in alice.list_artifacts(run_id)] == ["x.txt"]
