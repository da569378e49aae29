"""The web UI's admin pages, stage buttons, SVG export and trace sorting, in
Debian's chromium driven by Playwright (see test_webui.py).

With `slipway server --auth --auth-default-permission NO_PERMISSIONS`: an
admin creates a user, resets their password, grants and revokes a permission,
makes them an admin and deletes them, all in the Admin page, and each change
is checked through the API as the user (or the admin) sees it; deleting
oneself is refused by the server and the page shows its refusal; a
non-admin has no Admin entry and gets the server's refusal at /admin; a token
made on the Tokens page signs API calls in until it is revoked there; a
version promoted to Production in the model page is in Production for the
mlflow client, and a reader sees no stage buttons.

Without --auth: the admin and tokens pages say auth is off; a chart's SVG
export is a vector document with one path per series holding every point; a
click on the traces table's duration header orders the rows as the server's
`execution_time_ms` order does; a run's page links to the run's traces.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric

import conftest
from conftest import assert_mlflow_error, unique
from test_webui import _shot, browser, page  # noqa: F401  (fixtures)
from test_webui_pages import NOT_SIGNED_IN, _client_as, _sign_in, start_auth_server
from test_webui_pages import new_page  # noqa: F401  (a fixture: pages on auth_server above)

pytestmark = pytest.mark.slipway_only

ADMIN = ("admin", "admin-Admin-pw1")
ALICE = ("alice", "alice-Admin-pw1")
BOB = ("bob", "bob-Admin-pw1")
GRANTS = "/api/3.0/mlflow/users/permissions"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    srv = start_auth_server(tmp_path_factory, "webui-admin", ADMIN, (ALICE, BOB),
                            "--auth-default-permission", "NO_PERMISSIONS")
    yield srv
    srv.assert_clean_exit()


@pytest.fixture(scope="module")
def data(auth_server):
    """Alice's experiment and her model with two versions; bob may read the model."""
    mp = pytest.MonkeyPatch()
    try:
        alice = _client_as(auth_server, ALICE, mp)
        experiment = unique("admin-exp")
        experiment_id = alice.create_experiment(experiment)
        run = alice.create_run(experiment_id, run_name="train")
        alice.set_terminated(run.info.run_id)
        model = unique("stages")
        alice.create_registered_model(model)
        for _ in range(2):
            alice.create_model_version(model, source=f"runs:/{run.info.run_id}/model",
                                       run_id=run.info.run_id)
        r = requests.post(f"{auth_server.api}/registered-models/permissions/create", auth=ALICE,
                          timeout=10, json={"name": model, "username": BOB[0],
                                            "permission": "READ"})
        assert r.status_code == 200, r.text
    finally:
        mp.undo()
    return {"experiment": experiment, "experiment_id": experiment_id, "model": model}




def _grants(srv, username) -> list[dict]:
    r = requests.get(f"{srv.url}{GRANTS}/list", auth=ADMIN, timeout=10,
                     params={"username": username})
    assert r.status_code == 200, r.text
    return r.json()["permissions"]


def _read_experiment(srv, user, experiment_id) -> int:
    return requests.get(f"{srv.api}/experiments/get", auth=user, timeout=10,
                        params={"experiment_id": experiment_id}).status_code


# ------------------------------------------------------------------- plain HTTP

def test_admin_and_tokens_sections_answer_the_app(auth_server):
    root = requests.get(auth_server.url + "/", timeout=10)
    for path in ("/admin", "/admin?user=alice", "/tokens", "/tokens?user=bob"):
        r = requests.get(auth_server.url + path, timeout=10)
        assert r.status_code == 200 and r.text == root.text, path
    for path in ("/adminx", "/tokensx"):
        assert '<div id="app">' not in requests.get(auth_server.url + path, timeout=10).text


# ------------------------------------------------------------------------ admin

def test_admin_creates_a_user_grants_and_revokes(new_page, auth_server, data):
    from playwright.sync_api import expect

    carol = (unique("carol"), "carol-Admin-pw1")
    exp_id = data["experiment_id"]
    page = new_page()
    _sign_in(page, ADMIN, path="/admin")
    expect(page.get_by_role("link", name="Admin", exact=True)).to_be_visible()
    users = page.get_by_test_id("users-table")
    expect(users.locator("tr[data-user=alice]")).to_be_visible()
    expect(users.locator("tr[data-user=admin] [data-testid=is-admin]")).to_have_text("admin")
    expect(users.locator("tr[data-user=alice] [data-testid=is-admin]")).to_have_text("no")

    # Create: cancelled sends nothing; confirmed, the user exists and can sign in.
    page.get_by_role("button", name="New user…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("User name").fill(carol[0])
    dialog.get_by_label("Password").fill(carol[1])
    dialog.get_by_role("button", name="Cancel").click()
    expect(users.locator(f"tr[data-user='{carol[0]}']")).to_have_count(0)
    assert requests.get(f"{auth_server.api}/users/current", auth=carol, timeout=10).status_code == 401
    page.get_by_role("button", name="New user…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("User name").fill(carol[0])
    dialog.get_by_label("Password").fill(carol[1])
    dialog.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    row = users.locator(f"tr[data-user='{carol[0]}']")
    expect(row).to_be_visible()
    me = requests.get(f"{auth_server.api}/users/current", auth=carol, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == carol[0] and me.json()["user"]["is_admin"] is False
    assert _read_experiment(auth_server, carol, exp_id) == 403

    # Grant READ on alice's experiment.
    row.get_by_role("link", name=carol[0]).click()
    assert f"user={carol[0]}" in page.url
    grants = page.get_by_test_id("grants")
    expect(grants).to_contain_text("No grants")
    grants.get_by_role("button", name="Grant…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Resource type").select_option("experiment")
    dialog.get_by_label("Experiment ID").fill(exp_id)
    dialog.get_by_label("Permission").select_option("READ")
    dialog.get_by_role("button", name="Grant").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    granted = grants.locator(f"tr[data-grant='experiment/{exp_id}']")
    expect(granted).to_contain_text("READ")
    assert [(g["resource_type"], g["resource_pattern"], g["permission"])
            for g in _grants(auth_server, carol[0])] == [("experiment", exp_id, "READ")]
    assert _read_experiment(auth_server, carol, exp_id) == 200
    _shot(page, "admin")

    # Revoke: cancelled it stays, confirmed it goes.
    granted.get_by_role("button", name=f"Revoke READ on experiment {exp_id}").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(granted).to_be_visible()
    assert len(_grants(auth_server, carol[0])) == 1
    granted.get_by_role("button", name=f"Revoke READ on experiment {exp_id}").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(grants).to_contain_text("No grants")
    assert _grants(auth_server, carol[0]) == []
    assert _read_experiment(auth_server, carol, exp_id) == 403

    # Reset the password: the old one stops working, the new one works.
    new_password = "carol-Admin-pw2"
    row.get_by_role("button", name="Reset password…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New password").fill(new_password)
    dialog.get_by_role("button", name="Reset password").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert requests.get(f"{auth_server.api}/users/current", auth=carol, timeout=10).status_code == 401
    carol = (carol[0], new_password)
    assert requests.get(f"{auth_server.api}/users/current", auth=carol, timeout=10).status_code == 200

    # Make admin, then remove it again.
    row.get_by_role("button", name="Make admin…").click()
    page.get_by_role("dialog").get_by_role("button", name="Make admin").click()
    expect(row.locator("[data-testid=is-admin]")).to_have_text("admin")
    assert requests.get(f"{auth_server.api}/users/current", auth=carol,
                        timeout=10).json()["user"]["is_admin"] is True
    row.get_by_role("button", name="Remove admin…").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove admin").click()
    expect(row.locator("[data-testid=is-admin]")).to_have_text("no")
    assert requests.get(f"{auth_server.api}/users/current", auth=carol,
                        timeout=10).json()["user"]["is_admin"] is False

    # Delete: the user is gone and can no longer sign in; the page forgets them.
    row.get_by_role("button", name=f"Delete user {carol[0]}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete user").click()
    expect(row).to_have_count(0)
    expect(page.get_by_test_id("grants")).to_have_count(0)
    assert "user=" not in page.url
    assert requests.get(f"{auth_server.api}/users/current", auth=carol, timeout=10).status_code == 401
    listed = requests.get(f"{auth_server.api}/users/list", auth=ADMIN, timeout=10).json()["users"]
    assert carol[0] not in {u["username"] for u in listed}
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


def test_the_server_refuses_deleting_oneself_and_the_page_shows_it(new_page, auth_server):
    from playwright.sync_api import expect

    # What the server answers (nothing is deleted: the user is refused).
    refused = requests.delete(f"{auth_server.api}/users/delete", auth=ADMIN, timeout=10,
                              json={"username": ADMIN[0]})
    assert refused.status_code >= 400, refused.text
    message = refused.json()["message"]
    page = new_page()
    _sign_in(page, ADMIN, path="/admin")
    row = page.get_by_test_id("users-table").locator("tr[data-user=admin]")
    row.get_by_role("button", name="Delete user admin").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Delete user").click()
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text(refused.json()["error_code"])
    expect(alert).to_contain_text(message)
    dialog.get_by_role("button", name="Cancel").click()
    expect(row).to_be_visible()
    assert requests.get(f"{auth_server.api}/users/current", auth=ADMIN, timeout=10).status_code == 200
    page.console.assert_clean(allowed=NOT_SIGNED_IN + (f"status of {refused.status_code}",))


def test_non_admin_sees_no_admin_entry_and_is_refused_at_admin(new_page, auth_server, data):
    from playwright.sync_api import expect

    refused = requests.get(f"{auth_server.api}/users/list", auth=ALICE, timeout=10)
    assert refused.status_code == 403, refused.text
    page = new_page()
    _sign_in(page, ALICE, path="/experiments")
    expect(page.get_by_role("link", name="Tokens")).to_be_visible()
    expect(page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    page.goto("/admin")
    expect(page.get_by_test_id("signed-in-user")).to_have_text("alice")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("PERMISSION_DENIED")
    expect(alert).to_contain_text(refused.json()["message"])
    expect(page.get_by_test_id("users-table")).to_have_count(0)
    page.console.assert_clean(allowed=NOT_SIGNED_IN + ("status of 403",))


# ----------------------------------------------------------------------- tokens

def test_token_made_on_the_page_works_until_revoked_there(new_page, auth_server, data):
    from playwright.sync_api import expect

    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    _sign_in(page, ALICE, path="/tokens")
    name = unique("ci")
    page.get_by_role("button", name="New token…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Expires after").fill("7")
    dialog.get_by_role("button", name="Create token").click()
    shown = page.get_by_test_id("new-token")
    expect(shown).to_contain_text("will not be shown again")
    token = shown.get_by_label("New token").input_value()
    assert len(token) >= 20
    shown.get_by_role("button", name="Copy").click()
    expect(shown).to_contain_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    row = page.get_by_test_id("tokens-table").locator("tr", has_text=name)
    expect(row).to_contain_text("alice")
    _shot(page, "tokens")

    # The token is alice's: it reads her experiment, and is listed as hers.
    bearer = {"Authorization": f"Bearer {token}"}
    got = requests.get(f"{auth_server.api}/experiments/get", headers=bearer, timeout=10,
                       params={"experiment_id": data["experiment_id"]})
    assert got.status_code == 200, got.text
    listed = requests.get(f"{auth_server.url}/api/v1/tokens", auth=ALICE, timeout=10).json()
    (info,) = [t for t in listed["tokens"] if t["name"] == name]
    assert 6 * 86400_000 < info["expires_ms"] - info["created_ms"] <= 7 * 86400_000
    # Shown once: the page kept it nowhere a reload (or another script of the
    # origin) could read it back.
    kept = page.evaluate("""() => [location.href, JSON.stringify(history.state),
        JSON.stringify({...localStorage}), JSON.stringify({...sessionStorage}), document.cookie]""")
    assert not any(token in text for text in kept), kept
    page.reload()
    expect(row).to_be_visible()
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert token not in page.content()

    row.get_by_role("button", name=f"Revoke token {name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke token").click()
    expect(row).to_have_count(0)
    gone = requests.get(f"{auth_server.api}/experiments/get", headers=bearer, timeout=10,
                        params={"experiment_id": data["experiment_id"]})
    assert gone.status_code == 401, gone.text
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


def test_admin_lists_and_makes_tokens_for_another_user(new_page, auth_server):
    from playwright.sync_api import expect

    page = new_page()
    _sign_in(page, ADMIN, path="/tokens")
    page.get_by_label("Whose tokens").select_option("bob")
    assert "user=bob" in page.url
    name = unique("bobs")
    page.get_by_role("button", name="New token…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Expires after").fill("")
    dialog.get_by_role("button", name="Create token").click()
    shown = page.get_by_test_id("new-token")
    expect(shown).to_contain_text("created for bob")
    token = shown.get_by_label("New token").input_value()
    me = requests.get(f"{auth_server.api}/users/current", timeout=10,
                      headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["user"]["username"] == "bob", me.text
    row = page.get_by_test_id("tokens-table").locator("tr", has_text=name)
    expect(row).to_contain_text("never")
    row.get_by_role("button", name=f"Revoke token {name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke token").click()
    expect(row).to_have_count(0)
    assert requests.get(f"{auth_server.api}/users/current", timeout=10,
                        headers={"Authorization": f"Bearer {token}"}).status_code == 401
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


# ----------------------------------------------------------------------- stages

def test_promote_to_production_in_the_page_shows_in_the_api(new_page, auth_server, data,
                                                              monkeypatch):
    from playwright.sync_api import expect

    client = _client_as(auth_server, ALICE, monkeypatch)
    model = data["model"]
    page = new_page()
    _sign_in(page, ALICE, path=f"/models/{model}")
    v1 = page.get_by_test_id("versions-table").locator(".vt-row[data-key='1']")
    expect(v1).to_contain_text("None")
    v1.get_by_role("button", name="Promote version 1 to Production").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert client.get_model_version(model, "1").current_stage == "None"

    v1.get_by_role("button", name="Promote version 1 to Production").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("from None to Production")
    _shot(page, "model-promote")
    dialog.get_by_role("button", name="Promote to Production").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(v1).to_contain_text("Production")
    assert client.get_model_version(model, "1").current_stage == "Production"
    # In Production, the button to go there is gone; archiving is offered.
    expect(v1.get_by_role("button", name="Promote version 1 to Production")).to_have_count(0)

    # Version 2 to Production, archiving the versions there: v1 is archived.
    v2 = page.get_by_test_id("versions-table").locator(".vt-row[data-key='2']")
    v2.get_by_role("button", name="Promote version 2 to Production").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Archive the versions now in Production").check()
    dialog.get_by_role("button", name="Promote to Production").click()
    expect(v2).to_contain_text("Production")
    expect(v1).to_contain_text("Archived")
    assert client.get_model_version(model, "2").current_stage == "Production"
    assert client.get_model_version(model, "1").current_stage == "Archived"
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


def test_reader_sees_no_stage_buttons(new_page, auth_server, data):
    from playwright.sync_api import expect

    page = new_page()
    # The buttons depend on the permission the page asks the server for:
    # wait for that answer, or "no buttons" would hold before it arrived.
    with page.expect_response(lambda r: "users/permissions/get" in r.url) as asked:
        _sign_in(page, BOB, path=f"/models/{data['model']}")
    assert asked.value.ok and asked.value.json()["permission"] == "READ"
    v1 = page.get_by_test_id("versions-table").locator(".vt-row[data-key='1']")
    expect(v1.get_by_role("button", name="Set alias on version 1")).to_be_visible()
    expect(v1.get_by_role("button", name=re.compile("Promote|Archive"))).to_have_count(0)
    # and the server refuses what the page does not offer
    refused = requests.post(f"{auth_server.api}/model-versions/transition-stage", auth=BOB,
                            timeout=10, json={"name": data["model"], "version": "1",
                                              "stage": "Production"})
    assert_mlflow_error(refused, 403, "PERMISSION_DENIED")
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


def test_a_failed_permission_read_says_why_the_buttons_are_hidden(new_page, auth_server, data):
    """An editor whose permission answer fails (here the server is made to
    answer 503 for it, as an overloaded one would) sees no stage buttons, and
    the page says so instead of hiding them silently."""
    from playwright.sync_api import expect

    page = new_page()
    page.route("**/users/permissions/get*", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "Too busy, try again"}'))
    _sign_in(page, ALICE, path=f"/models/{data['model']}")
    notice = page.get_by_role("alert").filter(has_text="Changes are hidden")
    expect(notice).to_contain_text("TEMPORARILY_UNAVAILABLE")
    expect(notice).to_contain_text("Too busy, try again")
    v1 = page.get_by_test_id("versions-table").locator(".vt-row[data-key='1']")
    expect(v1.get_by_role("button", name="Set alias on version 1")).to_be_visible()
    expect(v1.get_by_role("button", name=re.compile("Promote|Archive"))).to_have_count(0)
    page.console.assert_clean(allowed=NOT_SIGNED_IN + ("status of 503",))


def test_a_model_reader_sees_the_versions_files_but_not_the_run_behind_them(new_page, auth_server,
                                                                           data, monkeypatch):
    """Bob may read a model but not the experiment of the run its versions
    come from: the version page still lists and previews the version's files
    (read through the model, as MLflow's model-versions/get-artifact is),
    also for a version whose source names another version; the run's own
    artifacts stay refused."""
    from playwright.sync_api import expect

    alice = _client_as(auth_server, ALICE, monkeypatch)
    run = alice.create_run(data["experiment_id"], run_name="files")
    alice.log_text(run.info.run_id, "flavors:\n  python_function: {}\n", "model/MLmodel")
    alice.log_text(run.info.run_id, "a note\n", "model/notes/readme.txt")
    model = unique("files-model")
    alice.create_registered_model(model)
    alice.create_model_version(model, source=f"runs:/{run.info.run_id}/model",
                               run_id=run.info.run_id)
    alice.create_model_version(model, source=f"models:/{model}/1")
    r = requests.post(f"{auth_server.api}/registered-models/permissions/create", auth=ALICE,
                      timeout=10, json={"name": model, "username": BOB[0], "permission": "READ"})
    assert r.status_code == 200, r.text
    refused = requests.get(f"{auth_server.api}/artifacts/list", auth=BOB, timeout=10,
                           params={"run_id": run.info.run_id})
    assert_mlflow_error(refused, 403, "PERMISSION_DENIED")

    page = new_page()
    _sign_in(page, BOB, path=f"/models/{model}/versions/1")
    for version in ("1", "2"):
        if version == "2":
            page.goto(f"/models/{model}/versions/2")
        files = page.get_by_test_id("version-files")
        expect(files.locator("ul.tree").first).to_contain_text("MLmodel")
        files.get_by_role("button", name=re.compile(r"\bnotes\b")).click()
        files.locator("ul.tree").get_by_role("button", name="readme.txt", exact=True).click()
        preview = page.get_by_test_id("artifact-preview")
        expect(preview.get_by_test_id("preview-text")).to_have_text("a note\n")
    page.console.assert_clean(allowed=NOT_SIGNED_IN)


# ------------------------------------------------------------ without --auth

def test_admin_and_tokens_pages_say_auth_is_off(page):
    from playwright.sync_api import expect

    page.goto("/admin")
    expect(page.get_by_test_id("auth-off")).to_contain_text("--auth")
    page.get_by_role("link", name="Tokens").click()
    expect(page.get_by_test_id("auth-off")).to_contain_text("--auth")
    page.console.assert_clean()


@pytest.fixture(scope="module")
def chart_data(server):
    """Two runs of one experiment: `loss` at 60 steps and at 25 steps."""
    client = MlflowClient(server.url)
    experiment_id = client.create_experiment(unique("svg"))
    runs = {}
    for name, steps in (("long", 60), ("short", 25)):
        run = client.create_run(experiment_id, run_name=name)
        client.log_batch(run.info.run_id, metrics=[
            Metric("loss", 1.0 / (s + 1) + (0.1 if name == "short" else 0), 1_700_000_000_000 + s, s)
            for s in range(steps)])
        client.set_terminated(run.info.run_id)
        runs[name] = run.info.run_id
    return {"experiment_id": experiment_id, "runs": runs}


def _points(d: str) -> list[tuple[float, float]]:
    commands = re.findall(r"([ML])(-?[\d.]+),(-?[\d.]+)", d)
    assert "".join(c[0] for c in commands) == "M" + "L" * (len(commands) - 1), d[:200]
    assert len(re.findall(r"[A-Za-z]", d)) == len(commands), d[:200]  # nothing else in d
    return [(float(x), float(y)) for _, x, y in commands]


def _download_svg(page) -> ET.Element:
    with page.expect_download() as download:
        page.get_by_test_id("metric-chart").get_by_role("button", name="SVG").click()
    assert download.value.suggested_filename == "loss.svg"
    with open(download.value.path(), encoding="utf-8") as f:
        text = f.read()
    root = ET.fromstring(text)  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    # Vector: no embedded picture of the canvas.
    assert root.find(f".//{SVG}image") is None and "data:image" not in text
    return root


def _series_paths(root) -> list[ET.Element]:
    return [p for p in root.iter(f"{SVG}path") if p.get("data-series") is not None]


def test_svg_export_of_a_run_chart_has_every_point(page, chart_data):
    from playwright.sync_api import expect

    run_id = chart_data["runs"]["long"]
    page.goto(f"/experiments/{chart_data['experiment_id']}/runs/{run_id}?metric=loss")
    expect(page.get_by_test_id("chart-points")).to_have_text(re.compile(r"^60 points drawn"))
    root = _download_svg(page)
    (path,) = _series_paths(root)
    assert path.get("stroke") == "#1f77b4"
    points = _points(path.get("d"))
    assert len(points) == 60
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    assert xs == sorted(xs) and len(set(xs)) == 60
    # loss falls with the step, and SVG's y grows downwards.
    assert ys[0] < ys[-1]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "loss" in texts  # the title
    assert "step" in texts  # the x axis label
    assert "long" in texts  # the legend
    assert "20" in texts, texts  # a tick on the step axis
    page.console.assert_clean()


def test_svg_export_of_a_comparison_has_a_path_per_run(page, chart_data):
    from playwright.sync_api import expect

    runs = chart_data["runs"]
    page.goto(f"/compare?runs={runs['long']},{runs['short']}&metric=loss")
    expect(page.get_by_test_id("chart-points")).to_have_text(re.compile(r"^85 points drawn"))
    root = _download_svg(page)
    paths = _series_paths(root)
    assert [(p.get("stroke"), len(_points(p.get("d")))) for p in paths] == \
        [("#1f77b4", 60), ("#d62728", 25)]
    legend = [t.text for t in root.iter(f"{SVG}text")]
    assert "long" in legend and "short" in legend
    page.console.assert_clean()


@pytest.fixture(scope="module")
def traced_run(server):
    """A run whose four traces took different times (not in the order they
    started), and a run without traces, in one experiment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
        mlflow.set_tracking_uri(server.url)
        experiment = mlflow.set_experiment(unique("webui-trace-sort"))

        @mlflow.trace(name="work")
        def work(seconds):
            time.sleep(seconds)
            return seconds

        with mlflow.start_run(run_name="traced") as run:
            for seconds in (0.06, 0.01, 0.12, 0.03):
                work(seconds)
        with mlflow.start_run(run_name="untraced") as plain:
            mlflow.log_param("p", 1)
        mlflow.flush_trace_async_logging()
    mlflow.set_tracking_uri(server.url)
    return {"experiment_id": experiment.experiment_id, "run": run.info.run_id,
            "plain": plain.info.run_id}


def _api_trace_order(server, experiment_id, order_by: str) -> list[str]:
    r = requests.post(f"{server.url}/api/3.0/mlflow/traces/search", timeout=10, json={
        "locations": [{"type": "MLFLOW_EXPERIMENT",
                       "mlflow_experiment": {"experiment_id": experiment_id}}],
        "order_by": [order_by]})
    assert r.status_code == 200, r.text
    return [t["trace_id"] for t in r.json()["traces"]]


def _trace_keys(page) -> list[str]:
    return page.locator("[data-testid=traces-table] .vt-row").evaluate_all(
        "rows => rows.map(r => r.dataset.key)")


def test_sorting_traces_by_duration_follows_the_server(page, server, traced_run):
    from playwright.sync_api import expect

    experiment_id = traced_run["experiment_id"]
    newest = _api_trace_order(server, experiment_id, "timestamp_ms DESC")
    slowest = _api_trace_order(server, experiment_id, "execution_time_ms DESC")
    fastest = _api_trace_order(server, experiment_id, "execution_time_ms ASC")
    assert len(newest) == 4 and slowest != newest and fastest == slowest[::-1]

    page.goto(f"/experiments/{experiment_id}/traces")
    expect(page.get_by_test_id("trace-count")).to_have_text("4 traces")
    assert _trace_keys(page) == newest
    header = page.locator("[data-testid=traces-table] [role=columnheader][data-column=duration]")
    header.click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.locator("[data-testid=traces-table] .vt-row").first).to_have_attribute(
        "data-key", slowest[0])
    assert _trace_keys(page) == slowest
    assert "sort=duration" in page.url and "dir=desc" in page.url
    header.click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("[data-testid=traces-table] .vt-row").first).to_have_attribute(
        "data-key", fastest[0])
    assert _trace_keys(page) == fastest
    # The sort is in the link.
    page.reload()
    expect(page.get_by_test_id("trace-count")).to_have_text("4 traces")
    assert _trace_keys(page) == fastest
    _shot(page, "traces-sorted")
    # A column the page does not know (even one every object inherits, as
    # "constructor") is the default order, not a request the server refuses.
    page.goto(f"/experiments/{experiment_id}/traces?sort=constructor")
    expect(page.get_by_test_id("trace-count")).to_have_text("4 traces")
    assert _trace_keys(page) == newest
    page.console.assert_clean()


def test_run_page_links_to_its_traces(page, traced_run):
    from playwright.sync_api import expect

    experiment_id = traced_run["experiment_id"]
    # A run without traces: the page asks, and shows no link.
    with page.expect_response(lambda r: r.url.endswith("/traces/search")) as searched:
        page.goto(f"/experiments/{experiment_id}/runs/{traced_run['plain']}")
    assert searched.value.ok and searched.value.json().get("traces", []) == []
    expect(page.get_by_test_id("run-name")).to_have_text("untraced")
    expect(page.get_by_test_id("run-traces-link")).to_have_count(0)

    page.goto(f"/experiments/{experiment_id}/runs/{traced_run['run']}")
    link = page.get_by_test_id("run-traces-link")
    expect(link).to_have_text("4 traces")
    link.click()
    expect(page.get_by_test_id("trace-count")).to_have_text("4 traces")
    assert page.get_by_label("Filter traces").input_value() == f"run_id = '{traced_run['run']}'"
    assert "filter=run_id" in page.url
    page.console.assert_clean()
