"""Dataset versions, profiles, rules and diffs through the `slipway data` CLI and the
/api/v1/datasets REST API of a real server.

Data: scikit-learn's bundled data sets (iris, wine, breast cancer) written out as CSV,
and generated tables with injected faults (missing values, a shifted distribution, a
new category, a dropped column) that the rules must catch, while clean data passes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from sklearn import datasets as skdatasets

from conftest import assert_mlflow_error, slipway_binary, unique

pytestmark = pytest.mark.slipway_only


def slipway(*args, cwd: Path, env: dict | None = None, input: str | None = None,
            check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SLIPWAY_WORKSPACE", None)
    out = subprocess.run([str(slipway_binary()), *map(str, args)], cwd=cwd, env=full_env,
                         capture_output=True, text=True, input=input, timeout=timeout)
    if check:
        assert out.returncode == 0, f"slipway {' '.join(map(str, args))}: {out.stderr}"
    return out


def data_json(*args, cwd: Path, **kw) -> dict:
    return json.loads(slipway("data", *args, "--json", cwd=cwd, **kw).stdout)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sklearn_csvs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sklearn")
    out = {}
    for name, loader in (("iris", skdatasets.load_iris), ("wine", skdatasets.load_wine),
                         ("breast_cancer", skdatasets.load_breast_cancer)):
        frame = loader(as_frame=True).frame
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        out[name] = path
    return out


@pytest.fixture
def ws(tmp_path) -> Path:
    """A fresh folder to hold a .slipway workspace."""
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


def churn_frame(n: int = 5000, seed: int = 7, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": np.arange(1, n + 1),
        "age": rng.integers(18, 90, size=n),
        "income": np.round(rng.normal(50_000 + shift * 15_000, 15_000, size=n), 2),
        "plan": rng.choice(["basic", "pro", "enterprise"], size=n, p=[0.6, 0.3, 0.1]),
        "churned": rng.choice(["true", "false"], size=n),
    })


# ------------------------------------------------------------ add, show, get


def test_add_versions_a_file_and_re_adding_it_changes_nothing(ws, sklearn_csvs):
    iris = sklearn_csvs["iris"]
    first = slipway("data", "add", iris, "--name", "iris", cwd=ws)
    assert first.stdout.startswith(f"iris@1 (sha256:{sha256(iris)})"), first.stdout
    assert "150 rows x 5 columns" in first.stdout
    again = slipway("data", "add", iris, "--name", "iris", cwd=ws)
    assert "iris@1 unchanged" in again.stdout and "no new version" in again.stdout
    listed = data_json("ls", "iris", cwd=ws)["versions"]
    assert [v["version"] for v in listed] == [1]
    assert (ws / ".slipway").is_dir()


def test_get_writes_back_identical_bytes(ws, sklearn_csvs, tmp_path):
    for name, path in sklearn_csvs.items():
        slipway("data", "add", path, "--name", name, cwd=ws)
        out = tmp_path / f"{name}-copy.csv"
        slipway("data", "get", f"{name}@1", "-o", out, cwd=ws)
        assert out.read_bytes() == path.read_bytes()


def test_profile_matches_pandas_on_sklearn_data(ws, sklearn_csvs):
    for name, path in sklearn_csvs.items():
        slipway("data", "add", path, "--name", name, cwd=ws)
        shown = data_json("show", f"{name}@1", cwd=ws)
        frame = pd.read_csv(path)
        assert shown["row_count"] == len(frame)
        assert shown["column_count"] == frame.shape[1]
        columns = {c["name"]: c for c in shown["profile"]["columns"]}
        assert list(columns) == list(frame.columns)
        for col in frame.columns:
            got, series = columns[col], frame[col]
            assert got["count"] == series.count()
            assert got["missing"] == series.isna().sum()
            exact_distinct = series.nunique()
            assert abs(got["distinct"] - exact_distinct) <= max(1, 0.03 * exact_distinct), col
            if got["type"] in ("int64", "float64"):
                assert got["min"] == pytest.approx(series.min())
                assert got["max"] == pytest.approx(series.max())
                assert got["mean"] == pytest.approx(series.mean(), rel=1e-9)
                assert got["stddev"] == pytest.approx(series.std(), rel=1e-9)
                # small tables: the KLL sketch still holds every value
                q = {item["q"]: item["value"] for item in got["quantiles"]}
                assert q[0.5] == pytest.approx(series.quantile(0.5, interpolation="lower"),
                                               abs=(series.max() - series.min()) * 0.02)


def test_show_prints_a_table_with_histograms(ws, sklearn_csvs):
    slipway("data", "add", sklearn_csvs["iris"], "--name", "iris", cwd=ws)
    out = slipway("data", "show", "iris", cwd=ws).stdout
    assert "iris@1" in out and "150 rows x 5 columns" in out
    assert "sepal length (cm)" in out
    assert any(ch in out for ch in "▁▂▃▄▅▆▇█")


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_a_new_version_with_a_few_changed_rows_stores_few_new_bytes(ws, tmp_path):
    rng = np.random.default_rng(1)
    n = 1_500_000
    frame = pd.DataFrame({"id": np.arange(n), "x": rng.normal(size=n).round(6),
                          "label": rng.choice(["a", "b", "c"], size=n)})
    path = _write(frame, tmp_path / "big.csv")
    v1 = data_json("add", path, "--name", "big", cwd=ws)
    assert v1["created"] and v1["bytes_new"] == v1["size_bytes"]
    # change 1% of the rows, in five contiguous blocks (each block costs about two
    # 64 KiB chunks, so small files need few blocks to stay under 5%)
    changed = frame.copy()
    for start in range(0, n, n // 5):
        changed.loc[start:start + n // 1000 - 1, "x"] = 42.0
    _write(changed, path)
    v2 = data_json("add", path, "--name", "big", cwd=ws)
    assert v2["version"] == 2 and v2["created"]
    assert v2["bytes_new"] < 0.05 * v2["size_bytes"], (v2["bytes_new"], v2["size_bytes"])


def test_folders_are_versioned_too(ws, tmp_path):
    folder = tmp_path / "images"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "one.bin").write_bytes(os.urandom(100_000))
    (folder / "two.txt").write_text("hello")
    out = data_json("add", folder, "--name", "images", cwd=ws)
    assert out["kind"] == "folder" and out["row_count"] == -1
    back = tmp_path / "back"
    slipway("data", "get", "images@1", "-o", back, cwd=ws)
    assert (back / "a" / "one.bin").read_bytes() == (folder / "a" / "one.bin").read_bytes()
    assert (back / "two.txt").read_text() == "hello"


# ------------------------------------------------------------ bad input


BAD_INPUTS = {
    "ragged.csv": (b"a,b,c\n1,2,3\n4,5\n", "line 3"),
    "bad_utf8.csv": (b"a,b\n1,ok\n2,caf\xe9\n", "line 3"),
    "empty.csv": (b"", "empty"),
    "header_only.csv": (b"a,b,c\n", "no data rows"),
    "unterminated.csv": (b"a,b\n1,\"open\n2,3\n", "line 2"),
    "huge_field.csv": (b"a,b\n1," + b"x" * (10 * 1024 * 1024) + b"\n", "line 2"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_refused_naming_where_and_nothing_is_stored(ws, tmp_path, name):
    content, expected = BAD_INPUTS[name]
    path = tmp_path / name
    path.write_bytes(content)
    out = slipway("data", "add", path, "--name", "bad", cwd=ws, check=False)
    assert out.returncode == 1
    assert name in out.stderr and expected in out.stderr, out.stderr
    assert len(out.stderr) < 2000  # a message, not the 10 MB field
    listed = slipway("data", "ls", "--json", cwd=ws, check=False)
    if listed.returncode == 0:
        assert json.loads(listed.stdout)["datasets"] == []


def test_a_path_that_does_not_exist_is_a_clear_error(ws):
    out = slipway("data", "add", "no/such/file.csv", "--name", "x", cwd=ws, check=False)
    assert out.returncode == 1
    assert "no/such/file.csv" in out.stderr and "No such file" in out.stderr


def test_bad_dataset_names_and_versions(ws, sklearn_csvs):
    out = slipway("data", "add", sklearn_csvs["iris"], "--name", "../evil", cwd=ws, check=False)
    assert out.returncode == 1 and "Invalid dataset name" in out.stderr
    slipway("data", "add", sklearn_csvs["iris"], "--name", "iris", cwd=ws)
    out = slipway("data", "show", "iris@two", cwd=ws, check=False)
    assert out.returncode == 1 and "Invalid dataset version 'two'" in out.stderr
    out = slipway("data", "show", "iris@9", cwd=ws, check=False)
    assert out.returncode == 1 and "iris@9 does not exist" in out.stderr


def test_an_interrupted_add_leaves_no_version(ws, tmp_path):
    path = tmp_path / "large.bin"
    with open(path, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(4 * 1024 * 1024))
    proc = subprocess.Popen([str(slipway_binary()), "data", "add", str(path), "--name", "large"],
                            cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.15)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    listed = slipway("data", "ls", "--json", cwd=ws, check=False)
    if listed.returncode == 0 and json.loads(listed.stdout)["datasets"]:
        # the add won the race: then it is whole
        out = tmp_path / "back.bin"
        slipway("data", "get", "large@1", "-o", out, cwd=ws)
        assert sha256(out) == sha256(path)
    again = data_json("add", path, "--name", "large", cwd=ws)
    assert again["version"] == 1
    # what the killed add left (a pack being written, a pack without its index) is gone
    store = ws / ".slipway" / "store"
    assert list((store / "tmp").iterdir()) == []
    packs = sorted(p.name for p in (store / "packs").iterdir())
    assert packs and {Path(p).stem for p in packs if p.endswith(".pack")} == \
        {Path(p).stem for p in packs if p.endswith(".idx")}, packs
    out = tmp_path / "back2.bin"
    slipway("data", "get", "large@1", "-o", out, cwd=ws)
    assert sha256(out) == sha256(path)


# ------------------------------------------------------------ rules and diff


@pytest.fixture
def churn_versions(ws, tmp_path):
    """churn@1 clean; rules inferred from it; faulty variants as further files."""
    clean = _write(churn_frame(), tmp_path / "churn.csv")
    slipway("data", "add", clean, "--name", "churn", cwd=ws)
    rules = tmp_path / "rules.yaml"
    rules.write_text(slipway("data", "infer-rules", "churn@1", cwd=ws).stdout)
    return clean, rules


def test_inferred_rules_pass_on_clean_data_and_fresh_clean_data(ws, tmp_path, churn_versions):
    clean, rules = churn_versions
    ok = slipway("data", "validate", "churn@1", "--rules", rules, cwd=ws)
    assert "churn@1" in ok.stdout
    # another clean sample of the same process passes the same rules
    _write(churn_frame(seed=8), clean)
    slipway("data", "add", clean, "--name", "churn", cwd=ws)
    report = json.loads(slipway("data", "validate", "churn@2", "--rules", rules,
                                "--reference", "churn@1", "--json", cwd=ws).stdout)
    assert report["ok"] is True, [r for r in report["results"] if not r["passed"]]


def _failing(report: dict) -> list[dict]:
    return [r for r in report["results"] if not r["passed"]]


FAULTS = {
    "missing values": (lambda f: f.assign(income=f["income"].mask(f.index % 5 == 0)), "income"),
    "shifted distribution": (lambda f: f.assign(income=f["income"] + 30_000), "income"),
    "new category": (lambda f: f.assign(plan=f["plan"].where(f.index % 50 != 0, "platinum")),
                     "plan"),
    "dropped column": (lambda f: f.drop(columns=["age"]), "age"),
    "duplicate ids": (lambda f: f.assign(customer_id=f["customer_id"].where(f.index != 10, 5)),
                      "customer_id"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_rules_catch_injected_faults(ws, tmp_path, churn_versions, fault):
    clean, rules = churn_versions
    inject, column = FAULTS[fault]
    _write(inject(churn_frame()), clean)
    slipway("data", "add", clean, "--name", "churn", cwd=ws)
    out = slipway("data", "validate", "churn@2", "--rules", rules, "--reference", "churn@1",
                  "--json", cwd=ws, check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] is False
    failing = _failing(report)
    assert any(r.get("column") == column for r in failing), failing
    for r in failing:
        assert r["message"]
    text = slipway("data", "validate", "churn@2", "--rules", rules, "--reference", "churn@1",
                   cwd=ws, check=False)
    assert text.returncode == 1 and column in text.stdout


def test_rule_files_with_errors_name_line_and_column(ws, tmp_path, churn_versions):
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  age:\n    type: integer-ish\n")
    out = slipway("data", "validate", "churn@1", "--rules", bad, cwd=ws, check=False)
    assert out.returncode == 1
    assert "bad.yaml:3:" in out.stderr and "integer-ish" in out.stderr, out.stderr


def test_diff_reports_schema_rows_statistics_and_drift(ws, tmp_path, churn_versions):
    clean, _ = churn_versions
    _write(churn_frame(n=6000, shift=2.0).drop(columns=["churned"]), clean)
    slipway("data", "add", clean, "--name", "churn", cwd=ws)
    diff = json.loads(slipway("data", "diff", "churn@1", "churn@2", "--json", cwd=ws).stdout)
    text = json.dumps(diff)
    assert "churned" in text  # the removed column
    assert "5000" in text and "6000" in text
    out = slipway("data", "diff", "churn@1", "churn@2", cwd=ws).stdout
    assert "churned" in out and "income" in out


# ------------------------------------------------------------ server: push, pull, REST, runs


def test_push_and_pull_through_the_server(server, ws, tmp_path, sklearn_csvs):
    env = {"SLIPWAY_TRACKING_URI": server.url}
    name = unique("wine")
    wine = sklearn_csvs["wine"]
    slipway("data", "add", wine, "--name", name, cwd=ws)
    frame = pd.read_csv(wine)
    v2 = _write(frame.iloc[:100], tmp_path / "wine-small.csv")
    slipway("data", "add", v2, "--name", name, cwd=ws)
    pushed = slipway("data", "push", name, cwd=ws, env=env)
    assert f"{name}@1" in pushed.stdout and f"{name}@2" in pushed.stdout
    again = slipway("data", "push", name, cwd=ws, env=env)
    assert "already on" in again.stdout

    r = requests.get(f"{server.url}/api/v1/datasets/{name}/versions")
    assert [v["version"] for v in r.json()["versions"]] == [1, 2]
    r = requests.get(f"{server.url}/api/v1/datasets/{name}/versions/2")
    got = r.json()["version"]
    assert got["row_count"] == 100 and got["content_digest"] == sha256(v2)
    assert got["profile"]["row_count"] == 100
    assert name in {d["name"] for d in requests.get(f"{server.url}/api/v1/datasets").json()
                    ["datasets"]}

    # the server profiles what it stores itself: a pushed profile is not trusted
    lying = {**got, "version": 1, "row_count": 7,
             "profile": {**got["profile"], "row_count": 7}}
    copy_name = unique("wine-copy")
    r = requests.post(f"{server.url}/api/v1/datasets/{copy_name}/versions", json=lying)
    assert r.status_code == 200, r.text
    stored = requests.get(f"{server.url}/api/v1/datasets/{copy_name}/versions/1").json()["version"]
    assert stored["row_count"] == 100 and stored["profile"]["row_count"] == 100

    other = tmp_path / "other"
    other.mkdir()
    pulled = slipway("data", "pull", f"{name}@2", cwd=other, env=env)
    assert f"{name}@1" in pulled.stdout and f"{name}@2" in pulled.stdout
    out = tmp_path / "pulled.csv"
    slipway("data", "get", f"{name}@1", "-o", out, cwd=other)
    assert out.read_bytes() == wine.read_bytes()

    # someone else's different first version conflicts instead of overwriting
    third = tmp_path / "third"
    third.mkdir()
    slipway("data", "add", sklearn_csvs["iris"], "--name", name, cwd=third)
    clash = slipway("data", "push", name, cwd=third, env=env, check=False)
    assert clash.returncode == 1 and "different content" in clash.stderr


def test_push_and_pull_move_many_chunks_in_a_few_packs(server, ws, tmp_path):
    """Push and pull move objects in bundles of many chunks, and each side
    stores them in pack files, not one file per chunk."""
    env = {"SLIPWAY_TRACKING_URI": server.url}
    name = unique("events")
    rng = np.random.default_rng(7)
    n = 1_500_000
    frame = pd.DataFrame({"id": np.arange(n), "x": rng.random(n).round(6),
                          "y": rng.normal(size=n).round(5),
                          "cat": rng.choice(["a", "b", "c"], n)})
    path = _write(frame, tmp_path / "events.csv")
    size = path.stat().st_size
    assert size > 2 * 16 << 20  # more than two 16 MiB push bundles
    added = data_json("add", path, "--name", name, cwd=ws)
    chunks = added["chunks_new"]
    assert chunks > 256  # more than one pull request's worth

    pushed = slipway("data", "push", name, cwd=ws, env=env)
    assert f"{chunks + 1} objects" in pushed.stdout, pushed.stdout  # and the manifest
    indexes = [f for f in server.stored_dataset_files("packs") if f.endswith(".idx")]
    assert 3 <= len(indexes) <= chunks // 100, indexes
    loose = server.stored_dataset_files("objects")
    assert len(loose) < 10, loose  # manifests, not chunks

    other = tmp_path / "other"
    other.mkdir()
    pulled = slipway("data", "pull", name, cwd=other, env=env)
    assert f"{chunks + 1} objects" in pulled.stdout, pulled.stdout
    assert len(list((other / ".slipway" / "store" / "packs").glob("*.idx"))) == 1
    out = tmp_path / "pulled.csv"
    slipway("data", "get", f"{name}@1", "-o", out, cwd=other)
    assert out.stat().st_size == size and sha256(out) == sha256(path)


def test_concurrent_adds_and_pushes_all_finish_with_their_content(server, tmp_path):
    """Three workspaces add a table each at once, then push at once: the server
    imports (and profiles) the three concurrently on its data executor, and
    every version ends with the content and profile of its own file."""
    env = {"SLIPWAY_TRACKING_URI": server.url}
    rng = np.random.default_rng(11)
    n = 450_000
    jobs = []
    for i in range(3):
        folder = tmp_path / f"ws{i}"
        folder.mkdir()
        frame = pd.DataFrame({"id": np.arange(n) + i * n, "x": rng.normal(size=n).round(6),
                              "cat": rng.choice(["a", "b", "c", "d"], n),
                              "flag": rng.choice(["true", "false"], n)})
        path = _write(frame, tmp_path / f"table{i}.csv")
        assert path.stat().st_size > 8 << 20  # more than one read buffer
        jobs.append((folder, path, unique(f"conc{i}")))

    def run_all(make_args):
        procs = [subprocess.Popen([str(slipway_binary()), *map(str, make_args(*job))], cwd=job[0],
                                  env={**os.environ, **env}, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for job in jobs]
        outs = [p.communicate(timeout=300) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
        return [out for out, _ in outs]

    added = run_all(lambda folder, path, name: ("data", "add", path, "--name", name, "--json"))
    for (folder, path, name), out in zip(jobs, added):
        assert json.loads(out)["content_digest"] == sha256(path)
    run_all(lambda folder, path, name: ("data", "push", name))
    for folder, path, name in jobs:
        r = requests.get(f"{server.url}/api/v1/datasets/{name}/versions/1")
        assert r.status_code == 200, r.text
        got = r.json()["version"]
        assert got["content_digest"] == sha256(path)
        assert got["row_count"] == n and got["profile"]["row_count"] == n
    # one of them back from the server, byte for byte
    folder, path, name = jobs[1]
    other = tmp_path / "other"
    other.mkdir()
    slipway("data", "pull", name, cwd=other, env=env)
    out = tmp_path / "pulled.csv"
    slipway("data", "get", f"{name}@1", "-o", out, cwd=other)
    assert sha256(out) == sha256(path)


def _bundle(*objects: bytes) -> bytes:
    return b"".join(f"{hashlib.sha256(o).hexdigest()} {len(o)}\n".encode() + o for o in objects)


def test_object_bundles_over_rest(server, ws, sklearn_csvs):
    api = f"{server.url}/api/v1/datasets/objects"
    pushing = unique("bundles")
    a, b = os.urandom(5000), b"beta" * 3000
    da, db = hashlib.sha256(a).hexdigest(), hashlib.sha256(b).hexdigest()
    body = _bundle(a, b)

    # an object that does not hash to its digest: nothing of the bundle is stored
    wrong = body + f"{'0' * 64} 1\n".encode() + b"y"
    assert_mlflow_error(requests.put(f"{api}/bundle", data=wrong), 400,
                        "INVALID_PARAMETER_VALUE", "object 3 of the bundle (nothing stored)")
    # a body that ends early, and a bad header, say which object and where
    assert_mlflow_error(requests.put(f"{api}/bundle", data=body[:-10]), 400,
                        "INVALID_PARAMETER_VALUE", f"object 2 (at byte {len(body) - len(b) - 71})")
    assert_mlflow_error(requests.put(f"{api}/bundle", data=b"xyz 3\nabc"), 400,
                        "INVALID_PARAMETER_VALUE", "object 1 (at byte 0)")
    r = requests.post(f"{api}/missing", json={"dataset": pushing, "digests": [da, db]})
    assert r.json()["missing"] == [da, db]
    assert_mlflow_error(requests.post(f"{api}/missing", json={"digests": [da]}), 400,
                        "INVALID_PARAMETER_VALUE", "dataset")

    r = requests.put(f"{api}/bundle", data=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"objects": 2, "new_objects": 2, "new_bytes": len(a) + len(b)}
    assert requests.put(f"{api}/bundle", data=body).json()["new_objects"] == 0
    r = requests.post(f"{api}/missing", json={"dataset": pushing, "digests": [da, db]})
    assert r.json()["missing"] == []

    # objects are read through a version that holds them
    name = unique("iris")
    slipway("data", "add", sklearn_csvs["iris"], "--name", name, cwd=ws)
    slipway("data", "push", name, cwd=ws, env={"SLIPWAY_TRACKING_URI": server.url})
    held = requests.get(f"{server.url}/api/v1/datasets/{name}/versions/1/objects").json()["objects"]
    r = requests.post(f"{api}/fetch", json={"dataset": f"{name}@1", "digests": held[::-1]})
    assert r.status_code == 200
    expected = [requests.get(f"{api}/{d}", params={"dataset": f"{name}@1"}).content
                for d in held[::-1]]
    assert r.content == _bundle(*expected)
    assert hashlib.sha256(expected[-1]).hexdigest() == held[0]
    for r in (requests.post(f"{api}/fetch", json={"dataset": f"{name}@1", "digests": [da]}),
              requests.get(f"{api}/{da}", params={"dataset": f"{name}@1"})):
        assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", f"{da} is not part of {name}@1")
    assert_mlflow_error(requests.post(f"{api}/fetch", json={"digests": held}), 400,
                        "INVALID_PARAMETER_VALUE", "dataset")
    assert_mlflow_error(requests.get(f"{api}/{da}"), 400, "INVALID_PARAMETER_VALUE", "dataset")
    assert_mlflow_error(requests.post(f"{api}/fetch", json={"dataset": f"{name}@1",
                                                            "digests": held * 4097}), 400,
                        "INVALID_PARAMETER_VALUE", "at most 4096")


def test_dataset_rest_errors(server):
    api = f"{server.url}/api/v1/datasets"
    assert_mlflow_error(requests.get(f"{api}/{unique('nope')}/versions"), 404,
                        "RESOURCE_DOES_NOT_EXIST")
    assert_mlflow_error(requests.get(f"{api}/bad%20name/versions/1"), 400,
                        "INVALID_PARAMETER_VALUE", "Invalid dataset name")
    digest = hashlib.sha256(b"hello").hexdigest()
    r = requests.put(f"{api}/objects/{digest}", data=b"not hello")
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "nothing stored")
    r = requests.put(f"{api}/objects/NOTHEX", data=b"x")
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid object digest")
    pushing = unique("ds")
    r = requests.post(f"{api}/objects/missing", json={"dataset": pushing, "digests": [digest]})
    assert r.json()["missing"] == [digest]
    assert requests.put(f"{api}/objects/{digest}", data=b"hello").status_code == 200
    assert requests.post(f"{api}/objects/missing",
                         json={"dataset": pushing, "digests": [digest]}).json()["missing"] == []
    # stored, but read only through a version that holds it
    assert_mlflow_error(requests.get(f"{api}/objects/{digest}", params={"dataset": f"{pushing}@1"}),
                        404, "RESOURCE_DOES_NOT_EXIST", pushing)
    r = requests.post(f"{api}/{unique('ds')}/versions",
                      json={"version": 1, "manifest_digest": "0" * 64, "content_digest": "1" * 64})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "missing")


def test_a_run_uses_a_dataset_version_and_validation_is_logged_to_it(
        server, mlflow_client, ws, tmp_path, churn_versions):
    env = {"SLIPWAY_TRACKING_URI": server.url}
    _, rules = churn_versions
    exp = mlflow_client.create_experiment(unique("data-exp"))
    run_id = mlflow_client.create_run(exp).info.run_id
    used = slipway("data", "use", "churn@1", "--run", run_id, cwd=ws, env=env)
    assert "churn@1" in used.stdout
    version = data_json("show", "churn@1", cwd=ws)
    inputs = mlflow_client.get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    ds = inputs[0].dataset
    assert ds.name == "churn" and ds.digest == version["content_digest"][:32]
    assert ds.source_type == "slipway" and "slipway-dataset://churn@1" in ds.source
    assert json.loads(ds.schema)["mlflow_colspec"][0]["name"] == "customer_id"
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"

    slipway("data", "validate", "churn@1", "--rules", rules, "--run", run_id, cwd=ws, env=env)
    run = mlflow_client.get_run(run_id)
    assert run.data.tags["validation.churn.v1"] == "passed"
    assert run.data.metrics["validation.churn.v1.failed_rules"] == 0
    files = [f.path for f in mlflow_client.list_artifacts(run_id, "validation")]
    assert files == ["validation/churn@1.json"]
    local = mlflow_client.download_artifacts(run_id, "validation/churn@1.json", str(tmp_path))
    assert json.loads(Path(local).read_text())["ok"] is True

    # the lineage of a model trained in that run leads back to the data
    name = unique("churn-model")
    mlflow_client.create_registered_model(name)
    mlflow_client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    lineage = requests.get(f"{server.url}/api/v1/lineage/model-versions/{name}/1").json()
    assert [(d["name"], d["digest"]) for d in lineage["datasets"]] == \
        [("churn", version["content_digest"][:32])]


def test_validate_diff_and_rules_over_rest(server, ws, tmp_path):
    env = {"SLIPWAY_TRACKING_URI": server.url}
    name = unique("churn-rest")
    path = _write(churn_frame(), tmp_path / "c.csv")
    slipway("data", "add", path, "--name", name, cwd=ws)
    _write(churn_frame(seed=9, shift=2.0).drop(columns=["age"]), path)
    slipway("data", "add", path, "--name", name, cwd=ws)
    slipway("data", "push", name, cwd=ws, env=env)
    api = f"{server.url}/api/v1/datasets/{name}/versions"

    rules = requests.get(f"{api}/1/rules")
    assert rules.status_code == 200 and f"reference: {name}@1" in rules.text
    ok = requests.post(f"{api}/1/validate", json={"rules": rules.text})
    assert ok.status_code == 200 and ok.json()["ok"] is True, ok.text
    bad = requests.post(f"{api}/2/validate", json={"rules": rules.text}).json()
    assert bad["ok"] is False and bad["dataset"] == f"{name}@2"
    failing = {(r["rule"], r["column"]) for r in bad["results"] if not r["passed"]}
    assert any(col == "age" for _, col in failing), failing
    assert any(rule.startswith("drift") and col == "income" for rule, col in failing), failing

    diff = requests.get(f"{api}/1/diff", params={"other": f"{name}@2"}).json()
    assert diff["schema"]["removed"] == ["age"]
    assert diff["rows"]["before"] == 5000 and diff["rows"]["after"] == 5000
    income = next(c for c in diff["columns"] if c["column"] == "income")
    assert income["drift"]["psi"] > 0.2

    r = requests.post(f"{api}/1/validate", json={"rules": "columns:\n  age: {maxx: 1}\n"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "rules:2:")
    r = requests.get(f"{api}/1/diff")
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "other")
