#!/usr/bin/env python3
"""The SQL a `slipway server` on PostgreSQL sends for one request of each tracking workload.

Starts the bench's throw-away PostgreSQL cluster (pg_store.py) with
`log_statement = all`, a Slipway server on a fresh database of it, fills
`--runs` runs (metric rmse, param a), then sends one log-batch of 1000 metrics,
one log-metric and one search (the bench's filter and order, max_results 100)
and prints, for each, the statements PostgreSQL logged between two markers:
how many, of which kind, how many transactions, and the first few (all of them
when there are fewer than 40). No timing: it shows where round trips and
commits go, which the throughput of bench/tracking/run.py --store postgresql
depends on.

    python3 bench/tracking/pg_statements.py [--slipway-bin build/slipway] [--runs 200]
"""

import argparse
import collections
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import pg_store  # noqa: E402
from run import Client, free_port  # noqa: E402

STATEMENT = re.compile(r"LOG:  (?:statement|execute [^:]*): (.*)")


def logged(cluster, label, fn):
    """The statements the cluster logged while fn() ran (between two markers)."""
    cluster.psql(f"SELECT 'MARK-{label}'")
    fn()
    time.sleep(0.5)  # anything the request started after answering
    cluster.psql(f"SELECT 'END-{label}'")
    text = cluster.log_path.read_text(errors="replace")
    start = text.index(f"MARK-{label}")
    seg = text[start:text.rindex("\n", start, text.index(f"END-{label}"))]
    return [s for s in STATEMENT.findall(seg) if "MARK-" not in s]


def report(label, statements):
    kinds = collections.Counter(s.split()[0].upper() for s in statements)
    print(f"{label}: {len(statements)} statements, {kinds.get('BEGIN', 0)} transactions; "
          + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    for s in statements if len(statements) < 40 else statements[:9] + ["..."]:
        print(f"    {s[:200]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--slipway-bin", default=os.path.join(REPO, "build", "slipway"))
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()

    cluster = pg_store.start_cluster()
    work = tempfile.mkdtemp(prefix="slipway-pg-statements-")
    proc = None
    try:
        uri = cluster.create_database("statements")
        port = free_port()
        proc = subprocess.Popen(
            [args.slipway_bin, "server", "--host", "127.0.0.1", "--port", str(port),
             "--store", uri, "--data-dir", work],
            stdout=open(os.path.join(work, "server.log"), "w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        for _ in range(300):
            try:
                h = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                h.request("GET", "/health")
                if h.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        c = Client(port)
        exp = c.post("/experiments/create", {"name": "statements"})["experiment_id"]
        rids = []
        for i in range(args.runs):
            rid = c.post("/runs/create", {"experiment_id": exp,
                                          "start_time": 1 + i})["run"]["info"]["run_id"]
            c.post("/runs/log-batch", {"run_id": rid, "metrics": [
                {"key": "rmse", "value": i / args.runs, "timestamp": 1, "step": 0}],
                "params": [{"key": "a", "value": "1"}]})
            rids.append(rid)
        cluster.psql("ALTER SYSTEM SET log_statement = 'all'")
        cluster.psql("SELECT pg_reload_conf()")
        time.sleep(1)
        print(f"slipway server on PostgreSQL {cluster.version()}, {args.runs} runs")
        report("log-batch of 1000 metrics", logged(cluster, "batch", lambda: c.post(
            "/runs/log-batch", {"run_id": rids[0], "metrics": [
                {"key": "loss", "value": i, "timestamp": 1, "step": i} for i in range(1000)]})))
        report("log-metric", logged(cluster, "metric", lambda: c.post(
            "/runs/log-metric", {"run_id": rids[0], "key": "x", "value": 1, "timestamp": 1,
                                 "step": 0})))
        report(f"search-runs ({min(100, args.runs // 2)} runs answered)",
               logged(cluster, "search", lambda: c.post("/runs/search", {
                   "experiment_ids": [exp], "filter": "metrics.rmse < 0.5",
                   "order_by": ["metrics.rmse ASC"], "max_results": 100})))
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
