#!/usr/bin/env python3
"""The whole closed loop on a running Slipway server, in a few minutes.

    make run                          # one terminal: the server on 127.0.0.1:5000
    python3 tools/demo_loop.py        # another: this demo

It adds a dataset, trains a deliberately weak model with a gated spec and
deploys it, watches the deployment (live drift in windows of 300 rows), sets
an alert rule on drift and a loop policy on that alert, and sends traffic:
first like the training data, then with one feature shifted. The alert
fires, the loop retrains on the newest dataset version, the champion gate
passes and the deployment hot-swaps to the new version while the traffic
keeps flowing; then the traffic returns to normal and the alert resolves.
It prints each step as it happens and, at the end, where to look.

Only Python's standard library and the `slipway` executable are used.
Options: --server URL, --slipway PATH, --workdir DIR, --name PREFIX.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

FEATURES = ["f0", "f1", "f2"]
WINDOW_ROWS = 300
ROWS_PER_REQUEST = 10


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Demo:
    def __init__(self, args):
        self.server = args.server.rstrip("/")
        self.slipway = args.slipway
        self.work = Path(args.workdir or tempfile.mkdtemp(prefix="slipway-demo-"))
        self.work.mkdir(parents=True, exist_ok=True)
        suffix = args.name or f"demo{int(time.time()) % 100000}"
        self.dataset, self.model, self.dep = f"{suffix}-data", f"{suffix}-model", suffix
        self.timeout = args.timeout
        self.rng = random.Random(7)
        self.mode = "reference"
        self.sent = self.failed = 0
        self.versions: dict[str, int] = {}
        self._stop = threading.Event()

    # ------------------------------------------------------------- plumbing
    def run(self, *args: str) -> str:
        env = {**os.environ, "SLIPWAY_TRACKING_URI": self.server}
        out = subprocess.run([self.slipway, *args], cwd=self.work, env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"slipway {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def api(self, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read() or b"{}")

    def wait(self, what: str, check, timeout: float | None = None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            got = check()
            if got:
                return got
            time.sleep(0.5)
        sys.exit(f"timed out waiting for {what}")

    def rows(self, n: int, shift: float = 0.0) -> list[list[float]]:
        out = []
        for _ in range(n):
            f0, f1, f2 = (self.rng.gauss(0, 1) for _ in FEATURES)
            out.append([f0, f1, f2 + shift])
        return out

    def write_version(self, name: str, shift: float) -> None:
        with open(self.work / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(FEATURES + ["y"])
            for f0, f1, f2 in self.rows(2000, shift):
                w.writerow([f0, f1, f2, int(f0 + f2 - shift + self.rng.gauss(0, 0.5) > 0)])

    # --------------------------------------------------------------- traffic
    def traffic(self) -> None:
        url = f"{self.server}/deployments/{self.dep}/invocations"
        while not self._stop.is_set():
            body = {"dataframe_split": {
                "columns": FEATURES,
                "data": self.rows(ROWS_PER_REQUEST, 2.0 if self.mode == "drift" else 0.0)}}
            request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as reply:
                    reply.read()
                    version = reply.headers.get("X-Model-Version", "?")
                    self.versions[version] = self.versions.get(version, 0) + 1
                    self.sent += 1
            except (urllib.error.URLError, OSError):
                self.failed += 1
            time.sleep(0.01)

    def loop_runs(self) -> list[dict]:
        return self.api(f"/api/v1/deployments/{self.dep}/loop/runs")["runs"]

    def serving(self) -> str | None:
        d = self.api(f"/api/v1/deployments/{self.dep}")["deployment"]
        return next((v["version"] for v in d["versions"]
                     if v["role"] == "primary" and v["state"] == "ready"), None)

    def alert_states(self) -> list[str]:
        history = self.api(f"/api/v1/deployments/{self.dep}/alerts/history")
        return [t["state"] for t in history.get("transitions", [])]

    # ------------------------------------------------------------------ main
    def main(self) -> None:
        say(f"server {self.server}, files in {self.work}")
        self.write_version("v1.csv", 0.0)
        self.run("data", "add", "v1.csv", "--name", self.dataset)
        self.run("data", "push", self.dataset)
        say(f"dataset {self.dataset}@1 added and pushed to the server")
        base = (f"data: {self.dataset}@1\ntarget: y\ntask: binary\nmodel:\n  type: xgboost\n"
                "  params: {num_boost_round: 40, max_depth: 3, eta: 0.2}\n"
                "cv: {scheme: stratified, folds: 3}\nholdout: 0.25\nmetric: roc_auc\nseed: 7\n")
        register = f"register: {{model: {self.model}, alias: production}}\n"
        (self.work / "stump.yaml").write_text(
            base.replace("{num_boost_round: 40, max_depth: 3, eta: 0.2}",
                         "{num_boost_round: 1, max_depth: 1}") + register)
        (self.work / "retrain.yaml").write_text(
            base + "gates:\n  - {champion: production, metric: roc_auc, margin: 0.02}\n" + register)
        self.run("train", "stump.yaml", "--experiment", "demo")
        say(f"trained a one-stump model: {self.model}@production is version 1")
        self.run("deploy", "create", self.dep, "--model", f"models:/{self.model}@production")
        self.wait("the deployment to serve", lambda: self.serving() == "1")
        say(f"deployment {self.dep} serves version 1")
        self.run("monitor", "set", self.dep, "--reference", f"{self.dataset}@1",
                 "--window", str(WINDOW_ROWS))
        (self.work / "alerts.yaml").write_text(
            "rules:\n  - name: DriftHigh\n"
            "    metric: slipway_monitor_drift_psi{feature=\"f2\"}\n"
            "    op: \">\"\n    threshold: 0.5\n"
            "    annotations: {summary: the inputs of f2 drifted}\n")
        self.run("alerts", "set", self.dep, "alerts.yaml")
        self.run("loop", "set", self.dep, "--on", "DriftHigh", "--train", "retrain.yaml",
                 "--cooldown", "0s")
        say("monitor (windows of 300 rows), alert rule DriftHigh (PSI of f2 > 0.5) and loop "
            "policy (on DriftHigh: retrain, gate against production, promote) set")

        sender = threading.Thread(target=self.traffic, daemon=True)
        sender.start()
        try:
            say("traffic like the training data ...")
            self.wait("two windows", lambda: len(
                [w for w in self.api(f"/api/v1/deployments/{self.dep}/monitor/windows")
                 ["windows"] if w["closed"]]) >= 2)
            say(f"two windows closed, no alert ({self.sent} requests so far)")
            self.write_version("v2.csv", 2.0)
            self.run("data", "add", "v2.csv", "--name", self.dataset)
            self.run("data", "push", self.dataset)
            say(f"new data: {self.dataset}@2, and the traffic drifts (f2 + 2 sd) ...")
            self.mode = "drift"
            self.wait("the alert", lambda: "firing" in self.alert_states())
            say("alert DriftHigh FIRING")
            run = self.wait("a loop run", lambda: self.loop_runs())[0]
            say(f"loop run {run['id']}: retraining on {self.dataset}@latest ...")
            done = self.wait("the retrain", lambda: next(
                (r for r in self.loop_runs() if r["id"] == run["id"]
                 and r["state"] not in ("queued", "running")), None))
            say(f"loop run {done['id']}: {done['state']} ({done['reason'].splitlines()[0]})")
            if done["state"] != "promoted":
                sys.exit("the retrain was not promoted")
            self.wait("the swap", lambda: self.serving() == done["version"])
            say(f"deployment {self.dep} now serves version {done['version']} "
                f"(requests so far: {self.sent}, failed: {self.failed})")
            self.mode = "reference"
            say("traffic like the training data again ...")
            self.wait("the alert to resolve", lambda: "resolved" in self.alert_states())
            say("alert DriftHigh resolved")
        finally:
            self._stop.set()
            sender.join()
        say(f"done: {self.sent} requests, {self.failed} failed, answered by versions "
            f"{dict(sorted(self.versions.items()))}")
        print(f"""
Where to look:
  {self.server}/deployments/{self.dep}      the deployment in the web UI
  slipway loop show {self.dep}               the loop's runs
  slipway alerts show {self.dep}             the alert's transitions
  slipway monitor show {self.dep}            drift per window
  slipway models lineage {self.model}/{done['version']}   why the new version exists
  slipway audit ls --target deployment:{self.dep}""")
        if self.failed:
            sys.exit(f"{self.failed} requests failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("SLIPWAY_TRACKING_URI",
                                                           "http://127.0.0.1:5000"))
    parser.add_argument("--slipway", default=str(Path(__file__).resolve().parent.parent
                                                 / "build" / "slipway"))
    parser.add_argument("--workdir", help="where the demo's files go (default: a new temp dir)")
    parser.add_argument("--name", help="prefix of the dataset, model and deployment names")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for each step")
    Demo(parser.parse_args()).main()


if __name__ == "__main__":
    main()
