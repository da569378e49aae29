"""MLflow's proxied multipart upload (`mlflow-artifacts/mpu/...`) against a real S3 server.

The real `mlflow` client, told to use multipart uploads for files from 5 MiB
(`MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD`, `MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`),
asks the server to begin an upload, PUTs each part itself to the presigned URL
the server gave it, and asks the server to complete (or abort) it. The server's
S3 endpoint is a fault proxy (fault_proxy.py) in front of S3Proxy, so the test
sees which requests went to S3 and from whom, and can make a part fail.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import mlflow
import mlflow.artifacts
import numpy as np
import pytest
import requests

from conftest import SlipwayServer, _point_mlflow_at, assert_mlflow_error, slipway_binary, unique
from fault_proxy import FaultProxy
from mlflow.exceptions import MlflowException
from s3 import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.slipway_only

PREFIX = "mpu/root"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def bucket(s3proxy):
    return s3proxy.make_bucket(unique("mpu").lower())


@pytest.fixture(scope="module")
def faults(s3proxy):
    proxy = FaultProxy(s3proxy.endpoint).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory, faults, bucket):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("slipway-mpu"))
    srv.artifacts_uri = f"s3://{bucket}/{PREFIX}"
    srv.extra_args = ["--s3-endpoint", faults.endpoint]
    srv.env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_REGION": "us-east-1"}
    srv.start()
    yield srv
    srv.assert_clean_exit()


@pytest.fixture
def multipart_env(monkeypatch):
    # Not MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD: the client asks the server's
    # /server-info whether to upload in parts, as it does against MLflow's.
    monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", raising=False)
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(5 * MIB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * MIB))


@pytest.fixture
def client(s3_server, monkeypatch, multipart_env, faults):
    faults.clear()
    return _point_mlflow_at(s3_server, monkeypatch)


def _big_file(path: Path, size: int, seed: int) -> Path:
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return path


def test_the_mlflow_client_uploads_a_large_file_in_parts_straight_to_s3(
        s3_server, client, faults, s3proxy, bucket, tmp_path):
    info = requests.get(f"{s3_server.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["multipart_uploads_enabled"] is True, info
    big = _big_file(tmp_path / "weights.bin", 12 * MIB + 777, seed=1)
    mlflow.set_experiment(unique("mpu"))
    before = len(faults.requests)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(big), artifact_path="model")
    sent = faults.requests[before:]
    # Three parts (5 + 5 + 2 MiB), each a PUT to a presigned URL (the
    # signature in the query, as the client sent it), between the server's
    # CreateMultipartUpload and CompleteMultipartUpload.
    parts = [path for method, path in sent if method == "PUT" and "partNumber=" in path]
    assert len(parts) == 3, sent
    assert all("X-Amz-Signature=" in path for path in parts), parts
    assert sorted(int(p.split("partNumber=")[1].split("&")[0]) for p in parts) == [1, 2, 3]
    assert any(method == "POST" and path.endswith("?uploads=") for method, path in sent), sent
    assert any(method == "POST" and "uploadId=" in path for method, path in sent), sent
    # No PUT of the whole file through the server.
    assert not [path for method, path in sent if method == "PUT" and "partNumber=" not in path]

    run_id = run.info.run_id
    assert [(f.path, f.file_size) for f in client.list_artifacts(run_id, "model")] == [
        ("model/weights.bin", big.stat().st_size)]
    out = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model/weights.bin",
                                              dst_path=str(tmp_path / "dl"))
    assert filecmp.cmp(out, big, shallow=False)
    objects = s3proxy.objects(bucket, PREFIX + "/")
    key = next(k for k in objects if k.endswith(f"/{run_id}/artifacts/model/weights.bin"))
    assert objects[key] == big.read_bytes()


def test_a_failed_part_makes_the_client_abort_and_nothing_is_left(
        client, s3_server, faults, s3proxy, bucket, tmp_path):
    big = _big_file(tmp_path / "broken.bin", 11 * MIB, seed=2)
    mlflow.set_experiment(unique("mpu-abort"))
    faults.fail(500, method="PUT", match="partNumber=2")
    with mlflow.start_run() as run:
        with pytest.raises(Exception):
            mlflow.log_artifact(str(big), artifact_path="model")
    faults.clear()
    assert faults.injected, "the part never failed"
    sent = faults.requests
    # The client aborted: the server sent S3 the AbortMultipartUpload.
    aborts = [path for method, path in sent if method == "DELETE" and "uploadId=" in path]
    assert aborts, sent
    upload_id = aborts[-1].split("uploadId=")[1].split("&")[0]
    run_id = run.info.run_id
    assert client.list_artifacts(run_id) == []
    assert not [k for k in s3proxy.objects(bucket) if run_id in k or "broken.bin" in k]
    # The upload is gone: completing it now is refused, naming it.
    experiment = run.info.experiment_id
    r = requests.post(
        f"{s3_server.url}/api/2.0/mlflow-artifacts/mpu/complete/{experiment}/{run_id}/artifacts/model",
        json={"path": str(big), "upload_id": requests.utils.unquote(upload_id),
              "parts": [{"part_number": 1, "etag": "x"}]}, timeout=60)
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "No such multipart upload")


def test_the_rest_endpoints_create_complete_and_abort(s3_server, s3proxy, bucket, tmp_path):
    mlflow.set_tracking_uri(s3_server.url)
    experiment = mlflow.create_experiment(unique("mpu-rest"))
    folder = f"{experiment}/{unique('run')}/artifacts/data"
    base = f"{s3_server.url}/api/2.0/mlflow-artifacts/mpu"
    payload = np.random.default_rng(3).bytes(6 * MIB + 5)
    r = requests.post(f"{base}/create/{folder}", json={"path": "/home/me/table.parquet",
                                                        "num_parts": 2}, timeout=60)
    assert r.status_code == 200, r.text
    created = r.json()
    assert [c["part_number"] for c in created["credentials"]] == [1, 2]
    etags = []
    for credential, chunk in zip(created["credentials"], (payload[:5 * MIB], payload[5 * MIB:])):
        put = requests.put(credential["url"], data=chunk, headers=credential.get("headers", {}),
                           timeout=60)
        assert put.status_code == 200, put.text
        etags.append(put.headers["ETag"])
    # Nothing is visible before the upload completes.
    assert requests.get(f"{s3_server.artifacts_api}/{folder}/table.parquet",
                        timeout=60).status_code == 404
    r = requests.post(f"{base}/complete/{folder}", timeout=60, json={
        "path": "/home/me/table.parquet", "upload_id": created["upload_id"],
        "parts": [{"part_number": 1, "etag": etags[0]}, {"part_number": 2, "etag": etags[1]}]})
    assert r.status_code == 200, r.text
    got = requests.get(f"{s3_server.artifacts_api}/{folder}/table.parquet", timeout=60)
    assert got.status_code == 200 and got.content == payload

    # Abort: the parts sent are dropped, no object appears.
    r = requests.post(f"{base}/create/{folder}", json={"path": "gone.bin", "num_parts": 1},
                      timeout=60)
    upload = r.json()
    assert requests.put(upload["credentials"][0]["url"], data=b"abc", timeout=60).ok
    r = requests.post(f"{base}/abort/{folder}", json={"path": "gone.bin",
                                                       "upload_id": upload["upload_id"]}, timeout=60)
    assert r.status_code == 200, r.text
    assert not [k for k in s3proxy.objects(bucket) if "gone.bin" in k]
    r = requests.post(f"{base}/abort/{folder}", json={"path": "gone.bin",
                                                       "upload_id": upload["upload_id"]}, timeout=60)
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "No such multipart upload")

    # Bad requests say what is wrong.
    assert_mlflow_error(requests.post(f"{base}/create/{folder}", json={"num_parts": 2}, timeout=60),
                        400, "INVALID_PARAMETER_VALUE", "path")
    assert_mlflow_error(requests.post(f"{base}/create/{folder}",
                                      json={"path": "x.bin", "num_parts": 10001}, timeout=60),
                        400, "INVALID_PARAMETER_VALUE", "num_parts")
    assert_mlflow_error(requests.post(f"{base}/create/{experiment}/%2E%2E/x",
                                      json={"path": "x.bin", "num_parts": 1}, timeout=60),
                        400, "INVALID_PARAMETER_VALUE", "..")
    assert_mlflow_error(requests.post(f"{base}/complete/{folder}",
                                      json={"path": "x.bin", "upload_id": "u"}, timeout=60),
                        400, "INVALID_PARAMETER_VALUE", "parts")
    # Parts that S3 refuses (a wrong ETag) are the client's mistake.
    r = requests.post(f"{base}/create/{folder}", json={"path": "wrong.bin", "num_parts": 1},
                      timeout=60)
    upload = r.json()
    assert requests.put(upload["credentials"][0]["url"], data=b"abc", timeout=60).ok
    r = requests.post(f"{base}/complete/{folder}", timeout=60, json={
        "path": "wrong.bin", "upload_id": upload["upload_id"],
        "parts": [{"part_number": 1, "etag": '"0123456789abcdef0123456789abcdef"'}]})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "S3 refused")
    # The server's own folder under the root is no artifact.
    assert_mlflow_error(requests.post(f"{base}/create/.slipway/datasets",
                                      json={"path": "x.bin", "num_parts": 1}, timeout=60),
                        400, "INVALID_PARAMETER_VALUE", ".slipway")


def test_a_local_artifact_root_answers_as_mlflow_does_and_the_client_falls_back(
        server, monkeypatch, multipart_env, tmp_path):
    info = requests.get(f"{server.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["multipart_uploads_enabled"] is False, info
    # A client told to use multipart uploads anyway gets MLflow's 501 and
    # uploads in one PUT.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    client = _point_mlflow_at(server, monkeypatch)
    r = requests.post(f"{server.url}/api/2.0/mlflow-artifacts/mpu/create/0/x/artifacts",
                      json={"path": "/tmp/big.bin", "num_parts": 2}, timeout=60)
    assert_mlflow_error(r, 501, "NOT_IMPLEMENTED",
                        "Multipart upload is not supported for the current artifact repository")
    big = _big_file(tmp_path / "big.bin", 6 * MIB, seed=4)
    mlflow.set_experiment(unique("mpu-local"))
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(big))
    out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="big.bin",
                                              dst_path=str(tmp_path / "dl"))
    assert filecmp.cmp(out, big, shallow=False)
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["big.bin"]


ADMIN = ("admin", "admin-Pa55word!")
ALICE = ("alice", "alice-Pa55word!")
BOB = ("bob", "bob-Pa55word!")


def test_multipart_uploads_need_edit_on_the_experiment_and_are_audited(
        tmp_path, s3proxy, bucket):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path / "srv")
    srv.artifacts_uri = f"s3://{bucket}/auth"
    srv.extra_args = ["--auth", "--s3-endpoint", s3proxy.endpoint]
    srv.env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_REGION": "us-east-1", "SLIPWAY_ADMIN_PASSWORD": ADMIN[1]}
    srv.start()
    try:
        for user, password in (ALICE, BOB):
            r = requests.post(f"{srv.api}/users/create", auth=ADMIN,
                              json={"username": user, "password": password})
            assert r.status_code == 200, r.text
        experiment = requests.post(f"{srv.api}/experiments/create", auth=ALICE,
                                   json={"name": unique("alice-mpu")}).json()["experiment_id"]
        folder = f"{experiment}/{unique('run')}/artifacts"
        base = f"{srv.url}/api/2.0/mlflow-artifacts/mpu"
        body = {"path": "big.bin", "num_parts": 1}
        # Bob may read Alice's experiment (the default), not write to it.
        for action in ("create", "abort", "complete"):
            r = requests.post(f"{base}/{action}/{folder}", auth=BOB, timeout=60,
                              json={**body, "upload_id": "u", "parts": [{"part_number": 1}]})
            assert_mlflow_error(r, 403, "PERMISSION_DENIED")
        r = requests.post(f"{base}/create/{folder}", auth=ALICE, json=body, timeout=60)
        assert r.status_code == 200, r.text
        upload_id = r.json()["upload_id"]
        r = requests.post(f"{base}/abort/{folder}", auth=ALICE, timeout=60,
                          json={"path": "big.bin", "upload_id": upload_id})
        assert r.status_code == 200, r.text
        entries = requests.get(f"{srv.url}/api/v1/audit", params={"max_results": 50000},
                               auth=ADMIN).json()["entries"]
        outcomes = {(e["principal"], e["action"], e["outcome"]) for e in entries}
        assert ("bob", "mlflow-artifacts/mpu/create", 403) in outcomes
        assert ("alice", "mlflow-artifacts/mpu/create", 200) in outcomes
        assert ("alice", "mlflow-artifacts/mpu/abort", 200) in outcomes
        created = [e for e in entries if e["action"] == "mlflow-artifacts/mpu/create"
                   and e["principal"] == "alice"]
        assert created[0]["target"] == f"artifact:{folder}/big.bin", created[0]
    finally:
        srv.assert_clean_exit()
