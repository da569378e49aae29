"""A 1,000,000-point metric in the run page's chart, in Debian's chromium
driven by Playwright (see test_webui.py).

The history is logged through the REST API's log-batch, 1000 points per
request from several keep-alive clients at once (as bench/tracking/run.py
fills its servers). The run page's chart must draw it (ink on its canvas)
from a history the server sampled (metrics/get-history-bulk-interval): the
page asks for at most a few thousand points and fetches well under a
megabyte for the chart, the first and last steps included.
"""

from __future__ import annotations

import json
import math
import threading
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from conftest import unique
from test_webui import Console, _canvas_ink, _shot, browser, page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slipway_only

POINTS = 1_000_000
BATCH = 1000  # log-batch's limit of metrics per request
CLIENTS = 8
MAX_CHART_BYTES = 1_000_000
MAX_ASKED_POINTS = 5000


def _value(step: int) -> float:
    return 1.0 / (1 + step / 1000) + 0.05 * math.sin(step / 5000)


@pytest.fixture(scope="module")
def big_metric(server):
    api = server.url + "/api/2.0/mlflow"
    experiment_id = requests.post(api + "/experiments/create", timeout=10,
                                  json={"name": unique("big-metric")}).json()["experiment_id"]
    t0 = int(time.time() * 1000)
    run_id = requests.post(api + "/runs/create", timeout=10,
                           json={"experiment_id": experiment_id, "start_time": t0,
                                 "run_name": "million"}).json()["run"]["info"]["run_id"]
    starts = list(range(0, POINTS, BATCH))
    lock = threading.Lock()
    failures: list[str] = []

    def client():
        session = requests.Session()
        while True:
            with lock:
                if not starts or failures:
                    return
                lo = starts.pop()
            body = json.dumps({"run_id": run_id, "metrics": [
                {"key": "loss", "value": _value(s), "timestamp": t0 + s, "step": s}
                for s in range(lo, lo + BATCH)]})
            reply = session.post(api + "/runs/log-batch", data=body, timeout=60,
                                 headers={"Content-Type": "application/json"})
            if reply.status_code != 200:
                with lock:
                    failures.append(f"{lo}: {reply.status_code} {reply.text[:200]}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    print(f"\n{POINTS} points logged in {time.perf_counter() - started:.1f}s")
    return {"experiment_id": experiment_id, "run_id": run_id}


def test_run_page_draws_a_million_point_metric_from_a_bounded_sample(page, big_metric):
    from playwright.sync_api import expect

    fetched: list[dict] = []

    def on_response(response):
        if "/metrics/get-history-bulk-interval" in response.url:
            body = response.body()
            fetched.append({"url": response.url, "bytes": len(body),
                            "encoding": response.all_headers().get("content-encoding"),
                            "points": json.loads(body).get("metrics", [])})

    page.on("response", on_response)
    started = time.perf_counter()
    page.goto(f"/experiments/{big_metric['experiment_id']}/runs/{big_metric['run_id']}")
    expect(page.get_by_test_id("run-name")).to_have_text("million")
    # The latest point is the millionth.
    expect(page.get_by_test_id("metrics")).to_contain_text(str(POINTS - 1))
    chart = page.get_by_test_id("metric-chart")
    expect(chart.locator(".chart-title")).to_have_text("loss")
    expect(page.get_by_test_id("chart-points")).to_contain_text("points drawn", timeout=20_000)
    assert _canvas_ink(page) > 500
    seconds = time.perf_counter() - started
    _shot(page, "run-chart-1m-points")

    assert fetched, "the chart fetched no history"
    total = sum(f["bytes"] for f in fetched)
    assert total < MAX_CHART_BYTES, (total, [f["url"] for f in fetched])
    for f in fetched:
        query = parse_qs(urlparse(f["url"]).query)
        assert query["metric_key"] == ["loss"], f["url"]
        asked = int(query["max_results"][0])
        assert asked <= MAX_ASKED_POINTS, f["url"]
        assert 0 < len(f["points"]) <= asked, (len(f["points"]), asked)
        # The browser accepts gzip, and a sample of hundreds of points is
        # worth compressing.
        assert f["encoding"] == "gzip", f
    # The whole history, sampled: from the first step to the last.
    steps = sorted(p["step"] for p in fetched[-1]["points"])
    assert steps[0] == 0 and steps[-1] == POINTS - 1, (steps[0], steps[-1])
    drawn = int(page.get_by_test_id("chart-points").inner_text().split()[0])
    assert 300 <= drawn <= MAX_ASKED_POINTS, drawn
    print(f"chart: {drawn} points drawn from {total} bytes in {len(fetched)} request(s), "
          f"page to ink {seconds:.1f}s")
    page.console.assert_clean()
