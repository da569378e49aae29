"""The HTTP core under abuse: floods of idle and slow connections, bodies that are
large, compressed or endless before anyone has signed in, header floods, and the
access log. Tried as an attacker would, against a real `slipway server` process on
loopback; every loop here is bounded in count and time.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import resource
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import SlipwayServer, slipway_binary, unique

pytestmark = pytest.mark.slipway_only

ADMIN = ("admin", "admin-Pa55word!")


def _status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def rss_mb(srv: SlipwayServer) -> float:
    return int(_status(srv.proc.pid)["VmRSS"].split()[0]) / 1024


def threads(srv: SlipwayServer) -> int:
    return int(_status(srv.proc.pid)["Threads"])


def open_fds(srv: SlipwayServer) -> int:
    return len(list(Path(f"/proc/{srv.proc.pid}/fd").iterdir()))


def _raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(wanted, soft)), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < wanted:
        pytest.skip(f"this process may open only {soft} files; the test needs {wanted}")


def _connect(srv: SlipwayServer) -> socket.socket:
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _read_reply(s: socket.socket, limit: float = 10.0) -> bytes:
    """One reply (headers and a Content-Length body) or what came before the close."""
    s.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"content-length:\s*(\d+)", head, re.I)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _status_of(reply: bytes) -> int:
    assert reply.startswith(b"HTTP/1.1 "), reply[:200]
    return int(reply.split(b" ", 2)[1])


@pytest.fixture
def flood_server(tmp_path_factory):
    # Connections may idle longer than the test takes.
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("flood"),
                        extra_args=["--header-timeout", "120", "--no-access-log"])
    srv.start()
    yield srv
    srv.assert_clean_exit()


def test_idle_and_trickling_connections_cost_memory_not_threads(flood_server):
    """2,000 idle keep-alive connections plus 200 clients sending a header byte a
    second: a new client's /health and log-metric still answer, the server starts no
    thread for them, and what they cost in memory is bounded."""
    srv = flood_server
    _raise_fd_limit(2600)
    threads_before = threads(srv)
    rss_before = rss_mb(srv)
    exp = srv.post("experiments/create", {"name": unique("flood")}).json()["experiment_id"]
    run_id = srv.post("runs/create", {"experiment_id": exp}).json()["run"]["info"]["run_id"]

    idle: list[socket.socket] = []
    slow: list[socket.socket] = []
    stop = threading.Event()
    try:
        # Idle keep-alive: one whole request each, then silence.
        for _ in range(2000):
            s = _connect(srv)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _status_of(_read_reply(s)) == 200
            idle.append(s)
        for _ in range(200):
            s = _connect(srv)
            slow.append(s)
        request = b"POST /api/2.0/mlflow/runs/log-metric HTTP/1.1\r\nHost: x\r\nX-Pad: "

        def trickle():
            for i in range(30):  # a byte a second per client, for at most 30 s
                if stop.is_set():
                    return
                for s in slow:
                    try:
                        s.send(request[i:i + 1] if i < len(request) else b"a")
                    except OSError:
                        pass
                stop.wait(1.0)

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        time.sleep(3)  # the trickle is under way

        # A new client is served, reads and writes alike.
        t0 = time.monotonic()
        r = requests.get(f"{srv.url}/health", timeout=5)
        assert r.status_code == 200
        r = srv.post("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.5,
                                         "timestamp": 1, "step": 0}, timeout=5)
        assert r.status_code == 200, r.text
        r = srv.get("metrics/get-history", {"run_id": run_id, "metric_key": "m"}, timeout=5)
        assert [m["value"] for m in r.json()["metrics"]] == [1.5]
        answered_in = time.monotonic() - t0

        held = open_fds(srv)
        assert held >= 2200, f"the server holds {held} descriptors: connections were dropped"
        threads_during = threads(srv)
        rss_during = rss_mb(srv)
        assert threads_during == threads_before, (
            f"threads went from {threads_before} to {threads_during} for idle connections")
        per_connection_kb = (rss_during - rss_before) * 1024 / 2200
        print(f"\n2,200 connections held: RSS {rss_before:.1f} -> {rss_during:.1f} MB "
              f"({per_connection_kb:.1f} KB each), threads {threads_before} -> "
              f"{threads_during}, new client answered in {answered_in * 1000:.0f} ms")
        assert rss_during - rss_before < 200, f"RSS grew {rss_during - rss_before:.0f} MB"
    finally:
        stop.set()
        for s in idle + slow:
            s.close()


def test_a_slow_header_is_cut_off_at_the_deadline(tmp_path_factory):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("deadline"),
                        extra_args=["--header-timeout", "1"]).start()
    try:
        s = _connect(srv)
        s.sendall(b"GET /hea")
        t0 = time.monotonic()
        s.settimeout(10)
        assert s.recv(100) == b""  # closed by the server, without a reply
        assert time.monotonic() - t0 < 5
        s.close()
        assert requests.get(f"{srv.url}/health", timeout=5).status_code == 200
    finally:
        srv.assert_clean_exit()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("limits-auth"),
                        extra_args=["--auth"], env={"SLIPWAY_ADMIN_PASSWORD": ADMIN[1]})
    srv.start()
    yield srv
    srv.assert_clean_exit()


def test_compressed_bodies_before_sign_in_are_never_read(auth_server):
    """Four unauthenticated gzip bombs (0.5 MB each, ~500 MB inflated) are refused from
    their headers; a signed-in one is refused once it inflates past the limit."""
    srv = auth_server
    bomb = gzip.compress(b"0" * (512 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    base = rss_mb(srv)
    url = f"{srv.api}/experiments/create"
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    results = []

    def send():
        results.append(requests.post(url, data=bomb, headers=headers, timeout=30).status_code)

    workers = [threading.Thread(target=send) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert results == [401] * 4
    r = requests.post(url, data=bomb, headers=headers, auth=ADMIN, timeout=60)
    assert r.status_code == 413, r.text[:300]
    assert "decompressed" in r.json()["message"]
    grown = rss_mb(srv) - base
    assert grown < 100, f"RSS grew {grown:.0f} MB for bodies that were refused"
    # A small compressed body from a signed-in user works.
    r = requests.post(url, data=gzip.compress(json.dumps({"name": unique("gz")}).encode()),
                      headers=headers, auth=ADMIN, timeout=30)
    assert r.status_code == 200, r.text


def test_endless_bodies_and_header_floods_are_refused_without_buffering(auth_server):
    srv = auth_server
    base = rss_mb(srv)
    # 100 MB chunked to an unknown path, and to a route without credentials: the
    # reply comes from the headers; the body is never held.
    for path in (b"/no/such/path", b"/api/2.0/mlflow/runs/log-batch"):
        s = _connect(srv)
        s.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/json\r\n\r\n")
        chunk = b"%x\r\n" % (1024 * 1024) + b"x" * (1024 * 1024) + b"\r\n"
        sent = 0
        try:
            s.settimeout(5)
            for _ in range(100):
                s.sendall(chunk)
                sent += 1
        except OSError:
            pass  # the server stopped reading: what a flood should meet
        status = _status_of(_read_reply(s))
        assert status in (401, 404), status
        s.close()
    # 500,000 headers.
    s = _connect(srv)
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        s.settimeout(5)
        for _ in range(500):
            s.sendall(b"X-A: b\r\n" * 1000)
    except OSError:
        pass
    assert _status_of(_read_reply(s)) == 431
    s.close()
    grown = rss_mb(srv) - base
    assert grown < 50, f"RSS grew {grown:.0f} MB"
    assert requests.get(f"{srv.url}/health", timeout=5).status_code == 200


@pytest.mark.skipif(bool(os.environ.get("SLIPWAY_SANITIZER")),
                    reason="a sanitizer's allocator keeps freed memory in its quarantine; "
                           "this checks glibc's, which the release build uses")
def test_memory_of_large_bodies_is_given_back(fresh_server):
    srv = fresh_server
    exp = srv.post("experiments/create", {"name": unique("big")}).json()["experiment_id"]
    run_id = srv.post("runs/create", {"experiment_id": exp}).json()["run"]["info"]["run_id"]
    base = rss_mb(srv)
    # 15 MB bodies (under the 16 MB API limit; log-batch then refuses them as MLflow
    # does for over 1 MB), eight at a time.
    body = json.dumps({"run_id": run_id, "params": [],
                       "tags": [{"key": "t", "value": "v" * (15 * 1024 * 1024)}]})

    def send():
        r = srv.post("runs/log-batch", body, timeout=60)
        assert r.status_code == 400, r.text[:200]

    for _ in range(3):
        workers = [threading.Thread(target=send) for _ in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
    time.sleep(0.5)
    grown = rss_mb(srv) - base
    assert grown < 60, f"RSS stayed {grown:.0f} MB above where it started"


def test_access_log_has_a_line_per_request_and_no_secret(tmp_path_factory):
    password = "s3cret-Pa55word!"
    for fmt in ("text", "json"):
        srv = SlipwayServer(binary=slipway_binary(),
                            data_dir=tmp_path_factory.mktemp(f"access-{fmt}"),
                            extra_args=["--auth", "--log-format", fmt],
                            env={"SLIPWAY_ADMIN_PASSWORD": ADMIN[1]}).start()
        try:
            admin = requests.Session()
            admin.auth = ADMIN
            assert admin.post(f"{srv.api}/users/create",
                              json={"username": "carol", "password": password}).ok
            ok = requests.post(f"{srv.api}/experiments/create",
                               json={"name": unique("log")}, auth=("carol", password),
                               timeout=10)
            assert ok.status_code == 200
            missing = requests.get(f"{srv.api}/experiments/get",
                                   params={"experiment_id": "98765"}, auth=("carol", password),
                                   timeout=10)
            assert missing.status_code in (403, 404)
            refused = requests.get(f"{srv.api}/experiments/search?max_results=5",
                                   auth=("carol", "wrong-password"), timeout=10)
            assert refused.status_code == 401
            unknown = requests.get(f"{srv.url}/no/such/route", timeout=10)
            assert unknown.status_code == 404
        finally:
            srv.assert_clean_exit()
        log = srv.stderr_path.read_text()
        assert password not in log and ADMIN[1] not in log
        lines = [line for line in log.splitlines() if ok.headers["X-Request-Id"] in line]
        assert len(lines) == 1, log[-3000:]
        if fmt == "json":
            entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
            by_id = {e["request_id"]: e for e in entries}
            e = by_id[ok.headers["X-Request-Id"]]
            assert (e["principal"], e["method"], e["path"], e["route"], e["status"]) == (
                "carol", "POST", "/api/2.0/mlflow/experiments/create", "experiments/create", 200)
            assert e["bytes"] == len(ok.content) and e["latency_ms"] >= 0
            m = by_id[missing.headers["X-Request-Id"]]
            assert m["status"] == missing.status_code and m["error"] == missing.json()["message"]
            u = by_id[unknown.headers["X-Request-Id"]]
            assert u["route"] == "unmatched" and u["path"] == "/no/such/route"
            assert by_id[refused.headers["X-Request-Id"]]["status"] == 401
        else:
            line = lines[0]
            for part in ("carol", "POST", "/api/2.0/mlflow/experiments/create",
                         "route=experiments/create", "status=200"):
                assert part in line, line
            miss = [x for x in log.splitlines() if missing.headers["X-Request-Id"] in x][0]
            assert json.dumps(missing.json()["message"]) in miss, miss


def test_every_default_path_derives_from_the_data_dir(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    explicit = SlipwayServer(binary=slipway_binary(), data_dir=cwd)
    explicit.start()  # passes --store and --artifacts, runs in cwd
    explicit.assert_clean_exit()
    datasets = explicit.data_dir / "datasets"
    assert datasets.is_dir()
    assert not (cwd / "slipway-data").exists(), "a default folder appeared beside explicit ones"

    data_dir = tmp_path / "chosen"
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path / "run")
    srv.command = lambda: [str(srv.binary), "server", "--host", srv.host, "--port",  # type: ignore
                           str(srv.port), "--data-dir", str(data_dir)]
    srv.start()
    try:
        exp = requests.post(f"{srv.api}/experiments/create", json={"name": "d"},
                            timeout=10).json()["experiment_id"]
        assert exp
    finally:
        srv.assert_clean_exit()
    assert (data_dir / "slipway.db").is_file()
    assert (data_dir / "artifacts").is_dir()
    assert (data_dir / "datasets").is_dir()
    assert not (srv.data_dir / "slipway-data").exists()
