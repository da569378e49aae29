"""The web UI's traces: an experiment's traces page and one trace's page, in
Debian's chromium driven by Playwright (see test_webui.py), against a server
filled by the real `mlflow` client: `@mlflow.trace` and `mlflow.start_span`
(nested spans with inputs and outputs, sent over OTLP), `mlflow.log_feedback`
and `mlflow.log_expectation`.

The list shows the traces newest first, filters through the server's search
in MLflow's trace grammar (and shows its refusal of a bad filter), and pages
by page token; the trace page draws the span tree with a bar per span, shows
a clicked span's inputs and outputs, and the trace's assessments. A trace of
5,000 spans (one OTLP request) keeps only the rows in view in the DOM,
scrolls to its last span, chooses it by click, keyboard or link, and folds
and unfolds spans.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest
import requests

import conftest
from conftest import unique
from test_webui import Console, _shot, browser, page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slipway_only

QUESTIONS = {"q0": "red", "q1": "blue", "q2": "red"}  # question -> tags.team


@pytest.fixture(scope="module")
def traces_data(server):
    """An experiment with three `answer` traces (4 spans each: answer > retrieve >
    rank, answer > add), one failed `boom` trace (the newest), feedback and an
    expectation on q1's trace."""
    import mlflow
    from mlflow.entities import AssessmentSource, SpanType

    with pytest.MonkeyPatch.context() as mp:
        # Export each span as it ends, so every trace is stored when the call returns.
        mp.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
        mlflow.set_tracking_uri(server.url)
        experiment = mlflow.set_experiment(unique("webui-traces"))

        @mlflow.trace(span_type=SpanType.TOOL)
        def add(a, b):
            return a + b

        @mlflow.trace(name="answer", span_type=SpanType.CHAIN)
        def answer(question, team):
            mlflow.update_current_trace(tags={"team": team})
            with mlflow.start_span(name="retrieve", span_type=SpanType.RETRIEVER) as span:
                span.set_inputs({"query": question})
                with mlflow.start_span(name="rank", span_type=SpanType.RERANKER) as rank:
                    rank.set_inputs({"docs": ["doc-1", "doc-2"]})
                    rank.set_outputs(["doc-2"])
                span.set_outputs(["doc-2", "doc-1"])
            return {"answer": question + "!", "sum": add(1, 2)}

        @mlflow.trace(name="boom")
        def boom(x):
            raise ValueError("it broke")

        ids = {}
        for question, team in QUESTIONS.items():
            answer(question, team)
            ids[question] = mlflow.get_last_active_trace_id()
        with pytest.raises(ValueError):
            boom(1)
        ids["boom"] = mlflow.get_last_active_trace_id()
        mlflow.log_feedback(trace_id=ids["q1"], name="quality", value=0.75,
                            rationale="mostly right",
                            source=AssessmentSource(source_type="HUMAN", source_id="alice"))
        mlflow.log_expectation(trace_id=ids["q1"], name="expected_answer", value="q1!")
        mlflow.flush_trace_async_logging()
    # Set the tracking URI again so later tests get the client's default exporter.
    mlflow.set_tracking_uri(server.url)
    return {"experiment_id": experiment.experiment_id, "name": experiment.name, "ids": ids}


def _trace_names(page) -> list[str]:
    return page.locator("[data-testid=traces-table] .vt-row .trace-name").all_inner_texts()


def _trace_keys(page) -> list[str]:
    return page.locator("[data-testid=traces-table] .vt-row").evaluate_all(
        "rows => rows.map(r => r.dataset.key)")


def test_traces_page_lists_the_traces_newest_first(page, traces_data):
    from playwright.sync_api import expect

    ids = traces_data["ids"]
    # Reached from the experiment's page.
    page.goto(f"/experiments/{traces_data['experiment_id']}")
    expect(page.get_by_test_id("experiment-name")).to_have_text(traces_data["name"])
    page.get_by_test_id("traces-link").click()
    expect(page.get_by_test_id("trace-count")).to_have_text("4 traces")
    assert page.url.endswith(f"/experiments/{traces_data['experiment_id']}/traces")
    assert _trace_keys(page) == [ids["boom"], ids["q2"], ids["q1"], ids["q0"]]
    assert _trace_names(page) == ["boom", "answer", "answer", "answer"]
    failed = page.locator(f".vt-row[data-key='{ids['boom']}']")
    expect(failed).to_contain_text("ERROR")
    row = page.locator(f".vt-row[data-key='{ids['q1']}']")
    expect(row).to_contain_text("OK")
    expect(row).to_contain_text('{"question": "q1", "team": "blue"}')  # request preview
    expect(row).to_contain_text('"answer": "q1!"')  # response preview
    expect(row).to_contain_text("team=blue")
    expect(row).to_contain_text(" ms")  # duration
    _shot(page, "traces")
    page.console.assert_clean()


def test_trace_filter_narrows_through_the_server(page, traces_data):
    from playwright.sync_api import expect

    ids = traces_data["ids"]
    page.goto(f"/experiments/{traces_data['experiment_id']}/traces")
    expect(page.get_by_test_id("trace-count")).to_have_text("4 traces")
    box = page.get_by_label("Filter traces")
    box.fill("trace.status = 'ERROR'")
    box.press("Enter")
    expect(page.get_by_test_id("trace-count")).to_have_text("1 trace")
    assert _trace_keys(page) == [ids["boom"]]
    assert "filter=trace.status" in page.url
    box.fill("tags.team = 'red'")
    box.press("Enter")
    expect(page.get_by_test_id("trace-count")).to_have_text("2 traces")
    assert _trace_keys(page) == [ids["q2"], ids["q0"]]
    # The filter is in the link: a reload keeps it.
    page.reload()
    expect(page.get_by_test_id("trace-count")).to_have_text("2 traces")
    assert _trace_keys(page) == [ids["q2"], ids["q0"]]
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_test_id("trace-count")).to_have_text("4 traces")
    page.console.assert_clean()


def test_invalid_trace_filter_shows_the_servers_error(page, server, traces_data):
    from playwright.sync_api import expect

    bad = "trace.status <<< 'OK'"
    reply = requests.post(
        server.url + "/api/3.0/mlflow/traces/search", timeout=10,
        json={"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment":
                             {"experiment_id": traces_data["experiment_id"]}}],
              "filter": bad})
    error = conftest.assert_mlflow_error(reply, 400, "INVALID_PARAMETER_VALUE")
    page.goto(f"/experiments/{traces_data['experiment_id']}/traces")
    expect(page.get_by_test_id("trace-count")).to_have_text("4 traces")
    page.get_by_label("Filter traces").fill(bad)
    page.get_by_label("Filter traces").press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("INVALID_PARAMETER_VALUE")
    expect(alert).to_contain_text(error["message"])
    expect(page.get_by_test_id("trace-count")).to_have_text("0 traces")
    # The browser reports the 400 itself; nothing else may go wrong.
    page.console.assert_clean(allowed=("status of 400",))


def test_trace_page_shows_the_span_tree_waterfall_inputs_and_assessments(page, traces_data):
    from playwright.sync_api import expect

    ids = traces_data["ids"]
    page.goto(f"/experiments/{traces_data['experiment_id']}/traces")
    page.locator(f".vt-row[data-key='{ids['q1']}'] .trace-name").click()
    expect(page.get_by_test_id("trace-name")).to_have_text("answer")
    assert page.url.endswith(f"/traces/{ids['q1']}")
    expect(page.get_by_test_id("trace-state")).to_have_text("OK")

    tree = page.get_by_test_id("span-tree")
    spans = tree.get_by_role("treeitem")
    expect(spans).to_have_count(4)
    # Depth-first, children under their parent (by start time), each with its type.
    assert spans.evaluate_all("rows => rows.map(r => [r.dataset.span, r.getAttribute('aria-level')])") \
        == [["answer", "1"], ["retrieve", "2"], ["rank", "3"], ["add", "2"]]
    expect(tree.locator("[data-span=retrieve] .span-type")).to_have_text("RETRIEVER")
    expect(tree.locator("[data-span=add] .span-type")).to_have_text("TOOL")
    # The waterfall: the root's bar spans the trace; a child's starts later and is shorter.
    bars = {name: tree.locator(f"[data-span={name}] .wf-bar").bounding_box()
            for name in ("answer", "retrieve", "rank", "add")}
    root = bars["answer"]
    assert root["width"] > 300, bars
    for name in ("retrieve", "rank", "add"):
        bar = bars[name]
        assert bar["x"] >= root["x"] - 0.5 and bar["x"] + bar["width"] <= root["x"] + root["width"] + 0.5, bars
        assert bar["width"] < root["width"], bars
    assert bars["add"]["x"] > bars["retrieve"]["x"], bars  # add runs after retrieve

    # The root is shown first; a click on a span shows its inputs and outputs.
    detail = page.get_by_test_id("span-detail")
    expect(page.get_by_test_id("span-detail-name")).to_have_text("answer")
    expect(page.get_by_test_id("span-inputs")).to_contain_text('"question": "q1"')
    tree.locator("[data-span=retrieve]").click()
    expect(page.get_by_test_id("span-detail-name")).to_have_text("retrieve")
    expect(page.get_by_test_id("span-inputs")).to_contain_text('"query": "q1"')
    expect(page.get_by_test_id("span-outputs")).to_contain_text('"doc-2"')
    expect(detail.get_by_test_id("span-attributes")).to_contain_text("mlflow.spanType")
    expect(tree.locator("[data-span=retrieve]")).to_have_attribute("aria-selected", "true")
    assert "span=" in page.url
    tree.locator("[data-span=add]").click()
    expect(page.get_by_test_id("span-inputs")).to_contain_text('"a": 1')
    expect(page.get_by_test_id("span-outputs")).to_have_text("3")

    assessments = page.get_by_test_id("assessments")
    quality = assessments.locator("tr", has_text="quality")
    expect(quality).to_contain_text("feedback")
    expect(quality).to_contain_text("0.75")
    expect(quality).to_contain_text("HUMAN: alice")
    expect(quality).to_contain_text("mostly right")
    expected = assessments.locator("tr", has_text="expected_answer")
    expect(expected).to_contain_text("expectation")
    expect(expected).to_contain_text("q1!")
    tree.locator("[data-span=retrieve]").click()
    _shot(page, "trace")
    page.console.assert_clean()


def test_failed_trace_shows_its_error_span(page, traces_data):
    from playwright.sync_api import expect

    page.goto(f"/experiments/{traces_data['experiment_id']}/traces/{traces_data['ids']['boom']}")
    expect(page.get_by_test_id("trace-state")).to_have_text("ERROR")
    tree = page.get_by_test_id("span-tree")
    expect(tree.get_by_role("treeitem")).to_have_count(1)
    expect(tree.locator("[data-span=boom] .wf-bar.error")).to_have_count(1)
    expect(page.get_by_test_id("span-detail")).to_contain_text("it broke")
    page.console.assert_clean()


def test_unknown_trace_shows_the_servers_404(page, traces_data):
    from playwright.sync_api import expect

    page.goto(f"/experiments/{traces_data['experiment_id']}/traces/tr-{'0' * 32}")
    expect(page.get_by_role("alert")).to_contain_text("RESOURCE_DOES_NOT_EXIST")
    page.console.assert_clean(allowed=("status of 404",))


def test_traces_page_loads_the_next_page_by_token(page, server):
    """More traces than one page (100): the table asks for the next page by
    token as it scrolls near its end."""
    import mlflow
    from playwright.sync_api import expect

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
        mlflow.set_tracking_uri(server.url)
        experiment = mlflow.set_experiment(unique("webui-many-traces"))
        total = 130
        for i in range(total):
            with mlflow.start_span(name=f"bulk-{i:03d}") as span:
                span.set_inputs({"i": i})
        mlflow.flush_trace_async_logging()
    mlflow.set_tracking_uri(server.url)
    page.goto(f"/experiments/{experiment.experiment_id}/traces")
    expect(page.get_by_test_id("trace-count")).to_contain_text("100 traces")
    table = page.get_by_test_id("traces-table")
    for _ in range(20):
        table.evaluate("t => { t.scrollTop = t.scrollHeight; }")
        page.wait_for_timeout(150)
        if page.get_by_test_id("trace-count").inner_text() == f"{total} traces":
            break
    expect(page.get_by_test_id("trace-count")).to_have_text(f"{total} traces")
    table.evaluate("t => { t.scrollTop = t.scrollHeight; }")
    # Newest first: the last row is the first trace made.
    expect(page.locator("[data-testid=traces-table] .vt-row").last).to_contain_text("bulk-000")
    page.console.assert_clean()


# ------------------------------------------------------ a trace of 5,000 spans

BIG_TRACE_SPANS = 5000
GROUP_LEAVES = 99  # each `step-NN` span holds up to this many `tool-NN-MMM` spans


def _otlp_trace(spans: int, t0_ns: int) -> tuple[bytes, str, list[str]]:
    """One ExportTraceServiceRequest as MLflow's client sends it: a root
    `pipeline` span, `step-NN` children, each with `tool-NN-MMM` leaves, in
    all `spans` spans, each later than the one before. Returns the body, the
    trace's id and the span names in depth-first order."""
    import random

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    trace_id = random.getrandbits(128).to_bytes(16, "big")
    request_id = "tr-" + trace_id.hex()
    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()
    order: list[str] = []

    def add(name: str, parent: bytes | None, index: int, kind: str, end_ns: int) -> bytes:
        span = scope.spans.add()
        span.trace_id = trace_id
        span.span_id = random.getrandbits(64).to_bytes(8, "big")
        if parent:
            span.parent_span_id = parent
        span.name = name
        span.start_time_unix_nano = t0_ns + index * 1000
        span.end_time_unix_nano = end_ns
        span.status.code = 1
        for key, value in (("mlflow.traceRequestId", json.dumps(request_id)),
                           ("mlflow.spanType", json.dumps(kind)),
                           ("mlflow.spanInputs", json.dumps({"n": index})),
                           ("mlflow.spanOutputs", json.dumps(f"out {name}"))):
            span.attributes.add(key=key, value=AnyValue(string_value=value))
        order.append(name)
        return span.span_id

    end = t0_ns + spans * 1000 + 1000
    root = add("pipeline", None, 0, "CHAIN", end)
    group = 0
    while len(order) < spans:
        step = add(f"step-{group:02d}", root, len(order), "CHAIN", end - 1)
        for leaf in range(GROUP_LEAVES):
            if len(order) == spans:
                break
            add(f"tool-{group:02d}-{leaf:03d}", step, len(order), "TOOL", t0_ns + len(order) * 1000 + 500)
        group += 1
    return req.SerializeToString(), request_id, order


@pytest.fixture(scope="module")
def big_trace(server):
    import time

    experiment_id = requests.post(
        server.url + "/api/2.0/mlflow/experiments/create", timeout=10,
        json={"name": unique("webui-big-trace")}).json()["experiment_id"]
    body, trace_id, order = _otlp_trace(BIG_TRACE_SPANS, time.time_ns())
    reply = requests.post(server.url + "/v1/traces", data=body, timeout=60,
                          headers={"Content-Type": "application/x-protobuf",
                                   "x-mlflow-experiment-id": experiment_id})
    assert reply.status_code == 200, reply.text[:300]
    return {"experiment_id": experiment_id, "trace_id": trace_id, "order": order}


def _rows_in_dom(tree) -> int:
    return tree.get_by_role("treeitem").count()


def test_a_trace_of_5000_spans_draws_only_the_rows_in_view(page, big_trace):
    from playwright.sync_api import expect

    order = big_trace["order"]
    assert len(order) == BIG_TRACE_SPANS
    page.goto(f"/experiments/{big_trace['experiment_id']}/traces/{big_trace['trace_id']}")
    expect(page.get_by_role("heading", name="Spans")).to_contain_text(f"({BIG_TRACE_SPANS})")
    tree = page.get_by_test_id("span-tree")
    expect(tree.locator("[data-span=pipeline]")).to_be_visible()
    # Far fewer rows than spans, in depth-first order from the root.
    assert 10 <= _rows_in_dom(tree) <= 60, _rows_in_dom(tree)
    names = tree.get_by_role("treeitem").evaluate_all("rows => rows.map(r => r.dataset.span)")
    assert names == order[:len(names)]

    # Scrolled to the end: the last span is drawn, still few rows.
    scroller = page.get_by_test_id("span-scroller")
    scroller.evaluate("s => { s.scrollTop = s.scrollHeight; }")
    last = tree.locator(f"[data-span='{order[-1]}']")
    expect(last).to_be_visible()
    assert _rows_in_dom(tree) <= 60, _rows_in_dom(tree)
    assert tree.locator("[data-span=pipeline]").count() == 0
    assert last.get_attribute("aria-level") == "3"

    # Chosen: its details, and the link names it.
    last.click()
    expect(page.get_by_test_id("span-detail-name")).to_have_text(order[-1])
    expect(page.get_by_test_id("span-inputs")).to_contain_text(f'"n": {BIG_TRACE_SPANS - 1}')
    expect(page.get_by_test_id("span-outputs")).to_have_text(f"out {order[-1]}")
    expect(last).to_have_attribute("aria-selected", "true")
    span_id = quote(last.get_attribute("data-span-id"), safe="")
    assert f"span={span_id}" in page.url

    # ↑ chooses the span above.
    tree.focus()
    page.keyboard.press("ArrowUp")
    expect(page.get_by_test_id("span-detail-name")).to_have_text(order[-2])

    # The link opens at that span, scrolled to it, chosen.
    page.goto(f"/experiments/{big_trace['experiment_id']}/traces/{big_trace['trace_id']}"
              f"?span={span_id}")
    expect(page.get_by_test_id("span-detail-name")).to_have_text(order[-1])
    expect(tree.locator(f"[data-span='{order[-1]}']")).to_have_attribute("aria-selected", "true")
    assert _rows_in_dom(tree) <= 60
    _shot(page, "trace-5000-spans")
    page.console.assert_clean()


def test_span_tree_folds_and_unfolds(page, big_trace):
    from playwright.sync_api import expect

    page.goto(f"/experiments/{big_trace['experiment_id']}/traces/{big_trace['trace_id']}")
    tree = page.get_by_test_id("span-tree")
    step = tree.locator("[data-span=step-00]")
    expect(step).to_have_attribute("aria-expanded", "true")
    expect(tree.locator("[data-span=tool-00-000]")).to_be_visible()
    spacer_height = "s => s.firstElementChild.getBoundingClientRect().height"
    scroller = page.get_by_test_id("span-scroller")
    full = scroller.evaluate(spacer_height)

    step.get_by_role("button", name="Fold step-00").click()
    expect(step).to_have_attribute("aria-expanded", "false")
    expect(step).to_contain_text(f"+{GROUP_LEAVES}")
    expect(tree.locator("[data-span=tool-00-000]")).to_have_count(0)
    # The next row under the folded step is the next step; the tree is shorter
    # by the folded rows, and folding chose nothing.
    names = tree.get_by_role("treeitem").evaluate_all("rows => rows.map(r => r.dataset.span)")
    assert names[:3] == ["pipeline", "step-00", "step-01"], names[:3]
    assert scroller.evaluate(spacer_height) < full
    expect(page.get_by_test_id("span-detail-name")).to_have_text("pipeline")

    # Folding the root leaves one row; unfolding brings the steps back (step-00 still folded).
    tree.locator("[data-span=pipeline]").get_by_role("button", name="Fold pipeline").click()
    expect(tree.get_by_role("treeitem")).to_have_count(1)
    tree.locator("[data-span=pipeline]").get_by_role("button", name="Unfold pipeline").click()
    expect(tree.locator("[data-span=step-01]")).to_be_visible()
    expect(tree.locator("[data-span=tool-00-000]")).to_have_count(0)
    step.get_by_role("button", name="Unfold step-00").click()
    expect(tree.locator("[data-span=tool-00-000]")).to_be_visible()
    assert scroller.evaluate(spacer_height) == full
    page.console.assert_clean()
