"""The everyday MLflow tracking flow, driven by the unmodified mlflow client.

Every test works in experiments of its own (fresh names) on a server shared by
the module, and asserts the values it reads back.
"""

from __future__ import annotations

import math
import sys
import time

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType
from mlflow.exceptions import MlflowException

from conftest import unique


@pytest.fixture
def experiment_id(mlflow_client):
    """A fresh active experiment for the fluent API."""
    return mlflow.set_experiment(unique("flow")).experiment_id


# --------------------------------------------------------------------- experiments


def test_set_experiment_creates_then_reuses(mlflow_client):
    name = unique("exp")
    exp = mlflow.set_experiment(name)
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location == f"mlflow-artifacts:/{exp.experiment_id}"
    again = mlflow.set_experiment(name)
    assert again.experiment_id == exp.experiment_id

    by_name = mlflow_client.get_experiment_by_name(name)
    assert by_name is not None
    assert by_name.experiment_id == exp.experiment_id
    by_id = mlflow_client.get_experiment(exp.experiment_id)
    assert by_id.name == name
    assert by_id.creation_time > 0
    assert by_id.last_update_time >= by_id.creation_time
    assert mlflow_client.get_experiment_by_name(unique("missing")) is None


def test_create_experiment_with_tags_and_search(mlflow_client):
    prefix = unique("search")
    ids = {}
    for i, team in enumerate(["red", "blue", "red"]):
        name = f"{prefix}-{i}"
        ids[name] = mlflow_client.create_experiment(name, tags={"team": team, "idx": str(i)})

    found = mlflow_client.search_experiments(filter_string=f"name LIKE '{prefix}-%'")
    assert sorted(e.name for e in found) == sorted(ids)
    for e in found:
        assert e.experiment_id == ids[e.name]
        assert e.tags["idx"] == e.name.rsplit("-", 1)[1]

    red = mlflow_client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%' AND tags.team = 'red'"
    )
    assert sorted(e.name for e in red) == [f"{prefix}-0", f"{prefix}-2"]

    exact = mlflow_client.search_experiments(filter_string=f"name = '{prefix}-1'")
    assert [e.experiment_id for e in exact] == [ids[f"{prefix}-1"]]

    ordered = mlflow_client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"]
    )
    assert [e.name for e in ordered] == [f"{prefix}-2", f"{prefix}-1", f"{prefix}-0"]

    # paging through the three, one per page, sees each exactly once
    seen, token = [], None
    while True:
        page = mlflow_client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'", max_results=1, page_token=token,
            order_by=["name ASC"],
        )
        seen += [e.name for e in page]
        token = page.token
        if not token:
            break
    assert seen == [f"{prefix}-0", f"{prefix}-1", f"{prefix}-2"]


def test_experiment_tags_set_and_delete(mlflow_client):
    exp_id = mlflow_client.create_experiment(unique("tags"))
    mlflow_client.set_experiment_tag(exp_id, "owner", "alice")
    mlflow_client.set_experiment_tag(exp_id, "stage", "dev")
    mlflow_client.set_experiment_tag(exp_id, "stage", "prod")  # overwrite
    tags = mlflow_client.get_experiment(exp_id).tags
    assert tags["owner"] == "alice"
    assert tags["stage"] == "prod"

    mlflow_client.delete_experiment_tag(exp_id, "owner")
    tags = mlflow_client.get_experiment(exp_id).tags
    assert "owner" not in tags
    assert tags["stage"] == "prod"


def test_rename_experiment(mlflow_client):
    old, new = unique("old"), unique("new")
    exp_id = mlflow_client.create_experiment(old)
    mlflow_client.rename_experiment(exp_id, new)
    assert mlflow_client.get_experiment(exp_id).name == new
    assert mlflow_client.get_experiment_by_name(old) is None
    assert mlflow_client.get_experiment_by_name(new).experiment_id == exp_id


def test_delete_and_restore_experiment(mlflow_client):
    name = unique("del")
    exp_id = mlflow_client.create_experiment(name)
    mlflow_client.delete_experiment(exp_id)
    assert mlflow_client.get_experiment(exp_id).lifecycle_stage == "deleted"

    active = mlflow_client.search_experiments(filter_string=f"name = '{name}'")
    assert active == []
    deleted = mlflow_client.search_experiments(
        filter_string=f"name = '{name}'", view_type=ViewType.DELETED_ONLY
    )
    assert [e.experiment_id for e in deleted] == [exp_id]
    everything = mlflow_client.search_experiments(
        filter_string=f"name = '{name}'", view_type=ViewType.ALL
    )
    assert [e.experiment_id for e in everything] == [exp_id]

    mlflow_client.restore_experiment(exp_id)
    assert mlflow_client.get_experiment(exp_id).lifecycle_stage == "active"
    assert [e.experiment_id for e in mlflow_client.search_experiments(
        filter_string=f"name = '{name}'")] == [exp_id]


# ---------------------------------------------------------------------------- runs


def test_start_run_with_name_and_tags(mlflow_client, experiment_id):
    with mlflow.start_run(run_name="first-run", tags={"team": "core", "try": "1"}) as run:
        run_id = run.info.run_id
        assert run.info.status == "RUNNING"
        assert run.info.experiment_id == experiment_id
    got = mlflow_client.get_run(run_id)
    assert got.info.run_name == "first-run"
    assert got.data.tags["mlflow.runName"] == "first-run"
    assert got.data.tags["team"] == "core"
    assert got.data.tags["try"] == "1"
    assert got.info.status == "FINISHED"
    assert got.info.lifecycle_stage == "active"
    assert got.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    assert got.info.start_time > 0
    assert got.info.end_time >= got.info.start_time


def test_params_metrics_and_tags_read_back(mlflow_client, experiment_id):
    t0 = int(time.time() * 1000)
    with mlflow.start_run() as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"depth": 6, "optimizer": "adam", "unicode": "héllo ✓"})
        mlflow.log_metric("loss", 1.5, step=0, timestamp=t0)
        mlflow.log_metric("loss", 0.75, step=1, timestamp=t0 + 10)
        mlflow.log_metric("loss", 0.25, step=2, timestamp=t0 + 20)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=5)
        mlflow.set_tags({"stage": "test", "owner": "bob"})
        mlflow.set_tag("temporary", "x")
        mlflow.delete_tag("temporary")
    data = mlflow_client.get_run(run.info.run_id).data
    assert data.params == {"lr": "0.01", "depth": "6", "optimizer": "adam", "unicode": "héllo ✓"}
    # the run's metric value is the one of the latest step
    assert data.metrics == {"loss": 0.25, "acc": 0.9, "f1": 0.8}
    assert data.tags["stage"] == "test"
    assert data.tags["owner"] == "bob"
    assert "temporary" not in data.tags

    hist = mlflow_client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in hist] == [
        (0, 1.5, t0), (1, 0.75, t0 + 10), (2, 0.25, t0 + 20)]
    assert {m.key for m in hist} == {"loss"}
    acc = mlflow_client.get_metric_history(run.info.run_id, "acc")
    assert [(m.step, m.value) for m in acc] == [(5, 0.9)]
    assert mlflow_client.get_metric_history(run.info.run_id, "never-logged") == []


def test_metric_history_order_and_special_values(mlflow_client, experiment_id):
    run = mlflow_client.create_run(experiment_id)
    rid = run.info.run_id
    t0 = 1_700_000_000_000
    # logged out of order; MLflow returns history ordered by (timestamp, step, value)
    points = [(3, 3.0, t0 + 3), (0, 0.5, t0), (2, float("nan"), t0 + 2),
              (1, float("inf"), t0 + 1), (4, float("-inf"), t0 + 4), (5, -1e300, t0 + 5),
              (6, 1e-300, t0 + 6), (7, 0.0, t0 + 7)]
    for step, value, ts in points:
        mlflow_client.log_metric(rid, "m", value, timestamp=ts, step=step)
    hist = mlflow_client.get_metric_history(rid, "m")
    assert [m.step for m in hist] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert [m.timestamp for m in hist] == [t0 + i for i in range(8)]
    values = [m.value for m in hist]
    assert values[0] == 0.5
    # MLflow's SQL store keeps +-inf as +-DBL_MAX; reading back inf itself is as good
    assert values[1] in (math.inf, sys.float_info.max)
    assert math.isnan(values[2])
    assert values[3] == 3.0
    assert values[4] in (-math.inf, -sys.float_info.max)
    assert values[5] == -1e300
    assert values[6] == 1e-300
    assert values[7] == 0.0
    # many points at one step, large step numbers
    mlflow_client.log_metric(rid, "big", 1.0, timestamp=t0, step=2**40)
    mlflow_client.log_metric(rid, "big", 2.0, timestamp=t0 + 1, step=2**40)
    big = mlflow_client.get_metric_history(rid, "big")
    assert [(m.step, m.value) for m in big] == [(2**40, 1.0), (2**40, 2.0)]


def test_log_batch_via_client(mlflow_client, experiment_id):
    run = mlflow_client.create_run(experiment_id, run_name="batch")
    rid = run.info.run_id
    ts = int(time.time() * 1000)
    metrics = [Metric("m1", float(i) / 10, ts + i, i) for i in range(500)]
    metrics += [Metric("m2", 7.0, ts, 0)]
    params = [Param(f"p{i}", f"v{i}") for i in range(100)]
    tags = [RunTag(f"t{i}", f"tv{i}") for i in range(50)]
    mlflow_client.log_batch(rid, metrics=metrics, params=params, tags=tags)
    data = mlflow_client.get_run(rid).data
    assert data.params == {f"p{i}": f"v{i}" for i in range(100)}
    assert all(data.tags[f"t{i}"] == f"tv{i}" for i in range(50))
    assert data.metrics["m1"] == 49.9
    assert data.metrics["m2"] == 7.0
    hist = mlflow_client.get_metric_history(rid, "m1")
    assert [(m.step, m.value, m.timestamp) for m in hist] == [
        (i, float(i) / 10, ts + i) for i in range(500)]


def test_log_batch_over_limits_is_split_by_client(mlflow_client, experiment_id):
    """The client splits big batches into requests within MLflow's limits; all arrive."""
    rid = mlflow_client.create_run(experiment_id).info.run_id
    metrics = [Metric("many", float(i), 1000 + i, i) for i in range(2500)]
    params = [Param(f"k{i}", str(i)) for i in range(250)]
    mlflow_client.log_batch(rid, metrics=metrics, params=params)
    hist = mlflow_client.get_metric_history(rid, "many")
    assert len(hist) == 2500
    assert [m.value for m in hist] == [float(i) for i in range(2500)]
    assert len(mlflow_client.get_run(rid).data.params) == 250


def test_param_cannot_change(mlflow_client, experiment_id):
    rid = mlflow_client.create_run(experiment_id).info.run_id
    mlflow_client.log_param(rid, "alpha", "1")
    mlflow_client.log_param(rid, "alpha", "1")  # the same value again is fine
    with pytest.raises(MlflowException) as exc:
        mlflow_client.log_param(rid, "alpha", "2")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    assert mlflow_client.get_run(rid).data.params["alpha"] == "1"


@pytest.mark.parametrize("status", ["FINISHED", "FAILED", "KILLED"])
def test_end_run_status(mlflow_client, experiment_id, status):
    run = mlflow.start_run()
    rid = run.info.run_id
    mlflow.log_metric("x", 1.0)
    mlflow.end_run(status=status)
    info = mlflow_client.get_run(rid).info
    assert info.status == status
    assert info.end_time is not None and info.end_time >= info.start_time


def test_set_terminated_and_update_run(mlflow_client, experiment_id):
    run = mlflow_client.create_run(experiment_id, run_name="before")
    rid = run.info.run_id
    assert run.info.status == "RUNNING"
    mlflow_client.update_run(rid, name="after")
    got = mlflow_client.get_run(rid)
    assert got.info.run_name == "after"
    assert got.data.tags["mlflow.runName"] == "after"
    assert got.info.status == "RUNNING"
    mlflow_client.set_terminated(rid, status="FAILED", end_time=got.info.start_time + 1234)
    got = mlflow_client.get_run(rid)
    assert got.info.status == "FAILED"
    assert got.info.end_time == got.info.start_time + 1234
    assert got.info.run_name == "after"
    mlflow_client.update_run(rid, status=RunStatus.to_string(RunStatus.KILLED))
    assert mlflow_client.get_run(rid).info.status == "KILLED"


def test_nested_runs(mlflow_client, experiment_id):
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child-a", nested=True) as child_a:
            mlflow.log_metric("score", 1.0)
        with mlflow.start_run(run_name="child-b", nested=True) as child_b:
            with mlflow.start_run(run_name="grandchild", nested=True) as grandchild:
                mlflow.log_metric("score", 3.0)
    pid = parent.info.run_id
    assert mlflow_client.get_run(child_a.info.run_id).data.tags["mlflow.parentRunId"] == pid
    assert mlflow_client.get_run(child_b.info.run_id).data.tags["mlflow.parentRunId"] == pid
    assert (mlflow_client.get_run(grandchild.info.run_id).data.tags["mlflow.parentRunId"]
            == child_b.info.run_id)
    assert "mlflow.parentRunId" not in mlflow_client.get_run(pid).data.tags

    children = mlflow_client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{pid}'",
        order_by=["attributes.run_name ASC"],
    )
    assert [r.info.run_name for r in children] == ["child-a", "child-b"]
    assert mlflow_client.get_parent_run(grandchild.info.run_id).info.run_id == child_b.info.run_id


def test_get_unknown_run_raises_resource_does_not_exist(mlflow_client):
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_run("0123456789abcdef0123456789abcdef")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_experiment("987654321")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_delete_and_restore_run(mlflow_client, experiment_id):
    keep = mlflow_client.create_run(experiment_id, run_name="keep").info.run_id
    gone = mlflow_client.create_run(experiment_id, run_name="gone").info.run_id
    mlflow_client.delete_run(gone)
    assert mlflow_client.get_run(gone).info.lifecycle_stage == "deleted"

    def ids(view):
        return {r.info.run_id for r in mlflow_client.search_runs([experiment_id],
                                                                 run_view_type=view)}

    assert ids(ViewType.ACTIVE_ONLY) == {keep}
    assert ids(ViewType.DELETED_ONLY) == {gone}
    assert ids(ViewType.ALL) == {keep, gone}
    df = mlflow.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert list(df["run_id"]) == [gone]

    mlflow_client.restore_run(gone)
    assert mlflow_client.get_run(gone).info.lifecycle_stage == "active"
    assert ids(ViewType.ACTIVE_ONLY) == {keep, gone}
    assert ids(ViewType.DELETED_ONLY) == set()


# -------------------------------------------------------------------------- search


@pytest.fixture
def populated(mlflow_client):
    """Six finished runs with metrics, params and tags in a fresh experiment."""
    exp_id = mlflow_client.create_experiment(unique("populated"))
    rows = [
        # name,      acc,  loss, lr,     opt,       team,     group, status
        ("alpha",   0.91, 0.30, "0.1",  "Adam",    "vision", "g1", "FINISHED"),
        ("beta",    0.85, 0.40, "0.01", "sgd",     "vision", "g2", "FINISHED"),
        ("gamma",   0.97, 0.10, "0.1",  "adamw",   "nlp",    "g1", "FAILED"),
        ("delta",   0.60, 0.90, "0.5",  "SGD",     "nlp",    "g2", "FINISHED"),
        ("epsilon", 0.75, 0.55, "0.01", "rmsprop", "speech", "g1", "KILLED"),
        ("zeta",    0.85, 0.35, "0.05", "Adam",    "speech", "g2", "FINISHED"),
    ]
    runs = {}
    for name, acc, loss, lr, opt, team, group, status in rows:
        r = mlflow_client.create_run(exp_id, run_name=name, tags={"team": team})
        rid = r.info.run_id
        mlflow_client.log_batch(
            rid,
            metrics=[Metric("acc", acc, 1000, 0), Metric("loss", loss, 1000, 0)],
            params=[Param("lr", lr), Param("opt", opt), Param("group", group)],
        )
        mlflow_client.set_terminated(rid, status=status)
        runs[name] = mlflow_client.get_run(rid)
        time.sleep(0.005)  # distinct start times
    return exp_id, runs


def _names(runs):
    return [r.info.run_name for r in runs]


def test_search_runs_filters(mlflow_client, populated):
    exp_id, runs = populated

    def names(flt, **kw):
        return sorted(_names(mlflow_client.search_runs([exp_id], filter_string=flt, **kw)))

    assert names("metrics.acc > 0.86") == ["alpha", "gamma"]
    assert names("metrics.acc >= 0.85 AND metrics.loss < 0.38") == ["alpha", "gamma", "zeta"]
    assert names("metrics.acc >= 0.85 AND metrics.loss < 0.3") == ["gamma"]
    assert names("metrics.acc = 0.85") == ["beta", "zeta"]
    assert names("metrics.acc != 0.85") == ["alpha", "delta", "epsilon", "gamma"]
    assert names("metrics.loss <= 0.3") == ["alpha", "gamma"]
    assert names("params.lr = '0.1'") == ["alpha", "gamma"]
    assert names("params.lr != '0.1'") == ["beta", "delta", "epsilon", "zeta"]
    assert names("params.opt LIKE 'Adam%'") == ["alpha", "zeta"]
    assert names("params.opt ILIKE 'adam%'") == ["alpha", "gamma", "zeta"]
    assert names("params.opt ILIKE '%SGD'") == ["beta", "delta"]
    assert names("tags.team = 'nlp'") == ["delta", "gamma"]
    assert names("tags.team LIKE 's%'") == ["epsilon", "zeta"]
    assert names("tags.team != 'vision' AND params.group = 'g2'") == ["delta", "zeta"]
    assert names("attributes.status = 'FAILED'") == ["gamma"]
    assert names("attributes.status != 'FINISHED'") == ["epsilon", "gamma"]
    assert names("attributes.run_name = 'beta'") == ["beta"]
    assert names("attributes.run_name LIKE '%eta'") == ["beta", "zeta"]
    assert names("attributes.run_name ILIKE 'GAM%'") == ["gamma"]
    assert names("run_name = 'delta'") == ["delta"]
    assert names("status = 'KILLED'") == ["epsilon"]
    assert names("`metrics`.`acc` > 0.9") == ["alpha", "gamma"]
    assert names("metrics.missing > 0") == []
    assert names("tags.`mlflow.runName` = 'alpha'") == ["alpha"]

    start = runs["delta"].info.start_time
    later = names(f"attributes.start_time >= {start}")
    assert later == ["delta", "epsilon", "zeta"]
    assert names(f"attributes.start_time < {start}") == ["alpha", "beta", "gamma"]

    in_ids = [runs["alpha"].info.run_id, runs["epsilon"].info.run_id]
    assert names(f"attributes.run_id IN ('{in_ids[0]}', '{in_ids[1]}')") == ["alpha", "epsilon"]
    assert names(f"attributes.run_id NOT IN ('{in_ids[0]}', '{in_ids[1]}')") == [
        "beta", "delta", "gamma", "zeta"]
    with pytest.raises(MlflowException) as exc:
        names("metrics.acc > 0.5 OR metrics.acc < 0.1")  # MLflow's grammar has no OR
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"


def test_search_runs_order_by(mlflow_client, populated):
    exp_id, _ = populated
    by_acc = mlflow_client.search_runs([exp_id], order_by=["metrics.acc DESC"])
    accs = [r.data.metrics["acc"] for r in by_acc]
    assert accs == sorted(accs, reverse=True)
    assert _names(by_acc)[:1] == ["gamma"] and _names(by_acc)[-1:] == ["delta"]

    multi = mlflow_client.search_runs(
        [exp_id], order_by=["params.group ASC", "metrics.acc DESC", "attributes.run_name ASC"]
    )
    assert _names(multi) == ["gamma", "alpha", "epsilon", "beta", "zeta", "delta"]

    tie = mlflow_client.search_runs([exp_id], filter_string="metrics.acc = 0.85",
                                    order_by=["metrics.acc DESC", "attributes.run_name DESC"])
    assert _names(tie) == ["zeta", "beta"]

    by_name = mlflow_client.search_runs([exp_id], order_by=["attributes.run_name ASC"])
    assert _names(by_name) == sorted(_names(by_name))
    assert len(by_name) == 6

    by_start = mlflow_client.search_runs([exp_id], order_by=["attributes.start_time ASC"])
    assert _names(by_start) == ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    # MLflow's default order is start_time DESC
    assert _names(mlflow_client.search_runs([exp_id])) == [
        "zeta", "epsilon", "delta", "gamma", "beta", "alpha"]


def test_search_runs_pandas_dataframe(mlflow_client, populated):
    exp_id, runs = populated
    df = mlflow.search_runs(
        experiment_ids=[exp_id], filter_string="metrics.acc > 0.8",
        order_by=["metrics.acc DESC"],
    )
    assert isinstance(df, pd.DataFrame)
    assert len(df) == 4
    assert list(df["metrics.acc"]) == [0.97, 0.91, 0.85, 0.85]
    assert set(df.loc[df["metrics.acc"] == 0.85, "tags.mlflow.runName"]) == {"beta", "zeta"}
    row = df.set_index("run_id").loc[runs["alpha"].info.run_id]
    assert row["params.lr"] == "0.1"
    assert row["params.opt"] == "Adam"
    assert row["tags.team"] == "vision"
    assert row["status"] == "FINISHED"
    assert row["experiment_id"] == exp_id
    assert row["metrics.loss"] == 0.3
    assert row["artifact_uri"] == runs["alpha"].info.artifact_uri

    by_name = mlflow.search_runs(
        experiment_names=[mlflow_client.get_experiment(exp_id).name],
        filter_string="params.group = 'g1'",
    )
    assert sorted(by_name["tags.mlflow.runName"]) == ["alpha", "epsilon", "gamma"]
    as_list = mlflow.search_runs([exp_id], output_format="list", max_results=2,
                                 order_by=["attributes.run_name ASC"])
    assert _names(as_list) == ["alpha", "beta"]


def test_search_runs_pagination_returns_every_run_once(mlflow_client):
    exp_id = mlflow_client.create_experiment(unique("pages"))
    created = set()
    for i in range(23):
        rid = mlflow_client.create_run(exp_id, run_name=f"r{i:02d}").info.run_id
        mlflow_client.log_metric(rid, "i", float(i % 5), timestamp=1, step=0)
        created.add(rid)
    for order in ([], ["metrics.i DESC"], ["attributes.run_name ASC"]):
        seen, token, pages = [], None, 0
        while True:
            page = mlflow_client.search_runs([exp_id], max_results=5, page_token=token,
                                             order_by=order)
            assert len(page) <= 5
            seen += [r.info.run_id for r in page]
            pages += 1
            token = page.token
            if not token:
                break
            assert pages < 10, "pagination does not terminate"
        assert len(seen) == len(created) == 23, order
        assert set(seen) == created, order
        assert pages in (5, 6), order
    # filtered pagination
    seen, token = [], None
    while True:
        page = mlflow_client.search_runs([exp_id], filter_string="metrics.i >= 3",
                                         max_results=3, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 8  # i in 0..22 with i%5 in {3,4}
    ordered = mlflow_client.search_runs([exp_id], order_by=["attributes.run_name ASC"],
                                        max_results=4)
    assert _names(ordered) == ["r00", "r01", "r02", "r03"]


def test_search_runs_across_experiments(mlflow_client):
    a = mlflow_client.create_experiment(unique("xa"))
    b = mlflow_client.create_experiment(unique("xb"))
    tag = unique("marker")
    ra = mlflow_client.create_run(a, tags={"marker": tag}).info.run_id
    rb = mlflow_client.create_run(b, tags={"marker": tag}).info.run_id
    found = mlflow_client.search_runs([a, b], filter_string=f"tags.marker = '{tag}'")
    assert {r.info.run_id for r in found} == {ra, rb}
    assert {r.info.experiment_id for r in found} == {a, b}


# ----------------------------------------------------------------------- datasets


def test_log_input_dataset_and_dataset_filters(mlflow_client, experiment_id):
    df = pd.DataFrame({"x1": [1.0, 2.0, 3.0], "x2": [4, 5, 6], "y": [0, 1, 0]})
    train = mlflow.data.from_pandas(df, name="train-set", targets="y")
    evalset = mlflow.data.from_pandas(df.iloc[:2], name="eval-set", targets="y")
    with mlflow.start_run(run_name="with-data") as run:
        mlflow.log_input(train, context="training")
        mlflow.log_input(evalset, context="eval", tags={"split": "holdout"})
    other = mlflow_client.create_run(experiment_id, run_name="no-data").info.run_id

    got = mlflow_client.get_run(run.info.run_id)
    inputs = {d.dataset.name: d for d in got.inputs.dataset_inputs}
    assert set(inputs) == {"train-set", "eval-set"}
    ds = inputs["train-set"].dataset
    assert ds.digest == train.digest
    assert ds.source_type == train.source._get_source_type()
    assert ds.schema == train._to_mlflow_entity().schema
    assert ds.profile == train._to_mlflow_entity().profile
    ctx = {t.key: t.value for t in inputs["train-set"].tags}
    assert ctx["mlflow.data.context"] == "training"
    ev_tags = {t.key: t.value for t in inputs["eval-set"].tags}
    assert ev_tags["mlflow.data.context"] == "eval"
    assert ev_tags["split"] == "holdout"

    def names(flt):
        return _names(mlflow_client.search_runs([experiment_id], filter_string=flt))

    assert names("datasets.name = 'train-set'") == ["with-data"]
    assert names(f"datasets.digest = '{train.digest}'") == ["with-data"]
    assert names("datasets.context = 'eval'") == ["with-data"]
    assert names("datasets.name IN ('eval-set', 'nope')") == ["with-data"]
    assert names("datasets.name = 'nope'") == []
    assert other not in [r.info.run_id for r in mlflow_client.search_runs(
        [experiment_id], filter_string="datasets.name LIKE '%set'")]

    df_runs = mlflow.search_runs([experiment_id], filter_string="datasets.name = 'eval-set'")
    assert list(df_runs["run_id"]) == [run.info.run_id]


def test_log_same_dataset_twice_is_one_input(mlflow_client, experiment_id):
    df = pd.DataFrame({"a": [1, 2, 3]})
    ds = mlflow.data.from_pandas(df, name="dup")
    with mlflow.start_run() as run:
        mlflow.log_input(ds, context="training")
        mlflow.log_input(ds, context="training")
    inputs = mlflow_client.get_run(run.info.run_id).inputs.dataset_inputs
    assert [(d.dataset.name, d.dataset.digest) for d in inputs] == [("dup", ds.digest)]


# -------------------------------------------------------------- client behaviours


def test_metric_history_over_one_page(mlflow_client, experiment_id):
    """The client pages get-history 25000 points at a time; every point comes back once."""
    rid = mlflow_client.create_run(experiment_id).info.run_id
    n = 30_500
    for start in range(0, n, 1000):
        steps = range(start, min(n, start + 1000))
        mlflow_client.log_batch(rid, metrics=[Metric("long", i * 0.5, 10_000 + i, i) for i in steps])
    hist = mlflow_client.get_metric_history(rid, "long")
    assert len(hist) == n
    assert [m.step for m in hist] == list(range(n))
    assert all(m.value == m.step * 0.5 for m in hist)
    assert mlflow_client.get_run(rid).data.metrics["long"] == (n - 1) * 0.5


def test_async_logging_flushes_everything(mlflow_client, experiment_id):
    with mlflow.start_run() as run:
        for step in range(300):
            mlflow.log_metric("async_m", float(step), step=step, synchronous=False)
        mlflow.log_params({f"ap{i}": str(i) for i in range(30)}, synchronous=False)
        mlflow.set_tag("async_tag", "yes", synchronous=False)
    hist = mlflow_client.get_metric_history(run.info.run_id, "async_m")
    assert sorted(m.step for m in hist) == list(range(300))
    data = mlflow_client.get_run(run.info.run_id).data
    assert {k: v for k, v in data.params.items() if k.startswith("ap")} == {
        f"ap{i}": str(i) for i in range(30)}
    assert data.tags["async_tag"] == "yes"


def test_resume_run_by_id(mlflow_client, experiment_id):
    with mlflow.start_run(run_name="resumable") as run:
        mlflow.log_metric("m", 1.0, step=0)
    assert mlflow_client.get_run(run.info.run_id).info.status == "FINISHED"
    with mlflow.start_run(run_id=run.info.run_id) as again:
        assert again.info.run_id == run.info.run_id
        assert mlflow_client.get_run(run.info.run_id).info.status == "RUNNING"
        mlflow.log_metric("m", 2.0, step=1)
    got = mlflow_client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "resumable"
    assert [(m.step, m.value) for m in mlflow_client.get_metric_history(
        run.info.run_id, "m")] == [(0, 1.0), (1, 2.0)]


# ------------------------------------------------------------ MLflow's semantics


@pytest.fixture
def trio(mlflow_client):
    """Runs a, b and none (which lacks metric x) in a fresh experiment."""
    e = mlflow_client.create_experiment(unique("trio"))
    ids = {n: mlflow_client.create_run(e, run_name=n).info.run_id for n in ("a", "b", "none")}
    mlflow_client.log_metric(ids["a"], "x", 1.0, timestamp=5, step=0)
    mlflow_client.log_metric(ids["b"], "x", 2.0, timestamp=5, step=0)
    return e, ids


def test_order_by_puts_runs_without_the_metric_last(mlflow_client, trio):
    e, _ = trio
    asc = mlflow_client.search_runs([e], order_by=["metrics.x ASC"])
    desc = mlflow_client.search_runs([e], order_by=["metrics.x DESC"])
    assert _names(asc) == ["a", "b", "none"]
    assert _names(desc) == ["b", "a", "none"]


def test_identical_metric_point_is_stored_once(mlflow_client, trio):
    _, ids = trio
    mlflow_client.log_metric(ids["a"], "d", 1.0, timestamp=5, step=0)
    mlflow_client.log_metric(ids["a"], "d", 1.0, timestamp=5, step=0)
    mlflow_client.log_metric(ids["a"], "d", 2.0, timestamp=5, step=0)  # differs in value
    hist = mlflow_client.get_metric_history(ids["a"], "d")
    assert sorted(m.value for m in hist) == [1.0, 2.0]


def test_latest_metric_value_is_max_step_then_timestamp_then_value(mlflow_client, trio):
    _, ids = trio
    rid = ids["b"]
    mlflow_client.log_metric(rid, "l", 1.0, timestamp=10, step=5)
    mlflow_client.log_metric(rid, "l", 9.0, timestamp=20, step=3)   # later, but lower step
    mlflow_client.log_metric(rid, "l2", 1.0, timestamp=10, step=5)
    mlflow_client.log_metric(rid, "l2", 9.0, timestamp=5, step=5)   # same step, older
    mlflow_client.log_metric(rid, "l3", 4.0, timestamp=10, step=5)
    mlflow_client.log_metric(rid, "l3", 3.0, timestamp=10, step=5)  # tie: larger value wins
    metrics = mlflow_client.get_run(rid).data.metrics
    assert (metrics["l"], metrics["l2"], metrics["l3"]) == (1.0, 1.0, 4.0)
    e = mlflow_client.get_run(rid).info.experiment_id
    assert _names(mlflow_client.search_runs([e], "metrics.l = 1.0")) == ["b"]


def test_delete_experiment_cascades_to_its_runs(mlflow_client, trio):
    e, ids = trio
    mlflow_client.delete_experiment(e)
    assert mlflow_client.get_run(ids["a"]).info.lifecycle_stage == "deleted"
    assert sorted(_names(mlflow_client.search_runs([e], run_view_type=ViewType.ALL))) == [
        "a", "b", "none"]
    mlflow_client.restore_experiment(e)
    assert mlflow_client.get_run(ids["a"]).info.lifecycle_stage == "active"
    assert len(mlflow_client.search_runs([e])) == 3


def test_like_wildcards_and_not_equal_with_missing_keys(mlflow_client, trio):
    e, ids = trio
    mlflow_client.log_param(ids["a"], "p", "abc")
    mlflow_client.log_param(ids["b"], "p", "a_c")
    mlflow_client.log_param(ids["none"], "p", "ac")

    def names(flt):
        return sorted(_names(mlflow_client.search_runs([e], flt)))

    assert names("params.p LIKE 'a_c'") == ["a", "b"]
    assert names("params.p LIKE 'a%c'") == ["a", "b", "none"]
    assert names("params.p ILIKE 'A_C'") == ["a", "b"]
    assert names("params.p != 'abc'") == ["b", "none"]
    # a run without the tag does not match a != filter on it (SQL semantics)
    assert names("tags.never_set != 'q'") == []
    assert names("metrics.x != 1.0") == ["b"]


def test_keys_with_special_characters(mlflow_client, trio):
    e, ids = trio
    key = "a b/c.d-e_f"
    mlflow_client.log_metric(ids["none"], key, 3.0, timestamp=1)
    mlflow_client.log_param(ids["none"], key, "v w")
    mlflow_client.set_tag(ids["none"], key, "t")
    assert _names(mlflow_client.search_runs([e], f"metrics.`{key}` > 2")) == ["none"]
    assert _names(mlflow_client.search_runs([e], f"params.`{key}` = 'v w'")) == ["none"]
    assert _names(mlflow_client.search_runs([e], f"tags.`{key}` = 't'")) == ["none"]
    assert [m.value for m in mlflow_client.get_metric_history(ids["none"], key)] == [3.0]
    got = mlflow_client.get_run(ids["none"]).data
    assert got.params[key] == "v w" and got.tags[key] == "t"


def test_long_values_round_trip(mlflow_client, trio):
    _, ids = trio
    tag = "".join(chr(0x41 + i % 26) for i in range(7000))
    param = "é" * 6000
    mlflow_client.set_tag(ids["a"], "long", tag)
    mlflow_client.log_param(ids["a"], "long", param)
    got = mlflow_client.get_run(ids["a"]).data
    assert got.tags["long"] == tag
    assert got.params["long"] == param


@pytest.mark.parametrize("flt, expected", [
    ("metric.acc > 0.9", ["a"]),
    ("param.opt = 'Adam'", ["a"]),
    ("parameters.opt = 'Adam'", ["a"]),
    ("tag.team = 'nlp'", ["a"]),
    ("attr.run_name = 'a'", ["a"]),
    ("run.run_name='a'", ["a"]),
    ('params.opt = "Adam"', ["a"]),
    ("metrics.acc > 9e-1", ["a"]),
    ("params.opt like 'A%'", ["a"]),
    ("params.opt ilike 'a%'", ["a"]),
    ("metrics.acc > 0.1 and params.opt = 'sgd'", ["b"]),
    ("metrics.acc>0.9", ["a"]),
    ("  metrics.acc   >   0.9  ", ["a"]),
    ('metrics."acc" > 0.9', ["a"]),
    ("tags.team = 'nlp' AND tags.team = 'nlp'", ["a"]),
    ("attributes.status = 'RUNNING'", ["a", "b"]),
    ("attributes.artifact_uri LIKE '%artifacts'", ["a", "b"]),
    ("attributes.created > 0", ["a", "b"]),
    ("attributes.Created > 0", ["a", "b"]),
    ("", ["a", "b"]),
])
def test_search_grammar_variants(mlflow_client, flt, expected):
    """Spellings MLflow's filter grammar accepts (entity aliases, quotes, case, spacing)."""
    e = mlflow_client.create_experiment(unique("grammar"))
    a = mlflow_client.create_run(e, run_name="a", tags={"team": "nlp"}).info.run_id
    b = mlflow_client.create_run(e, run_name="b", tags={"team": "cv"}).info.run_id
    mlflow_client.log_metric(a, "acc", 0.95, timestamp=1)
    mlflow_client.log_metric(b, "acc", 0.5, timestamp=1)
    mlflow_client.log_param(a, "opt", "Adam")
    mlflow_client.log_param(b, "opt", "sgd")
    assert sorted(_names(mlflow_client.search_runs([e], flt))) == expected
