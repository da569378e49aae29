#!/usr/bin/env python3
"""Open connections vs memory and threads: mlflow server vs Slipway.

For each server in turn (one at a time: the machine has 2 shared cores), on
127.0.0.1 over a fresh store: start it, measure its process tree's RSS and
thread count, then open N idle keep-alive connections (each sends one whole
GET /health and then stays silent) plus M connections that trickle a request
header a byte a second. With those held open, a new client times GET /health
and a log-metric (the write path). Prints, per server, the RSS and threads
before and during, the memory per held connection, how many of the held
connections the server still had open, and the new client's latencies (or its
error); and the Slipway/mlflow ratios. Appends a dated entry to
bench/RESULTS.md. See bench/README.md.

Loopback only; every loop is bounded in count and time.
"""

import argparse
import datetime
import json
import os
import resource
import socket
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(BENCH_DIR, "tracking"))
from run import Server, loadavg, log, machine, snapshot_slipway  # noqa: E402

API = "/api/2.0/mlflow"


def tree_status(server):
    """(RSS MB summed over the process tree, threads summed, processes)."""
    rss, threads, n = 0.0, 0, 0
    for pid in server.pids():
        try:
            with open(f"/proc/{pid}/status") as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) / 1024
            elif line.startswith("Threads:"):
                threads += int(line.split()[1])
        n += 1
    return rss, threads, n


def request(port, method, path, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        text = r.read()
        return json.loads(text or b"{}") if path.startswith(API) else text


def timed(fn):
    t0 = time.perf_counter()
    try:
        fn()
        return (time.perf_counter() - t0) * 1000, None
    except Exception as e:  # noqa: BLE001  (what the new client met is the result)
        return None, repr(e)[:120]


def held_open(socks):
    """How many of `socks` the server has not closed (a zero-byte peek means closed)."""
    alive = 0
    for s in socks:
        try:
            s.setblocking(False)
            data = s.recv(1, socket.MSG_PEEK)
            alive += 1 if data else 0
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


def bench_server(kind, args, work):
    srv = Server(kind, os.path.join(work, kind), args)
    srv.start()
    out = {"kind": kind}
    try:
        exp = request(srv.port, "POST", f"{API}/experiments/create", {"name": "conn"})
        run = request(srv.port, "POST", f"{API}/runs/create",
                      {"experiment_id": exp["experiment_id"], "start_time": 1})
        run_id = run["run"]["info"]["run_id"]
        out["before"] = tree_status(srv)
        idle, slow = [], []
        stop = threading.Event()
        t0 = time.time()
        for _ in range(args.idle):
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                s.recv(4096)
                idle.append(s)
            except OSError as e:
                out.setdefault("open_errors", repr(e)[:120])
                break
        for _ in range(args.slow):
            try:
                slow.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
            except OSError as e:
                out.setdefault("open_errors", repr(e)[:120])
                break
        out["opened"] = (len(idle), len(slow), time.time() - t0)
        header = b"POST /api/2.0/mlflow/runs/log-metric HTTP/1.1\r\nHost: x\r\nX-Pad: "

        def trickle():
            for i in range(int(args.hold) + 30):
                if stop.is_set():
                    return
                for s in slow:
                    try:
                        s.send(header[i:i + 1] if i < len(header) else b"a")
                    except OSError:
                        pass
                stop.wait(1.0)

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        time.sleep(args.hold)
        out["health_ms"] = timed(lambda: request(srv.port, "GET", "/health", timeout=10))
        out["log_metric_ms"] = timed(lambda: request(
            srv.port, "POST", f"{API}/runs/log-metric",
            {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}, timeout=10))
        out["during"] = tree_status(srv)
        out["still_open"] = (held_open(idle), held_open(slow))
        stop.set()
        for s in idle + slow:
            s.close()
    finally:
        srv.stop()
    return out


def fmt_ms(v):
    ms, err = v
    return f"{ms:.1f}" if ms is not None else f"failed: {err}"


def report(results, args):
    lines = [f"held: {args.idle} idle keep-alive connections + {args.slow} trickling a header "
             f"byte a second, for {args.hold:.0f} s before the new client's requests", "",
             "| | " + " | ".join(r["kind"] for r in results) + " |",
             "|---|" + "---|" * len(results)]
    rows = [
        ("RSS before, MB", lambda r: f"{r['before'][0]:.1f}"),
        ("RSS holding the connections, MB", lambda r: f"{r['during'][0]:.1f}"),
        ("KB per held connection",
         lambda r: f"{(r['during'][0] - r['before'][0]) * 1024 / max(1, sum(r['opened'][:2])):.1f}"),
        ("threads before / during", lambda r: f"{r['before'][1]} / {r['during'][1]}"),
        ("processes", lambda r: f"{r['during'][2]}"),
        ("connections opened (idle, trickling)", lambda r: f"{r['opened'][0]}, {r['opened'][1]}"),
        ("still open at the end (idle, trickling)",
         lambda r: f"{r['still_open'][0]}, {r['still_open'][1]}"),
        ("new client GET /health, ms", lambda r: fmt_ms(r["health_ms"])),
        ("new client log-metric, ms", lambda r: fmt_ms(r["log_metric_ms"])),
    ]
    for name, cell in rows:
        lines.append(f"| {name} | " + " | ".join(cell(r) for r in results) + " |")
    by = {r["kind"]: r for r in results}
    if "mlflow" in by and "slipway" in by:
        m, s = by["mlflow"], by["slipway"]
        for label, key in (("GET /health", "health_ms"), ("log-metric", "log_metric_ms")):
            if m[key][0] is not None and s[key][0] is not None and s[key][0] > 0:
                lines.append(f"\nnew client {label}: slipway {m[key][0] / s[key][0]:.1f}x faster")
        if m["during"][0] > 0:
            lines.append(f"RSS holding the connections: mlflow/slipway "
                         f"{m['during'][0] / max(s['during'][0], 0.1):.1f}x")
    for r in results:
        if r.get("open_errors"):
            lines.append(f"- {r['kind']}: opening connections stopped at: {r['open_errors']}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", default="mlflow,slipway")
    ap.add_argument("--slipway-bin", default=os.path.join(REPO, "build", "slipway"))
    ap.add_argument("--mlflow-workers", type=int, default=None)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--slow", type=int, default=200)
    ap.add_argument("--hold", type=float, default=5.0, help="seconds to hold them first")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = datetime.datetime.utcnow()
    with tempfile.TemporaryDirectory(prefix="slipway-conn-bench-") as work:
        snapshot_slipway(args, work)
        results = []
        for kind in args.servers.split(","):
            log(f"== {kind}")
            results.append(bench_server(kind, args, work))
        text = report(results, args)
    print(text)
    if args.no_record:
        return
    cmd = "python3 bench/http/connections.py " + " ".join(sys.argv[1:])
    entry = (f"\n## {started:%Y-%m-%d %H:%M} UTC: http connections\n\n"
             f"- command: `{cmd.strip()}`\n- machine: {machine()}; load average at the end "
             f"{loadavg()}\n- slipway binary built {getattr(args, 'slipway_mtime', '?')}, sha256 "
             f"{getattr(args, 'slipway_sha', '?')}...\n\n{text}\n")
    with open(args.results, "a") as f:
        f.write(entry)


if __name__ == "__main__":
    main()
