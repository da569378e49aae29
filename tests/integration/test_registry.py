"""The MLflow model registry through the real `mlflow` client (and raw HTTP where the
client cannot reach an edge case): registered models, model versions, stages, tags,
aliases, search and loading `models:/` URIs back, plus MLflow's error forms.

Every expectation here is what `mlflow server` 3.17 does
(mlflow/server/handlers.py, mlflow/store/model_registry/sqlalchemy_store.py);
run with SLIPWAY_ITEST_REFERENCE=mlflow to check that again.
"""

from __future__ import annotations

import json
import time

import mlflow
import mlflow.pyfunc
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb
from mlflow.entities.model_registry.model_version_status import ModelVersionStatus
from mlflow.exceptions import MlflowException

from conftest import assert_mlflow_error, unique

# pip requirements given up front: the client would otherwise load the model in a
# subprocess to infer them, which costs seconds and tests nothing about the server.
PIP = ["xgboost"]


def _data(seed: int = 5, n: int = 120):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] - X[:, 1] + 0.3 * X[:, 3] > 0).astype(int)
    return pd.DataFrame(X, columns=["f0", "f1", "f2", "f3"]), y


def _train(rounds: int, depth: int = 3):
    X, y = _data()
    params = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.3, "seed": 0,
              "nthread": 1}
    return xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=rounds)


@pytest.fixture(scope="module")
def boosters():
    """Three boosters whose predictions differ, and the frame they predict on."""
    X, _ = _data()
    return [_train(2), _train(6), _train(12, depth=2)], X


def _error(exc_info) -> str:
    return exc_info.value.error_code


def _new_run(client, exp_name: str | None = None) -> str:
    exp_id = client.create_experiment(unique(exp_name or "reg"))
    return client.create_run(exp_id).info.run_id


def _create_versions(client, name: str, run_id: str, n: int, **kw):
    """n versions of `name` from a run's "model" path (no files needed for that)."""
    return [client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, **kw)
            for _ in range(n)]


def _model_versions_tag(client, model_id: str) -> set:
    """The (name, version) pairs in a logged model's mlflow.modelVersions tag.

    Both the client and the server append to this JSON list (the version as a number,
    as MLflow's server writes it); the set is what matters.
    """
    raw = client.get_logged_model(model_id).tags["mlflow.modelVersions"]
    return {(mv["name"], str(mv["version"])) for mv in json.loads(raw)}


def _missing(field: str) -> str:
    return f"Missing value for required parameter '{field}'"


def _send(server, method: str, endpoint: str, body: dict):
    """A JSON body with PATCH or DELETE, as the registry's update and delete endpoints take."""
    return requests.request(method, f"{server.api}/{endpoint}", data=json.dumps(body),
                            headers={"Content-Type": "application/json"}, timeout=30)


# --------------------------------------------------------------- register / log


def test_register_model_from_runs_uri_and_models_uri(mlflow_client, boosters):
    booster = boosters[0][0]
    name = unique("reg-uri")
    mlflow.set_experiment(unique("reg-uri-exp"))
    with mlflow.start_run() as run:
        info = mlflow.xgboost.log_model(booster, name="model", pip_requirements=PIP)
    run_id = run.info.run_id

    v1 = mlflow.register_model(f"runs:/{run_id}/model", name, tags={"via": "runs"})
    assert v1.name == name
    assert v1.version == "1"
    assert v1.run_id == run_id
    # MLflow 3: the run has no files at "model"; the client registers the logged model
    # (MLflow's ModelVersion message carries no model_id, so the source says which)
    assert v1.source == f"models:/{info.model_id}"
    assert v1.status == "READY"
    assert v1.current_stage == "None"
    assert v1.tags == {"via": "runs"}

    v2 = mlflow.register_model(f"models:/{info.model_id}", name)
    assert v2.version == "2"
    assert v2.source == f"models:/{info.model_id}"
    # no run_id was sent: the server takes the logged model's source run
    assert v2.run_id == run_id

    got = mlflow_client.get_model_version(name, "1")
    assert (got.name, got.version, got.run_id, got.source, got.status) == (
        name, "1", run_id, f"models:/{info.model_id}", "READY")
    assert got.tags == {"via": "runs"}
    assert got.creation_timestamp > 0
    assert got.last_updated_timestamp >= got.creation_timestamp

    rm = mlflow_client.get_registered_model(name)
    assert rm.name == name
    assert [(v.version, v.current_stage) for v in rm.latest_versions] == [("2", "None")]

    # the server records both versions on the logged model
    assert _model_versions_tag(mlflow_client, info.model_id) == {(name, "1"), (name, "2")}


def test_log_model_with_registered_model_name_makes_versions_1_then_2(mlflow_client, boosters):
    (b1, b2, _), X = boosters
    name = unique("reg-log")
    mlflow.set_experiment(unique("reg-log-exp"))
    with mlflow.start_run() as run:
        first = mlflow.xgboost.log_model(b1, name="m1", registered_model_name=name,
                                         pip_requirements=PIP)
        second = mlflow.xgboost.log_model(b2, name="m2", registered_model_name=name,
                                          pip_requirements=PIP)
    assert first.registered_model_version == "1"
    assert second.registered_model_version == "2"

    versions = mlflow_client.search_model_versions(f"name = '{name}'",
                                                   order_by=["version_number ASC"])
    assert [(v.version, v.run_id, v.source, v.status) for v in versions] == [
        ("1", run.info.run_id, f"models:/{first.model_id}", "READY"),
        ("2", run.info.run_id, f"models:/{second.model_id}", "READY"),
    ]
    assert _model_versions_tag(mlflow_client, first.model_id) == {(name, "1")}
    assert _model_versions_tag(mlflow_client, second.model_id) == {(name, "2")}

    for version, booster in (("1", b1), ("2", b2)):
        loaded = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        np.testing.assert_allclose(np.asarray(loaded.predict(X)),
                                   booster.predict(xgb.DMatrix(X)), rtol=1e-6)


def test_load_models_uri_by_alias_number_and_latest(mlflow_client, boosters):
    (b1, b2, b3), X = boosters
    name = unique("reg-load")
    mlflow.set_experiment(unique("reg-load-exp"))
    infos = []
    with mlflow.start_run():
        for i, booster in enumerate((b1, b2, b3)):
            infos.append(mlflow.xgboost.log_model(booster, name=f"m{i}", pip_requirements=PIP))
    for info in infos:
        mlflow.register_model(info.model_uri, name)
    mlflow_client.set_registered_model_alias(name, "champion", "2")

    expected = {i + 1: b.predict(xgb.DMatrix(X)) for i, b in enumerate((b1, b2, b3))}
    # the three boosters must be told apart for these checks to mean anything
    assert not np.allclose(expected[1], expected[2])
    assert not np.allclose(expected[2], expected[3])

    by_alias = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_allclose(np.asarray(by_alias.predict(X)), expected[2], rtol=1e-6)
    by_number = mlflow.pyfunc.load_model(f"models:/{name}/3")
    np.testing.assert_allclose(np.asarray(by_number.predict(X)), expected[3], rtol=1e-6)
    latest = mlflow.pyfunc.load_model(f"models:/{name}/latest")
    np.testing.assert_allclose(np.asarray(latest.predict(X)), expected[3], rtol=1e-6)
    native = mlflow.xgboost.load_model(f"models:/{name}/1")
    np.testing.assert_allclose(native.predict(xgb.DMatrix(X)), expected[1], rtol=1e-6)

    # moving the alias changes what loads
    mlflow_client.set_registered_model_alias(name, "champion", "1")
    again = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_allclose(np.asarray(again.predict(X)), expected[1], rtol=1e-6)

    # a stage name loads the newest version in that stage
    mlflow_client.transition_model_version_stage(name, "2", "Production")
    staged = mlflow.pyfunc.load_model(f"models:/{name}/Production")
    np.testing.assert_allclose(np.asarray(staged.predict(X)), expected[2], rtol=1e-6)

    uri = mlflow_client.get_model_version_download_uri(name, "3")
    lm = mlflow_client.get_logged_model(infos[2].model_id)
    assert uri == lm.artifact_location


# ----------------------------------------------------------- registered models


def test_registered_model_create_get_update_tags(mlflow_client):
    name = unique("rm")
    before = int(time.time() * 1000)
    rm = mlflow_client.create_registered_model(name, tags={"team": "fraud", "tier": "1"},
                                               description="scores card payments")
    assert rm.name == name
    assert rm.description == "scores card payments"
    assert rm.tags == {"team": "fraud", "tier": "1"}
    assert rm.latest_versions == []
    assert rm.creation_timestamp >= before - 5000

    got = mlflow_client.get_registered_model(name)
    assert (got.name, got.description, got.tags) == (name, "scores card payments",
                                                     {"team": "fraud", "tier": "1"})
    assert got.latest_versions == []
    assert got.aliases == {}
    assert got.creation_timestamp == rm.creation_timestamp

    updated = mlflow_client.update_registered_model(name, description="v2 of the scorer")
    assert updated.description == "v2 of the scorer"
    assert mlflow_client.get_registered_model(name).description == "v2 of the scorer"

    mlflow_client.set_registered_model_tag(name, "tier", "2")
    mlflow_client.set_registered_model_tag(name, "owner", "alice")
    mlflow_client.delete_registered_model_tag(name, "team")
    got = mlflow_client.get_registered_model(name)
    assert got.tags == {"tier": "2", "owner": "alice"}
    assert got.last_updated_timestamp >= got.creation_timestamp


def test_rename_registered_model_moves_versions_and_aliases(mlflow_client):
    old, new = unique("rm-old"), unique("rm-new")
    run_id = _new_run(mlflow_client)
    mlflow_client.create_registered_model(old, tags={"k": "v"}, description="d")
    _create_versions(mlflow_client, old, run_id, 2)
    mlflow_client.set_registered_model_alias(old, "prod", "1")

    mlflow_client.rename_registered_model(old, new)

    got = mlflow_client.get_registered_model(new)
    assert got.tags == {"k": "v"}
    assert got.description == "d"
    assert got.aliases == {"prod": "1"}
    assert [v.version for v in got.latest_versions] == ["2"]
    v1 = mlflow_client.get_model_version(new, "1")
    assert (v1.name, v1.version, v1.run_id) == (new, "1", run_id)
    assert mlflow_client.get_model_version_by_alias(new, "prod").version == "1"
    assert [v.version for v in mlflow_client.search_model_versions(
        f"name = '{new}'", order_by=["version_number ASC"])] == ["1", "2"]

    assert mlflow_client.search_model_versions(f"name = '{old}'") == []
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_registered_model(old)
    assert _error(exc) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_model_version(old, "1")
    assert _error(exc) == "RESOURCE_DOES_NOT_EXIST"

    # the freed name can be used again, and starts at version 1
    mlflow_client.create_registered_model(old)
    fresh = _create_versions(mlflow_client, old, run_id, 1)[0]
    assert fresh.version == "1"


def test_rename_onto_existing_name_is_resource_already_exists(mlflow_client):
    a, b = unique("rm-a"), unique("rm-b")
    mlflow_client.create_registered_model(a)
    mlflow_client.create_registered_model(b)
    with pytest.raises(MlflowException) as exc:
        mlflow_client.rename_registered_model(a, b)
    assert _error(exc) == "RESOURCE_ALREADY_EXISTS"
    assert mlflow_client.get_registered_model(a).name == a


def test_delete_registered_model_deletes_its_versions(mlflow_client):
    name = unique("rm-del")
    run_id = _new_run(mlflow_client)
    mlflow_client.create_registered_model(name)
    _create_versions(mlflow_client, name, run_id, 2)
    mlflow_client.set_registered_model_alias(name, "a1", "2")

    mlflow_client.delete_registered_model(name)
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_registered_model(name)
    assert _error(exc) == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow_client.search_model_versions(f"name = '{name}'") == []
    assert mlflow_client.search_model_versions(f"run_id = '{run_id}'") == []
    assert mlflow_client.search_registered_models(f"name = '{name}'") == []

    # re-created under the same name it is a new model: versions restart, no aliases
    mlflow_client.create_registered_model(name)
    assert _create_versions(mlflow_client, name, run_id, 1)[0].version == "1"
    assert mlflow_client.get_registered_model(name).aliases == {}


def test_search_registered_models_filter_order_and_pages(mlflow_client):
    prefix = unique("srch")
    names = [f"{prefix}-{c}" for c in "cadeb"]
    for i, n in enumerate(names):
        mlflow_client.create_registered_model(n, tags={"team": "red" if i % 2 else "blue",
                                                       "idx": str(i)})
    other = mlflow_client.create_registered_model(unique("other")).name

    found = mlflow_client.search_registered_models(f"name LIKE '{prefix}%'")
    assert sorted(m.name for m in found) == sorted(names)
    # default order is by name ascending
    assert [m.name for m in found] == sorted(names)

    upper = mlflow_client.search_registered_models(f"name ILIKE '{prefix.upper()}-%'")
    assert sorted(m.name for m in upper) == sorted(names)
    assert other not in {m.name for m in upper}

    exact = mlflow_client.search_registered_models(f"name = '{names[2]}'")
    assert [m.name for m in exact] == [names[2]]

    red = mlflow_client.search_registered_models(
        f"name LIKE '{prefix}%' AND tags.team = 'red'")
    assert sorted(m.name for m in red) == sorted([names[1], names[3]])
    assert all(m.tags["team"] == "red" for m in red)

    desc = mlflow_client.search_registered_models(f"name LIKE '{prefix}%'",
                                                  order_by=["name DESC"])
    assert [m.name for m in desc] == sorted(names, reverse=True)

    by_time = mlflow_client.search_registered_models(
        f"name LIKE '{prefix}%'", order_by=["timestamp DESC", "name ASC"])
    times = [m.creation_timestamp for m in by_time]
    assert times == sorted(times, reverse=True)

    seen, token, pages = [], None, 0
    while True:
        page = mlflow_client.search_registered_models(f"name LIKE '{prefix}%'", max_results=2,
                                                      order_by=["name ASC"], page_token=token)
        pages += 1
        assert len(page) <= 2
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
        assert pages < 10, "paging does not end"
    assert seen == sorted(names)
    assert pages == 3

    assert mlflow_client.search_registered_models(f"name = '{unique('nobody')}'") == []


def test_get_latest_versions_by_stage_and_transitions(mlflow_client):
    name = unique("stages")
    run_id = _new_run(mlflow_client)
    mlflow_client.create_registered_model(name)
    _create_versions(mlflow_client, name, run_id, 4)

    mv = mlflow_client.transition_model_version_stage(name, "1", "Staging")
    assert (mv.version, mv.current_stage) == ("1", "Staging")
    mlflow_client.transition_model_version_stage(name, "2", "production")  # case-insensitive
    assert mlflow_client.get_model_version(name, "2").current_stage == "Production"
    mlflow_client.transition_model_version_stage(name, "3", "Staging")

    def latest(stages=None):
        return sorted((v.version, v.current_stage)
                      for v in mlflow_client.get_latest_versions(name, stages=stages))

    assert latest(["Staging"]) == [("3", "Staging")]
    assert latest(["Production"]) == [("2", "Production")]
    assert latest(["Archived"]) == []
    assert latest() == [("2", "Production"), ("3", "Staging"), ("4", "None")]
    assert latest(["None", "Production"]) == [("2", "Production"), ("4", "None")]

    rm = mlflow_client.get_registered_model(name)
    assert sorted((v.version, v.current_stage) for v in rm.latest_versions) == latest()

    # archive_existing_versions sends the other Production versions to Archived
    mlflow_client.transition_model_version_stage(name, "4", "Production",
                                                 archive_existing_versions=True)
    assert mlflow_client.get_model_version(name, "2").current_stage == "Archived"
    assert mlflow_client.get_model_version(name, "4").current_stage == "Production"
    # ... but leaves versions in other stages alone
    assert mlflow_client.get_model_version(name, "1").current_stage == "Staging"
    assert mlflow_client.get_model_version(name, "3").current_stage == "Staging"

    # without it, two versions can share a stage
    mlflow_client.transition_model_version_stage(name, "1", "Production")
    prod = mlflow_client.search_model_versions(f"name = '{name}'")
    assert sorted(v.version for v in prod if v.current_stage == "Production") == ["1", "4"]
    assert latest(["Production"]) == [("4", "Production")]

    with pytest.raises(MlflowException) as exc:
        mlflow_client.transition_model_version_stage(name, "1", "Retired")
    assert _error(exc) == "INVALID_PARAMETER_VALUE"


# -------------------------------------------------------------- model versions


def test_model_version_create_get_update_tags_and_delete(mlflow_client):
    name = unique("mv")
    run_id = _new_run(mlflow_client)
    mlflow_client.create_registered_model(name)
    mv = mlflow_client.create_model_version(
        name, f"runs:/{run_id}/model", run_id=run_id, tags={"stage": "candidate"},
        run_link="http://ci.example/build/7", description="first cut")
    assert (mv.name, mv.version, mv.run_id, mv.source) == (name, "1", run_id,
                                                           f"runs:/{run_id}/model")
    assert mv.tags == {"stage": "candidate"}
    assert mv.description == "first cut"
    assert mv.run_link == "http://ci.example/build/7"
    assert mv.status == ModelVersionStatus.to_string(ModelVersionStatus.READY)
    assert mv.current_stage == "None"
    assert mv.aliases == []

    updated = mlflow_client.update_model_version(name, "1", description="reviewed")
    assert updated.description == "reviewed"
    got = mlflow_client.get_model_version(name, "1")
    assert got.description == "reviewed"
    assert got.run_link == "http://ci.example/build/7"

    mlflow_client.set_model_version_tag(name, "1", "approved_by", "bob")
    mlflow_client.set_model_version_tag(name, "1", "stage", "approved")
    assert mlflow_client.get_model_version(name, "1").tags == {"stage": "approved",
                                                               "approved_by": "bob"}
    mlflow_client.delete_model_version_tag(name, "1", "stage")
    assert mlflow_client.get_model_version(name, "1").tags == {"approved_by": "bob"}

    _create_versions(mlflow_client, name, run_id, 2)  # versions 2, 3
    mlflow_client.delete_model_version(name, "3")
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_model_version(name, "3")
    assert _error(exc) == "RESOURCE_DOES_NOT_EXIST"
    # numbers are never reused: the next version after deleting 3 is 4
    nxt = _create_versions(mlflow_client, name, run_id, 1)[0]
    assert nxt.version == "4"
    remaining = mlflow_client.search_model_versions(f"name = '{name}'",
                                                    order_by=["version_number ASC"])
    assert [v.version for v in remaining] == ["1", "2", "4"]

    # a runs:/ source is handed back as it is; the client resolves it when downloading
    assert mlflow_client.get_model_version_download_uri(name, "1") == f"runs:/{run_id}/model"


def test_search_model_versions_filters_and_order(mlflow_client):
    name_a, name_b = unique("smv-a"), unique("smv-b")
    run_1, run_2 = _new_run(mlflow_client), _new_run(mlflow_client)
    for n in (name_a, name_b):
        mlflow_client.create_registered_model(n)
    _create_versions(mlflow_client, name_a, run_1, 2, tags={"kind": "gbdt"})
    _create_versions(mlflow_client, name_a, run_2, 1, tags={"kind": "linear"})
    _create_versions(mlflow_client, name_b, run_2, 1, tags={"kind": "gbdt"})

    def found(filter_string, order_by=None):
        return [(v.name, v.version) for v in mlflow_client.search_model_versions(
            filter_string, order_by=order_by)]

    assert sorted(found(f"name = '{name_a}'")) == [(name_a, "1"), (name_a, "2"),
                                                  (name_a, "3")]
    assert sorted(found(f"run_id = '{run_2}'")) == [(name_a, "3"), (name_b, "1")]
    assert sorted(found(f"run_id IN ('{run_1}', '{run_2}')")) == [
        (name_a, "1"), (name_a, "2"), (name_a, "3"), (name_b, "1")]
    assert sorted(found(f"name = '{name_a}' AND tags.kind = 'gbdt'")) == [
        (name_a, "1"), (name_a, "2")]
    assert sorted(found(f"run_id = '{run_2}' AND tags.`kind` = 'gbdt'")) == [(name_b, "1")]
    assert found(f"name = '{name_a}'", order_by=["version_number DESC"]) == [
        (name_a, "3"), (name_a, "2"), (name_a, "1")]
    assert found(f"name = '{name_a}'", order_by=["version_number ASC"]) == [
        (name_a, "1"), (name_a, "2"), (name_a, "3")]
    assert sorted(found(f"name LIKE '{name_a[:-4]}%'")) == [(name_a, "1"), (name_a, "2"),
                                                            (name_a, "3")]
    assert found(f"name = '{name_a}' AND tags.kind = 'absent'") == []

    versions = mlflow_client.search_model_versions(f"name = '{name_b}'")
    assert [(v.run_id, v.source, v.tags) for v in versions] == [
        (run_2, f"runs:/{run_2}/model", {"kind": "gbdt"})]


def test_aliases_on_models_and_versions(mlflow_client):
    name = unique("alias")
    run_id = _new_run(mlflow_client)
    mlflow_client.create_registered_model(name)
    _create_versions(mlflow_client, name, run_id, 3)

    mlflow_client.set_registered_model_alias(name, "champion", "1")
    mlflow_client.set_registered_model_alias(name, "challenger", "2")
    mlflow_client.set_registered_model_alias(name, "shadow", "2")

    champ = mlflow_client.get_model_version_by_alias(name, "champion")
    assert (champ.name, champ.version, champ.run_id) == (name, "1", run_id)
    assert champ.aliases == ["champion"]
    assert sorted(mlflow_client.get_model_version(name, "2").aliases) == ["challenger",
                                                                          "shadow"]
    assert mlflow_client.get_model_version(name, "3").aliases == []
    assert mlflow_client.get_registered_model(name).aliases == {
        "champion": "1", "challenger": "2", "shadow": "2"}
    found = mlflow_client.search_registered_models(f"name = '{name}'")
    assert found[0].aliases == {"champion": "1", "challenger": "2", "shadow": "2"}

    # setting an alias again moves it
    mlflow_client.set_registered_model_alias(name, "champion", "3")
    assert mlflow_client.get_model_version_by_alias(name, "champion").version == "3"
    assert mlflow_client.get_model_version(name, "1").aliases == []
    assert mlflow_client.get_model_version(name, "3").aliases == ["champion"]

    mlflow_client.delete_registered_model_alias(name, "shadow")
    assert mlflow_client.get_model_version(name, "2").aliases == ["challenger"]
    # (MLflow answers an unknown alias of a known model with INVALID_PARAMETER_VALUE)
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_model_version_by_alias(name, "shadow")
    assert _error(exc) == "INVALID_PARAMETER_VALUE"

    # deleting a version drops its aliases
    mlflow_client.delete_model_version(name, "2")
    assert mlflow_client.get_registered_model(name).aliases == {"champion": "3"}
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_model_version_by_alias(name, "challenger")
    assert _error(exc) == "INVALID_PARAMETER_VALUE"


# ------------------------------------------------------------------- errors


def test_unknown_model_version_and_alias_are_404(server, mlflow_client):
    name = unique("missing")
    run_id = _new_run(mlflow_client)
    cases = [
        server.get("registered-models/get", {"name": name}),
        _send(server, "PATCH", "registered-models/update", {"name": name, "description": "x"}),
        server.post("registered-models/rename", {"name": name, "new_name": unique("n")}),
        _send(server, "DELETE", "registered-models/delete", {"name": name}),
        server.post("registered-models/get-latest-versions", {"name": name}),
        server.post("registered-models/set-tag", {"name": name, "key": "k", "value": "v"}),
        server.get("model-versions/get", {"name": name, "version": "1"}),
        server.post("model-versions/create", {"name": name, "source": f"runs:/{run_id}/model",
                                              "run_id": run_id}),
        _send(server, "DELETE", "registered-models/alias", {"name": name, "alias": "a"}),
        _send(server, "DELETE", "registered-models/delete-tag", {"name": name, "key": "k"}),
        server.get("registered-models/alias", {"name": name, "alias": "champion"}),
    ]
    for resp in cases:
        assert_mlflow_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")

    r = server.post("registered-models/create", {"name": name})
    assert r.status_code == 200, r.text
    assert r.json()["registered_model"]["name"] == name
    for resp in (
        server.get("model-versions/get", {"name": name, "version": "1"}),
        server.get("model-versions/get-download-uri", {"name": name, "version": "7"}),
        _send(server, "PATCH", "model-versions/update",
              {"name": name, "version": "2", "description": "x"}),
        server.post("model-versions/transition-stage", {
            "name": name, "version": "1", "stage": "Staging",
            "archive_existing_versions": False}),
        _send(server, "DELETE", "model-versions/delete", {"name": name, "version": "1"}),
        server.post("model-versions/set-tag", {"name": name, "version": "1", "key": "k",
                                               "value": "v"}),
        server.post("registered-models/alias", {"name": name, "alias": "champion",
                                                "version": "1"}),
        # "latest" of a model without versions
        server.get("registered-models/alias", {"name": name, "alias": "latest"}),
    ):
        assert_mlflow_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")


def test_unknown_alias_and_the_latest_lookup(server, mlflow_client):
    name = unique("alias-lookup")
    run_id = _new_run(mlflow_client)
    mlflow_client.create_registered_model(name)
    # an alias the model does not have: MLflow's form is 400, not 404
    r = server.get("registered-models/alias", {"name": name, "alias": "champion"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE",
                        "Registered model alias champion not found")
    # deleting an alias that is not set is not an error
    r = _send(server, "DELETE", "registered-models/alias", {"name": name, "alias": "champion"})
    assert r.status_code == 200, r.text

    _create_versions(mlflow_client, name, run_id, 3)
    mlflow_client.delete_model_version(name, "3")
    # "latest" (any case) is the highest version, not an alias one can set
    for alias in ("latest", "Latest"):
        r = server.get("registered-models/alias", {"name": name, "alias": alias})
        assert r.status_code == 200, r.text
        assert r.json()["model_version"]["version"] == "2"
    assert mlflow_client.get_model_version_by_alias(name, "latest").version == "2"
    # "v2" is reserved for setting but is no lookup of version 2
    r = server.get("registered-models/alias", {"name": name, "alias": "v2"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_client_raises_resource_does_not_exist(mlflow_client):
    name = unique("missing")
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_registered_model(name)
    assert _error(exc) == "RESOURCE_DOES_NOT_EXIST"
    mlflow_client.create_registered_model(name)
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_model_version(name, "1")
    assert _error(exc) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_model_version_by_alias(name, "nope")
    assert _error(exc) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException):
        mlflow.pyfunc.load_model(f"models:/{name}@nope")


def test_duplicate_registered_model_is_resource_already_exists(server, mlflow_client):
    name = unique("dup")
    mlflow_client.create_registered_model(name, description="original")
    with pytest.raises(MlflowException) as exc:
        mlflow_client.create_registered_model(name)
    assert _error(exc) == "RESOURCE_ALREADY_EXISTS"
    r = server.post("registered-models/create", {"name": name})
    assert_mlflow_error(r, 400, "RESOURCE_ALREADY_EXISTS", name)
    assert mlflow_client.get_registered_model(name).description == "original"


def test_version_that_is_not_a_number_is_invalid_parameter_value(server):
    name = unique("nan")
    assert server.post("registered-models/create", {"name": name}).status_code == 200
    for version in ("abc", "1.5", "one"):
        assert_mlflow_error(server.get("model-versions/get", {"name": name, "version": version}),
                            400, "INVALID_PARAMETER_VALUE")
        assert_mlflow_error(server.post("registered-models/alias", {
            "name": name, "alias": "a", "version": version}), 400, "INVALID_PARAMETER_VALUE")
        assert_mlflow_error(server.get("model-versions/get-download-uri",
                                       {"name": name, "version": version}),
                            400, "INVALID_PARAMETER_VALUE")


def test_reserved_and_bad_alias_names_are_invalid_parameter_value(server, mlflow_client):
    name = unique("alias-bad")
    run_id = _new_run(mlflow_client)
    mlflow_client.create_registered_model(name)
    _create_versions(mlflow_client, name, run_id, 1)
    for alias, fragment in (("latest", "reserved"), ("LATEST", "reserved"),
                            ("v1", "reserved"), ("V12", "reserved"),
                            ("has space", "Invalid alias name"),
                            ("a/b", "Invalid alias name"),
                            ("x" * 256, "exceeds the maximum length")):
        r = server.post("registered-models/alias", {"name": name, "alias": alias,
                                                    "version": "1"})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", fragment)
    with pytest.raises(MlflowException) as exc:
        mlflow_client.set_registered_model_alias(name, "latest", "1")
    assert _error(exc) == "INVALID_PARAMETER_VALUE"
    assert mlflow_client.get_registered_model(name).aliases == {}

    # names with v + digits inside are fine, and 255 characters is the limit
    for alias in ("v1-candidate", "x" * 255):
        mlflow_client.set_registered_model_alias(name, alias, "1")
        assert mlflow_client.get_model_version_by_alias(name, alias).version == "1"


def test_bad_registered_model_names_are_invalid_parameter_value(server):
    for bad, fragment in (("", "Missing value for required parameter 'name'"),
                          ("a/b", "Names cannot contain '/' or ':'"),
                          ("a:b", "Names cannot contain '/' or ':'"),
                          ("..", "must not resolve to other names"),
                          ("a/../b", "Names cannot contain"),
                          ("./x", "Names cannot contain")):
        r = server.post("registered-models/create", {"name": bad})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", fragment)
    assert_mlflow_error(server.post("registered-models/create", {}), 400,
                        "INVALID_PARAMETER_VALUE")
    assert_mlflow_error(server.post("registered-models/create", {"name": 7}), 400,
                        "INVALID_PARAMETER_VALUE")
    good = unique("rm")
    assert server.post("registered-models/create", {"name": good}).status_code == 200
    for new_name in ("", "x/y", "p:q"):
        r = server.post("registered-models/rename", {"name": good, "new_name": new_name})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert server.get("registered-models/get", {"name": good}).status_code == 200


def test_odd_but_valid_names_round_trip(server, mlflow_client):
    run_id = _new_run(mlflow_client)
    for name in (unique("ünïcødé модель"), unique("with space"), unique("dots.and-dash_")
                 + ".v2", unique("quote'and\"double"), unique("percent%and_under")):
        mlflow_client.create_registered_model(name)
        assert mlflow_client.get_registered_model(name).name == name
        assert _create_versions(mlflow_client, name, run_id, 1)[0].name == name
        assert mlflow_client.get_model_version(name, "1").name == name
        mlflow_client.set_registered_model_alias(name, "prod", "1")
        assert mlflow_client.get_model_version_by_alias(name, "prod").name == name
        r = server.get("registered-models/get", {"name": name})
        assert r.status_code == 200 and r.json()["registered_model"]["name"] == name


def test_missing_and_oversize_fields_are_invalid_parameter_value(server, mlflow_client):
    name = unique("fields")
    run_id = _new_run(mlflow_client)
    mlflow_client.create_registered_model(name)
    _create_versions(mlflow_client, name, run_id, 1)
    source = f"runs:/{run_id}/model"
    for method, endpoint, body, fragment in (
        ("POST", "model-versions/create", {"name": name}, _missing("source")),
        ("POST", "model-versions/create", {"source": source, "run_id": run_id},
         _missing("name")),
        ("POST", "registered-models/rename", {"name": name}, _missing("new_name")),
        ("POST", "registered-models/set-tag", {"name": name, "key": "", "value": "v"},
         _missing("key")),
        ("POST", "registered-models/set-tag", {"name": name, "key": "k" * 251, "value": "v"},
         "'key' exceeds the maximum length of 250 characters"),
        ("POST", "registered-models/set-tag", {"name": name, "key": "../x", "value": "v"},
         "Names may be treated as files"),
        ("POST", "model-versions/set-tag", {"name": name, "version": "1", "key": "k" * 251,
                                            "value": "v"},
         "'key' exceeds the maximum length of 250 characters"),
        ("POST", "model-versions/set-tag", {"name": name, "version": "1", "key": "k",
                                            "value": "v" * 100_001},
         "'value' exceeds the maximum length of 100000 characters"),
        ("POST", "registered-models/create", {"name": unique("t"), "tags": [
            {"key": "k" * 251, "value": "v"}]},
         "'key' exceeds the maximum length of 250 characters"),
    ):
        assert_mlflow_error(_send(server, method, endpoint, body), 400,
                            "INVALID_PARAMETER_VALUE", fragment)
    assert_mlflow_error(server.get("registered-models/get", {}), 400,
                        "INVALID_PARAMETER_VALUE", _missing("name"))
    # the limits themselves are allowed
    mlflow_client.set_registered_model_tag(name, "k" * 250, "v" * 100_000)
    assert mlflow_client.get_registered_model(name).tags == {"k" * 250: "v" * 100_000}
    assert mlflow_client.get_model_version(name, "1").tags == {}


def test_search_errors_are_invalid_parameter_value(server):
    name = unique("search-err")
    assert server.post("registered-models/create", {"name": name}).status_code == 200
    for endpoint, params, fragment in (
        ("registered-models/search", {"filter": "name = 'unterminated"}, None),
        ("registered-models/search", {"filter": "flavor = 'x'"}, "Invalid attribute key"),
        ("registered-models/search", {"order_by": "flavor DESC"}, "Invalid order by key"),
        ("registered-models/search", {"page_token": "not-a-token"}, "Invalid page token"),
        ("model-versions/search", {"filter": "flavor = 'x'"}, "Invalid attribute key"),
        ("model-versions/search", {"order_by": "flavor DESC"}, "Invalid attribute key"),
    ):
        assert_mlflow_error(server.get(endpoint, params), 400, "INVALID_PARAMETER_VALUE",
                            fragment)
    r = server.post("registered-models/get-latest-versions", {"name": name,
                                                             "stages": ["Retired"]})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid Model Version stage")


def test_search_model_versions_pages(server, mlflow_client):
    name = unique("mv-pages")
    run_id = _new_run(mlflow_client)
    mlflow_client.create_registered_model(name)
    _create_versions(mlflow_client, name, run_id, 5)
    seen, token = [], None
    for _ in range(5):
        page = mlflow_client.search_model_versions(f"name = '{name}'", max_results=2,
                                                   order_by=["version_number DESC"],
                                                   page_token=token)
        assert len(page) <= 2
        seen += [v.version for v in page]
        token = page.token
        if not token:
            break
    assert seen == ["5", "4", "3", "2", "1"]
    assert not token


def test_long_names(server, mlflow_client):
    # 256 characters is what MLflow's schema holds: it must work and read back whole
    name = unique("long")
    name += "n" * (256 - len(name))
    mlflow_client.create_registered_model(name)
    assert mlflow_client.get_registered_model(name).name == name
    assert [m.name for m in mlflow_client.search_registered_models(f"name = '{name}'")] == [
        name]
    # far longer: MLflow on SQLite stores it; on other stores it refuses. Either way the
    # answer is never a 5xx and never a silently truncated name.
    # (2,000 characters, so that the GET below stays within any server's URL limit)
    huge = unique("huge") + "h" * 2_000
    r = server.post("registered-models/create", {"name": huge})
    if r.status_code == 200:
        assert r.json()["registered_model"]["name"] == huge
        got = server.get("registered-models/get", {"name": huge})
        assert got.status_code == 200 and got.json()["registered_model"]["name"] == huge
    else:
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
        # looking a refused name up finds nothing (or is refused the same way)
        got = server.get("registered-models/get", {"name": huge})
        assert got.status_code in (400, 404), got.text[:300]
        assert got.json()["error_code"] in ("INVALID_PARAMETER_VALUE",
                                            "RESOURCE_DOES_NOT_EXIST"), got.text[:300]
    truncated = huge[:256]
    assert_mlflow_error(server.get("registered-models/get", {"name": truncated}), 404,
                        "RESOURCE_DOES_NOT_EXIST")


def test_registry_survives_restart(fresh_server, fresh_mlflow_client):
    client = fresh_mlflow_client
    name = unique("durable")
    run_id = _new_run(client)
    client.create_registered_model(name, tags={"team": "risk"}, description="kept")
    _create_versions(client, name, run_id, 3, tags={"k": "v"})
    client.delete_model_version(name, "3")
    client.set_registered_model_alias(name, "prod", "2")
    client.transition_model_version_stage(name, "1", "Staging")

    fresh_server.restart()

    rm = client.get_registered_model(name)
    assert (rm.tags, rm.description, rm.aliases) == ({"team": "risk"}, "kept", {"prod": "2"})
    assert client.get_model_version_by_alias(name, "prod").version == "2"
    assert client.get_model_version(name, "1").current_stage == "Staging"
    assert client.get_model_version(name, "2").tags == {"k": "v"}
    # the counter survived too: 3 was deleted, so the next version is 4
    assert _create_versions(client, name, run_id, 1)[0].version == "4"


def test_model_version_source_outside_artifact_store_is_rejected(server, mlflow_client):
    """A version's source is where clients download the model from: it may only name the
    run's (or logged model's) own artifacts, never a server path, and no encoding of
    ".." or NUL may sneak past that."""
    name = unique("src")
    exp_id = mlflow_client.create_experiment(unique("src-exp"))
    run_id = mlflow_client.create_run(exp_id).info.run_id
    other_run = mlflow_client.create_run(exp_id).info.run_id
    mlflow_client.create_registered_model(name)
    own = f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"
    bad = [
        ("/etc", None), ("/etc", run_id), ("file:///etc/passwd", run_id), ("file:/etc", run_id),
        ("file://localhost/etc", run_id), ("/", run_id), (str(server.data_dir), run_id),
        (str(server.artifacts_dir), None), ("/etc/../tmp", run_id), ("../etc", run_id),
        ("etc", run_id),
        (f"runs:/{run_id}/../../../etc", run_id),
        (f"runs:/{run_id}/%2e%2e/%2e%2e/x", run_id),
        (f"runs:/{run_id}/model%00", run_id),
        (f"runs:/{run_id}/model", None),
        (f"runs:/{run_id}/model", other_run),
        ("mlflow-artifacts:/../../../etc", run_id),
        ("mlflow-artifacts:/%2e%2e/%2e%2e/etc", run_id),
        ("mlflow-artifacts:/..%2f..%2fetc", run_id),
        ("mlflow-artifacts:/%252e%252e/%252e%252e/etc", run_id),
        (f"{own}/../../{other_run}/artifacts", run_id),
        (f"mlflow-artifacts:/{exp_id}/{other_run}/artifacts/model", run_id),
        (f"{server.url}/api/2.0/mlflow-artifacts/artifacts/../../../etc", run_id),
        ("models:/m-0123456789abcdef0123456789abcdef", None),
    ]
    accepted = []
    for source, run in bad:
        body = {"name": name, "source": source}
        if run:
            body["run_id"] = run
        r = server.post("model-versions/create", body)
        ok = r.status_code == 400 and r.headers.get("Content-Type", "").startswith(
            "application/json") and r.json().get("error_code") == "INVALID_PARAMETER_VALUE"
        if not ok:
            which = {None: "no run_id", run_id: "its run_id", other_run: "another run_id"}[run]
            accepted.append(f"{source!r} ({which}) -> {r.status_code} {r.text[:120]}")
    assert not accepted, ("sources not rejected with 400 INVALID_PARAMETER_VALUE:\n"
                          + "\n".join(accepted))
    r = server.post("registered-models/get-latest-versions", {"name": name})
    assert r.status_code == 200, r.text
    assert r.json().get("model_versions", []) == [], "a rejected source made a version"

    # the run's own artifacts are a valid source
    r = server.post("model-versions/create", {"name": name, "source": f"{own}/model",
                                              "run_id": run_id})
    assert r.status_code == 200, r.text
    assert r.json()["model_version"]["source"] == f"{own}/model"
    assert r.json()["model_version"]["version"] == "1"


def test_runs_source_naming_its_run_id_is_taken_as_mlflow_takes_it(server, mlflow_client):
    """MLflow's server takes `runs:/<id>/...` with `run_id=<id>` without looking the run
    up (its own REST tests register versions this way); another run_id is refused."""
    name = unique("runs-src")
    mlflow_client.create_registered_model(name)
    ghost = "f" * 32
    r = server.post("model-versions/create", {"name": name, "source": f"runs:/{ghost}/model",
                                              "run_id": ghost})
    assert r.status_code == 200, r.text
    assert r.json()["model_version"]["run_id"] == ghost
    r = server.post("model-versions/create", {"name": name, "source": f"runs:/{ghost}/model",
                                              "run_id": "e" * 32})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "run_id")
