"""Operating the server: /health, /metrics, SIGTERM, restarts and the schema version."""

from __future__ import annotations

import gzip
import http.client
import json
import math
import re
import signal
import socket
import sqlite3
import threading
import time

import pytest
import requests

from conftest import unique

pytestmark = pytest.mark.slipway_only

# ------------------------------------------------------------- Prometheus parsing

_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r"(?:\{(?P<labels>[^}]*)\})?"
    r" (?P<value>\S+)(?: (?P<ts>-?\d+))?$"
)
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_prometheus(text: str):
    """Strict-enough parser of the text exposition format (version 0.0.4).

    Returns (families, samples): families maps name -> {"type", "help"};
    samples is a list of (name, labels dict, float value). Fails the test on any
    line that is not valid exposition format.
    """
    families: dict[str, dict] = {}
    samples = []
    assert text.endswith("\n"), "exposition must end with a newline"
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in families or "help" not in families[name], f"dup HELP {name}"
            families.setdefault(name, {})["help"] = help_text
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert "type" not in families.get(name, {}), f"duplicate TYPE for {name}"
            families.setdefault(name, {})["type"] = typ
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"line {lineno} is not a valid sample: {line!r}"
        labels = {}
        raw = m.group("labels")
        if raw:
            pos = 0
            while pos < len(raw):
                lm = _LABEL.match(raw, pos)
                assert lm, f"line {lineno}: bad labels {raw!r}"
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        value = m.group("value")
        v = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}.get(value)
        if v is None:
            v = float(value)
        samples.append((m.group("name"), labels, v))
    # every sample belongs to a declared family
    for name, _, _ in samples:
        base = re.sub(r"_(bucket|sum|count|total|created)$", "", name)
        fam = name if name in families else base if base in families else None
        if fam is None and name.endswith("_total"):
            fam = name
        assert fam in families, f"sample {name} has no # TYPE line"
        assert "type" in families[fam] and "help" in families[fam], f"{fam}: HELP and TYPE"
    return families, samples


def _scrape(server):
    r = requests.get(f"{server.url}/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    return parse_prometheus(r.text)


def _value(samples, name, **labels):
    found = [v for n, lab, v in samples
             if n == name and all(lab.get(k) == val for k, val in labels.items())]
    return sum(found)


# ----------------------------------------------------------------------- health


def test_health(server):
    r = requests.get(f"{server.url}/health", timeout=5)
    assert r.status_code == 200
    assert r.text.strip().upper() == "OK"


def test_metrics_exposition(server):
    _scrape(server)  # make sure /metrics itself is known before counting
    _, before = _scrape(server)
    n = 7
    for _ in range(n):
        r = requests.get(f"{server.api}/runs/get",
                         params={"run_id": "0123456789abcdef0123456789abcdef"}, timeout=5)
        assert r.status_code == 404
    exp = requests.post(f"{server.api}/experiments/create", json={"name": unique("m")},
                        timeout=5)
    assert exp.status_code == 200
    bad = requests.post(f"{server.api}/experiments/create", json={"name": ""}, timeout=5)
    assert bad.status_code == 400

    families, after = _scrape(server)
    assert families["slipway_http_requests_total"]["type"] == "counter"
    assert families["slipway_http_request_duration_seconds"]["type"] == "histogram"

    def req_count(samples, route, method, status):
        return _value(samples, "slipway_http_requests_total", route=route, method=method,
                      status=status)

    runs_get = [lab["route"] for n, lab, _ in after
                if n == "slipway_http_requests_total" and lab.get("status") == "404"
                and lab.get("method") == "GET" and "runs/get" in lab.get("route", "")]
    assert runs_get, "no requests_total sample for the runs/get route with status 404"
    route = runs_get[0]
    assert req_count(after, route, "GET", "404") - req_count(before, route, "GET", "404") == n
    create_routes = {lab["route"] for n_, lab, _ in after
                     if n_ == "slipway_http_requests_total"
                     and "experiments/create" in lab.get("route", "")}
    assert len(create_routes) == 1
    croute = create_routes.pop()
    assert req_count(after, croute, "POST", "200") - req_count(before, croute, "POST", "200") == 1
    assert req_count(after, croute, "POST", "400") - req_count(before, croute, "POST", "400") == 1

    # the histogram: per label set, le strictly increasing, cumulative counts, +Inf == _count
    hist = "slipway_http_request_duration_seconds"
    series: dict[tuple, list] = {}
    for name, lab, v in after:
        if name == f"{hist}_bucket":
            key = tuple(sorted((k, x) for k, x in lab.items() if k != "le"))
            series.setdefault(key, []).append((float(lab["le"]), v))
    assert series, "histogram has no buckets"
    for key, buckets in series.items():
        les = [le for le, _ in buckets]
        assert les == sorted(les) and len(set(les)) == len(les), (key, les)
        assert les[-1] == math.inf, f"{key}: last bucket must be +Inf"
        counts = [c for _, c in buckets]
        assert all(a <= b for a, b in zip(counts, counts[1:])), (key, counts)
        labels = dict(key)
        count = _value(after, f"{hist}_count", **labels)
        total = _value(after, f"{hist}_sum", **labels)
        assert counts[-1] == count, (key, counts[-1], count)
        assert total >= 0
        assert "route" in labels and "method" in labels
    rkey = tuple(sorted({"route": route, "method": "GET"}.items()))
    assert rkey in series, f"no histogram series for {route} GET: {list(series)[:5]}"
    before_count = _value(before, f"{hist}_count", route=route, method="GET")
    assert _value(after, f"{hist}_count", route=route, method="GET") - before_count == n


def test_metrics_route_label_does_not_explode(server):
    """Unknown ids in the path must not create one series per id (bounded cardinality)."""
    for i in range(5):
        requests.get(f"{server.artifacts_api}/0/{unique('card')}/x{i}.txt", timeout=5)
    _, samples = _scrape(server)
    routes = {lab.get("route") for n, lab, _ in samples if n == "slipway_http_requests_total"}
    assert not any("card-" in (r or "") for r in routes), routes


# ------------------------------------------------------------------------ SIGTERM


def test_sigterm_idle_exits_zero_quickly(fresh_server):
    t0 = time.monotonic()
    code = fresh_server.stop(timeout=10)
    elapsed = time.monotonic() - t0
    assert code == 0, fresh_server.stderr_tail()
    assert elapsed < 5.0, f"idle server took {elapsed:.1f}s to exit on SIGTERM"


def test_sigterm_with_idle_keepalive_connections(fresh_server):
    """Idle keep-alive connections (the mlflow client pools them) must not hold up exit."""
    sessions = [requests.Session() for _ in range(8)]
    for s in sessions:
        assert s.get(f"{fresh_server.url}/health", timeout=5).status_code == 200
    t0 = time.monotonic()
    code = fresh_server.stop(timeout=15)
    elapsed = time.monotonic() - t0
    for s in sessions:
        s.close()
    assert code == 0, fresh_server.stderr_tail()
    assert elapsed < 5.0, f"server with idle keep-alive connections took {elapsed:.1f}s to exit"


def _slow_request(server, method, path, body: bytes, first: int, result: dict,
                  started: threading.Event, pause: float):
    try:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        conn.putrequest(method, path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        conn.send(body[:first])
        started.set()
        time.sleep(pause)
        conn.send(body[first:])
        resp = conn.getresponse()
        result["status"] = resp.status
        result["body"] = resp.read()
        conn.close()
    except Exception as e:  # noqa: BLE001 - reported by the test
        result["error"] = repr(e)
        started.set()


def test_sigterm_mid_request_finishes_it_and_exits_zero(fresh_server, fresh_mlflow_client):
    srv = fresh_server
    exp_id = fresh_mlflow_client.create_experiment(unique("mid"))
    run_id = fresh_mlflow_client.create_run(exp_id).info.run_id
    body = json.dumps({"run_id": run_id, "metrics": [
        {"key": "inflight", "value": float(i), "timestamp": 1000 + i, "step": i}
        for i in range(1000)]}).encode()
    result: dict = {}
    started = threading.Event()
    t = threading.Thread(target=_slow_request, args=(
        srv, "POST", "/api/2.0/mlflow/runs/log-batch", body, len(body) // 2, result, started,
        1.0))
    t.start()
    assert started.wait(10)
    time.sleep(0.2)  # the server is now reading the half-sent body
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    t.join(20)
    code = srv.stop(timeout=10)
    elapsed = time.monotonic() - t0
    assert code == 0, srv.stderr_tail()
    assert elapsed < 5.0, f"took {elapsed:.1f}s to exit"
    assert result.get("status") == 200, f"in-flight request was not completed: {result}"

    # new connections are refused once it has stopped
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{srv.url}/health", timeout=2)

    srv.start()
    hist = fresh_mlflow_client.get_metric_history(run_id, "inflight")
    assert sorted(m.step for m in hist) == list(range(1000))


def test_sigterm_mid_artifact_upload(fresh_server):
    srv = fresh_server
    payload = bytes(range(256)) * (4 * 4096)  # 4 MiB
    rel = f"0/{unique('up')}/artifacts/slow.bin"
    result: dict = {}
    started = threading.Event()
    t = threading.Thread(target=_slow_request, args=(
        srv, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{rel}", payload, 1024 * 1024, result,
        started, 1.0))
    t.start()
    assert started.wait(10)
    time.sleep(0.2)
    srv.proc.send_signal(signal.SIGTERM)
    t.join(20)
    code = srv.stop(timeout=10)
    assert code == 0, srv.stderr_tail()
    assert result.get("status") == 200, f"in-flight upload was not completed: {result}"
    assert (srv.artifacts_dir / rel).read_bytes() == payload


def test_sigint_also_exits_zero(fresh_server):
    fresh_server.proc.send_signal(signal.SIGINT)
    assert fresh_server.proc.wait(timeout=10) == 0, fresh_server.stderr_tail()


# ------------------------------------------------------------------ restart, schema


def test_restart_keeps_everything(fresh_server, fresh_mlflow_client, tmp_path):
    import mlflow

    client = fresh_mlflow_client
    name = unique("restart")
    exp_id = client.create_experiment(name, tags={"k": "v"})
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_run(run_name="persisted") as run:
        mlflow.log_params({"a": "1", "b": "two"})
        for step in range(20):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=5000 + step)
        mlflow.set_tag("t", "x")
        mlflow.log_text("artifact body", "notes/readme.txt")
    deleted = client.create_run(exp_id, run_name="deleted").info.run_id
    client.delete_run(deleted)
    before_run = client.get_run(run.info.run_id)
    before_hist = [(m.step, m.value, m.timestamp)
                   for m in client.get_metric_history(run.info.run_id, "loss")]

    for _ in range(2):
        fresh_server.restart()

    exp = client.get_experiment_by_name(name)
    assert exp.experiment_id == exp_id and exp.tags["k"] == "v"
    after_run = client.get_run(run.info.run_id)
    assert after_run.data.params == before_run.data.params == {"a": "1", "b": "two"}
    assert after_run.data.metrics == before_run.data.metrics
    assert after_run.data.tags == before_run.data.tags
    assert after_run.info.status == "FINISHED"
    assert after_run.info.end_time == before_run.info.end_time
    assert [(m.step, m.value, m.timestamp)
            for m in client.get_metric_history(run.info.run_id, "loss")] == before_hist
    assert client.get_run(deleted).info.lifecycle_stage == "deleted"
    assert mlflow.artifacts.load_text(f"{run.info.artifact_uri}/notes/readme.txt") == (
        "artifact body")
    # ids keep being unique after a restart
    new_exp = client.create_experiment(unique("after"))
    assert new_exp != exp_id
    assert client.get_experiment(new_exp).lifecycle_stage == "active"


def test_schema_version_persisted(fresh_server):
    srv = fresh_server
    assert srv.stop() == 0
    with sqlite3.connect(srv.store_path) as db:
        rows = db.execute(
            "SELECT version, description, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
        journal = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert rows, "no schema_migrations rows recorded"
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert journal.lower() == "wal"

    srv.start()
    assert srv.stop() == 0
    with sqlite3.connect(srv.store_path) as db:
        again = db.execute(
            "SELECT version, description, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    assert again == rows, "restarting re-applied or rewrote migrations"
    srv.start()
    assert requests.get(f"{srv.url}/health", timeout=5).status_code == 200


def test_store_from_newer_version_is_refused(fresh_server):
    srv = fresh_server
    assert srv.stop() == 0
    with sqlite3.connect(srv.store_path) as db:
        db.execute("INSERT INTO schema_migrations (version, description, applied_at) "
                   "VALUES (9999, 'from the future', 0)")
    proc_out = srv.data_dir / "future.out"
    import subprocess

    with open(proc_out, "wb") as out:
        p = subprocess.run(srv.command(), stdout=out, stderr=subprocess.STDOUT, timeout=20,
                           cwd=srv.data_dir)
    text = proc_out.read_text(errors="replace")
    assert p.returncode != 0, "server started on a store from a newer Slipway"
    assert "9999" in text and "newer" in text.lower(), text[-2000:]
    with sqlite3.connect(srv.store_path) as db:
        db.execute("DELETE FROM schema_migrations WHERE version = 9999")
    srv.start()


def test_port_in_use_fails_clearly(server_factory):
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    srv = server_factory()
    srv.port = port
    import subprocess

    try:
        srv.data_dir.mkdir(parents=True, exist_ok=True)
        p = subprocess.run(srv.command(), capture_output=True, timeout=20, cwd=srv.data_dir)
    finally:
        holder.close()
    assert p.returncode != 0
    text = (p.stdout + p.stderr).decode(errors="replace")
    assert str(port) in text, text[-2000:]


def test_concurrent_writers_to_one_run(server):
    """Eight threads logging distinct steps of one metric of one run: nothing lost."""
    exp = requests.post(f"{server.api}/experiments/create", json={"name": unique("one")},
                        timeout=10).json()["experiment_id"]
    rid = requests.post(f"{server.api}/runs/create", json={"experiment_id": exp},
                        timeout=10).json()["run"]["info"]["run_id"]
    failures = []

    def work(i):
        with requests.Session() as s:
            for j in range(40):
                step = i * 1000 + j
                if j % 4 == 0:
                    body = {"run_id": rid, "metrics": [
                        {"key": "shared", "value": float(step + k), "timestamp": 1,
                         "step": step + k} for k in range(100, 110)]}
                    r = s.post(f"{server.api}/runs/log-batch", json=body, timeout=30)
                else:
                    r = s.post(f"{server.api}/runs/log-metric", json={
                        "run_id": rid, "key": "shared", "value": float(step), "timestamp": 1,
                        "step": step}, timeout=30)
                if r.status_code != 200:
                    failures.append(r.text)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    expected = set()
    for i in range(8):
        for j in range(40):
            step = i * 1000 + j
            if j % 4 == 0:
                expected |= {step + k for k in range(100, 110)}
            else:
                expected.add(step)
    r = requests.get(f"{server.api}/metrics/get-history",
                     params={"run_id": rid, "metric_key": "shared"}, timeout=30)
    got = [(int(m["step"]), m["value"]) for m in r.json()["metrics"]]
    assert sorted(s for s, _ in got) == sorted(expected)
    assert all(v == float(s) for s, v in got)


def test_concurrent_clients(fresh_server, fresh_mlflow_client):
    """Many threads writing at once: every write acknowledged, every value read back."""
    client = fresh_mlflow_client
    exp_id = client.create_experiment(unique("conc"))
    run_ids = [client.create_run(exp_id).info.run_id for _ in range(8)]
    errors = []

    def work(i, rid):
        s = requests.Session()
        try:
            for step in range(50):
                r = s.post(f"{fresh_server.api}/runs/log-metric", json={
                    "run_id": rid, "key": "c", "value": float(i * 1000 + step),
                    "timestamp": 1, "step": step}, timeout=30)
                if r.status_code != 200:
                    errors.append(r.text)
            r = s.post(f"{fresh_server.api}/runs/log-parameter",
                       json={"run_id": rid, "key": "who", "value": str(i)}, timeout=30)
            if r.status_code != 200:
                errors.append(r.text)
        finally:
            s.close()

    threads = [threading.Thread(target=work, args=(i, rid)) for i, rid in enumerate(run_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for i, rid in enumerate(run_ids):
        hist = client.get_metric_history(rid, "c")
        assert sorted(m.value for m in hist) == [float(i * 1000 + s) for s in range(50)]
        assert client.get_run(rid).data.params == {"who": str(i)}


def test_a_stderr_nobody_reads_costs_log_lines_not_answers(tmp_path):
    """The access log goes to stderr through a bounded queue: when stderr is a
    pipe nobody reads (a stalled log collector), the oldest lines are dropped
    and counted, and the server keeps answering. (Written synchronously, the
    server stopped answering after about 500 requests.)"""
    import subprocess

    from conftest import free_port, slipway_binary

    port = free_port()
    proc = subprocess.Popen([str(slipway_binary()), "server", "--port", str(port),
                             "--data-dir", str(tmp_path / "data")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # never read
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/health", timeout=1)
                break
            except requests.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        session = requests.Session()
        for _ in range(15000):
            assert session.get(f"{url}/health", timeout=5).status_code == 200
        metrics = session.get(f"{url}/metrics", timeout=5).text
        dropped = re.search(r"^slipway_access_log_dropped_total (\S+)$", metrics, re.M)
        assert dropped and float(dropped.group(1)) > 0, metrics[:2000]
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_large_api_replies_are_gzipped_for_clients_that_accept_it(server, mlflow_client):
    """A search's JSON is sent gzipped to a client that accepts gzip (browsers,
    python-requests, hence the mlflow client), as is to every other client,
    and the mlflow client reads it unchanged."""
    experiment_id = mlflow_client.create_experiment(unique("gzip"))
    for i in range(40):
        run = mlflow_client.create_run(experiment_id, run_name=f"gzip-run-{i:02d}")
        mlflow_client.log_param(run.info.run_id, "alpha", str(i))
    url = f"{server.url}/api/2.0/mlflow/runs/search"
    body = {"experiment_ids": [experiment_id], "max_results": 100}

    plain = requests.post(url, json=body, headers={"Accept-Encoding": "identity"}, timeout=30)
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    assert int(plain.headers["Content-Length"]) == len(plain.content)

    packed = requests.post(url, json=body, headers={"Accept-Encoding": "gzip"}, timeout=30,
                           stream=True)
    assert packed.headers["Content-Encoding"] == "gzip"
    wire = packed.raw.read(decode_content=False)
    assert int(packed.headers["Content-Length"]) == len(wire)
    assert len(wire) * 4 < len(plain.content), (len(wire), len(plain.content))
    assert json.loads(gzip.decompress(wire)) == plain.json()

    # A small reply is not worth it; the client's own view is the same either way.
    small = requests.get(f"{server.url}/api/2.0/mlflow/experiments/get",
                         params={"experiment_id": experiment_id},
                         headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert "Content-Encoding" not in small.headers
    runs = mlflow_client.search_runs([experiment_id], max_results=100)
    assert sorted(r.info.run_name for r in runs) == [f"gzip-run-{i:02d}" for i in range(40)]
