"""S3 and PostgreSQL failing under a running server: clear errors, retries, recovery.

S3: the server's S3 endpoint is a fault proxy (fault_proxy.py) in front of
S3Proxy, which the test tells to answer 500/503, reset connections, or answer
slowly. The server retries what it may (AWS_MAX_ATTEMPTS=3 here), gives up
after its timeouts (SLIPWAY_S3_IO_TIMEOUT_SECONDS=5 here) and then answers 503
TEMPORARILY_UNAVAILABLE naming S3; nothing half-written becomes visible, and
the same server works again once S3 does.

PostgreSQL: a cluster of the test's own is stopped and started again under a
running server: 503s saying so while it is down, and the same server works
again after, with nothing acknowledged lost.
"""

from __future__ import annotations

import filecmp
import time
from pathlib import Path

import mlflow
import mlflow.artifacts
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb

from conftest import SlipwayServer, _point_mlflow_at, assert_mlflow_error, slipway_binary, unique
from fault_proxy import FaultProxy
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from s3 import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.slipway_only

PREFIX = "faulty"


@pytest.fixture(scope="module")
def bucket(s3proxy):
    return s3proxy.make_bucket(unique("faults").lower())


@pytest.fixture(scope="module")
def faults(s3proxy):
    proxy = FaultProxy(s3proxy.endpoint).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory, faults, bucket):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("slipway-faults"))
    srv.artifacts_uri = f"s3://{bucket}/{PREFIX}"
    srv.extra_args = ["--s3-endpoint", faults.endpoint]
    srv.env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "3",
               "SLIPWAY_S3_IO_TIMEOUT_SECONDS": "5"}
    srv.start()
    yield srv
    faults.clear()
    srv.assert_clean_exit()


@pytest.fixture
def client(s3_server, faults, monkeypatch):
    faults.clear()
    yield _point_mlflow_at(s3_server, monkeypatch)
    faults.clear()


def _run_folder(experiment_name: str) -> tuple[str, str]:
    """A run's artifact folder (as the proxy names it) and the run id."""
    mlflow.set_experiment(experiment_name)
    run = mlflow.start_run()
    mlflow.end_run()
    return f"{run.info.experiment_id}/{run.info.run_id}/artifacts", run.info.run_id


def test_transient_500s_503s_and_resets_are_retried_and_the_upload_succeeds(
        client, faults, s3_server, s3proxy, bucket, tmp_path):
    folder, run_id = _run_folder(unique("transient"))
    note = tmp_path / "note.txt"
    for i, inject in enumerate((lambda: faults.fail(503, times=2, method="PUT"),
                                lambda: faults.fail(500, times=2, method="PUT"),
                                lambda: faults.reset(times=1, method="PUT"))):
        before = len(faults.injected)
        inject()
        note.write_text(f"attempt {i}")
        r = requests.put(f"{s3_server.artifacts_api}/{folder}/n{i}.txt", data=note.read_bytes(),
                         timeout=60)
        assert r.status_code == 200, r.text
        assert len(faults.injected) > before, "no fault was injected"
        got = requests.get(f"{s3_server.artifacts_api}/{folder}/n{i}.txt", timeout=60)
        assert got.status_code == 200 and got.text == f"attempt {i}"
    # Reads are retried too.
    faults.fail(503, times=2, method="GET")
    files = {f.path for f in client.list_artifacts(run_id)}
    assert files == {"n0.txt", "n1.txt", "n2.txt"}
    # A large upload (a multipart upload inside the server) with failing parts.
    big = tmp_path / "big.bin"
    big.write_bytes(np.random.default_rng(1).bytes(18 * 1024 * 1024))
    faults.fail(503, times=1, method="PUT", match="partNumber=2")
    with mlflow.start_run(run_id=run_id):
        mlflow.log_artifact(str(big))
    assert any("partNumber=2" in path for _, _, path in faults.injected)
    out = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="big.bin",
                                              dst_path=str(tmp_path / "dl"))
    assert filecmp.cmp(out, big, shallow=False)


def test_an_s3_outage_is_a_clear_503_nothing_half_written_and_the_server_recovers(
        client, faults, s3_server, s3proxy, bucket, tmp_path):
    folder, run_id = _run_folder(unique("outage"))
    assert requests.put(f"{s3_server.artifacts_api}/{folder}/kept.txt", data=b"kept",
                        timeout=60).status_code == 200
    faults.fail(503)
    r = requests.put(f"{s3_server.artifacts_api}/{folder}/lost.txt", data=b"lost", timeout=60)
    body = assert_mlflow_error(r, 503, "TEMPORARILY_UNAVAILABLE", "writing artifact")
    assert "S3 PUT" in body["message"] and "503" in body["message"], body
    assert SECRET_KEY not in body["message"]
    # A large upload fails whole (the server's multipart upload is aborted).
    r = requests.put(f"{s3_server.artifacts_api}/{folder}/big.bin",
                     data=np.random.default_rng(2).bytes(12 * 1024 * 1024), timeout=120)
    assert_mlflow_error(r, 503, "TEMPORARILY_UNAVAILABLE", "S3")
    # Reads and listings say the same.
    r = requests.get(f"{s3_server.artifacts_api}/{folder}/kept.txt", timeout=60)
    assert_mlflow_error(r, 503, "TEMPORARILY_UNAVAILABLE", "S3")
    r = requests.get(s3_server.artifacts_api, params={"path": folder}, timeout=60)
    assert_mlflow_error(r, 503, "TEMPORARILY_UNAVAILABLE", "S3")
    with pytest.raises(MlflowException) as failed:
        client.list_artifacts(run_id)
    assert "503" in str(failed.value) or "TEMPORARILY_UNAVAILABLE" in str(failed.value)
    assert requests.get(f"{s3_server.url}/health", timeout=10).status_code == 200

    faults.clear()
    names = {k.rsplit("/", 1)[-1] for k in s3proxy.objects(bucket, PREFIX + "/") if run_id in k}
    assert names == {"kept.txt"}
    assert requests.put(f"{s3_server.artifacts_api}/{folder}/after.txt", data=b"after",
                        timeout=60).status_code == 200
    assert {f.path for f in client.list_artifacts(run_id)} == {"kept.txt", "after.txt"}
    # The server's log says why, and never the secret.
    log = s3_server.stderr_tail(limit=10**6)
    assert "writing artifact" in log and "S3 PUT" in log
    assert SECRET_KEY not in log


def test_a_model_logged_while_s3_is_down_leaves_no_model_version(client, faults, s3_server):
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    booster = xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(x, label=x["a"]),
                        num_boost_round=3)
    name = unique("down-model")
    mlflow.set_experiment(unique("down"))
    faults.fail(500, method="PUT")
    with mlflow.start_run():
        with pytest.raises(MlflowException):
            mlflow.xgboost.log_model(booster, name="model", registered_model_name=name)
    faults.clear()
    assert MlflowClient().search_model_versions(f"name='{name}'") == []
    # Once S3 answers, the same call works.
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(booster, name="model", registered_model_name=name)
    assert str(info.registered_model_version) == "1"


def test_slow_s3_within_the_timeout_works_and_beyond_it_is_a_clear_503(
        client, faults, s3_server, tmp_path):
    folder, run_id = _run_folder(unique("slow"))
    faults.delay(0.5)
    r = requests.put(f"{s3_server.artifacts_api}/{folder}/slow.txt", data=b"slow", timeout=120)
    assert r.status_code == 200, r.text
    faults.clear()
    payload = np.random.default_rng(4).bytes(3 * 1024 * 1024)
    assert requests.put(f"{s3_server.artifacts_api}/{folder}/trickle.bin", data=payload,
                        timeout=120).status_code == 200
    # A body that trickles in (but never stalls past the timeout) arrives whole.
    faults.slow_body(2 * 1024 * 1024, method="GET")
    got = requests.get(f"{s3_server.artifacts_api}/{folder}/trickle.bin", timeout=120)
    assert got.status_code == 200 and got.content == payload
    faults.clear()
    # Answers slower than the server's timeout (5 s here): a 503 naming S3 and
    # the timeout, after the retries. The proxy still passes each attempt on
    # to S3 once its delay is over, as a slow S3 would still carry out a
    # request whose answer came too late: the artifact may appear, but only
    # whole.
    faults.delay(12, method="PUT")
    r = requests.put(f"{s3_server.artifacts_api}/{folder}/late.txt", data=b"late", timeout=120)
    body = assert_mlflow_error(r, 503, "TEMPORARILY_UNAVAILABLE", "S3 PUT")
    assert "no answer" in body["message"] and "3 attempts" in body["message"], body
    faults.clear()
    assert {f.path for f in client.list_artifacts(run_id)} <= {"slow.txt", "trickle.bin",
                                                               "late.txt"}
    late = requests.get(f"{s3_server.artifacts_api}/{folder}/late.txt", timeout=60)
    assert late.status_code == 404 or late.content == b"late"


# ---------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def own_postgres():
    """A PostgreSQL cluster of this test's own, which it may stop and start."""
    from pg import PostgresCluster, find_postgres_bin

    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL's initdb not found: install Debian's postgresql package")
    cluster = PostgresCluster(bin_dir).start()
    yield cluster
    cluster.stop()


def _pg_ctl(cluster, action: str) -> None:
    args = [str(cluster.bin_dir / "pg_ctl"), "-D", str(cluster.data_dir), "-w", "-t", "60"]
    if action == "stop":
        args += ["-m", "fast", "stop"]
    else:
        options = (f"-p {cluster.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={cluster.socket_dir} -c fsync=off "
                   f"-c full_page_writes=off -c max_connections=200")
        args += ["-l", str(cluster.log_path), "-o", options, "start"]
    result = cluster._run(args)
    assert result.returncode == 0, result.stdout + result.stderr + cluster.log_tail()


def test_postgresql_going_away_gives_503s_and_the_server_works_again_after(
        own_postgres, tmp_path):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path / "srv")
    srv.store_uri = own_postgres.create_database()
    srv.start()
    try:
        api = srv.api
        experiment = requests.post(f"{api}/experiments/create", json={"name": unique("pg")},
                                   timeout=30).json()["experiment_id"]
        run_id = requests.post(f"{api}/runs/create", json={"experiment_id": experiment},
                               timeout=30).json()["run"]["info"]["run_id"]
        assert requests.post(f"{api}/runs/log-metric", timeout=30, json={
            "run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}).ok

        _pg_ctl(own_postgres, "stop")
        for method, endpoint, body in (
                ("post", "runs/log-metric",
                 {"run_id": run_id, "key": "m", "value": 2.0, "timestamp": 2, "step": 1}),
                ("get", "runs/get", {"run_id": run_id}),
                ("post", "experiments/create", {"name": unique("while-down")})):
            if method == "post":
                r = requests.post(f"{api}/{endpoint}", json=body, timeout=60)
            else:
                r = requests.get(f"{api}/{endpoint}", params=body, timeout=60)
            reply = assert_mlflow_error(r, 503, "TEMPORARILY_UNAVAILABLE")
            assert "PostgreSQL" in reply["message"] or "postgresql" in reply["message"], reply
        assert srv.alive()

        _pg_ctl(own_postgres, "start")
        # The same server reconnects by itself: wait for the first success
        # (no timing is asserted; the wait only bounds a hang).
        deadline = time.monotonic() + 60
        while True:
            r = requests.post(f"{api}/runs/log-metric", timeout=60, json={
                "run_id": run_id, "key": "m", "value": 3.0, "timestamp": 3, "step": 2})
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            assert r.status_code == 503, r.text
            time.sleep(0.5)
        assert r.status_code == 200, r.text
        history = requests.get(f"{api}/metrics/get-history",
                               params={"run_id": run_id, "metric_key": "m"}, timeout=30).json()
        assert sorted(m["value"] for m in history["metrics"]) == [1.0, 3.0]
    finally:
        srv.assert_clean_exit()
