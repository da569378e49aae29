"""The web UI's training page (/runs/ID/training) of runs made by the real
`slipway train` against a real `slipway server`, in Debian's chromium.

Two trainings of scikit-learn's breast cancer set with a small random search
(four trials each): the first has no model at @production to beat, passes its
gates and registers version 1 there; the second must beat that champion and
also holds a gate it cannot pass, so it FAILS. The page must show each run's
verdict, one row per gate with the result the run recorded, one row per trial
(child run) with its score and the best trial marked, the champion/challenger
comparison, and an SVG logged under evaluation/ as an image whose script does
not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from mlflow.tracking import MlflowClient

from test_data import slipway
from test_train import cancer_frame
from test_webui import Console, _shot, browser, page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slipway_only

MODEL = "cancer-ui"
TRIALS = 4

SPEC = """\
data: cancer@1
target: malignant
task: binary
model:
  type: xgboost
  params: {num_boost_round: 20}
search:
  algorithm: random
  trials: 4
  space:
    max_depth: {int: [2, 5]}
    eta: {log_uniform: [0.05, 0.3]}
cv: {scheme: stratified, folds: 3}
holdout: 0.25
metric: roc_auc
seed: SEED
gates:
  - {metric: roc_auc, min: 0.9}
  - {metric: roc_auc, champion: production, margin: 0}
EXTRA
register: {model: cancer-ui, alias: production}
"""

# An SVG with a script: shown as an image, the script must not run.
SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="200" height="120" viewBox="0 0 200 120">
<rect x="10" y="10" width="180" height="100" fill="#1f77b4"/>
<script>window.parent.svgScriptRan = true; window.svgScriptRan = true;</script>
</svg>
"""


def _run_id(stdout: str) -> str:
    found = re.search(r"^logged    run ([0-9a-f]+): model at runs:/", stdout, re.M)
    assert found, stdout
    return found.group(1)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("train-ui-ws")
    cancer_frame().to_csv(ws / "cancer.csv", index=False)
    slipway("data", "add", "cancer.csv", "--name", "cancer", cwd=ws)
    return ws


def _train(ws: Path, server, spec: str, experiment: str, expect_ok: bool = True) -> str:
    (ws / "spec.yaml").write_text(spec)
    out = slipway("train", "spec.yaml", "--tracking-uri", server.url, "--experiment", experiment,
                  cwd=ws, check=False, timeout=600)
    assert (out.returncode == 0) == expect_ok, out.stdout + out.stderr
    return _run_id(out.stdout)


@pytest.fixture(scope="module")
def trainings(server, workspace):
    def spec(seed: int, extra: str) -> str:
        return SPEC.replace("SEED", str(seed)).replace("EXTRA\n", extra)

    first = _train(workspace, server, spec(7, ""), "training-ui")
    # accuracy 0.999 on the holdout is out of reach: the second run FAILS.
    second = _train(workspace, server, spec(8, "  - {metric: accuracy, min: 0.999}\n"),
                    "training-ui", expect_ok=False)
    client = MlflowClient(server.url)
    client.log_text(second, SVG, "evaluation/test_chart.svg")
    return {"first": first, "second": second, "client": client}


def _children(client: MlflowClient, run_id: str):
    run = client.get_run(run_id)
    return client.search_runs([run.info.experiment_id],
                              f"tags.`mlflow.parentRunId` = '{run_id}'")


def _svg_artifacts(client: MlflowClient, run_id: str) -> list[str]:
    """The .svg files under evaluation/, fairness/ and robustness/ (two levels)."""
    found = []

    def walk(path: str, depth: int) -> None:
        for f in client.list_artifacts(run_id, path):
            if f.is_dir and depth < 2:
                walk(f.path, depth + 1)
            elif not f.is_dir and f.path.endswith(".svg"):
                found.append(f.path)

    for folder in ("evaluation", "fairness", "robustness"):
        walk(folder, 1)
    return sorted(found)


def _gate_rows(page) -> list[dict]:
    rows = page.locator("[data-testid=gate-table] tbody tr")
    out = []
    for i in range(rows.count()):
        row = rows.nth(i)
        out.append({"rule": row.locator(".gate-rule").inner_text(),
                    "passed": row.get_attribute("data-passed") == "true",
                    "result": row.locator(".gate-result").inner_text()})
    return out


def test_client_route_answers_the_app(server, trainings):
    root = requests.get(server.url + "/", timeout=10)
    deep = requests.get(f"{server.url}/runs/{trainings['first']}/training", timeout=10)
    assert deep.status_code == 200 and deep.text == root.text


def test_passed_training_shows_verdict_gates_and_trials(page, trainings):
    from playwright.sync_api import expect

    client = trainings["client"]
    run_id = trainings["first"]
    run = client.get_run(run_id)
    children = _children(client, run_id)
    assert len(children) == TRIALS

    # The run page links to the training page.
    page.goto(f"/runs/{run_id}")
    page.get_by_test_id("training-link").click()
    expect(page).to_have_url(re.compile(f"/runs/{run_id}/training$"))

    expect(page.get_by_test_id("verdict")).to_have_text("PASSED")
    expect(page.get_by_test_id("training-spec")).to_have_text("spec.yaml")
    expect(page.get_by_test_id("training-dataset")).to_have_text("cancer@1")
    expect(page.locator("[data-testid=gate-table] tbody tr")).to_have_count(2)
    assert _gate_rows(page) == [
        {"rule": "roc_auc >= 0.9", "passed": True, "result": "passed"},
        {"rule": "roc_auc >= champion@production + 0", "passed": True, "result": "passed"},
    ]
    # The gate's value is the run's holdout metric, as the card prints it.
    first_row = page.locator("[data-testid=gate-table] tbody tr").first
    assert float(first_row.locator("td.num").inner_text()) == pytest.approx(
        run.data.metrics["holdout.roc_auc"], abs=1e-4)
    # Nothing held @production yet: the comparison says so.
    expect(page.get_by_test_id("champion-note")).to_contain_text("No model held @production")

    # One row per trial (child run), with its cv score, and the best marked.
    table = page.get_by_test_id("trials-table")
    expect(table.locator(".vt-row")).to_have_count(TRIALS)
    for child in children:
        row = table.locator(f".vt-row[data-key='{child.info.run_id}']")
        expect(row.locator(".trial-number")).to_contain_text(child.data.tags["slipway.tuning.trial"])
        score = float(row.locator(".trial-score").inner_text().split(" ")[0])
        assert score == pytest.approx(child.data.metrics["cv.roc_auc.mean"], abs=1e-3)
    best = run.data.params["tuning.best_trial"]
    best_rows = table.locator(".vt-row", has=page.get_by_test_id("best-trial"))
    expect(best_rows).to_have_count(1)
    expect(best_rows.locator(".trial-number")).to_have_text(re.compile(rf"^{best}\s+best$"))
    # The best trial has the highest cv score of the trials.
    best_child = next(c for c in children if c.data.tags["slipway.tuning.trial"] == best)
    assert best_child.data.metrics["cv.roc_auc.mean"] == max(
        c.data.metrics["cv.roc_auc.mean"] for c in children)

    # The optimised metric per trial is drawn, and the best trials' histories.
    expect(page.get_by_test_id("trial-chart").locator("canvas")).to_have_count(1)
    curves = page.get_by_test_id("learning-curves")
    # Each trial's learning curve (the folds' mean after every boosting
    # round) is shown first; all 4 trials are among the best 5 drawn.
    expect(curves.get_by_label("history metric")).to_have_value("curve.roc_auc")
    points = sum(len(client.get_metric_history(c.info.run_id, "curve.roc_auc")) for c in children)
    assert points > TRIALS
    expect(curves.get_by_test_id("chart-points")).to_contain_text(f"{points} points drawn")
    # Sorting by the metric puts the best trial first, and is a link.
    page.locator("[role=columnheader][data-column='metric']").click()
    expect(page).to_have_url(re.compile(r"sort=metric"))
    expect(table.locator(".vt-row").first).to_have_attribute("data-key", best_child.info.run_id)
    # Every SVG the run logged under its chart folders is shown, and nothing else.
    svgs = _svg_artifacts(client, run_id)
    if svgs:
        figures = page.get_by_test_id("svg-chart")
        expect(figures).to_have_count(len(svgs))
        assert sorted(figures.evaluate_all("fs => fs.map(f => f.dataset.path)")) == svgs
        expect(figures.locator("img")).to_have_count(len(svgs))
    else:
        expect(page.get_by_test_id("no-charts")).to_be_visible()
    _shot(page, "training-passed")
    page.console.assert_clean()


def test_failed_training_shows_the_failing_gate_and_the_champion(page, trainings):
    from playwright.sync_api import expect

    client = trainings["client"]
    run_id = trainings["second"]
    run = client.get_run(run_id)
    assert run.data.tags["slipway.gates"] == "FAILED"

    page.goto(f"/runs/{run_id}/training")
    expect(page.get_by_test_id("verdict")).to_have_text("FAILED")
    expect(page.locator("[data-testid=gate-table] tbody tr")).to_have_count(3)
    champion_passed = run.data.metrics["gate.1.passed"] == 1
    assert _gate_rows(page) == [
        {"rule": "roc_auc >= 0.9", "passed": True, "result": "passed"},
        {"rule": "roc_auc >= champion@production + 0", "passed": champion_passed,
         "result": "passed" if champion_passed else "FAILED"},
        {"rule": "accuracy >= 0.999", "passed": False, "result": "FAILED"},
    ]
    # The champion is version 1 (the first run), evaluated on this run's holdout.
    champion = page.get_by_test_id("champion-table")
    expect(champion).to_contain_text("version 1")
    rows = champion.locator("tbody tr")
    assert float(rows.nth(0).locator("td").inner_text()) == pytest.approx(
        run.data.metrics["holdout.roc_auc"], abs=1e-4)
    assert float(rows.nth(1).locator("td").inner_text()) == pytest.approx(
        run.data.metrics["gate.1.champion"], abs=1e-4)
    expect(page.get_by_test_id("champion-interval")).to_have_text(
        re.compile(r"^\[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]$"))
    expect(champion.get_by_role("link", name="version 1")).to_have_attribute(
        "href", f"/models/{MODEL}/versions/1")

    # The SVG logged under evaluation/ is an image, and its script did not run.
    expect(page.get_by_test_id("svg-chart")).to_have_count(len(_svg_artifacts(client, run_id)))
    figure = page.locator("[data-testid=svg-chart][data-path='evaluation/test_chart.svg']")
    image = figure.locator("img")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 200",
                           arg=image.element_handle())
    assert page.evaluate("window.svgScriptRan === undefined")
    expect(page.get_by_test_id("trials-table").locator(".vt-row")).to_have_count(TRIALS)
    _shot(page, "training-failed")
    page.console.assert_clean()


def test_a_run_not_made_by_train_says_so(page, server, trainings):
    from playwright.sync_api import expect

    client = trainings["client"]
    experiment = client.get_experiment_by_name("training-ui")
    plain = client.create_run(experiment.experiment_id, run_name="plain")
    client.set_terminated(plain.info.run_id)
    page.goto(f"/runs/{plain.info.run_id}/training")
    expect(page.get_by_test_id("not-training")).to_contain_text("slipway train")
    page.goto(f"/runs/{plain.info.run_id}")
    expect(page.get_by_test_id("run-name")).to_have_text("plain")
    expect(page.get_by_test_id("training-link")).to_have_count(0)
    page.console.assert_clean()


HALVING_SPEC = """\
data: cancer@1
target: malignant
task: binary
model:
  type: xgboost
  params: {num_boost_round: 27}
search:
  algorithm: halving
  trials: 9
  space:
    max_depth: {int: [2, 5]}
    eta: {log_uniform: [0.05, 0.3]}
cv: {scheme: stratified, folds: 3}
holdout: 0.25
metric: log_loss
seed: 5
"""


def test_halving_trials_show_their_rungs_and_no_gates(page, server, workspace):
    """Successive halving: 9 + 3 + 1 child runs; the best is marked once, on
    its last rung; a loss is sorted smallest first; no gates, no verdict."""
    from playwright.sync_api import expect

    run_id = _train(workspace, server, HALVING_SPEC, "training-ui-halving")
    client = MlflowClient(server.url)
    run = client.get_run(run_id)
    children = _children(client, run_id)
    assert len(children) == 13

    page.goto(f"/runs/{run_id}/training")
    expect(page.get_by_test_id("verdict")).to_have_text("no gates")
    expect(page.get_by_text("The spec has no gates.")).to_be_visible()
    expect(page.get_by_test_id("champion")).to_have_count(0)
    expect(page.get_by_test_id("training-metric")).to_contain_text("log_loss (smaller is better)")
    table = page.get_by_test_id("trials-table")
    expect(table.locator("[role=columnheader][data-column='rung']")).to_be_visible()
    expect(table.locator(".vt-row")).to_have_count(13)
    best = run.data.params["tuning.best_trial"]
    last_rung = max(int(c.data.tags["slipway.tuning.rung"]) for c in children
                    if c.data.tags["slipway.tuning.trial"] == best)
    best_child = next(c for c in children if c.data.tags["slipway.tuning.trial"] == best
                      and int(c.data.tags["slipway.tuning.rung"]) == last_rung)
    marked = table.locator(".vt-row", has=page.get_by_test_id("best-trial"))
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-key", best_child.info.run_id)
    # Sorted by the loss, the smallest comes first.
    page.locator("[role=columnheader][data-column='metric']").click()
    expect(page).to_have_url(re.compile(r"sort=metric"))
    smallest = min(children, key=lambda c: c.data.metrics["cv.log_loss.mean"])
    expect(table.locator(".vt-row").first).to_have_attribute("data-key", smallest.info.run_id)
    # A series per rung (uPlot's legend also lists x); no "best so far" across rungs.
    legend = page.get_by_test_id("trial-chart").locator(".u-legend .u-series")
    expect(legend).to_have_count(4)
    expect(legend.nth(3)).to_contain_text("log_loss, rung 2")
    _shot(page, "training-halving")
    page.console.assert_clean()


LOGISTIC_SPEC = """\
data: cancer@1
target: malignant
task: binary
preprocessing: {scale: standard}
model: {type: logistic}
search:
  algorithm: random
  trials: 3
  space:
    l2: {log_uniform: [0.1, 10]}
cv: {scheme: stratified, folds: 3}
holdout: 0.25
metric: log_loss
seed: 6
"""


def test_logistic_trials_show_their_newton_curves(page, server, workspace):
    """A logistic model's trials log a curve by Newton iteration: the page
    draws the metric's first, and the training objective on request."""
    from playwright.sync_api import expect

    run_id = _train(workspace, server, LOGISTIC_SPEC, "training-ui-logistic")
    client = MlflowClient(server.url)
    children = _children(client, run_id)
    assert len(children) == 3
    page.goto(f"/runs/{run_id}/training")
    curves = page.get_by_test_id("learning-curves")
    select = curves.get_by_label("history metric")
    expect(select).to_have_value("curve.log_loss")
    options = select.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert {"curve.log_loss", "curve.objective"} <= set(options), options
    for key in ("curve.log_loss", "curve.objective"):
        points = sum(len(client.get_metric_history(c.info.run_id, key)) for c in children)
        assert points >= 3 * 3  # a few Newton iterations per trial
        select.select_option(key)
        expect(page).to_have_url(re.compile(rf"curve={re.escape(key)}"))
        expect(curves.get_by_test_id("chart-points")).to_contain_text(f"{points} points drawn")
    _shot(page, "training-logistic-curves")
    page.console.assert_clean()
