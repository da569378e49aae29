"""Bad input over raw HTTP gets MLflow's error form, and loses nothing acknowledged.

Expected statuses, error codes and messages are those `mlflow server` 3.17 returns
for the same requests (mlflow/server/handlers.py, mlflow/utils/validation.py).
After every test the module checks that the server still answers and that the
data acknowledged before the bad requests reads back unchanged.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from conftest import assert_mlflow_error, unique

UNKNOWN_RUN = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def baseline(server):
    """An experiment and a run with acknowledged data, created before any bad request."""
    r = server.post("experiments/create", {"name": unique("baseline")})
    assert r.status_code == 200, r.text
    exp_id = r.json()["experiment_id"]
    r = server.post("runs/create", {"experiment_id": exp_id, "start_time": 1000,
                                    "run_name": "baseline-run"})
    assert r.status_code == 200, r.text
    run_id = r.json()["run"]["info"]["run_id"]
    metrics = [{"key": "loss", "value": 1.0 / (i + 1), "timestamp": 2000 + i, "step": i}
               for i in range(50)]
    r = server.post("runs/log-batch", {
        "run_id": run_id, "metrics": metrics,
        "params": [{"key": "lr", "value": "0.1"}, {"key": "opt", "value": "adam"}],
        "tags": [{"key": "team", "value": "core"}],
    })
    assert r.status_code == 200, r.text
    snapshot = _read(server, run_id)
    assert snapshot["params"] == {"lr": "0.1", "opt": "adam"}
    assert len(snapshot["history"]) == 50
    return {"exp_id": exp_id, "run_id": run_id, "snapshot": snapshot}


def _read(server, run_id):
    r = server.get("runs/get", {"run_id": run_id})
    assert r.status_code == 200, r.text
    data = r.json()["run"]["data"]
    h = server.get("metrics/get-history", {"run_id": run_id, "metric_key": "loss"})
    assert h.status_code == 200, h.text
    return {
        "params": {p["key"]: p["value"] for p in data.get("params", [])},
        "tags": {t["key"]: t["value"] for t in data.get("tags", [])},
        "metrics": {m["key"]: m["value"] for m in data.get("metrics", [])},
        "history": sorted((m["step"], m["value"], int(m["timestamp"]))
                          for m in h.json().get("metrics", [])),
    }


@pytest.fixture(autouse=True)
def _still_intact(server, baseline):
    yield
    r = requests.get(f"{server.url}/health", timeout=5)
    assert r.status_code == 200, "server stopped answering after bad input"
    assert _read(server, baseline["run_id"]) == baseline["snapshot"], "acknowledged data changed"


@pytest.fixture
def run_id(server, baseline):
    r = server.post("runs/create", {"experiment_id": baseline["exp_id"],
                                    "start_time": int(time.time() * 1000)})
    assert r.status_code == 200, r.text
    return r.json()["run"]["info"]["run_id"]


def _missing(field: str) -> str:
    return f"Missing value for required parameter '{field}'"


# ------------------------------------------------------------------ malformed JSON


@pytest.mark.parametrize("body", [
    '{"name": "x"',           # truncated
    "not json at all",
    '{"name": "x",}',         # trailing comma
    "{'name': 'x'}",          # single quotes
    "",
])
def test_malformed_json_create_experiment(server, body):
    # mlflow server reads an unparsable body as an empty one (400 INVALID_PARAMETER_VALUE,
    # "Missing value for required parameter 'name'"); the status and code are the contract,
    # a message that names the real problem is better.
    r = server.post("experiments/create", body)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert server.get("experiments/get-by-name", {"experiment_name": "x"}).status_code == 404


@pytest.mark.parametrize("endpoint, field", [
    ("runs/log-metric", "run_id"),
    ("runs/log-parameter", "run_id"),
    ("runs/set-tag", "run_id"),
    # mlflow server itself answers this one with an HTML 500
    pytest.param("runs/log-batch", "run_id", marks=pytest.mark.slipway_only),
])
def test_malformed_json_logging(server, endpoint, field):
    r = server.post(endpoint, '{"run_id": "abc", "key": ')
    body = assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    # either MLflow's wording (the field is missing) or one that says the JSON is malformed
    assert field in body["message"] or "json" in body["message"].lower(), body


@pytest.mark.slipway_only
@pytest.mark.parametrize("body", ["[1, 2]", '"just a string"', "42", "true"])
def test_json_that_is_not_an_object(server, body):
    # mlflow server answers "[1, 2]" with an HTML 500; Slipway must give a clean 400.
    r = server.post("experiments/create", body)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")


@pytest.mark.slipway_only
def test_invalid_utf8_body(server):
    r = server.post("experiments/create", b'{"name": "\xff\xfe"}')
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")


# ----------------------------------------------------------------------- wrong types


@pytest.mark.parametrize("field, value", [
    ("value", "abc"),
    ("timestamp", "abc"),
    ("step", "x"),
    ("key", 123),
    # mlflow server answers these two with an HTML 500 (float() of a dict/list)
    pytest.param("value", {"nested": 1}, marks=pytest.mark.slipway_only),
    pytest.param("value", [1.0], marks=pytest.mark.slipway_only),
])
def test_log_metric_wrong_types(server, run_id, field, value):
    body = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    body[field] = value
    r = server.post("runs/log-metric", body)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", f"for parameter '{field}'")
    assert _read(server, run_id)["metrics"] == {}


def test_metric_special_values_as_strings_are_accepted(server, run_id):
    # the mlflow client sends NaN/inf as the proto3 JSON strings
    for i, v in enumerate(["NaN", "Infinity", "-Infinity"]):
        r = server.post("runs/log-metric", {"run_id": run_id, "key": "s", "value": v,
                                            "timestamp": 10 + i, "step": i})
        assert r.status_code == 200, r.text
    h = server.get("metrics/get-history", {"run_id": run_id, "metric_key": "s"}).json()
    values = [m["value"] for m in sorted(h["metrics"], key=lambda m: m["step"])]
    assert values[0] == "NaN"
    assert values[1] in ("Infinity", 1.7976931348623157e308)
    assert values[2] in ("-Infinity", -1.7976931348623157e308)


@pytest.mark.parametrize("endpoint, body, field", [
    ("runs/create", {"experiment_id": {"a": 1}}, "experiment_id"),
    ("runs/create", {"experiment_id": ["1"]}, "experiment_id"),
    ("experiments/create", {"name": 123}, "name"),
    ("experiments/create", {"name": {"a": 1}}, "name"),
    ("runs/log-batch", {"run_id": "RUN", "metrics": "notalist"}, "metrics"),
    ("runs/log-batch", {"run_id": "RUN", "params": {"k": "v"}}, "params"),
    ("runs/set-tag", {"run_id": "RUN", "key": ["k"], "value": "v"}, "key"),
    ("runs/log-parameter", {"run_id": "RUN", "key": "k", "value": {"v": 1}}, "value"),
])
def test_wrong_types(server, run_id, endpoint, body, field):
    body = {k: (run_id if v == "RUN" else v) for k, v in body.items()}
    r = server.post(endpoint, body)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", f"for parameter '{field}'")


# ------------------------------------------------------------------ missing fields


@pytest.mark.parametrize("endpoint, body, field", [
    ("runs/log-metric", {"value": 1.0, "timestamp": 1}, "key"),
    ("runs/log-metric", {"key": "m", "timestamp": 1}, "value"),
    ("runs/log-metric", {"key": "m", "value": 1.0}, "timestamp"),
    ("runs/log-metric", {"key": "", "value": 1.0, "timestamp": 1}, "key"),
    ("runs/log-parameter", {"value": "v"}, "key"),
    ("runs/set-tag", {"value": "v"}, "key"),
    ("runs/delete-tag", {}, "key"),
    ("experiments/update", {"experiment_id": "EXP"}, "new_name"),
    ("experiments/set-experiment-tag", {"experiment_id": "EXP", "value": "v"}, "key"),
])
def test_missing_required_fields(server, run_id, baseline, endpoint, body, field):
    body = dict(body)
    if not endpoint.startswith("experiments"):
        body["run_id"] = run_id
    body = {k: (baseline["exp_id"] if v == "EXP" else v) for k, v in body.items()}
    r = server.post(endpoint, body)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", _missing(field))


@pytest.mark.parametrize("endpoint, params, field", [
    ("runs/get", {}, "run_id"),
    ("metrics/get-history", {"run_id": UNKNOWN_RUN}, "metric_key"),
    ("experiments/get", {}, "experiment_id"),
    ("experiments/get-by-name", {}, "experiment_name"),
])
def test_missing_query_parameters(server, endpoint, params, field):
    r = server.get(endpoint, params)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", _missing(field))


def test_log_metric_missing_run_id(server):
    r = server.post("runs/log-metric", {"key": "m", "value": 1.0, "timestamp": 1})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", _missing("run_id"))


def test_log_batch_metric_missing_value(server, run_id):
    r = server.post("runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "ok", "value": 1.0, "timestamp": 1, "step": 0},
        {"key": "m", "timestamp": 1, "step": 1}]})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", _missing("metrics[1].value"))
    assert _read(server, run_id)["metrics"] == {}  # the valid first metric was not kept


def test_negative_timestamp(server, run_id):
    r = server.post("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.0,
                                        "timestamp": -5})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Timestamp must be a nonnegative")


def test_key_that_resolves_to_other_names(server, run_id):
    r = server.post("runs/log-metric", {"run_id": run_id, "key": "bad/../key", "value": 1.0,
                                        "timestamp": 1})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")


# --------------------------------------------------------------------- unknown ids


@pytest.mark.parametrize("method, endpoint, body, message", [
    ("GET", "runs/get", {"run_id": UNKNOWN_RUN}, f"Run with id={UNKNOWN_RUN} not found"),
    ("GET", "experiments/get", {"experiment_id": "987654321"},
     "No Experiment with id=987654321 exists"),
    ("GET", "experiments/get-by-name", {"experiment_name": "no-such-experiment-xyz"},
     "Could not find experiment with name 'no-such-experiment-xyz'"),
    ("POST", "runs/log-metric", {"run_id": UNKNOWN_RUN, "key": "m", "value": 1.0,
                                 "timestamp": 1}, UNKNOWN_RUN),
    ("POST", "runs/log-parameter", {"run_id": UNKNOWN_RUN, "key": "k", "value": "v"},
     UNKNOWN_RUN),
    ("POST", "runs/set-tag", {"run_id": UNKNOWN_RUN, "key": "k", "value": "v"}, UNKNOWN_RUN),
    ("POST", "runs/log-batch", {"run_id": UNKNOWN_RUN, "metrics": [
        {"key": "a", "value": 1, "timestamp": 1}]}, UNKNOWN_RUN),
    ("POST", "runs/update", {"run_id": UNKNOWN_RUN, "status": "FINISHED"}, UNKNOWN_RUN),
    ("POST", "runs/delete", {"run_id": UNKNOWN_RUN}, UNKNOWN_RUN),
    ("POST", "runs/restore", {"run_id": UNKNOWN_RUN}, UNKNOWN_RUN),
    ("POST", "runs/create", {"experiment_id": "987654321"}, "987654321"),
    ("POST", "experiments/delete", {"experiment_id": "987654321"}, "987654321"),
    ("POST", "experiments/restore", {"experiment_id": "987654321"}, "987654321"),
    ("POST", "experiments/update", {"experiment_id": "987654321", "new_name": "zz"},
     "987654321"),
])
def test_unknown_ids_are_404(server, method, endpoint, body, message):
    r = server.get(endpoint, body) if method == "GET" else server.post(endpoint, body)
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", message)


def test_logging_to_deleted_run_is_rejected(server, run_id):
    assert server.post("runs/delete", {"run_id": run_id}).status_code == 200
    r = server.post("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.0,
                                        "timestamp": 1})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")
    r = server.post("runs/log-parameter", {"run_id": run_id, "key": "k", "value": "v"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")
    assert server.post("runs/restore", {"run_id": run_id}).status_code == 200
    assert _read(server, run_id)["metrics"] == {}


def test_creating_run_in_deleted_experiment_is_rejected(server):
    exp_id = server.post("experiments/create", {"name": unique("gone")}).json()["experiment_id"]
    assert server.post("experiments/delete", {"experiment_id": exp_id}).status_code == 200
    r = server.post("runs/create", {"experiment_id": exp_id})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")


def test_duplicate_experiment_name(server):
    name = unique("dup")
    r = server.post("experiments/create", {"name": name})
    assert r.status_code == 200
    exp_id = r.json()["experiment_id"]
    r = server.post("experiments/create", {"name": name})
    assert_mlflow_error(r, 400, "RESOURCE_ALREADY_EXISTS", name)
    # renaming another experiment onto the name is refused too
    other = server.post("experiments/create", {"name": unique("other")}).json()["experiment_id"]
    r = server.post("experiments/update", {"experiment_id": other, "new_name": name})
    assert r.status_code == 400, r.text
    # mlflow server says BAD_REQUEST here
    assert r.json()["error_code"] in (
        "RESOURCE_ALREADY_EXISTS", "INVALID_PARAMETER_VALUE", "BAD_REQUEST")
    got = server.get("experiments/get-by-name", {"experiment_name": name}).json()
    assert got["experiment"]["experiment_id"] == exp_id


def test_changing_a_param_value_is_rejected(server, run_id):
    assert server.post("runs/log-parameter",
                       {"run_id": run_id, "key": "k", "value": "a"}).status_code == 200
    r = server.post("runs/log-parameter", {"run_id": run_id, "key": "k", "value": "b"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert _read(server, run_id)["params"] == {"k": "a"}


# ------------------------------------------------------------------------ limits


def _batch(run_id, metrics=0, params=0, tags=0, key="m"):
    return {
        "run_id": run_id,
        "metrics": [{"key": key, "value": float(i), "timestamp": 1, "step": i}
                    for i in range(metrics)],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(params)],
        "tags": [{"key": f"t{i}", "value": "v"} for i in range(tags)],
    }


@pytest.mark.parametrize("counts, message", [
    ((1001, 0, 0), "A batch logging request can contain at most 1000 metrics. Got 1001 metrics."),
    ((0, 101, 0), "A batch logging request can contain at most 100 params. Got 101 params."),
    ((0, 0, 101), "A batch logging request can contain at most 100 tags. Got 101 tags."),
    ((950, 60, 0), "A batch logging request can contain at most 1000 metrics, params, and tags. "
                   "Got 1010 metrics, params, and tags."),
    ((900, 50, 51), "at most 1000 metrics, params, and tags. Got 1001"),
])
def test_log_batch_over_limits(server, run_id, counts, message):
    r = server.post("runs/log-batch", _batch(run_id, *counts))
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", message)
    after = _read(server, run_id)
    assert after["params"] == {}
    assert after["metrics"] == {}
    assert not any(k.startswith("t") and k[1:].isdigit() for k in after["tags"])


def test_log_batch_at_limits_is_accepted(server, run_id):
    r = server.post("runs/log-batch", _batch(run_id, 800, 100, 100))
    assert r.status_code == 200, r.text
    r2 = server.post("runs/log-batch", _batch(run_id, 1000, key="m2"))
    assert r2.status_code == 200, r2.text
    after = _read(server, run_id)
    assert len(after["params"]) == 100
    assert sum(1 for k in after["tags"] if k.startswith("t")) == 100
    h = server.get("metrics/get-history", {"run_id": run_id, "metric_key": "m"}).json()
    assert len(h["metrics"]) == 800
    h2 = server.get("metrics/get-history", {"run_id": run_id, "metric_key": "m2"}).json()
    assert sorted(m["step"] for m in h2["metrics"]) == list(range(1000))


def test_log_batch_request_over_1mb_is_rejected(server, run_id):
    # MLflow's MAX_BATCH_LOG_REQUEST_SIZE: a batch body over 1e6 bytes is refused whole.
    body = _batch(run_id, 0, 100, 100)
    for param in body["params"]:
        param["value"] = "x" * 5990
    for tag in body["tags"]:
        tag["value"] = "y" * 5000
    assert len(json.dumps(body)) > 1_000_000
    r = server.post("runs/log-batch", body)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE",
                        "Batched logging API requests must be at most 1000000 bytes")
    after = _read(server, run_id)
    assert after["params"] == {}
    assert not any(k.startswith("t") and k[1:].isdigit() for k in after["tags"])


def test_log_batch_duplicate_param_keys(server, run_id):
    r = server.post("runs/log-batch", {"run_id": run_id, "params": [
        {"key": "dup", "value": "a"}, {"key": "dup", "value": "b"}]})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE",
                        "Duplicate parameter keys have been submitted: ['dup']")


KEY_251 = "k" * 251


@pytest.mark.parametrize("endpoint, body, message", [
    ("runs/log-metric", {"key": KEY_251, "value": 1.0, "timestamp": 1},
     "'Metric name' exceeds the maximum length of 250 characters"),
    ("runs/log-parameter", {"key": KEY_251, "value": "v"},
     "'Param key' exceeds the maximum length of 250 characters"),
    ("runs/set-tag", {"key": KEY_251, "value": "v"},
     "exceeds the maximum length of 250 characters"),
    ("runs/log-batch", {"metrics": [{"key": KEY_251, "value": 1.0, "timestamp": 1}]},
     "exceeds the maximum length of 250 characters"),
    ("runs/log-batch", {"params": [{"key": KEY_251, "value": "v"}]},
     "exceeds the maximum length of 250 characters"),
])
def test_key_longer_than_250(server, run_id, endpoint, body, message):
    r = server.post(endpoint, {"run_id": run_id, **body})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", message)
    after = _read(server, run_id)
    assert after["params"] == {} and after["metrics"] == {}
    assert KEY_251 not in after["tags"]


def test_key_of_exactly_250_is_accepted(server, run_id):
    key = "k" * 250
    assert server.post("runs/log-metric", {"run_id": run_id, "key": key, "value": 2.0,
                                           "timestamp": 1}).status_code == 200
    assert server.post("runs/log-parameter", {"run_id": run_id, "key": key,
                                              "value": "v"}).status_code == 200
    after = _read(server, run_id)
    assert after["metrics"] == {key: 2.0}
    assert after["params"] == {key: "v"}


def test_param_value_over_6000_is_truncated_like_mlflow(server, run_id):
    # mlflow server (MLFLOW_TRUNCATE_LONG_VALUES defaults to true) keeps the first 6000 chars
    value = "".join(chr(ord("a") + i % 26) for i in range(6001))
    r = server.post("runs/log-parameter", {"run_id": run_id, "key": "long", "value": value})
    assert r.status_code == 200, r.text
    assert _read(server, run_id)["params"]["long"] == value[:6000]


def test_experiment_name_over_500(server):
    r = server.post("experiments/create", {"name": "e" * 501})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE",
                        "'name' exceeds the maximum length of 500 characters")


@pytest.mark.slipway_only
def test_oversize_body_is_413(server, run_id):
    big = json.dumps({"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1,
                      "pad": "x" * (17 * 1024 * 1024)})
    try:
        r = server.post("runs/log-metric", big, timeout=60)
    except requests.ConnectionError as e:  # a server may close after answering early
        pytest.fail(f"server dropped the connection instead of answering 413: {e}")
    assert r.status_code == 413, r.text[:300]
    body = r.json()
    assert isinstance(body.get("error_code"), str) and body["error_code"]
    assert isinstance(body.get("message"), str) and body["message"]
    assert _read(server, run_id)["metrics"] == {}
    # a body just under the limit that is otherwise valid is still served
    ok = json.dumps({"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1,
                     "pad": "x" * (15 * 1024 * 1024)})
    r = server.post("runs/log-metric", ok, timeout=60)
    assert r.status_code == 200, r.text[:300]


@pytest.mark.slipway_only
def test_oversize_chunked_body_is_413(server, run_id):
    """Without a Content-Length (chunked), the 16 MiB cap on JSON bodies still holds."""
    head = json.dumps({"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1})[:-1]

    def gen():
        yield (head + ', "pad": "').encode()
        for _ in range(17):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    try:
        r = requests.post(f"{server.api}/runs/log-metric", data=gen(), timeout=60,
                          headers={"Content-Type": "application/json"})
    except requests.ConnectionError as e:
        pytest.fail(f"server dropped the connection instead of answering 413: {e}")
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error_code"]
    assert _read(server, run_id)["metrics"] == {}


@pytest.mark.slipway_only
def test_oversize_artifact_upload_is_not_limited_to_16mib(server):
    # the 16 MiB cap is for JSON API bodies; artifact uploads stream past it
    payload = b"\0" * (17 * 1024 * 1024)
    url = f"{server.artifacts_api}/0/{unique('big')}/artifacts/big.bin"
    assert requests.put(url, data=payload, timeout=60).status_code == 200
    assert len(requests.get(url, timeout=60).content) == len(payload)


# ---------------------------------------------------------------- search input


@pytest.mark.parametrize("body, message", [
    ({"filter": "metrics.acc >>> 1"}, "Invalid comparator"),
    ({"filter": "foo.bar = 1"}, "Invalid entity type 'foo'"),
    ({"filter": "metrics.acc = 'abc'"}, "Expected numeric value type for metric"),
    ({"filter": "params.lr = 0.1"}, "Expected a quoted string value"),
    ({"filter": "metrics.acc > 1 OR metrics.acc < 0"}, "Invalid clause(s) in filter string"),
    ({"filter": "tags.x = 'unterminated"}, None),
    ({"order_by": ["metrics.acc SIDEWAYS"]}, "Invalid ordering key"),
    ({"order_by": ["bogus.x DESC"]}, "Invalid entity type 'bogus'"),
    ({"page_token": "garbage!!"}, None),
    ({"max_results": 50001}, "max_results"),
])
def test_bad_search_runs_input(server, baseline, body, message):
    r = server.post("runs/search", {"experiment_ids": [baseline["exp_id"]], **body})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", message)


def test_bad_search_experiments_input(server):
    r = server.post("experiments/search", {"max_results": 100000})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "max_results")
    r = server.post("experiments/search", {"filter": "name >< 'x'"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")


# ---------------------------------------------------------------- unknown routes


@pytest.mark.slipway_only
@pytest.mark.parametrize("method, path", [
    ("POST", "/api/2.0/mlflow/runs/no-such-endpoint"),
    ("GET", "/api/2.0/mlflow/nonexistent"),
    ("GET", "/api/2.0/mlflow/"),
    ("POST", "/api/9.9/mlflow/runs/create"),
])
def test_unknown_endpoint_is_endpoint_not_found(server, method, path):
    r = requests.request(method, f"{server.url}{path}", json={}, timeout=10)
    assert_mlflow_error(r, 404, "ENDPOINT_NOT_FOUND")


def test_mlflow_client_maps_errors(server, monkeypatch):
    """The real client turns these error bodies into MlflowException with the code."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=server.url)
    with pytest.raises(MlflowException) as exc:
        client.get_experiment("987654321")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    name = unique("client-dup")
    client.create_experiment(name)
    with pytest.raises(MlflowException) as exc:
        client.create_experiment(name)
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"


# ------------------------------------------------------------------ broken HTTP


def _raw_exchange(server, data: bytes) -> bytes:
    import socket

    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                chunks.append(part)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except TimeoutError:
            pass
    return b"".join(chunks)


@pytest.mark.slipway_only
@pytest.mark.parametrize("request_bytes, statuses", [
    (b"GARBAGE\r\n\r\n", (400,)),
    (b"GET /health HTTP/9.9\r\n\r\n", (400, 505)),
    (b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", (400, 414)),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200_000 + b"\r\n\r\n", (400, 431)),
    (b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
     (400, 413)),
    (b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json\r\nContent-Length: -5\r\n\r\n{}", (400, 413)),
])
def test_malformed_http_gets_an_error_status(server, request_bytes, statuses):
    reply = _raw_exchange(server, request_bytes)
    assert reply.startswith(b"HTTP/1."), reply[:200]
    status = int(reply.split(b" ", 2)[1])
    assert status in statuses, reply[:300]


@pytest.mark.parametrize("endpoint", ["runs/log-parameter", "runs/set-tag"])
def test_fields_are_checked_in_mlflows_order(server, mlflow_client, endpoint):
    run_id = mlflow_client.create_run(mlflow_client.create_experiment(unique("order"))).info.run_id
    r = server.post(endpoint, {"run_id": 31, "key": "param", "value": 41})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE",
                        "Invalid value 31 for parameter 'run_id' supplied")
    r = server.post(endpoint, {"run_id": run_id, "key": 31, "value": 41})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE",
                        "Invalid value 31 for parameter 'key' supplied")
