"""The web UI's monitoring page of a deployment (issue 15, "reports people look at").

A real `slipway server` (alerts evaluated every 0.5 s), the model of
test_monitor_live.py (trained by `slipway train` on a dataset pushed to the
server, so its lineage names the reference), deployed with a monitor of
500-row windows and an alert rule on the drift gauge; real traffic: one
window drawn like the reference, then one with f2 shifted by 1.5 standard
deviations; feedback labels for every request. Debian's chromium, driven by
Playwright as in test_webui.py, reads the page: the drift lines, the flagged
feature (and only it) in the latest window's table, the distribution of a
feature in the reference and in the window, the accuracy series and the
firing alert, each checked against what was sent or what the REST API says.
A second model, with a text input, shows the bar pairs of a categorical
feature with its new category, and the closed loop's runs (a real retrain,
and a trigger the day's budget or the running retrain skips). With --auth, a
reader sees the page and a user without READ sees the server's refusals.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.tracking import MlflowClient

from conftest import _make_server, _point_mlflow_at, unique
from test_data import slipway
from test_monitor_live import ROWS_PER_REQUEST, _draw, _label, _send, served  # noqa: F401
from test_serving import create, log_xgboost, serving_version, wait_for
from test_train import _run_id
from test_webui import Console, _shot, browser  # noqa: F401  (browser is a fixture)
from test_webui_pages import _sign_in, page_opener, start_auth_server

pytestmark = pytest.mark.slipway_only

RULES = """\
rules:
  - name: FeatureDrift
    metric: slipway_monitor_drift_over_threshold
    op: ">"
    threshold: 0.5
    severity: warning
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """This module's server: alerts evaluated every 0.5 s, the log flushed every 0.5 s."""
    srv = _make_server(tmp_path_factory, "slipway-monitoring-ui")
    srv.extra_args = ["--alerts-interval", "0.5", "--prediction-log-flush", "0.5"]
    srv.start()
    yield srv
    srv.assert_clean_exit()


@pytest.fixture
def page(browser, server):  # noqa: F811
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, base_url=server.url)
    pg = context.new_page()
    pg.set_default_timeout(20000)
    pg.console = Console(pg)
    yield pg
    context.close()


@pytest.fixture(scope="module")
def drifted(server, served):  # noqa: F811
    """A monitored deployment with a reference-like window, a drifted one, labels and a firing alert."""
    name = served["deploy"]()
    base = f"{server.url}/api/v1/deployments/{name}"
    r = requests.put(f"{base}/monitor", json={"window": "500rows"}, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.put(f"{base}/alerts", data=RULES, headers={"Content-Type": "application/yaml"},
                     timeout=30)
    assert r.status_code == 200, r.text
    rng = np.random.default_rng(21)
    like = _draw(rng, 500)
    shifted = _draw(rng, 500, shift_f2=3.0)
    sent = _send(server, name, like) + _send(server, name, shifted)
    labels = np.concatenate([_label(like, rng), _label(shifted, rng)]).tolist()
    feedback = [{"request_id": rid, "labels": labels[i * ROWS_PER_REQUEST:(i + 1) * ROWS_PER_REQUEST]}
                for i, (rid, _) in enumerate(sent)]
    r = requests.post(f"{base}/feedback", json={"feedback": feedback}, timeout=60)
    assert r.status_code == 200 and r.json()["accepted"] == 200, r.text

    def closed_windows():
        windows = requests.get(f"{base}/monitor/windows", timeout=30).json()["windows"]
        return windows if [w["rows"] for w in windows if w["closed"]] == [500, 500] else None

    windows = wait_for(closed_windows, timeout=60, what="two closed windows of 500 rows")

    def firing():
        active = requests.get(f"{base}/alerts/history", timeout=30).json()["active"]
        return [a for a in active if a["state"] == "firing"] or None

    alerts = wait_for(firing, timeout=60, what="the drift alert to fire")
    return {"name": name, "windows": windows, "alerts": alerts}


def _flags(page) -> dict[str, str]:
    rows = page.locator("[data-testid=feature-table] .vt-row")
    return {rows.nth(i).get_attribute("data-key"):
            rows.nth(i).get_by_test_id("drifted").get_attribute("data-drifted")
            for i in range(rows.count())}


def _centre(page, series: str) -> tuple[float, float]:
    """The share-weighted centre (in SVG x units) of one side's histogram bars, and their total share."""
    bars = f"[data-testid=distribution-histogram] g[data-series='{series}'] rect.bar"
    return page.locator(bars).evaluate_all(
        """(bars) => {
             let total = 0, sum = 0;
             for (const bar of bars) {
               const share = Number(bar.dataset.count);
               const x = Number(bar.getAttribute('x')) + Number(bar.getAttribute('width')) / 2;
               total += share; sum += share * x;
             }
             return [total ? sum / total : 0, total];
           }""")


def test_the_page_shows_drift_distribution_accuracy_and_the_alert(page, server, drifted):
    from playwright.sync_api import expect

    name, windows = drifted["name"], drifted["windows"]
    # The REST API agrees with what was sent: the shifted window drifted on f2 only.
    assert {c["column"] for c in windows[1]["features"] if c["over_threshold"]} == {"f2"}
    assert not any(c["over_threshold"] for c in windows[0]["features"])

    page.goto(f"/deployments/{name}")
    page.get_by_test_id("monitoring-link").click()
    expect(page.get_by_role("heading", name=f"Monitoring {name}")).to_be_visible()
    assert page.url.endswith(f"/deployments/{name}/monitoring")
    config = page.get_by_test_id("monitor-config")
    expect(config.get_by_test_id("monitor-window")).to_have_text("every 500 rows")
    expect(config.get_by_test_id("monitor-features")).to_contain_text("f1, f2, f3")
    monitor = requests.get(f"{server.url}/api/v1/deployments/{name}/monitor", timeout=30).json()
    assert monitor["monitor"]["reference_from_lineage"] is True
    expect(config.get_by_test_id("monitor-reference")).to_have_text(monitor["monitor"]["reference"])

    # Drift over time: one PSI line per feature and the threshold, over both windows.
    chart = page.get_by_test_id("drift-chart")
    expect(chart).to_have_attribute("data-points", "2")
    expect(chart).to_have_attribute("data-lines", "3")
    legend = chart.locator(".u-legend").inner_text()
    for label in ("PSI f1", "PSI f2", "PSI f3", "threshold 0.2"):
        assert label in legend, legend
    assert chart.locator("canvas").count() == 1

    # The latest window: f2 flagged, f1 and f3 not; sorted by PSI, f2 first.
    expect(page.get_by_test_id("drift-summary")).to_have_text("Drifted: f2")
    assert _flags(page) == {"f1": "false", "f2": "true", "f3": "false"}
    first = page.locator("[data-testid=feature-table] .vt-row").first
    assert first.get_attribute("data-key") == "f2"
    psi = {c["column"]: c["psi"] for c in windows[1]["features"]}
    assert first.locator(".vt-cell").nth(2).inner_text() == f"{psi['f2']:.4g}"
    # Sorting by name, then by PSI again (descending first).
    table = page.get_by_test_id("feature-table")
    keys = table.locator(".vt-row")
    table.locator("[role=columnheader][data-column=feature]").click()
    expect(keys.first).to_have_attribute("data-key", "f1")
    assert [keys.nth(i).get_attribute("data-key") for i in range(3)] == ["f1", "f2", "f3"]
    assert "sort=feature" in page.url and "order=asc" in page.url
    table.locator("[role=columnheader][data-column=psi]").click()
    expect(keys.first).to_have_attribute("data-key", "f2")
    by_psi = sorted(psi, key=lambda f: -psi[f])
    assert [keys.nth(i).get_attribute("data-key") for i in range(3)] == by_psi
    assert "sort=" not in page.url

    # The distribution of the most drifted feature: the window's bars sit right
    # of the reference's (f2 was shifted up), each side's shares sum to 1.
    dist = page.get_by_test_id("distribution-chart")
    expect(dist).to_have_attribute("data-feature", "f2")
    expect(dist).to_have_attribute("data-kind", "numeric")
    bars = page.locator("[data-testid=distribution-histogram] rect.bar")
    expect(bars).to_have_count(40)
    window_label = f"window #{windows[-1]['seq']}"
    ref_centre, ref_total = _centre(page, "reference")
    cur_centre, cur_total = _centre(page, window_label)
    assert ref_total == pytest.approx(1, abs=1e-6) and cur_total == pytest.approx(1, abs=1e-6)
    assert cur_centre - ref_centre > 40, (ref_centre, cur_centre)  # of a 320-unit-wide axis
    # Another feature, picked in the table: the two sides nearly coincide.
    page.locator("[data-testid=feature-table] .vt-row[data-key=f1] button").click()
    expect(page.get_by_test_id("distribution-feature")).to_have_text("f1")
    expect(dist).to_have_attribute("data-feature", "f1")
    assert "feature=f1" in page.url
    ref_centre, _ = _centre(page, "reference")
    cur_centre, _ = _centre(page, window_label)
    assert abs(cur_centre - ref_centre) < 25, (ref_centre, cur_centre)

    # Live accuracy: a series over both windows, and each window's values as the server computed them.
    accuracy = page.get_by_test_id("accuracy-chart")
    expect(accuracy).to_have_attribute("data-points", "2")
    assert "accuracy" in accuracy.get_attribute("data-metrics").split(",")
    for w in windows:
        row = page.locator(f"[data-testid=accuracy-table] .vt-row[data-key='{w['seq']}']")
        cells = row.locator(".vt-cell").all_inner_texts()
        assert cells[3] == str(w["accuracy"]["rows"]) and w["accuracy"]["rows"] > 0, cells
        assert cells[4] == f"{w['accuracy']['accuracy']:.4g}", cells
        assert cells[-1].endswith(" s"), cells  # the label delay, p50 / p90

    # The alert: firing now on f2, and in the history.
    active = page.locator("[data-testid=active-alerts] tr[data-alert=FeatureDrift]")
    expect(active).to_have_count(1)
    expect(active).to_have_attribute("data-state", "firing")
    expect(active).to_contain_text("feature=f2")
    history = page.locator("[data-testid=alert-history] li[data-state=firing]")
    expect(history.first).to_contain_text("FeatureDrift")
    expect(page.get_by_test_id("alert-rules")).to_contain_text("slipway_monitor_drift_over_threshold")
    expect(page.get_by_test_id("no-loop")).to_contain_text(f"slipway loop set {name}")
    _shot(page, "monitoring")
    # The loop policy's GET answers 404 when there is none, which the browser logs.
    page.console.assert_clean(allowed=("status of 404",))


def test_the_whole_range_and_a_resolved_alert(page, server, drifted):
    """After the page test above (same module, same deployment): the
    distribution over the whole range mixes both windows, and a third window
    drawn like the reference ends the drift, resolves the alert, and the page
    says both."""
    from playwright.sync_api import expect

    name, windows = drifted["name"], drifted["windows"]
    window_label = f"window #{windows[-1]['seq']}"
    page.goto(f"/deployments/{name}/monitoring?feature=f2")
    dist = page.get_by_test_id("distribution-chart")
    expect(dist).to_have_attribute("data-feature", "f2")
    ref_centre, _ = _centre(page, "reference")
    latest_centre, _ = _centre(page, window_label)
    # The whole range: one window like the reference and the shifted one, so
    # its centre lies between theirs, about halfway.
    page.get_by_role("button", name="whole range").click()
    assert "over=range" in page.url
    range_bars = "[data-testid=distribution-histogram] g[data-series='the range shown'] rect.bar"
    expect(page.locator(range_bars).first).to_be_attached()
    range_centre, range_total = _centre(page, "the range shown")
    assert range_total == pytest.approx(1, abs=1e-6)
    shift = latest_centre - ref_centre
    assert 0.25 * shift < range_centre - ref_centre < 0.75 * shift, (
        ref_centre, range_centre, latest_centre)
    # The range buttons keep the view in the address; the last hour holds
    # both windows, so the chart still shows two points.
    page.get_by_test_id("range").get_by_role("button", name="last hour").click()
    assert "range=1h" in page.url
    expect(page.get_by_test_id("drift-chart")).to_have_attribute("data-points", "2")

    # A third window drawn like the reference: no feature drifts in it, the
    # gauge falls, and the alert resolves.
    base = f"{server.url}/api/v1/deployments/{name}"
    _send(server, name, _draw(np.random.default_rng(22), 500))

    def three_windows():
        found = requests.get(f"{base}/monitor/windows", timeout=30).json()["windows"]
        return found if len([w for w in found if w["closed"]]) == 3 else None

    latest = wait_for(three_windows, timeout=60, what="a third closed window")[-1]
    assert not any(c["over_threshold"] for c in latest["features"]), latest["features"]

    def resolved():
        history = requests.get(f"{base}/alerts/history", timeout=30).json()
        firing = [a for a in history["active"] if a["state"] == "firing"]
        done = [t for t in history["transitions"] if t["state"] == "resolved"]
        return done if done and not firing else None

    wait_for(resolved, timeout=60, what="the drift alert to resolve")
    page.reload()
    expect(page.get_by_test_id("drift-summary")).to_have_text("No feature above its threshold in 3.")
    expect(page.get_by_test_id("drift-chart")).to_have_attribute("data-points", "3")
    expect(page.locator("[data-testid=active-alerts] tr[data-state=firing]")).to_have_count(0)
    resolved_item = page.locator("[data-testid=alert-history] li[data-state=resolved]")
    expect(resolved_item.first).to_contain_text("FeatureDrift")
    _shot(page, "monitoring-resolved")
    page.console.assert_clean(allowed=("status of 404",))


def test_a_deployment_without_a_monitor_says_how_to_set_one(page, server, served):  # noqa: F811
    from playwright.sync_api import expect

    name = served["deploy"]()
    page.goto(f"/deployments/{name}/monitoring")
    box = page.get_by_test_id("no-monitor")
    expect(box).to_contain_text(f"slipway monitor set {name}")
    expect(box).to_contain_text(f"/api/v1/deployments/{name}/monitor")
    expect(page.get_by_test_id("drift-panel")).to_have_count(0)
    expect(page.get_by_test_id("no-rules")).to_contain_text(f"slipway alerts set {name}")
    page.console.assert_clean(allowed=("status of 404",))


def _colours(rng: np.random.Generator, n: int, palette: list[str], p: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"f1": rng.normal(0, 1, n), "colour": rng.choice(palette, n, p=p)})


@pytest.fixture(scope="module")
def categorical(server, tmp_path_factory):
    """A model with a text input (`colour`), monitored, after traffic where
    a colour the reference never had takes half the rows."""
    ws = tmp_path_factory.mktemp("monitoring-ui-ws")
    rng = np.random.default_rng(31)
    frame = _colours(rng, 1000, ["red", "green", "blue"], [0.5, 0.3, 0.2])
    frame["y"] = ((frame["f1"] > 0) ^ (frame["colour"] == "red")).astype(int)
    frame.to_csv(ws / "colours.csv", index=False)
    dataset = unique("colours")
    env = {"SLIPWAY_TRACKING_URI": server.url}
    slipway("data", "add", "colours.csv", "--name", dataset, cwd=ws)
    slipway("data", "push", dataset, cwd=ws, env=env)
    (ws / "spec.yaml").write_text(f"""\
data: {dataset}@1
target: y
task: binary
model: {{type: logistic, params: {{l2: 1.0}}}}
seed: 5
""")
    out = slipway("train", "spec.yaml", "--tracking-uri", server.url, "--experiment",
                  unique("colours"), cwd=ws, check=False)
    assert out.returncode == 0, out.stderr
    run_id = _run_id(out.stdout)
    client = MlflowClient(server.url)
    model = unique("colour-model")
    client.create_registered_model(model)
    version = client.create_model_version(
        model, f"{client.get_run(run_id).info.artifact_uri}/model", run_id=run_id).version
    name = unique("colours")
    create(server, name, f"models:/{model}/{version}")
    wait_for(lambda: serving_version(server, name), timeout=60, what="the model to load")
    base = f"{server.url}/api/v1/deployments/{name}"
    r = requests.put(f"{base}/monitor", json={"window": "400rows"}, timeout=30)
    assert r.status_code == 200, r.text
    _send(server, name, _colours(rng, 400, ["red", "green", "purple"], [0.3, 0.2, 0.5]))

    def closed():
        windows = requests.get(f"{base}/monitor/windows", timeout=30).json()["windows"]
        return windows if [w["rows"] for w in windows if w["closed"]] == [400] else None

    window = wait_for(closed, timeout=60, what="a closed window of 400 rows")[0]
    drift = requests.get(f"{base}/monitor/drift", timeout=30).json()["drift"]
    return {"name": name, "window": window, "drift": drift, "model": model, "ws": ws, "base": base}


def _loop_runs(base: str) -> list[dict]:
    r = requests.get(f"{base}/loop/runs", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["runs"]


def test_a_text_feature_shows_bar_pairs_and_its_new_category(page, categorical):
    from playwright.sync_api import expect

    name, window = categorical["name"], categorical["window"]
    colour = next(c for c in window["features"] if c["column"] == "colour")
    assert colour["kind"] == "categorical" and colour["new_categories"] == ["purple"], colour
    shares = {b.get("value", "(other)"): (b["reference"], b["current"])
              for d in categorical["drift"]["distributions"] if d["feature"] == "colour"
              for b in d["bins"]}
    assert set(shares) == {"red", "green", "blue", "purple"}, shares
    assert shares["purple"][0] == 0 and shares["blue"][1] == 0

    # A loop policy with a budget of one retrain a day, triggered twice: the
    # first retrains (waited for), the second is skipped with its reason.
    base = categorical["base"]
    spec = (categorical["ws"] / "spec.yaml").read_text()
    spec += f"register: {{model: {categorical['model']}, alias: production}}\n"
    r = requests.put(f"{base}/loop", json={"on": ["FeatureDrift"], "spec": spec, "max_per_day": 1},
                     timeout=30)
    assert r.status_code == 200, r.text
    first = requests.post(f"{base}/loop/trigger", json={"reason": "by hand"}, timeout=30).json()["run"]
    second = requests.post(f"{base}/loop/trigger", json={}, timeout=30).json()["run"]
    assert second["state"] == "skipped" and second["reason"], second
    ended = {"promoted", "gate_failed", "failed", "pending_approval"}
    runs = wait_for(lambda: (runs := _loop_runs(base)) and
                    next(x for x in runs if x["id"] == first["id"])["state"] in ended and runs,
                    timeout=120, what="the retrain to end")

    page.goto(f"/deployments/{name}/monitoring?feature=colour")
    table = page.get_by_test_id("loop-runs")
    for run in runs:
        row = table.locator(f"tr[data-run='{run['id']}']")
        expect(row).to_have_attribute("data-state", run["state"])
        if run["reason"]:
            expect(row).to_contain_text(run["reason"])
    expect(table.locator(f"tr[data-run='{second['id']}']")).to_have_attribute("data-state", "skipped")
    expect(page.get_by_test_id("loop-policy")).to_contain_text("On FeatureDrift")
    # One window: no lines yet, and the page says so.
    expect(page.get_by_test_id("drift-one-window")).to_be_visible()
    expect(page.get_by_test_id("drift-chart")).to_have_count(0)
    expect(page.get_by_test_id("no-labels")).to_be_visible()
    row = page.locator("[data-testid=feature-table] .vt-row[data-key=colour]")
    expect(row).to_contain_text("purple")
    expect(row.get_by_test_id("drifted")).to_have_attribute("data-drifted", "true")
    dist = page.get_by_test_id("distribution-chart")
    expect(dist).to_have_attribute("data-kind", "categorical")
    bars = page.get_by_test_id("distribution-categories")
    expect(bars.locator("g[data-category]")).to_have_count(4)
    for category, (reference, current) in shares.items():
        group = bars.locator(f"g[data-category='{category}']")
        for side, share in (("reference", reference), ("current", current)):
            drawn = float(group.locator(f"rect[data-series={side}]").get_attribute("data-share"))
            assert drawn == pytest.approx(share, abs=1e-12), (category, side)
            width = float(group.locator(f"rect[data-series={side}]").get_attribute("width"))
            assert (width > 0) == (share > 0), (category, side, width)
    _shot(page, "monitoring-categorical")
    page.console.assert_clean(allowed=("status of 404",))


ADMIN = ("admin", "admin-Monitor-pw1")
READER = ("reader", "reader-Monitor-pw1")
STRANGER = ("stranger", "stranger-Monitor-pw1")


def test_with_auth_a_reader_sees_the_page_and_a_stranger_the_servers_refusal(
        browser, tmp_path_factory):  # noqa: F811
    from playwright.sync_api import expect

    srv = start_auth_server(tmp_path_factory, "monitoring-auth", ADMIN, (READER, STRANGER),
                            "--auth-default-permission", "NO_PERMISSIONS")
    try:
        mp = pytest.MonkeyPatch()
        try:
            mp.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
            mp.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
            _point_mlflow_at(srv, mp)
            model = unique("auth-model")
            _, version = log_xgboost(model, depth=2, seed=61)
        finally:
            mp.undo()
        name = unique("auth-dep")
        r = requests.post(f"{srv.url}/api/v1/deployments", auth=ADMIN, timeout=30,
                          json={"name": name, "model_uri": f"models:/{model}/{version}"})
        assert r.status_code == 200, r.text
        r = requests.post(f"{srv.url}/api/3.0/mlflow/users/permissions/grant", auth=ADMIN, timeout=10,
                          json={"username": READER[0], "resource_type": "deployment",
                                "resource_id": name, "permission": "READ"})
        assert r.status_code == 200, r.text
        with page_opener(browser, srv, height=1000, timeout_ms=20000) as open_page:
            page = open_page()
            _sign_in(page, READER, f"/deployments/{name}/monitoring")
            expect(page.get_by_test_id("no-monitor")).to_contain_text(f"slipway monitor set {name}")
            expect(page.get_by_test_id("no-active-alerts")).to_be_visible()
            # 404s: no monitor, no rules, no loop policy; the shell's first 401.
            page.console.assert_clean(allowed=("status of 404", "status of 401"))

            page = open_page()
            _sign_in(page, STRANGER, f"/deployments/{name}/monitoring")
            expect(page.get_by_role("alert").first).to_contain_text("PERMISSION_DENIED")  # the monitor's
            expect(page.get_by_test_id("no-monitor")).to_have_count(0)
            expect(page.get_by_test_id("alerts-panel").get_by_role("alert").first).to_contain_text(
                "PERMISSION_DENIED")
            expect(page.get_by_test_id("loop-panel").get_by_role("alert").first).to_contain_text(
                "PERMISSION_DENIED")
            page.console.assert_clean(allowed=("status of 403", "status of 401"))
    finally:
        srv.assert_clean_exit()
