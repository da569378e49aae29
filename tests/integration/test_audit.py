"""The audit trail: every state-changing request leaves one hash-chained entry.

Writes are driven with the real `mlflow` client; the trail is read back over
GET /api/v1/audit and with `slipway audit ls`, and checked with
GET /api/v1/audit/verify and `slipway audit verify`. The tamper tests stop the
server, edit or delete rows of `audit_log` in its SQLite file with Python's
sqlite3, and expect `slipway audit verify --store` to name the damaged entry.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from conftest import SlipwayServer, _postgres_cluster, slipway_binary, unique

pytestmark = pytest.mark.slipway_only

ZERO_HASH = "0" * 64
HEX64 = re.compile(r"^[0-9a-f]{64}$")


# --------------------------------------------------------------------- helpers
def audit_entries(srv, page_size: int = 1000, **filters) -> list[dict]:
    """Every entry GET /api/v1/audit returns for `filters`, following next_page_token."""
    entries: list[dict] = []
    token = None
    for _ in range(10_000):
        params = {**filters, "max_results": page_size}
        if token:
            params["page_token"] = token
        r = requests.get(f"{srv.url}/api/v1/audit", params=params, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        entries += body["entries"]
        token = body.get("next_page_token")
        if not token:
            return entries
    pytest.fail("GET /api/v1/audit never stopped paging")


def head_seq(srv) -> int:
    entries = audit_entries(srv)
    return entries[-1]["seq"] if entries else 0


def verify_over_rest(srv) -> dict:
    r = requests.get(f"{srv.url}/api/v1/audit/verify", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def slipway(*args: str) -> subprocess.CompletedProcess:
    """Runs the slipway CLI with no tracking URI in its environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLIPWAY_TRACKING_URI", "MLFLOW_TRACKING_URI")}
    return subprocess.run([str(slipway_binary()), *args], capture_output=True, text=True,
                          timeout=120, env=env)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result.stdout


def failed(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (
        f"expected exit 1, got {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result.stdout


def iso_ms(millis: int) -> str:
    dt = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def rows(text: str) -> list[list[str]]:
    """A printed table as lists of cells; columns are separated by two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def triples(entries: list[dict]) -> list[tuple[str, str, int]]:
    return [(e["action"], e["target"], e["outcome"]) for e in entries]


def assert_chained(entries: list[dict]) -> None:
    """The whole trail from entry 1: consecutive seqs, each prev_hash the previous hash."""
    assert entries, "the trail is empty"
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0]["prev_hash"] == ZERO_HASH
    for before, after in zip(entries, entries[1:]):
        assert after["prev_hash"] == before["hash"], f"entry {after['seq']} does not chain"
    for e in entries:
        assert HEX64.match(e["hash"]) and HEX64.match(e["request_digest"]), e
    assert len({e["hash"] for e in entries}) == len(entries)


def store_uri(srv) -> str:
    return srv.store_uri or f"sqlite:///{srv.store_path}"


def make_trail(client: MlflowClient) -> str:
    """A few writes (experiment, run, params, metrics, a tag); returns the run id."""
    exp_id = client.create_experiment(unique("audit-tamper"))
    run_id = client.create_run(exp_id).info.run_id
    for i in range(3):
        client.log_param(run_id, f"p{i}", str(i))
        client.log_metric(run_id, "m", float(i), step=i)
    client.set_tag(run_id, "stage", "done")
    return run_id


def tamper(srv, *statements: tuple[str, tuple]) -> None:
    """Runs SQL on the stopped server's store, as someone with access to the
    file (or the database, under SLIPWAY_ITEST_STORE=postgresql) could."""
    assert not srv.alive()
    if srv.store_uri:
        database = srv.store_uri.rsplit("/", 1)[1]
        for sql, args in statements:
            for arg in args:  # the tests' own ints and hex strings, as literals
                literal = str(arg) if isinstance(arg, int) else "'" + str(arg).replace("'", "''") + "'"
                sql = sql.replace("?", literal, 1)
            changed = _postgres_cluster().psql(
                f"WITH t AS ({sql} RETURNING 1) SELECT count(*) FROM t", database)
            assert changed.strip() == "1", sql
        return
    with sqlite3.connect(srv.store_path) as db:
        for sql, args in statements:
            assert db.execute(sql, args).rowcount == 1, sql
    db.close()


def verify_store_json(srv) -> dict:
    result = slipway("audit", "verify", "--store", store_uri(srv), "--json")
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] == (result.returncode == 0), report
    return report


# ------------------------------------------------- one logged history, shared
@dataclass
class Trail:
    experiment_id: str
    run_id: str
    unknown_run_id: str
    expected: list[tuple[str, str, int]]  # (action, target, outcome) of each write, in order
    entries: list[dict]  # what GET /api/v1/audit lists for these writes


@pytest.fixture(scope="module")
def trail(server) -> Trail:
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    before = head_seq(server)
    unknown = "f" * 32

    def pause():  # distinct time_ms, for the time filters
        time.sleep(0.03)

    exp_id = client.create_experiment(unique("audit"))
    pause()
    run_id = client.create_run(exp_id).info.run_id
    pause()
    client.get_run(run_id)  # reads in between are not audited
    client.search_runs([exp_id])
    client.log_param(run_id, "lr", "0.1")
    pause()
    client.log_metric(run_id, "acc", 0.5, step=0)
    pause()
    with pytest.raises(MlflowException) as error:
        client.log_metric(unknown, "acc", 0.5, step=0)
    assert error.value.get_http_status_code() == 404
    pause()
    client.set_tag(run_id, "team", "audit")
    pause()
    client.get_metric_history(run_id, "acc")
    client.set_terminated(run_id)

    run, exp = f"run:{run_id}", f"experiment:{exp_id}"
    expected = [
        ("experiments/create", exp, 200),
        ("runs/create", run, 200),
        ("runs/log-parameter", run, 200),
        ("runs/log-metric", run, 200),
        ("runs/log-metric", f"run:{unknown}", 404),
        ("runs/set-tag", run, 200),
        ("runs/update", run, 200),
    ]
    entries = [e for e in audit_entries(server) if e["seq"] > before]
    return Trail(exp_id, run_id, unknown, expected, entries)


def test_each_write_appends_one_entry_in_order(trail):
    assert triples(trail.entries) == trail.expected
    assert all(e["principal"] == "anonymous" for e in trail.entries)
    times = [e["time_ms"] for e in trail.entries]
    assert times == sorted(times)
    assert abs(times[-1] - time.time() * 1000) < 120_000
    # Each request has a digest of its own (every body above differs).
    assert len({e["request_digest"] for e in trail.entries}) == len(trail.entries)


def test_whole_trail_is_hash_chained(server, trail):
    assert_chained(audit_entries(server))
    # Paged in twos, the trail reads the same.
    assert audit_entries(server, page_size=2) == audit_entries(server)


def test_reads_are_not_audited(server, trail):
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    before = audit_entries(server)
    client.get_experiment(trail.experiment_id)
    client.get_experiment_by_name("Default")
    client.search_experiments()
    client.get_run(trail.run_id)
    client.search_runs([trail.experiment_id], filter_string="metrics.acc > 0")  # a POST
    client.get_metric_history(trail.run_id, "acc")
    client.list_artifacts(trail.run_id)
    client.search_registered_models()
    client.search_model_versions()
    for path in ("/health", "/metrics", "/api/v1/audit", "/api/v1/audit/verify"):
        assert requests.get(f"{server.url}{path}", timeout=30).status_code == 200, path
    assert audit_entries(server) == before

    # ... while a write right after them does append (so the check above can fail).
    client.set_tag(trail.run_id, "after-reads", "1")
    after = audit_entries(server)
    assert triples(after[len(before):]) == [("runs/set-tag", f"run:{trail.run_id}", 200)]


def test_registry_writes_are_audited_against_their_model(server, trail):
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    # The client sends "ü" as \u00fc and the quote escaped; the target holds the name itself.
    name = unique('audit ü "quoted"')
    before = head_seq(server)
    client.create_registered_model(name)
    client.set_registered_model_tag(name, "team", "audit")
    version = client.create_model_version(name, f"runs:/{trail.run_id}/model",
                                          run_id=trail.run_id).version
    client.set_registered_model_alias(name, "champion", version)
    client.get_model_version_by_alias(name, "champion")  # a read
    with pytest.raises(MlflowException) as error:
        client.set_registered_model_alias(name, "ghost", "99")
    assert error.value.get_http_status_code() == 404
    client.delete_registered_model_alias(name, "champion")
    client.delete_registered_model(name)

    model = f"registered_model:{name}"
    expected = [
        ("registered-models/create", model, 200),
        ("registered-models/set-tag", model, 200),
        ("model-versions/create", f"model_version:{name}/{version}", 200),
        ("registered-models/alias/set", model, 200),
        ("registered-models/alias/set", model, 404),
        ("registered-models/alias/delete", model, 200),
        ("registered-models/delete", model, 200),
    ]
    assert triples([e for e in audit_entries(server) if e["seq"] > before]) == expected
    assert triples(audit_entries(server, target=model)) == [t for t in expected
                                                            if t[1] == model]


def test_artifact_uploads_are_audited(server, trail):
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    before = head_seq(server)
    client.log_text(trail.run_id, "hello", "notes/a.txt")
    client.list_artifacts(trail.run_id, "notes")  # a read
    entries = [e for e in audit_entries(server) if e["seq"] > before]
    assert [(e["action"], e["outcome"]) for e in entries] == [("mlflow-artifacts/upload", 200)]
    assert entries[0]["target"].startswith("artifact:")
    assert entries[0]["target"].endswith(f"{trail.run_id}/artifacts/notes/a.txt")


def test_filters_by_action_target_and_principal(server, trail):
    run = f"run:{trail.run_id}"
    metric_writes = audit_entries(server, action="runs/log-metric")
    assert metric_writes and all(e["action"] == "runs/log-metric" for e in metric_writes)
    ours = [e for e in trail.entries if e["action"] == "runs/log-metric"]
    assert [e for e in metric_writes if e["seq"] in {o["seq"] for o in ours}] == ours

    everyone = audit_entries(server)
    by_target = audit_entries(server, target=run)
    assert by_target == [e for e in everyone if e["target"] == run]
    ours = [e for e in trail.entries if e["target"] == run]
    assert len(ours) == 5 and by_target[:5] == ours
    assert audit_entries(server, target=f"run:{trail.unknown_run_id}") == [trail.entries[4]]
    assert audit_entries(server, target=run, action="runs/log-parameter") == [trail.entries[2]]

    assert audit_entries(server, principal="anonymous") == everyone
    assert audit_entries(server, principal="somebody-else") == []
    assert audit_entries(server, action="runs/search") == []


def test_filters_by_time(server, trail):
    first, last = trail.entries[2], trail.entries[4]
    since, until = first["time_ms"], last["time_ms"]
    assert trail.entries[1]["time_ms"] < since and trail.entries[5]["time_ms"] > until
    window = audit_entries(server, since=since, until=until)
    assert window == [e for e in audit_entries(server) if since <= e["time_ms"] <= until]
    assert triples(window) == trail.expected[2:5]
    assert audit_entries(server, since=trail.entries[-1]["time_ms"] + 60_000) == []


def test_cli_ls_json_matches_the_rest_api(server, trail):
    run = f"run:{trail.run_id}"
    shown = json.loads(ok(slipway("audit", "ls", "--json", "--tracking-uri", server.url,
                                  "--max", "100000")))
    assert shown["entries"] == audit_entries(server)

    shown = json.loads(ok(slipway("audit", "ls", "--json", "--tracking-uri", server.url,
                                  "--target", run, "--action", "runs/log-metric")))
    assert shown["entries"] == [trail.entries[3]]


def test_cli_ls_table_and_time_bounds(server, trail):
    first, last = trail.entries[2], trail.entries[4]
    # The URI from the environment, the bounds as ISO-8601 with milliseconds.
    env_uri = {"SLIPWAY_TRACKING_URI": server.url}
    result = subprocess.run(
        [str(slipway_binary()), "audit", "ls", "--since", iso_ms(first["time_ms"]),
         "--until", iso_ms(last["time_ms"])],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env_uri})
    table = rows(ok(result))
    assert table[0] == ["SEQ", "TIME", "PRINCIPAL", "ACTION", "TARGET", "OUTCOME"]
    assert table[1:] == [
        [str(e["seq"]), iso_ms(e["time_ms"]), e["principal"], e["action"], e["target"],
         str(e["outcome"])] for e in trail.entries[2:5]]

    # The same bounds as milliseconds, and as an offset time one hour east of UTC.
    as_ms = ok(slipway("audit", "ls", "--tracking-uri", server.url, "--since",
                       str(first["time_ms"]), "--until", str(last["time_ms"])))
    assert rows(as_ms) == table
    east = datetime.fromtimestamp(first["time_ms"] / 1000, tz=timezone.utc).astimezone(
        timezone(timedelta(hours=1)))
    since_east = east.strftime("%Y-%m-%dT%H:%M:%S.") + f"{first['time_ms'] % 1000:03d}+01:00"
    assert rows(ok(slipway("audit", "ls", "--tracking-uri", server.url, "--since", since_east,
                           "--until", str(last["time_ms"])))) == table


def test_cli_ls_max_and_bad_time(server, trail):
    result = slipway("audit", "ls", "--tracking-uri", server.url, "--max", "3")
    assert len(rows(ok(result))) == 1 + 3
    assert "more match" in result.stderr

    bad = slipway("audit", "ls", "--tracking-uri", server.url, "--since", "yesterday")
    assert bad.returncode == 1 and "--since 'yesterday'" in bad.stderr, bad.stderr
    bad = slipway("audit", "ls", "--tracking-uri", server.url, "--until", "2024-02-30")
    assert bad.returncode == 1 and "--until" in bad.stderr, bad.stderr


def test_cli_verify_intact(server, trail):
    entries = len(audit_entries(server))
    out = ok(slipway("audit", "verify", "--tracking-uri", server.url))
    assert out.strip() == f"audit trail intact: {entries} entries"
    report = json.loads(ok(slipway("audit", "verify", "--tracking-uri", server.url, "--json")))
    assert report == {"ok": True, "entries": entries, "problems": []}
    assert verify_over_rest(server) == report
    # Directly on the store file while the server runs.
    out = ok(slipway("audit", "verify", "--store", store_uri(server)))
    assert out.startswith("audit trail intact: ")


def test_cli_verify_errors(tmp_path):
    missing = tmp_path / "nope.db"
    result = slipway("audit", "verify", "--store", f"sqlite:///{missing}")
    assert result.returncode == 1 and "no metadata store" in result.stderr, result
    assert not missing.exists(), "verifying a missing store created it"

    result = slipway("audit", "verify", "--tracking-uri", "http://127.0.0.1:1")
    assert result.returncode == 1 and "intact" not in result.stdout, result
    assert result.stderr.startswith("error: ")


# ---------------------------------------------------------- forged targets
def raw_post(srv, endpoint: str, body: str, params: dict | None = None) -> requests.Response:
    """POSTs `body` as it is written (duplicate keys and key order kept)."""
    return requests.post(f"{srv.api}/{endpoint}", data=body, params=params, timeout=30,
                         headers={"Content-Type": "application/json"})


def test_targets_come_from_the_fields_the_handler_acted_on(server):
    """Nothing in a request but the fields the handler reads can choose the audit target:
    not a nested object, not a query parameter beside a body, not the first of two
    duplicate keys (the handler takes the last), not a run_id sent to runs/create."""
    client = MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment(unique("audit-forge"))
    real = client.create_run(exp_id).info.run_id
    victim = client.create_run(exp_id).info.run_id
    before = head_seq(server)

    # log-batch whose first "run_id" key sits in a nested metric and tag.
    body = json.dumps({
        "metrics": [{"run_id": victim, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}],
        "tags": [{"key": "k", "value": "v", "run_id": victim}],
        "run_id": real})
    assert raw_post(server, "runs/log-batch", body).status_code == 200
    # A query parameter beside a body: the handler reads the body.
    r = raw_post(server, "runs/set-tag", json.dumps({"run_id": real, "key": "a", "value": "1"}),
                 params={"run_id": victim})
    assert r.status_code == 200, r.text
    # Duplicate keys: the handler's parse keeps the last.
    body = '{"run_id": "%s", "key": "b", "value": "2", "run_id": "%s"}' % (victim, real)
    assert raw_post(server, "runs/set-tag", body).status_code == 200
    # runs/create ignores a run_id in its body: the target is the run it made.
    r = raw_post(server, "runs/create", json.dumps({"experiment_id": exp_id, "run_id": victim}))
    assert r.status_code == 200, r.text
    created = r.json()["run"]["info"]["run_id"]
    # A registered model named only in a nested tag.
    model, decoy = unique("forge-model"), unique("forge-decoy")
    body = json.dumps({"tags": [{"key": "k", "value": "v", "name": decoy}], "name": model})
    assert raw_post(server, "registered-models/create", body).status_code == 200
    # An experiment named in the query of a POST whose body names another.
    r = raw_post(server, "experiments/set-experiment-tag",
                 json.dumps({"experiment_id": exp_id, "key": "k", "value": "v"}),
                 params={"experiment_id": "999999"})
    assert r.status_code == 200, r.text

    # The writes went where the handler says ...
    assert client.get_run(real).data.tags["a"] == "1"
    assert "a" not in client.get_run(victim).data.tags
    assert client.get_run(real).data.metrics == {"m": 1.0}
    # ... and the trail names those, never the victim.
    assert triples([e for e in audit_entries(server) if e["seq"] > before]) == [
        ("runs/log-batch", f"run:{real}", 200),
        ("runs/set-tag", f"run:{real}", 200),
        ("runs/set-tag", f"run:{real}", 200),
        ("runs/create", f"run:{created}", 200),
        ("registered-models/create", f"registered_model:{model}", 200),
        ("experiments/set-experiment-tag", f"experiment:{exp_id}", 200),
    ]
    assert [e["seq"] for e in audit_entries(server, target=f"run:{victim}")] == [before]


def test_honest_requests_keep_their_targets(server):
    """Ids sent as the handlers take them: in the body, as numbers, as run_uuid, in the query
    of a body-less request, in the path, and ids a create returns."""
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    exp_id = client.create_experiment(unique("audit-honest"))
    run_id = client.create_run(exp_id).info.run_id
    before = head_seq(server)
    r = raw_post(server, "runs/log-parameter",
                 json.dumps({"run_uuid": run_id, "key": "p", "value": "1"}))
    assert r.status_code == 200, r.text
    # No body: the handler reads the query string, and so does the trail.
    r = requests.post(f"{server.api}/runs/delete", params={"run_id": run_id}, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.post(f"{server.api}/runs/restore", params={"run_id": run_id}, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.post(f"{server.api}/logged-models", timeout=30,
                      json={"experiment_id": exp_id, "name": "m"})
    assert r.status_code == 200, r.text
    model_id = r.json()["model"]["info"]["model_id"]
    r = requests.patch(f"{server.api}/logged-models/{model_id}", timeout=30,
                       json={"model_id": "someone-else", "status": "LOGGED_MODEL_READY"})
    assert r.status_code == 200, r.text
    name = unique("honest-model")
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id).version
    client.update_model_version(name, version, "described")
    assert triples([e for e in audit_entries(server) if e["seq"] > before]) == [
        ("runs/log-parameter", f"run:{run_id}", 200),
        ("runs/delete", f"run:{run_id}", 200),
        ("runs/restore", f"run:{run_id}", 200),
        ("logged-models/create", f"logged_model:{model_id}", 200),
        ("logged-models/finalize", f"logged_model:{model_id}", 200),
        ("registered-models/create", f"registered_model:{name}", 200),
        ("model-versions/create", f"model_version:{name}/{version}", 200),
        ("model-versions/update", f"model_version:{name}/{version}", 200),
    ]


# ------------------------------------------------------ permission changes
ADMIN = ("admin", "admin-Pa55word!")
ALICE = ("alice", "alice-Pa55word!")
BOB = ("bob", "bob-Pa55word!")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("audit-auth"),
                        extra_args=["--auth"], env={"SLIPWAY_ADMIN_PASSWORD": ADMIN[1]})
    srv.start()
    for user, password in (ALICE, BOB):
        r = requests.post(f"{srv.api}/users/create", auth=ADMIN,
                          json={"username": user, "password": password})
        assert r.status_code == 200, r.text
    yield srv
    srv.assert_clean_exit()


def admin_entries(srv, after_seq: int) -> list[dict]:
    r = requests.get(f"{srv.url}/api/v1/audit", auth=ADMIN, params={"max_results": 50000})
    assert r.status_code == 200, r.text
    return [e for e in r.json()["entries"] if e["seq"] > after_seq]


def admin_head(srv) -> int:
    entries = admin_entries(srv, 0)
    return entries[-1]["seq"] if entries else 0


def test_permission_changes_name_the_resource_and_the_user(auth_server):
    """MLflow 2.x experiments/permissions/* and registered-models/permissions/*, and 3.x
    users/permissions/*, are each audited against the resource and the user they change."""
    srv = auth_server
    api, api3 = srv.api, f"{srv.url}/api/3.0/mlflow"
    r = requests.post(f"{api}/experiments/create", auth=ALICE, json={"name": unique("perm")})
    assert r.status_code == 200, r.text
    exp_id = r.json()["experiment_id"]
    model = unique("perm-model")
    r = requests.post(f"{api}/registered-models/create", auth=ALICE, json={"name": model})
    assert r.status_code == 200, r.text
    before = admin_head(srv)

    exp_body = {"experiment_id": exp_id, "username": BOB[0]}
    model_body = {"name": model, "username": BOB[0]}
    grant = {"username": BOB[0], "resource_type": "experiment", "resource_id": exp_id}
    calls = [
        (requests.post, f"{api}/experiments/permissions/create", {**exp_body, "permission": "READ"}),
        (requests.patch, f"{api}/experiments/permissions/update", {**exp_body, "permission": "EDIT"}),
        (requests.delete, f"{api}/experiments/permissions/delete", exp_body),
        (requests.post, f"{api}/registered-models/permissions/create",
         {**model_body, "permission": "READ"}),
        (requests.patch, f"{api}/registered-models/permissions/update",
         {**model_body, "permission": "EDIT"}),
        (requests.delete, f"{api}/registered-models/permissions/delete", model_body),
        (requests.post, f"{api3}/users/permissions/grant", {**grant, "permission": "EDIT"}),
        (requests.post, f"{api3}/users/permissions/revoke", grant),
    ]
    for method, url, body in calls:
        r = method(url, auth=ALICE, json=body)
        assert r.status_code == 200, (url, r.text)
    # Refused: bob may not manage alice's experiment; still audited against it.
    r = requests.post(f"{api}/experiments/permissions/create", auth=BOB,
                      json={**exp_body, "username": ALICE[0], "permission": "READ"})
    assert r.status_code == 403, r.text

    on_exp = f"experiment:{exp_id}/user:{BOB[0]}"
    on_model = f"registered_model:{model}/user:{BOB[0]}"
    assert triples(admin_entries(srv, before)) == [
        ("experiments/permissions/create", on_exp, 200),
        ("experiments/permissions/update", on_exp, 200),
        ("experiments/permissions/delete", on_exp, 200),
        ("registered-models/permissions/create", on_model, 200),
        ("registered-models/permissions/update", on_model, 200),
        ("registered-models/permissions/delete", on_model, 200),
        ("users/permissions/grant", on_exp, 200),
        ("users/permissions/revoke", on_exp, 200),
        ("experiments/permissions/create", f"experiment:{exp_id}/user:{ALICE[0]}", 403),
    ]


# ------------------------------------------------------------ refusal floods
def test_refusal_floods_are_counted_not_chained_one_by_one(tmp_path_factory):
    """3,000 unauthenticated requests, 1,000 forbidden ones and 1,000 throttled sign-ins leave
    a few entries per repeated refusal (source, principal, status, action, target): the first
    of each interval, then one summary per interval whose `count` says how many more there
    were. The counts add up to the refusals sent, the timer writes summaries without a
    shutdown, shutdown writes the last ones, and the chain verifies."""
    interval = 2
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp("audit-flood"),
                        extra_args=["--auth", "--audit-refusal-interval", str(interval)],
                        env={"SLIPWAY_ADMIN_PASSWORD": ADMIN[1]})
    started = time.monotonic()
    srv.start()
    try:
        admin = requests.Session()
        admin.auth = ADMIN
        r = admin.post(f"{srv.api}/users/create", json={"username": BOB[0], "password": BOB[1]})
        assert r.status_code == 200, r.text
        exp_id = admin.post(f"{srv.api}/experiments/create",
                            json={"name": unique("flood")}).json()["experiment_id"]
        token = admin.post(f"{srv.url}/api/v1/tokens",
                           json={"username": BOB[0]}).json()["token"]
        sent = {401: 0, 403: 0, 429: 0}
        search = f"{srv.api}/experiments/search?max_results=1"
        with requests.Session() as s:
            for _ in range(3000):  # no credentials at all
                sent[s.get(search, timeout=10).status_code] += 1
            bob = {"Authorization": f"Bearer {token}"}
            for _ in range(1000):  # bob may only read the admin's experiment
                r = s.post(f"{srv.api}/experiments/delete", json={"experiment_id": exp_id},
                           headers=bob, timeout=10)
                sent[r.status_code] += 1
            deadline = time.monotonic() + 60
            while sent[429] < 1000 and time.monotonic() < deadline:  # wrong passwords, throttled
                sent[s.get(search, auth=(BOB[0], "guess"), timeout=10).status_code] += 1
        assert sent[401] >= 3000 and sent[403] == 1000 and sent[429] == 1000, sent

        def refusals() -> list[dict]:
            entries = admin.get(f"{srv.url}/api/v1/audit",
                                params={"max_results": 50000}).json()["entries"]
            return [e for e in entries if e["outcome"] in sent]

        def counted(entries: list[dict]) -> dict[int, int]:
            return {status: sum(e["count"] for e in entries if e["outcome"] == status)
                    for status in sent}

        # The timer writes the summaries of an interval on its own.
        time.sleep(interval + 1.5)
        assert counted(refusals()) == sent
        verify = admin.get(f"{srv.url}/api/v1/audit/verify").json()
        assert verify["ok"] is True and verify["problems"] == [], verify

        # More refusals; the last interval's are written at shutdown.
        with requests.Session() as s:
            for _ in range(200):
                sent[s.get(search, timeout=10).status_code] += 1
        srv.stop()
        elapsed = time.monotonic() - started
        srv.start()
        final = refusals()
        assert counted(final) == sent

        # One key per kind of repeated refusal; failed sign-ins name the account tried.
        keys: dict[tuple, list[dict]] = {}
        for e in final:
            keys.setdefault((e["source"], e["principal"], e["outcome"], e["action"],
                             e["target"]), []).append(e)
        search_route, delete_route = "experiments/search", "experiments/delete"
        # A request refused before it reached any resource, with no
        # credentials to name, is audited against its path.
        assert set(keys) == {
            ("127.0.0.1", "anonymous", 401, search_route, "path:/api/2.0/mlflow/experiments/search"),
            ("127.0.0.1", "anonymous", 401, search_route, "user:bob"),
            ("127.0.0.1", "bob", 403, delete_route, f"experiment:{exp_id}"),
            ("127.0.0.1", "anonymous", 429, search_route, "user:bob"),
        }, set(keys)
        intervals = int(elapsed / interval) + 2  # partial intervals at both ends
        for key, found in keys.items():
            summaries = [e for e in found if e["count"] > 1]
            # At most one entry of its own (the default burst) and one summary per interval.
            assert len(summaries) <= intervals, (key, len(summaries), elapsed)
            assert len(found) - len(summaries) <= intervals, (key, len(found), elapsed)
        flooded = [keys[k] for k in keys if k[4] != "user:bob" or k[2] == 429]
        assert all(any(e["count"] > 1 for e in found) for found in flooded)
        assert len(final) <= 4 * 2 * intervals and len(final) < sum(sent.values()) / 50, len(final)
        verify = admin.get(f"{srv.url}/api/v1/audit/verify").json()
        assert verify["ok"] is True and verify["problems"] == [], verify
        out = ok(slipway("audit", "verify", "--store", store_uri(srv)))
        assert out.startswith("audit trail intact: ")
    finally:
        srv.assert_clean_exit()


# ---------------------------------------------------------------- tampering
def test_edited_entry_is_reported(fresh_server, fresh_mlflow_client):
    make_trail(fresh_mlflow_client)
    n = len(audit_entries(fresh_server))
    assert n >= 8
    fresh_server.stop()
    assert verify_store_json(fresh_server) == {"ok": True, "entries": n, "problems": []}

    tamper(fresh_server, ("UPDATE audit_log SET target = 'run:forged' WHERE seq = 4", ()))

    result = slipway("audit", "verify", "--store", store_uri(fresh_server))
    out = failed(result)
    assert re.search(r"^entry 4: edited — ", out, re.M), out
    assert "audit trail intact" not in out
    report = verify_store_json(fresh_server)
    assert [(p["seq"], p["kind"]) for p in report["problems"]] == [(4, "edited")]

    # A server started on the damaged store reports it too, and so does the CLI through it.
    fresh_server.start()
    assert [(p["seq"], p["kind"]) for p in verify_over_rest(fresh_server)["problems"]] == [
        (4, "edited")]
    out = failed(slipway("audit", "verify", "--tracking-uri", fresh_server.url))
    assert re.search(r"^entry 4: edited — ", out, re.M), out


def test_deleted_middle_entry_is_reported(fresh_server, fresh_mlflow_client):
    make_trail(fresh_mlflow_client)
    n = len(audit_entries(fresh_server))
    fresh_server.stop()
    tamper(fresh_server, ("DELETE FROM audit_log WHERE seq = 5", ()))

    out = failed(slipway("audit", "verify", "--store", store_uri(fresh_server)))
    assert re.search(r"^entry 5: deleted — ", out, re.M), out
    report = verify_store_json(fresh_server)
    assert report["entries"] == n - 1
    assert [(p["seq"], p["kind"]) for p in report["problems"]] == [(5, "deleted")]


def test_deleted_last_entry_is_reported(fresh_server, fresh_mlflow_client):
    make_trail(fresh_mlflow_client)
    n = len(audit_entries(fresh_server))
    fresh_server.stop()
    tamper(fresh_server, ("DELETE FROM audit_log WHERE seq = ?", (n,)))

    out = failed(slipway("audit", "verify", "--store", store_uri(fresh_server)))
    assert re.search(rf"^entry {n}: deleted — ", out, re.M), out
    report = verify_store_json(fresh_server)
    assert [(p["seq"], p["kind"]) for p in report["problems"]] == [(n, "deleted")]


def test_edited_hash_and_head_are_reported(fresh_server, fresh_mlflow_client):
    """Rewriting the last entry together with its hash still breaks against the head."""
    make_trail(fresh_mlflow_client)
    n = len(audit_entries(fresh_server))
    fresh_server.stop()
    tamper(fresh_server,
           ("UPDATE audit_log SET outcome = 500, hash = ? WHERE seq = ?", ("a" * 64, n)))

    out = failed(slipway("audit", "verify", "--store", store_uri(fresh_server)))
    assert re.search(rf"^entry {n}: edited — ", out, re.M), out


# ------------------------------------------------------------------ SIGKILL
def test_sigkill_under_load_keeps_every_acknowledged_entry(fresh_server):
    srv = fresh_server
    r = requests.post(f"{srv.api}/experiments/create", json={"name": unique("audit-kill")},
                      timeout=10)
    assert r.status_code == 200, r.text
    exp_id = r.json()["experiment_id"]
    run_ids = []
    for _ in range(4):
        r = requests.post(f"{srv.api}/runs/create", json={"experiment_id": exp_id}, timeout=10)
        assert r.status_code == 200, r.text
        run_ids.append(r.json()["run"]["info"]["run_id"])

    acked = {run_id: 0 for run_id in run_ids}
    sent = {run_id: 0 for run_id in run_ids}
    unexpected: list[str] = []
    stop_at = time.monotonic() + 15

    def write(run_id: str) -> None:
        with requests.Session() as s:
            step = 0
            while time.monotonic() < stop_at:
                sent[run_id] += 1
                try:
                    r = s.post(f"{srv.api}/runs/log-metric", timeout=10, json={
                        "run_id": run_id, "key": "loss", "value": step * 0.5,
                        "timestamp": 1_000 + step, "step": step})
                except requests.RequestException:
                    return  # cut by the kill: not acknowledged
                if r.status_code != 200:
                    unexpected.append(f"{r.status_code} {r.text[:200]}")
                    return
                acked[run_id] += 1
                step += 1

    threads = [threading.Thread(target=write, args=(rid,), daemon=True) for rid in run_ids]
    for t in threads:
        t.start()
    time.sleep(1.5)
    srv.kill()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert unexpected == []
    assert sum(acked.values()) > 0, "nothing was acknowledged before the kill"

    srv.start()
    report = verify_over_rest(srv)
    assert report["ok"] and report["problems"] == [], report
    entries = audit_entries(srv)
    assert_chained(entries)
    for run_id in run_ids:
        logged = [e for e in entries if e["target"] == f"run:{run_id}"
                  and e["action"] == "runs/log-metric" and e["outcome"] == 200]
        # Every acknowledged write has its entry; a write cut by the kill may have one too.
        assert acked[run_id] <= len(logged) <= sent[run_id], (run_id, acked[run_id], len(logged))

    # The CLI pages through all of them (100 to a page) and says the same.
    first = f"run:{run_ids[0]}"
    shown = json.loads(ok(slipway("audit", "ls", "--json", "--tracking-uri", srv.url,
                                  "--target", first, "--max", "1000000")))
    assert shown["entries"] == audit_entries(srv, target=first)
    assert ok(slipway("audit", "verify", "--tracking-uri", srv.url)).strip() == (
        f"audit trail intact: {len(entries)} entries")
