"""Everything a server stores on S3: dataset packs, the prediction log, and the
models serving loads, with `--artifacts s3://bucket/prefix` and nothing else.

The datasets and the prediction log go under `<prefix>/.slipway/` of the same
bucket (a folder no artifact path may name). What lands in the bucket is read
back from S3Proxy's own files, so the test sees where the bytes really went.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import mlflow
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb
from sklearn import datasets as skdatasets

from conftest import SlipwayServer, _point_mlflow_at, slipway_binary, unique
from s3 import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.slipway_only

PREFIX = "team/all"


@pytest.fixture(scope="module")
def bucket(s3proxy):
    return s3proxy.make_bucket(unique("everything").lower())


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory, s3proxy, bucket):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("slipway-s3d"))
    srv.artifacts_uri = f"s3://{bucket}/{PREFIX}"
    srv.extra_args = ["--s3-endpoint", s3proxy.endpoint, "--prediction-log-flush", "0.5"]
    srv.env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_REGION": "us-east-1"}
    srv.start()
    yield srv
    srv.assert_clean_exit()


def slipway(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SLIPWAY_WORKSPACE", None)
    out = subprocess.run([str(slipway_binary()), *map(str, args)], cwd=cwd, env=full_env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"slipway {' '.join(map(str, args))}: {out.stderr}"
    return out


def test_datasets_pushed_to_the_server_are_packs_in_the_bucket_and_pull_back_equal(
        s3_server, s3proxy, bucket, tmp_path):
    wine = tmp_path / "wine.csv"
    skdatasets.load_wine(as_frame=True).frame.to_csv(wine, index=False)
    name = unique("wine")
    ws = tmp_path / "ws"
    ws.mkdir()
    env = {"SLIPWAY_TRACKING_URI": s3_server.url}
    slipway("data", "add", wine, "--name", name, cwd=ws)
    pushed = slipway("data", "push", name, cwd=ws, env=env)
    assert f"{name}@1" in pushed.stdout, pushed.stdout

    # The packs and their indexes are objects under the reserved folder, and
    # the server's data folder holds no dataset content.
    packs = {k: v for k, v in s3proxy.objects(bucket, f"{PREFIX}/.slipway/datasets/").items()
             if "/packs/" in k}
    assert any(k.endswith(".pack") for k in packs) and any(k.endswith(".idx") for k in packs), packs
    assert sum(len(v) for k, v in packs.items() if k.endswith(".pack")) >= wine.stat().st_size // 2
    local = s3_server.data_dir / "datasets"
    assert not local.exists() or not [p for p in local.rglob("*.pack")]

    # The server's profile of what it stored, and the bytes pulled back.
    got = requests.get(f"{s3_server.url}/api/v1/datasets/{name}/versions/1", timeout=60)
    assert got.status_code == 200, got.text
    version = got.json()["version"]
    assert version["row_count"] == 178
    assert version["content_digest"] == hashlib.sha256(wine.read_bytes()).hexdigest()
    assert version["profile"]["row_count"] == 178
    other = tmp_path / "other"
    other.mkdir()
    slipway("data", "pull", name, cwd=other, env=env)
    out = tmp_path / "pulled.csv"
    slipway("data", "get", f"{name}@1", "-o", out, cwd=other)
    assert out.read_bytes() == wine.read_bytes()

    # No artifact route reaches the reserved folder.
    listing = requests.get(f"{s3_server.artifacts_api}", params={"path": ""}, timeout=60).json()
    assert ".slipway" not in {f["path"] for f in listing.get("files", [])}
    r = requests.get(f"{s3_server.artifacts_api}/.slipway/datasets", timeout=60)
    assert r.status_code == 400 and ".slipway" in r.json()["message"]
    r = requests.delete(f"{s3_server.artifacts_api}/.slipway", timeout=60)
    assert r.status_code == 400
    assert packs.keys() <= s3proxy.objects(bucket, f"{PREFIX}/.slipway/datasets/").keys()


def test_a_model_logged_to_the_bucket_serves_and_its_predictions_are_logged_there(
        s3_server, s3proxy, bucket, monkeypatch):
    _point_mlflow_at(s3_server, monkeypatch)
    rng = np.random.default_rng(5)
    x = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    y = x["a"] * 2 - x["c"] + rng.normal(scale=0.1, size=200)
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3, random_state=0).fit(x, y)
    name = unique("s3-served")
    mlflow.set_experiment(unique("s3-serve"))
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(model, name="model", registered_model_name=name,
                                        input_example=x.head(2))
    assert any(info.model_id in k for k in s3proxy.objects(bucket, PREFIX + "/"))

    deployment = unique("dep")
    r = requests.post(f"{s3_server.url}/api/v1/deployments",
                      json={"name": deployment, "model_uri": f"models:/{name}/1"}, timeout=60)
    assert r.status_code == 200, r.text
    body = {"dataframe_split": json.loads(x.head(20).to_json(orient="split", index=False))}
    deadline = time.monotonic() + 120
    while True:
        r = requests.post(f"{s3_server.url}/deployments/{deployment}/invocations", json=body,
                          timeout=60)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["predictions"], model.predict(x.head(20)), atol=1e-5)

    # Serving loaded the files from a local copy in the data folder (the
    # model cache), not from S3 on every request.
    cache = s3_server.data_dir / "serving" / "models"
    assert [p for p in cache.rglob("MLmodel")], list(cache.rglob("*"))

    # The prediction log's segments are objects under the reserved folder.
    folder = f"{PREFIX}/.slipway/predictions/{deployment}/"
    deadline = time.monotonic() + 60
    while not s3proxy.objects(bucket, folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    segments = s3proxy.objects(bucket, folder)
    assert segments, f"no prediction log segment under {folder}"
    records = [json.loads(line) for data in segments.values() for line in data.splitlines()]
    # One record per request, its rows column by column.
    assert len(records) == 1 and records[0]["deployment"] == deployment
    assert records[0]["inputs"]["a"] == pytest.approx(x["a"].head(20).tolist())
    assert not (s3_server.data_dir / "serving" / "predictions").exists() or not [
        p for p in (s3_server.data_dir / "serving" / "predictions").rglob("*.jsonl")]
