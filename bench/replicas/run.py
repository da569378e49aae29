#!/usr/bin/env python3
"""Throughput of 1, 2 and 3 `slipway server` replicas behind nginx, on one
PostgreSQL and one artifact folder, on this machine (issue 16).

For each replica count: a fresh database, n replicas and nginx
(tests/integration/replicas.py), then two loads through nginx with wrk:

  tracking   POST runs/log-metric, one distinct point per request, into one
             run (bench/tracking/log_metric.lua), then into 32 runs in turn
             (log_metric_runs.lua), --conns connections
  serving    POST /deployments/NAME/invocations, a single-row XGBoost
             request (bench/serving/post.lua), --conns connections

and the CPU time each process group used during the measured interval
(/proc/PID/stat of every replica, of nginx's processes and of PostgreSQL's
backends), divided by the requests answered: the per-request CPU cost of
Slipway, PostgreSQL and nginx; and PostgreSQL's committed and rolled-back
transactions per request (pg_stat_database: a rollback is a serialization
conflict that was run again). Those costs are what the written estimate in
bench/README.md ("Replicas") scales to N machines.

This machine has 2 cores, shared by wrk, nginx, PostgreSQL and every replica:
more replicas here cannot add cores, so the figures measure the cost of the
replication (what a request costs, whether replicas fight over locks), not
its gain. Run on a quiet machine; the load average is recorded.

    python3 bench/replicas/run.py                 # 1, 2, 3 replicas, 10 s per load
    python3 bench/replicas/run.py --seconds 5 --no-record
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import requests  # noqa: E402

from pg import PostgresCluster, find_postgres_bin  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / TICKS


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            pass
    return out


def postgres_pids(cluster: PostgresCluster) -> list[int]:
    postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    return [postmaster, *children(postmaster)]


def wrk(url: str, script: Path, conns: int, seconds: int, env: dict) -> dict:
    p = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s",
                        "-s", str(script), url], capture_output=True, text=True,
                       env={**os.environ, **env}, timeout=seconds + 60)
    for line in p.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[len("WRKJSON "):])
    raise RuntimeError(f"wrk failed ({p.returncode}): {p.stdout[-800:]} {p.stderr[-800:]}")


def transactions(cluster, database: str) -> tuple[int, int]:
    """PostgreSQL's committed and rolled-back transactions in `database` so far."""
    row = cluster.psql("SELECT xact_commit, xact_rollback FROM pg_stat_database "
                       f"WHERE datname = '{database}'").strip().split("|")
    return int(row[0]), int(row[1])


def measure(group, cluster, url, script, conns, seconds, env) -> dict:
    wrk(url, script, conns, 2, env)  # warm-up, discarded
    database = group.store_uri.rsplit("/", 1)[1]
    slipway = [r.proc.pid for r in group.replicas]
    nginx = [group.nginx.proc.pid, *children(group.nginx.proc.pid)]
    pg = postgres_pids(cluster)
    before = (cpu_seconds(slipway), cpu_seconds(pg), cpu_seconds(nginx))
    xact_before = transactions(cluster, database)
    load = os.getloadavg()[0]
    result = wrk(url, script, conns, seconds, env)
    pg = postgres_pids(cluster)  # backends opened meanwhile count from zero
    after = (cpu_seconds(slipway), cpu_seconds(pg), cpu_seconds(nginx))
    xact_after = transactions(cluster, database)
    ok = result["requests"] - result["err_status"]
    per = [(a - b) / max(ok, 1) * 1e6 for a, b in zip(after, before)]
    # (PostgreSQL's statistics lag by up to half a second: a rate, not a count.)
    commits = (xact_after[0] - xact_before[0]) / max(ok, 1)
    rollbacks = (xact_after[1] - xact_before[1]) / max(ok, 1)
    return {"rps": ok / (result["duration_us"] / 1e6), "requests": ok,
            "commits_per_req": commits, "rollbacks_per_req": rollbacks,
            "errors": result["err_status"] + result["err_connect"] + result["err_read"] +
            result["err_timeout"], "p50_ms": result["lat_p50_us"] / 1000,
            "p99_ms": result["lat_p99_us"] / 1000, "cpu_us_slipway": per[0],
            "cpu_us_postgres": per[1], "cpu_us_nginx": per[2], "load": load}


def prepare(group, work: Path) -> tuple[list[str], str]:
    """Runs to log into, and a deployment of a small XGBoost model."""
    import mlflow

    os.environ["MLFLOW_TRACKING_URI"] = group.url
    os.environ["MLFLOW_REGISTRY_URI"] = group.url
    mlflow.set_tracking_uri(group.url)
    mlflow.set_registry_uri(group.url)
    from test_serving import log_xgboost  # trains and registers with the real client

    client = mlflow.MlflowClient(tracking_uri=group.url, registry_uri=group.url)
    experiment = client.create_experiment(f"bench-{time.time_ns()}")
    run_ids = [client.create_run(experiment).info.run_id for _ in range(32)]
    name = f"bench-model-{time.time_ns()}"
    _, version = log_xgboost(name, depth=6, seed=1)
    client.set_registered_model_alias(name, "production", version)
    r = requests.post(f"{group.url}/api/v1/deployments",
                      json={"name": "bench", "model_uri": f"models:/{name}@production"},
                      timeout=60)
    r.raise_for_status()
    body = work / "single.json"
    body.write_text(json.dumps({"dataframe_split": {
        "columns": [f"f{i}" for i in range(8)],
        "data": [[0.1 * i for i in range(8)]]}}))
    deadline = time.monotonic() + 120
    for replica in group.replicas:  # every replica serves it before the load
        while True:
            r = requests.post(f"{replica.url}/deployments/bench/invocations",
                              data=body.read_bytes(),
                              headers={"Content-Type": "application/json"}, timeout=30)
            if r.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{replica.url} does not serve: {r.text}")
            time.sleep(0.2)
    return run_ids, str(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("SLIPWAY_BINARY", str(REPO / "build" / "slipway"))
    from replicas import ReplicaSet

    bin_dir = find_postgres_bin()
    if bin_dir is None:
        sys.exit("PostgreSQL's initdb not found: apt-get install postgresql")
    cluster = PostgresCluster(bin_dir).start()
    rows = []
    try:
        for n in [int(v) for v in args.replicas.split(",")]:
            with tempfile.TemporaryDirectory(prefix="slipway-replicas-") as tmp:
                group = ReplicaSet(Path(tmp), cluster.create_database())
                try:
                    group.start(n)
                    run_ids, body = prepare(group, Path(tmp))
                    one_run = measure(group, cluster, group.url,
                                      REPO / "bench" / "tracking" / "log_metric.lua",
                                      args.conns, args.seconds,
                                      {"BENCH_RUN_ID": run_ids[0]})
                    tracking = measure(group, cluster, group.url,
                                       REPO / "bench" / "replicas" / "log_metric_runs.lua",
                                       args.conns, args.seconds,
                                       {"BENCH_RUN_IDS": ",".join(run_ids)})
                    serving = measure(group, cluster, group.url,
                                      REPO / "bench" / "serving" / "post.lua", args.conns,
                                      args.seconds,
                                      {"BENCH_BODY_FILE": body,
                                       "BENCH_PATH": "/deployments/bench/invocations"})
                    rows.append((n, {"log-metric, 1 run": one_run,
                                     "log-metric, 32 runs": tracking,
                                     "invocations, 1 row": serving}))
                    print(f"{n} replica(s): {rows[-1][1]}", flush=True)
                finally:
                    group.stop()
    finally:
        cluster.stop()
    text = table(rows, args)
    print(text)
    if not args.no_record:
        with open(REPO / "bench" / "RESULTS.md", "a") as f:
            f.write(text)


def table(rows, args) -> str:
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    lines = [
        "",
        f"## Replicas behind nginx on one PostgreSQL ({time.strftime('%Y-%m-%d')}, commit "
        f"{commit})",
        "",
        f"`python3 bench/replicas/run.py --replicas {args.replicas} --seconds {args.seconds} "
        f"--conns {args.conns}`; {os.cpu_count()} cores shared by wrk, nginx, PostgreSQL and "
        "every replica (so more replicas add no cores here); CPU per request from "
        "/proc/PID/stat over the measured interval.",
        "",
        "| replicas | load | req/s | p50 ms | p99 ms | errors | CPU us/req slipway | "
        "postgres | nginx | PG commits/req | PG rollbacks/req | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, loads in rows:
        for kind, r in loads.items():
            lines.append(
                f"| {n} | {kind} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r['errors']} | {r['cpu_us_slipway']:.0f} | {r['cpu_us_postgres']:.0f} | "
                f"{r['cpu_us_nginx']:.0f} | {r['commits_per_req']:.2f} | "
                f"{r['rollbacks_per_req']:.3f} | {r['load']:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
