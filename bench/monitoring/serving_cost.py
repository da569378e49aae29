#!/usr/bin/env python3
"""The cost of live monitoring on the serving path: single-row req/s with a monitor on
a deployment against the same deployment without one.

Issue 15 ("Speed", live): "single-row req/s with monitoring on within 10% of monitoring
off". One run:

  1. generates a training set (30 numeric features, seeded), pushes it to a fresh
     `slipway server` as a dataset, trains an XGBoost model on it with `slipway train`
     (100 trees, depth 6: bench/serving's model), registers it with the alias
     `production` and deploys it (`/deployments/bench/invocations`);
  2. measures single-row dataframe_split requests/s with wrk (32 connections, the
     body bench/serving sends) in alternating rounds: monitor off (`slipway monitor
     delete`), monitor on (`slipway monitor set bench --window 10s`: the reference
     from the model's lineage, all 30 features), off, on, ...; a round with the
     monitor on first waits until the fold has closed a window of this traffic, so
     the background fold, the drift of each window and the gauges all run during the
     measured seconds;
  3. prints each round, the median of each side and their ratio, and with --record
     appends them to bench/RESULTS.md.

The prediction log is written whether or not a monitor exists (serving logs every
request); what the monitor adds is the fold that reads the log back into windows, the
drift per window and the live gauges. Alternating rounds on one server process keep
the machine's drift over time out of the ratio as far as two cores allow.

Usage: python3 bench/monitoring/serving_cost.py [--rounds N] [--seconds S]
       [--slipway-bin PATH] [--record] [--keep DIR]
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
POST_LUA = os.path.join(REPO, "bench", "serving", "post.lua")
FEATURES = 30
SEED = 20261208


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def slipway(binary, url, *args, cwd):
    env = dict(os.environ, SLIPWAY_TRACKING_URI=url)
    p = subprocess.run([binary, *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=1800)
    if p.returncode != 0:
        raise SystemExit(f"slipway {' '.join(args)} failed ({p.returncode}):\n"
                         f"{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p.stdout


def make_data(work, rows=20_000):
    """bench/serving's kind of problem: 30 numeric features, a binary label from a few."""
    rng = np.random.default_rng(SEED)
    x = rng.normal(0, 1, (rows, FEATURES))
    score = x[:, 0] + 0.5 * x[:, 1] - 0.7 * x[:, 2] + 0.3 * x[:, 3] * x[:, 4]
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(FEATURES)]).round(5)
    frame["y"] = (score + rng.normal(0, 0.5, rows) > 0).astype(int)
    frame.to_csv(os.path.join(work, "train.csv"), index=False)
    row = frame.drop(columns=["y"]).iloc[:1]
    body = {"dataframe_split": json.loads(row.to_json(orient="split", index=False))}
    with open(os.path.join(work, "single.json"), "w") as f:
        json.dump(body, f)


def prepare(binary, url, work):
    make_data(work)
    slipway(binary, url, "data", "add", "train.csv", "--name", "benchset", cwd=work)
    slipway(binary, url, "data", "push", "benchset", cwd=work)
    with open(os.path.join(work, "spec.yaml"), "w") as f:
        f.write("data: benchset@1\ntarget: y\ntask: binary\n"
                "model:\n  type: xgboost\n"
                "  params: {num_boost_round: 100, max_depth: 6, eta: 0.1}\n"
                "holdout: 0.2\nseed: 3\n"
                "register: {model: benchmodel, alias: production}\n")
    slipway(binary, url, "train", "spec.yaml", "--experiment", "bench", cwd=work)
    http("POST", f"{url}/api/v1/deployments",
         {"name": "bench", "model_uri": "models:/benchmodel@production"})

    def ready():
        d = http("GET", f"{url}/api/v1/deployments/bench")["deployment"]
        return any(v["state"] == "ready" for v in d["versions"])

    wait(ready, 120, "the deployment to serve")


def wrk(port, body_file, seconds, conns):
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "-s", POST_LUA,
           f"http://127.0.0.1:{port}"]
    env = dict(os.environ, BENCH_BODY_FILE=body_file, BENCH_PATH="/deployments/bench/invocations")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 120)
    line = [x for x in p.stdout.splitlines() if x.startswith("WRKJSON ")]
    if p.returncode != 0 or not line:
        raise SystemExit(f"wrk failed ({p.returncode}): {p.stdout[-800:]} {p.stderr[-800:]}")
    r = json.loads(line[0][8:])
    errors = sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_status",
                                "err_timeout"))
    return (r["requests"] - r["err_status"]) / (r["duration_us"] / 1e6), errors, r


def closed_windows(url, since_ms=0):
    """Closed windows that start at or after `since_ms`: setting a monitor folds the
    whole log again, so windows of earlier traffic close first."""
    windows = http("GET", f"{url}/api/v1/deployments/bench/monitor/windows")["windows"]
    return sum(1 for w in windows if w.get("closed") and w["start_ms"] >= since_ms)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=4, help="rounds per side")
    ap.add_argument("--seconds", type=int, default=15, help="wrk duration per round")
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--slipway-bin", default=os.path.join(REPO, "build", "slipway"))
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--keep", help="keep the server's folder here")
    args = ap.parse_args()

    work = args.keep or tempfile.mkdtemp(prefix="slipway-bench-moncost-")
    os.makedirs(work, exist_ok=True)
    binary = os.path.join(work, "slipway-under-test")
    shutil.copy2(args.slipway_bin, binary)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([binary, "server", "--host", "127.0.0.1", "--port", str(port),
                               "--data-dir", os.path.join(work, "data")],
                              stdout=open(os.path.join(work, "server.log"), "w"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    started = time.time()
    try:
        wait(lambda: urllib.request.urlopen(f"{url}/health", timeout=2).status == 200, 30,
             "the server")
        log("training and deploying the model ...")
        prepare(binary, url, work)
        body = os.path.join(work, "single.json")
        wrk(port, body, 5, args.conns)  # warm-up, not counted
        rounds = {"off": [], "on": []}
        errors = 0
        load_before = loadavg()
        for i in range(args.rounds):
            for side in ("off", "on"):
                if side == "on":
                    slipway(binary, url, "monitor", "set", "bench", "--window", "10s", cwd=work)
                    since_ms = int(time.time() * 1000)
                    # Traffic until the fold has caught up with the log (it folds all of
                    # it again after a set) and closed a window of this traffic.
                    wrk(port, body, 12, args.conns)
                    wait(lambda: closed_windows(url, since_ms) > 0, 300, "a closed window")
                else:
                    try:
                        slipway(binary, url, "monitor", "delete", "bench", cwd=work)
                    except SystemExit:
                        pass  # none set yet (the first round)
                rps, errs, _ = wrk(port, body, args.seconds, args.conns)
                errors += errs
                rounds[side].append(rps)
                log(f"round {i + 1} monitor {side:>3}: {rps:,.0f} req/s ({errs} errors)")
        off, on = statistics.median(rounds["off"]), statistics.median(rounds["on"])
        ratio = on / off
        log(f"median off {off:,.0f} req/s, on {on:,.0f} req/s: on/off = {ratio:.3f} "
            f"({'within' if ratio >= 0.9 else 'outside'} the issue's 10%)")
        if args.record:
            record(args, rounds, off, on, ratio, errors, load_before, time.time() - started)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def record(args, rounds, off, on, ratio, errors, load_before, elapsed):
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python3 bench/monitoring/serving_cost.py " + " ".join(
        a for a in sys.argv[1:] if not a.startswith("/"))
    lines = [f"\n## bench/monitoring: the cost of live monitoring on serving ({when})\n",
             f"`{cmd}`\n",
             f"| single-row dataframe_split, wrk -c{args.conns}, {args.seconds} s rounds "
             "| monitor off | monitor on |", "|---|---|---|"]
    for i, (a, b) in enumerate(zip(rounds["off"], rounds["on"])):
        lines.append(f"| round {i + 1}, req/s | {a:,.0f} | {b:,.0f} |")
    lines += [f"| median req/s | {off:,.0f} | {on:,.0f} |", "",
              f"- on/off = **{ratio:.3f}** (issue 15: within 10%, i.e. >= 0.90); "
              f"{errors} failed requests in all rounds",
              f"- monitor: `slipway monitor set bench --window 10s` (reference from the "
              f"model's lineage, 30 features); each 'on' round starts after a window of "
              f"its traffic has closed",
              f"- load average {load_before} -> {loadavg()}; took {elapsed / 60:.1f} min"]
    with open(os.path.join(REPO, "bench", "RESULTS.md"), "a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
