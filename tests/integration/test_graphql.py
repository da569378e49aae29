"""MLflow's /graphql endpoint: the four documents MLflow's web UI sends (as its Apollo
client sends them, with `__typename` in every selection set), the values MLflow's
graphene schema gives (LongString int64 as text, NaN as null, unset fields as proto
defaults), its errors (a failed field is null with its message beside the others'
data; validation errors leave `data` null), the four limits of its safety scan, and
variables, fragments and operation names.

Expectations are what `mlflow server` 3.17 answers (mlflow/server/handlers.py `_graphql`,
mlflow/server/graphql/); run with SLIPWAY_ITEST_REFERENCE=mlflow to check them against it.
"""

from __future__ import annotations

import math
import re

import pytest
import requests
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric

from conftest import REFERENCE, SlipwayServer, slipway_binary, unique

# The UI's documents (mlflow/server/js: the GraphQL queries of its experiment and run
# pages), as Apollo's InMemoryCache sends them: `__typename` added to every selection set.
UI_GET_EXPERIMENT = """
query MlflowGetExperimentQuery($input: MlflowGetExperimentInput!)
    @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetExperiment(input: $input) {
    apiError { code message __typename }
    experiment {
      artifactLocation creationTime effectiveTraceArchivalRetention experimentId
      lastUpdateTime lifecycleStage name tags { key value __typename } __typename
    }
    __typename
  }
}
"""

RUN_SELECTION = """
  info { runName status runUuid experimentId artifactUri endTime lifecycleStage startTime
         userId __typename }
  experiment { experimentId name tags { key value __typename } artifactLocation
               lifecycleStage lastUpdateTime __typename }
  modelVersions { %s __typename }
  data { metrics { key value step timestamp __typename } params { key value __typename }
         tags { key value __typename } __typename }
  inputs { datasetInputs { dataset { digest name profile schema source sourceType __typename }
                           tags { key value __typename } __typename }
           modelInputs { modelId __typename } __typename }
  outputs { modelOutputs { modelId step __typename } __typename }
  __typename
"""

UI_GET_RUN = """
query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.RunDetailsPage") {
  mlflowGetRun(input: $data) {
    apiError { helpUrl code message __typename }
    run { %s }
    __typename
  }
}
""" % (RUN_SELECTION % "status version name source")

UI_BULK_INTERVAL = """
query GetMetricHistoryBulkInterval($data: MlflowGetMetricHistoryBulkIntervalInput!)
    @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetMetricHistoryBulkInterval(input: $data) {
    __typename
    metrics { timestamp step runId key value __typename }
    apiError { code message __typename }
  }
}
"""

UI_SEARCH_RUNS = """
query SearchRuns($data: MlflowSearchRunsInput!) {
  mlflowSearchRuns(input: $data) {
    apiError { helpUrl code message __typename }
    runs { %s }
    nextPageToken
    __typename
  }
}
""" % (RUN_SELECTION % "version name creationTimestamp status source")

DIGITS = re.compile(r"^[0-9]+$")


def graphql(server, query: str, variables=None, operation_name=None, **kw) -> requests.Response:
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation_name is not None:
        body["operationName"] = operation_name
    return requests.post(f"{server.url}/graphql", json=body, timeout=30, **kw)


def ok(response: requests.Response) -> dict:
    """The body of a 200 answer without errors."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data", "errors"}, body
    assert body["errors"] is None, body
    return body["data"]


def first_error(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["errors"], list) and body["errors"], body
    assert all(isinstance(message, str) for message in body["errors"]), body
    return body["errors"][0]


def test_test_field_echoes(server):
    r = graphql(server, 'query testQuery {test(inputString: "abc") { output }}', None,
                "testQuery", headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200
    assert r.json() == {"data": {"test": {"output": "abc"}}, "errors": None}


def test_ui_experiment_query(server, mlflow_client):
    name = unique("gql-exp")
    exp_id = mlflow_client.create_experiment(name, tags={"team": "a"})
    data = ok(graphql(server, UI_GET_EXPERIMENT, {"input": {"experimentId": exp_id}},
                      "MlflowGetExperimentQuery"))
    got = data["mlflowGetExperiment"]
    assert got["__typename"] == "MlflowGetExperimentResponse"
    assert got["apiError"] is None
    experiment = got["experiment"]
    assert experiment["__typename"] == "MlflowExperiment"
    assert experiment["experimentId"] == exp_id
    assert experiment["name"] == name
    assert experiment["lifecycleStage"] == "active"
    assert experiment["artifactLocation"]
    for key in ("creationTime", "lastUpdateTime"):
        assert DIGITS.match(experiment[key]), experiment  # LongString: int64 as text
    assert {"key": "team", "value": "a", "__typename": "MlflowExperimentTag"} in experiment["tags"]


def test_ui_run_query(server, mlflow_client):
    exp_id = mlflow_client.create_experiment(unique("gql-run"))
    run = mlflow_client.create_run(exp_id)
    run_id = run.info.run_id
    mlflow_client.log_metric(run_id, "m", 1.5, timestamp=1796608033155, step=2**40)
    mlflow_client.log_metric(run_id, "nan", math.nan, timestamp=2, step=2)
    mlflow_client.log_param(run_id, "p", "v")
    mlflow_client.log_inputs(run_id, [DatasetInput(
        Dataset("ds", "d1g3st", "code", "here", schema="{}", profile="{}"),
        [InputTag("mlflow.data.context", "training")])])
    model = unique("gql-model")
    mlflow_client.create_registered_model(model)
    mlflow_client.create_model_version(model, f"runs:/{run_id}/model", run_id)

    data = ok(graphql(server, UI_GET_RUN, {"data": {"runId": run_id}}, "GetRun"))
    got = data["mlflowGetRun"]
    assert got["apiError"] is None and got["__typename"] == "MlflowGetRunResponse"
    run_json = got["run"]
    assert run_json["__typename"] == "MlflowRunExtension"
    info = run_json["info"]
    assert info["runUuid"] == run_id and info["experimentId"] == exp_id
    assert info["status"] == "RUNNING"
    assert info["endTime"] == "0"  # unset: the proto default, as text
    assert info["startTime"] == str(run.info.start_time)
    assert info["lifecycleStage"] == "active"
    assert run_json["experiment"]["experimentId"] == exp_id
    assert run_json["experiment"]["__typename"] == "MlflowExperiment"

    versions = run_json["modelVersions"]
    assert [(v["name"], v["version"], v["status"]) for v in versions] == [(model, "1", "READY")]
    assert versions[0]["__typename"] == "MlflowModelVersion"

    metrics = {m["key"]: m for m in run_json["data"]["metrics"]}
    assert metrics["m"] == {"key": "m", "value": 1.5, "step": str(2**40),
                            "timestamp": "1796608033155", "__typename": "MlflowMetricExtension"}
    assert metrics["nan"]["value"] is None
    assert (metrics["nan"]["step"], metrics["nan"]["timestamp"]) == ("2", "2")
    assert {"key": "p", "value": "v", "__typename": "MlflowParam"} in run_json["data"]["params"]
    assert any(t["key"] == "mlflow.runName" for t in run_json["data"]["tags"])

    [dataset_input] = run_json["inputs"]["datasetInputs"]
    assert dataset_input["dataset"] == {
        "digest": "d1g3st", "name": "ds", "profile": "{}", "schema": "{}", "source": "here",
        "sourceType": "code", "__typename": "MlflowDataset"}
    assert dataset_input["tags"] == [
        {"key": "mlflow.data.context", "value": "training", "__typename": "MlflowInputTag"}]
    assert run_json["inputs"]["modelInputs"] == []
    assert run_json["outputs"] == {"modelOutputs": [], "__typename": "MlflowRunOutputs"}


def test_ui_metric_history_bulk_interval(server, mlflow_client):
    exp_id = mlflow_client.create_experiment(unique("gql-bulk"))
    runs = sorted(mlflow_client.create_run(exp_id).info.run_id for _ in range(2))
    for n, run_id in enumerate(runs):
        mlflow_client.log_batch(run_id, metrics=[
            Metric("loss", float(step * 10 + n), 1000 + step, step) for step in (2, 0, 1)])
    # The UI sends a step window and maxResults; over /graphql MLflow does not apply them.
    data = ok(graphql(server, UI_BULK_INTERVAL, {"data": {
        "runIds": runs, "metricKey": "loss", "startStep": 0, "endStep": 1, "maxResults": 2}},
        "GetMetricHistoryBulkInterval"))
    got = data["mlflowGetMetricHistoryBulkInterval"]
    assert got["__typename"] == "MlflowGetMetricHistoryBulkIntervalResponse"
    assert got["apiError"] is None
    assert [(m["runId"], m["step"], m["timestamp"], m["value"]) for m in got["metrics"]] == [
        (run_id, str(step), str(1000 + step), float(step * 10 + n))
        for n, run_id in enumerate(runs) for step in (0, 1, 2)]
    assert {m["key"] for m in got["metrics"]} == {"loss"}
    assert {m["__typename"] for m in got["metrics"]} == {"MlflowMetricWithRunId"}


def test_ui_search_runs_query_and_mutation(server, mlflow_client):
    exp_id = mlflow_client.create_experiment(unique("gql-search"))
    first = mlflow_client.create_run(exp_id, start_time=1000).info.run_id
    second = mlflow_client.create_run(exp_id, start_time=2000).info.run_id
    deleted = mlflow_client.create_run(exp_id, start_time=3000).info.run_id
    mlflow_client.delete_run(deleted)

    data = ok(graphql(server, UI_SEARCH_RUNS, {"data": {"experimentIds": [exp_id]}},
                      "SearchRuns"))
    got = data["mlflowSearchRuns"]
    assert [r["info"]["runUuid"] for r in got["runs"]] == [second, first]  # newest first
    assert got["nextPageToken"] == ""
    assert got["runs"][0]["modelVersions"] == []
    assert got["runs"][0]["experiment"]["experimentId"] == exp_id

    # The same field is a mutation too (MLflow's conformance test uses that), with paging.
    mutation = """mutation testMutation {
        mlflowSearchRuns(input: {experimentIds: ["%s"], maxResults: 1}) {
            runs { info { runId } } nextPageToken } }""" % exp_id
    got = ok(graphql(server, mutation, None, "testMutation"))["mlflowSearchRuns"]
    assert got["runs"] == [{"info": {"runId": second}}]
    assert got["nextPageToken"]
    page2 = """query($t: String) { mlflowSearchRuns(input: {experimentIds: "%s", maxResults: 1,
        pageToken: $t}) { runs { info { runId } } } }""" % exp_id  # one id for a list: coerced
    got = ok(graphql(server, page2, {"t": got["nextPageToken"]}))["mlflowSearchRuns"]
    assert got["runs"] == [{"info": {"runId": first}}]


@pytest.mark.slipway_only  # MLflow fails on any runViewType (its enum-to-proto bug)
def test_search_runs_view_type(server, mlflow_client):
    exp_id = mlflow_client.create_experiment(unique("gql-view"))
    live = mlflow_client.create_run(exp_id).info.run_id
    gone = mlflow_client.create_run(exp_id).info.run_id
    mlflow_client.delete_run(gone)
    query = """query($v: MlflowViewType) { mlflowSearchRuns(input: {experimentIds: ["%s"],
        runViewType: $v}) { runs { info { runId lifecycleStage } } } }""" % exp_id
    runs = ok(graphql(server, query, {"v": "DELETED_ONLY"}))["mlflowSearchRuns"]["runs"]
    assert runs == [{"info": {"runId": gone, "lifecycleStage": "deleted"}}]
    runs = ok(graphql(server, query, {"v": "ALL"}))["mlflowSearchRuns"]["runs"]
    assert {r["info"]["runId"] for r in runs} == {live, gone}


def test_list_artifacts(server, mlflow_client, tmp_path):
    exp_id = mlflow_client.create_experiment(unique("gql-art"))
    run_id = mlflow_client.create_run(exp_id).info.run_id
    file = tmp_path / "test.txt"
    file.write_text("hello world")
    mlflow_client.log_artifact(run_id, str(file))
    mlflow_client.log_artifact(run_id, str(file), "testDir")
    query = """query($id: String, $path: String) {
        listing: mlflowListArtifacts(input: {runId: $id, path: $path}) {
            rootUri files { path isDir fileSize } nextPageToken apiError { code } } }"""
    got = ok(graphql(server, query, {"id": run_id}))["listing"]
    assert got["files"] == [{"path": "test.txt", "isDir": False, "fileSize": "11"},
                            {"path": "testDir", "isDir": True, "fileSize": "0"}]
    assert got["rootUri"] and got["nextPageToken"] == "" and got["apiError"] is None
    got = ok(graphql(server, query, {"id": run_id, "path": "testDir"}))["listing"]
    assert got["files"] == [{"path": "testDir/test.txt", "isDir": False, "fileSize": "11"}]

    r = graphql(server, query, {"id": run_id, "path": "../x"})
    assert r.json() == {"data": {"listing": None}, "errors": ["Invalid path"]}


def test_search_datasets_mutation(server, mlflow_client):
    exp_id = mlflow_client.create_experiment(unique("gql-ds"))
    run_id = mlflow_client.create_run(exp_id).info.run_id
    mlflow_client.log_inputs(run_id, [
        DatasetInput(Dataset("one", "12345", "script", "test"), []),
        DatasetInput(Dataset("two", "12346", "script", "test"),
                     [InputTag("mlflow.data.context", "training")])])
    mutation = """mutation testMutation { mlflowSearchDatasets(input: {experimentIds: ["%s"]}) {
        datasetSummaries { experimentId name digest context } } }""" % exp_id
    data = ok(graphql(server, mutation, None, "testMutation"))
    summaries = sorted(data["mlflowSearchDatasets"]["datasetSummaries"],
                       key=lambda s: s["digest"])
    assert summaries == [
        {"experimentId": exp_id, "name": "one", "digest": "12345", "context": ""},
        {"experimentId": exp_id, "name": "two", "digest": "12346", "context": "training"}]


def test_a_failed_field_is_null_beside_the_others(server, mlflow_client):
    exp_id = mlflow_client.create_experiment(unique("gql-err"))
    query = """{
        missing: mlflowGetExperiment(input: {experimentId: "99999"}) { experiment { name } }
        found: mlflowGetExperiment(input: {experimentId: "%s"}) { experiment { experimentId } }
        run: mlflowGetRun(input: {runId: "00000000000000000000000000000000"}) {
            run { info { runId } } } }""" % exp_id
    r = graphql(server, query)
    assert r.status_code == 200
    assert r.json() == {
        "data": {"missing": None, "found": {"experiment": {"experimentId": exp_id}},
                 "run": None},
        "errors": ["No Experiment with id=99999 exists",
                   "Run with id=00000000000000000000000000000000 not found"]}


@pytest.mark.parametrize("query, message", [
    ('{ mlflowGetExperiment(input: {experimentId: "0"}) { experiment { bogus } } }',
     "Cannot query field 'bogus' on type 'MlflowExperiment'."),
    ('{ test(bogus: "x") { output } }', "Unknown argument 'bogus' on field 'Query.test'."),
    ('{ test(inputString: "x") }',
     "Field 'test' of type 'Test' must have a selection of subfields. Did you mean "
     "'test { ... }'?"),
    ("{ test(inputString: 5) { output } }", "String cannot represent a non string value: 5"),
    ('{ mlflowSearchDatasets(input: {experimentIds: ["0"]}) { apiError { code } } }',
     "Cannot query field 'mlflowSearchDatasets' on type 'Query'."),
])
def test_validation_errors_leave_data_null(server, query, message):
    r = graphql(server, query)
    assert r.status_code == 200
    body = r.json()
    assert body["data"] is None
    assert body["errors"][0].startswith(message), body


def test_variables_fragments_and_operation_names(server, mlflow_client):
    name = unique("gql-frag")
    exp_id = mlflow_client.create_experiment(name)
    document = """
        query ByVariable($expId: String!) {
            mlflowGetExperiment(input: {experimentId: $expId}) {
                experiment { ...Names ... on MlflowExperiment { lifecycleStage } } } }
        query Other { test(inputString: "other") { output } }
        fragment Names on MlflowExperiment { experimentId name }
    """
    data = ok(graphql(server, document, {"expId": exp_id}, "ByVariable"))
    assert data == {"mlflowGetExperiment": {"experiment": {
        "experimentId": exp_id, "name": name, "lifecycleStage": "active"}}}
    assert ok(graphql(server, document, None, "Other")) == {"test": {"output": "other"}}

    assert first_error(graphql(server, document)) == (
        "Must provide operation name if query contains multiple operations.")
    assert first_error(graphql(server, document, None, "nope")) == (
        "Unknown operation named 'nope'.")
    assert first_error(graphql(server, document, {}, "ByVariable")) == (
        "Variable '$expId' of required type 'String!' was not provided.")
    unused = document.replace("$expId: String!", "$expId: String!, $other: Int")
    assert first_error(graphql(server, unused, {"expId": exp_id}, "ByVariable")) == (
        "Variable '$other' is never used in operation 'ByVariable'.")
    assert first_error(graphql(server, "query Q { test(inputString: $nope) { output } }")) == (
        "Variable '$nope' is not defined by operation 'Q'.")
    # Input objects as variables use the GraphQL (camelCase) field names.
    query = """query($in: MlflowGetExperimentInput) {
        mlflowGetExperiment(input: $in) { experiment { name } } }"""
    assert ok(graphql(server, query, {"in": {"experimentId": exp_id}})) == {
        "mlflowGetExperiment": {"experiment": {"name": name}}}
    error = first_error(graphql(server, """query($d: MlflowSearchRunsInput) {
        mlflowSearchRuns(input: $d) { nextPageToken } }""", {"d": {"maxResults": "x"}}))
    assert error.startswith("Variable '$d' got invalid value"), error
    assert "Int cannot represent non-integer value: 'x'" in error


@pytest.mark.slipway_only  # MLflow's schema replaces the standard directives with @component
def test_skip_and_include(server):
    query = """query($yes: Boolean!) { a: test(inputString: "a") @include(if: $yes) { output }
        b: test(inputString: "b") @skip(if: $yes) { output }
        c: test(inputString: "c") { ... @include(if: false) { output } __typename } }"""
    assert ok(graphql(server, query, {"yes": True})) == {
        "a": {"output": "a"}, "c": {"__typename": "Test"}}


def _many(count: int, item) -> str:
    return " ".join(item(i) for i in range(count))


def test_safety_limits(server):
    cases = [
        ("query q {" + _many(12, lambda i: f'key_{i}: test(inputString: "abc") {{ output }}')
         + "}", "GraphQL queries should have at most 10 root fields, got 12 root fields. To "
         "increase the limit, set the MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS environment "
         "variable."),
        ('query q {mlflowGetExperiment(input: {experimentId: "123"}) {'
         + _many(12, lambda i: f"experiment_{i}: experiment {{ name }}") + "}}",
         "GraphQL queries should have at most 10 aliases, got 12 aliases. To increase the "
         "limit, set the MLFLOW_SERVER_GRAPHQL_MAX_ALIASES environment variable."),
        ('query q { mlflowGetExperiment(input: {experimentId: "123"}) { experiment { '
         + "name { " * 12 + "name" + " }" * 12 + " } } }", "Query exceeds maximum depth of 10"),
        ('query q { mlflowGetExperiment(input: {experimentId: "123"}) { experiment { '
         + _many(1002, lambda i: f"field_{i} {{ name }}") + " } } }",
         "Query exceeds maximum total selections of 1000"),
    ]
    for query, message in cases:
        r = graphql(server, query, None, "q")
        assert r.status_code == 200
        # The scan runs before validation: these fields do not exist.
        assert r.json() == {"data": None, "errors": [message]}


def test_limits_come_from_the_environment(server_factory):
    srv = server_factory()
    srv.env = {"MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS": "12",
               "MLFLOW_SERVER_GRAPHQL_MAX_ALIASES": "12"}
    srv.start()

    def echoes(count: int) -> str:
        return "{" + _many(count, lambda i: f'k{i}: test(inputString: "{i}") {{ output }}') + "}"

    assert ok(graphql(srv, echoes(12))) == {f"k{i}": {"output": str(i)} for i in range(12)}
    assert first_error(graphql(srv, echoes(13))) == (
        "GraphQL queries should have at most 12 root fields, got 13 root fields. To increase "
        "the limit, set the MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS environment variable.")


@pytest.mark.slipway_only  # MLflow answers these with a 500 HTML page
def test_malformed_requests_get_400(server):
    r = graphql(server, "query {\n  test(inputString: ) { output }\n}")
    assert r.status_code == 400
    assert r.json() == {"data": None,
                        "errors": ["Syntax Error: Unexpected ')'. (line 2, column 21)"]}
    r = requests.post(f"{server.url}/graphql", data="not json",
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400 and r.json()["data"] is None
    r = requests.post(f"{server.url}/graphql", json={"variables": {}}, timeout=30)
    assert r.status_code == 400
    assert r.json()["errors"] == ["Must provide query string."]
    r = requests.post(f"{server.url}/graphql", json={"query": "{ test { output } }",
                                                     "variables": [1]}, timeout=30)
    assert r.status_code == 400
    nested = "[" * 100000 + "]" * 100000
    deep = '{"query": "{ test { output } }", "variables": {"v": ' + nested + "}}"
    r = requests.post(f"{server.url}/graphql", data=deep,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400
    assert "nests JSON deeper than 64 levels" in r.json()["errors"][0]
    assert server.alive()


@pytest.mark.slipway_only  # Slipway's route body limit
def test_body_limit(server):
    padding = "#" + "x" * (1 << 20) + "\n"
    r = requests.post(f"{server.url}/graphql",
                      json={"query": padding + '{ test(inputString: "a") { output } }'},
                      timeout=30)
    assert r.status_code == 413


@pytest.mark.slipway_only  # MLflow answers GET with a 500
def test_get_with_query_string(server):
    r = requests.get(f"{server.url}/graphql", timeout=30, params={
        "query": "query($s: String) { test(inputString: $s) { output } }",
        "variables": '{"s": "via get"}'})
    assert r.status_code == 200
    assert r.json() == {"data": {"test": {"output": "via get"}}, "errors": None}


ADMIN = ("admin", "admin-Pa55word!")
ALICE = ("alice", "alice-Pa55word!")
BOB = ("bob", "bob-Pa55word!")


@pytest.mark.slipway_only
def test_permissions_with_auth(tmp_path_factory):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("gql-auth"),
                        extra_args=["--auth"], env={"SLIPWAY_ADMIN_PASSWORD": ADMIN[1]})
    srv.start()
    try:
        for user, password in (ALICE, BOB):
            r = requests.post(f"{srv.api}/users/create", auth=ADMIN, timeout=30,
                              json={"username": user, "password": password})
            assert r.status_code == 200, r.text
        r = requests.post(f"{srv.api}/experiments/create", auth=ALICE, timeout=30,
                          json={"name": unique("gql-private")})
        exp_id = r.json()["experiment_id"]
        r = requests.post(f"{srv.api}/experiments/permissions/create", auth=ALICE, timeout=30,
                          json={"experiment_id": exp_id, "username": BOB[0],
                                "permission": "NO_PERMISSIONS"})
        assert r.status_code == 200, r.text
        query = """query($id: String!) {
            mine: mlflowGetExperiment(input: {experimentId: $id}) { experiment { name } }
            echo: test(inputString: "x") { output } }"""

        r = graphql(srv, query, {"id": exp_id})
        assert r.status_code == 401

        assert ok(graphql(srv, query, {"id": exp_id}, auth=ALICE))["mine"]["experiment"]
        r = graphql(srv, query, {"id": exp_id}, auth=BOB)
        assert r.status_code == 200
        body = r.json()
        assert body["data"] == {"mine": None, "echo": {"output": "x"}}
        assert len(body["errors"]) == 1 and "ermission" in body["errors"][0], body
        # A search reaching the experiment is refused for bob too.
        r = graphql(srv, """{ mlflowSearchRuns(input: {experimentIds: ["%s"]}) {
            runs { info { runId } } } }""" % exp_id, auth=BOB)
        assert r.json()["data"] == {"mlflowSearchRuns": None}
    finally:
        srv.assert_clean_exit()
