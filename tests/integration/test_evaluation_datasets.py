"""MLflow 3's evaluation datasets through the real `mlflow.genai.datasets` client and
MLflow's REST forms (`/api/3.0/mlflow/datasets/...`).

Expectations are what `mlflow server` 3.17.2 answers (mlflow/server/handlers.py,
mlflow/store/tracking/sqlalchemy_store.py); run with SLIPWAY_ITEST_REFERENCE=mlflow to
check them against it. Where Slipway deliberately differs (an experiment id that does
not exist, clearer errors for bad records) the test is marked slipway_only.
"""

from __future__ import annotations

import json
import time

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.genai.datasets import (
    add_dataset_to_experiments,
    create_dataset,
    delete_dataset,
    delete_dataset_tag,
    get_dataset,
    remove_dataset_from_experiments,
    search_datasets,
    set_dataset_tags,
)

from conftest import REFERENCE, assert_mlflow_error, unique


@pytest.fixture
def api(server) -> str:
    return server.url + "/api/3.0/mlflow/datasets"


@pytest.fixture
def experiment(mlflow_client) -> str:
    return mlflow_client.create_experiment(unique("evalds"))


def _upsert(api: str, dataset_id: str, records: list[dict]) -> dict:
    r = requests.post(f"{api}/{dataset_id}/records", json={"records": json.dumps(records)})
    assert r.status_code == 200, r.text
    return r.json()


def _records(api: str, dataset_id: str, **params) -> tuple[list[dict], str | None]:
    r = requests.get(f"{api}/{dataset_id}/records", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return json.loads(body["records"]), body.get("next_page_token")


def test_create_get_and_merge_records_through_the_client(mlflow_client, experiment):
    ds = create_dataset(name=unique("qa"), experiment_id=experiment,
                        tags={"team": "ml", "stage": "dev"})
    assert ds.dataset_id.startswith("d-") and len(ds.dataset_id) == 34
    assert ds.experiment_ids == [experiment]
    assert ds.tags["team"] == "ml" and "mlflow.user" in ds.tags  # the client adds its user
    assert ds.created_by == ds.tags["mlflow.user"]

    ds.merge_records([
        {"inputs": {"question": "2+2?"}, "expectations": {"answer": "4"}},
        {"inputs": {"question": "capital of France?"}, "outputs": "Paris"},
    ])
    # The same inputs (in another key order) merge into one record; new ones are added.
    ds.merge_records([
        {"inputs": {"question": "2+2?"}, "expectations": {"explanation": "arithmetic"}},
        {"inputs": {"question": "3+3?", "lang": "en"}},
        {"inputs": {"lang": "en", "question": "3+3?"}, "expectations": {"answer": "6"}},
    ])
    got = get_dataset(dataset_id=ds.dataset_id)
    assert got.name == ds.name and got.tags == ds.tags
    assert sorted(got.experiment_ids) == [experiment]
    df = got.to_df().sort_values("created_time", kind="stable")
    by_question = {row["inputs"]["question"]: row for _, row in df.iterrows()}
    assert set(by_question) == {"2+2?", "capital of France?", "3+3?"}
    assert by_question["2+2?"]["expectations"] == {"answer": "4", "explanation": "arithmetic"}
    assert by_question["3+3?"]["expectations"] == {"answer": "6"}
    assert by_question["capital of France?"]["outputs"] == "Paris"
    assert by_question["2+2?"]["source_type"] == "HUMAN"  # inferred by the client
    profile = json.loads(got.profile)
    assert profile == {"num_records": 3}
    schema = json.loads(got.schema)
    assert schema["inputs"] == {"question": "string", "lang": "string"}
    assert schema["expectations"] == {"answer": "string", "explanation": "string"}
    assert got.digest != ds.digest and len(got.digest) == 8  # each upsert changes it
    assert got.last_update_time >= ds.created_time


def test_upsert_counts_and_merge_rules_over_rest(api, mlflow_client, experiment):
    r = requests.post(f"{api}/create", json={"name": unique("rest"),
                                             "experiment_ids": [experiment]})
    assert r.status_code == 200, r.text
    created = r.json()["dataset"]
    dataset_id = created["dataset_id"]
    assert created["tags"] == "{}" and created["experiment_ids"] == [experiment]
    assert "schema" not in created and "profile" not in created

    first = [
        {"inputs": {"q": "a"}, "outputs": {"text": "x"}, "tags": {"k": "1"},
         "source": {"source_type": "trace", "source_data": {"trace_id": "tr-1"}}},
        {"inputs": {"q": "b"}},
    ]
    assert _upsert(api, dataset_id, first) == {"inserted_count": 2, "updated_count": 0}
    second = [
        {"inputs": {"q": "a"}, "outputs": None, "tags": {"j": "2"},
         "source": {"source_type": "HUMAN", "source_data": {}}},
        {"inputs": {"q": "c"}},
        {"inputs": {"q": 1}},  # 1 is not "1": another record
    ]
    assert _upsert(api, dataset_id, second) == {"inserted_count": 2, "updated_count": 1}
    assert _upsert(api, dataset_id, []) == {"inserted_count": 0, "updated_count": 0}

    records, token = _records(api, dataset_id)
    assert token is None and len(records) == 4
    a = next(rec for rec in records if rec["inputs"] == {"q": "a"})
    assert "outputs" not in a  # an explicit null clears them
    assert a["tags"] == {"k": "1", "j": "2"}  # merged
    assert a["source_type"] == "TRACE" and a["source_id"] == "tr-1"  # the first source stays
    assert a["source"] == {"source_type": "TRACE", "source_data": {"trace_id": "tr-1"}}
    assert a["dataset_record_id"].startswith("dr-") and a["dataset_id"] == dataset_id
    b = next(rec for rec in records if rec["inputs"] == {"q": "b"})
    assert b["outputs"] == {} and "expectations" not in b  # MLflow's defaults

    # Pages of records, in creation order; deleting records updates the profile.
    page, token = _records(api, dataset_id, max_results=3)
    assert len(page) == 3 and token
    rest, token2 = _records(api, dataset_id, max_results=3, page_token=token)
    assert len(rest) == 1 and token2 is None
    assert {r["dataset_record_id"] for r in page + rest} == {r["dataset_record_id"]
                                                             for r in records}
    r = requests.delete(f"{api}/{dataset_id}/records",
                        json={"dataset_record_ids": [a["dataset_record_id"], "dr-nope"]})
    assert r.status_code == 200 and r.json() == {"deleted_count": 1}
    got = requests.get(f"{api}/{dataset_id}").json()["dataset"]
    assert json.loads(got["profile"]) == {"num_records": 3}

    # An upsert to a dataset that does not exist is refused and creates nothing.
    r = requests.post(f"{api}/d-{'0' * 32}/records",
                      json={"records": json.dumps([{"inputs": {"q": "z"}}])})
    assert r.status_code != 200


def test_tags_set_merge_and_delete(mlflow_client, experiment):
    ds = create_dataset(name=unique("tags"), experiment_id=experiment,
                        tags={"initial": "v", "env": "dev"})
    set_dataset_tags(dataset_id=ds.dataset_id, tags={"env": "staging", "new_tag": "new"})
    tags = get_dataset(dataset_id=ds.dataset_id).tags
    assert tags["initial"] == "v" and tags["env"] == "staging" and tags["new_tag"] == "new"
    delete_dataset_tag(dataset_id=ds.dataset_id, key="new_tag")
    delete_dataset_tag(dataset_id=ds.dataset_id, key="new_tag")  # again: no error
    tags = get_dataset(dataset_id=ds.dataset_id).tags
    assert "new_tag" not in tags and tags["env"] == "staging"


def test_search_by_experiment_filter_order_and_pages(mlflow_client):
    e1 = mlflow_client.create_experiment(unique("search-1"))
    e2 = mlflow_client.create_experiment(unique("search-2"))
    prefix = unique("s")
    ds1 = create_dataset(name=f"{prefix}-b", experiment_id=[e1], tags={"team": "ml"})
    ds2 = create_dataset(name=f"{prefix}-a", experiment_id=[e1, e2], tags={"team": "data"})
    ds3 = create_dataset(name=f"{prefix}-C", experiment_id=[e2], tags={"team": "ml"})
    mine = {ds1.dataset_id, ds2.dataset_id, ds3.dataset_id}

    assert {d.dataset_id for d in search_datasets(experiment_ids=[e1])} == {ds1.dataset_id,
                                                                            ds2.dataset_id}
    found = search_datasets(experiment_ids=[e1, e2], filter_string="tags.team = 'ml'")
    assert {d.dataset_id for d in found} == {ds1.dataset_id, ds3.dataset_id}
    by_name = search_datasets(experiment_ids=[e1, e2], order_by=["name ASC"])
    assert [d.name for d in by_name] == sorted(d.name for d in by_name)
    # LIKE is case-sensitive, ILIKE is not.
    assert {d.name for d in search_datasets(filter_string=f"name LIKE '{prefix}-c'")} == set()
    assert {d.name for d in search_datasets(filter_string=f"name ILIKE '{prefix}-c'")} == {
        f"{prefix}-C"}
    names = search_datasets(filter_string=f"name IN ('{prefix}-a', '{prefix}-b')")
    assert {d.dataset_id for d in names} == {ds1.dataset_id, ds2.dataset_id}
    newest = search_datasets(experiment_ids=[e1, e2], order_by=["created_time DESC"])
    assert [d.dataset_id for d in newest][0] == ds3.dataset_id
    since = search_datasets(experiment_ids=[e1, e2],
                            filter_string=f"created_time >= {ds2.created_time}")
    assert {d.dataset_id for d in since} == {ds2.dataset_id, ds3.dataset_id}

    # Pages: MLflow's offset tokens, and a token only when more follow.
    client = mlflow.MlflowClient()
    seen, token = [], None
    while True:
        page = client.search_datasets(experiment_ids=[e1, e2], max_results=1, page_token=token)
        seen += [d.dataset_id for d in page]
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted(mine)


def test_experiment_links_add_remove_idempotent(mlflow_client):
    exps = [mlflow_client.create_experiment(unique(f"link-{i}")) for i in range(4)]
    ds = create_dataset(name=unique("links"), experiment_id=[exps[0]])
    # (an id given twice in one request is one link; MLflow fails on it)
    twice = [] if REFERENCE else [exps[1]]
    updated = add_dataset_to_experiments(dataset_id=ds.dataset_id,
                                         experiment_ids=[exps[1], exps[2], *twice])
    assert sorted(updated.experiment_ids) == sorted(exps[:3])
    again = add_dataset_to_experiments(dataset_id=ds.dataset_id, experiment_ids=[exps[0]])
    assert sorted(again.experiment_ids) == sorted(exps[:3])
    removed = remove_dataset_from_experiments(dataset_id=ds.dataset_id,
                                              experiment_ids=[exps[1], exps[3]])
    assert sorted(removed.experiment_ids) == sorted([exps[0], exps[2]])
    gone = remove_dataset_from_experiments(dataset_id=ds.dataset_id,
                                           experiment_ids=[exps[0], exps[2]])
    assert gone.experiment_ids == []
    assert mlflow_client.get_dataset(ds.dataset_id).experiment_ids == []

    missing = f"d-{'0' * 32}"
    for call in (add_dataset_to_experiments, remove_dataset_from_experiments):
        with pytest.raises(MlflowException, match="not found"):
            call(dataset_id=missing, experiment_ids=[exps[0]])


def test_delete_dataset(api, mlflow_client, experiment):
    ds = create_dataset(name=unique("gone"), experiment_id=experiment)
    ds.merge_records([{"inputs": {"q": "a"}}])
    delete_dataset(dataset_id=ds.dataset_id)
    with pytest.raises(MlflowException, match="not found"):
        get_dataset(dataset_id=ds.dataset_id)
    r = requests.get(f"{api}/{ds.dataset_id}")
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "not found")
    # Deleting again is no error, as in MLflow.
    assert requests.delete(f"{api}/{ds.dataset_id}").status_code == 200


def test_ajax_api_prefix(server, experiment):
    r = requests.post(f"{server.url}/ajax-api/3.0/mlflow/datasets/create",
                      json={"name": unique("ajax"), "experiment_ids": [experiment]})
    assert r.status_code == 200, r.text
    dataset_id = r.json()["dataset"]["dataset_id"]
    r = requests.get(f"{server.url}/ajax-api/3.0/mlflow/datasets/{dataset_id}/experiment-ids")
    assert r.status_code == 200 and r.json() == {"experiment_ids": [experiment]}


def test_bad_requests_get_mlflows_errors(api, experiment):
    assert_mlflow_error(requests.post(f"{api}/create", json={"experiment_ids": [experiment]}),
                        400, "INVALID_PARAMETER_VALUE", "name")
    r = requests.post(f"{api}/create", json={"name": unique("bad"),
                                             "experiment_ids": [experiment]})
    dataset_id = r.json()["dataset"]["dataset_id"]
    assert_mlflow_error(requests.post(f"{api}/{dataset_id}/records", json={}),
                        400, "INVALID_PARAMETER_VALUE", "records")
    r = requests.post(f"{api}/{dataset_id}/records",
                      json={"records": json.dumps([{"inputs": {"q": "a"},
                                                    "source": {"source_type": "BOGUS"}}])})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid dataset record source type")
    assert_mlflow_error(requests.patch(f"{api}/{dataset_id}/tags", json={}),
                        400, "INVALID_PARAMETER_VALUE", "tags")
    for body, fragment in [
        ({"filter_string": "name = 'a' OR name = 'b'"}, "Invalid clause(s) in filter string"),
        ({"filter_string": "digest = 'x'"}, "Invalid attribute key 'digest'"),
        ({"filter_string": "created_time > '5'"}, "numeric"),
        ({"filter_string": "tags.team > 'a'"}, "Invalid comparator for tag"),
        ({"order_by": ["digest ASC"]}, "Invalid attribute key 'digest'"),
        ({"max_results": 50001}, "max_results"),
        ({"max_results": -1}, "max_results"),
        ({"page_token": "not-base64!"}, "Invalid page token"),
    ]:
        r = requests.post(f"{api}/search", json=body)
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", fragment)
    # no records were written by any of it
    assert _records(api, dataset_id)[0] == []
    assert_mlflow_error(requests.get(f"{api}/d-{'0' * 32}"), 404, "RESOURCE_DOES_NOT_EXIST",
                        "not found")


@pytest.mark.slipway_only
def test_bad_records_name_the_record_and_where(api, experiment):
    r = requests.post(f"{api}/create", json={"name": unique("badrec"),
                                             "experiment_ids": [experiment]})
    dataset_id = r.json()["dataset"]["dataset_id"]
    for records, fragment in [
        ('[{"inputs": {"q": 1}},\n {"inputs": }]', "line 2, column"),
        ('{"inputs": {}}', "expected a JSON array"),
        ('[{"inputs": "text"}]', "records[0].inputs"),
        ('[{"inputs": {}}, 5]', "records[1]"),
        ('[{"inputs": {}, "tags": [1]}]', "records[0].tags"),
        ('[{"inputs": {}, "source": {"source_type": "HUMAN", "extra": 1}}]',
         "records[0].source.extra"),
    ]:
        r = requests.post(f"{api}/{dataset_id}/records", json={"records": records})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", fragment)
    r = requests.post(f"{api}/create", json={"name": unique("badtags"),
                                             "experiment_ids": [experiment], "tags": "[1]"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "tags")
    assert _records(api, dataset_id)[0] == []


@pytest.mark.slipway_only
def test_experiment_ids_must_name_experiments_that_exist(api, mlflow_client, experiment):
    # An id names an experiment in its canonical spelling only ("0<id>" names none),
    # and twice is once.
    r = requests.post(f"{api}/create", json={"name": unique("canon"),
                                             "experiment_ids": [experiment, "0" + experiment]})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "0" + experiment)
    r = requests.post(f"{api}/create", json={"name": unique("twice"),
                                             "experiment_ids": [experiment, experiment]})
    assert r.status_code == 200, r.text
    assert r.json()["dataset"]["experiment_ids"] == [experiment]
    # MLflow stores links to experiments that do not exist; Slipway refuses them.
    r = requests.post(f"{api}/create", json={"name": unique("dangling"),
                                             "experiment_ids": ["987654321"]})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "987654321")
    dataset_id = requests.post(f"{api}/create", json={
        "name": unique("add"), "experiment_ids": [experiment]}).json()["dataset"]["dataset_id"]
    r = requests.post(f"{api}/{dataset_id}/add-experiments",
                      json={"experiment_ids": ["987654321"]})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "987654321")
    assert requests.get(f"{api}/{dataset_id}/experiment-ids").json() == {
        "experiment_ids": [experiment]}
