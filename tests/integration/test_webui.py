"""The web UI that `slipway server` serves from its own binary.

First with plain HTTP: `/` and the client routes answer the app's page, its
files are typed, cached, compressed, and carry the security headers, and no
API route is shadowed. Then in a real browser: Debian's chromium
(``/usr/bin/chromium``, or ``$SLIPWAY_CHROMIUM``) driven by Playwright (no
browser download), against a server filled by the real mlflow client: every
page loads without console errors, the runs table shows the runs, filters
through the server's search (and shows its error), sorts, pages, compares,
and the run page shows params, metrics and a drawn chart.

Screenshots of every page go to ``$SLIPWAY_SCREENSHOTS``, by default
``screenshots/`` beside the slipway binary (``build/screenshots``); the run's
summary names the folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import requests
from mlflow.entities import Metric, Param, RunTag

import conftest
from conftest import slipway_binary, unique

pytestmark = pytest.mark.slipway_only

CHROMIUM = os.environ.get("SLIPWAY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get("SLIPWAY_SCREENSHOTS", slipway_binary().parent / "screenshots")
).resolve()

# run-00 .. run-11, rmse 0.25 .. 1.35: `metrics.rmse < 1` keeps run-00 .. run-07.
RMSE = {f"run-{i:02d}": round(0.25 + 0.1 * i, 2) for i in range(12)}
LOSS_STEPS = 3000


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


# ---------------------------------------------------------------- plain HTTP

def test_root_and_client_routes_answer_the_app(server):
    root = requests.get(server.url + "/", timeout=10)
    assert root.status_code == 200, root.text[:300]
    assert root.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<div id="app"></div>' in root.text
    assert re.search(r'<script type="module" crossorigin src="/static/[^"]+\.js">', root.text)
    # No inline script: every <script> has a src.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", root.text), root.text
    csp = root.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert root.headers["X-Content-Type-Options"] == "nosniff"
    assert root.headers["Cache-Control"] == "no-cache"
    assert root.headers["ETag"]

    for path in ("/experiments", "/experiments/0", "/experiments/0/runs/abc?metric=x",
                 "/compare?runs=a,b"):
        deep = requests.get(server.url + path, timeout=10)
        assert deep.status_code == 200, path
        assert deep.text == root.text, path
        assert deep.headers["Content-Security-Policy"] == csp


def test_page_revalidates_by_etag(server):
    first = requests.get(server.url + "/", headers={"Accept-Encoding": "identity"}, timeout=10)
    again = requests.get(server.url + "/", timeout=10,
                         headers={"Accept-Encoding": "identity",
                                  "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_static_files_are_typed_cached_and_compressed(server):
    html = requests.get(server.url + "/", timeout=10).text
    assets = _assets(html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".svg": "image/svg+xml"}
    total_gzip = 0
    for path in assets:
        plain = requests.get(server.url + path, headers={"Accept-Encoding": "identity"},
                             timeout=10)
        assert plain.status_code == 200, path
        assert "Content-Encoding" not in plain.headers, path
        assert plain.headers["Content-Type"] == types[Path(path).suffix], path
        assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable", path
        assert plain.headers["X-Content-Type-Options"] == "nosniff", path

        raw = requests.get(server.url + path, headers={"Accept-Encoding": "gzip, deflate, br"},
                           timeout=10, stream=True)
        body = raw.raw.read(decode_content=False)
        if path.endswith((".js", ".css")):
            assert raw.headers["Content-Encoding"] == "gzip", path
            assert raw.headers["Vary"] == "Accept-Encoding", path
            assert len(body) < len(plain.content) / 2, path
            import gzip
            assert gzip.decompress(body) == plain.content, path
        total_gzip += len(body)

        cached = requests.get(server.url + path, timeout=10,
                              headers={"Accept-Encoding": "identity",
                                       "If-None-Match": plain.headers["ETag"]})
        assert cached.status_code == 304, path
    # The budget for the whole UI: under 500 KB compressed.
    assert total_gzip < 500 * 1024, total_gzip


def test_missing_static_file_is_an_mlflow_404(server):
    r = requests.get(server.url + "/static/no-such-file-123.js", timeout=10)
    conftest.assert_mlflow_error(r, 404, "ENDPOINT_NOT_FOUND")


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/health", None),
    ("GET", "/metrics", None),
    ("POST", "/api/2.0/mlflow/experiments/search", {}),
    ("GET", "/ajax-api/2.0/mlflow/experiments/search", None),
    ("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", None),
    ("GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0", None),
    ("GET", "/api/2.0/mlflow/runs/search", None),
    ("GET", "/api/2.0/mlflow/no-such-route", None),
    ("GET", "/ajax-api/2.0/mlflow/no-such-route", None),
    ("GET", "/api/3.0/mlflow/no-such-route", None),
    ("GET", "/api/2.0/mlflow-artifacts/artifacts", None),
    ("GET", "/get-artifact", None),
    ("GET", "/model-versions/get-artifact", None),
    ("POST", "/graphql", {"query": "{ test(inputString: \"x\") { output } }"}),
    ("GET", "/version", None),
    ("GET", "/v2/health/live", None),
    ("GET", "/v2/models/none", None),
    ("POST", "/invocations", {}),
    ("POST", "/deployments/none/invocations", {}),
    ("GET", "/deployments/none/invocations", None),
    ("POST", "/v1/traces", {}),
    ("GET", "/api/v1/deployments", None),
])
def test_api_routes_are_not_shadowed(server, method, path, body):
    r = requests.request(method, server.url + path, json=body, timeout=10)
    assert not r.headers.get("Content-Type", "").startswith("text/html"), (path, r.text[:200])
    assert '<div id="app">' not in r.text, path


def test_ui_files_are_public_under_auth_and_the_data_is_not(server_factory):
    """With --auth the page and its files load for anyone (the sign-in page
    will need them); the calls they make still need credentials."""
    srv = server_factory()
    srv.extra_args = ["--auth"]
    srv.env = {"SLIPWAY_ADMIN_PASSWORD": "webui-admin-pw"}
    srv.start()
    root = requests.get(srv.url + "/experiments/0", timeout=10)
    assert root.status_code == 200 and '<div id="app"></div>' in root.text
    for path in _assets(root.text):
        assert requests.get(srv.url + path, timeout=10).status_code == 200, path
    data = requests.post(srv.url + "/ajax-api/2.0/mlflow/experiments/search", json={},
                         timeout=10)
    conftest.assert_mlflow_error(data, 401, "UNAUTHENTICATED")
    signed_in = requests.post(srv.url + "/ajax-api/2.0/mlflow/experiments/search", json={},
                              auth=("admin", "webui-admin-pw"), timeout=10)
    assert signed_in.status_code == 200, signed_in.text


# ------------------------------------------------------------------- browser

@pytest.fixture(scope="module")
def ui_data(server):
    """Two experiments; the first with 12 runs (params, metrics, tags), a child
    run, artifacts, and a 3000-step loss on run-00."""
    import mlflow

    mlflow.set_tracking_uri(server.url)
    client = mlflow.MlflowClient(server.url)
    name = unique("webui")
    experiment_id = client.create_experiment(name)
    other = unique("webui-other")
    client.create_experiment(other)
    runs = {}
    for i, (run_name, rmse) in enumerate(RMSE.items()):
        run = client.create_run(experiment_id, run_name=run_name)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("rmse", rmse, 1_700_000_000_000 + i, 0),
                     Metric("accuracy", round(1 - rmse / 2, 3), 1_700_000_000_000 + i, 0)],
            params=[Param("depth", str(3 + i % 4)), Param("optimizer", "adam" if i % 2 else "sgd")],
            tags=[RunTag("team", "red" if i % 2 else "blue")],
        )
        client.set_terminated(run.info.run_id)
        runs[run_name] = run.info.run_id
    first = runs["run-00"]
    points = [Metric("loss", 2.0 * 0.998 ** s + (s % 7) * 0.01, 1_700_000_000_000 + s * 1000, s)
              for s in range(LOSS_STEPS)]
    for start in range(0, len(points), 1000):
        client.log_batch(first, metrics=points[start:start + 1000])
    child = client.create_run(experiment_id, run_name="child-of-00",
                              tags={"mlflow.parentRunId": first})
    client.set_terminated(child.info.run_id)
    client.log_text(first, "hello from the run\n", "notes/readme.txt")
    client.log_dict(first, {"a": 1}, "config.json")
    return {"experiment_id": experiment_id, "name": name, "other": other, "runs": runs,
            "child": child.info.run_id}


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: `make deps` installs tests/requirements.txt")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no chromium at {CHROMIUM}: `make deps` installs Debian's chromium "
                    "(or set SLIPWAY_CHROMIUM)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    conftest.REVIEW_FILES.append(f"web UI screenshots: {SCREENSHOTS}")
    with sync_playwright() as p:
        # Playwright starts chromium with --no-sandbox (its default,
        # chromium_sandbox=False), which running as root needs.
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


class Console:
    """What a page said: console errors, uncaught exceptions, failed requests."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console: {m.text} ({m.location.get('url', '')})"))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        # ERR_ABORTED is a request cancelled on purpose: by a navigation, or
        # by the app when a newer search replaces the one in flight.
        page.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "") and
                self.errors.append(f"request failed: {r.method} {r.url}: {r.failure}"))

    def assert_clean(self, allowed: tuple[str, ...] = ()):
        left = [e for e in self.errors if not any(a in e for a in allowed)]
        assert not left, "\n".join(left)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=server.url)
    pg = context.new_page()
    pg.set_default_timeout(15000)
    pg.console = Console(pg)
    yield pg
    context.close()


def _shot(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _run_names(page) -> list[str]:
    return page.locator("[data-testid=runs-table] .vt-row .run-name").all_inner_texts()


def test_experiments_page_lists_experiments(page, ui_data):
    from playwright.sync_api import expect

    page.goto("/")
    expect(page.get_by_role("link", name=ui_data["name"])).to_be_visible()
    expect(page.get_by_role("link", name=ui_data["other"])).to_be_visible()
    _shot(page, "experiments")
    # Searching by name asks the server, which keeps the one.
    page.get_by_label("Experiment name").fill(ui_data["other"])
    page.get_by_label("Experiment name").press("Enter")
    expect(page.get_by_test_id("experiment-count")).to_have_text("1 experiment")
    expect(page.get_by_role("link", name=ui_data["name"])).to_have_count(0)
    page.get_by_role("link", name=ui_data["other"]).click()
    expect(page.get_by_test_id("experiment-name")).to_have_text(ui_data["other"])
    page.console.assert_clean()


def test_runs_table_shows_the_runs(page, ui_data):
    from playwright.sync_api import expect

    page.goto(f"/experiments/{ui_data['experiment_id']}")
    expect(page.get_by_test_id("experiment-name")).to_have_text(ui_data["name"])
    expect(page.get_by_test_id("run-count")).to_have_text("13 runs")
    assert sorted(_run_names(page)) == sorted([*RMSE, "child-of-00"])
    # Newest first by default, as MLflow orders them.
    assert _run_names(page)[0] == "child-of-00"
    header = page.locator("[role=columnheader][data-column='metric:rmse']")
    expect(header).to_be_visible()
    row = page.locator(f".vt-row[data-key='{ui_data['runs']['run-03']}']")
    expect(row).to_contain_text("0.55")
    _shot(page, "runs")
    page.console.assert_clean()


def test_filter_narrows_rows_through_the_server(page, ui_data):
    from playwright.sync_api import expect

    page.goto(f"/experiments/{ui_data['experiment_id']}")
    expect(page.get_by_test_id("run-count")).to_have_text("13 runs")
    page.get_by_label("Filter runs").fill("metrics.rmse < 1")
    page.get_by_label("Filter runs").press("Enter")
    expected = sorted(n for n, v in RMSE.items() if v < 1)
    expect(page.get_by_test_id("run-count")).to_have_text(f"{len(expected)} runs")
    assert sorted(_run_names(page)) == expected
    assert "filter=metrics.rmse" in page.url
    # Two clauses, and the link survives a reload.
    page.get_by_label("Filter runs").fill("metrics.rmse < 1 and params.optimizer = 'adam'")
    page.get_by_label("Filter runs").press("Enter")
    both = sorted(n for n, v in RMSE.items() if v < 1 and int(n[-2:]) % 2 == 1)
    expect(page.get_by_test_id("run-count")).to_have_text(f"{len(both)} runs")
    page.reload()
    expect(page.get_by_test_id("run-count")).to_have_text(f"{len(both)} runs")
    assert sorted(_run_names(page)) == both
    _shot(page, "runs-filtered")
    page.console.assert_clean()


def test_invalid_filter_shows_the_servers_error(page, server, ui_data):
    from playwright.sync_api import expect

    bad = "metrics.rmse <<< 1"
    reply = requests.post(server.api + "/runs/search", timeout=10,
                          json={"experiment_ids": [ui_data["experiment_id"]], "filter": bad})
    error = conftest.assert_mlflow_error(reply, 400, "INVALID_PARAMETER_VALUE")
    page.goto(f"/experiments/{ui_data['experiment_id']}")
    expect(page.get_by_test_id("run-count")).to_have_text("13 runs")
    page.get_by_label("Filter runs").fill(bad)
    page.get_by_label("Filter runs").press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("INVALID_PARAMETER_VALUE")
    expect(alert).to_contain_text(error["message"])
    expect(page.get_by_test_id("run-count")).to_have_text("0 runs")
    _shot(page, "runs-invalid-filter")
    # The browser reports the 400 itself; nothing else may go wrong.
    page.console.assert_clean(allowed=("status of 400",))


def test_sorting_by_a_header_reorders_through_the_server(page, ui_data):
    from playwright.sync_api import expect

    page.goto(f"/experiments/{ui_data['experiment_id']}?filter=metrics.rmse%20%3E%200")
    expect(page.get_by_test_id("run-count")).to_have_text("12 runs")
    by_rmse = sorted(RMSE, key=RMSE.get)
    header = page.locator("[role=columnheader][data-column='metric:rmse']")
    header.click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("[data-testid=runs-table] .vt-row .run-name").first).to_have_text(by_rmse[0])
    assert _run_names(page) == by_rmse
    header.click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.locator("[data-testid=runs-table] .vt-row .run-name").first).to_have_text(by_rmse[-1])
    assert _run_names(page) == by_rmse[::-1]
    assert "sort=metric%3Armse" in page.url and "dir=desc" in page.url
    page.locator("[role=columnheader][data-column='attr:run_name']").click()
    expect(page.locator("[data-testid=runs-table] .vt-row .run-name").first).to_have_text("run-00")
    _shot(page, "runs-sorted")
    page.console.assert_clean()


def test_column_chooser_adds_a_tag_column(page, ui_data):
    from playwright.sync_api import expect

    page.goto(f"/experiments/{ui_data['experiment_id']}")
    expect(page.get_by_test_id("run-count")).to_have_text("13 runs")
    expect(page.locator("[role=columnheader][data-column='tag:team']")).to_have_count(0)
    page.get_by_role("button", name="Columns").click()
    chooser = page.get_by_test_id("column-chooser")
    chooser.get_by_label("team").check()
    expect(page.locator("[role=columnheader][data-column='tag:team']")).to_be_visible()
    row = page.locator(f".vt-row[data-key='{ui_data['runs']['run-01']}']")
    expect(row).to_contain_text("red")
    chooser.get_by_label("depth").uncheck()
    expect(page.locator("[role=columnheader][data-column='param:depth']")).to_have_count(0)
    # Kept for the experiment in the browser's storage.
    page.reload()
    expect(page.locator("[role=columnheader][data-column='tag:team']")).to_be_visible()
    _shot(page, "runs-columns")
    page.console.assert_clean()


def test_run_page_shows_params_metrics_and_draws_the_chart(page, ui_data):
    from playwright.sync_api import expect

    run_id = ui_data["runs"]["run-00"]
    page.goto(f"/experiments/{ui_data['experiment_id']}/runs/{run_id}")
    expect(page.get_by_test_id("run-name")).to_have_text("run-00")
    params = page.get_by_test_id("params")
    expect(params).to_contain_text("depth")
    expect(params).to_contain_text("optimizer")
    expect(params).to_contain_text("sgd")
    metrics = page.get_by_test_id("metrics")
    expect(metrics).to_contain_text("rmse")
    expect(metrics).to_contain_text("0.25")
    expect(metrics).to_contain_text("loss")
    expect(metrics).to_contain_text(str(LOSS_STEPS - 1))
    expect(page.get_by_test_id("tags")).to_contain_text("team")
    expect(page.get_by_test_id("child-runs")).to_contain_text("child-of-00")
    artifacts = page.get_by_test_id("artifacts")
    expect(artifacts).to_contain_text("config.json")
    artifacts.get_by_role("button", name=re.compile("notes")).click()
    expect(artifacts).to_contain_text("readme.txt")

    # The chart shows the longest history: loss, sampled by the server.
    chart = page.get_by_test_id("metric-chart")
    expect(chart.locator(".chart-title")).to_have_text("loss")
    expect(page.get_by_test_id("chart-points")).to_contain_text("points drawn")
    drawn = int(page.get_by_test_id("chart-points").inner_text().split()[0])
    assert 300 <= drawn < LOSS_STEPS, drawn  # a sample of the whole history
    assert _canvas_ink(page) > 500
    _shot(page, "run")

    # Log scale, then x by wall time: still drawn, nothing logged.
    chart.get_by_label("log scale").check()
    assert _canvas_ink(page) > 500
    chart.get_by_label("x axis").select_option("time")
    expect(page.get_by_test_id("chart-points")).to_contain_text("points drawn")
    assert _canvas_ink(page) > 500
    _shot(page, "run-chart-log-time")

    # Another metric through its link; the child's page links back to its parent.
    metrics.get_by_role("link", name="rmse").click()
    expect(chart.locator(".chart-title")).to_have_text("rmse")
    page.get_by_test_id("child-runs").get_by_role("link", name="child-of-00").click()
    expect(page.get_by_test_id("run-name")).to_have_text("child-of-00")
    expect(page.get_by_test_id("parent-link")).to_have_text(run_id)
    page.console.assert_clean()


def test_run_page_charts_every_metric_in_a_grid(page, ui_data):
    """"All metrics" draws one chart per metric of the run (many metrics of
    one run); a metric's link in the table goes back to its single chart."""
    from playwright.sync_api import expect

    run_id = ui_data["runs"]["run-00"]
    page.goto(f"/experiments/{ui_data['experiment_id']}/runs/{run_id}")
    expect(page.get_by_test_id("metric-chart")).to_have_count(1)
    page.get_by_role("button", name="All metrics (3)").click()
    grid = page.get_by_test_id("metric-grid")
    charts = grid.get_by_test_id("metric-chart")
    expect(charts).to_have_count(3)
    assert "charts=all" in page.url
    expected = {"accuracy": "1 point drawn", "loss": "points drawn", "rmse": "1 point drawn"}
    for i, (key, drawn) in enumerate(expected.items()):  # the table's order: by name
        expect(charts.nth(i).locator(".chart-title")).to_have_text(key)
        expect(charts.nth(i).get_by_test_id("chart-points")).to_contain_text(drawn)
    page.wait_for_timeout(100)  # uPlot draws on the next animation frame
    ink = page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid=metric-grid] [data-testid=metric-chart]')].map(chart => {
          const c = chart.querySelector('canvas');
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let ink = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
          return ink;
        })""")
    assert len(ink) == 3 and ink[1] > 500, ink  # loss: a 3000-step curve
    _shot(page, "run-all-charts")

    page.get_by_test_id("metrics").get_by_role("link", name="rmse").click()
    expect(page.get_by_test_id("metric-chart")).to_have_count(1)
    expect(page.get_by_test_id("metric-chart").locator(".chart-title")).to_have_text("rmse")
    assert "charts=all" not in page.url
    page.console.assert_clean()


def _canvas_ink(page) -> int:
    """Pixels of the chart's canvas that are not blank: 0 when nothing was drawn."""
    page.wait_for_function(
        "() => { const c = document.querySelector('[data-testid=metric-chart] canvas');"
        " return c && c.width > 0 && c.height > 0; }")
    page.wait_for_timeout(100)  # uPlot draws on the next animation frame
    return page.evaluate("""() => {
        const c = document.querySelector('[data-testid=metric-chart] canvas');
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let ink = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
        return ink;
    }""")


def test_compare_selected_runs_on_one_chart(page, ui_data):
    from playwright.sync_api import expect

    page.goto(f"/experiments/{ui_data['experiment_id']}")
    expect(page.get_by_test_id("run-count")).to_have_text("13 runs")
    for name in ("run-00", "run-05"):
        page.get_by_label(f"Select {name}").check()
    page.get_by_test_id("compare-button").click()
    expect(page.get_by_role("heading", name="Compare 2 runs")).to_be_visible()
    table = page.get_by_test_id("compare-table")
    expect(table).to_contain_text("run-00")
    expect(table).to_contain_text("run-05")
    expect(table.locator("tr.differs")).not_to_have_count(0)
    page.get_by_label("metric").select_option("rmse")
    expect(page.get_by_test_id("metric-chart").locator(".chart-title")).to_have_text("rmse")
    expect(page.get_by_test_id("chart-points")).to_have_text(re.compile(r"^2 points drawn"))
    assert _canvas_ink(page) > 0
    _shot(page, "compare")
    page.console.assert_clean()


def test_paging_loads_more_rows_as_the_table_scrolls(page, server):
    """More runs than one page: the table asks for the next page near its end
    and keeps only the rows in view in the DOM."""
    from playwright.sync_api import expect
    import mlflow

    client = mlflow.MlflowClient(server.url)
    experiment_id = client.create_experiment(unique("webui-many"))
    total = 350  # over three pages of 100
    for i in range(total):
        run_id = client.create_run(experiment_id, run_name=f"bulk-{i:04d}").info.run_id
        if i % 100 == 0:
            client.log_metric(run_id, "m", float(i))
    page.goto(f"/experiments/{experiment_id}")
    expect(page.get_by_test_id("run-count")).to_contain_text("100 runs")
    rendered = page.locator("[data-testid=runs-table] .vt-row").count()
    assert 0 < rendered < 100, rendered
    table = page.get_by_test_id("runs-table")
    for _ in range(40):
        table.evaluate("t => { t.scrollTop = t.scrollHeight; }")
        page.wait_for_timeout(150)
        if page.get_by_test_id("run-count").inner_text() == f"{total} runs":
            break
    expect(page.get_by_test_id("run-count")).to_have_text(f"{total} runs")
    table.evaluate("t => { t.scrollTop = t.scrollHeight; }")
    rows = page.locator("[data-testid=runs-table] .vt-row")
    assert rows.count() < 100
    # The rows in the DOM are the last ones.
    expect(rows.last).to_have_attribute("aria-rowindex", str(total + 1))
    _shot(page, "runs-paged")
    page.console.assert_clean()


def test_unknown_client_path_shows_not_found_in_the_app(page):
    from playwright.sync_api import expect

    page.goto("/experiments/1/nothing/here")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.console.assert_clean()
