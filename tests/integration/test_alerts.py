"""Alerts: rules over the server's own /metrics series, evaluated by the server,
delivered to a real Alertmanager (Debian's prometheus-alertmanager, started here
on a free port with its own config and storage) and to JSON webhooks (a Python
http.server here).

The rule watches a serving series the test drives: the rate of a deployment's
client errors, which bad scoring requests raise. It must fire once, reach both
receivers, survive a server restart without a second firing, and resolve when
the bad requests stop; a webhook that fails twice gets exactly one delivery.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from conftest import SlipwayServer, _point_mlflow_at, free_port, slipway_binary, unique

pytestmark = pytest.mark.slipway_only

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
SECRET = "Bearer alert-s3cret-token"
ADMIN = ("admin", "admin-Pa55word!")
ALICE = ("alice", "alice-Pa55word!")
BOB = ("bob", "bob-Pa55word!")
FEATURES = ["f0", "f1", "f2"]


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}; last: {last}")


# ---------------------------------------------------------------- receivers
class Webhook:
    """A JSON webhook receiver that records every POST and answers 500 to the
    first `fail_first` of them."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.calls: list[dict] = []  # {"headers", "body", "status"}
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with hook.lock:
                    status = 500 if len(hook.calls) < hook.fail_first else 200
                    hook.calls.append({"headers": dict(self.headers), "body": body,
                                       "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def accepted(self, status: str) -> list[dict]:
        """Bodies of `status` (firing, resolved) the receiver answered 200."""
        with self.lock:
            return [c for c in self.calls if c["status"] == 200 and c["body"]["status"] == status]

    def attempts(self, status: str) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if c["body"]["status"] == status]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    """A real Alertmanager on a free loopback port, its config and storage in a
    folder of its own (no cluster port)."""
    if not Path(ALERTMANAGER).exists():
        pytest.fail("prometheus-alertmanager is not installed: make deps (APT_TEST) installs it")
    folder = tmp_path_factory.mktemp("alertmanager")
    config = folder / "alertmanager.yml"
    config.write_text("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
    port = free_port()
    log = open(folder / "alertmanager.log", "wb")
    proc = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={config}", f"--storage.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def ready():
        if proc.poll() is not None:
            pytest.fail(f"alertmanager exited: {(folder / 'alertmanager.log').read_text()}")
        try:
            return requests.get(f"{url}/-/ready", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(ready, what="alertmanager to start")
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def alertmanager_alerts(url: str, deployment: str) -> list[dict]:
    r = requests.get(f"{url}/api/v2/alerts", timeout=10)
    assert r.status_code == 200, r.text
    return [a for a in r.json() if a["labels"].get("deployment") == deployment]


# ---------------------------------------------------------------- slipway side
def alert_server(tmp_path_factory, *extra: str) -> SlipwayServer:
    """A server evaluating every 0.2 s and re-sending firing alerts every second,
    with the webhook secret in its environment."""
    return SlipwayServer(
        binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("slipway-alerts"),
        extra_args=["--alerts-interval", "0.2", "--alerts-resend", "1", *extra],
        env={"SLIPWAY_ALERT_TEST_TOKEN": SECRET, "SLIPWAY_ADMIN_PASSWORD": ADMIN[1]})


def log_model(name: str) -> None:
    import mlflow
    import mlflow.xgboost
    import xgboost as xgb
    from mlflow.models import infer_signature

    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, len(FEATURES))), columns=FEATURES)
    y = x["f0"] * 2 - x["f1"]
    model = xgb.XGBRegressor(n_estimators=5, max_depth=2).fit(x, y)
    mlflow.set_experiment(unique("alerts-exp"))
    with mlflow.start_run():
        mlflow.xgboost.log_model(model, name="model", registered_model_name=name,
                                 signature=infer_signature(x, model.predict(x)))


def deploy(srv: SlipwayServer, auth=None) -> str:
    """Logs and registers a model (mlflow must point at `srv`) and deploys it."""
    model = unique("alerting-model")
    log_model(model)
    name = unique("dep")
    r = requests.post(f"{srv.url}/api/v1/deployments",
                      json={"name": name, "model_uri": f"models:/{model}/1"}, auth=auth, timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: ready(srv, name, auth), what="the deployment to serve")
    return name


def ready(srv: SlipwayServer, name: str, auth=None) -> bool:
    try:
        r = requests.get(f"{srv.url}/api/v1/deployments/{name}", auth=auth, timeout=10)
    except requests.ConnectionError:
        return False
    return r.status_code == 200 and any(
        v["role"] == "primary" and v["state"] == "ready" for v in r.json()["deployment"]["versions"])


def bad_request(srv: SlipwayServer, name: str) -> int:
    """A scoring request with a column the model does not know: a client error."""
    body = {"dataframe_split": {"columns": ["nope"], "data": [[1.0]]}}
    return requests.post(f"{srv.url}/deployments/{name}/invocations", json=body, timeout=10).status_code


def client_errors(srv: SlipwayServer, name: str) -> float:
    text = requests.get(f"{srv.url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if (line.startswith("slipway_serving_requests_total{") and f'deployment="{name}"' in line
                and 'status="client_error"' in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def firing_gauge(srv: SlipwayServer, name: str) -> float | None:
    text = requests.get(f"{srv.url}/metrics", timeout=10).text
    series = f'slipway_alerts_firing{{deployment="{name}",alert="ClientErrors",severity="critical"}}'
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


class BadTraffic:
    """Sends bad scoring requests in a loop until stopped; a server that is
    down (restarting) is waited for."""

    def __init__(self, srv: SlipwayServer, name: str):
        self.srv, self.name = srv, name
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_event.is_set():
            try:
                bad_request(self.srv, self.name)
            except requests.RequestException:
                pass
            self.stop_event.wait(0.02)

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=30)


def rules_yaml(alertmanager_url: str, ok: Webhook, flaky: Webhook) -> str:
    return f"""\
rules:
  - name: ClientErrors
    metric: slipway_serving_requests_total{{status="client_error"}}
    function: rate
    range: 2s
    op: ">"
    threshold: 1
    for: 400ms
    severity: critical
    labels:
      team: ml
    annotations:
      summary: bad scoring requests
receivers:
  alertmanager:
    - url: {alertmanager_url}
  webhooks:
    - name: ops
      url: {ok.url}
      headers_from_env:
        Authorization: SLIPWAY_ALERT_TEST_TOKEN
    - name: flaky
      url: {flaky.url}
"""


def put_rules(srv: SlipwayServer, name: str, text: str, auth=None) -> requests.Response:
    return requests.put(f"{srv.url}/api/v1/deployments/{name}/alerts", data=text.encode(),
                        headers={"Content-Type": "application/yaml"}, auth=auth, timeout=30)


def history(srv: SlipwayServer, name: str, auth=None) -> dict:
    r = requests.get(f"{srv.url}/api/v1/deployments/{name}/alerts/history", auth=auth, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def run_cli(srv: SlipwayServer, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(slipway_binary()), *args, "--tracking-uri", srv.url],
                          capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------- tests
def test_alert_fires_once_reaches_both_receivers_survives_a_restart_and_resolves(
        tmp_path_factory, alertmanager, monkeypatch):
    srv = alert_server(tmp_path_factory).start()
    ok, flaky = Webhook(), Webhook(fail_first=2)
    traffic = None
    try:
        _point_mlflow_at(srv, monkeypatch)
        name = deploy(srv)
        assert bad_request(srv, name) == 400
        r = put_rules(srv, name, rules_yaml(alertmanager, ok, flaky))
        assert r.status_code == 200, r.text
        rule = r.json()["alerts"]["rules"][0]
        assert (rule["name"], rule["function"], rule["op"], rule["threshold"]) == (
            "ClientErrors", "rate", ">", 1)
        # Quiet: no alert.
        assert history(srv, name)["active"] == []

        traffic = BadTraffic(srv, name)
        wait_for(lambda: ok.accepted("firing"), what="the firing webhook")
        wait_for(lambda: flaky.accepted("firing"), what="the flaky webhook's firing delivery")
        am = wait_for(lambda: alertmanager_alerts(alertmanager, name), what="alertmanager's alert")
        assert len(am) == 1
        labels = am[0]["labels"]
        assert labels == {"alertname": "ClientErrors", "deployment": name, "severity": "critical",
                          "team": "ml", "model": labels["model"], "version": "1",
                          "role": "primary", "status": "client_error"}
        assert am[0]["annotations"] == {"summary": "bad scoring requests"}
        assert am[0]["status"]["state"] == "active"
        assert am[0]["generatorURL"] == f"{srv.url}/api/v1/deployments/{name}/alerts/history"
        assert firing_gauge(srv, name) == 1

        fired = ok.accepted("firing")[0]
        assert fired["headers"]["Authorization"] == SECRET
        alert = fired["body"]["alerts"][0]
        assert alert["labels"] == labels
        assert alert["status"] == "firing"
        assert fired["body"]["idempotency_key"] == fired["headers"]["Idempotency-Key"]

        # Restart while the condition still holds: the server comes back with
        # the alert firing and does not fire it again.
        srv.restart()
        wait_for(lambda: ready(srv, name), what="the deployment after the restart")
        wait_for(lambda: client_errors(srv, name) >= 40, what="bad requests after the restart")
        active = history(srv, name)["active"]
        assert [a["state"] for a in active] == ["firing"]

        traffic.stop()
        traffic = None
        wait_for(lambda: ok.accepted("resolved"), what="the resolved webhook")
        wait_for(lambda: flaky.accepted("resolved"), what="the flaky webhook's resolved delivery")
        wait_for(lambda: not [a for a in alertmanager_alerts(alertmanager, name)
                              if a["status"]["state"] == "active"],
                 what="alertmanager to see the alert resolved")
        wait_for(lambda: firing_gauge(srv, name) == 0, what="the firing gauge back at 0")

        # Exactly one firing and one resolved, for the same alert.
        assert len(ok.accepted("firing")) == 1, ok.calls
        assert len(ok.accepted("resolved")) == 1, ok.calls
        resolved = ok.accepted("resolved")[0]
        assert resolved["body"]["alerts"][0]["fingerprint"] == alert["fingerprint"]
        assert resolved["body"]["alerts"][0]["endsAt"] >= alert["startsAt"]
        assert resolved["body"]["idempotency_key"] != fired["body"]["idempotency_key"]
        # The flaky webhook: two failures, then one delivery, every attempt
        # with the same idempotency key; nothing after it was delivered.
        attempts = flaky.attempts("firing")
        assert [a["status"] for a in attempts] == [500, 500, 200], flaky.calls
        assert len({a["headers"]["Idempotency-Key"] for a in attempts}) == 1
        assert len(flaky.accepted("resolved")) == 1
        assert "Authorization" not in attempts[0]["headers"]

        h = history(srv, name)
        assert h["active"] == []
        states = [t["state"] for t in h["transitions"]]
        assert states == ["resolved", "firing"]
        for t in h["transitions"]:
            assert {d["receiver"]: d["status"] for d in t["deliveries"]} == {
                f"alertmanager {alertmanager}": "delivered", "webhook ops": "delivered",
                "webhook flaky": "delivered"}
        firing_deliveries = {d["receiver"]: d for d in h["transitions"][1]["deliveries"]}
        assert firing_deliveries["webhook flaky"]["attempts"] == 3

        # Every transition in the audit trail, as the background principal
        # acting for the rule set's owner.
        entries = requests.get(f"{srv.url}/api/v1/audit", params={"max_results": 50000},
                               timeout=30).json()["entries"]
        transitions = [(e["action"], e["principal"]) for e in entries
                       if e["action"].startswith("alerts/") and name in e["target"]]
        assert transitions == [("alerts/set", "anonymous"),
                               ("alerts/firing", "system:alerts(anonymous)"),
                               ("alerts/resolved", "system:alerts(anonymous)")]

        shown = run_cli(srv, "alerts", "show", name)
        assert shown.returncode == 0, shown.stderr
        assert "ClientErrors" in shown.stdout and "resolved" in shown.stdout
        assert "webhook flaky: delivered after 3 attempts" in shown.stdout
    finally:
        if traffic:
            traffic.stop()
        ok.close()
        flaky.close()
        srv.stop()
    # The secret never reaches the server's logs.
    for path in srv.data_dir.glob("server-*"):
        assert SECRET not in path.read_text(errors="replace")
        assert "alert-s3cret" not in path.read_text(errors="replace")


def test_bad_rule_files_are_refused_with_their_line_and_column(tmp_path_factory, monkeypatch,
                                                               tmp_path):
    srv = alert_server(tmp_path_factory).start()
    try:
        _point_mlflow_at(srv, monkeypatch)
        name = deploy(srv)
        bad = ("rules:\n  - name: Slow\n    metric: slipway_serving_queue_depth\n"
               "    op: '>'\n    threshold: lots\n")
        r = put_rules(srv, name, bad)
        assert r.status_code == 400, r.text
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert r.json()["message"] == ("alerts.yaml:5:16: rules[0].threshold: expected a number, "
                                       "got 'lots'")
        r = put_rules(srv, name, "rules:\n  - name: A\n    metric: m{status=ok}\n"
                                 "    op: '>'\n    threshold: 1\n")
        assert r.status_code == 400
        assert r.json()["message"] == "alerts.yaml:3:22: rules[0].metric: expected a value in double quotes"
        # A secret from an unprefixed variable is refused.
        r = put_rules(srv, name, "rules: []\nreceivers:\n  webhooks:\n    - url: http://127.0.0.1:9/\n"
                                 "      headers_from_env: {Authorization: HOME}\n")
        assert r.status_code == 400
        assert "only environment variables named SLIPWAY_ALERT_*" in r.json()["message"]
        # An unknown deployment.
        r = put_rules(srv, unique("missing"), "rules: []\n")
        assert r.status_code == 404, r.text
        # The CLI says the same, with the line.
        path = tmp_path / "alerts.yaml"
        path.write_text(bad)
        out = run_cli(srv, "alerts", "set", name, str(path))
        assert out.returncode != 0
        assert "alerts.yaml:5:16: rules[0].threshold: expected a number" in out.stderr
        # Nothing was stored by the refusals.
        assert requests.get(f"{srv.url}/api/v1/deployments/{name}/alerts", timeout=30).status_code == 404
        # A good file through the CLI, read back and deleted.
        path.write_text("rules:\n  - name: Deep\n    metric: slipway_serving_queue_depth\n"
                        "    op: '>'\n    threshold: 100\n")
        out = run_cli(srv, "alerts", "set", name, str(path))
        assert out.returncode == 0, out.stderr
        assert "1 rule" in out.stdout
        out = run_cli(srv, "alerts", "get", name)
        assert out.stdout == path.read_text()
        assert run_cli(srv, "alerts", "delete", name).returncode == 0
        assert requests.get(f"{srv.url}/api/v1/deployments/{name}/alerts", timeout=30).status_code == 404
        # Deleting the deployment takes its rules along.
        assert run_cli(srv, "alerts", "set", name, str(path)).returncode == 0
        r = requests.delete(f"{srv.url}/api/v1/deployments/{name}", timeout=30)
        assert r.status_code == 200, r.text
        wait_for(lambda: requests.get(f"{srv.url}/api/v1/deployments/{name}/alerts",
                                      timeout=30).status_code == 404,
                 what="the deleted deployment's rules to go")
    finally:
        srv.stop()


def test_setting_rules_needs_manage_and_reading_needs_read(tmp_path_factory, monkeypatch):
    srv = alert_server(tmp_path_factory, "--auth").start()
    try:
        admin = requests.Session()
        admin.auth = ADMIN
        for user, password in (ALICE, BOB):
            r = admin.post(f"{srv.api}/users/create", json={"username": user, "password": password})
            assert r.status_code == 200, r.text
        _point_mlflow_at(srv, monkeypatch)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ALICE[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ALICE[1])
        name = deploy(srv, auth=ALICE)
        rules = "rules:\n  - name: Deep\n    metric: slipway_serving_queue_depth\n    op: '>'\n    threshold: 100\n"
        alerts_url = f"{srv.url}/api/v1/deployments/{name}/alerts"
        assert put_rules(srv, name, rules).status_code == 401
        # Alice created the deployment: she manages it.
        r = put_rules(srv, name, rules, auth=ALICE)
        assert r.status_code == 200, r.text
        assert r.json()["alerts"]["owner"] == "alice"
        # Bob has the default READ: he reads, but may not set or delete.
        assert requests.get(alerts_url, auth=BOB, timeout=30).status_code == 200
        assert requests.get(alerts_url + "/history", auth=BOB, timeout=30).status_code == 200
        refused = put_rules(srv, name, rules, auth=BOB)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error_code"] == "PERMISSION_DENIED"
        assert requests.delete(alerts_url, auth=BOB, timeout=30).status_code == 403
        # EDIT is not enough: receivers send data out of the server.
        grant = requests.post(f"{srv.url}/api/3.0/mlflow/users/permissions/grant",
                              json={"username": BOB[0], "resource_type": "deployment",
                                    "resource_id": name, "permission": "EDIT"},
                              auth=ALICE, timeout=30)
        assert grant.status_code == 200, grant.text
        assert put_rules(srv, name, rules, auth=BOB).status_code == 403
        requests.post(f"{srv.url}/api/3.0/mlflow/users/permissions/grant",
                      json={"username": BOB[0], "resource_type": "deployment", "resource_id": name,
                            "permission": "NO_PERMISSIONS"}, auth=ALICE, timeout=30)
        assert requests.get(alerts_url, auth=BOB, timeout=30).status_code == 403
        assert requests.get(alerts_url + "/history", auth=BOB, timeout=30).status_code == 403
        # Both the change and the refusals are in the audit trail.
        entries = admin.get(f"{srv.url}/api/v1/audit",
                            params={"max_results": 50000, "target": f"deployment:{name}"},
                            timeout=30).json()["entries"]
        seen = {(e["action"], e["principal"], e["outcome"]) for e in entries}
        assert ("alerts/set", "alice", 200) in seen
        assert ("alerts/set", "bob", 403) in seen
        assert ("alerts/delete", "bob", 403) in seen
    finally:
        srv.stop()
