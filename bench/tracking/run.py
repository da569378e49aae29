#!/usr/bin/env python3
"""Side-by-side tracking benchmark: mlflow server vs FastTrackML vs Slipway.

On SQLite by default; `--store postgresql` runs mlflow and Slipway each on a
fresh database of one throw-away PostgreSQL cluster started for the run.

One command starts each server in turn on 127.0.0.1 (one at a time: the
machine has 2 shared cores), runs the same workloads against each, verifies
what each server stored, prints a table of ratios and appends a dated entry to
bench/RESULTS.md. See bench/README.md.

Workloads (the same data for every server):
  1. log-metric requests/s, wrk, 32 connections, one distinct point per request
  2. log-batch metric points/s, wrk, 1000 distinct points per request
  3. search-runs over N runs (100k) with "metrics.rmse < 0.5", order_by
     "metrics.rmse ASC", max_results 100: median and p90 latency
  4. get-metric-history of a 1M-point metric, all points, paged at 25000 as the
     mlflow client does, and with max_results=1000000
  5. server peak RSS (VmHWM summed over the server's process tree) after the
     search workload on a freshly started server over the 100k-run store
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, HERE)
from mlflow_sql import history_value  # noqa: E402  (no mlflow import at module level)

TS0 = 1700000000000
API = "/api/2.0/mlflow"
SERVERS = ("mlflow", "fasttrackml", "slipway")

FULL = dict(wrk_seconds=10, batch_seconds=10, runs=100_000, history=1_000_000,
            search_n=20, search_warmup=2, search_budget_s=240)
QUICK = dict(wrk_seconds=3, batch_seconds=5, runs=2_000, history=50_000,
             search_n=5, search_warmup=1, search_budget_s=15)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- HTTP


class Client:
    """A keep-alive JSON client for one server. Raises ApiError on non-2xx."""

    def __init__(self, port, timeout=600):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def raw(self, method, path, body=None):
        """Return (status, body_bytes, seconds from send to last body byte)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                t = time.perf_counter()
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                out = resp.read()
                return resp.status, out, time.perf_counter() - t
            except (http.client.HTTPException, ConnectionError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def call(self, method, path, body=None):
        status, out, _ = self.raw(method, path, body)
        if not 200 <= status < 300:
            raise ApiError(method, path, body, status, out)
        return json.loads(out) if out else {}

    def post(self, endpoint, body):
        return self.call("POST", API + endpoint, body)

    def get(self, endpoint, **query):
        return self.call("GET", API + endpoint + "?" + urllib.parse.urlencode(query))


class ApiError(Exception):
    def __init__(self, method, path, body, status, out):
        b = json.dumps(body) if body is not None else ""
        super().__init__(f"{method} {path} {b[:300]} -> HTTP {status}: {out[:500]!r}")


# ----------------------------------------------------------------------------- servers


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process (and its process group), started on 127.0.0.1."""

    def __init__(self, kind, store_dir, args):
        self.kind = kind
        self.dir = store_dir
        self.args = args
        self.port = free_port()
        self.proc = None
        os.makedirs(store_dir, exist_ok=True)

    def store_uri(self):
        """The server's metadata store: its PostgreSQL database, else a SQLite file."""
        uri = getattr(self.args, "db_uris", {}).get(self.kind)
        if uri:
            return uri
        name = {"mlflow": "mlflow.db", "fasttrackml": "fml.db"}.get(self.kind, "slipway.db")
        return f"sqlite:///{self.dir}/{name}"

    def command(self):
        d, p = self.dir, str(self.port)
        if self.kind == "mlflow":
            cmd = ["mlflow", "server", "--backend-store-uri", self.store_uri(),
                   "--artifacts-destination", f"{d}/artifacts", "--host", "127.0.0.1",
                   "--port", p]
            if self.args.mlflow_workers:
                cmd += ["--workers", str(self.args.mlflow_workers)]
            return cmd
        if self.kind == "fasttrackml":
            return ["fml", "server", "--database-uri", f"sqlite://{d}/fml.db",
                    "--listen-address", f"127.0.0.1:{p}",
                    "--default-artifact-root", f"{d}/artifacts"]
        cmd = [self.args.slipway_bin, "server", "--host", "127.0.0.1", "--port", p,
               "--store", self.store_uri(), "--artifacts", f"{d}/artifacts"]
        if self.store_uri().startswith("postgresql://"):
            cmd += ["--data-dir", d]
        return cmd

    def start(self, timeout=120):
        logf = open(os.path.join(self.dir, f"{self.kind}-{int(time.time())}.log"), "ab")
        self.proc = subprocess.Popen(self.command(), stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     cwd=self.dir)
        logf.close()
        t = time.time()
        deadline = t + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode} at start; "
                                   f"see {self.dir}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    c.close()
                    up = time.time() - t
                    waited = self.settle()
                    log(f"  {self.kind} answered /health after {up:.1f}s, idle after "
                        f"{waited:.1f}s more ({len(self.pids())} process(es))")
                    return up
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.kind} did not answer /health within {timeout}s")

    def pids(self):
        """The server process and all its descendants."""
        if self.proc is None:
            return []
        children = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
        out, todo = [], [self.proc.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(children.get(p, []))
        return out

    def peak_rss_mb(self):
        """(sum of VmHWM over the process tree, largest single VmHWM, process count) in MB."""
        vals = []
        for p in self.pids():
            try:
                with open(f"/proc/{p}/status") as f:
                    m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
                if m:
                    vals.append(int(m.group(1)) / 1024.0)
            except OSError:
                pass
        return (sum(vals), max(vals) if vals else 0.0, len(vals))

    def cpu_seconds(self):
        """(utime+stime of the process tree in seconds, process count)."""
        tick = os.sysconf("SC_CLK_TCK")
        total, n = 0, 0
        for p in self.pids():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
                n += 1
            except (OSError, IndexError, ValueError):
                pass
        return total / tick, n

    def settle(self, timeout=120, idle_cpu=0.05):
        """Wait until the server's process tree has stopped starting processes
        and uses under `idle_cpu` of a core for 2 consecutive seconds (mlflow
        answers /health before its workers, job runner and huey consumers are
        up). Returns the seconds waited."""
        t0 = time.time()
        last_cpu, last_n = self.cpu_seconds()
        quiet = 0
        while time.time() - t0 < timeout:
            time.sleep(1.0)
            cpu, n = self.cpu_seconds()
            quiet = quiet + 1 if (cpu - last_cpu) < idle_cpu and n == last_n else 0
            last_cpu, last_n = cpu, n
            if quiet >= 2:
                break
        return time.time() - t0

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        self.proc = None


# ----------------------------------------------------------------------------- data


def make_runs(n, seed=20240601):
    rng = random.Random(seed)
    runs = []
    for i in range(n):
        runs.append(dict(
            name=f"run-{i:06d}",
            start_time=TS0 + i,
            rmse=rng.random(),
            params={"alpha": str(rng.choice([0.001, 0.01, 0.1, 0.5, 1.0])),
                    "l1_ratio": f"{rng.random():.3f}"}))
    return runs


def expected_search(runs, k=100):
    return sorted(r["rmse"] for r in runs if r["rmse"] < 0.5)[:k]


def run_parallel(fn, items, threads, deadline, what, port):
    """Call fn(client, item) for every item on `threads` keep-alive clients.
    Stops at the deadline. Returns the list of results in item order."""
    results = [None] * len(items)
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "err": None}
    step = max(1, len(items) // 10)

    def worker(port):
        c = Client(port)
        while True:
            with lock:
                i = state["next"]
                if i >= len(items) or state["err"] or time.time() > deadline:
                    return
                state["next"] += 1
            try:
                results[i] = fn(c, items[i])
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    state["err"] = e
                return
            with lock:
                state["done"] += 1
                if state["done"] % step == 0:
                    log(f"    {what}: {state['done']}/{len(items)}")

    ts = [threading.Thread(target=worker, args=(port,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if state["err"]:
        raise state["err"]
    if state["done"] < len(items):
        raise TimeoutError(f"{what}: only {state['done']}/{len(items)} before the deadline")
    return results


def populate_api(port, runs, history, deadline):
    """Fill a server through its REST API: runs/create + log-batch per run,
    and one run with `history` points of 'loss' in 1000-point log-batches."""
    c = Client(port)
    exp_id = c.post("/experiments/create", {"name": "bench-search"})["experiment_id"]
    hist_exp = c.post("/experiments/create", {"name": "bench-history"})["experiment_id"]

    def one_run(cl, r):
        rid = cl.post("/runs/create", {"experiment_id": exp_id, "start_time": r["start_time"],
                                       "run_name": r["name"], "user_id": "bench"})["run"]["info"]["run_id"]
        cl.post("/runs/log-batch", {
            "run_id": rid,
            "metrics": [{"key": "rmse", "value": r["rmse"], "timestamp": r["start_time"],
                         "step": 0}],
            "params": [{"key": k, "value": v} for k, v in r["params"].items()]})
        return rid
    t = time.time()
    run_parallel(one_run, runs, 4, deadline, "runs via API", port)
    log(f"  {len(runs)} runs via API in {time.time() - t:.1f}s")

    hist_rid = c.post("/runs/create", {"experiment_id": hist_exp, "start_time": TS0,
                                       "run_name": "history"})["run"]["info"]["run_id"]

    def one_batch(cl, lo):
        cl.post("/runs/log-batch", {"run_id": hist_rid, "metrics": [
            {"key": "loss", "value": history_value(s), "timestamp": TS0 + s, "step": s}
            for s in range(lo, min(lo + 1000, history))]})
    t = time.time()
    run_parallel(one_batch, list(range(0, history, 1000)), 2, deadline, "history via API", port)
    log(f"  {history} history points via API in {time.time() - t:.1f}s")
    return exp_id, hist_rid


# ----------------------------------------------------------------------------- workloads


def wrk(script, port, threads, conns, seconds, env):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s",
           "-s", os.path.join(HERE, script), f"http://127.0.0.1:{port}"]
    e = dict(os.environ, **env)
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=seconds + 120)
    m = re.search(r"^WRKJSON (.*)$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stdout[-800:]} {p.stderr[-800:]}")
    r = json.loads(m.group(1))
    r["errors"] = sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_status",
                                     "err_timeout"))
    r["command"] = " ".join(cmd)
    return r


def fetch_history(c, run_id, key, page_size, deadline):
    """All points of a metric, following next_page_token. Returns
    (points, seconds spent in requests (send -> last body byte), pages, bytes)."""
    n, secs, pages, nbytes, token = 0, 0.0, 0, 0, None
    while True:
        q = {"run_id": run_id, "metric_key": key, "max_results": page_size}
        if token:
            q["page_token"] = token
        path = API + "/metrics/get-history?" + urllib.parse.urlencode(q)
        status, out, dt = c.raw("GET", path)
        if not 200 <= status < 300:
            raise ApiError("GET", path, None, status, out)
        secs += dt
        pages += 1
        nbytes += len(out)
        d = json.loads(out)
        got = d.get("metrics", [])
        n += len(got)
        token = d.get("next_page_token")
        if not token or not got:
            return n, secs, pages, nbytes
        if time.time() > deadline or pages > 10000:
            raise TimeoutError(f"get-history: {n} points after {pages} pages")


def settled_count(c, run_id, key, deadline):
    """Points stored for a metric once the server has finished the requests
    still in flight when wrk stopped: read until two reads 1 s apart agree."""
    last = -1
    while True:
        n = fetch_history(c, run_id, key, 1_000_000, deadline)[0]
        if n == last:
            return n
        if time.time() > deadline:
            return n
        last = n
        time.sleep(1.0)


def check_stored(res, stored, per_request, conns):
    ok = res["requests"] - res["err_status"]
    lo = ok * per_request
    hi = (ok + conns + res["err_timeout"]) * per_request
    res["ok_responses"] = ok
    res["stored_points"] = stored
    res["expected_min"] = lo
    if stored < lo:
        res["verify"] = f"MISMATCH: {stored} stored < {lo} acknowledged"
    elif stored > hi:
        res["verify"] = f"MISMATCH: {stored} stored > {hi} possible"
    else:
        extra = stored - lo
        res["verify"] = ("ok" if extra == 0 else
                         f"ok ({extra // per_request} in-flight requests at wrk's stop also stored)")


def prepare_store(kind, sdir, args, cfg, runs, out):
    """Fill a fresh store with the search runs and the history metric."""
    t = time.time()
    n_hist = cfg["history"]
    if kind == "mlflow":
        import mlflow_sql
        uri = Server(kind, sdir, args).store_uri()
        ids = mlflow_sql.populate(uri, os.path.join(sdir, "artifacts"), runs, n_hist, log=log)
        copier = "psycopg executemany" if uri.startswith("postgresql://") else "sqlite3"
        out["populate"] = (f"SqlAlchemyStore for schema + first run, then {copier} copies "
                           "of its rows (mlflow_sql.py)")
    else:
        srv = Server(kind, sdir, args)
        srv.start(timeout=180)
        try:
            ids = populate_api(srv.port, runs, n_hist, time.time() + args.populate_budget)
        finally:
            srv.stop()
        out["populate"] = "REST API: runs/create + log-batch per run; 1000-point log-batches"
    out["populate_s"] = time.time() - t
    log(f"  populated {len(runs)} runs + {n_hist}-point metric in {out['populate_s']:.1f}s")
    return ids


def w_search(c, exp_id, cfg, runs, out):
    body = {"experiment_ids": [exp_id], "filter": "metrics.rmse < 0.5",
            "order_by": ["metrics.rmse ASC"], "max_results": 100}
    want = expected_search(runs)
    lat = []
    deadline = time.time() + cfg["search_budget_s"]
    log(f"  [3] search-runs over {len(runs)} runs: {cfg['search_warmup']} warm-up + "
        f"up to {cfg['search_n']} timed (at most ~{cfg['search_budget_s']}s)")
    warmup = cfg["search_warmup"]
    i = -1
    while i + 1 < warmup + cfg["search_n"]:
        i += 1
        status, raw, dt = c.raw("POST", API + "/runs/search", body)
        if not 200 <= status < 300:
            raise ApiError("POST", API + "/runs/search", body, status, raw)
        if i == 0:
            got = []
            for r in json.loads(raw).get("runs", []):
                ms = {m["key"]: m["value"] for m in r.get("data", {}).get("metrics", [])}
                got.append(ms.get("rmse"))
            bad = (len(got) != len(want) or
                   any(g is None or abs(g - w) > 1e-12 for g, w in zip(got, want)))
            out["search_verify"] = ("ok: 100 runs, rmse ascending, equal to expected"
                                    if not bad else
                                    f"MISMATCH: got {len(got)} runs, first {got[:3]} "
                                    f"expected first {want[:3]}")
        if i < warmup and dt > 30:
            warmup = i + 1  # one slow warm-up request is enough warming
        elif i >= warmup:
            lat.append(dt)
        if len(lat) >= 3 and time.time() > deadline:
            break
    lat.sort()
    out["search"] = dict(n=len(lat), median_ms=statistics.median(lat) * 1000,
                         p90_ms=lat[min(len(lat) - 1, int(round(0.9 * (len(lat) - 1))))] * 1000,
                         min_ms=lat[0] * 1000)
    s = out["search"]
    log(f"      median {s['median_ms']:.1f} ms, p90 {s['p90_ms']:.1f} ms over {s['n']}; "
        f"{out['search_verify']}")


def w_history(c, hist_rid, cfg, args, out):
    n_hist = cfg["history"]
    for label, page in (("paged", 25000), ("single", 1_000_000)):
        log(f"  [4] get-history {n_hist} points, max_results={page}")
        n, secs, pages, nbytes = fetch_history(c, hist_rid, "loss", page,
                                               time.time() + args.history_budget)
        out[f"history_{label}"] = dict(points=n, seconds=secs, pages=pages, bytes=nbytes,
                                       verify="ok" if n == n_hist else
                                       f"MISMATCH: {n} points, expected {n_hist}")
        log(f"      {secs:.2f}s in {pages} page(s), {nbytes / 1e6:.1f} MB, "
            f"{out[f'history_{label}']['verify']}")


def w_log_metric(c, port, exp, cfg, args, out):
    rid = c.post("/runs/create", {"experiment_id": exp, "start_time": TS0})["run"]["info"]["run_id"]
    log(f"  [1] log-metric: wrk -t{args.wrk_threads} -c32 -d{cfg['wrk_seconds']}s")
    r = wrk("log_metric.lua", port, args.wrk_threads, 32, cfg["wrk_seconds"],
            {"BENCH_RUN_ID": rid, "BENCH_TS0": str(TS0)})
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    stored = settled_count(c, rid, "loss", time.time() + 300)
    check_stored(r, stored, 1, 32)
    out["log_metric"] = r
    log(f"      {r['rps']:.0f} req/s, p50 {r['lat_p50_us'] / 1000:.2f} ms, "
        f"p99 {r['lat_p99_us'] / 1000:.2f} ms, errors {r['errors']}, verify: {r['verify']}")


def w_log_batch(c, port, exp, cfg, args, out):
    rid = c.post("/runs/create", {"experiment_id": exp, "start_time": TS0})["run"]["info"]["run_id"]
    conns = args.batch_conns
    log(f"  [2] log-batch x1000: wrk -t1 -c{conns} -d{cfg['batch_seconds']}s")
    b = wrk("log_batch.lua", port, 1, conns, cfg["batch_seconds"],
            {"BENCH_RUN_ID": rid, "BENCH_TS0": str(TS0), "BENCH_BATCH": "1000"})
    secs = b["duration_us"] / 1e6
    b["rps"] = b["requests"] / secs
    b["points_per_s"] = (b["requests"] - b["err_status"]) * 1000 / secs
    stored = settled_count(c, rid, "loss", time.time() + 600)
    check_stored(b, stored, 1000, conns)
    out["log_batch"] = b
    log(f"      {b['points_per_s']:.0f} points/s ({b['rps']:.1f} req/s), errors "
        f"{b['errors']}, verify: {b['verify']}")


def bench_server(kind, sdir, args, cfg, runs, out):
    """Populate a store, start the server on it, then search -> peak RSS ->
    get-history -> log-metric -> log-batch on that one process. A workload
    that fails is recorded and the next one still runs."""
    exp_id, hist_rid = prepare_store(kind, sdir, args, cfg, runs, out)
    srv = Server(kind, sdir, args)
    srv.start(timeout=300)
    out["load"] = loadavg()
    out["command"] = " ".join(srv.command())
    out["errors"] = []
    c = Client(srv.port)

    def attempt(name, fn, *a):
        try:
            fn(*a)
        except Exception as e:  # noqa: BLE001 - recorded in the results
            msg = f"{name}: {type(e).__name__}: {e}"
            out["errors"].append(msg)
            log(f"  FAILED {msg}")
            c.conn = None

    try:
        attempt("search-runs", w_search, c, exp_id, cfg, runs, out)
        rss = srv.peak_rss_mb()
        out["rss"] = dict(sum_mb=rss[0], max_proc_mb=rss[1], processes=rss[2])
        log(f"  [5] peak RSS after search: {rss[0]:.1f} MB over {rss[2]} process(es) "
            f"(largest {rss[1]:.1f} MB)")
        attempt("get-history", w_history, c, hist_rid, cfg, args, out)

        def writes():
            exp = c.post("/experiments/create", {"name": "bench-write"})["experiment_id"]
            # Warm-up on another run, so the counts checked later see only measured points.
            wid = c.post("/runs/create", {"experiment_id": exp,
                                          "start_time": TS0})["run"]["info"]["run_id"]
            for i in range(20):
                c.post("/runs/log-metric", {"run_id": wid, "key": "loss", "value": i,
                                            "timestamp": TS0 + i, "step": i})
            c.post("/runs/log-batch", {"run_id": wid, "metrics": [
                {"key": "warm", "value": i, "timestamp": TS0, "step": i} for i in range(1000)]})
            attempt("log-metric", w_log_metric, c, srv.port, exp, cfg, args, out)
            attempt("log-batch", w_log_batch, c, srv.port, exp, cfg, args, out)
        attempt("write set-up", writes)
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- report

ROWS = [
    # label, getter, higher_is_better, format
    ("log-metric req/s (32 conns)", lambda r: r["log_metric"]["rps"], True, "{:.0f}"),
    ("log-metric p50 ms", lambda r: r["log_metric"]["lat_p50_us"] / 1000, False, "{:.2f}"),
    ("log-metric p99 ms", lambda r: r["log_metric"]["lat_p99_us"] / 1000, False, "{:.2f}"),
    ("log-batch points/s (1000/req)", lambda r: r["log_batch"]["points_per_s"], True, "{:.0f}"),
    ("search-runs median ms", lambda r: r["search"]["median_ms"], False, "{:.1f}"),
    ("search-runs p90 ms", lambda r: r["search"]["p90_ms"], False, "{:.1f}"),
    ("get-history all pts, pages of 25000, s",
     lambda r: r["history_paged"]["seconds"], False, "{:.2f}"),
    ("get-history all pts, max_results=1e6, s",
     lambda r: r["history_single"]["seconds"], False, "{:.2f}"),
    ("peak RSS after search, MB (process tree)", lambda r: r["rss"]["sum_mb"], False, "{:.0f}"),
]


def value(res, kind, getter):
    try:
        return getter(res[kind])
    except (KeyError, TypeError):
        return None


def ratio(a, b, higher):
    """Slipway's advantage: >1 means Slipway is better."""
    if a is None or b is None or a == 0 or b == 0:
        return None
    return a / b if higher else b / a


def table(res, cfg):
    head = ["workload", "mlflow", "fasttrackml", "slipway", "slipway/mlflow",
            "slipway/fasttrackml"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, get, higher, fmt in ROWS:
        label = label.replace("all pts", f"{cfg['history']:,} pts")
        vals = {k: value(res, k, get) for k in SERVERS}
        cells = [label] + [fmt.format(vals[k]) if vals[k] is not None else "n/a" for k in SERVERS]
        for anchor in ("mlflow", "fasttrackml"):
            r = ratio(vals["slipway"], vals[anchor], higher)
            cells.append("n/a" if r is None else f"{r:.0f}x" if r >= 100 else f"{r:.1f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Linux {platform.release()}, Python {platform.python_version()}"


def versions():
    out = {}
    for name, cmd in (("mlflow", ["mlflow", "--version"]), ("fasttrackml", ["fml", "--version"]),
                      ("wrk", ["wrk", "-v"])):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            out[name] = (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            out[name] = "not available"
    return out


def snapshot_slipway(args, work):
    """Copies args.slipway_bin into `work` (the build may replace it while a run
    goes on) and records its source, build time and sha256 on `args`."""
    import hashlib
    args.slipway_src = args.slipway_bin
    if not os.path.isfile(args.slipway_bin):
        return
    copy = os.path.join(work, "slipway-under-test")
    shutil.copy2(args.slipway_bin, copy)
    with open(copy, "rb") as f:
        args.slipway_sha = hashlib.sha256(f.read()).hexdigest()[:16]
    args.slipway_mtime = datetime.datetime.utcfromtimestamp(
        os.path.getmtime(args.slipway_bin)).strftime("%Y-%m-%d %H:%M UTC")
    args.slipway_bin = copy
    log(f"slipway: {args.slipway_src} (built {args.slipway_mtime}, sha256 "
        f"{args.slipway_sha}...) copied to {copy}")


def server_status(kind, r, out):
    """Appends a server's skipped/failed lines to `out`; False if it was skipped."""
    if r.get("skipped"):
        out.append(f"- {kind}: skipped: {r['skipped']}")
        return False
    if r.get("error"):
        out.append(f"- {kind}: FAILED: {r['error']}")
    return True


def notes(res):
    out = []
    for k in SERVERS:
        r = res.get(k)
        if r is None or not server_status(k, r, out):
            continue
        for e in r.get("errors", []):
            out.append(f"- {k}: FAILED {e}")
        for w in ("log_metric", "log_batch"):
            if w in r:
                x = r[w]
                out.append(f"- {k} {w}: {x['requests']} responses, {x['errors']} errors "
                           f"(status {x['err_status']}, timeout {x['err_timeout']}, connect "
                           f"{x['err_connect']}, read {x['err_read']}); stored "
                           f"{x['stored_points']}: {x['verify']}")
        if "search_verify" in r:
            out.append(f"- {k} search: {r['search']['n']} timed requests; {r['search_verify']}")
        for w in ("history_paged", "history_single"):
            if w in r:
                x = r[w]
                out.append(f"- {k} {w}: {x['points']} points in {x['pages']} page(s), "
                           f"{x['bytes'] / 1e6:.1f} MB: {x['verify']}")
        if "rss" in r:
            out.append(f"- {k} RSS: {r['rss']['sum_mb']:.1f} MB summed over "
                       f"{r['rss']['processes']} process(es), largest {r['rss']['max_proc_mb']:.1f} MB")
        if "populate" in r:
            out.append(f"- {k} store populated by {r['populate']} in {r['populate_s']:.0f}s")
        if "command" in r:
            out.append(f"- {k} server (load average when it was up {r.get('load', '?')}): "
                       f"`{r['command']}`")
    return "\n".join(out)


GOAL_ROWS = ("log-metric req/s (32 conns)", "log-batch points/s (1000/req)",
             "search-runs median ms")
GOAL = 30.0  # issue 16: on PostgreSQL at least the ratios seen on SQLite, 30x and more


def goal_lines(res):
    """Slipway/mlflow on the three workloads issue 16 names, next to its goal."""
    out = [f"Issue 16's goal on PostgreSQL: Slipway/mlflow at least {GOAL:.0f}x (the SQLite "
           "ratios) on each of:"]
    for label, get, higher, _ in ROWS:
        if label not in GOAL_ROWS:
            continue
        r = ratio(value(res, "slipway", get), value(res, "mlflow", get), higher)
        verdict = "n/a" if r is None else ("meets it" if r >= GOAL else "BELOW the goal")
        out.append(f"- {label}: " + ("n/a" if r is None else f"{r:.1f}x, {verdict}"))
    return "\n".join(out)


def store_title(args):
    return " on PostgreSQL" if getattr(args, "store", "sqlite") == "postgresql" else ""


def store_line(args):
    if getattr(args, "store", "sqlite") != "postgresql":
        return "a SQLite file per server"
    return (f"one PostgreSQL {getattr(args, 'pg_version', '?')} cluster on 127.0.0.1 "
            f"(initdb + pg_ctl, {getattr(args, 'pg_settings', '?')}), a fresh database per "
            f"server; the server and PostgreSQL share the 2 cores")


def record(path, argv, res, cfg, started, elapsed, args):
    v = versions()
    entry = [
        f"\n## {started:%Y-%m-%d %H:%M} UTC: tracking{store_title(args)}, "
        f"{'quick' if args.quick else 'full'} mode\n",
        f"- command: `{argv}`",
        f"- store: {store_line(args)}",
        f"- machine: {machine()}; load average at the end {loadavg()}",
        f"- versions: {v['mlflow']}; {v['fasttrackml']}; {v['wrk']}; slipway binary "
        f"`{os.path.relpath(args.slipway_src, REPO)}` built {getattr(args, 'slipway_mtime', '?')}, "
        f"sha256 {getattr(args, 'slipway_sha', '?')}...",
        f"- sizes: {cfg['runs']:,} runs for search, {cfg['history']:,}-point metric, wrk "
        f"{cfg['wrk_seconds']}s (log-metric, 32 conns, {args.wrk_threads} wrk thread(s)), "
        f"{cfg['batch_seconds']}s (log-batch, {args.batch_conns} conns); took {elapsed / 60:.1f} min",
        "",
        table(res, cfg),
        "",
        goal_lines(res) if store_title(args) else "",
        "",
        "Ratios are Slipway's advantage (>1 = Slipway better: more per second, or less "
        "time/memory). FastTrackML ignores max_results on get-history and always answers in "
        "one page, so its two get-history rows are the same request.",
        "",
        notes(res),
        "",
    ]
    text = "\n".join(entry)
    # The work folder is this machine's; the record names it $WORKDIR.
    if getattr(args, "work", None):
        text = text.replace(args.work, "$WORKDIR")
    with open(path, "a") as f:
        f.write(text)


def run_servers(args, kinds, work, cfg, runs, res):
    """Each server in turn; a failure is recorded in res and the next one runs."""
    for kind in SERVERS:
        if kind not in kinds:
            continue
        exe = {"mlflow": "mlflow", "fasttrackml": "fml", "slipway": args.slipway_bin}[kind]
        if shutil.which(exe) is None:
            res[kind] = {"skipped": f"`{exe}` not found"}
            log(f"== {kind}: skipped, {exe} not found")
            continue
        log(f"== {kind}")
        res[kind] = {}
        try:
            bench_server(kind, os.path.join(work, kind), args, cfg, runs, res[kind])
        except Exception as e:  # noqa: BLE001 - recorded, then the next server runs
            res[kind]["error"] = f"{type(e).__name__}: {e}"
            log(f"  {kind} FAILED: {res[kind]['error']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, ~3 minutes")
    ap.add_argument("--servers", default=",".join(SERVERS),
                    help="comma list among mlflow,fasttrackml,slipway (default all)")
    ap.add_argument("--slipway-bin", default=os.path.join(REPO, "build", "slipway"))
    ap.add_argument("--mlflow-workers", type=int, default=0,
                    help="pass --workers to mlflow server (default: mlflow's own default)")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--batch-conns", type=int, default=4)
    ap.add_argument("--runs", type=int, help="override the number of runs for search")
    ap.add_argument("--history", type=int, help="override the points of the history metric")
    ap.add_argument("--workdir", help="where stores go (default: a new temp dir, removed after)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    ap.add_argument("--populate-budget", type=float, default=1800,
                    help="seconds allowed to populate one server through its API")
    ap.add_argument("--history-budget", type=float, default=900,
                    help="seconds allowed for one full get-history fetch")
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                    help="metadata store of every server: a SQLite file each (default), or a\n"
                         "fresh database each on one throw-away PostgreSQL cluster\n"
                         "(Debian's postgresql; mlflow needs psycopg 3)")
    ap.add_argument("--pg-fast", action="store_true",
                    help="PostgreSQL with fsync and full-page writes off, as the tests run it\n"
                         "(default: PostgreSQL's durable defaults)")
    args = ap.parse_args()

    cfg = dict(QUICK if args.quick else FULL)
    if args.runs:
        cfg["runs"] = args.runs
    if args.history:
        cfg["history"] = args.history
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    for k in kinds:
        if k not in SERVERS:
            ap.error(f"unknown server {k}")
    if args.store == "postgresql" and "fasttrackml" in kinds:
        if "--servers" in " ".join(sys.argv):
            ap.error("--store postgresql runs mlflow and slipway only (FastTrackML on "
                     "PostgreSQL is not wired up)")
        kinds.remove("fasttrackml")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")

    started = datetime.datetime.utcnow()
    t_all = time.time()
    work = args.workdir or tempfile.mkdtemp(prefix="slipway-bench-")
    work = os.path.abspath(work)
    os.makedirs(work, exist_ok=True)
    log(f"work dir {work}; {machine()}")
    runs = make_runs(cfg["runs"])
    if "slipway" in kinds:
        snapshot_slipway(args, work)
    res = {}
    cluster = None
    if args.store == "postgresql":
        import pg_store
        cluster = pg_store.start_cluster(durable=not args.pg_fast)
        args.pg_version = cluster.version()
        args.pg_settings = cluster.settings
        args.db_uris = {k: cluster.create_database(k) for k in kinds if k != "fasttrackml"}
        log(f"PostgreSQL {args.pg_version} on 127.0.0.1:{cluster.port} ({cluster.settings}); "
            f"databases {', '.join(args.db_uris.values())}")
    try:
        run_servers(args, kinds, work, cfg, runs, res)
    finally:
        if cluster is not None:
            cluster.stop()
    elapsed = time.time() - t_all

    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(table(res, cfg))
    print()
    if store_title(args):
        print(goal_lines(res))
        print()
    print(notes(res))
    argv = " ".join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), REPO)] + sys.argv[1:])
    if not args.no_record:
        args.work = work
        record(args.results, argv, res, cfg, started, elapsed, args)
        log(f"appended to {args.results}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work}")
    log(f"total {elapsed / 60:.1f} min")
    return 1 if any(r.get("error") or r.get("errors") for r in res.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
