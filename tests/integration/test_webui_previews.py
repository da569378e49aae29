"""Artifact previews on the run page, in Debian's chromium driven by
Playwright (see test_webui.py), against a server filled by the real `mlflow`
client with `mlflow.log_artifact`.

Clicking a file in the run's artifact tree shows it: a PNG as an image (from
a blob URL of the fetched bytes), JSON pretty-printed, a CSV as a table (a
quoted field keeps its comma), text and an MLmodel as text, and an HTML file
as text: its script never runs. Every preview has a download link. An SVG,
a TSV, and text and CSV files past the preview's limits (which say so). A
registered model version's page shows the version's files with the same
previews, read through `/model-versions/get-artifact`.
"""

from __future__ import annotations

import json
import re
import struct
import zlib

import pytest
import requests

from conftest import unique
from test_webui import Console, _shot, browser, page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slipway_only

CSV = 'name,comment,score\nalpha,"hello, world",1\nbeta,"say ""hi""",2\n'
MLMODEL = "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
HTML = "<html><body><h1>boom</h1><script>window.pwned = true</script></body></html>\n"


def _png(width: int, height: int) -> bytes:
    """A real RGB PNG: a red-to-blue gradient."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"".join(bytes((255 * x // width, 64, 255 - 255 * x // width))
                                      for x in range(width)) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def preview_run(server, tmp_path_factory):
    import mlflow

    mlflow.set_tracking_uri(server.url)
    experiment_id = mlflow.create_experiment(unique("previews"))
    folder = tmp_path_factory.mktemp("preview-artifacts")
    files = {
        "plot.png": _png(40, 24),
        "config.json": json.dumps({"lr": 0.1, "layers": [64, 32]}).encode(),
        "table.csv": CSV.encode(),
        "notes.txt": b"first line\nsecond line\n",
        "MLmodel": MLMODEL.encode(),
        "report.html": HTML.encode(),
        "weights.bin": bytes(range(256)),
    }
    with mlflow.start_run(experiment_id=experiment_id, run_name="previews") as run:
        for name, data in files.items():
            local = folder / name
            local.write_bytes(data)
            mlflow.log_artifact(str(local), artifact_path="model" if name == "MLmodel" else None)
    run_id = run.info.run_id
    return {"experiment_id": experiment_id, "run_id": run_id}


def _open_run(page, preview_run):
    from playwright.sync_api import expect

    page.goto(f"/experiments/{preview_run['experiment_id']}/runs/{preview_run['run_id']}")
    expect(page.get_by_test_id("run-name")).to_have_text("previews")
    return page.get_by_test_id("artifacts")


def _click(artifacts, name: str):
    artifacts.locator("ul.tree").get_by_role("button", name=name, exact=True).click()


def _decoded_image(page, preview, size: list[int]):
    """The preview's image, shown from a blob URL and decoded by the browser
    at `size` (width, height)."""
    from playwright.sync_api import expect

    image = preview.get_by_test_id("preview-image")
    expect(image).to_be_visible()
    assert image.get_attribute("src").startswith("blob:")
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=preview-image]');"
        " return i && i.complete && i.naturalWidth > 0; }")
    assert image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == size
    return image


def test_previews_of_image_json_csv_text_mlmodel_and_html(page, preview_run):
    from playwright.sync_api import expect

    artifacts = _open_run(page, preview_run)
    preview = page.get_by_test_id("artifact-preview")

    # PNG: an image from a blob URL, decoded by the browser.
    _click(artifacts, "plot.png")
    image = _decoded_image(page, preview, [40, 24])
    expect(preview.get_by_test_id("preview-download")).to_have_attribute(
        "href", re.compile(r"^/get-artifact\?.*plot\.png"))
    _shot(page, "run-preview-image")

    # JSON, pretty-printed.
    _click(artifacts, "config.json")
    expect(preview.get_by_test_id("preview-json")).to_have_text(
        json.dumps({"lr": 0.1, "layers": [64, 32]}, indent=2))

    # CSV: a table; the quoted comma and the doubled quotes stay in their cells.
    _click(artifacts, "table.csv")
    table = preview.get_by_test_id("preview-table")
    expect(table.locator("thead th")).to_have_text(["name", "comment", "score"])
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text(["alpha", "hello, world", "1"])
    expect(rows.nth(1).locator("td")).to_have_text(["beta", 'say "hi"', "2"])
    _shot(page, "run-preview-csv")

    # Text.
    _click(artifacts, "notes.txt")
    expect(preview.get_by_test_id("preview-text")).to_have_text("first line\nsecond line\n")
    expect(preview.get_by_test_id("preview-truncated")).to_have_count(0)

    # MLmodel, in its folder, as text.
    artifacts.get_by_role("button", name=re.compile(r"\bmodel\b")).click()
    _click(artifacts, "MLmodel")
    expect(preview.get_by_test_id("preview-text")).to_have_text(MLMODEL)

    # HTML: shown as its source, never rendered, its script never run.
    _click(artifacts, "report.html")
    expect(preview.get_by_test_id("preview-text")).to_have_text(HTML)
    assert preview.locator("h1, script, iframe").count() == 0
    assert page.evaluate("() => window.pwned") is None

    # Anything else: no preview, a download link.
    _click(artifacts, "weights.bin")
    expect(preview.get_by_test_id("preview-none")).to_be_visible()
    expect(preview.get_by_test_id("preview-download")).to_have_attribute("download", "weights.bin")
    page.console.assert_clean()


def test_the_preview_is_a_link(page, preview_run):
    """`?artifact=<path>` opens the preview (and the folder holding it) on load."""
    from playwright.sync_api import expect

    page.goto(f"/experiments/{preview_run['experiment_id']}/runs/{preview_run['run_id']}"
              "?artifact=model/MLmodel")
    preview = page.get_by_test_id("artifact-preview")
    expect(preview.get_by_test_id("preview-text")).to_have_text(MLMODEL)
    expect(page.get_by_test_id("artifacts").get_by_role("button", name="MLmodel", exact=True)
           ).to_have_attribute("aria-pressed", "true")
    page.console.assert_clean()


# ------------------------------------------- SVG, TSV and the truncation notes

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="30" height="20">'
       '<rect width="30" height="20" fill="#0a0"/><script>window.pwned = true</script></svg>')
TSV = "name\tcomment\tscore\nalpha\thello, world\t1\nbeta\ttab-free\t2\n"
TEXT_LIMIT = 1024 * 1024  # artifact_preview.tsx: text is shown up to its first 1 MB
TABLE_ROWS = 1000  # artifact_preview.tsx: a table shows its first 1000 rows


@pytest.fixture(scope="module")
def large_run(server, tmp_path_factory):
    """A run with an SVG, a TSV, a text file past the text limit and a CSV past
    the table's row limit."""
    import mlflow

    mlflow.set_tracking_uri(server.url)
    experiment_id = mlflow.create_experiment(unique("previews-large"))
    folder = tmp_path_factory.mktemp("large-artifacts")
    line = "0123456789abcdef" * 4 + "\n"  # 65 bytes
    files = {
        "drawing.svg": SVG.encode(),
        "table.tsv": TSV.encode(),
        # Past the limit by whole lines; the last line is never shown.
        "big.log": (line * (TEXT_LIMIT // len(line) + 100) + "THE-END\n").encode(),
        "big.csv": ("i,square\n" + "".join(f"{i},{i * i}\n" for i in range(TABLE_ROWS + 500))).encode(),
    }
    with mlflow.start_run(experiment_id=experiment_id, run_name="previews") as run:
        for name, data in files.items():
            (folder / name).write_bytes(data)
            mlflow.log_artifact(str(folder / name))
    return {"experiment_id": experiment_id, "run_id": run.info.run_id, "files": files}


def test_svg_is_an_image_whose_script_never_runs(page, large_run):
    from playwright.sync_api import expect

    artifacts = _open_run(page, large_run)
    preview = page.get_by_test_id("artifact-preview")
    _click(artifacts, "drawing.svg")
    image = _decoded_image(page, preview, [30, 20])
    # Decoded, so the blob was typed as SVG (a browser never sniffs an image
    # as SVG); nothing of the file is in the page's DOM.
    assert preview.locator("svg, script, rect").count() == 0
    assert page.evaluate("() => window.pwned") is None
    page.console.assert_clean()


def test_tsv_is_a_table_split_on_tabs(page, large_run):
    from playwright.sync_api import expect

    artifacts = _open_run(page, large_run)
    _click(artifacts, "table.tsv")
    table = page.get_by_test_id("artifact-preview").get_by_test_id("preview-table")
    expect(table.locator("thead th")).to_have_text(["name", "comment", "score"])
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    # A comma is data in a TSV.
    expect(rows.nth(0).locator("td")).to_have_text(["alpha", "hello, world", "1"])
    expect(rows.nth(1).locator("td")).to_have_text(["beta", "tab-free", "2"])
    expect(page.get_by_test_id("preview-truncated")).to_have_count(0)
    page.console.assert_clean()


def test_large_text_shows_its_first_megabyte_and_says_so(page, large_run):
    from playwright.sync_api import expect

    artifacts = _open_run(page, large_run)
    _click(artifacts, "big.log")
    preview = page.get_by_test_id("artifact-preview")
    note = preview.get_by_test_id("preview-truncated")
    expect(note).to_have_text("Showing the first 1.0 MiB; download the file for the rest.")
    text = preview.get_by_test_id("preview-text")
    expect(text).to_contain_text("0123456789abcdef")
    shown = text.evaluate("t => t.textContent.length")
    # At least the limit, at most what was read past it (the read stops at the
    # chunk that crossed it); never the whole file, whose last line is not shown.
    assert TEXT_LIMIT <= shown < len(large_run["files"]["big.log"]), shown
    assert "THE-END" not in text.evaluate("t => t.textContent.slice(-100)")
    expect(preview.get_by_test_id("preview-download")).to_have_attribute("download", "big.log")
    page.console.assert_clean()


def test_large_csv_shows_its_first_rows_and_says_so(page, large_run):
    from playwright.sync_api import expect

    artifacts = _open_run(page, large_run)
    _click(artifacts, "big.csv")
    preview = page.get_by_test_id("artifact-preview")
    expect(preview.get_by_test_id("preview-truncated")).to_have_text(
        f"Showing the first {TABLE_ROWS} rows; download the file for the rest.")
    rows = preview.locator("[data-testid=preview-table] tbody tr")
    expect(rows).to_have_count(TABLE_ROWS)
    expect(rows.nth(0).locator("td")).to_have_text(["0", "0"])
    expect(rows.last.locator("td")).to_have_text([str(TABLE_ROWS - 1), str((TABLE_ROWS - 1) ** 2)])
    page.console.assert_clean()


# ------------------------------------------------------- a model version's files

@pytest.fixture(scope="module")
def model_versions(server, tmp_path_factory):
    """Two versions of one registered model: v1 logged by the client as an
    MLflow 3 logged model (source `models:/m-...`), v2 registered from a folder
    of a run's artifacts (source `runs:/<run>/model`) holding previewable files,
    one of them in a subfolder."""
    import mlflow
    from mlflow import MlflowClient

    # Both URIs: an earlier module may have left the registry URI on its server.
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    experiment_id = mlflow.create_experiment(unique("version-files"))
    name = unique("previewed-model")
    folder = tmp_path_factory.mktemp("version-artifacts")

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return model_input

    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=["pandas"],
                                registered_model_name=name)
        files = {"MLmodel": MLMODEL, "conda.yaml": "name: env\ndependencies:\n  - python=3.11\n",
                 "metrics.json": json.dumps({"rmse": 0.5}), "data/sample.csv": CSV}
        for path, text in files.items():
            local = folder / path
            local.parent.mkdir(exist_ok=True)
            local.write_text(text)
            mlflow.log_artifact(str(local), artifact_path=f"files/{path}".rpartition("/")[0])
        (folder / "plot.png").write_bytes(_png(40, 24))
        mlflow.log_artifact(str(folder / "plot.png"), artifact_path="files")
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    client.create_model_version(name, f"runs:/{run.info.run_id}/files", run_id=run.info.run_id)
    assert client.get_model_version(name, "1").source.startswith("models:/m-")
    return {"name": name, "run_id": run.info.run_id}


def test_model_version_page_lists_a_logged_models_files_with_previews(page, model_versions):
    from playwright.sync_api import expect

    name = model_versions["name"]
    page.goto(f"/models/{name}/versions/1")
    files = page.get_by_test_id("version-files")
    expect(files.locator("ul.tree")).to_contain_text("MLmodel")
    expect(files.locator("ul.tree")).to_contain_text("python_env.yaml")
    _click(files, "MLmodel")
    preview = page.get_by_test_id("artifact-preview")
    expect(preview.get_by_test_id("preview-text")).to_contain_text("python_function")
    expect(preview.get_by_test_id("preview-text")).to_contain_text("artifact_path")
    # Read, and downloaded, through the version (MLflow's route).
    expect(preview.get_by_test_id("preview-download")).to_have_attribute(
        "href", re.compile(r"^/model-versions/get-artifact\?.*name=.*version=1"))
    assert "artifact=MLmodel" in page.url
    _click(files, "requirements.txt")
    expect(preview.get_by_test_id("preview-text")).to_contain_text("pandas")
    page.console.assert_clean()


def test_model_version_page_previews_a_run_folders_files(page, server, model_versions):
    from playwright.sync_api import expect

    name = model_versions["name"]
    page.goto(f"/models/{name}/versions/2")
    files = page.get_by_test_id("version-files")
    tree = files.locator("ul.tree").first
    # The folder's files, named relative to it (not to the run's artifacts).
    expect(tree).to_contain_text("MLmodel")
    expect(tree.get_by_role("button", name=re.compile(r"\bdata\b"))).to_be_visible()
    preview = page.get_by_test_id("artifact-preview")

    _click(files, "plot.png")
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=preview-image]');"
        " return i && i.complete && i.naturalWidth > 0; }")
    assert preview.get_by_test_id("preview-image").evaluate(
        "i => [i.naturalWidth, i.naturalHeight]") == [40, 24]
    _click(files, "metrics.json")
    expect(preview.get_by_test_id("preview-json")).to_have_text(json.dumps({"rmse": 0.5}, indent=2))
    _click(files, "conda.yaml")
    expect(preview.get_by_test_id("preview-text")).to_have_text(
        "name: env\ndependencies:\n  - python=3.11\n")
    _click(files, "MLmodel")
    expect(preview.get_by_test_id("preview-text")).to_have_text(MLMODEL)
    files.get_by_role("button", name=re.compile(r"\bdata\b")).click()
    _click(files, "sample.csv")
    table = preview.get_by_test_id("preview-table")
    expect(table.locator("thead th")).to_have_text(["name", "comment", "score"])
    expect(table.locator("tbody tr").nth(0).locator("td")).to_have_text(["alpha", "hello, world", "1"])
    _shot(page, "model-version-files")

    # The download link is the version's, and gives the file's bytes.
    href = preview.get_by_test_id("preview-download").get_attribute("href")
    assert href.startswith("/model-versions/get-artifact?"), href
    assert requests.get(server.url + href, timeout=10).text == CSV

    # A reload keeps the preview, its folder open.
    page.reload()
    expect(page.get_by_test_id("artifact-preview").get_by_test_id("preview-table")).to_be_visible()
    expect(files.get_by_role("button", name="sample.csv", exact=True)).to_have_attribute(
        "aria-pressed", "true")
    page.console.assert_clean()
