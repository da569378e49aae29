#!/usr/bin/env python3
"""Trace ingestion and trace search: `slipway server` vs `mlflow server`, side by side.

One command starts each server in turn on 127.0.0.1 (one at a time: the machine's
cores are shared), runs the same workloads on the same data, checks what each stored,
prints the ratios and, with --record, appends a dated entry to bench/RESULTS.md.

Workloads:
  1. OTLP/HTTP ingestion, spans/s: protobuf ExportTraceServiceRequests as MLflow's
     client sends them (--traces-per-request traces of --spans spans each, MLflow's
     span attributes), posted by --clients processes on keep-alive connections, each
     request new traces; at most --seconds per server. Every acknowledged span is
     counted, then checked to be stored (the traces' span counts through the server's
     own API).
  2. The mlflow client's own export: a process calling an `@mlflow.trace` function
     (one root and --spans - 1 children) with synchronous export (each span is one
     OTLP request, then the trace's info) for --client-seconds: traces/s and spans/s.
     The client's own Python cost is in both figures; the client process's CPU time
     over the wall time says how much of it that is (near 100%: the client is the
     bound, and a faster server cannot raise the figure).
  3. search over a store of --search-spans spans (--spans per trace): the REST
     search of 100 traces (newest first, no filter; and `attributes.status = 'OK'
     AND span.type = 'TOOL'`), median and p90 of --repeats. Slipway's store is
     filled through its OTLP endpoint (its real write path); mlflow's by copying the
     rows mlflow server itself wrote for one trace (through the same OTLP request and
     StartTraceV3), since filling a million spans through its API takes hours here.

Needs the `mlflow` package (3.x) and its opentelemetry-proto dependency.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.client
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH_DIR)


def log(msg: str) -> None:
    print(msg, flush=True)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ----------------------------------------------------------------------------- data


def make_request(trace_ids: list[bytes], spans: int, t0_ns: int) -> bytes:
    """One ExportTraceServiceRequest: each trace a root span and spans-1 children, with
    the attributes MLflow's client puts on its spans."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for k, v in (("telemetry.sdk.language", "python"), ("telemetry.sdk.name", "mlflow")):
        rs.resource.attributes.add(key=k, value=AnyValue(string_value=v))
    scope = rs.scope_spans.add()
    for t, trace_id in enumerate(trace_ids):
        root_id = random.getrandbits(64).to_bytes(8, "big")
        start = t0_ns + t * 1_000_000
        for s in range(spans):
            span = scope.spans.add()
            span.trace_id = trace_id
            span.span_id = root_id if s == 0 else random.getrandbits(64).to_bytes(8, "big")
            if s:
                span.parent_span_id = root_id
            span.name = "predict" if s == 0 else f"tool_{s}"
            span.start_time_unix_nano = start + s * 1000
            span.end_time_unix_nano = start + 500_000 + s * 1000
            span.status.code = 1
            attrs = [
                ("mlflow.traceRequestId", AnyValue(string_value="tr-" + trace_id.hex())),
                ("mlflow.spanType", AnyValue(string_value="CHAIN" if s == 0 else "TOOL")),
                ("mlflow.spanFunctionName", AnyValue(string_value=span.name)),
                ("mlflow.spanInputs", AnyValue(kvlist_value=KeyValueList(values=[
                    KeyValue(key="question", value=AnyValue(string_value=f"q{t} {s}")),
                    KeyValue(key="k", value=AnyValue(int_value=s))]))),
                ("mlflow.spanOutputs", AnyValue(string_value=f"answer {t} {s}")),
            ]
            for k, v in attrs:
                span.attributes.add(key=k, value=v)
    return req.SerializeToString()


def trace_ids(n: int, salt: int) -> list[bytes]:
    rnd = random.Random(salt)
    return [rnd.getrandbits(128).to_bytes(16, "big") for _ in range(n)]


# ----------------------------------------------------------------------------- servers


class Server:
    def __init__(self, kind: str, store_dir: str, args):
        self.kind, self.dir, self.args = kind, store_dir, args
        self.port = free_port()
        self.proc = None
        os.makedirs(store_dir, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        d, p = self.dir, str(self.port)
        if self.kind == "mlflow":
            return ["mlflow", "server", "--backend-store-uri", f"sqlite:///{d}/mlflow.db",
                    "--artifacts-destination", f"{d}/artifacts", "--host", "127.0.0.1",
                    "--port", p]
        return [self.args.slipway_bin, "server", "--host", "127.0.0.1", "--port", p,
                "--store", f"sqlite:///{d}/slipway.db", "--artifacts", f"{d}/artifacts"]

    def start(self, timeout: float = 180) -> None:
        logf = open(os.path.join(self.dir, f"{self.kind}.log"), "ab")
        self.proc = subprocess.Popen(self.command(), stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     cwd=self.dir)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at start; see {self.dir}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    c.close()
                    # mlflow's /health answers before its workers all are up.
                    time.sleep(3 if self.kind == "mlflow" else 0.2)
                    return
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.kind} did not answer /health within {timeout}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None

    def call(self, method: str, path: str, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        h = {"Content-Type": "application/json"} if isinstance(body, (dict, list)) else {}
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read()
        c.close()
        return r.status, text

    def experiment(self, name: str) -> str:
        status, text = self.call("POST", "/api/2.0/mlflow/experiments/create", {"name": name})
        if status != 200:
            raise RuntimeError(f"{self.kind}: experiments/create {status}: {text[:300]!r}")
        return json.loads(text)["experiment_id"]

    def start_trace(self, experiment_id: str, trace_id: bytes, spans: int, t0_ms: int) -> None:
        info = {"trace_id": "tr-" + trace_id.hex(),
                "trace_location": {"type": "MLFLOW_EXPERIMENT",
                                   "mlflow_experiment": {"experiment_id": experiment_id}},
                "request_time": datetime.datetime.fromtimestamp(
                    t0_ms / 1000, datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
                "execution_duration": "0.5s", "state": "OK",
                "trace_metadata": {"mlflow.trace.sizeStats": json.dumps({"num_spans": spans}),
                                   "mlflow.trace_schema.version": "3"},
                "tags": {"mlflow.traceName": "predict", "env": "bench"}}
        status, text = self.call("POST", "/api/3.0/mlflow/traces",
                                 {"trace": {"trace_info": info}})
        if status != 200:
            raise RuntimeError(f"{self.kind}: start trace {status}: {text[:300]!r}")


# ----------------------------------------------------------------------------- 1: OTLP


def _post_bodies(args_tuple):
    port, experiment_id, bodies, spans_per_body, deadline = args_tuple
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    acked, errors = [], 0
    headers = {"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id}
    for i, body in enumerate(bodies):
        if time.time() > deadline:
            break
        try:
            conn.request("POST", "/v1/traces", body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                acked.append(i)
            else:
                errors += 1
        except OSError:
            errors += 1
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    return acked, errors


def ingest(server: Server, experiment_id: str, bodies: list[bytes], clients: int,
           seconds: float, spans_per_body: int):
    deadline = time.time() + seconds
    shares = [bodies[i::clients] for i in range(clients)]
    t0 = time.perf_counter()
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(_post_bodies, [(server.port, experiment_id, share, spans_per_body,
                                           deadline) for share in shares])
    elapsed = time.perf_counter() - t0
    acked = sorted(c + i * clients for c, (idx, _) in enumerate(results) for i in idx)
    errors = sum(e for _, e in results)
    return acked, errors, elapsed


def stored_spans(server: Server, trace_hexes: list[str]) -> int:
    total = 0
    for start in range(0, len(trace_hexes), 10):
        chunk = trace_hexes[start:start + 10]
        q = "&".join(f"trace_ids=tr-{h}" for h in chunk)
        status, text = server.call("GET", f"/api/3.0/mlflow/traces/batchGet?{q}")
        if status != 200:
            raise RuntimeError(f"{server.kind}: batchGet {status}: {text[:300]!r}")
        for trace in json.loads(text).get("traces", []):
            total += len(trace.get("spans", []))
    return total


# ----------------------------------------------------------------------------- 2: client

CLIENT_SCRIPT = r"""
import json, os, sys, time
os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
import mlflow
url, spans, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
mlflow.set_tracking_uri(url)
mlflow.set_experiment("bench-client-export")

@mlflow.trace(span_type="TOOL")
def leaf(i):
    return i * 2

@mlflow.trace
def root(n):
    return sum(leaf(i) for i in range(n))

root(1)  # warm-up: the client's first call asks /version and sets up its exporter
count, t0, cpu0 = 0, time.perf_counter(), time.process_time()
while time.perf_counter() - t0 < seconds:
    root(spans - 1)
    count += 1
elapsed = time.perf_counter() - t0
cpu = time.process_time() - cpu0
last = mlflow.get_last_active_trace_id()
ok = len(mlflow.get_trace(last).data.spans) == spans
print(json.dumps({"traces": count, "elapsed": elapsed, "client_cpu_s": cpu,
                  "last_trace_complete": ok}))
"""


def client_export(server: Server, spans: int, seconds: float) -> dict:
    out = subprocess.run([sys.executable, "-c", CLIENT_SCRIPT, server.url, str(spans),
                          str(seconds)], capture_output=True, text=True, timeout=seconds + 300)
    if out.returncode != 0:
        raise RuntimeError(f"client export against {server.kind} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- 3: search


def fill_slipway(server: Server, experiment_id: str, traces: int, spans: int, per_request: int,
                 clients: int) -> float:
    bodies = []
    t0_ns = 1_700_000_000_000_000_000
    for start in range(0, traces, per_request):
        ids = trace_ids(min(per_request, traces - start), 10_000 + start)
        bodies.append(make_request(ids, spans, t0_ns + start * 1_000_000))
    acked, errors, elapsed = ingest(server, experiment_id, bodies, clients, 3600, spans)
    if errors or len(acked) != len(bodies):
        raise RuntimeError(f"slipway: filling the search store had {errors} errors")
    return elapsed


def fill_mlflow(server: Server, experiment_id: str, traces: int, spans: int) -> float:
    """mlflow server writes one trace (OTLP spans and StartTraceV3); the server stops
    and that trace's rows are copied `traces - 1` times with new ids and times."""
    template = trace_ids(1, 99)[0]
    t0_ns = 1_700_000_000_000_000_000
    status, text = server.call("POST", "/v1/traces", make_request([template], spans, t0_ns),
                               {"Content-Type": "application/x-protobuf",
                                "x-mlflow-experiment-id": experiment_id})
    if status != 200:
        raise RuntimeError(f"mlflow: OTLP {status}: {text[:300]!r}")
    server.start_trace(experiment_id, template, spans, t0_ns // 1_000_000)
    server.stop()
    t = time.perf_counter()
    db = sqlite3.connect(os.path.join(server.dir, "mlflow.db"))
    tid = "tr-" + template.hex()

    def rows(table: str, key: str):
        cols = [r[1] for r in db.execute(f"PRAGMA table_xinfo({table})") if r[6] == 0]
        cur = db.execute(f"SELECT {','.join(cols)} FROM {table} WHERE {key} = ?", (tid,))
        return cols, [dict(zip(cols, r)) for r in cur.fetchall()]

    tables = {"trace_info": "request_id", "trace_tags": "request_id",
              "trace_request_metadata": "request_id", "spans": "trace_id"}
    templates = {t: rows(t, k) for t, k in tables.items()}
    b64 = base64.b64encode(template).decode()
    for table, (cols, tmpl) in templates.items():
        key = tables[table]
        sql = f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"

        def gen():
            for i in range(1, traces):
                new = trace_ids(1, 100_000 + i)[0]
                new_id, shift_ms = "tr-" + new.hex(), i
                for row in tmpl:
                    r = dict(row)
                    r[key] = new_id
                    if "timestamp_ms" in r:
                        r["timestamp_ms"] += shift_ms
                    if "start_time_unix_nano" in r:
                        r["start_time_unix_nano"] += shift_ms * 1_000_000
                        if r.get("end_time_unix_nano"):
                            r["end_time_unix_nano"] += shift_ms * 1_000_000
                    if "content" in r:
                        r["content"] = r["content"].replace(template.hex(), new.hex()).replace(
                            b64, base64.b64encode(new).decode())
                    if table == "trace_tags" and r["key"] == "mlflow.artifactLocation":
                        r["value"] = r["value"].replace(tid, new_id)
                    yield [r[c] for c in cols]

        db.executemany(sql, gen())
    db.commit()
    db.close()
    elapsed = time.perf_counter() - t
    server.start()
    return elapsed


def time_search(server: Server, experiment_id: str, filter_string: str, repeats: int):
    body = {"locations": [{"type": "MLFLOW_EXPERIMENT",
                           "mlflow_experiment": {"experiment_id": experiment_id}}],
            "max_results": 100}
    if filter_string:
        body["filter"] = filter_string
    times, count = [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        status, text = server.call("POST", "/api/3.0/mlflow/traces/search", body)
        times.append(time.perf_counter() - t)
        if status != 200:
            raise RuntimeError(f"{server.kind}: search {status}: {text[:300]!r}")
        count = len(json.loads(text).get("traces", []))
    times.sort()
    return {"median_ms": statistics.median(times) * 1000,
            "p90_ms": times[int(0.9 * (len(times) - 1))] * 1000, "returned": count}


# ----------------------------------------------------------------------------- main


def run_server(kind: str, args, work: str) -> dict:
    res: dict = {}
    srv = Server(kind, os.path.join(work, kind), args)
    srv.start()
    try:
        log(f"[{kind}] 1. OTLP ingestion")
        exp = srv.experiment("bench-otlp")
        bodies, hexes = [], []
        for r in range(args.requests):
            ids = trace_ids(args.traces_per_request, r)
            hexes.append([i.hex() for i in ids])
            bodies.append(make_request(ids, args.spans, 1_700_000_000_000_000_000 + r * 10**9))
        per_body = args.traces_per_request * args.spans
        acked, errors, elapsed = ingest(srv, exp, bodies, args.clients, args.seconds, per_body)
        acked_spans = len(acked) * per_body
        sample = [h for i in acked[:: max(1, len(acked) // 20)] for h in hexes[i]]
        stored = stored_spans(srv, sample)
        expected = len(sample) * args.spans
        res["otlp"] = {"requests": len(acked), "spans": acked_spans, "errors": errors,
                       "elapsed": elapsed, "spans_per_s": acked_spans / elapsed,
                       "checked_spans": expected, "stored_of_checked": stored}
        log(f"  {acked_spans} spans in {len(acked)} requests, {elapsed:.1f}s: "
            f"{acked_spans / elapsed:,.0f} spans/s, {errors} errors; "
            f"{stored}/{expected} of a sample read back")

        log(f"[{kind}] 2. the mlflow client's own export (synchronous)")
        c = client_export(srv, args.spans, args.client_seconds)
        c["traces_per_s"] = c["traces"] / c["elapsed"]
        c["spans_per_s"] = c["traces_per_s"] * args.spans
        res["client"] = c
        log(f"  {c['traces']} traces in {c['elapsed']:.1f}s: {c['traces_per_s']:.1f} traces/s, "
            f"{c['spans_per_s']:.0f} spans/s; last trace complete: {c['last_trace_complete']}")

        log(f"[{kind}] 3. search over {args.search_spans:,} spans")
        exp_s = srv.experiment("bench-search")
        traces = args.search_spans // args.spans
        if kind == "slipway":
            fill = fill_slipway(srv, exp_s, traces, args.spans, args.traces_per_request,
                                args.clients)
            how = "through OTLP"
        else:
            fill = fill_mlflow(srv, exp_s, traces, args.spans)
            how = "by copying rows mlflow wrote"
        log(f"  filled {traces:,} traces {how} in {fill:.1f}s")
        res["fill_seconds"] = fill
        res["search_all"] = time_search(srv, exp_s, "", args.repeats)
        res["search_filtered"] = time_search(
            srv, exp_s, "attributes.status = 'OK' AND span.type = 'TOOL'", args.repeats)
        for k in ("search_all", "search_filtered"):
            log(f"  {k}: median {res[k]['median_ms']:.1f} ms, p90 {res[k]['p90_ms']:.1f} ms, "
                f"{res[k]['returned']} traces")
    finally:
        srv.stop()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="slipway,mlflow")
    ap.add_argument("--slipway-bin", default=os.path.join(ROOT, "build", "slipway"))
    ap.add_argument("--spans", type=int, default=10, help="spans per trace")
    ap.add_argument("--traces-per-request", type=int, default=10)
    ap.add_argument("--requests", type=int, default=2000, help="OTLP requests prepared")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20, help="time box of workload 1")
    ap.add_argument("--client-seconds", type=float, default=15)
    ap.add_argument("--search-spans", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--workdir")
    ap.add_argument("--record", action="store_true", help="append the result to bench/RESULTS.md")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="slipway-tracebench-")
    for kind in args.servers.split(","):
        shutil.rmtree(os.path.join(work, kind), ignore_errors=True)
    started = datetime.datetime.utcnow()
    results = {}
    for kind in args.servers.split(","):
        results[kind] = run_server(kind, args, work)
    lines = table(results)
    print("\n".join(lines))
    if args.record:
        record(lines, results, args, started)


def table(results: dict) -> list[str]:
    kinds = list(results)
    rows = [
        ("OTLP ingestion, spans/s", lambda r: r["otlp"]["spans_per_s"], "{:,.0f}", True),
        ("mlflow client export (sync), spans/s", lambda r: r["client"]["spans_per_s"],
         "{:,.0f}", True),
        # Near 100%, the client's own Python is the bound, whatever the server.
        ("client process busy (its CPU time / wall time), %",
         lambda r: 100 * r["client"]["client_cpu_s"] / r["client"]["elapsed"], "{:.0f}", None),
        ("search 100 of all traces, median ms", lambda r: r["search_all"]["median_ms"],
         "{:.1f}", False),
        ("search with a filter, median ms", lambda r: r["search_filtered"]["median_ms"],
         "{:.1f}", False),
    ]
    head = "| workload | " + " | ".join(kinds) + (" | slipway / mlflow |" if len(kinds) > 1 else " |")
    out = [head, "|---" * (len(kinds) + 1 + (len(kinds) > 1)) + "|"]
    for name, get, fmt, higher_better in rows:
        vals = [get(results[k]) for k in kinds]
        cells = [fmt.format(v) for v in vals]
        ratio = ""
        if "slipway" in results and "mlflow" in results:
            s, m = get(results["slipway"]), get(results["mlflow"])
            ratio = " | " if higher_better is None else f" | {(s / m if higher_better else m / s):.1f}x"
        out.append(f"| {name} | " + " | ".join(cells) + ratio + " |")
    return out


def record(lines: list[str], results: dict, args, started) -> None:
    argv = sys.argv[1:]
    if "--workdir" in argv:  # a path of this machine: not for the record
        argv[argv.index("--workdir") + 1] = "$WORKDIR"
    cmd = "python3 bench/tracing/run.py " + " ".join(argv)
    with open(os.path.join(BENCH_DIR, "RESULTS.md"), "a") as f:
        f.write(f"\n## bench/tracing, {started:%Y-%m-%d %H:%M} UTC\n\n")
        f.write(f"`{cmd}` on {platform.node()} ({os.cpu_count()} cores), mlflow "
                f"{_mlflow_version()}: {args.spans} spans per trace, "
                f"{args.traces_per_request} traces per OTLP request, {args.clients} client "
                f"processes; search over {args.search_spans:,} spans.\n\n")
        f.write("\n".join(lines) + "\n\n")
        for kind, r in results.items():
            o = r["otlp"]
            f.write(f"- {kind} OTLP: {o['spans']} spans acknowledged in {o['requests']} "
                    f"requests over {o['elapsed']:.1f}s, {o['errors']} errors; "
                    f"{o['stored_of_checked']}/{o['checked_spans']} spans of a sample read "
                    f"back\n")
            c = r["client"]
            f.write(f"- {kind} client export: {c['traces']} traces in {c['elapsed']:.1f}s, "
                    f"last trace complete: {c['last_trace_complete']}\n")
            f.write(f"- {kind} search store filled in {r['fill_seconds']:.1f}s "
                    f"({'OTLP' if kind == 'slipway' else 'row copies of what mlflow wrote'}); "
                    f"p90 {r['search_all']['p90_ms']:.1f} / "
                    f"{r['search_filtered']['p90_ms']:.1f} ms\n")


def _mlflow_version() -> str:
    try:
        import mlflow

        return mlflow.__version__
    except ImportError:
        return "?"


if __name__ == "__main__":
    main()
