"""`slipway server --artifacts s3://bucket/prefix` against a real S3-compatible server.

S3Proxy (tests/integration/s3.py) holds the bucket; the real `mlflow` client logs
artifacts through the server's artifact proxy, lists and downloads them, and
registers and loads a model from them. What lands in the bucket is read back from
S3Proxy's own files, not through Slipway, so the test sees where the bytes really
went. The client is not told to use MLflow's multipart upload here
(test_s3_multipart.py does that), so the large file goes up as one PUT through the
proxy; the server writes it to S3 as a multipart upload (it is larger than the
8 MiB part size).
"""

from __future__ import annotations

import filecmp
import os
import subprocess
from pathlib import Path

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb

from conftest import SlipwayServer, slipway_binary, unique
from mlflow.exceptions import MlflowException
from s3 import ACCESS_KEY, SECRET_KEY, start_s3proxy

pytestmark = pytest.mark.slipway_only

PREFIX = "team/slipway"


@pytest.fixture(scope="module")
def bucket(s3proxy):
    return s3proxy.make_bucket(unique("artifacts").lower())


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory, s3proxy, bucket):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("slipway-s3"))
    srv.artifacts_uri = f"s3://{bucket}/{PREFIX}"
    srv.extra_args = ["--s3-endpoint", s3proxy.endpoint]
    srv.env = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
        # The flag wins over the environment: this endpoint would fail.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    srv.start()
    yield srv
    srv.assert_clean_exit()


@pytest.fixture
def s3_client(s3_server, monkeypatch):
    from conftest import _point_mlflow_at

    return _point_mlflow_at(s3_server, monkeypatch)


def _write_tree(root: Path) -> dict[str, bytes]:
    files = {
        "small.txt": b"hello from slipway\n",
        "folder/a.csv": b"x,y\n1,2\n",
        "folder/nested/b.bin": bytes(range(256)) * 40,
        "folder/nested/deeper/c.json": b'{"k": [1, 2, 3]}',
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def test_mlflow_logs_lists_and_downloads_artifacts_kept_in_the_bucket(
        s3_client, s3_server, s3proxy, bucket, tmp_path):
    source = tmp_path / "source"
    files = _write_tree(source)
    big = source / "big.bin"
    big.write_bytes(np.random.default_rng(7).bytes(20 * 1024 * 1024 + 4321))

    mlflow.set_experiment(unique("s3"))
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(source / "small.txt"))
        mlflow.log_artifacts(str(source / "folder"), artifact_path="folder")
        mlflow.log_artifact(str(big), artifact_path="large")
    run_id = run.info.run_id

    top = {(f.path, f.is_dir) for f in s3_client.list_artifacts(run_id)}
    assert top == {("small.txt", False), ("folder", True), ("large", True)}
    nested = {f.path: f.file_size for f in s3_client.list_artifacts(run_id, "folder/nested")}
    assert nested == {"folder/nested/b.bin": 256 * 40, "folder/nested/deeper": None}
    assert [(f.path, f.file_size) for f in s3_client.list_artifacts(run_id, "large")] == [
        ("large/big.bin", big.stat().st_size)]

    out = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "dl")))
    for name, content in files.items():
        assert (out / name).read_bytes() == content, name
    assert filecmp.cmp(out / "large" / "big.bin", big, shallow=False)

    # The bucket holds every artifact under the prefix, as objects of the same bytes.
    objects = s3proxy.objects(bucket, PREFIX + "/")
    by_suffix = {key.split("/artifacts/", 1)[-1]: data for key, data in objects.items()
                 if f"/{run_id}/artifacts/" in key}
    assert by_suffix.keys() == {*files, "large/big.bin"}
    for name, content in files.items():
        assert by_suffix[name] == content, name
    assert by_suffix["large/big.bin"] == big.read_bytes()
    assert all(key.startswith(PREFIX + "/") for key in s3proxy.objects(bucket))

    # The server says where its artifacts are, and never logs the secret.
    log = s3_server.stderr_tail(limit=10**6)
    assert f"s3://{bucket}/{PREFIX}" in log
    assert SECRET_KEY not in log


def test_a_registered_model_logged_to_the_bucket_loads(s3_client, s3proxy, bucket):
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    y = (X["a"] + X["b"] > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "nthread": 1},
                        xgb.DMatrix(X, label=y), num_boost_round=4)
    name = unique("s3-model")
    mlflow.set_experiment(unique("s3-reg"))
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(booster, name="model", registered_model_name=name,
                                        pip_requirements=["xgboost"])
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/1")
    expected = booster.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(np.asarray(loaded.predict(X)).ravel(), expected, rtol=1e-6)
    # The model's files are objects in the bucket.
    keys = [key for key in s3proxy.objects(bucket, PREFIX + "/") if info.model_id in key]
    assert any(key.endswith("/MLmodel") for key in keys), keys


def _start_fails(srv: SlipwayServer) -> str:
    """Runs the server's command, which must exit non-zero; returns what it printed."""
    srv.data_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(srv.command(), cwd=srv.data_dir, env={**os.environ, **srv.env},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.mark.parametrize("problem", ["missing bucket", "wrong secret"])
def test_a_bucket_that_cannot_be_used_stops_the_start_and_says_why(tmp_path, s3proxy, bucket,
                                                                   problem):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path / "srv")
    srv.env = s3proxy.env()
    if problem == "missing bucket":
        srv.artifacts_uri = "s3://no-such-bucket-here/x"
    else:
        srv.artifacts_uri = f"s3://{bucket}/x"
        srv.env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-3c5e7a9b"
    message = _start_fails(srv)
    if problem == "missing bucket":
        assert "s3://no-such-bucket-here" in message and "NoSuchBucket" in message, message
    else:
        assert f"s3://{bucket}" in message and "403" in message, message
    assert SECRET_KEY not in message
    assert "wrong-secret-3c5e7a9b" not in message


def test_an_s3_outage_fails_uploads_clearly_and_the_server_recovers_with_it(
        tmp_path, monkeypatch):
    # An S3 server of the test's own, stopped and started again on its port.
    folder = tmp_path / "proxy"
    proxy = start_s3proxy(folder)
    port = int(proxy.endpoint.rsplit(":", 1)[1])
    bucket = proxy.make_bucket("outage")
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path / "srv")
    srv.artifacts_uri = f"s3://{bucket}/p"
    srv.env = proxy.env()
    srv.start()
    try:
        from conftest import _point_mlflow_at

        client = _point_mlflow_at(srv, monkeypatch)
        note = tmp_path / "note.txt"
        note.write_text("before")
        mlflow.set_experiment(unique("outage"))
        with mlflow.start_run() as run:
            mlflow.log_artifact(str(note))
            proxy.stop()
            note.write_text("during")
            with pytest.raises(MlflowException) as failed:
                mlflow.log_artifact(str(note), artifact_path="during")
            assert "503" in str(failed.value)
            # The server's answer says what failed and what S3 did (no
            # answer), never the secret.
            raw = requests.put(f"{srv.artifacts_api}/outage/x.txt", data=b"x", timeout=60)
            assert raw.status_code == 503
            assert raw.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
            message = raw.json()["message"]
            assert message.startswith("writing artifact 'outage/x.txt' failed: S3 PUT "), message
            assert "no answer from" in message, message
            assert SECRET_KEY not in str(failed.value)
            assert requests.get(f"{srv.url}/health", timeout=5).status_code == 200
            proxy = start_s3proxy(folder, port=port)
            note.write_text("after")
            mlflow.log_artifact(str(note), artifact_path="after")
        files = {f.path for f in client.list_artifacts(run.info.run_id)}
        assert files == {"note.txt", "after"}
        out = Path(mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="after/note.txt", dst_path=str(tmp_path / "dl")))
        assert out.read_text() == "after"
        assert SECRET_KEY not in srv.stderr_tail(limit=10**6)
    finally:
        srv.assert_clean_exit()
        proxy.stop()


def test_an_s3_endpoint_without_an_s3_artifact_root_is_refused(tmp_path, s3proxy):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path / "srv")
    srv.extra_args = ["--s3-endpoint", s3proxy.endpoint]
    message = _start_fails(srv)
    assert "--s3-endpoint" in message and "s3://" in message, message
