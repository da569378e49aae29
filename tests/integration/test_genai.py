"""MLflow 3's GenAI issues and registered scorers, through the real client
(`mlflow.genai.judges.make_judge(...).register`, `mlflow.genai.scorers.list_scorers`,
`get_scorer`, `delete_scorer`; the client's REST store for issues, which MLflow has no
fluent API for) and MLflow's REST forms.

Expectations are what `mlflow server` 3.17.2 answers; run with
SLIPWAY_ITEST_REFERENCE=mlflow to check them against it.
"""

from __future__ import annotations

import json

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.genai.judges import make_judge
from mlflow.genai.scorers import delete_scorer, get_scorer, list_scorers, scorer

from conftest import REFERENCE, assert_mlflow_error, unique


@pytest.fixture
def experiment(mlflow_client) -> str:
    exp = mlflow_client.create_experiment(unique("genai"))
    mlflow.set_experiment(experiment_id=exp)
    return exp


def _store():
    from mlflow.tracking._tracking_service.utils import _get_store

    return _get_store()


# ------------------------------------------------------------------ issues


def test_issues_create_get_update_and_search(server, mlflow_client, experiment):
    store = _store()
    run_id = mlflow_client.create_run(experiment).info.run_id
    full = store.create_issue(experiment_id=experiment, name="hallucinated prices",
                              description="answers quote prices not in the catalog",
                              status="pending", severity="high", root_causes=["stale index"],
                              source_run_id=run_id, categories=["accuracy"], created_by="ann")
    assert full.issue_id.startswith("iss-") and full.status == "pending"
    assert (full.severity, full.root_causes, full.source_run_id, full.created_by) == (
        "high", ["stale index"], run_id, "ann")
    low = store.create_issue(experiment_id=experiment, name="tone", description="too curt",
                             severity="low")
    none = store.create_issue(experiment_id=experiment, name="typo", description="spelling")
    assert none.status == "pending"  # the default

    got = store.get_issue(full.issue_id)
    assert (got.name, got.categories) == ("hallucinated prices", ["accuracy"])
    updated = store.update_issue(issue_id=low.issue_id, status="resolved", severity="medium",
                                 name="tone of voice")
    assert (updated.status, updated.severity, updated.name, updated.description) == (
        "resolved", "medium", "tone of voice", "too curt")

    # By severity, high first, issues without one last.
    found = store.search_issues(experiment_id=experiment)
    assert [i.issue_id for i in found] == [full.issue_id, low.issue_id, none.issue_id]
    resolved = store.search_issues(experiment_id=experiment, filter_string="status = 'resolved'")
    assert [i.issue_id for i in resolved] == [low.issue_id]
    from_run = store.search_issues(experiment_id=experiment,
                                   filter_string=f"source_run_id = '{run_id}'")
    assert [i.issue_id for i in from_run] == [full.issue_id]

    # Pages: the token is "" on the last page, as MLflow answers.
    url = f"{server.url}/api/3.0/mlflow/issues/search"
    first = requests.post(url, json={"experiment_id": experiment, "max_results": 2}).json()
    assert len(first["issues"]) == 2 and first["next_page_token"]
    rest = requests.post(url, json={"experiment_id": experiment, "max_results": 2,
                                    "page_token": first["next_page_token"],
                                    "include_trace_count": True}).json()
    assert [i["issue_id"] for i in rest["issues"]] == [none.issue_id]
    assert rest["next_page_token"] == "" and rest["issues"][0]["trace_count"] == 0


def _traces(n: int) -> list[str]:
    ids = []
    for i in range(n):
        with mlflow.start_span(name=f"ask-{i}") as span:
            span.set_inputs({"q": i})
        ids.append(mlflow.get_last_active_trace_id())
    mlflow.flush_trace_async_logging()
    return ids


def test_traces_link_to_issues_and_are_counted_and_found_by_them(server, experiment):
    from mlflow.entities import Feedback, IssueReference

    store = _store()
    prices = store.create_issue(experiment_id=experiment, name="prices", description="d",
                                severity="low")
    tone = store.create_issue(experiment_id=experiment, name="tone", description="d",
                              severity="low")
    t1, t2, t3 = _traces(3)
    for trace_id in (t1, t2):
        mlflow.log_assessment(trace_id, IssueReference(issue_id=prices.issue_id,
                                                       issue_name="prices",
                                                       rationale="quotes a made-up price"))
    linked = mlflow.log_assessment(t3, IssueReference(issue_id=tone.issue_id, issue_name="tone"))
    mlflow.log_assessment(t3, Feedback(name=prices.issue_id, value=0.1))  # not a link

    assert linked.issue_id == tone.issue_id and linked.issue_name == "tone"
    (got,) = [a for a in mlflow.get_trace(t3).info.assessments if isinstance(a, IssueReference)]
    assert (got.issue_id, got.issue_name) == (tone.issue_id, "tone")

    def found(filter_string):
        return sorted(t.info.trace_id for t in mlflow.search_traces(
            locations=[experiment], filter_string=filter_string, return_type="list"))

    assert found(f"issue.id = '{prices.issue_id}'") == sorted([t1, t2])
    assert found(f'issue.id = "{tone.issue_id}" AND span.name = \'ask-2\'') == [t3]
    assert found("issue.id = 'iss-none'") == []

    # Distinct traces per issue; at equal severity, more traces first.
    counted = store.search_issues(experiment_id=experiment, include_trace_count=True)
    assert [(i.issue_id, i.trace_count) for i in counted] == [
        (prices.issue_id, 2), (tone.issue_id, 1)]

    search = f"{server.url}/api/3.0/mlflow/traces/search"
    bad_filters = [("issue.id != 'x'", "issue.id comparator '!='"),
                   ("issue.id = 3", "Expected a quoted string value")]
    if not REFERENCE:  # mlflow server answers 200 and an empty body
        bad_filters.append(("issue.name = 'x'", "Invalid issue attribute 'name'"))
    for bad, fragment in bad_filters:
        r = requests.post(search, json={"locations": [{"type": "MLFLOW_EXPERIMENT",
                                                       "mlflow_experiment": {
                                                           "experiment_id": experiment}}],
                                        "filter": bad})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", fragment)


@pytest.mark.slipway_only
def test_a_trace_links_only_to_an_issue_of_its_own_experiment(server, mlflow_client, experiment):
    # MLflow keeps a link to any id; Slipway resolves the issue first, so an
    # issue's trace count and the issue.id filter never count traces of
    # experiments its readers cannot see.
    other = mlflow_client.create_experiment(unique("genai-other"))
    foreign = _store().create_issue(experiment_id=other, name="x", description="d")
    (trace_id,) = _traces(1)
    url = f"{server.url}/api/3.0/mlflow/traces/{trace_id}/assessments"
    for issue_id in (foreign.issue_id, "iss-none"):
        body = {"assessment": {"trace_id": trace_id, "assessment_name": issue_id,
                               "source": {"source_type": "CODE"},
                               "issue": {"issue_name": "x"}}}
        assert_mlflow_error(requests.post(url, json=body), 404, "RESOURCE_DOES_NOT_EXIST",
                            f"Issue '{issue_id}' not found in experiment {experiment}")
    (counted,) = _store().search_issues(experiment_id=other, include_trace_count=True)
    assert (counted.issue_id, counted.trace_count) == (foreign.issue_id, 0)
    assert mlflow.get_trace(trace_id).info.assessments == []


def test_issue_errors(server, experiment):
    api = f"{server.url}/api/3.0/mlflow/issues"
    assert_mlflow_error(requests.post(api, json={"experiment_id": "999999", "name": "n",
                                                 "description": "d"}),
                        404, "RESOURCE_DOES_NOT_EXIST", "999999")
    assert_mlflow_error(requests.post(api, json={"experiment_id": experiment, "name": "n"}),
                        400, "INVALID_PARAMETER_VALUE", "description")
    assert_mlflow_error(requests.get(f"{api}/iss-nope"), 404, "RESOURCE_DOES_NOT_EXIST",
                        "Issue with ID 'iss-nope' not found")
    r = requests.patch(f"{api}/iss-nope", json={"name": "x"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "issue_id")
    for body, fragment in [({"filter_string": "name = 'x'"}, "Invalid filter field 'name'"),
                           ({"filter_string": "status LIKE 'x'"}, "Invalid comparator"),
                           ({"max_results": 0}, "max_results"),
                           ({"max_results": 50001}, "max_results")]:
        r = requests.post(f"{api}/search", json={"experiment_id": experiment, **body})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", fragment)


@pytest.mark.slipway_only
def test_issue_status_and_severity_are_checked(server, experiment):
    # MLflow answers these with a 500 page; Slipway says what is wrong.
    api = f"{server.url}/api/3.0/mlflow/issues"
    base = {"experiment_id": experiment, "name": "n", "description": "d"}
    assert_mlflow_error(requests.post(api, json={**base, "status": "open"}), 400,
                        "INVALID_PARAMETER_VALUE", "pending, rejected, resolved")
    assert_mlflow_error(requests.post(api, json={**base, "severity": "huge"}), 400,
                        "INVALID_PARAMETER_VALUE", "not_an_issue, low, medium, high")
    assert_mlflow_error(requests.post(api, json={**base, "source_run_id": "0" * 32}), 404,
                        "RESOURCE_DOES_NOT_EXIST")


# ------------------------------------------------------------------ scorers


def test_scorers_register_versions_get_and_delete(server, experiment):
    judge = make_judge(name="politeness", instructions="Is {{ outputs }} polite?",
                       model="openai:/gpt-4o-mini")
    judge.register(experiment_id=experiment)
    stricter = make_judge(name="politeness", instructions="Is {{ outputs }} very polite?",
                          model="openai:/gpt-4o-mini")
    stricter.register(experiment_id=experiment)
    other = make_judge(name="brevity", instructions="Is {{ outputs }} short?",
                       model="openai:/gpt-4o-mini")
    other.register(experiment_id=experiment)

    assert sorted(s.name for s in list_scorers(experiment_id=experiment)) == [
        "brevity", "politeness"]
    assert get_scorer(name="politeness", experiment_id=experiment).instructions == (
        "Is {{ outputs }} very polite?")
    assert get_scorer(name="politeness", experiment_id=experiment, version=1).instructions == (
        "Is {{ outputs }} polite?")

    api = f"{server.url}/api/3.0/mlflow/scorers"
    versions = requests.get(f"{api}/versions",
                            params={"experiment_id": experiment, "name": "politeness"}).json()
    assert [v["scorer_version"] for v in versions["scorers"]] == [1, 2]
    assert versions["scorers"][0]["experiment_id"] == int(experiment)  # a number, as MLflow
    assert len({v["scorer_id"] for v in versions["scorers"]}) == 1

    r = requests.delete(f"{api}/delete", json={"experiment_id": experiment,
                                               "name": "politeness", "version": 1})
    assert r.status_code == 200, r.text
    got = requests.get(f"{api}/get", params={"experiment_id": experiment, "name": "politeness",
                                             "version": 1})
    assert_mlflow_error(got, 404, "RESOURCE_DOES_NOT_EXIST",
                        "Scorer with name 'politeness' and version 1 not found")
    delete_scorer(name="politeness", experiment_id=experiment, version="all")
    assert [s.name for s in list_scorers(experiment_id=experiment)] == ["brevity"]
    with pytest.raises(MlflowException, match="not found"):
        get_scorer(name="politeness", experiment_id=experiment)


def test_scorers_that_would_run_code_or_redirect_requests_are_refused(server, experiment):
    @scorer
    def exact_match(outputs, expectations) -> bool:
        return outputs == expectations["answer"]

    if not REFERENCE:  # MLflow's server takes them when MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS is set
        with pytest.raises(MlflowException, match="Custom scorer registration"):
            exact_match.register(experiment_id=experiment)
    api = f"{server.url}/api/3.0/mlflow/scorers/register"
    nested = {"ensemble_scorer_data": {"scorers": [{"call_source": "import os"}]}}
    redirect = {"third_party_scorer_data": {"kwargs": {"model_kwargs": {
        "api_base": "http://attacker.example"}}}}
    for payload, fragment in [(nested, "Custom scorer registration"),
                              (redirect, "api_base"),
                              ("{not json", "serialized_scorer must be valid JSON")]:
        body = {"experiment_id": experiment, "name": unique("bad"),
                "serialized_scorer": payload if isinstance(payload, str) else json.dumps(payload)}
        assert_mlflow_error(requests.post(api, json=body), 400, "INVALID_PARAMETER_VALUE",
                            fragment)
    assert_mlflow_error(requests.post(api, json={"experiment_id": experiment, "name": "  ",
                                                 "serialized_scorer": "{}"}),
                        400, "INVALID_PARAMETER_VALUE", "Scorer name cannot be empty")
    assert_mlflow_error(requests.post(api, json={"experiment_id": "999999", "name": "x",
                                                 "serialized_scorer": "{}"}),
                        404, "RESOURCE_DOES_NOT_EXIST", "999999")
    listed = requests.get(f"{server.url}/api/3.0/mlflow/scorers/list",
                          params={"experiment_id": experiment}).json()
    assert listed == {}
