"""MLflow 3's tracing through the real `mlflow` client and the OpenTelemetry SDK: traces
from `@mlflow.trace` and `mlflow.start_span` (spans sent over OTLP to `/v1/traces`, the
trace's info through `POST /api/3.0/mlflow/traces`), `get_trace`, `search_traces` with
MLflow's filter grammar, tags, deletes, links to runs, assessments (feedback,
expectations, overrides), and the errors bad input gets.

MLflow's client sends spans over OTLP only to servers whose `GET /version` is 3.4 or
later; Slipway answers the MLflow release it speaks. Both of the client's export modes
are exercised: synchronous (every span as it ends) and the default asynchronous one, in
which the trace's info and its spans race each other to the server.
"""

from __future__ import annotations

import json
import time

import mlflow
import pytest
import requests
from mlflow.entities import AssessmentSource, SpanType
from mlflow.exceptions import MlflowException
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from conftest import REFERENCE, assert_mlflow_error, unique


@pytest.fixture
def traced(mlflow_client, monkeypatch, request):
    """The fluent API pointed at the shared server, in an experiment of the test's own,
    exporting synchronously unless the test asks for the asynchronous default."""
    asynchronous = getattr(request, "param", False)
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "true" if asynchronous else "false")
    # Setting the tracking URI again rebuilds the tracer with the exporter mode above.
    mlflow.set_tracking_uri(mlflow.get_tracking_uri())
    experiment = mlflow.set_experiment(unique("traces"))
    yield experiment.experiment_id
    mlflow.flush_trace_async_logging()


def _answer_question(question: str) -> dict:
    @mlflow.trace(span_type=SpanType.TOOL)
    def add(a, b):
        return a + b

    @mlflow.trace(name="answer", span_type=SpanType.CHAIN, attributes={"team": "search"})
    def answer(question):
        mlflow.update_current_trace(tags={"utag": "v1"}, metadata={"umeta": "m1"},
                                    client_request_id="creq-" + question)
        with mlflow.start_span(name="retrieve", span_type=SpanType.RETRIEVER) as span:
            span.set_inputs({"query": question})
            span.set_outputs(["doc-1", "doc-2"])
        return {"answer": question + "!", "sum": add(1, 2)}

    return answer(question)


def _last_trace_id() -> str:
    mlflow.flush_trace_async_logging()
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id and trace_id.startswith("tr-")
    return trace_id


def _check_answer_trace(trace, question: str) -> None:
    assert trace.info.state == "OK"
    assert trace.info.client_request_id == "creq-" + question
    assert trace.info.tags["utag"] == "v1"
    assert trace.info.tags["mlflow.traceName"] == "answer"
    assert trace.info.trace_metadata["umeta"] == "m1"
    assert json.loads(trace.info.request_preview) == {"question": question}
    assert trace.info.execution_duration is not None and trace.info.execution_duration >= 0
    spans = {s.name: s for s in trace.data.spans}
    assert set(spans) == {"answer", "add", "retrieve"}
    root = trace.data.spans[0]
    assert root.name == "answer" and root.parent_id is None
    assert root.span_type == SpanType.CHAIN
    assert root.inputs == {"question": question}
    assert root.outputs == {"answer": question + "!", "sum": 3}
    assert root.attributes["team"] == "search"
    assert spans["add"].parent_id == root.span_id
    assert spans["add"].inputs == {"a": 1, "b": 2} and spans["add"].outputs == 3
    assert spans["retrieve"].span_type == SpanType.RETRIEVER
    assert spans["retrieve"].outputs == ["doc-1", "doc-2"]
    for span in trace.data.spans:
        assert span.trace_id == trace.info.trace_id
        assert span.end_time_ns >= span.start_time_ns > 0


def test_a_traced_function_is_stored_with_its_spans(traced):
    _answer_question("hello")
    trace_id = _last_trace_id()
    trace = mlflow.get_trace(trace_id)
    _check_answer_trace(trace, "hello")
    # The spans came over OTLP and live in the store, not in the artifact store.
    assert trace.info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert trace.info.tags["mlflow.artifactLocation"].endswith(
        f"/traces/{trace_id}/artifacts")
    assert trace.info.trace_location.mlflow_experiment.experiment_id == traced


@pytest.mark.parametrize("traced", [True], indirect=True)
def test_asynchronous_export_loses_nothing_whichever_call_arrives_first(traced):
    for i in range(5):
        _answer_question(f"q{i}")
    mlflow.flush_trace_async_logging()
    traces = mlflow.search_traces(locations=[traced], return_type="list")
    assert len(traces) == 5
    for trace in traces:
        question = json.loads(trace.info.request_preview)["question"]
        _check_answer_trace(trace, question)


def test_an_exception_makes_an_error_trace_with_the_exception_event(traced):
    @mlflow.trace
    def fails(x):
        raise ValueError("bad input " + str(x))

    with pytest.raises(ValueError):
        fails(7)
    trace = mlflow.get_trace(_last_trace_id())
    assert trace.info.state == "ERROR"
    (span,) = trace.data.spans
    assert span.status.status_code == "ERROR"
    assert "bad input 7" in span.status.description
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "bad input 7"


def test_search_traces_with_mlflows_filters_order_and_pages(traced):
    for q in ("alpha", "beta", "gamma"):
        _answer_question(q)
        time.sleep(0.01)
    mlflow.set_trace_tag  # the fluent API has it; the client is used below

    @mlflow.trace(name="other")
    def other():
        return 1

    other()
    mlflow.flush_trace_async_logging()

    def ids(**kw):
        return [t.info.client_request_id for t in
                mlflow.search_traces(locations=[traced], return_type="list", **kw)]

    # Newest first by default.
    assert ids(filter_string="tags.utag = 'v1'") == ["creq-gamma", "creq-beta", "creq-alpha"]
    assert ids(filter_string="tags.utag = 'v1'", order_by=["timestamp_ms ASC"]) == [
        "creq-alpha", "creq-beta", "creq-gamma"]
    assert ids(filter_string="attributes.status = 'OK' AND metadata.umeta = 'm1' AND "
                             "tags.utag LIKE 'v%'") == ["creq-gamma", "creq-beta", "creq-alpha"]
    assert ids(filter_string="trace.client_request_id = 'creq-beta'") == ["creq-beta"]
    assert ids(filter_string="name = 'other'") == [None]
    assert ids(filter_string="tags.utag IS NULL") == [None]
    assert len(ids(filter_string="span.type = 'RETRIEVER'")) == 3
    assert ids(filter_string="span.name = 'retrieve' AND span.type = 'TOOL'") == []
    assert len(ids(filter_string="timestamp_ms > 0 AND execution_time_ms >= 0")) == 4
    assert ids(filter_string="timestamp_ms < 0") == []

    # Pages through the client's own paging.
    first = mlflow.MlflowClient().search_traces(locations=[traced], max_results=2,
                                                filter_string="tags.utag = 'v1'")
    assert [t.info.client_request_id for t in first] == ["creq-gamma", "creq-beta"]
    assert first.token
    second = mlflow.MlflowClient().search_traces(locations=[traced], max_results=2,
                                                 filter_string="tags.utag = 'v1'",
                                                 page_token=first.token)
    assert [t.info.client_request_id for t in second] == ["creq-alpha"]


def test_bad_search_input_gets_clear_errors(traced, server):
    def search(**body):
        return requests.post(f"{server.url}/api/3.0/mlflow/traces/search", json={
            "locations": [{"type": "MLFLOW_EXPERIMENT",
                           "mlflow_experiment": {"experiment_id": traced}}], **body})

    assert_mlflow_error(search(filter="status = OK"), 400, "INVALID_PARAMETER_VALUE",
                        "not quoted")
    assert_mlflow_error(search(filter="tags.a = 'x' OR tags.b = 'y'"), 400,
                        "INVALID_PARAMETER_VALUE")
    assert_mlflow_error(search(filter="bogus.key = 'x'"), 400, "INVALID_PARAMETER_VALUE",
                        "Invalid entity type 'bogus'")
    assert_mlflow_error(search(filter="attributes.nope = 'x'"), 400,
                        "INVALID_PARAMETER_VALUE", "Invalid attribute key 'nope'")
    assert_mlflow_error(search(max_results=501), 400, "INVALID_PARAMETER_VALUE", "501")
    if not REFERENCE:  # mlflow server answers this one with a 500
        assert_mlflow_error(search(order_by=["timestamp_ms", "timestamp_ms DESC"]), 400,
                            "INVALID_PARAMETER_VALUE", "duplicate")
    assert_mlflow_error(search(page_token="not a token!"), 400, "INVALID_PARAMETER_VALUE",
                        "page token")
    r = requests.post(f"{server.url}/api/3.0/mlflow/traces/search", json={})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "locations")
    # An experiment that does not exist matches nothing, as in MLflow.
    r = requests.post(f"{server.url}/api/3.0/mlflow/traces/search", json={
        "locations": [{"type": "MLFLOW_EXPERIMENT",
                       "mlflow_experiment": {"experiment_id": "987654"}}]})
    assert r.status_code == 200 and r.json() == {}


def test_unknown_traces_are_not_found(traced, server):
    missing = "tr-" + "0" * 32
    with pytest.raises(MlflowException) as exc:
        mlflow.MlflowClient().get_trace(missing)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert_mlflow_error(requests.get(f"{server.url}/api/3.0/mlflow/traces/{missing}"), 404,
                        "RESOURCE_DOES_NOT_EXIST")
    if not REFERENCE:  # mlflow server leaks its SQL error here (400 BAD_REQUEST)
        r = requests.patch(f"{server.url}/api/2.0/mlflow/traces/{missing}/tags",
                           json={"key": "k", "value": "v"})
        assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = requests.get(f"{server.url}/api/3.0/mlflow/traces/batchGet",
                     params={"trace_ids": [missing]})
    assert r.status_code == 200 and r.json() == {}


def test_trace_tags_set_and_delete(traced, server):
    _answer_question("tags")
    trace_id = _last_trace_id()
    client = mlflow.MlflowClient()
    client.set_trace_tag(trace_id, "reviewed", "yes")
    assert client.get_trace(trace_id).info.tags["reviewed"] == "yes"
    assert [t.info.trace_id for t in client.search_traces(
        locations=[traced], filter_string="tags.reviewed = 'yes'")] == [trace_id]
    client.delete_trace_tag(trace_id, "reviewed")
    assert "reviewed" not in client.get_trace(trace_id).info.tags
    r = requests.delete(f"{server.url}/api/2.0/mlflow/traces/{trace_id}/tags",
                        json={"key": "reviewed"})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "reviewed")


@pytest.mark.slipway_only
def test_where_a_traces_data_lives_cannot_be_retagged(traced, server):
    _answer_question("immutable")
    trace_id = _last_trace_id()
    client = mlflow.MlflowClient()
    # Where the spans are, and where the client writes and reads artifacts, is the
    # server's to say: changing it would point readers at another experiment's data.
    for key in ("mlflow.trace.spansLocation", "mlflow.artifactLocation"):
        r = requests.patch(f"{server.url}/api/2.0/mlflow/traces/{trace_id}/tags",
                           json={"key": key, "value": "mlflow-artifacts:/0/elsewhere"})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "immutable")
    assert client.get_trace(trace_id).info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"


def test_delete_traces_by_id_and_by_age(traced, server):
    for q in ("d1", "d2", "d3", "d4"):
        _answer_question(q)
        time.sleep(0.01)
    mlflow.flush_trace_async_logging()
    client = mlflow.MlflowClient()
    traces = client.search_traces(locations=[traced], order_by=["timestamp_ms ASC"])
    ids = [t.info.trace_id for t in traces]
    assert client.delete_traces(traced, trace_ids=[ids[3]]) == 1
    # The oldest first, at most max_traces of them.
    newest_left = traces[2].info.timestamp_ms
    assert client.delete_traces(traced, max_timestamp_millis=newest_left, max_traces=1) == 1
    left = [t.info.trace_id for t in client.search_traces(locations=[traced])]
    assert sorted(left) == sorted(ids[1:3])
    with pytest.raises(MlflowException):
        client.get_trace(ids[0])
    r = requests.post(f"{server.url}/api/2.0/mlflow/traces/delete-traces",
                      json={"experiment_id": traced})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "max_timestamp_millis")
    r = requests.post(f"{server.url}/api/2.0/mlflow/traces/delete-traces",
                      json={"experiment_id": traced, "request_ids": ids[1:2],
                            "max_timestamp_millis": 1})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Only one")


def test_traces_of_a_run_and_links_to_runs(traced):
    with mlflow.start_run() as run:
        _answer_question("in-run")
    in_run = _last_trace_id()
    _answer_question("outside")
    outside = _last_trace_id()
    found = mlflow.search_traces(locations=[traced], run_id=run.info.run_id, return_type="list")
    assert [t.info.trace_id for t in found] == [in_run]
    client = mlflow.MlflowClient()
    client.link_traces_to_run([outside], run_id=run.info.run_id)
    found = mlflow.search_traces(locations=[traced], run_id=run.info.run_id, return_type="list")
    assert sorted(t.info.trace_id for t in found) == sorted([in_run, outside])


def test_feedback_expectations_overrides_and_filters(traced):
    _answer_question("judged")
    trace_id = _last_trace_id()
    root_span = mlflow.get_trace(trace_id).data.spans[0]
    feedback = mlflow.log_feedback(trace_id=trace_id, name="quality", value=0.8,
                                   rationale="mostly right", metadata={"k": "v"},
                                   source=AssessmentSource(source_type="HUMAN",
                                                           source_id="alice"))
    assert feedback.assessment_id.startswith("a-")
    mlflow.log_feedback(trace_id=trace_id, name="relevant", value=True,
                        span_id=root_span.span_id)
    expectation = mlflow.log_expectation(trace_id=trace_id, name="expected",
                                         value={"answer": "judged!"})
    got = mlflow.get_assessment(trace_id, expectation.assessment_id)
    assert got.value == {"answer": "judged!"}

    trace = mlflow.get_trace(trace_id)
    by_name = {a.name: a for a in trace.info.assessments}
    assert by_name["quality"].value == 0.8
    assert by_name["quality"].rationale == "mostly right"
    assert by_name["quality"].metadata == {"k": "v"}
    assert by_name["quality"].source.source_id == "alice"
    assert by_name["relevant"].value is True
    assert by_name["relevant"].span_id == root_span.span_id
    assert by_name["expected"].value == {"answer": "judged!"}

    def matching(f):
        return [t.info.trace_id for t in
                mlflow.search_traces(locations=[traced], filter_string=f, return_type="list")]

    assert matching("feedback.quality > 0.5") == [trace_id]
    assert matching("feedback.quality >= 0.9") == []
    assert matching("feedback.relevant = 'true'") == [trace_id]
    assert matching("feedback.missing IS NULL") == [trace_id]

    # An override replaces the old value in searches; deleting it brings the old back.
    new = mlflow.override_feedback(trace_id=trace_id, assessment_id=feedback.assessment_id,
                                   value=0.3, rationale="wrong after all")
    trace = mlflow.get_trace(trace_id)
    valid = {a.assessment_id: a.valid for a in trace.info.assessments}
    assert valid[feedback.assessment_id] is False and valid[new.assessment_id] is True
    assert matching("feedback.quality > 0.5") == []
    mlflow.delete_assessment(trace_id, new.assessment_id)
    assert matching("feedback.quality > 0.5") == [trace_id]

    updated = mlflow.update_assessment(
        trace_id=trace_id, assessment_id=feedback.assessment_id,
        assessment=mlflow.entities.Feedback(name="quality", value=0.95, rationale="better"))
    assert updated.value == 0.95 and updated.rationale == "better"
    assert mlflow.get_assessment(trace_id, feedback.assessment_id).value == 0.95
    assert matching("feedback.quality >= 0.9") == [trace_id]


def test_spans_from_the_opentelemetry_sdk_over_otlp(traced, server):
    """Any OpenTelemetry-instrumented program exports to Slipway by pointing the SDK's
    OTLP/HTTP exporter at /v1/traces with the experiment in a header."""
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"x-mlflow-experiment-id": traced})))
    tracer = provider.get_tracer("shop")
    with tracer.start_as_current_span("checkout", attributes={"cart.items": 3}) as root:
        with tracer.start_as_current_span("charge") as child:
            child.set_attribute("amount", 12.5)
            child.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR, "card declined"))
    provider.shutdown()
    trace_id = "tr-" + format(root.get_span_context().trace_id, "032x")
    trace = mlflow.get_trace(trace_id)
    assert trace is not None
    assert trace.info.tags["service.name"] == "checkout"
    assert trace.info.state == "OK"  # the root's status
    assert [s.name for s in trace.data.spans] == ["checkout", "charge"]
    checkout, charge = trace.data.spans
    assert checkout.attributes["cart.items"] == 3
    assert charge.parent_id == checkout.span_id
    assert charge.attributes["amount"] == 12.5
    assert charge.status.status_code == "ERROR"
    assert charge.status.description == "card declined"


_OTLP_TRACE_HEX = "5b8efff798038103d269b633813fc60c"


def _otlp_json_body(trace_hex: str = _OTLP_TRACE_HEX) -> dict:
    span = {"traceId": trace_hex, "spanId": "eee19b7ec3c1b174", "name": "json-span",
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000500000000",
            "attributes": [{"key": "q", "value": {"stringValue": "x"}},
                           {"key": "n", "value": {"intValue": "42"}},
                           {"key": "tags", "value": {"arrayValue": {"values": [
                               {"stringValue": "a"}, {"boolValue": True}]}}}],
            "status": {"code": 1}}
    return {"resourceSpans": [{"resource": {"attributes": []},
                               "scopeSpans": [{"spans": [span]}]}]}


def test_otlp_json(traced, server):
    r = requests.post(f"{server.url}/v1/traces", json=_otlp_json_body(),
                      headers={"x-mlflow-experiment-id": traced})
    assert r.status_code == 200, r.text
    trace = mlflow.get_trace("tr-" + _OTLP_TRACE_HEX)
    (got,) = trace.data.spans
    assert got.name == "json-span"
    assert got.attributes["n"] == 42 and got.attributes["tags"] == ["a", True]
    assert trace.info.execution_duration == 500
    assert trace.info.timestamp_ms == 1700000000000


@pytest.mark.slipway_only
def test_bad_otlp_input_gets_clear_errors(traced, server):
    """mlflow server answers these with FastAPI's {"detail": ...}; Slipway with MLflow's
    error form, as every other route."""
    trace_hex = "6b8efff798038103d269b633813fc60c"
    body = _otlp_json_body(trace_hex)
    headers = {"x-mlflow-experiment-id": traced}
    r = requests.post(f"{server.url}/v1/traces", json=body, headers=headers)
    assert r.status_code == 200, r.text

    def post(data, content_type="application/x-protobuf", hdrs=headers):
        return requests.post(f"{server.url}/v1/traces", data=data,
                             headers={**hdrs, "Content-Type": content_type})

    assert_mlflow_error(post(b"\x0a\xff\xff\xff"), 400, "INVALID_PARAMETER_VALUE",
                        "Invalid OpenTelemetry format")
    assert_mlflow_error(post(b"{", "application/json"), 400, "INVALID_PARAMETER_VALUE",
                        "Invalid OpenTelemetry format")
    assert_mlflow_error(post(b"", "text/plain"), 400, "INVALID_PARAMETER_VALUE",
                        "Invalid Content-Type")
    assert_mlflow_error(post(json.dumps(body), "application/json", {}), 400,
                        "INVALID_PARAMETER_VALUE", "x-mlflow-experiment-id")
    assert_mlflow_error(post(json.dumps(body), "application/json",
                             {"x-mlflow-experiment-id": "987654"}), 404,
                        "RESOURCE_DOES_NOT_EXIST")
    empty = {"resourceSpans": []}
    assert_mlflow_error(post(json.dumps(empty), "application/json"), 400,
                        "INVALID_PARAMETER_VALUE", "no spans")
    bad_id = json.loads(json.dumps(body))
    bad_id["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "abc"
    assert_mlflow_error(post(json.dumps(bad_id), "application/json"), 400,
                        "INVALID_PARAMETER_VALUE", "traceId")
    # Attribute values nested without end are refused before they exhaust the stack.
    value = {"stringValue": "leaf"}
    for _ in range(200):
        value = {"arrayValue": {"values": [value]}}
    deep = json.loads(json.dumps(body))
    deep["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = [
        {"key": "deep", "value": value}]
    assert_mlflow_error(post(json.dumps(deep), "application/json"), 400,
                        "INVALID_PARAMETER_VALUE", "nest")
    # The same in protobuf: AnyValue{array_value{values{...}}} 200 levels deep.
    inner = b"\x0a\x04leaf"
    for _ in range(200):
        array = b"\x0a" + _varint(len(inner)) + inner
        inner = b"\x2a" + _varint(len(array)) + array
    kv = b"\x0a\x04deep\x12" + _varint(len(inner)) + inner
    span_pb = (b"\x0a\x10" + bytes.fromhex(trace_hex) + b"\x12\x08" + bytes(8) +
               b"\x4a" + _varint(len(kv)) + kv)
    scope = b"\x12" + _varint(len(span_pb)) + span_pb
    rs = b"\x12" + _varint(len(scope)) + scope
    request = b"\x0a" + _varint(len(rs)) + rs
    assert_mlflow_error(post(request), 400, "INVALID_PARAMETER_VALUE", "nest")
    # A span may not join a trace of another experiment.
    other = mlflow.create_experiment(unique("other"))
    assert_mlflow_error(post(json.dumps(body), "application/json",
                             {"x-mlflow-experiment-id": other}), 400,
                        "INVALID_PARAMETER_VALUE", "belongs to experiment")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def test_version_says_which_mlflow_protocol_the_server_speaks(server):
    r = requests.get(f"{server.url}/version")
    assert r.status_code == 200
    from packaging.version import Version

    assert Version(r.text) >= Version("3.4")
    if not REFERENCE:
        assert r.headers["X-Slipway-Version"]


def test_prompts_loaded_in_a_trace_are_linked_to_it(traced):
    name = unique("greet")
    mlflow.genai.register_prompt(name=name, template="Hello {{who}}")

    @mlflow.trace
    def greet(who):
        return mlflow.genai.load_prompt(f"prompts:/{name}/1").format(who=who)

    assert greet("bob") == "Hello bob"
    trace_id = _last_trace_id()
    # The client links the prompt after the trace's export, in the background.
    found = []
    deadline = time.time() + 15
    while time.time() < deadline and not found:
        found = mlflow.search_traces(locations=[traced], filter_string=f"prompt = '{name}/1'",
                                     return_type="list")
        time.sleep(0.2)
    assert [t.info.trace_id for t in found] == [trace_id]
    assert mlflow.search_traces(locations=[traced], filter_string=f"prompt = '{name}/2'",
                                return_type="list") == []


def test_a_trace_may_be_linked_to_a_run_before_it_arrives(traced, server):
    """The client exports in the background, so `link_traces_to_run` right after a span
    ends may reach the server before the trace does; the link holds when it arrives."""
    run = mlflow.MlflowClient().create_run(traced)
    trace_hex = "7c8efff798038103d269b633813fc60c"
    mlflow.MlflowClient().link_traces_to_run(["tr-" + trace_hex], run_id=run.info.run_id)
    r = requests.post(f"{server.url}/v1/traces", json=_otlp_json_body(trace_hex),
                      headers={"x-mlflow-experiment-id": traced})
    assert r.status_code == 200, r.text
    found = mlflow.search_traces(locations=[traced], run_id=run.info.run_id, return_type="list")
    assert [t.info.trace_id for t in found] == ["tr-" + trace_hex]


def _tagged_traces(client, experiment_id: str, specs: list[tuple[dict, str, int]]) -> list[str]:
    """Traces started and ended through the client: (tags, end status, duration ms)."""
    ids = []
    for i, (tags, status, duration) in enumerate(specs):
        root = client.start_trace(name=f"t{i % 2}", experiment_id=experiment_id, tags=tags,
                                  start_time_ns=1_000_000_000 * (i + 1))
        client.end_trace(root.trace_id, status=status,
                         end_time_ns=1_000_000_000 * (i + 1) + duration * 1_000_000)
        ids.append(root.trace_id)
    return ids


def test_trace_metrics_for_the_ui(traced, server, mlflow_client):
    _tagged_traces(mlflow_client, traced, [({}, "OK", 100), ({}, "OK", 300), ({}, "ERROR", 50)])
    url = f"{server.url}/api/3.0/mlflow/traces/metrics"
    base = {"experiment_ids": [traced], "view_type": "TRACES"}
    r = requests.post(url, json={**base, "metric_name": "trace_count",
                                 "aggregations": [{"aggregation_type": "COUNT"}],
                                 "dimensions": ["trace_status"]})
    assert r.status_code == 200, r.text
    assert r.json()["data_points"] == [
        {"metric_name": "trace_count", "dimensions": {"trace_status": "ERROR"},
         "values": {"COUNT": 1}},
        {"metric_name": "trace_count", "dimensions": {"trace_status": "OK"},
         "values": {"COUNT": 2}},
    ]
    r = requests.post(url, json={**base, "metric_name": "latency",
                                 "aggregations": [{"aggregation_type": "AVG"},
                                                  {"aggregation_type": "MAX"},
                                                  {"aggregation_type": "PERCENTILE",
                                                   "percentile_value": 50}],
                                 "filters": ["trace.status = 'OK'"]})
    assert r.status_code == 200, r.text
    assert r.json()["data_points"] == [
        {"metric_name": "latency", "values": {"AVG": 200.0, "MAX": 300.0, "P50.0": 200.0}}]
    # Buckets of time: one per second here, named by their start.
    r = requests.post(url, json={**base, "metric_name": "trace_count",
                                 "aggregations": [{"aggregation_type": "COUNT"}],
                                 "time_interval_seconds": 2, "start_time_ms": 0,
                                 "end_time_ms": 10_000})
    buckets = [(p["dimensions"]["time_bucket"], p["values"]["COUNT"])
               for p in r.json()["data_points"]]
    assert buckets == [("1970-01-01T00:00:00+00:00", 1), ("1970-01-01T00:00:02+00:00", 2)]
    for body, fragment in [
        ({"metric_name": "bogus", "aggregations": [{"aggregation_type": "COUNT"}]},
         "metric_name must be one of"),
        ({"metric_name": "trace_count", "aggregations": [{"aggregation_type": "SUM"}]},
         "Found invalid aggregation_type(s): ['SUM']"),
        ({"metric_name": "trace_count", "aggregations": [{"aggregation_type": "COUNT"}],
          "dimensions": ["x"]}, "Found invalid dimension(s): ['x']"),
        ({"metric_name": "trace_count", "aggregations": [{"aggregation_type": "COUNT"}],
          "time_interval_seconds": 60}, "start_time_ms and end_time_ms are required"),
    ]:
        assert_mlflow_error(requests.post(url, json={**base, **body}), 400,
                            "INVALID_PARAMETER_VALUE", fragment)


def test_filter_correlation_for_the_ui(traced, server, mlflow_client):
    from mlflow.tracing.client import TracingClient

    client = TracingClient()
    specs = [({"env": "prod", "kind": "TOOL"}, "OK", 10)] * 6 + [
        ({"env": "dev", "kind": "TOOL" if i == 0 else "LLM"}, "OK", 10) for i in range(4)]
    _tagged_traces(mlflow_client, traced, specs)
    result = client.calculate_trace_filter_correlation(
        experiment_ids=[traced], filter_string1="tags.env = 'prod'",
        filter_string2="tags.kind = 'TOOL'")
    assert (result.filter1_count, result.filter2_count, result.joint_count,
            result.total_count) == (6, 7, 6, 10)
    assert result.npmi == pytest.approx(0.6982322877799215)
    assert result.npmi_smoothed == pytest.approx(0.5404578674731575)
    never = client.calculate_trace_filter_correlation(
        experiment_ids=[traced], filter_string1="tags.env = 'staging'",
        filter_string2="tags.kind = 'TOOL'")
    assert never.filter1_count == 0 and never.npmi != never.npmi  # NaN: undefined
    within = client.calculate_trace_filter_correlation(
        experiment_ids=[traced], filter_string1="tags.kind = 'TOOL'",
        filter_string2="tags.kind = 'LLM'", base_filter="tags.env = 'dev'")
    assert (within.total_count, within.joint_count, within.npmi) == (4, 0, -1.0)
    with pytest.raises(MlflowException, match="Invalid"):
        client.calculate_trace_filter_correlation(
            experiment_ids=[traced], filter_string1="invalid.filter = 'x'",
            filter_string2="tags.kind = 'TOOL'")


def test_text_filter_matches_span_content(traced):
    for name, attributes in [("first", {"color": "value-red"}), ("second", {"note": "I like it"})]:
        with mlflow.start_span(name=name, attributes=attributes):
            pass
    found = mlflow.search_traces(locations=[traced], filter_string="trace.text LIKE '%I like it%'",
                                 return_type="list")
    assert [t.data.spans[0].name for t in found] == ["second"]
    found = mlflow.search_traces(locations=[traced], filter_string="trace.text ILIKE '%VALUE-RED%'",
                                 return_type="list")
    assert [t.data.spans[0].name for t in found] == ["first"]
    with pytest.raises(MlflowException, match="comparator"):
        mlflow.search_traces(locations=[traced], filter_string="trace.text = 'x'")


def test_mlflow_2_start_and_end_trace(traced, server):
    api = f"{server.url}/api/2.0/mlflow/traces"
    r = requests.post(api, json={"experiment_id": traced, "timestamp_ms": 1000,
                                 "request_metadata": [{"key": "m1", "value": "a"}],
                                 "tags": [{"key": "t1", "value": "x"}]})
    assert r.status_code == 200, r.text
    info = r.json()["trace_info"]
    request_id = info["request_id"]
    assert len(request_id) == 32 and not request_id.startswith("tr-")
    assert (info["timestamp_ms"], info["execution_time_ms"], info["status"]) == (
        1000, 0, "IN_PROGRESS")
    assert info["request_metadata"] == [{"key": "m1", "value": "a"}]
    r = requests.patch(f"{api}/{request_id}", json={
        "request_id": request_id, "timestamp_ms": 3000, "status": "OK",
        "request_metadata": [{"key": "m1", "value": "b"}, {"key": "m2", "value": "c"}],
        "tags": [{"key": "t2", "value": "y"}]})
    assert r.status_code == 200, r.text
    info = r.json()["trace_info"]
    assert (info["execution_time_ms"], info["status"]) == (2000, "OK")
    assert {m["key"]: m["value"] for m in info["request_metadata"]} == {"m1": "b", "m2": "c"}
    tags = {t["key"]: t["value"] for t in info["tags"]}
    assert tags["t1"] == "x" and tags["t2"] == "y"
    v3 = requests.get(f"{server.url}/api/3.0/mlflow/traces/{request_id}").json()
    assert v3["trace"]["trace_info"]["state"] == "OK"
    assert v3["trace"]["trace_info"]["execution_duration"] == "2s"
    r = requests.patch(f"{api}/tr-nonexistent", json={"request_id": "tr-nonexistent",
                                                      "timestamp_ms": 1, "status": "OK"})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "not found")


def test_span_and_assessment_metrics_for_the_ui(traced, server):
    for i in range(3):
        with mlflow.start_span(name="agent", span_type=SpanType.AGENT):
            with mlflow.start_span(name="llm", span_type=SpanType.LLM) as llm:
                llm.set_attribute("mlflow.llm.model", "gpt-x")
                llm.set_attribute("mlflow.llm.provider", "openai")
                llm.set_attribute("mlflow.llm.cost", {"input_cost": 0.5 * (i + 1),
                                                      "output_cost": 1.0, "total_cost": 1.5})
        trace_id = mlflow.get_last_active_trace_id()
        mlflow.log_feedback(trace_id=trace_id, name="quality", value=i / 2)
        mlflow.log_feedback(trace_id=trace_id, name="safe", value=True)
    url = f"{server.url}/api/3.0/mlflow/traces/metrics"

    def points(**body):
        r = requests.post(url, json={"experiment_ids": [traced], **body})
        assert r.status_code == 200, r.text
        return [(p.get("dimensions", {}), p["values"]) for p in r.json().get("data_points", [])]

    assert points(view_type="SPANS", metric_name="span_count",
                  aggregations=[{"aggregation_type": "COUNT"}], dimensions=["span_type"]) == [
        ({"span_type": "AGENT"}, {"COUNT": 3}), ({"span_type": "LLM"}, {"COUNT": 3})]
    assert points(view_type="SPANS", metric_name="input_cost",
                  aggregations=[{"aggregation_type": "SUM"}, {"aggregation_type": "MAX"}],
                  dimensions=["span_model_name", "span_model_provider"]) == [
        ({"span_model_name": "gpt-x", "span_model_provider": "openai"},
         {"SUM": 3.0, "MAX": 1.5})]
    assert points(view_type="ASSESSMENTS", metric_name="assessment_count",
                  aggregations=[{"aggregation_type": "COUNT"}],
                  dimensions=["assessment_name"]) == [
        ({"assessment_name": "quality"}, {"COUNT": 3}), ({"assessment_name": "safe"}, {"COUNT": 3})]
    assert points(view_type="ASSESSMENTS", metric_name="assessment_value",
                  aggregations=[{"aggregation_type": "AVG"}],
                  dimensions=["assessment_name"]) == [
        ({"assessment_name": "quality"}, {"AVG": 0.5}), ({"assessment_name": "safe"}, {"AVG": 1.0})]

    # Row filters pick the view's spans or assessments, not traces.
    count = [{"aggregation_type": "COUNT"}]
    assert points(view_type="SPANS", metric_name="span_count", aggregations=count,
                  filters=["span.type = 'LLM'"]) == [({}, {"COUNT": 3})]
    assert points(view_type="SPANS", metric_name="span_count", aggregations=count,
                  filters=["span.name = 'agent'", "span.status = 'OK'"]) == [({}, {"COUNT": 3})]
    assert points(view_type="SPANS", metric_name="span_count", aggregations=count,
                  filters=["span.name = 'agent'", "span.type = 'LLM'"]) == []
    assert points(view_type="ASSESSMENTS", metric_name="assessment_value",
                  aggregations=[{"aggregation_type": "MAX"}],
                  filters=["assessment.name = 'quality'", "assessment.type = 'feedback'"]) == [
        ({}, {"MAX": 1.0})]
    assert points(view_type="ASSESSMENTS", metric_name="assessment_count", aggregations=count,
                  filters=["assessment.type = 'expectation'"]) == []
    for body, fragment in [
            ({"view_type": "TRACES", "metric_name": "trace_count",
              "filters": ["span.name = 'agent'"]},
             "Filtering by span is only supported for SPANS view type"),
            ({"view_type": "SPANS", "metric_name": "span_count",
              "filters": ["assessment.name = 'quality'"]},
             "Filtering by assessment is only supported for ASSESSMENTS view type"),
            ({"view_type": "SPANS", "metric_name": "span_count",
              "filters": ["span.kind = 'x'"]},
             "Invalid entity 'kind' specified for view type 'span'"),
            ({"view_type": "SPANS", "metric_name": "span_count",
              "filters": ["span.name != 'x'"]},
             "only '=' operator is supported")]:
        r = requests.post(url, json={"experiment_ids": [traced], "aggregations": count, **body})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", fragment)
