"""The web UI's Datasets pages in a real browser.

Two versions of a CSV dataset with known content are made and pushed with the
real `slipway data add/push` CLI: the second has more rows, a shifted
numeric column (`amount`), a new category (`plan: premium`) and a new
column. Debian's chromium, driven by Playwright as in test_webui.py (whose
browser, console check and screenshot helpers this file imports), then
opens the list, the versions, a version's profile (compared number by
number with what /api/v1/datasets answers), its validation, and the diff.
With --auth (test_webui_pages.py's server and sign-in), a user sees only
the datasets they may read and gets the server's refusal for the others.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from conftest import slipway_binary, unique
from test_webui import _shot, browser, page  # noqa: F401  (fixtures)
from test_webui_pages import ADMIN, ALICE, BOB, NOT_SIGNED_IN, _sign_in, start_auth_server
from test_webui_pages import new_page  # noqa: F401  (a fixture: pages on auth_server below)

pytestmark = pytest.mark.slipway_only

V1_ROWS, V2_ROWS = 400, 500
AMOUNT_MISSING = 20  # in version 1, every 20th row


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    v1 = pd.DataFrame({
        "id": np.arange(1, V1_ROWS + 1),
        "amount": np.round(rng.normal(100, 10, V1_ROWS), 2),
        "plan": rng.choice(["basic", "pro", "enterprise"], V1_ROWS, p=[0.6, 0.3, 0.1]),
        # The same shares in both versions: no drift.
        "score": np.arange(V1_ROWS) % 10,
    })
    v1.loc[::V1_ROWS // AMOUNT_MISSING, "amount"] = np.nan
    v2 = pd.DataFrame({
        "id": np.arange(1, V2_ROWS + 1),
        "amount": np.round(rng.normal(140, 10, V2_ROWS), 2),  # shifted by 4 sd
        "plan": rng.choice(["basic", "pro", "enterprise", "premium"], V2_ROWS,
                           p=[0.5, 0.25, 0.1, 0.15]),
        "score": np.arange(V2_ROWS) % 10,
        "region": rng.choice(["north", "south"], V2_ROWS),
    })
    return v1, v2


def _data(srv, *args, cwd: Path, user: tuple[str, str] | None = None) -> None:
    env = {**os.environ, "SLIPWAY_TRACKING_URI": srv.url}
    env.pop("SLIPWAY_WORKSPACE", None)
    if user:
        env.update(MLFLOW_TRACKING_USERNAME=user[0], MLFLOW_TRACKING_PASSWORD=user[1])
    out = subprocess.run([str(slipway_binary()), "data", *map(str, args)], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"slipway data {' '.join(map(str, args))}: {out.stderr}"


def _push(srv, folder: Path, name: str, frames: list[pd.DataFrame],
          user: tuple[str, str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, 1):
        path = folder / f"{name}-v{i}.csv"
        frame.to_csv(path, index=False)
        _data(srv, "add", path, "--name", name, cwd=folder, user=user)
    _data(srv, "push", name, cwd=folder, user=user)


@pytest.fixture(scope="module")
def datasets(server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("webui-datasets")
    name, other = unique("customers"), unique("other")
    _push(server, folder, name, list(_frames()))
    _push(server, folder, other, [pd.DataFrame({"x": [1, 2, 3]})])
    api = f"{server.url}/api/v1/datasets/{name}/versions"
    v1 = requests.get(f"{api}/1", timeout=10).json()["version"]
    v2 = requests.get(f"{api}/2", timeout=10).json()["version"]
    return {"name": name, "other": other, "api": api, "v1": v1, "v2": v2}


def _column(version: dict, name: str) -> dict:
    return next(c for c in version["profile"]["columns"] if c["name"] == name)


def _js_number(value: float) -> str:
    """What the UI's formatNumber shows for an ordinary number: integers as
    they are, others to 6 significant digits."""
    if float(value).is_integer():
        return str(int(value))
    text = repr(float(f"{value:.6g}"))
    return text[:-2] if text.endswith(".0") else text


def _bars(locator) -> list[dict]:
    """The SVG bars a histogram drew: their count attribute and drawn height."""
    return locator.locator("rect.bar").evaluate_all(
        "rs => rs.map(r => ({count: Number(r.dataset.count), height: r.getBBox().height}))")


# --------------------------------------------------------------- plain HTTP

def test_dataset_paths_answer_the_app(server, datasets):
    root = requests.get(server.url + "/", timeout=10)
    for path in ("/datasets", f"/datasets/{datasets['name']}",
                 f"/datasets/{datasets['name']}/versions/2",
                 f"/datasets/{datasets['name']}/diff?a=1&b=2"):
        r = requests.get(server.url + path, timeout=10)
        assert r.status_code == 200 and r.text == root.text, path
    # The API under /api/v1/datasets is not shadowed.
    r = requests.get(f"{datasets['api']}/1", timeout=10)
    assert r.headers["Content-Type"].startswith("application/json")


# ------------------------------------------------------------------ browser

def test_list_shows_the_datasets_and_filters_by_name(page, datasets):
    from playwright.sync_api import expect

    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Datasets").click()
    row = page.locator(f"[data-testid=datasets-table] .vt-row[data-key='{datasets['name']}']")
    expect(row).to_contain_text("version 2")
    assert row.locator(".vt-cell").nth(2).inner_text() == "2"  # versions
    expect(page.get_by_role("link", name=datasets["other"])).to_be_visible()
    _shot(page, "datasets")
    page.get_by_label("Dataset name").fill(datasets["other"])
    page.get_by_label("Dataset name").press("Enter")
    expect(page.get_by_test_id("dataset-count")).to_have_text("1 dataset")
    expect(page.get_by_role("link", name=datasets["name"])).to_have_count(0)
    assert f"name={datasets['other']}" in page.url
    page.goto("/datasets?name=no-such-dataset-anywhere")
    expect(page.get_by_test_id("dataset-count")).to_have_text("0 datasets")
    page.console.assert_clean()


def test_versions_page_lists_both_versions_with_their_rows(page, datasets):
    from playwright.sync_api import expect

    page.goto("/datasets")
    page.get_by_role("link", name=datasets["name"]).click()
    expect(page.get_by_test_id("dataset-name")).to_have_text(datasets["name"])
    table = page.get_by_test_id("dataset-versions")
    expect(table.locator(".vt-row")).to_have_count(2)
    for number, rows, columns in ((1, V1_ROWS, 4), (2, V2_ROWS, 5)):
        row = table.locator(f".vt-row[data-key='{number}']")
        expect(row.locator(".rows")).to_have_text(str(rows))
        expect(row).to_contain_text(datasets[f"v{number}"]["content_digest"][:16])
        assert row.locator(".vt-cell").nth(3).inner_text() == str(columns)
    # Newest first.
    expect(table.locator(".vt-row .version-link").first).to_have_text("Version 2")
    _shot(page, "dataset-versions")
    table.get_by_role("link", name="Version 1").click()
    expect(page.get_by_test_id("version-title")).to_have_text(f"{datasets['name']} version 1")
    page.console.assert_clean()


def test_version_page_shows_the_profile_as_the_api_has_it(page, datasets):
    from playwright.sync_api import expect

    v1 = datasets["v1"]
    page.goto(f"/datasets/{datasets['name']}/versions/1")
    expect(page.get_by_test_id("version-rows")).to_have_text(str(V1_ROWS))
    amount = _column(v1, "amount")
    assert amount["missing"] == AMOUNT_MISSING and amount["type"] == "float64"
    card = page.locator("[data-testid=column-card][data-column='amount']")
    expect(card.locator("[data-stat=missing]")).to_have_text(
        f"{AMOUNT_MISSING} ({AMOUNT_MISSING / V1_ROWS * 100:.1f}%)")
    expect(card.locator("[data-stat=count]")).to_have_text(str(amount["count"]))
    approx = "" if amount["distinct_exact"] else "≈ "
    expect(card.locator("[data-stat=distinct]")).to_have_text(
        approx + _js_number(amount["distinct"]))
    expect(card.locator("[data-stat=mean]")).to_have_text(_js_number(amount["mean"]))
    expect(card.locator("[data-stat=std]")).to_have_text(_js_number(amount["stddev"]))
    expect(card.locator("[data-stat=min]")).to_have_text(_js_number(amount["min"]))
    expect(card.locator("[data-stat=max]")).to_have_text(_js_number(amount["max"]))
    median = next(q["value"] for q in amount["quantiles"] if q["q"] == 0.5)
    expect(card.get_by_test_id("quantiles")).to_contain_text(_js_number(median))

    # The histogram: one bar per bin of the API's, each as tall as its count.
    bars = _bars(card.get_by_test_id("histogram"))
    assert [b["count"] for b in bars] == [b["count"] for b in amount["histogram"]]
    assert len(bars) == 20
    tallest = max(range(len(bars)), key=lambda i: bars[i]["count"])
    assert bars[tallest]["height"] > 40
    for bar in bars:
        assert bar["height"] == pytest.approx(
            bars[tallest]["height"] * bar["count"] / bars[tallest]["count"], abs=0.01)

    # A category column: its top values as bars, the most frequent first.
    plan = _column(v1, "plan")
    top = page.locator("[data-testid=column-card][data-column='plan'] ul.top-values li")
    expect(top).to_have_count(3)
    assert top.locator(".top-value").all_inner_texts() == [t["value"] for t in plan["top_values"]]
    expect(top.first).to_contain_text(str(plan["top_values"][0]["count"]))
    widths = top.locator(".top-bar > span").evaluate_all(
        "spans => spans.map(s => s.getBoundingClientRect().width)")
    assert widths[0] > widths[1] > widths[2] > 0
    _shot(page, "dataset-profile")
    page.console.assert_clean()


def test_inferred_rules_are_shown_copied_and_validate(page, datasets):
    from playwright.sync_api import expect

    rules = requests.get(f"{datasets['api']}/1/rules", timeout=10).text
    assert f"reference: {datasets['name']}@1" in rules
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/datasets/{datasets['name']}/versions/1")
    panel = page.get_by_test_id("inferred-rules")
    expect(panel.locator("pre")).to_have_text(rules)
    panel.get_by_role("button", name="Copy").click()
    expect(panel.get_by_role("status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == rules

    # The form starts from the inferred rules, which hold on their own version.
    validation = page.get_by_test_id("validation")
    expect(validation.get_by_label("Rules")).to_have_value(rules)
    validation.get_by_role("button", name="Validate").click()
    expected = requests.post(f"{datasets['api']}/1/validate", json={"rules": rules},
                             timeout=10).json()
    assert expected["ok"] is True
    expect(page.get_by_test_id("validation-summary")).to_have_text(
        f"Passed: all {expected['rules']} rules hold on {datasets['name']}@1.")
    expect(page.locator("[data-testid=validation-results] tbody tr")).to_have_count(
        expected["rules"])
    page.console.assert_clean()


def test_failing_rules_show_the_failed_rule_and_what_was_observed(page, datasets):
    from playwright.sync_api import expect

    rules = ("rows: {min: 1000}\n"
             "columns:\n"
             "  amount: {max_missing: 0, max: 120}\n"
             "  plan: {allowed: [basic, pro]}\n")
    report = requests.post(f"{datasets['api']}/1/validate", json={"rules": rules},
                           timeout=10).json()
    failed = [r for r in report["results"] if not r["passed"]]
    assert {(r["rule"], r["column"]) for r in failed} >= {
        ("rows", ""), ("max_missing", "amount"), ("allowed", "plan")}, failed
    page.goto(f"/datasets/{datasets['name']}/versions/1")
    validation = page.get_by_test_id("validation")
    expect(validation.get_by_label("Rules")).not_to_have_value("")
    validation.get_by_label("Rules").fill(rules)
    validation.get_by_role("button", name="Validate").click()
    summary = page.get_by_test_id("validation-summary")
    expect(summary).to_have_text(
        f"Failed: {report['failed']} of {report['rules']} rules do not hold on "
        f"{datasets['name']}@1.")
    expect(summary).to_have_class("verify bad")
    table = page.get_by_test_id("validation-results")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(report["rules"])
    # Failures first.
    expect(rows.first).to_have_class("failed")
    for r in failed:
        row = table.locator(f"tr[data-rule='{r['rule']}'][data-column='{r['column']}']")
        expect(row).to_have_class("failed")
        expect(row.locator("[data-field=observed]")).to_have_text(r["observed"])
        expect(row.locator("[data-field=expected]")).to_have_text(r["expected"])
        expect(row).to_contain_text(r["message"])
    rows_rule = next(r for r in failed if r["rule"] == "rows")
    assert rows_rule["observed"] == str(V1_ROWS)
    plan = next(r for r in failed if r["rule"] == "allowed")
    assert plan["lines"], plan  # the first offending line of the CSV
    expect(table.locator("tr[data-rule='allowed'] [data-field=lines]")).to_contain_text(
        str(plan["lines"][0]))
    _shot(page, "dataset-validation")
    page.console.assert_clean()


def test_a_rules_error_shows_its_line_and_column(page, datasets):
    from playwright.sync_api import expect

    bad = "columns:\n  amount:\n    type: integer-ish\n"
    r = requests.post(f"{datasets['api']}/1/validate", json={"rules": bad}, timeout=10)
    assert r.status_code == 400
    message = r.json()["message"]
    assert message.startswith("rules:3:"), message
    page.goto(f"/datasets/{datasets['name']}/versions/1")
    validation = page.get_by_test_id("validation")
    validation.get_by_label("Rules").fill(bad)
    validation.get_by_role("button", name="Validate").click()
    alert = validation.get_by_role("alert")
    expect(alert).to_contain_text("INVALID_PARAMETER_VALUE")
    expect(alert).to_contain_text(message)
    expect(page.get_by_test_id("validation-summary")).to_have_count(0)
    page.console.assert_clean(allowed=("status of 400",))


def test_diff_page_shows_the_servers_drift_and_flags_the_shifted_column(page, datasets):
    from playwright.sync_api import expect

    name = datasets["name"]
    diff = requests.get(f"{datasets['api']}/1/diff", params={"other": f"{name}@2"},
                        timeout=10).json()
    drift = {c["column"]: c["drift"] for c in diff["columns"]}
    assert drift["amount"]["psi"] > 0.2 and drift["amount"]["ks"] > 0.1
    assert drift["score"]["psi"] < 0.2 and drift["score"]["ks"] < 0.1
    assert "premium" in drift["plan"]["new_categories"]

    # From the versions page: tick both, then Diff.
    page.goto(f"/datasets/{name}")
    page.get_by_label("Select version 2").check()
    page.get_by_label("Select version 1").check()
    page.get_by_test_id("diff-button").click()
    expect(page.get_by_test_id("diff-title")).to_have_text(f"{name}: version 1 → version 2")
    assert page.url.endswith(f"/datasets/{name}/diff?a=1&b=2")

    expect(page.get_by_test_id("rows-before")).to_have_text(str(V1_ROWS))
    expect(page.get_by_test_id("rows-after")).to_have_text(str(V2_ROWS))
    expect(page.get_by_test_id("schema-added")).to_have_text("region")
    table = page.get_by_test_id("drift-table")
    for column, d in drift.items():
        row = table.locator(f"tr[data-column='{column}']")
        expect(row.locator("[data-metric=psi]")).to_have_text(f"{d['psi']:.4f}")
        expect(row.locator("[data-metric=js]")).to_have_text(f"{d['js']:.4f}")
        if "ks" in d:
            expect(row.locator("[data-metric=ks]")).to_have_text(f"{d['ks']:.4f}")
    amount = table.locator("tr[data-column='amount']")
    expect(amount).to_have_class("drifted")
    expect(amount.locator("[data-metric=psi]")).to_have_class("num over")
    expect(amount.locator("[data-metric=ks]")).to_have_class("num over")
    expect(table.locator("tr[data-column='score']")).not_to_have_class("drifted")
    expect(table.locator("tr[data-column='score'] [data-metric=psi]")).to_have_class("num")
    expect(table.locator("tr[data-column='plan'] [data-field=new-categories]")).to_contain_text(
        "premium")
    expect(page.get_by_test_id("drift-summary")).to_contain_text("amount")
    expect(page.get_by_test_id("drift-summary")).not_to_contain_text("score")

    # Per column: its statistics before and after, both histograms overlaid.
    card = page.locator("[data-testid=column-diff][data-column='amount']")
    mean = next(s for s in next(c for c in diff["columns"] if c["column"] == "amount")
                ["statistics"] if s["statistic"] == "mean")
    mean_row = card.locator("tr[data-statistic=mean]")
    expect(mean_row).to_contain_text(_js_number(mean["before"]))
    expect(mean_row).to_contain_text(_js_number(mean["after"]))
    series = card.get_by_test_id("histogram-overlay").locator("g.histogram-series")
    expect(series).to_have_count(2)
    for i, version in enumerate(("v1", "v2")):
        bars = _bars(series.nth(i))
        assert [b["count"] for b in bars] == \
            [b["count"] for b in _column(datasets[version], "amount")["histogram"]]
        assert sum(b["height"] for b in bars) > 40
    # The shifted version's bars sit to the right of the first's.
    lefts = [series.nth(i).locator("rect.bar").first.evaluate("r => r.getBBox().x")
             for i in range(2)]
    assert lefts[1] > lefts[0]
    _shot(page, "dataset-diff")

    # The versions are chosen on the page too; the choice is in the address.
    page.get_by_label("From (reference)").select_option("2")
    expect(page.get_by_test_id("diff-title")).to_have_text(f"{name}: version 2 → version 2")
    expect(table.locator("tr.drifted")).to_have_count(0)
    assert "a=2" in page.url
    page.console.assert_clean()


def test_a_version_that_does_not_exist_shows_the_servers_error(page, datasets):
    from playwright.sync_api import expect

    r = requests.get(f"{datasets['api']}/9", timeout=10)
    assert r.status_code == 404
    page.goto(f"/datasets/{datasets['name']}/versions/9")
    alert = page.get_by_role("alert").first
    expect(alert).to_contain_text("RESOURCE_DOES_NOT_EXIST")
    expect(alert).to_contain_text(r.json()["message"])
    page.console.assert_clean(allowed=("status of 404",))


# --------------------------------------------------------------- with --auth

@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """--auth with the default READ; alice and bob. The imported new_page
    fixture opens its pages on this server."""
    srv = start_auth_server(tmp_path_factory, "webui-data-auth", ADMIN, (ALICE, BOB))
    yield srv
    srv.assert_clean_exit()


def test_with_auth_a_user_sees_only_the_datasets_they_may_read(new_page, auth_server,
                                                               tmp_path):
    from playwright.sync_api import expect

    alices, bobs = unique("alice-data"), unique("bob-data")
    v1, v2 = _frames()
    _push(auth_server, tmp_path / "alice", alices, [v1, v2], user=ALICE)
    _push(auth_server, tmp_path / "bob", bobs, [v1], user=BOB)
    api = f"{auth_server.url}/api/v1/datasets"
    # Alice manages her dataset and hides it from bob.
    r = requests.post(f"{auth_server.url}/api/3.0/mlflow/users/permissions/grant", auth=ALICE,
                      timeout=10, json={"username": BOB[0], "resource_type": "dataset",
                                        "resource_id": alices, "permission": "NO_PERMISSIONS"})
    assert r.status_code == 200, r.text
    listed = {d["name"] for d in requests.get(api, auth=BOB, timeout=10).json()["datasets"]}
    assert bobs in listed and alices not in listed
    refused = requests.get(f"{api}/{alices}/versions", auth=BOB, timeout=10)
    assert refused.status_code == 403, refused.text

    page = new_page()
    _sign_in(page, BOB, path="/datasets")
    expect(page.get_by_role("link", name=bobs)).to_be_visible()
    expect(page.get_by_role("link", name=alices)).to_have_count(0)
    page.goto(f"/datasets/{alices}")
    alert = page.get_by_role("alert").first
    expect(alert).to_contain_text("PERMISSION_DENIED")
    expect(alert).to_contain_text(refused.json()["message"])
    page.goto(f"/datasets/{alices}/versions/1")
    expect(page.get_by_role("alert").first).to_contain_text("PERMISSION_DENIED")
    page.goto(f"/datasets/{bobs}/diff?a=1&b=1")
    expect(page.get_by_test_id("drift-table")).to_be_visible()
    page.console.assert_clean(allowed=NOT_SIGNED_IN + ("status of 403",))

    alice = new_page()
    _sign_in(alice, ALICE, path=f"/datasets/{alices}")
    expect(alice.get_by_test_id("dataset-versions").locator(".vt-row")).to_have_count(2)
    expect(alice.get_by_role("link", name="Version 2")).to_be_visible()
    alice.console.assert_clean(allowed=NOT_SIGNED_IN)
