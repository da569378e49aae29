"""Live monitoring over a monitor's life (issue 15's leftovers).

A real `slipway server` and a model trained by `slipway train`, deployed,
with real traffic (the `served` fixture of test_monitor_live.py):

- `GET .../monitor` of a deployment that does not exist is 404 naming the
  deployment; of one without a monitor, 404 saying it has no monitor;
- the gauges of a monitor appear on /metrics and disappear when it is
  deleted;
- the gauges are recomputed when the windows or the feedback change, not
  at every run of the fold (slipway_monitor_gauge_updates_total);
- retention: only the newest windows and kept predictions stay, by count;
- `slipway monitor show` prints the CBPE estimate of predict_proba traffic.
"""
from __future__ import annotations

import re
import time

import numpy as np
import pytest
import requests

from conftest import unique
from test_data import slipway
from test_monitor_live import _draw, _metric, _monitor_url, served  # noqa: F401 (a fixture)
from test_serving import invoke, split_body, wait_for

pytestmark = pytest.mark.slipway_only


def _windows(server, name: str) -> list[dict]:
    r = requests.get(_monitor_url(server, name, "/windows"), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["windows"]


def _send_rows(server, name: str, rows: int, seed: int, params: dict | None = None) -> list[str]:
    """One request per row; their X-Request-Ids in order."""
    frame = _draw(np.random.default_rng(seed), rows)
    ids = []
    for i in range(rows):
        body = split_body(frame.iloc[i:i + 1])
        if params:
            body["params"] = params
        r = invoke(server, name, body)
        assert r.status_code == 200, r.text
        ids.append(r.headers["X-Request-Id"])
    return ids


def _metrics_of(server, name: str) -> list[str]:
    text = requests.get(f"{server.url}/metrics", timeout=30).text
    return [line for line in text.splitlines()
            if line.startswith("slipway_monitor_") and f'deployment="{name}"' in line]


def test_get_monitor_names_a_missing_deployment(server, served):  # noqa: F811
    missing = unique("nosuchdeployment")
    r = requests.get(_monitor_url(server, missing), timeout=30)
    assert r.status_code == 404, r.text
    body = r.json()
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST", body
    assert missing in body["message"] and "no monitor" not in body["message"], body
    name = served["deploy"]()
    r = requests.get(_monitor_url(server, name), timeout=30)
    assert r.status_code == 404, r.text
    assert f"Deployment '{name}' has no monitor" in r.json()["message"], r.text


def test_gauges_follow_changes_and_go_with_the_monitor(server, served):  # noqa: F811
    name = served["deploy"]()
    r = requests.put(_monitor_url(server, name), json={"window": "5rows"}, timeout=30)
    assert r.status_code == 200, r.text
    ids = _send_rows(server, name, 10, seed=3)
    rows = f'slipway_monitor_window_rows{{deployment="{name}"}}'
    wait_for(lambda: _metric(server, re.escape(rows)) == 5, timeout=60, what="the gauges")
    updates = re.escape(f'slipway_monitor_gauge_updates_total{{deployment="{name}"}}')
    wait_for(lambda: _metric(server, updates), timeout=30, what="the update counter")
    # Nothing changes: the fold runs every second, the gauges are not
    # recomputed.
    wait_for(lambda: [w["closed"] for w in _windows(server, name)] == [True, True],
             timeout=30, what="both windows closed")
    settled = _metric(server, updates)
    time.sleep(3.5)  # three runs of the fold at least (not a timing assertion)
    assert _metric(server, updates) == settled
    # Feedback changes the accuracy: recomputed.
    r = requests.post(f"{server.url}/api/v1/deployments/{name}/feedback",
                      json={"feedback": [{"request_id": i, "label": 1} for i in ids]}, timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: _metric(server, updates) > settled, timeout=30, what="a recomputation")
    labeled = re.escape(f'slipway_monitor_labeled_rows{{deployment="{name}"}}')
    wait_for(lambda: _metric(server, labeled) == 5, timeout=30, what="the labelled rows gauge")
    assert _metrics_of(server, name), "no gauges before the delete"
    out = slipway("monitor", "delete", name, cwd=served["ws"],
                  env={"SLIPWAY_TRACKING_URI": server.url})
    assert "deleted" in out.stdout
    assert _metrics_of(server, name) == []
    # And they stay gone while the fold runs on.
    time.sleep(2.5)
    assert _metrics_of(server, name) == []


def test_retention_keeps_the_newest_windows_and_predictions(server, served):  # noqa: F811
    name = served["deploy"]()
    r = requests.put(_monitor_url(server, name),
                     json={"window": "4rows",
                           "retention": {"max_age": "30d", "max_windows": 2,
                                         "max_predictions": 3}},
                     timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["monitor"]["retention"] == {"max_age": "30d", "max_windows": 2,
                                                "max_predictions": 3}
    ids = _send_rows(server, name, 16, seed=4)
    # 16 rows make windows 0..3 of 4 rows; the newest two stay.
    wait_for(lambda: [(w["seq"], w["rows"]) for w in _windows(server, name)] == [(2, 4), (3, 4)],
             timeout=60, what="the newest two windows only")
    # The oldest predictions went: feedback for them is refused by name,
    # the newest three join.
    r = requests.post(f"{server.url}/api/v1/deployments/{name}/feedback",
                      json={"request_id": ids[0], "label": 1}, timeout=30)
    assert r.status_code == 404 and ids[0] in r.json()["message"], r.text
    r = requests.post(f"{server.url}/api/v1/deployments/{name}/feedback",
                      json={"feedback": [{"request_id": i, "label": 0} for i in ids[-3:]]},
                      timeout=30)
    assert r.status_code == 200, r.text
    # Bad retention settings name the field.
    r = requests.put(_monitor_url(server, name), json={"retention": {"max_age": "5s"}}, timeout=30)
    assert r.status_code == 400 and "retention" in r.json()["message"], r.text
    r = requests.put(_monitor_url(server, name), json={"retention": {"max_windows": -1}},
                     timeout=30)
    assert r.status_code == 400 and "retention.max_windows" in r.json()["message"], r.text


def test_monitor_show_prints_the_cbpe_estimate(server, served):  # noqa: F811
    name = served["deploy"]()
    out = slipway("monitor", "set", name, "--window", "1h", cwd=served["ws"],
                  env={"SLIPWAY_TRACKING_URI": server.url})
    assert out.returncode == 0, out.stderr
    _send_rows(server, name, 12, seed=5, params={"predict_method": "predict_proba"})
    drift = wait_for(
        lambda: (d := requests.get(_monitor_url(server, name, "/drift"), timeout=30).json()
                 ["drift"])["estimated"]["rows"] == 12 and d,
        timeout=60, what="12 estimated rows")
    estimated = drift["estimated"]
    assert estimated["method"] == "cbpe" and estimated["accuracy"] is not None, estimated
    out = slipway("monitor", "show", name, cwd=served["ws"],
                  env={"SLIPWAY_TRACKING_URI": server.url})
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "estimated performance before labels" in text, text
    row = next(line for line in text.splitlines() if line.strip().startswith("cbpe"))
    assert row.split()[1] == "12", row
    assert f"{estimated['accuracy']:.4f}" in row, (row, estimated)
    if estimated.get("roc_auc") is not None:
        assert f"{estimated['roc_auc']:.4f}" in row, (row, estimated)
