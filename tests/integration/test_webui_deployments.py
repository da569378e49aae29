"""Deployments in the web UI, and the rate history its charts draw.

Real XGBoost models logged and registered with the real mlflow client, real
deployments of a real `slipway server`, real predictions through
/deployments/NAME/invocations; Debian's chromium driven by Playwright as in
test_webui.py (whose browser, console check and screenshot helpers this
file imports). First the history route over plain HTTP, then the pages on a
server without --auth, then what a READ-only user sees and may do with
--auth.
"""

from __future__ import annotations

import re

import mlflow
import pytest
import requests

from conftest import _point_mlflow_at, assert_mlflow_error, unique
from test_serving import (create, deployment, invoke, log_xgboost, serving_version, split_body,
                          training_data, wait_for)
from test_webui import Console, _shot, browser  # noqa: F401  (browser is a fixture)
from test_webui_pages import _sign_in, page_opener, start_auth_server

pytestmark = pytest.mark.slipway_only

ADMIN = ("admin", "admin-Deploy-pw1")
ALICE = ("alice", "alice-Deploy-pw1")
BOB = ("bob", "bob-Deploy-pw1")
GRANT = "/api/3.0/mlflow/users/permissions/grant"
# The colours of series 0 and 1 in ui/src/components/chart.tsx.
SERIES_RGB = [(0x1f, 0x77, 0xb4), (0xd6, 0x27, 0x28)]


@pytest.fixture(scope="module")
def models(server):
    """One registered model with two XGBoost versions, @production on v1."""
    mp = pytest.MonkeyPatch()
    try:
        client = _point_mlflow_at(server, mp)
        name = unique("deploy-ui")
        _, v1 = log_xgboost(name, depth=2, seed=41)
        _, v2 = log_xgboost(name, depth=4, seed=42)
        client.set_registered_model_alias(name, "production", v1)
    finally:
        mp.undo()
    return {"model": name, "v1": v1, "v2": v2}


@pytest.fixture
def page(browser, server):  # noqa: F811
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, base_url=server.url)
    pg = context.new_page()
    pg.set_default_timeout(20000)
    pg.console = Console(pg)
    yield pg
    context.close()


def _history(srv, name, since_ms=None, auth=None) -> requests.Response:
    params = {} if since_ms is None else {"since_ms": since_ms}
    return requests.get(f"{srv.url}/api/v1/deployments/{name}/metrics", params=params, auth=auth,
                        timeout=30)


def _answered(samples, role="primary") -> int:
    return sum(v["requests"] for s in samples for v in s["versions"] if v["role"] == role)


def _serve(srv, models, uri=None) -> str:
    name = unique("dep")
    create(srv, name, uri or f"models:/{models['model']}@production")
    wait_for(lambda: serving_version(srv, name) == models["v1"], what="v1 to serve")
    return name


def _drawn_pixels(locator, series=1) -> int:
    """Pixels on the chart's canvas in the colour of one of its first `series` series."""
    return locator.locator("canvas").evaluate(
        """(canvas, colours) => {
             const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
             let n = 0;
             for (let i = 0; i < data.length; i += 4)
               if (data[i + 3] > 100 && colours.some((rgb) => Math.abs(data[i] - rgb[0]) < 40 &&
                   Math.abs(data[i + 1] - rgb[1]) < 40 && Math.abs(data[i + 2] - rgb[2]) < 40)) n++;
             return n;
           }""", [list(c) for c in SERIES_RGB[:series]])


# ---------------------------------------------------------------- plain HTTP

def test_rate_history_counts_the_requests_sent(server, models):
    name = _serve(server, models)
    x, _ = training_data(seed=43, rows=4)
    for _ in range(30):
        assert invoke(server, name, split_body(x)).status_code == 200
    for _ in range(5):
        bad = invoke(server, name, {"dataframe_split": {"columns": ["nope"], "data": [[1]]}})
        assert bad.status_code == 400

    # The server samples every 5 s; the samples since the version loaded
    # hold every request, once.
    def sampled():
        samples = _history(server, name).json()["samples"]
        return samples if _answered(samples) == 35 else None

    samples = wait_for(sampled, timeout=30, what="the samples to hold the 35 requests")
    reply = _history(server, name).json()
    assert reply["interval_seconds"] == 5
    times = [s["time"] for s in samples]
    assert times == sorted(times) and len(set(times)) == len(times)
    primary = [v for s in samples for v in s["versions"] if v["role"] == "primary"]
    assert {(v["model_name"], v["version"]) for v in primary} == {(models["model"], models["v1"])}
    busy = [v for v in primary if v["requests"] > 0]
    assert sum(round(v["rows_per_s"] * v["seconds"]) for v in busy) == 30 * 4
    assert sum(round(v["errors_per_s"] * v["seconds"]) for v in busy) == 5
    assert all(v["latency_p99_ms"] >= v["latency_p50_ms"] > 0 for v in busy), busy
    # Every interval has a length (the first starts when the version loaded);
    # their lengths are not checked: a loaded machine stretches them.
    assert all(v["seconds"] > 0 for v in primary), primary
    # The totals the deployment reports agree.
    shown = next(v for v in deployment(server, name)["versions"] if v["role"] == "primary")
    assert shown["requests"] == 35 and shown["errors"] == 5

    # since_ms keeps the samples stamped after it.
    later = _history(server, name, since_ms=times[0]).json()["samples"]
    assert [s["time"] for s in later] == [t for t in times if t > times[0]]
    newer = _history(server, name, since_ms=times[-1]).json()["samples"]
    assert all(s["time"] > times[-1] for s in newer)  # empty, or sampled since
    assert_mlflow_error(_history(server, name, since_ms="yesterday"), 400, "INVALID_PARAMETER_VALUE")
    assert_mlflow_error(_history(server, unique("nothing")), 404, "RESOURCE_DOES_NOT_EXIST")


def test_deployment_pages_answer_the_app_and_scoring_stays_the_apis(server, models):
    root = requests.get(server.url + "/", timeout=10).text
    for path in ("/deployments", "/deployments/churn"):
        r = requests.get(server.url + path, timeout=10)
        assert r.status_code == 200 and r.text == root, path
    name = _serve(server, models)
    x, _ = training_data(seed=44, rows=1)
    r = invoke(server, name, split_body(x))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert "predictions" in r.json()
    # A GET of the scoring route is answered like an API's, as `slipway
    # serve` answers GET /invocations (test_serving.py), not with the app;
    # the deployment's own page still is the app.
    for path in (f"/deployments/{name}/invocations", "/deployments/nothing/invocations",
                 f"/deployments/{name}/invocations/"):
        r = requests.get(server.url + path, timeout=10)
        assert_mlflow_error(r, 404, "ENDPOINT_NOT_FOUND")
        assert r.headers["Content-Type"].startswith("application/json"), path
    assert requests.get(f"{server.url}/deployments/{name}", timeout=10).text == root


# ------------------------------------------------------------------ browser

def test_create_through_the_ui_and_the_list_shows_it(page, server, models):
    from playwright.sync_api import expect

    page.goto("/deployments")
    expect(page.get_by_test_id("deployment-count")).to_be_visible()
    name = unique("ui-dep")
    page.get_by_role("button", name="New deployment…").click()
    dialog = page.get_by_role("dialog", name="New deployment")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Model URI").fill(f"models:/{models['model']}@production")
    dialog.get_by_role("button", name="Create deployment").click()
    expect(page.get_by_test_id("deployment-name")).to_have_text(name)
    assert page.url.endswith(f"/deployments/{name}")
    assert deployment(server, name)["model_uri"] == f"models:/{models['model']}@production"
    wait_for(lambda: serving_version(server, name) == models["v1"], what="v1 to serve")

    page.get_by_role("link", name="Deployments").first.click()
    row = page.locator(f"tr[data-deployment='{name}']")
    expect(row).to_contain_text(f"models:/{models['model']}@production")
    expect(row.get_by_test_id("serving")).to_have_text(f"{models['model']} v{models['v1']}")
    expect(row).to_contain_text(f"100% v{models['v1']}")
    expect(row).to_contain_text("ready")
    _shot(page, "deployments")

    # A reference that names nothing: the server's refusal, in the dialog.
    page.get_by_role("button", name="New deployment…").click()
    dialog = page.get_by_role("dialog", name="New deployment")
    dialog.get_by_label("Name").fill(unique("ui-dep"))
    dialog.get_by_label("Model URI").fill(f"models:/{models['model']}@nowhere")
    dialog.get_by_role("button", name="Create deployment").click()
    expect(dialog.get_by_role("alert")).to_contain_text("INVALID_PARAMETER_VALUE")
    expect(dialog.get_by_role("alert")).to_contain_text("alias nowhere not found")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    page.console.assert_clean(allowed=("status of 400",))


def test_detail_page_charts_the_requests_it_served(page, server, models):
    from playwright.sync_api import expect

    name = _serve(server, models)
    page.goto(f"/deployments/{name}")
    primary = page.locator("[data-testid=versions-table] tr[data-role=primary][data-state=ready]")
    expect(primary).to_contain_text(f"{models['model']} v{models['v1']}")
    expect(primary).to_contain_text("100%")
    x, _ = training_data(seed=45, rows=2)
    sent = 40
    for _ in range(sent):
        assert invoke(server, name, split_body(x)).status_code == 200
    # Within a sample or two the page has read the history again.
    expect(page.get_by_test_id("charted-requests")).to_have_text(str(sent), timeout=30000)
    expect(primary.get_by_test_id("requests")).to_have_text(str(sent), timeout=15000)
    chart = page.get_by_test_id("chart-requests")
    wait_for(lambda: int(chart.get_attribute("data-points")) >= 2, what="two samples")
    expect(chart).to_contain_text(f"primary v{models['v1']}")
    wait_for(lambda: _drawn_pixels(chart) > 20, timeout=15, what="the request-rate line")
    # p50 and p99 of v1 (they may coincide, the later drawn on top).
    assert _drawn_pixels(page.get_by_test_id("chart-latency"), series=2) > 0
    reply = _history(server, name).json()
    assert _answered(reply["samples"]) == sent
    _shot(page, "deployment")
    page.console.assert_clean()


def test_canary_shadow_promote_rollback_and_delete_through_the_ui(page, server, models):
    from playwright.sync_api import expect

    model, v1, v2 = models["model"], models["v1"], models["v2"]
    mp = pytest.MonkeyPatch()
    client = _point_mlflow_at(server, mp)
    try:
        # Its own alias, so moving it touches no other test's deployment.
        client.set_registered_model_alias(model, "live", v1)
        name = _serve(server, models, f"models:/{model}@live")
        page.goto(f"/deployments/{name}")
        expect(page.get_by_test_id("deployment-name")).to_have_text(name)

        # Cancel changes nothing.
        page.get_by_role("button", name="Set canary…").click()
        page.get_by_role("dialog", name="Set a canary").get_by_role("button", name="Cancel").click()
        assert deployment(server, name)["canary_uri"] == ""

        page.get_by_role("button", name="Set canary…").click()
        dialog = page.get_by_role("dialog", name="Set a canary")
        dialog.get_by_label("Canary model URI").fill(f"models:/{model}/{v2}")
        dialog.get_by_label("Share of requests (%)").fill("25")
        dialog.get_by_role("button", name="Set canary").click()
        expect(dialog).to_have_count(0)
        shown = deployment(server, name)
        assert shown["canary_uri"] == f"models:/{model}/{v2}" and shown["canary_weight"] == 25
        canary = page.locator("[data-testid=versions-table] tr[data-role=canary][data-state=ready]")
        expect(canary).to_contain_text(f"{model} v{v2}")
        expect(canary).to_contain_text("25%")
        expect(page.get_by_test_id("traffic-split")).to_contain_text(f"v{v1} · 75%")
        history = page.get_by_test_id("swap-history")
        expect(history).to_contain_text(f"canary now serves {model} v{v2}")

        # A shadow, then none.
        page.get_by_role("button", name="Set shadow…").click()
        dialog = page.get_by_role("dialog", name="Set a shadow")
        dialog.get_by_label("Shadow model URI").fill(f"models:/{model}/{v2}")
        dialog.get_by_role("button", name="Set shadow").click()
        expect(page.locator("tr[data-role=shadow][data-state=ready]")).to_contain_text(f"v{v2}")
        assert deployment(server, name)["shadow_uri"] == f"models:/{model}/{v2}"
        page.get_by_role("button", name="Remove shadow…").click()
        page.get_by_role("dialog", name="Remove the shadow").get_by_role(
            "button", name="Remove shadow").click()
        expect(page.locator("tr[data-role=shadow]")).to_have_count(0)
        assert deployment(server, name)["shadow_uri"] == ""

        # Promote: @live moves to the canary's version, the canary goes, in
        # one request.
        page.get_by_role("button", name="Promote canary…").click()
        dialog = page.get_by_role("dialog", name="Promote the canary")
        expect(dialog).to_contain_text("@live")
        changes = []
        record = lambda request: request.method != "GET" and changes.append(  # noqa: E731
            (request.method, request.url.removeprefix(server.url)))
        page.on("request", record)
        dialog.get_by_role("button", name="Promote").click()
        expect(dialog).to_have_count(0)
        page.remove_listener("request", record)
        assert changes == [("POST", f"/api/v1/deployments/{name}/promote")], changes
        assert client.get_model_version_by_alias(model, "live").version == v2
        wait_for(lambda: serving_version(server, name) == v2, what="the promoted version")
        wait_for(lambda: serving_version(server, name, "canary") is None, what="the canary to go")
        assert deployment(server, name)["canary_uri"] == ""
        expect(page.locator("tr[data-role=primary][data-state=ready]")).to_contain_text(f"v{v2}")
        expect(history).to_contain_text(f"primary now serves {model} v{v2} (was v{v1})")
        _shot(page, "deployment-promoted")

        # Roll back: v1 again, pinned until @live moves.
        page.get_by_role("button", name="Roll back…").click()
        page.get_by_role("dialog", name="Roll back").get_by_role("button", name="Roll back").click()
        wait_for(lambda: serving_version(server, name) == v1, what="the rollback to v1")
        assert deployment(server, name)["pinned_version"] == v1
        expect(history).to_contain_text(f"rolled back to v{v1}")
        expect(page.locator("tr[data-role=primary][data-state=ready]")).to_contain_text(f"v{v1}")
        expect(page.get_by_test_id("deployment-overview")).to_contain_text(f"pinned to v{v1}")

        page.get_by_role("button", name="Delete…").click()
        page.get_by_role("dialog", name=f"Delete {name}").get_by_role(
            "button", name="Delete deployment").click()
        page.wait_for_url(re.compile(r"/deployments$"))
        assert requests.get(f"{server.url}/api/v1/deployments/{name}", timeout=10).status_code == 404
        expect(page.locator(f"tr[data-deployment='{name}']")).to_have_count(0)
        page.console.assert_clean()
    finally:
        mp.undo()


# In the page, in front of the API client's fetch: GETs of the deployments
# list and of one deployment can be made to fail once or to answer slowly,
# and how many are in flight at once is counted.
_FLAKY_FETCH = """
(() => {
  const state = { fail: 0, delayMs: 0, inFlight: 0, maxInFlight: 0, answered: 0 };
  window.__poll = state;
  const real = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    const method = (init && init.method) || 'GET';
    if (method !== 'GET' || !/\/api\/v1\/deployments(\/[^/?]+)?(\?|$)/.test(url)) return real(input, init);
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    try {
      if (state.delayMs) await new Promise((resolve) => setTimeout(resolve, state.delayMs));
      if (state.fail > 0) {
        state.fail--;
        return new Response(JSON.stringify({ error_code: 'INTERNAL_ERROR', message: 'injected failure' }),
                            { status: 500, headers: { 'Content-Type': 'application/json' } });
      }
      const reply = await real(input, init);
      state.answered++;
      return reply;
    } finally {
      state.inFlight--;
    }
  };
})();
"""


def _poll_state(page) -> dict:
    return page.evaluate("({ ...window.__poll })")


def _survives_a_failed_and_a_slow_refresh(page, shown):
    """`shown` stays visible through one failed poll (with a stale notice
    that then goes) and through polls slower than the 5 s period (one in
    flight at a time, and they keep coming)."""
    from playwright.sync_api import expect

    expect(shown).to_be_visible()
    page.evaluate("window.__poll.fail = 1")
    wait_for(lambda: _poll_state(page)["fail"] == 0, timeout=15, what="a poll to fail")
    expect(shown).to_be_visible()
    notice = page.get_by_test_id("stale-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("INTERNAL_ERROR")
    expect(shown).to_be_visible()
    expect(notice).to_have_count(0, timeout=15000)  # the next poll succeeded

    page.evaluate("window.__poll.delayMs = 7000; window.__poll.maxInFlight = 0")
    answered = _poll_state(page)["answered"]
    wait_for(lambda: _poll_state(page)["answered"] >= answered + 2, timeout=40,
             what="two answers slower than the polling period")
    assert _poll_state(page)["maxInFlight"] == 1, _poll_state(page)
    expect(shown).to_be_visible()
    expect(notice).to_have_count(0)
    page.evaluate("window.__poll.delayMs = 0")


def test_a_failed_or_slow_refresh_keeps_what_the_pages_show(page, server, models):
    name = _serve(server, models)
    page.add_init_script(_FLAKY_FETCH)
    page.goto("/deployments")
    row = page.locator(f"tr[data-deployment='{name}']")
    _survives_a_failed_and_a_slow_refresh(page, row)

    page.goto(f"/deployments/{name}")
    primary = page.locator("[data-testid=versions-table] tr[data-role=primary][data-state=ready]")
    _survives_a_failed_and_a_slow_refresh(page, primary)
    page.console.assert_clean()


def test_lineage_graph_reaches_the_deployments_serving_the_version(page, server, models):
    from playwright.sync_api import expect

    name = _serve(server, models, f"models:/{models['model']}/{models['v1']}")
    page.goto(f"/models/{models['model']}/versions/{models['v1']}")
    node = page.locator(f"[data-testid=lineage-graph] [data-node='deployment:{name}']")
    expect(node).to_contain_text(name)
    expect(node).to_contain_text("primary")
    assert page.locator(f"[data-edge='version->deployment:{name}']").count() == 1
    # Version 2 is served by none of them.
    link = page.locator(f"[data-testid=lineage-graph] a[href='/deployments/{name}']")
    expect(link).to_have_count(1)
    _shot(page, "model-version-deployments")
    link.click()
    expect(page.get_by_test_id("deployment-name")).to_have_text(name)
    page.goto(f"/models/{models['model']}/versions/{models['v2']}")
    expect(page.get_by_test_id("lineage-graph")).to_be_visible()
    expect(page.locator(f"[data-node='deployment:{name}']")).to_have_count(0)
    page.console.assert_clean()


# ------------------------------------------------------------------ --auth

@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    srv = start_auth_server(tmp_path_factory, "deploy-auth", ADMIN, (ALICE, BOB),
                            "--auth-default-permission", "NO_PERMISSIONS")
    yield srv
    srv.assert_clean_exit()


@pytest.fixture(scope="module")
def alices_deployment(auth_server):
    """Alice's model (two versions) and her deployment of v1; bob may READ
    the deployment and nothing else."""
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("MLFLOW_TRACKING_USERNAME", ALICE[0])
        mp.setenv("MLFLOW_TRACKING_PASSWORD", ALICE[1])
        _point_mlflow_at(auth_server, mp)
        experiment = mlflow.create_experiment(unique("alice-deploy"))
        mlflow.set_experiment(experiment_id=experiment)
        model = unique("alice-model")
        _, v1 = log_xgboost(model, depth=2, seed=51)
        _, v2 = log_xgboost(model, depth=3, seed=52)
    finally:
        mp.undo()
    name = unique("alice-dep")
    r = requests.post(f"{auth_server.url}/api/v1/deployments", auth=ALICE, timeout=30,
                      json={"name": name, "model_uri": f"models:/{model}/{v1}"})
    assert r.status_code == 200, r.text
    _grant(auth_server, name, "READ")

    def ready():
        d = requests.get(f"{auth_server.url}/api/v1/deployments/{name}", auth=ALICE,
                         timeout=30).json()["deployment"]
        return any(v["role"] == "primary" and v["state"] == "ready" for v in d["versions"])

    wait_for(ready, what="alice's deployment to serve")
    return {"name": name, "model": model, "v1": v1, "v2": v2}


def _grant(srv, name, permission):
    r = requests.post(srv.url + GRANT, auth=ALICE, timeout=10,
                      json={"username": BOB[0], "resource_type": "deployment",
                            "resource_id": name, "permission": permission})
    assert r.status_code == 200, r.text


@pytest.fixture
def new_page(browser, auth_server):  # noqa: F811
    with page_opener(browser, auth_server, height=1000, timeout_ms=20000) as open_page:
        yield open_page


def test_rate_history_needs_read_on_the_deployment(auth_server, alices_deployment):
    name = alices_deployment["name"]
    assert _history(auth_server, name, auth=ALICE).status_code == 200
    assert _history(auth_server, name, auth=BOB).status_code == 200  # READ
    r = requests.post(f"{auth_server.api}/users/create", auth=ADMIN, timeout=10,
                      json={"username": "carol", "password": "carol-Deploy-pw1"})
    assert r.status_code == 200, r.text
    assert_mlflow_error(_history(auth_server, name, auth=("carol", "carol-Deploy-pw1")), 403,
                        "PERMISSION_DENIED")
    assert_mlflow_error(_history(auth_server, name), 401, "UNAUTHENTICATED")


def test_a_read_only_user_sees_no_actions_and_the_server_refuses_changes(
        new_page, auth_server, alices_deployment):
    from playwright.sync_api import expect

    name, model, v1, v2 = (alices_deployment[k] for k in ("name", "model", "v1", "v2"))
    page = new_page()
    _sign_in(page, BOB, f"/deployments/{name}")
    expect(page.get_by_test_id("deployment-name")).to_have_text(name)
    expect(page.locator("tr[data-role=primary][data-state=ready]")).to_contain_text(f"v{v1}")
    expect(page.get_by_test_id("permission-note")).to_contain_text("you have READ")
    expect(page.get_by_test_id("deployment-actions")).to_have_count(0)
    for label in ("Set canary…", "Roll back…", "Delete…", "Set shadow…"):
        expect(page.get_by_role("button", name=label)).to_have_count(0)
    expect(page.get_by_test_id("rate-charts")).to_be_visible()
    _shot(page, "deployment-read-only")
    page.console.assert_clean()
    refused = requests.patch(f"{auth_server.url}/api/v1/deployments/{name}", auth=BOB, timeout=10,
                             json={"canary_uri": f"models:/{model}/{v2}", "canary_weight": 10})
    assert_mlflow_error(refused, 403, "PERMISSION_DENIED")

    # With EDIT the actions show; when alice takes EDIT back while bob's page
    # is open, the server refuses his change and the dialog says so.
    _grant(auth_server, name, "EDIT")
    page = new_page()
    _sign_in(page, BOB, f"/deployments/{name}")
    expect(page.get_by_role("button", name="Set canary…")).to_be_visible()
    expect(page.get_by_role("button", name="Delete…")).to_have_count(0)  # needs MANAGE
    _grant(auth_server, name, "READ")
    page.get_by_role("button", name="Set canary…").click()
    dialog = page.get_by_role("dialog", name="Set a canary")
    dialog.get_by_label("Canary model URI").fill(f"models:/{model}/{v2}")
    dialog.get_by_role("button", name="Set canary").click()
    expect(dialog.get_by_role("alert")).to_contain_text("PERMISSION_DENIED")
    expect(dialog).to_be_visible()
    d = requests.get(f"{auth_server.url}/api/v1/deployments/{name}", auth=ALICE,
                     timeout=10).json()["deployment"]
    assert d["canary_uri"] == ""
    page.console.assert_clean(allowed=("status of 403",))


def test_promote_needs_edit_on_the_model_whose_alias_moves(auth_server, alices_deployment):
    """Promoting a canary of a deployment that follows an alias moves the
    alias: EDIT on the deployment is not enough, the caller also needs EDIT
    on the registered model. Each call is audited once, as its caller."""
    model, v1, v2 = (alices_deployment[k] for k in ("model", "v1", "v2"))
    r = requests.post(f"{auth_server.api}/registered-models/alias", auth=ALICE, timeout=10,
                      json={"name": model, "alias": "live", "version": v1})
    assert r.status_code == 200, r.text
    name = unique("alice-promote")
    r = requests.post(f"{auth_server.url}/api/v1/deployments", auth=ALICE, timeout=30,
                      json={"name": name, "model_uri": f"models:/{model}@live",
                            "canary_uri": f"models:/{model}/{v2}", "canary_weight": 10})
    assert r.status_code == 200, r.text

    def shown():
        return requests.get(f"{auth_server.url}/api/v1/deployments/{name}", auth=ALICE,
                            timeout=30).json()["deployment"]

    def serving(role):
        return next((v["version"] for v in shown()["versions"]
                     if v["role"] == role and v["state"] == "ready"), None)

    def live():
        return requests.get(f"{auth_server.api}/registered-models/alias", auth=ALICE, timeout=10,
                            params={"name": model, "alias": "live"}).json()["model_version"]["version"]

    wait_for(lambda: serving("canary") == v2, what="the canary")
    _grant(auth_server, name, "EDIT")
    r = requests.post(f"{auth_server.url}{GRANT}", auth=ALICE, timeout=10,
                      json={"username": BOB[0], "resource_type": "registered_model",
                            "resource_id": model, "permission": "READ"})
    assert r.status_code == 200, r.text
    promote = f"{auth_server.url}/api/v1/deployments/{name}/promote"
    assert_mlflow_error(requests.post(promote, auth=BOB, timeout=30), 403, "PERMISSION_DENIED")
    assert live() == v1 and shown()["canary_uri"] == f"models:/{model}/{v2}"  # nothing changed

    r = requests.post(promote, auth=ALICE, timeout=30)
    assert r.status_code == 200, r.text
    assert live() == v2 and shown()["canary_uri"] == ""
    wait_for(lambda: serving("primary") == v2, what="the promoted version")
    entries = requests.get(f"{auth_server.url}/api/v1/audit", auth=ADMIN, timeout=30,
                           params={"action": "deployments/promote", "max_results": 1000}).json()["entries"]
    assert [(e["principal"], e["outcome"]) for e in entries
            if e["target"] == f"deployment:{name}"] == [("bob", 403), ("alice", 200)], entries
