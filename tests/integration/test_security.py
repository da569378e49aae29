"""Attacks on `slipway server --auth`, made as an attacker makes them: raw HTTP with
`requests` (and the real `mlflow` client where it is the natural tool) against a real
server, as a signed-in user who is denied something and tries to reach it anyway.

alice owns an experiment (a run with params and metrics, a logged model, artifacts)
and a registered model; bob holds NO_PERMISSIONS on them and tries other spellings
of their ids, the registry's lineage and cards, a flood of parallel password
guesses, and the difference between a hidden and a missing resource.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests

from conftest import SlipwayServer, assert_mlflow_error, slipway_binary, unique

pytestmark = pytest.mark.slipway_only

ADMIN = ("admin", "admin-Pa55word!")
ALICE = ("alice", "alice-Pa55word!")
BOB = ("bob", "bob-Pa55word!")
SECRET_PARAM = "lr-secret-7f3a"
SECRET_METRIC = 0.8675309


def _start(tmp_path_factory, name: str, *extra: str) -> SlipwayServer:
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp(name),
                        extra_args=["--auth", *extra],
                        env={"SLIPWAY_ADMIN_PASSWORD": ADMIN[1]})
    srv.start()
    for user, password in (ALICE, BOB):
        r = requests.post(f"{srv.api}/users/create", auth=ADMIN,
                          json={"username": user, "password": password})
        assert r.status_code == 200, r.text
    return srv


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """Default permission READ, as `slipway server --auth` starts by default."""
    server = _start(tmp_path_factory, "slipway-security")
    yield server
    server.assert_clean_exit()


@pytest.fixture(scope="module")
def strict_srv(tmp_path_factory):
    """Default permission NO_PERMISSIONS: users see only what they are granted."""
    server = _start(tmp_path_factory, "slipway-security-strict",
                    "--auth-default-permission", "NO_PERMISSIONS")
    yield server
    server.assert_clean_exit()


def _call(srv, user, method: str, endpoint: str, body=None) -> requests.Response:
    url = endpoint if endpoint.startswith("http") else f"{srv.api}/{endpoint}"
    if method == "GET":
        return requests.get(url, params=body, auth=user, timeout=30)
    return requests.request(method, url, data=json.dumps(body or {}), auth=user, timeout=30,
                            headers={"Content-Type": "application/json"})


def _ok(r: requests.Response) -> dict:
    assert r.status_code == 200, r.text
    return r.json()


def _hidden_from_bob(srv) -> dict:
    """alice's experiment with a run, a logged model and an artifact; bob: NO_PERMISSIONS."""
    exp_id = _ok(_call(srv, ALICE, "POST", "experiments/create",
                       {"name": unique("alice-secret")}))["experiment_id"]
    run = _ok(_call(srv, ALICE, "POST", "runs/create",
                    {"experiment_id": exp_id, "start_time": 1}))["run"]["info"]
    run_id = run["run_id"]
    _ok(_call(srv, ALICE, "POST", "runs/log-batch", {
        "run_id": run_id, "params": [{"key": "lr", "value": SECRET_PARAM}],
        "metrics": [{"key": "auc", "value": SECRET_METRIC, "timestamp": 1, "step": 0}]}))
    model = _ok(_call(srv, ALICE, "POST", f"{srv.url}/api/2.0/mlflow/logged-models",
                      {"experiment_id": exp_id, "name": "m",
                       "source_run_id": run_id}))["model"]["info"]
    path = f"{exp_id}/{run_id}/artifacts/notes.txt"
    r = requests.put(f"{srv.artifacts_api}/{path}", data=SECRET_PARAM.encode(), auth=ALICE)
    assert r.status_code == 200, r.text
    _ok(_call(srv, ALICE, "POST", f"{srv.url}/api/3.0/mlflow/users/permissions/grant",
              {"username": BOB[0], "resource_type": "experiment", "resource_id": exp_id,
               "permission": "NO_PERMISSIONS"}))
    assert _call(srv, BOB, "GET", "experiments/get", {"experiment_id": exp_id}).status_code == 403
    return {"exp_id": exp_id, "run_id": run_id, "model_id": model["model_id"],
            "artifact": path}


def _assert_nothing_leaks(r: requests.Response) -> None:
    assert SECRET_PARAM not in r.text, r.text
    assert str(SECRET_METRIC) not in r.text, r.text


# ------------------------------------------------ 1. one resource, one spelling


def _spellings(exp_id: str) -> list[str]:
    return ["0" + exp_id, "00" + exp_id, "+" + exp_id, " " + exp_id, exp_id + " ",
            exp_id + ".0", "\t" + exp_id]


def test_other_spellings_of_an_experiment_id_reach_nothing(srv):
    hidden = _hidden_from_bob(srv)
    exp_id = hidden["exp_id"]
    logged_models = f"{srv.url}/api/2.0/mlflow/logged-models"
    for spelling in _spellings(exp_id):
        attempts = [
            ("POST", "runs/search", {"experiment_ids": [spelling]}),
            ("GET", "runs/search", {"experiment_ids": spelling}),
            ("GET", "experiments/get", {"experiment_id": spelling}),
            ("POST", "runs/create", {"experiment_id": spelling}),
            ("POST", f"{logged_models}/search", {"experiment_ids": [spelling]}),
            ("POST", logged_models, {"experiment_id": spelling, "name": "bob"}),
            ("POST", "experiments/set-experiment-tag",
             {"experiment_id": spelling, "key": "k", "value": "v"}),
            ("POST", "experiments/update", {"experiment_id": spelling, "new_name": unique("x")}),
            ("POST", "experiments/delete", {"experiment_id": spelling}),
            ("GET", "experiments/permissions/get",
             {"experiment_id": spelling, "username": BOB[0]}),
            ("POST", "experiments/permissions/create",
             {"experiment_id": spelling, "username": BOB[0], "permission": "MANAGE"}),
            ("POST", f"{srv.url}/api/3.0/mlflow/users/permissions/grant",
             {"username": BOB[0], "resource_type": "experiment", "resource_id": spelling,
              "permission": "MANAGE"}),
        ]
        for method, endpoint, body in attempts:
            r = _call(srv, BOB, method, endpoint, body)
            assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=")
            _assert_nothing_leaks(r)
        # Without auth in the way, the store answers the same: no such experiment.
        r = _call(srv, ADMIN, "GET", "experiments/get", {"experiment_id": spelling})
        assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
        r = _call(srv, ADMIN, "POST", "runs/search", {"experiment_ids": [spelling]})
        assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    # The experiment is untouched and bob gained nothing.
    alice_view = _ok(_call(srv, ALICE, "GET", "experiments/get", {"experiment_id": exp_id}))
    assert alice_view["experiment"]["lifecycle_stage"] == "active"
    assert "tags" not in alice_view["experiment"]
    runs = _ok(_call(srv, ALICE, "POST", "runs/search", {"experiment_ids": [exp_id]}))["runs"]
    assert [r["info"]["run_id"] for r in runs] == [hidden["run_id"]]
    r = _call(srv, BOB, "GET", f"{srv.url}/api/3.0/mlflow/users/current/permissions")
    granted = {p["resource_pattern"] for p in _ok(r)["permissions"]}
    assert exp_id in granted and not granted & set(_spellings(exp_id)), granted
    # ... and the canonical id is still refused.
    r = _call(srv, BOB, "POST", "runs/search", {"experiment_ids": [exp_id]})
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")


def test_other_spellings_of_run_ids_model_names_and_artifact_paths_reach_nothing(srv):
    hidden = _hidden_from_bob(srv)
    run_id, exp_id = hidden["run_id"], hidden["exp_id"]
    for spelling in [run_id.upper(), " " + run_id, run_id + " ", run_id + "\n",
                     run_id[:-1], run_id + "0"]:
        for endpoint in ("runs/get", "metrics/get-history", "artifacts/list"):
            r = _call(srv, BOB, "GET", endpoint, {"run_id": spelling, "metric_key": "auc"})
            assert_mlflow_error(r, 403, "PERMISSION_DENIED")
            _assert_nothing_leaks(r)
    model_id = hidden["model_id"]
    for spelling in [model_id.upper(), model_id + " ", quote(" " + model_id)]:
        r = _call(srv, BOB, "GET", f"{srv.url}/api/2.0/mlflow/logged-models/{spelling}")
        assert_mlflow_error(r, 403, "PERMISSION_DENIED")
        _assert_nothing_leaks(r)

    # Registered model names are exact: a name that differs in case or spacing is
    # another (missing) model, never alice's.
    name = unique("alice-model")
    _ok(_call(srv, ALICE, "POST", "registered-models/create",
              {"name": name, "description": SECRET_PARAM}))
    _ok(_call(srv, ALICE, "POST", f"{srv.url}/api/3.0/mlflow/users/permissions/grant",
              {"username": BOB[0], "resource_type": "registered_model", "resource_id": name,
               "permission": "NO_PERMISSIONS"}))
    assert_mlflow_error(_call(srv, BOB, "GET", "registered-models/get", {"name": name}), 403,
                        "PERMISSION_DENIED")
    for spelling in [name.upper(), " " + name, name + " ", name + "\t", name + "/"]:
        r = _call(srv, BOB, "GET", "registered-models/get", {"name": spelling})
        assert r.status_code in (400, 404), r.text
        _assert_nothing_leaks(r)

    # Artifact paths: only the canonical id names an experiment's folder.
    proxy = srv.artifacts_api
    artifact = hidden["artifact"]
    rest = artifact.split("/", 1)[1]
    assert requests.get(f"{proxy}/{artifact}", auth=ALICE).text == SECRET_PARAM
    for path in [f"0{exp_id}/{rest}", f"00{exp_id}/{rest}", f"%30{exp_id}/{rest}",
                 f"{exp_id}//{rest}", f"{exp_id}/./{rest}"]:
        r = requests.get(f"{proxy}/{path}", auth=BOB)
        assert r.status_code in (400, 403), (path, r.status_code, r.text)
        _assert_nothing_leaks(r)
    # Writing into a folder that only looks like an experiment's is refused too.
    bobs = _ok(_call(srv, BOB, "POST", "experiments/create", {"name": unique("bob-exp")}))
    r = requests.put(f"{proxy}/0{bobs['experiment_id']}/x.txt", data=b"x", auth=BOB)
    assert_mlflow_error(r, 403, "PERMISSION_DENIED", "not under an experiment")
    r = requests.get(proxy, params={"path": f"0{exp_id}"}, auth=BOB)
    assert_mlflow_error(r, 403, "PERMISSION_DENIED", "not under an experiment")


# ------------------------------------------------ 2. the registry reads what it links


def test_model_versions_need_read_on_their_source(srv):
    hidden = _hidden_from_bob(srv)
    run_id, model_id, exp_id = hidden["run_id"], hidden["model_id"], hidden["exp_id"]
    bobs_model = unique("bob-model")
    _ok(_call(srv, BOB, "POST", "registered-models/create", {"name": bobs_model}))
    # alice's own registered model, hidden from bob, with a version from her run
    alices_model = unique("alice-reg")
    _ok(_call(srv, ALICE, "POST", "registered-models/create", {"name": alices_model}))
    _ok(_call(srv, ALICE, "POST", "model-versions/create",
              {"name": alices_model, "source": f"models:/{model_id}", "model_id": model_id}))
    _ok(_call(srv, ALICE, "POST", f"{srv.url}/api/3.0/mlflow/users/permissions/grant",
              {"username": BOB[0], "resource_type": "registered_model",
               "resource_id": alices_model, "permission": "NO_PERMISSIONS"}))

    artifacts = f"mlflow-artifacts:/{exp_id}/models/{model_id}/artifacts"
    attempts = [
        {"source": f"models:/{model_id}", "model_id": model_id},
        {"source": artifacts, "model_id": model_id},
        {"source": f"runs:/{run_id}/model", "run_id": run_id},
        {"source": f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts/model", "run_id": run_id},
        {"source": f"models:/{alices_model}/1"},
        # ids that do not exist get the same answer as hidden ones
        {"source": "models:/m-00000000000000000000000000000000",
         "model_id": "m-00000000000000000000000000000000"},
        {"source": f"runs:/{'0' * 32}/model", "run_id": "0" * 32},
    ]
    for attempt in attempts:
        r = _call(srv, BOB, "POST", "model-versions/create", {"name": bobs_model, **attempt})
        assert_mlflow_error(r, 403, "PERMISSION_DENIED")
        _assert_nothing_leaks(r)
    assert _ok(_call(srv, BOB, "POST", "model-versions/search",
                     {"filter": f"name = '{bobs_model}'"})).get("model_versions", []) == []
    # alice's logged model was not tagged with bob's model
    model = _ok(_call(srv, ALICE, "GET", f"{srv.url}/api/2.0/mlflow/logged-models/{model_id}"))
    tags = {t["key"]: t["value"] for t in model["model"]["info"].get("tags", [])}
    assert bobs_model not in tags.get("mlflow.modelVersions", "")
    # and nothing of alice's run shows through lineage or a card of bob's model
    for url in (f"{srv.url}/api/v1/lineage/model-versions/{bobs_model}/1",
                f"{srv.url}/api/v1/models/{bobs_model}/versions/1/card?format=json"):
        r = requests.get(url, auth=BOB)
        assert r.status_code == 404, r.text
    # alice may do all of it
    r = _call(srv, ALICE, "POST", "model-versions/create",
              {"name": alices_model, "source": f"runs:/{run_id}/model", "run_id": run_id})
    assert _ok(r)["model_version"]["version"] == "2"


def test_lineage_and_cards_show_only_what_the_reader_may_read(srv):
    hidden = _hidden_from_bob(srv)
    run_id, model_id = hidden["run_id"], hidden["model_id"]
    name = unique("shared-model")  # bob reads it (the default), not alice's experiment
    _ok(_call(srv, ALICE, "POST", "registered-models/create", {"name": name}))
    _ok(_call(srv, ALICE, "POST", "model-versions/create",
              {"name": name, "source": f"models:/{model_id}", "model_id": model_id}))
    lineage_url = f"{srv.url}/api/v1/lineage/model-versions/{name}/1"
    card_url = f"{srv.url}/api/v1/models/{name}/versions/1/card"

    mine = _ok(requests.get(lineage_url, auth=ALICE))
    assert mine["run"]["data"]["params"] == [{"key": "lr", "value": SECRET_PARAM}]
    assert mine["withheld"] == []
    assert SECRET_PARAM in requests.get(card_url, auth=ALICE).text

    theirs = _ok(requests.get(lineage_url, auth=BOB))
    assert "run" not in theirs and "logged_model" not in theirs
    assert theirs["datasets"] == [] and theirs["child_runs"] == []
    assert any(run_id in line and "READ" in line for line in theirs["withheld"]), theirs
    assert any(model_id in line for line in theirs["withheld"]), theirs
    assert theirs["model_version"]["name"] == name
    _assert_nothing_leaks(requests.get(lineage_url, auth=BOB))

    card = _ok(requests.get(card_url, params={"format": "json"}, auth=BOB))
    assert card["parameters"] == {} and card["metrics"] == {}
    assert card["lineage"]["run_id"] == "" and card["withheld"], card
    markdown = requests.get(card_url, auth=BOB)
    assert markdown.status_code == 200, markdown.text
    assert "## Withheld" in markdown.text and run_id in markdown.text
    _assert_nothing_leaks(markdown)
    _assert_nothing_leaks(requests.get(card_url, params={"format": "json"}, auth=BOB))
    # `slipway models lineage` shows the same to bob.
    env = {**os.environ, "SLIPWAY_TRACKING_URI": srv.url,
           "MLFLOW_TRACKING_USERNAME": BOB[0], "MLFLOW_TRACKING_PASSWORD": BOB[1]}
    out = subprocess.run([str(slipway_binary()), "models", "lineage", f"{name}/1"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"run {run_id} (withheld)" in out.stdout and "withheld: run" in out.stdout, out.stdout
    assert SECRET_PARAM not in out.stdout


# ------------------------------------------------ 3. parallel guesses are throttled


def test_parallel_wrong_passwords_are_throttled_before_they_are_checked(tmp_path_factory):
    server = _start(tmp_path_factory, "slipway-security-throttle")
    try:
        search = f"{server.api}/experiments/search?max_results=1"

        def guess(i: int) -> int:
            return requests.get(search, auth=(ALICE[0], f"guess-{i}"), timeout=120).status_code

        with ThreadPoolExecutor(max_workers=60) as pool:
            statuses = list(pool.map(guess, range(60)))
        assert set(statuses) <= {401, 429}, statuses
        # A 401 is an answer after a full password check; a 429 comes before any.
        # The server allows 5 failures in a row per address and user name.
        checked = statuses.count(401)
        assert statuses.count(429) >= 1, statuses
        assert checked <= 10, f"{checked} full password checks for 60 parallel guesses"
        # Waiting out the back-off lets the right password in again.
        deadline = time.monotonic() + 60
        while True:
            r = requests.get(search, auth=ALICE, timeout=60)
            if r.status_code != 429 or time.monotonic() > deadline:
                break
            time.sleep(int(r.headers["Retry-After"]))
        assert r.status_code == 200, r.text
    finally:
        server.stop()
    server.assert_clean_exit()


# ------------------------------------------------ 4. hidden and missing answer alike


def _message_shape(r: requests.Response, *ids: str) -> str:
    message = r.json()["message"]
    for resource_id in ids:
        message = message.replace(resource_id, "<id>")
    return message


def test_hidden_and_missing_resources_answer_alike_with_no_default_access(strict_srv):
    srv = strict_srv
    exp_id = _ok(_call(srv, ALICE, "POST", "experiments/create",
                       {"name": unique("strict")}))["experiment_id"]
    run_id = _ok(_call(srv, ALICE, "POST", "runs/create",
                       {"experiment_id": exp_id}))["run"]["info"]["run_id"]
    model_id = _ok(_call(srv, ALICE, "POST", f"{srv.url}/api/2.0/mlflow/logged-models",
                         {"experiment_id": exp_id}))["model"]["info"]["model_id"]
    missing_exp, missing_run = "987654321", "f" * 32
    missing_model = "m-" + "f" * 32
    pairs = [
        (("GET", "experiments/get", {"experiment_id": exp_id}),
         ("GET", "experiments/get", {"experiment_id": missing_exp}), exp_id, missing_exp),
        (("POST", "runs/search", {"experiment_ids": [exp_id]}),
         ("POST", "runs/search", {"experiment_ids": [missing_exp]}), exp_id, missing_exp),
        (("GET", "runs/get", {"run_id": run_id}),
         ("GET", "runs/get", {"run_id": missing_run}), run_id, missing_run),
        (("POST", "runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}),
         ("POST", "runs/log-metric",
          {"run_id": missing_run, "key": "m", "value": 1, "timestamp": 1}), run_id, missing_run),
        (("GET", f"{srv.url}/api/2.0/mlflow/logged-models/{model_id}", None),
         ("GET", f"{srv.url}/api/2.0/mlflow/logged-models/{missing_model}", None),
         model_id, missing_model),
    ]
    for hidden_call, missing_call, hidden_id, missing_id in pairs:
        hidden = _call(srv, BOB, *hidden_call)
        missing = _call(srv, BOB, *missing_call)
        assert_mlflow_error(hidden, 403, "PERMISSION_DENIED")
        assert_mlflow_error(missing, 403, "PERMISSION_DENIED")
        assert _message_shape(hidden, hidden_id) == _message_shape(missing, missing_id)
    # Admins see what exists.
    r = _call(srv, ADMIN, "GET", "runs/get", {"run_id": missing_run})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_hidden_and_missing_resources_with_default_read(srv):
    """With the default READ, unknown ids get READ, as in MLflow's auth app: a missing
    experiment is 404 and one hidden by a NO_PERMISSIONS grant 403. Runs and logged
    models that do not exist are denied like hidden ones (MLflow denies them too)."""
    hidden = _hidden_from_bob(srv)
    r = _call(srv, BOB, "GET", "experiments/get", {"experiment_id": hidden["exp_id"]})
    assert_mlflow_error(r, 403, "PERMISSION_DENIED")
    r = _call(srv, BOB, "GET", "experiments/get", {"experiment_id": "987654321"})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    hidden_run = _call(srv, BOB, "GET", "runs/get", {"run_id": hidden["run_id"]})
    missing_run = _call(srv, BOB, "GET", "runs/get", {"run_id": "e" * 32})
    assert_mlflow_error(hidden_run, 403, "PERMISSION_DENIED")
    assert_mlflow_error(missing_run, 403, "PERMISSION_DENIED")
    assert (_message_shape(hidden_run, hidden["run_id"])
            == _message_shape(missing_run, "e" * 32))
    # mlflow.set_experiment("new name") relies on 404 for a name nobody has taken.
    r = _call(srv, BOB, "GET", "experiments/get-by-name", {"experiment_name": unique("free")})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


# ------------------------------------------------ 5. artifact locations


def test_experiment_artifact_locations_cannot_leave_the_artifact_root(srv):
    for location in ["/etc", "/tmp/slipway", "relative/dir", "file:///etc/passwd",
                     "mlflow-artifacts:/../..", "mlflow-artifacts:/1/../../etc",
                     "mlflow-artifacts:/%2e%2e/%2e%2e", "mlflow-artifacts:/%252e%252e/x",
                     "mlflow-artifacts:/..%2f..%2fetc", "mlflow-artifacts://evil.example/x",
                     "https://evil.example/collect", "runs:/abc/x"]:
        r = _call(srv, ALICE, "POST", "experiments/create",
                  {"name": unique("loc"), "artifact_location": location})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "'artifact_location'")
    for location in ["mlflow-artifacts:/team-a/churn", "s3://bucket/prefix"]:
        exp_id = _ok(_call(srv, ALICE, "POST", "experiments/create",
                           {"name": unique("loc"), "artifact_location": location}))
        got = _ok(_call(srv, ALICE, "GET", "experiments/get", exp_id))
        assert got["experiment"]["artifact_location"] == location


# ------------------------------------------------ 6. names people read


BAD_NAME_CHARACTERS = ["\u0000", "\u0007", "\t", "\u007f", "\u0085", "\u200e", "\u200f",
                       "\u202a", "\u202e", "\u2066", "\u2069"]


def test_names_refuse_control_and_bidi_characters(srv):
    good = unique("named")
    _ok(_call(srv, ALICE, "POST", "registered-models/create", {"name": good}))
    exp_id = _ok(_call(srv, ALICE, "POST", "experiments/create",
                       {"name": unique("named")}))["experiment_id"]
    for ch in BAD_NAME_CHARACTERS:
        name = f"invoice{ch}gpj.exe-{unique('x')}"
        r = _call(srv, ALICE, "POST", "registered-models/create", {"name": name})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "'name'")
        r = _call(srv, ALICE, "POST", "registered-models/rename",
                  {"name": good, "new_name": name})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "'new_name'")
        r = _call(srv, ALICE, "POST", "experiments/create", {"name": name})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "'name'")
        r = _call(srv, ALICE, "POST", "experiments/update",
                  {"experiment_id": exp_id, "new_name": name})
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "'new_name'")
        r = requests.post(f"{srv.url}/api/v1/datasets/{quote('churn' + ch)}/versions",
                          json={"version": 1, "manifest_digest": "0" * 64,
                                "content_digest": "0" * 64}, auth=ALICE)
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "dataset name")
    # names in other scripts stay welcome
    _ok(_call(srv, ALICE, "POST", "registered-models/create", {"name": unique("模型-é")}))
    _ok(_call(srv, ALICE, "POST", "experiments/create", {"name": unique("تجربة")}))
