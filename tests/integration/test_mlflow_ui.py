"""MLflow's own web UI, served by `slipway server --mlflow-ui` at /mlflow/.

The UI's files are read at run time from the installed mlflow wheel
(mlflow/server/js/build); its API calls go to Slipway's routes through the
/mlflow API mount. First plain HTTP: the page and files, paths that try to
leave the build folder, the clean error for what Slipway does not have (the
AI gateway, the Assistant), --auth, and a bad --mlflow-ui path. Then
Debian's chromium driven by Playwright, as test_webui.py does, against a
server filled by the real mlflow client: the experiments, a run and its
metric chart, a registered model and its version.

Console errors that MLflow's UI logs on every page against Slipway, and
that these tests allow by URL and status (Chromium logs every non-2xx
resource as an error):
  - GET ajax-api/3.0/mlflow/assistant/config and .../assistant/providers:
    501 NOT_IMPLEMENTED (MLflow's Assistant is not part of Slipway; its
    side panel shows its welcome page, the rest of the UI works);
  - GET ajax-api/2.0/mlflow/users/current: 404 without --auth (MLflow's own
    server answers 404 too when its basic-auth app is off);
  - GET ajax-api/2.0/mlflow/gateway-proxy?gateway_path=api/2.0/endpoints/ on
    an experiment's runs page: 501 NOT_IMPLEMENTED (the AI gateway; the
    runs table works, the prompt-engineering "new run" has no endpoints).
Screenshots go beside test_webui.py's (``build/screenshots``), named
``mlflow-ui-*``.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
from mlflow.entities import Metric, Param

import conftest
from conftest import slipway_binary, unique
from test_webui import SCREENSHOTS, browser  # noqa: F401  (browser is a fixture)

pytestmark = pytest.mark.slipway_only

# What MLflow's UI calls on every page that Slipway answers with an error
# (see the module's docstring): (URL fragment, status).
ALLOWED_ERRORS = (
    ("ajax-api/3.0/mlflow/assistant/config", 501),
    ("ajax-api/3.0/mlflow/assistant/providers", 501),
    ("ajax-api/2.0/mlflow/users/current", 404),
    # The runs page of a training experiment lists the gateway's endpoints.
    ("ajax-api/2.0/mlflow/gateway-proxy?gateway_path=api%2F2.0%2Fendpoints%2F", 501),
)


def _mlflow_ui_build() -> Path:
    import mlflow

    return Path(mlflow.__file__).parent / "server" / "js" / "build"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server with MLflow's UI, found through the python3 that has mlflow."""
    srv = conftest._make_server(tmp_path_factory, "slipway-mlflow-ui")
    srv.extra_args = ["--mlflow-ui"]
    srv.start()
    yield srv
    srv.assert_clean_exit()


# ---------------------------------------------------------------- plain HTTP

def test_page_and_files_come_from_the_installed_wheel(server):
    build = _mlflow_ui_build()
    page = requests.get(server.url + "/mlflow/", timeout=10)
    assert page.status_code == 200, page.text[:300]
    assert page.text == (build / "index.html").read_text()
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-cache"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    again = requests.get(server.url + "/mlflow/", timeout=10,
                         headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304

    bare = requests.get(server.url + "/mlflow", allow_redirects=False, timeout=10)
    assert bare.status_code == 308 and bare.headers["Location"] == "/mlflow/"

    assets = re.findall(r'(?:src|href)="\.?/?(static-files/[^"]+)"', page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        r = requests.get(f"{server.url}/mlflow/{asset}", timeout=30)
        assert r.status_code == 200, asset
        local = build / asset.removeprefix("static-files/")
        assert r.content == local.read_bytes(), asset
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        if asset.endswith(".js"):
            assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
            # main.<hash>.js: cached for good.
            assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        if asset.endswith(".css"):
            assert r.headers["Content-Type"] == "text/css; charset=utf-8"
    manifest = requests.get(server.url + "/mlflow/static-files/manifest.json", timeout=10)
    assert manifest.status_code == 200
    assert manifest.headers["Cache-Control"] == "no-cache"  # no hash in the name


def _raw_get(server, target: str) -> tuple[int, bytes]:
    """GET with the target sent exactly as written (requests would normalise it)."""
    import http.client

    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def test_paths_never_leave_the_build_folder(server, tmp_path):
    secret = Path(tempfile.gettempdir()) / f"{unique('mlflow-ui-secret')}.txt"
    secret.write_text("the-content-of-a-file-outside")
    build = _mlflow_ui_build()
    depth = len(build.resolve().parts) - 1
    climb = "/".join([".."] * depth)
    encoded = "/".join(["%2e%2e"] * depth)
    targets = [
        f"/mlflow/static-files/{climb}{secret}",
        f"/mlflow/static-files/{encoded}{secret}",
        f"/mlflow/static-files/{encoded}%2f{secret.name}",
        f"/mlflow/static-files/static/..%2f..%2f{climb}{secret}",
        f"/mlflow/static-files/{secret}",               # absolute after the prefix
        f"/mlflow/static-files/%2f{str(secret)[1:]}",
        "/mlflow/static-files/../../../../../../etc/passwd",
        "/mlflow/static-files/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/mlflow/%2e%2e/%2e%2e/etc/passwd",
    ]
    for target in targets:
        status, body = _raw_get(server, target)
        assert status in (400, 404), (target, status)
        assert b"the-content-of-a-file-outside" not in body, target
        assert b"root:" not in body, target


def test_symlinks_out_of_the_folder_are_refused(server_factory, tmp_path):
    """A build folder (a copy of index.html) with symlinks that point out of it."""
    build = tmp_path / "build"
    build.mkdir()
    (build / "index.html").write_text("<html>copy</html>")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the-content-of-a-file-outside")
    (build / "link.txt").symlink_to(outside / "secret.txt")
    (build / "dir").symlink_to(outside, target_is_directory=True)
    (build / "inside.txt").write_text("inside")
    srv = server_factory()
    srv.extra_args = ["--mlflow-ui", str(build)]
    srv.start()
    assert requests.get(srv.url + "/mlflow/", timeout=10).text == "<html>copy</html>"
    assert requests.get(srv.url + "/mlflow/static-files/inside.txt", timeout=10).text == "inside"
    for path in ("link.txt", "dir/secret.txt"):
        r = requests.get(f"{srv.url}/mlflow/static-files/{path}", timeout=10)
        conftest.assert_mlflow_error(r, 404, "ENDPOINT_NOT_FOUND")
        assert "the-content-of-a-file-outside" not in r.text


def test_api_answers_under_the_prefix_as_without(server):
    name = unique("mlflow-ui-api")
    created = requests.post(server.url + "/mlflow/ajax-api/2.0/mlflow/experiments/create",
                            json={"name": name}, timeout=10)
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    plain = requests.get(server.api + "/experiments/get", params={"experiment_id": experiment_id},
                         timeout=10)
    assert plain.json()["experiment"]["name"] == name
    graphql = requests.post(server.url + "/mlflow/graphql", timeout=10, json={
        "query": "query { mlflowGetExperiment(input: {experimentId: \"%s\"}) "
                 "{ experiment { name } } }" % experiment_id})
    assert graphql.status_code == 200, graphql.text
    assert graphql.json()["data"]["mlflowGetExperiment"]["experiment"]["name"] == name
    # The server's /health and Slipway's own UI are not under /mlflow/.
    for path in ("/mlflow/health", "/mlflow/static/x.js", "/mlflow/experiments/0"):
        r = requests.get(server.url + path, timeout=10)
        conftest.assert_mlflow_error(r, 404, "ENDPOINT_NOT_FOUND")


@pytest.mark.parametrize("method,path", [
    ("GET", "/mlflow/ajax-api/3.0/mlflow/gateway/secrets/config"),
    ("GET", "/mlflow/ajax-api/3.0/mlflow/gateway/endpoints/list"),
    ("POST", "/mlflow/ajax-api/3.0/mlflow/gateway/endpoints/create"),
    ("POST", "/mlflow/ajax-api/2.0/mlflow/gateway-proxy"),
    ("GET", "/mlflow/ajax-api/2.0/endpoints/"),
    ("GET", "/mlflow/ajax-api/3.0/mlflow/assistant/config"),
])
def test_what_slipway_lacks_is_a_clean_not_implemented(server, method, path):
    r = requests.request(method, server.url + path, json={} if method != "GET" else None,
                         timeout=10)
    conftest.assert_mlflow_error(r, 501, "NOT_IMPLEMENTED")
    assert "not part of Slipway" in r.json()["message"]


def test_unknown_api_path_under_the_prefix_is_a_json_404(server):
    r = requests.get(server.url + "/mlflow/ajax-api/2.0/mlflow/no-such-thing", timeout=10)
    conftest.assert_mlflow_error(r, 404, "ENDPOINT_NOT_FOUND")


def test_under_auth_files_are_public_and_the_data_is_not(server_factory):
    srv = server_factory()
    srv.extra_args = ["--auth", "--mlflow-ui"]
    srv.env = {"SLIPWAY_ADMIN_PASSWORD": "mlflow-ui-admin-pw"}
    srv.start()
    page = requests.get(srv.url + "/mlflow/", timeout=10)
    assert page.status_code == 200
    for asset in re.findall(r'(?:src|href)="\.?/?(static-files/[^"]+)"', page.text):
        assert requests.get(f"{srv.url}/mlflow/{asset}", timeout=30).status_code == 200, asset
    for method, path in (("POST", "/mlflow/ajax-api/2.0/mlflow/experiments/search"),
                         ("POST", "/mlflow/graphql"),
                         ("GET", "/mlflow/get-artifact?run_id=x&path=y"),
                         ("GET", "/mlflow/ajax-api/3.0/mlflow/gateway/secrets/config")):
        r = requests.request(method, srv.url + path, json={} if method != "GET" else None,
                             timeout=10)
        conftest.assert_mlflow_error(r, 401, "UNAUTHENTICATED")
        # MLflow's UI sends no X-Requested-With: the browser asks for Basic credentials.
        assert r.headers["WWW-Authenticate"].startswith("Basic"), path
    signed_in = requests.post(srv.url + "/mlflow/ajax-api/2.0/mlflow/experiments/search",
                              json={}, auth=("admin", "mlflow-ui-admin-pw"), timeout=10)
    assert signed_in.status_code == 200, signed_in.text
    me = requests.get(srv.url + "/mlflow/ajax-api/2.0/mlflow/users/current",
                      auth=("admin", "mlflow-ui-admin-pw"), timeout=10)
    assert me.status_code == 200 and me.json()["user"]["username"] == "admin", me.text


def test_a_bad_mlflow_ui_path_stops_the_server_at_start(tmp_path):
    for value, says in ((str(tmp_path / "nowhere"), "is not a folder"),
                        (str(tmp_path), "has no index.html")):
        proc = subprocess.run(
            [str(slipway_binary()), "server", "--port", str(conftest.free_port()),
             "--store", f"sqlite:///{tmp_path}/s.db", "--artifacts", str(tmp_path / "a"),
             "--mlflow-ui", value],
            capture_output=True, text=True, timeout=30)
        assert proc.returncode != 0, proc.stdout
        assert says in proc.stderr, proc.stderr
    proc = subprocess.run(
        [str(slipway_binary()), "server", "--port", str(conftest.free_port()),
         "--store", f"sqlite:///{tmp_path}/s.db", "--artifacts", str(tmp_path / "a"),
         "--python", "/nonexistent/python3", "--mlflow-ui"],
        capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "no mlflow package found" in proc.stderr, proc.stderr


# ------------------------------------------------------------------- browser

@pytest.fixture(scope="module")
def ui_data(server):
    """An experiment with three runs (a param, a 60-step loss), a model file on
    the first, and a registered model whose version 1 is that model."""
    import mlflow

    # Both URIs: an earlier test module may have left another registry set.
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    client = mlflow.MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    name = unique("mlflow-ui")
    experiment_id = client.create_experiment(name)
    runs = {}
    for i in range(3):
        run = client.create_run(experiment_id, run_name=f"mlui-run-{i}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("loss", round(1.0 / (s + 1 + i), 4), 1_700_000_000_000 + s, s)
                     for s in range(60)],
            params=[Param("depth", str(3 + i))])
        client.set_terminated(run.info.run_id)
        runs[f"mlui-run-{i}"] = run.info.run_id
    first = runs["mlui-run-0"]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "MLmodel").write_text(
            "artifact_path: model\nflavors:\n  python_function:\n    loader_module: x\n")
        client.log_artifacts(first, folder, "model")
    model = unique("mlflow-ui-model")
    client.create_registered_model(model, description="served to MLflow's own UI")
    client.create_model_version(model, f"runs:/{first}/model", run_id=first)
    return {"experiment_id": experiment_id, "name": name, "runs": runs, "model": model}


class Console:
    """What a page said: console errors, uncaught exceptions, failed requests,
    and the replies with an error status (URL and status, to allow exactly
    ALLOWED_ERRORS)."""

    def __init__(self, page):
        self.errors: list[str] = []
        self.bad_replies: list[tuple[str, int]] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console: {m.text} ({m.location.get('url', '')})"))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "") and
                self.errors.append(f"request failed: {r.method} {r.url}: {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and
                self.bad_replies.append((r.url, r.status)))

    @staticmethod
    def _allowed(url: str, status: int) -> bool:
        return any(fragment in url and status == code for fragment, code in ALLOWED_ERRORS)

    def assert_clean(self):
        # Chromium's "Failed to load resource" line names the URL as its location.
        left = [e for e in self.errors
                if not any(f"status of {code} " in e and fragment in e
                           for fragment, code in ALLOWED_ERRORS)]
        assert not left, "\n".join(left)
        bad = [(u, s) for u, s in self.bad_replies if not self._allowed(u, s)]
        assert not bad, bad


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=server.url)
    pg = context.new_page()
    pg.set_default_timeout(20000)
    pg.console = Console(pg)
    yield pg
    context.close()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"mlflow-ui-{name}.png"), full_page=True)


def _training_mode(page) -> None:
    """MLflow's UI opens in its GenAI workflow; runs tables are under "Model training"."""
    page.get_by_text("Model training", exact=True).first.click()


def test_experiments_are_listed(page, ui_data):
    page.goto("/mlflow/#/experiments")
    page.get_by_text(ui_data["name"], exact=True).first.wait_for()
    _shot(page, "experiments")
    page.console.assert_clean()


def test_runs_of_an_experiment_are_listed(page, ui_data):
    page.goto("/mlflow/#/experiments")
    _training_mode(page)
    page.get_by_text(ui_data["name"], exact=True).first.click()
    for run_name in ui_data["runs"]:
        page.get_by_text(run_name, exact=True).first.wait_for()
    _shot(page, "runs")
    page.console.assert_clean()


def test_run_page_and_its_metric_chart(page, ui_data):
    run_id = ui_data["runs"]["mlui-run-0"]
    page.goto(f"/mlflow/#/experiments/{ui_data['experiment_id']}/runs/{run_id}")
    page.get_by_text("mlui-run-0", exact=True).first.wait_for()
    page.get_by_text(run_id).first.wait_for()
    page.get_by_text("depth", exact=True).first.wait_for()
    _shot(page, "run")
    page.get_by_role("tab", name="Model metrics").click()
    # The chart of `loss`: its legend names the run, and plotly drew a line.
    page.get_by_text("mlui-run-0 (loss)").first.wait_for()
    page.locator(".js-plotly-plot path.js-line").first.wait_for(state="attached")
    line = page.locator(".js-plotly-plot path.js-line").first.get_attribute("d") or ""
    # Plotly drops points that fall on a straight segment: a curve, not one step.
    assert line.count("L") >= 10, line[:200]
    _shot(page, "run-metric-chart")
    page.console.assert_clean()


def test_registered_model_and_its_version(page, ui_data):
    model = ui_data["model"]
    page.goto("/mlflow/#/models")
    # A fresh browser gets MLflow's promotion of its registry UI first.
    page.get_by_role("button", name="Try it now").click()
    page.get_by_text(model, exact=True).first.click()
    page.get_by_text("served to MLflow's own UI").first.wait_for()
    page.get_by_role("link", name="Version 1").first.click()
    page.get_by_text("mlui-run-0").first.wait_for()  # the source run, by its name
    _shot(page, "model-version")
    page.console.assert_clean()


def test_basic_credentials_reach_the_data_under_auth(browser, server_factory):
    """What a browser does with MLflow's UI under --auth: the API's 401 asks
    for Basic credentials, the browser's dialog sends them (Playwright's
    http_credentials answers the dialog), every call carries them."""
    srv = server_factory()
    srv.extra_args = ["--auth", "--mlflow-ui"]
    srv.env = {"SLIPWAY_ADMIN_PASSWORD": "mlflow-ui-admin-pw"}
    srv.start()
    name = unique("mlflow-ui-auth")
    created = requests.post(srv.api + "/experiments/create", json={"name": name},
                            auth=("admin", "mlflow-ui-admin-pw"), timeout=10)
    assert created.status_code == 200, created.text
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=srv.url,
                                  http_credentials={"username": "admin",
                                                    "password": "mlflow-ui-admin-pw"})
    try:
        pg = context.new_page()
        pg.set_default_timeout(20000)
        pg.console = Console(pg)
        pg.goto("/mlflow/#/experiments")
        pg.get_by_text(name, exact=True).first.wait_for()
        _shot(pg, "auth-experiments")
        # Signed in, users/current exists (Slipway's, as MLflow's basic-auth app).
        pg.console.assert_clean()
    finally:
        context.close()
