"""Artifacts through the server's mlflow-artifacts proxy: the mlflow client and raw HTTP.

Path traversal attempts go out through http.client so that no library normalizes
the `..` away before the server sees it.
"""

from __future__ import annotations

import filecmp
import hashlib
import http.client
import json
import os
import uuid
from pathlib import Path

import mlflow
import mlflow.artifacts
import pytest
import requests
import yaml

from conftest import REFERENCE, assert_mlflow_error, unique

ARTIFACTS_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def run(mlflow_client):
    mlflow.set_experiment(unique("art"))
    with mlflow.start_run() as r:
        yield r


def _rel_root(run) -> str:
    """`<exp>/<run>/artifacts`: the run's artifact root under the proxy."""
    uri = run.info.artifact_uri
    assert uri == f"mlflow-artifacts:/{run.info.experiment_id}/{run.info.run_id}/artifacts"
    return uri[len("mlflow-artifacts:/"):]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


# ----------------------------------------------------------------- mlflow client


def test_log_artifact_and_list_sizes(mlflow_client, run, tmp_path, server):
    f = tmp_path / "notes.txt"
    f.write_bytes(b"first line\nsecond line\n")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    mlflow.log_artifact(str(f))
    mlflow.log_artifact(str(empty), artifact_path="sub")
    mlflow.log_artifact(str(f), artifact_path="sub/deeper")

    root = {a.path: a for a in mlflow_client.list_artifacts(run.info.run_id)}
    assert set(root) == {"notes.txt", "sub"}
    assert root["notes.txt"].is_dir is False
    assert root["notes.txt"].file_size == 23
    assert root["sub"].is_dir is True

    sub = {a.path: a for a in mlflow_client.list_artifacts(run.info.run_id, "sub")}
    assert set(sub) == {"sub/empty.bin", "sub/deeper"}
    assert (sub["sub/empty.bin"].file_size or 0) == 0  # proto3 JSON may omit a zero
    assert sub["sub/deeper"].is_dir is True
    deeper = mlflow_client.list_artifacts(run.info.run_id, "sub/deeper")
    assert [(a.path, a.file_size) for a in deeper] == [("sub/deeper/notes.txt", 23)]

    # the proxy stores the file under the artifact root at the run's relative path
    on_disk = server.artifacts_dir / _rel_root(run) / "notes.txt"
    assert on_disk.read_bytes() == f.read_bytes()


def test_log_artifacts_nested_dir_and_download(mlflow_client, run, tmp_path):
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "top.csv").write_text("x,y\n1,2\n")
    (src / "a" / "mid.json").write_text(json.dumps({"k": [1, 2, 3]}))
    (src / "a" / "b" / "leaf.bin").write_bytes(os.urandom(4096))
    (src / "a" / "b" / "name with spaces & ü.txt").write_text("unicode ✓")
    mlflow.log_artifacts(str(src), artifact_path="bundle")

    listed = mlflow_client.list_artifacts(run.info.run_id, "bundle/a/b")
    assert sorted((a.path, a.file_size) for a in listed) == sorted([
        ("bundle/a/b/leaf.bin", 4096),
        ("bundle/a/b/name with spaces & ü.txt", len("unicode ✓".encode())),
    ])

    dst = tmp_path / "dl-dir"
    dst.mkdir()
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="bundle", dst_path=str(dst))
    assert _tree(Path(local)) == _tree(src)

    one = tmp_path / "dl-one"
    one.mkdir()
    path = mlflow_client.download_artifacts(run.info.run_id, "bundle/a/b/leaf.bin", str(one))
    assert filecmp.cmp(path, src / "a" / "b" / "leaf.bin", shallow=False)

    whole = tmp_path / "dl-all"
    whole.mkdir()
    local_all = mlflow.artifacts.download_artifacts(
        artifact_uri=run.info.artifact_uri, dst_path=str(whole))
    assert _tree(Path(local_all) / "bundle") == _tree(src)


def test_log_text_dict_and_load(mlflow_client, run):
    mlflow.log_text("hello\nworld ✓\n", "texts/greeting.txt")
    mlflow.log_dict({"a": 1, "b": [1.5, "x"], "c": {"d": None}}, "cfg/config.json")
    mlflow.log_dict({"layers": [64, 32], "act": "relu"}, "cfg/model.yaml")

    base = run.info.artifact_uri
    assert mlflow.artifacts.load_text(f"{base}/texts/greeting.txt") == "hello\nworld ✓\n"
    assert mlflow.artifacts.load_dict(f"{base}/cfg/config.json") == {
        "a": 1, "b": [1.5, "x"], "c": {"d": None}}
    assert yaml.safe_load(mlflow.artifacts.load_text(f"{base}/cfg/model.yaml")) == {
        "layers": [64, 32], "act": "relu"}
    assert sorted(a.path for a in mlflow_client.list_artifacts(run.info.run_id, "cfg")) == [
        "cfg/config.json", "cfg/model.yaml"]


def test_log_figure(mlflow_client, run, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 1, 3])
    mlflow.log_figure(fig, "plots/line.png")
    plt.close(fig)
    out = mlflow_client.download_artifacts(run.info.run_id, "plots/line.png", str(tmp_path))
    data = Path(out).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    [info] = mlflow_client.list_artifacts(run.info.run_id, "plots")
    assert info.file_size == len(data)


def test_large_binary_round_trip(mlflow_client, run, tmp_path):
    big = tmp_path / "big.bin"
    payload = os.urandom(20 * 1024 * 1024 + 123)
    big.write_bytes(payload)
    mlflow.log_artifact(str(big), artifact_path="blobs")
    [info] = mlflow_client.list_artifacts(run.info.run_id, "blobs")
    assert info.path == "blobs/big.bin"
    assert info.file_size == len(payload)
    dst = tmp_path / "out"
    dst.mkdir()
    out = mlflow_client.download_artifacts(run.info.run_id, "blobs/big.bin", str(dst))
    assert hashlib.sha256(Path(out).read_bytes()).hexdigest() == hashlib.sha256(
        payload).hexdigest()


def test_missing_artifact_download_fails(mlflow_client, run, tmp_path):
    with pytest.raises(Exception):
        mlflow_client.download_artifacts(run.info.run_id, "does/not/exist.txt", str(tmp_path))
    assert not (tmp_path / "does" / "not" / "exist.txt").exists()


# --------------------------------------------------------------------- raw HTTP


def test_raw_put_get_list_delete(server):
    rel = f"0/{uuid.uuid4().hex}/artifacts"
    base = server.artifacts_api
    body = os.urandom(10_000)
    r = requests.put(f"{base}/{rel}/dir/blob.bin", data=body, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.put(f"{base}/{rel}/top.txt", data=b"top", timeout=30)
    assert r.status_code == 200, r.text

    r = requests.get(f"{base}/{rel}/dir/blob.bin", timeout=30)
    assert r.status_code == 200
    assert r.content == body

    r = requests.get(base, params={"path": rel}, timeout=30)
    assert r.status_code == 200, r.text
    files = {f["path"]: f for f in r.json()["files"]}
    assert files["dir"]["is_dir"] is True
    assert files["top.txt"]["is_dir"] is False
    assert int(files["top.txt"]["file_size"]) == 3
    assert set(files) == {"dir", "top.txt"}

    r = requests.get(base, params={"path": f"{rel}/dir"}, timeout=30)
    assert [(f["path"], int(f["file_size"])) for f in r.json()["files"]] == [("blob.bin", 10_000)]

    # overwrite replaces the content
    r = requests.put(f"{base}/{rel}/top.txt", data=b"replaced", timeout=30)
    assert r.status_code == 200
    assert requests.get(f"{base}/{rel}/top.txt", timeout=30).content == b"replaced"

    r = requests.delete(f"{base}/{rel}/dir/blob.bin", timeout=30)
    assert r.status_code == 200, r.text
    r = requests.get(f"{base}/{rel}/dir/blob.bin", timeout=30)
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    assert not (server.artifacts_dir / rel / "dir" / "blob.bin").exists()
    assert (server.artifacts_dir / rel / "top.txt").read_bytes() == b"replaced"

    r = requests.get(base, params={"path": f"{rel}/dir"}, timeout=30)
    assert r.status_code == 200
    assert r.json().get("files", []) == []


def test_raw_get_missing_is_404(server):
    r = requests.get(f"{server.artifacts_api}/0/{uuid.uuid4().hex}/nope.txt", timeout=30)
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_artifact_written_over_http_is_visible_to_client(mlflow_client, run, server):
    rel = _rel_root(run)
    r = requests.put(f"{server.artifacts_api}/{rel}/raw.txt", data=b"via http", timeout=30)
    assert r.status_code == 200
    assert [(a.path, a.file_size) for a in mlflow_client.list_artifacts(run.info.run_id)] == [
        ("raw.txt", 8)]
    assert mlflow.artifacts.load_text(f"{run.info.artifact_uri}/raw.txt") == "via http"


# ---------------------------------------------------------------- path traversal


def _raw(server, method: str, path: str, body: bytes | None = None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        headers = {"Content-Length": str(len(body))} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data
    finally:
        conn.close()


def _snapshot(root: Path, exclude: Path) -> set[str]:
    out = set()
    for p in root.rglob("*"):
        if exclude == p or exclude in p.parents:
            continue
        out.add(str(p))
    return out


def _assert_rejected(status: int, data: bytes, what: str):
    assert status == 400, f"{what}: expected 400, got {status}: {data[:300]!r}"
    body = json.loads(data)
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", f"{what}: {body}"


TRAVERSAL_PUTS = [
    "{p}/../../{name}",
    "{p}/../../../../{name}",
    "{p}/0/../../{name}",
    "{p}/0/%2e%2e/%2e%2e/{name}",
    "{p}/0/%2E%2E/%2E%2E/%2E%2E/{name}",
    "{p}/0/..%2f..%2f..%2f{name}",
    "{p}/0/..%2F..%2F{name}",
    "{p}//{abs}",
    "{p}/%2F{abs_enc}",
]


@pytest.mark.parametrize("template", TRAVERSAL_PUTS)
def test_traversal_put_rejected_and_nothing_written_outside(server, template):
    name = f"escape-{uuid.uuid4().hex}.txt"
    abs_target = Path("/tmp") / f"slipway-abs-{uuid.uuid4().hex}.txt"
    path = template.format(p=ARTIFACTS_PREFIX, name=name, abs=str(abs_target).lstrip("/"),
                           abs_enc=str(abs_target).lstrip("/").replace("/", "%2F"))
    watch_root = server.data_dir.parent
    before = _snapshot(watch_root, server.artifacts_dir)
    status, data = _raw(server, "PUT", path, b"pwned")
    _assert_rejected(status, data, f"PUT {path}")
    assert not abs_target.exists()
    after = _snapshot(watch_root, server.artifacts_dir) - before
    # only the server's own log files may have appeared
    assert {p for p in after if not p.endswith((".stderr", ".stdout"))} == set(), after
    for up in range(0, 8):
        candidate = server.artifacts_dir.joinpath(*[".."] * up, name).resolve()
        assert not candidate.exists(), candidate
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200


@pytest.mark.slipway_only
@pytest.mark.parametrize("template", [
    "{p}/0/..%5c..%5c{name}",
    "{p}/0/..\\..\\{name}",
    "{p}/0/sub%5c{name}",
])
def test_backslash_paths_rejected(server, template):
    # MLflow on Linux stores a literal backslash in a file name; Slipway rejects it (400).
    name = f"bs-{uuid.uuid4().hex}.txt"
    path = template.format(p=ARTIFACTS_PREFIX, name=name)
    before = _snapshot(server.data_dir.parent, server.artifacts_dir)
    status, data = _raw(server, "PUT", path, b"pwned")
    _assert_rejected(status, data, f"PUT {path}")
    after = _snapshot(server.data_dir.parent, server.artifacts_dir) - before
    assert {p for p in after if not p.endswith((".stderr", ".stdout"))} == set()
    assert not [p for p in server.artifacts_dir.rglob("*") if name in p.name]


@pytest.mark.parametrize("path", [
    "{p}/../../../../../../etc/passwd",
    "{p}/0/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "{p}//etc/passwd",
    "{p}/%2Fetc%2Fpasswd",
    "{p}?path=..",
    "{p}?path=../..",
    "{p}?path=/etc",
    "{p}?path=0/%2e%2e/%2e%2e",
])
def test_traversal_get_and_list_rejected(server, path):
    status, data = _raw(server, "GET", path.format(p=ARTIFACTS_PREFIX))
    _assert_rejected(status, data, f"GET {path}")
    assert b"root:" not in data


def test_traversal_delete_rejected_and_outside_file_survives(server):
    victim = server.data_dir / f"victim-{uuid.uuid4().hex}.txt"
    victim.write_text("keep me")
    paths = [
        f"{ARTIFACTS_PREFIX}/../{victim.name}",
        f"{ARTIFACTS_PREFIX}/0/%2e%2e/%2e%2e/{victim.name}",
    ]
    if not REFERENCE:  # mlflow server answers this one with a 308 to an in-root path
        paths.append(f"{ARTIFACTS_PREFIX}/%2F{str(victim).lstrip('/').replace('/', '%2F')}")
    for path in paths:
        status, data = _raw(server, "DELETE", path)
        _assert_rejected(status, data, f"DELETE {path}")
        assert victim.read_text() == "keep me"
    # the artifact root itself survives a delete aimed at it
    status, _ = _raw(server, "DELETE", f"{ARTIFACTS_PREFIX}/0/..")
    assert status == 400
    assert server.artifacts_dir.is_dir()


def test_raw_delete_directory_and_list_missing_dir(server):
    rel = f"0/{uuid.uuid4().hex}/artifacts"
    base = server.artifacts_api
    for name, data in (("d/x.txt", b"x"), ("d/sub/y.txt", b"y"), ("keep.txt", b"k")):
        assert requests.put(f"{base}/{rel}/{name}", data=data, timeout=30).status_code == 200
    r = requests.delete(f"{base}/{rel}/d", timeout=30)
    assert r.status_code == 200, r.text
    listed = requests.get(base, params={"path": rel}, timeout=30).json().get("files", [])
    assert [f["path"] for f in listed] == ["keep.txt"]
    assert not (server.artifacts_dir / rel / "d").exists()
    # listing a folder that does not exist is an empty listing, as in MLflow
    r = requests.get(base, params={"path": f"0/{uuid.uuid4().hex}"}, timeout=30)
    assert r.status_code == 200
    assert r.json().get("files", []) == []


def test_raw_chunked_upload(server):
    rel = f"0/{uuid.uuid4().hex}/artifacts/chunked.bin"
    chunks = [os.urandom(1_000_000) for _ in range(3)]

    def gen():
        yield from chunks

    r = requests.put(f"{server.artifacts_api}/{rel}", data=gen(), timeout=60)  # chunked
    assert r.status_code == 200, r.text
    got = requests.get(f"{server.artifacts_api}/{rel}", timeout=60)
    assert got.status_code == 200
    assert got.content == b"".join(chunks)
