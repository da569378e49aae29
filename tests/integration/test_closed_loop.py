"""The whole loop of issue 15 on one real server: live drift -> an alert to a
real Alertmanager and a webhook -> a retrain with the spec's gates against the
champion -> the alias moves -> the deployment hot-swaps; with traffic running
all along and not one request failing.

A weak champion (one stump) serves; the monitor compares windows of 300
logged rows with the training data. Traffic like the training data raises
nothing; traffic with f2 shifted by two standard deviations makes the
window's PSI on f2 pass the rule's threshold: the alert fires once, reaches
both receivers, the loop retrains on the newest dataset version, the real
model beats the stump by more than the margin, and production swaps to it.
When the traffic is like the reference again the alert resolves. A second
drift with a policy whose margin cannot be met fails its gate and leaves
production as it is.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.tracking import MlflowClient

from conftest import SlipwayServer, slipway_binary, unique
from test_alerts import Webhook, alertmanager, alertmanager_alerts  # noqa: F401 (a fixture)
from test_data import slipway
from test_monitor_loop import Traffic
from test_serving import serving_version, wait_for

pytestmark = pytest.mark.slipway_only

FEATURES = ["f0", "f1", "f2"]
WINDOW_ROWS = 300
ROWS_PER_REQUEST = 10


def draw(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    frame["f2"] += shift
    return frame


def labelled(rng: np.random.Generator, frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    score = frame["f0"] + frame["f2"] - frame["f2"].mean() + rng.normal(scale=0.5, size=len(frame))
    out["y"] = (score > 0).astype(int)
    return out


class Pools:
    """The next ROWS_PER_REQUEST rows of the pool of the current mode
    ("reference" or "drift"), as a scoring request."""

    def __init__(self, pools: dict[str, pd.DataFrame]):
        self.pools = pools
        self.mode = "reference"
        self._at = 0

    def __call__(self) -> dict:
        pool = self.pools[self.mode]
        start = self._at % (len(pool) - ROWS_PER_REQUEST)
        self._at += ROWS_PER_REQUEST
        rows = pool.iloc[start:start + ROWS_PER_REQUEST]
        return {"dataframe_split": {"columns": FEATURES, "data": rows.values.tolist()}}


def loop_runs(srv, dep: str) -> list[dict]:
    r = requests.get(f"{srv.url}/api/v1/deployments/{dep}/loop/runs", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["runs"]


def closed_windows(srv, dep: str) -> list[dict]:
    r = requests.get(f"{srv.url}/api/v1/deployments/{dep}/monitor/windows", timeout=30)
    assert r.status_code == 200, r.text
    return [w for w in r.json()["windows"] if w["closed"]]


def test_drift_fires_an_alert_that_retrains_gates_and_hot_swaps(tmp_path_factory, alertmanager):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("loop-e2e"),
                        extra_args=["--alerts-interval", "0.2", "--alerts-resend", "1",
                                    "--prediction-log-flush", "0.5"]).start()
    hook = Webhook()
    traffic = pools = None
    try:
        rng = np.random.default_rng(3)
        ws = tmp_path_factory.mktemp("loop-e2e-ws")
        dataset, model, dep = unique("shop"), unique("shop-model"), unique("shopdep")
        env = {"SLIPWAY_TRACKING_URI": srv.url}
        labelled(rng, draw(rng, 2000)).to_csv(ws / "v1.csv", index=False)
        slipway("data", "add", "v1.csv", "--name", dataset, cwd=ws)
        slipway("data", "push", dataset, cwd=ws, env=env)
        base = f"""\
data: {dataset}@1
target: y
task: binary
model:
  type: xgboost
  params: {{num_boost_round: 40, max_depth: 3, eta: 0.2}}
cv: {{scheme: stratified, folds: 3}}
holdout: 0.25
metric: roc_auc
seed: 7
"""
        stump = base.replace("{num_boost_round: 40, max_depth: 3, eta: 0.2}",
                             "{num_boost_round: 1, max_depth: 1}")
        (ws / "stump.yaml").write_text(stump + f"register: {{model: {model}, alias: production}}\n")
        slipway("train", "stump.yaml", "--experiment", "e2e", cwd=ws, env=env)
        good = (base + "gates:\n  - {champion: production, metric: roc_auc, margin: 0.02}\n"
                f"register: {{model: {model}, alias: production}}\n")
        (ws / "loop.yaml").write_text(good)
        (ws / "impossible.yaml").write_text(good.replace("margin: 0.02", "margin: 0.9"))

        r = requests.post(f"{srv.url}/api/v1/deployments", timeout=30,
                          json={"name": dep, "model_uri": f"models:/{model}@production"})
        assert r.status_code == 200, r.text
        wait_for(lambda: serving_version(srv, dep) == "1", 60, "the stump serving")
        slipway("monitor", "set", dep, "--reference", f"{dataset}@1", "--window",
                str(WINDOW_ROWS), "--tracking-uri", srv.url, cwd=ws)
        (ws / "alerts.yaml").write_text(f"""\
rules:
  - name: DriftHigh
    metric: slipway_monitor_drift_psi{{feature="f2"}}
    op: ">"
    threshold: 0.5
    severity: warning
receivers:
  alertmanager:
    - url: {alertmanager}
  webhooks:
    - name: test
      url: {hook.url}
""")
        slipway("alerts", "set", dep, "alerts.yaml", "--tracking-uri", srv.url, cwd=ws)
        slipway("loop", "set", dep, "--on", "DriftHigh", "--train", "loop.yaml", "--promote",
                "production", "--cooldown", "0s", "--max-per-day", "10",
                "--tracking-uri", srv.url, cwd=ws)

        pools = Pools({"reference": draw(rng, 5000), "drift": draw(rng, 5000, shift=2.0)})
        traffic = Traffic(srv, dep, pools).start()

        # Like the reference: windows close, nothing fires, nothing retrains.
        wait_for(lambda: len(closed_windows(srv, dep)) >= 2, 120, "two closed windows")
        time.sleep(1)
        assert hook.calls == [] and alertmanager_alerts(alertmanager, dep) == []
        assert loop_runs(srv, dep) == []

        # New data arrives, and the traffic drifts.
        labelled(rng, draw(rng, 2000, shift=2.0)).to_csv(ws / "v2.csv", index=False)
        slipway("data", "add", "v2.csv", "--name", dataset, cwd=ws)
        slipway("data", "push", dataset, cwd=ws, env=env)
        pools.mode = "drift"
        wait_for(lambda: hook.accepted("firing"), 120, "the firing alert at the webhook")
        wait_for(lambda: alertmanager_alerts(alertmanager, dep), 60, "the alert at Alertmanager")
        assert alertmanager_alerts(alertmanager, dep)[0]["labels"]["alertname"] == "DriftHigh"
        run = wait_for(lambda: loop_runs(srv, dep), 60, "a loop run")[-1]
        assert run["trigger"] == "DriftHigh" and run["cause"]["labels"]["feature"] == "f2"
        done = wait_for(lambda: next((r for r in loop_runs(srv, dep)
                                      if r["id"] == run["id"]
                                      and r["state"] not in ("queued", "running")), None),
                        300, "the retrain")
        assert done["state"] == "promoted", done
        assert done["data"] == f"{dataset}@latest" and done["version"] == "2"
        wait_for(lambda: serving_version(srv, dep) == "2", 120, "version 2 serving")
        wait_for(lambda: "2" in traffic.versions, 60, "answers from version 2")
        client = MlflowClient(srv.url)
        assert client.get_model_version_by_alias(model, "production").version == "2"
        tags = client.get_model_version(model, "2").tags
        assert tags["slipway.loop.trigger"] == "DriftHigh"
        assert tags["slipway.dataset"] == f"{dataset}@2"

        # Like the reference again: the alert resolves, at both receivers.
        pools.mode = "reference"
        wait_for(lambda: hook.accepted("resolved"), 180, "the resolved alert at the webhook")
        assert len(hook.accepted("firing")) == 1
        assert len([r for r in loop_runs(srv, dep) if r["state"] != "skipped"]) == 1

        # A second drift, with a challenger that cannot beat production by
        # the margin: the gate fails and production stays.
        slipway("loop", "set", dep, "--on", "DriftHigh", "--train", "impossible.yaml",
                "--cooldown", "0s", "--max-per-day", "10", "--tracking-uri", srv.url, cwd=ws)
        pools.mode = "drift"
        failed = wait_for(lambda: next((r for r in loop_runs(srv, dep)
                                        if r["id"] != run["id"]
                                        and r["state"] not in ("queued", "running", "skipped")),
                                       None), 300, "the second retrain")
        assert failed["state"] == "gate_failed", failed
        assert client.get_model_version_by_alias(model, "production").version == "2"
        assert serving_version(srv, dep) == "2"
        traffic.stop()
        assert traffic.failed == [], traffic.failed[:5]
        assert traffic.ok > 0 and traffic.versions == {"1", "2"}
    finally:
        if traffic:
            traffic.stop()
        hook.close()
        srv.stop()


def test_the_demo_script_runs_the_whole_loop(fresh_server, tmp_path):
    """tools/demo_loop.py, which the README names for `make run`: on a server
    with its default intervals, the loop runs to the end and no request fails."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "tools" / "demo_loop.py"
    out = subprocess.run([sys.executable, str(script), "--server", fresh_server.url,
                          "--slipway", str(slipway_binary()), "--workdir", str(tmp_path),
                          "--name", "demo", "--timeout", "240"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for step in ("deployment demo serves version 1", "two windows closed, no alert",
                 "alert DriftHigh FIRING", "loop run 1: promoted",
                 "deployment demo now serves version 2", "alert DriftHigh resolved"):
        assert step in text, text
    assert ", 0 failed, answered by versions {'1': " in text, text
