"""The web UI's sign-in, models and audit pages in a real browser.

One `slipway server --auth --auth-default-permission NO_PERMISSIONS`, filled
by the real mlflow client as its users (so each owns what it creates and
sees nothing else unless granted), and Debian's chromium driven by
Playwright as in test_webui.py (whose browser, console check and screenshot
helpers this file imports). Every page is opened signed in through the
sign-in form, exactly as a person does: the session is an HttpOnly cookie,
the CSRF token lives in the page's memory only.
"""

from __future__ import annotations

import contextlib
import re

import mlflow
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from conftest import SlipwayServer, slipway_binary, unique
from test_webui import Console, _shot, browser  # noqa: F401  (browser is a fixture)

pytestmark = pytest.mark.slipway_only

ADMIN = ("admin", "admin-Webui-pw1")
ALICE = ("alice", "alice-Webui-pw1")
BOB = ("bob", "bob-Webui-pw1")
SESSION = "/api/v1/session"
# Opening the app without a session answers GET /api/v1/session with 200
# and no user, so a signed-out page logs nothing; a 401 (a wrong password,
# a session ended elsewhere) is allowed only where a test causes one.
NOT_SIGNED_IN = ()
REFUSED_SIGN_IN = ("status of 401",)


def start_auth_server(tmp_path_factory, name: str, admin, users, *extra: str) -> SlipwayServer:
    """A started `slipway server --auth` (and `extra`) whose first admin is
    `admin` (name, password), with `users` created; the other UI test files
    start theirs with this too."""
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp(name),
                        extra_args=["--auth", *extra], env={"SLIPWAY_ADMIN_PASSWORD": admin[1]})
    srv.start()
    for user, password in users:
        r = requests.post(f"{srv.api}/users/create", auth=admin, timeout=10,
                          json={"username": user, "password": password})
        assert r.status_code == 200, r.text
    return srv


@contextlib.contextmanager
def page_opener(browser, server, height: int = 900, timeout_ms: int = 15000):  # noqa: F811
    """Yields open_page(): a new page in a fresh browser context (its own
    cookies) on `server`, with the console check and `api_calls`, every call
    the app makes with its headers; the contexts close at the end."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1360, "height": height},
                                      base_url=server.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        page.console = Console(page)
        page.api_calls = []
        page.on("request", lambda r: ("/api/" in r.url or "/ajax-api/" in r.url) and
                page.api_calls.append((r.method, r.url, r.headers)))
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    srv = start_auth_server(tmp_path_factory, "webui-auth", ADMIN, (ALICE, BOB),
                            "--auth-default-permission", "NO_PERMISSIONS")
    yield srv
    srv.assert_clean_exit()


def _client_as(srv, user, monkeypatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", user[1])
    mlflow.set_tracking_uri(srv.url)
    mlflow.set_registry_uri(srv.url)
    return MlflowClient(tracking_uri=srv.url, registry_uri=srv.url)


@pytest.fixture(scope="module")
def data(auth_server):
    """Alice's experiment with a parent and a training run (params, a metric,
    a dataset input), her registered model with two versions from it; the
    admin's experiment and model, which alice may not see; bob may read
    alice's model and nothing else."""
    mp = pytest.MonkeyPatch()
    try:
        admin = _client_as(auth_server, ADMIN, mp)
        secret_exp = admin.create_experiment(unique("secret"))
        secret_model = unique("secret-model")
        admin.create_registered_model(secret_model)

        alice = _client_as(auth_server, ALICE, mp)
        experiment = unique("alice-exp")
        experiment_id = alice.create_experiment(experiment)
        parent = alice.create_run(experiment_id, run_name="sweep")
        run = alice.create_run(experiment_id, run_name="train",
                               tags={"mlflow.parentRunId": parent.info.run_id})
        run_id = run.info.run_id
        alice.log_batch(run_id, metrics=[Metric("auc", 0.875, 1_700_000_000_000, 0)],
                        params=[Param("max_depth", "3")])
        frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
        # An experiment an earlier test module left active would refuse the run.
        mlflow.set_experiment(experiment_id=experiment_id)
        with mlflow.start_run(run_id=run_id):
            mlflow.log_input(mlflow.data.from_pandas(frame, name="customers"),
                             context="training")
        alice.set_terminated(run_id)
        alice.set_terminated(parent.info.run_id)
        model = unique("churn")
        alice.create_registered_model(model, description="Scores churn risk.")
        for _ in range(2):
            alice.create_model_version(model, source=f"runs:/{run_id}/model", run_id=run_id)
        alice.set_registered_model_alias(model, "staging", "1")
        r = requests.post(f"{auth_server.api}/registered-models/permissions/create", auth=ALICE,
                          timeout=10, json={"name": model, "username": BOB[0],
                                            "permission": "READ"})
        assert r.status_code == 200, r.text
    finally:
        mp.undo()
    return {"experiment": experiment, "experiment_id": experiment_id, "run": run_id,
            "parent": parent.info.run_id, "model": model, "secret_exp": secret_exp,
            "secret_model": secret_model}


@pytest.fixture
def new_page(browser, auth_server):  # noqa: F811
    """Pages on the module's own auth_server (modules that import this
    fixture get pages on theirs)."""
    with page_opener(browser, auth_server) as open_page:
        yield open_page


def _sign_in(page, user, path="/"):
    from playwright.sync_api import expect

    page.goto(path)
    form = page.get_by_test_id("sign-in")
    expect(form).to_be_visible()
    form.get_by_label("User name").fill(user[0])
    form.get_by_label("Password").fill(user[1])
    with page.expect_response(lambda r: r.url.endswith(SESSION) and
                              r.request.method == "POST") as answer:
        form.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 200
    expect(page.get_by_test_id("signed-in-user")).to_have_text(user[0])
    return answer.value.json()


def _session_cookie(page) -> dict:
    cookies = [c for c in page.context.cookies() if c["name"] == "slipway_session"]
    assert len(cookies) == 1, cookies
    return cookies[0]


# --------------------------------------------------------------- plain HTTP

def test_new_sections_answer_the_app_and_shadow_no_api_route(auth_server):
    root = requests.get(auth_server.url + "/", timeout=10)
    assert root.status_code == 200 and '<div id="app"></div>' in root.text
    for path in ("/models", "/models/churn", "/models/churn/versions/3", "/audit?principal=x",
                 "/runs/abc"):
        r = requests.get(auth_server.url + path, timeout=10)
        assert r.status_code == 200 and r.text == root.text, path
    for path in ("/model-versions/get-artifact", "/modelsx", "/auditx"):
        r = requests.get(auth_server.url + path, timeout=10)
        assert '<div id="app">' not in r.text, path


# ------------------------------------------------------------------ sign-in

def test_sign_in_rejects_a_wrong_password_then_signs_in(new_page, auth_server, data):
    from playwright.sync_api import expect

    refused = requests.post(auth_server.url + SESSION, auth=(ALICE[0], "not-her-password"),
                            headers={"X-Requested-With": "XMLHttpRequest"}, timeout=10)
    assert refused.status_code == 401 and "WWW-Authenticate" not in refused.headers
    message = refused.json()["message"]

    page = new_page()
    page.goto(f"/experiments/{data['experiment_id']}")
    form = page.get_by_test_id("sign-in")
    expect(form).to_be_visible()
    expect(page.get_by_role("link", name="Experiments")).to_have_count(0)
    _shot(page, "sign-in")
    form.get_by_label("User name").fill(ALICE[0])
    form.get_by_label("Password").fill("not-her-password")
    form.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("UNAUTHENTICATED")
    expect(alert).to_contain_text(message)
    expect(form.get_by_label("Password")).to_have_value("")
    _shot(page, "sign-in-refused")

    form.get_by_label("Password").fill(ALICE[1])
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signed-in-user")).to_have_text("alice")
    # The page asked for stays: her experiment's runs.
    expect(page.get_by_test_id("experiment-name")).to_have_text(data["experiment"])
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.console.assert_clean(allowed=REFUSED_SIGN_IN)


def test_session_is_an_httponly_cookie_and_no_secret_reaches_the_page(new_page, data):
    page = new_page()
    session = _sign_in(page, ALICE)
    csrf = session["csrf_token"]
    assert len(csrf) == 64
    cookie = _session_cookie(page)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""
    page.get_by_role("link", name="Models").click()
    page.get_by_role("link", name=data["model"]).wait_for()

    html = page.content()
    storage = page.evaluate("JSON.stringify([Object.entries(localStorage),"
                            " Object.entries(sessionStorage)])")
    for secret in (ALICE[1], cookie["value"], csrf):
        assert secret not in html
        assert secret not in storage
    # Every call said it came from the page (no Basic challenge, no browser
    # password dialog); only the sign-in carried credentials.
    assert page.api_calls
    for method, url, headers in page.api_calls:
        assert headers.get("x-requested-with") == "XMLHttpRequest", (method, url)
        if "authorization" in headers:
            assert (method, url.split("?")[0].endswith(SESSION)) == ("POST", True), url
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


def test_sign_out_returns_to_sign_in_and_ends_the_cookie(new_page, auth_server, data):
    from playwright.sync_api import expect

    page = new_page()
    _sign_in(page, ALICE)
    cookie = _session_cookie(page)["value"]
    search = f"{auth_server.api}/experiments/search"
    assert requests.get(search, cookies={"slipway_session": cookie},
                        timeout=10).status_code == 200
    with page.expect_response(lambda r: r.url.endswith(SESSION) and
                              r.request.method == "DELETE") as answer:
        page.get_by_role("button", name="Sign out").click()
    assert answer.value.status == 200
    assert answer.value.request.headers.get("x-csrf-token")
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    expect(page.get_by_test_id("sign-in-notice")).to_have_text("Signed out.")
    expect(page.get_by_test_id("signed-in-user")).to_have_count(0)
    r = requests.get(search, cookies={"slipway_session": cookie}, timeout=10)
    assert r.status_code == 401, r.text
    # A reload stays signed out.
    page.reload()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


def test_a_session_ended_elsewhere_brings_back_the_sign_in(new_page, auth_server, data):
    from playwright.sync_api import expect

    page = new_page()
    session = _sign_in(page, ALICE)
    expect(page.get_by_role("link", name=data["experiment"])).to_be_visible()
    cookie = _session_cookie(page)["value"]
    # Ended from outside the page (another tab, an expiry).
    r = requests.delete(auth_server.url + SESSION, cookies={"slipway_session": cookie},
                        headers={"X-CSRF-Token": session["csrf_token"]}, timeout=10)
    assert r.status_code == 200, r.text
    page.get_by_role("link", name="Models").click()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    expect(page.get_by_test_id("sign-in-notice")).to_contain_text("session has ended")
    _sign_in(page, ALICE, path="/models")
    expect(page.get_by_role("link", name=data["model"])).to_be_visible()
    page.console.assert_clean(allowed=REFUSED_SIGN_IN)


def test_hidden_experiment_is_not_listed_and_its_url_shows_the_refusal(new_page, auth_server,
                                                                       data):
    from playwright.sync_api import expect

    refused = requests.get(f"{auth_server.api}/experiments/get", auth=ALICE, timeout=10,
                           params={"experiment_id": data["secret_exp"]})
    assert refused.status_code == 403, refused.text
    page = new_page()
    _sign_in(page, ALICE, path="/experiments")
    expect(page.get_by_role("link", name=data["experiment"])).to_be_visible()
    expect(page.get_by_test_id("experiment-count")).to_have_text("1 experiment")
    page.goto(f"/experiments/{data['secret_exp']}")
    alert = page.get_by_role("alert").first
    expect(alert).to_contain_text("PERMISSION_DENIED")
    expect(alert).to_contain_text(refused.json()["message"])
    # The audit trail is for admins: not in alice's navigation, refused by URL.
    expect(page.get_by_role("link", name="Audit trail")).to_have_count(0)
    _shot(page, "experiment-refused")
    page.console.assert_clean(allowed=NOT_SIGNED_IN + ("status of 403",))


# ------------------------------------------------------------------- models

def test_models_page_lists_what_the_user_may_read_and_searches(new_page, data):
    from playwright.sync_api import expect

    page = new_page()
    _sign_in(page, ALICE, path="/models")
    expect(page.get_by_test_id("model-count")).to_have_text("1 model")
    row = page.locator(f"[data-testid=models-table] .vt-row[data-key='{data['model']}']")
    expect(row).to_contain_text("@staging")
    expect(row).to_contain_text("Scores churn risk.")
    expect(page.get_by_role("link", name=data["secret_model"])).to_have_count(0)
    _shot(page, "models")
    page.get_by_label("Model name").fill("no-such-model-anywhere")
    page.get_by_label("Model name").press("Enter")
    expect(page.get_by_test_id("model-count")).to_have_text("0 models")
    assert "name=no-such-model-anywhere" in page.url
    page.get_by_label("Model name").fill(data["model"][-8:])
    page.get_by_label("Model name").press("Enter")
    expect(page.get_by_test_id("model-count")).to_have_text("1 model")
    page.get_by_role("link", name=data["model"]).click()
    expect(page.get_by_test_id("model-name")).to_have_text(data["model"])
    versions = page.get_by_test_id("versions-table")
    expect(versions.locator(".vt-row")).to_have_count(2)
    v1 = versions.locator(".vt-row[data-key='1']")
    expect(v1).to_contain_text("@staging")
    expect(v1).to_contain_text(data["run"])
    expect(v1).to_contain_text("READY")
    _shot(page, "model")
    v1.get_by_role("link", name=data["run"]).click()
    expect(page.get_by_test_id("run-name")).to_have_text("train")
    assert page.url.endswith(f"/experiments/{data['experiment_id']}/runs/{data['run']}")
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


def test_set_alias_is_confirmed_and_seen_by_the_mlflow_client(new_page, auth_server, data,
                                                              monkeypatch):
    from playwright.sync_api import expect

    client = _client_as(auth_server, ALICE, monkeypatch)
    page = new_page()
    _sign_in(page, ALICE, path=f"/models/{data['model']}")
    v2 = page.get_by_test_id("versions-table").locator(".vt-row[data-key='2']")
    # Cancelled: nothing is sent, nothing changes.
    v2.get_by_role("button", name="Set alias on version 2").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Alias").fill("champion")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert not [c for c in page.api_calls if c[0] != "GET" and not c[1].endswith(SESSION)]
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias(data["model"], "champion")

    v2.get_by_role("button", name="Set alias on version 2").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Alias").fill("champion")
    _shot(page, "model-set-alias")
    dialog.get_by_role("button", name="Set alias").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(v2).to_contain_text("@champion")
    assert client.get_model_version_by_alias(data["model"], "champion").version == "2"
    # The change carried the session's CSRF token.
    (change,) = [c for c in page.api_calls if c[0] == "POST" and "/alias" in c[1]]
    assert len(change[2].get("x-csrf-token", "")) == 64

    # Removing asks too; cancelled, the alias stays; confirmed, it goes.
    v2.get_by_role("button", name="Remove alias champion").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(v2).to_contain_text("@champion")
    assert client.get_model_version_by_alias(data["model"], "champion").version == "2"
    v2.get_by_role("button", name="Remove alias champion").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove alias").click()
    expect(v2).not_to_contain_text("@champion")
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias(data["model"], "champion")
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


def test_read_only_user_sees_the_servers_refusal(new_page, auth_server, data):
    from playwright.sync_api import expect

    refused = requests.post(f"{auth_server.api}/registered-models/alias", auth=BOB, timeout=10,
                            json={"name": data["model"], "alias": "bobs", "version": "1"})
    assert refused.status_code == 403, refused.text
    page = new_page()
    _sign_in(page, BOB, path="/models")
    page.get_by_role("link", name=data["model"]).click()
    v1 = page.get_by_test_id("versions-table").locator(".vt-row[data-key='1']")
    v1.get_by_role("button", name="Set alias on version 1").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Alias").fill("bobs")
    dialog.get_by_role("button", name="Set alias").click()
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text("PERMISSION_DENIED")
    expect(alert).to_contain_text(refused.json()["message"])
    _shot(page, "model-alias-refused")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    r = requests.get(f"{auth_server.api}/registered-models/get", auth=ALICE, timeout=10,
                     params={"name": data["model"]})
    assert "bobs" not in {a["alias"] for a in r.json()["registered_model"].get("aliases", [])}
    page.console.assert_clean(allowed=NOT_SIGNED_IN + ("status of 403",))


def test_version_page_draws_the_lineage_and_shows_the_card(new_page, data):
    from playwright.sync_api import expect

    page = new_page()
    _sign_in(page, ALICE, path=f"/models/{data['model']}/versions/1")
    expect(page.get_by_test_id("version-title")).to_have_text(f"{data['model']} version 1")
    expect(page.get_by_test_id("version-aliases")).to_have_text("@staging")
    graph = page.get_by_test_id("lineage-graph")
    expect(graph.locator("[data-node]")).to_have_count(4)
    expect(graph.locator("[data-node='dataset:0']")).to_contain_text("customers")
    expect(graph.locator("[data-node='run']")).to_contain_text("train")
    expect(graph.locator("[data-node='parent']")).to_contain_text("sweep")
    expect(graph.locator("[data-node='version']")).to_contain_text(f"v1")
    for edge in ("dataset:0->run", "parent->run", "run->version"):
        expect(graph.locator(f"[data-edge='{edge}']")).to_have_count(1)
    card = page.get_by_test_id("model-card")
    expect(card).to_contain_text("Scores churn risk.")
    expect(page.get_by_test_id("card-parameters")).to_contain_text("max_depth")
    expect(page.get_by_test_id("card-metrics")).to_contain_text("0.875")
    expect(page.get_by_test_id("card-training-data")).to_contain_text("customers")
    _shot(page, "model-version")
    graph.locator("[data-node='run']").click()
    expect(page.get_by_test_id("run-name")).to_have_text("train")
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


# -------------------------------------------------------------------- audit

def test_audit_trail_filters_and_verifies(new_page, auth_server, data, monkeypatch):
    from playwright.sync_api import expect

    client = _client_as(auth_server, BOB, monkeypatch)
    made = unique("bobs-exp")
    client.create_experiment(made)
    page = new_page()
    _sign_in(page, ADMIN, path="/audit")
    expect(page.get_by_role("link", name="Audit trail")).to_be_visible()
    expect(page.get_by_test_id("audit-count")).not_to_have_text(re.compile(r"^0 entries"))
    total = int(page.get_by_test_id("audit-count").inner_text().split()[0])
    _shot(page, "audit")
    page.get_by_label("Principal").fill("bob")
    page.get_by_label("Action").fill("experiments/create")
    page.get_by_label("Action").press("Enter")
    expect(page.get_by_test_id("audit-count")).to_have_text("1 entry")
    row = page.locator("[data-testid=audit-table] .vt-row")
    expect(row.locator(".principal")).to_have_text("bob")
    expect(row.locator(".action")).to_have_text("experiments/create")
    expect(row).to_contain_text("200")
    assert "principal=bob" in page.url and "action=experiments%2Fcreate" in page.url
    assert 1 < total
    # A time range after everything: nothing.
    page.get_by_label("From").fill("2999-01-01T00:00")
    page.get_by_label("Action").press("Enter")
    expect(page.get_by_test_id("audit-count")).to_have_text("0 entries")
    page.get_by_role("button", name="Verify chain").click()
    expect(page.get_by_test_id("verify-result")).to_contain_text("Chain intact")
    expected = requests.get(f"{auth_server.url}/api/v1/audit/verify", auth=ADMIN,
                            timeout=10).json()
    assert expected["ok"] is True
    _shot(page, "audit-verified")
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


def test_audit_trail_is_refused_to_non_admins(new_page, auth_server, data):
    from playwright.sync_api import expect

    refused = requests.get(f"{auth_server.url}/api/v1/audit", auth=ALICE, timeout=10)
    assert refused.status_code == 403, refused.text
    page = new_page()
    _sign_in(page, ALICE, path="/audit")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("PERMISSION_DENIED")
    expect(alert).to_contain_text(refused.json()["message"])
    page.get_by_role("button", name="Verify chain").click()
    expect(page.get_by_role("alert")).to_have_count(2)
    page.console.assert_clean(allowed=NOT_SIGNED_IN + ("status of 403",))
