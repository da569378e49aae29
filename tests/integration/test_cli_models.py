"""The `slipway models` commands of the CLI against a real server.

Registered models and versions are made with the real `mlflow` client (an XGBoost model
logged with `registered_model_name=`, further versions with `create_model_version`); then
`slipway models ls/show/alias/promote/lineage/card` run as subprocesses, and what they print,
and what they change as the mlflow client sees it, is checked.

The CLI binary is ``$SLIPWAY_CLI_BINARY`` when set, else the server's binary
(``$SLIPWAY_BINARY`` or ``<repo>/build/slipway``), so a CLI built elsewhere can be tested
against the server under test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb

from conftest import _point_mlflow_at, free_port, unique


def cli_binary(server) -> Path:
    return Path(os.environ.get("SLIPWAY_CLI_BINARY", server.binary)).resolve()


def run_cli(server, *args: str, uri: str | None = "") -> subprocess.CompletedProcess:
    """Runs `slipway ARGS --tracking-uri URI` (the server's URL unless `uri` is given)."""
    command = [str(cli_binary(server)), *args]
    if uri is not None:
        command += ["--tracking-uri", uri or server.url]
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLIPWAY_TRACKING_URI", "MLFLOW_TRACKING_URI")}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result.stdout


def ok_json(result: subprocess.CompletedProcess):
    return json.loads(ok(result))


def failed(result: subprocess.CompletedProcess, *mentions: str) -> str:
    """The command failed as a CLI error: exit 1, `error: ...` naming `mentions`, no output."""
    assert result.returncode == 1, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    assert result.stderr.startswith("error: "), result.stderr
    for text in mentions:
        assert text in result.stderr, result.stderr
    assert result.stdout == ""
    return result.stderr


def rows(text: str) -> list[list[str]]:
    """A printed table as lists of cells; columns are separated by two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def section(text: str, title: str) -> list[list[str]]:
    """The table rows printed under the line `title`, up to the next blank line."""
    lines = text.splitlines()
    start = lines.index(title)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return rows("\n".join(lines[start + 1:end]))


def summary(text: str) -> dict[str, str]:
    """The label/value lines before the first blank line; a missing value reads as ''."""
    first = text.split("\n\n")[0]
    return {cells[0]: cells[1] if len(cells) > 1 else ""
            for cells in (re.split(r"\s{2,}", line.strip(), maxsplit=1)
                          for line in first.splitlines())}


def iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tree(text: str) -> list[tuple[int, str]]:
    """Lineage tree lines as (depth, label)."""
    out = []
    for line in text.splitlines():
        label = line.lstrip("│├└─ ")
        out.append(((len(line) - len(label)) // 4, label))
    return out


def odd_name(prefix: str) -> str:
    """A model name with spaces, a quote, a percent sign and non-ASCII letters."""
    return f"{unique(prefix)} it's 100% ü"


def make_model(client, run_id: str, versions: int, name: str | None = None) -> str:
    name = name or odd_name("cli-model")
    client.create_registered_model(name)
    for _ in range(versions):
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    return name


@dataclass
class Registry:
    name: str  # versions 1 (logged XGBoost model), 2, 3; alias staging -> 2; tag team=growth
    prefix: str  # the start of `name`, free of quotes, for LIKE filters
    run_id: str  # the training run of every version
    parent_id: str
    child_id: str
    model_id: str  # the logged model of version 1


DESCRIPTION = "Predicts churn.\nTrained weekly."


@pytest.fixture(scope="module")
def registry(server):
    with pytest.MonkeyPatch.context() as monkeypatch:
        client = _point_mlflow_at(server, monkeypatch)
        mlflow.set_experiment(unique("cli-models"))
        prefix = unique("churn model")
        name = f"{prefix} it's 100% ü"
        rng = np.random.default_rng(3)
        X = rng.random((40, 3))
        y = (X[:, 0] > 0.5).astype(int)
        frame = pd.DataFrame(X, columns=["a", "b", "c"])
        with mlflow.start_run(run_name="sweep") as parent:
            with mlflow.start_run(run_name="train", nested=True) as run:
                mlflow.set_tag("mlflow.source.git.commit", "0123abcd")
                mlflow.log_params({"max_depth": 3, "eta": 0.25})
                mlflow.log_input(mlflow.data.from_pandas(frame, name="churn-train"),
                                 context="training")
                booster = xgb.train({"objective": "binary:logistic", "max_depth": 3},
                                    xgb.DMatrix(X, label=y), 3)
                mlflow.log_metric("auc", 0.875)
                info = mlflow.xgboost.log_model(booster, name="model",
                                                registered_model_name=name)
                with mlflow.start_run(run_name="evaluate", nested=True) as child:
                    pass
        run_id = run.info.run_id
        for _ in range(2):
            client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
        client.update_registered_model(name, DESCRIPTION)
        client.set_registered_model_tag(name, "team", "growth")
        client.set_registered_model_alias(name, "staging", "2")
        while mlflow.active_run() is not None:
            mlflow.end_run()
        yield Registry(name, prefix, run_id, parent.info.run_id, child.info.run_id,
                       info.model_id)


# ------------------------------------------------------------------ models ls


def test_ls_json(server, registry, mlflow_client):
    reply = ok_json(run_cli(server, "models", "ls", "--json",
                            "--filter", f"name LIKE '{registry.prefix}%'"))
    [model] = reply["registered_models"]
    assert model["name"] == registry.name
    assert model["description"] == DESCRIPTION
    assert model["aliases"] == [{"alias": "staging", "version": "2"}]
    assert {t["key"]: t["value"] for t in model["tags"]} == {"team": "growth"}
    expected = mlflow_client.get_registered_model(registry.name)
    assert model["last_updated_timestamp"] == expected.last_updated_timestamp


def test_ls_table(server, registry, mlflow_client):
    model = mlflow_client.get_registered_model(registry.name)
    table = rows(ok(run_cli(server, "models", "ls", "--filter", f"name LIKE '{registry.prefix}%'")))
    assert table == [
        ["NAME", "LATEST", "ALIASES", "LAST UPDATED", "DESCRIPTION"],
        [registry.name, "3", "staging=2", iso(model.last_updated_timestamp), "Predicts churn. …"],
    ]


def test_ls_pages_through_results(server):
    prefix = unique("cli-many-models")
    names = {f"{prefix}-{i:03}" for i in range(105)}
    for name in names:
        assert server.post("registered-models/create", {"name": name}).status_code == 200

    def listed(*args):
        reply = ok_json(run_cli(server, "models", "ls", "--json",
                                "--filter", f"name LIKE '{prefix}%'", *args))
        found = [m["name"] for m in reply["registered_models"]]
        assert len(found) == len(set(found)), "a model was listed twice"
        assert found == sorted(found)
        return found

    assert len(listed()) == 100
    assert listed("--max", "7") == sorted(names)[:7]
    assert set(listed("--max", "1000")) == names


# ------------------------------------------------------------------ models show


def test_show_model_table(server, registry, mlflow_client):
    out = ok(run_cli(server, "models", "show", registry.name))
    model = mlflow_client.get_registered_model(registry.name)
    assert summary(out) == {
        "Name": registry.name,
        "Description": "Predicts churn. Trained weekly.",
        "Created": iso(model.creation_timestamp),
        "Last updated": iso(model.last_updated_timestamp),
    }
    assert section(out, "Tags") == [["KEY", "VALUE"], ["team", "growth"]]
    assert section(out, "Aliases") == [["ALIAS", "VERSION"], ["staging", "2"]]
    expected = [["VERSION", "STAGE", "ALIASES", "RUN ID", "SOURCE", "CREATED"]]
    for number in ("3", "2", "1"):
        version = mlflow_client.get_model_version(registry.name, number)
        cells = [number, "None", "staging" if number == "2" else "", registry.run_id,
                 version.source, iso(version.creation_timestamp)]
        expected.append([c for c in cells if c])  # rows() cannot see an empty cell
    assert section(out, "Versions") == expected


def test_show_model_json(server, registry):
    reply = ok_json(run_cli(server, "models", "show", registry.name, "--json"))
    assert reply["registered_model"]["name"] == registry.name
    assert reply["registered_model"]["description"] == DESCRIPTION
    versions = reply["model_versions"]
    assert [v["version"] for v in versions] == ["3", "2", "1"]
    assert {v["run_id"] for v in versions} == {registry.run_id}


def test_show_version_by_alias(server, registry, mlflow_client):
    out = ok(run_cli(server, "models", "show", f"{registry.name}@staging"))
    version = mlflow_client.get_model_version(registry.name, "2")
    assert summary(out) == {
        "Name": registry.name,
        "Version": "2",
        "Stage": "None",
        "Status": "READY",
        "Aliases": "staging",
        "Description": "",
        "Run ID": registry.run_id,
        "Run name": "train",
        "Source": f"runs:/{registry.run_id}/model",
        "Download URI": mlflow_client.get_model_version_download_uri(registry.name, "2"),
        "Created": iso(version.creation_timestamp),
        "Last updated": iso(version.last_updated_timestamp),
    }
    assert section(out, "Tags") == [["(none)"]]


def test_show_version_by_number(server, registry, mlflow_client):
    mlflow_client.set_model_version_tag(registry.name, "1", "validated", "yes")
    out = ok(run_cli(server, "models", "show", f"{registry.name}/1"))
    fields = summary(out)
    assert fields["Version"] == "1"
    assert fields["Source"] == mlflow_client.get_model_version(registry.name, "1").source
    assert section(out, "Tags") == [["KEY", "VALUE"], ["validated", "yes"]]

    reply = ok_json(run_cli(server, "models", "show", f"{registry.name}/1", "--json"))
    assert reply["model_version"]["name"] == registry.name
    assert reply["model_version"]["version"] == "1"
    assert reply["artifact_uri"] == mlflow_client.get_model_version_download_uri(
        registry.name, "1")


@pytest.mark.slipway_only  # MLflow's server does not keep a version's model_id
def test_show_version_names_its_logged_model(server, registry):
    fields = summary(ok(run_cli(server, "models", "show", f"{registry.name}/1")))
    assert fields["Logged model"] == registry.model_id
    reply = ok_json(run_cli(server, "models", "show", registry.name, "--json"))
    assert [v.get("model_id") for v in reply["model_versions"]] == [None, None, registry.model_id]


def test_show_lists_versions_whatever_quotes_the_name_holds(server, registry, mlflow_client):
    # A name with both kinds of quote, or a backslash (which escapes a quote), cannot be written
    # as a filter literal; the versions of such a model, and only they, are still listed.
    base = unique("cli-quotes")
    names = [f"{base} it's\\", f'{base} "it\'s"', f'{base} say "hi"']
    for versions, name in enumerate(names, start=1):
        make_model(mlflow_client, registry.run_id, versions, name=name)
    make_model(mlflow_client, registry.run_id, 1, name=f"{base} it's")
    for versions, name in enumerate(names, start=1):
        reply = ok_json(run_cli(server, "models", "show", name, "--json"))
        assert [(v["name"], v["version"]) for v in reply["model_versions"]] == [
            (name, str(n)) for n in range(versions, 0, -1)]


# ------------------------------------------------------------------ models alias


def test_alias_set_move_delete(server, registry, mlflow_client):
    name = make_model(mlflow_client, registry.run_id, 3)
    assert ok(run_cli(server, "models", "alias", name, "prod", "1")) == (
        f"{name}@prod: version 1 (was unset)\n")
    assert mlflow_client.get_model_version_by_alias(name, "prod").version == "1"

    assert ok(run_cli(server, "models", "alias", name, "prod", "3")) == (
        f"{name}@prod: version 3 (was 1)\n")
    assert mlflow_client.get_model_version_by_alias(name, "prod").version == "3"
    assert mlflow_client.get_registered_model(name).aliases == {"prod": "3"}

    assert ok(run_cli(server, "models", "alias", name, "prod", "--delete")) == (
        f"{name}@prod: deleted (was version 3)\n")
    assert mlflow_client.get_registered_model(name).aliases == {}

    failed(run_cli(server, "models", "alias", name, "prod", "--delete"), name, "prod")


def test_alias_bad_arguments(server, registry, mlflow_client):
    name = make_model(mlflow_client, registry.run_id, 1)
    failed(run_cli(server, "models", "alias", name, "prod"), "VERSION", "--delete")
    assert run_cli(server, "models", "alias", name, "prod", "1", "--delete").returncode != 0
    failed(run_cli(server, "models", "alias", name, "prod", "7"), "7")
    failed(run_cli(server, "models", "alias", name, "prod", "abc"), "abc")
    missing = odd_name("cli-missing")
    failed(run_cli(server, "models", "alias", missing, "prod", "1"), missing)
    assert mlflow_client.get_registered_model(name).aliases == {}


# ------------------------------------------------------------------ models promote


def test_promote_alias_to_alias(server, registry, mlflow_client):
    name = make_model(mlflow_client, registry.run_id, 3)
    mlflow_client.set_registered_model_alias(name, "staging", "2")
    assert ok(run_cli(server, "models", "promote", f"{name}@staging", "--to", "production")) == (
        f"{name}@production: version 2 (was unset)\n")
    assert mlflow_client.get_model_version_by_alias(name, "production").version == "2"

    mlflow_client.set_registered_model_alias(name, "staging", "3")
    assert ok(run_cli(server, "models", "promote", f"{name}@staging", "--to", "production")) == (
        f"{name}@production: version 3 (was 2)\n")
    assert mlflow_client.get_registered_model(name).aliases == {
        "staging": "3", "production": "3"}


def test_promote_by_version(server, registry, mlflow_client):
    name = make_model(mlflow_client, registry.run_id, 2)
    assert ok(run_cli(server, "models", "promote", f"{name}/1", "--to", "champion")) == (
        f"{name}@champion: version 1 (was unset)\n")
    # NAME@N is version N when the model has no alias N.
    assert ok(run_cli(server, "models", "promote", f"{name}@2", "--to", "champion")) == (
        f"{name}@champion: version 2 (was 1)\n")
    assert mlflow_client.get_model_version_by_alias(name, "champion").version == "2"


def test_promote_stage_archiving_existing(server, registry, mlflow_client):
    name = make_model(mlflow_client, registry.run_id, 3)
    assert ok(run_cli(server, "models", "promote", f"{name}/1", "--stage", "Production")) == (
        f"{name}/1: stage Production (was None)\n")
    assert ok(run_cli(server, "models", "promote", f"{name}/2", "--stage", "production",
                      "--archive-existing", "--to", "live")) == (
        f"{name}/2: stage Production (was None)\n"
        f"{name}/1: stage Archived (was Production)\n"
        f"{name}@live: version 2 (was unset)\n")
    stages = {v: mlflow_client.get_model_version(name, v).current_stage for v in ("1", "2", "3")}
    assert stages == {"1": "Archived", "2": "Production", "3": "None"}
    assert mlflow_client.get_model_version_by_alias(name, "live").version == "2"


def test_promote_errors(server, registry, mlflow_client):
    name = make_model(mlflow_client, registry.run_id, 1)
    failed(run_cli(server, "models", "promote", f"{name}/1"), "--to", "--stage")
    failed(run_cli(server, "models", "promote", f"{name}@nosuch", "--to", "prod"), "nosuch")
    failed(run_cli(server, "models", "promote", f"{name}/9", "--to", "prod"), name, "9")
    failed(run_cli(server, "models", "promote", name, "--to", "prod"), "NAME/VERSION")
    result = run_cli(server, "models", "promote", f"{name}/1", "--stage", "Gold")
    failed(result, "Gold")
    assert run_cli(server, "models", "promote", f"{name}/1", "--archive-existing",
                   "--to", "prod").returncode != 0  # --archive-existing needs --stage
    assert mlflow_client.get_registered_model(name).aliases == {}
    assert mlflow_client.get_model_version(name, "1").current_stage == "None"


# ------------------------------------------------------------------ models lineage


@pytest.mark.slipway_only  # Slipway's own /api/v1 endpoint
def test_lineage_tree(server, registry):
    out = ok(run_cli(server, "models", "lineage", f"{registry.name}@staging"))
    reply = ok_json(run_cli(server, "models", "lineage", f"{registry.name}/1", "--json"))
    digest = reply["datasets"][0]["digest"]
    lines = tree(out)
    assert lines[0][0] == 0 and lines[0][1].startswith(f"model version {registry.name}/2 (@staging")
    assert (1, f"source: runs:/{registry.run_id}/model") in lines
    assert (1, f"run {registry.run_id} (train, FINISHED)") in lines
    assert (2, "params") in lines
    assert (3, "eta = 0.25") in lines and (3, "max_depth = 3") in lines
    assert (3, "auc = 0.875") in lines
    assert (3, f"churn-train (training, digest {digest})") in lines
    assert (3, "git commit: 0123abcd") in lines
    assert (2, f"parent run {registry.parent_id} (sweep, FINISHED)") in lines
    assert (3, f"{registry.child_id} (evaluate, FINISHED)") in lines


@pytest.mark.slipway_only  # Slipway's own /api/v1 endpoint
def test_lineage_through_logged_model(server, registry):
    lines = tree(ok(run_cli(server, "models", "lineage", f"{registry.name}/1")))
    depth, label = next(line for line in lines if line[1].startswith("logged model "))
    assert depth == 1 and label.startswith(f"logged model {registry.model_id} (model")
    assert (2, f"run {registry.run_id} (train, FINISHED)") in lines
    assert (4, "eta = 0.25") in lines


@pytest.mark.slipway_only  # Slipway's own /api/v1 endpoint
def test_lineage_json(server, registry):
    reply = ok_json(run_cli(server, "models", "lineage", f"{registry.name}@staging", "--json"))
    assert reply["model_version"]["name"] == registry.name
    assert reply["model_version"]["version"] == "2"
    assert reply["run"]["info"]["run_id"] == registry.run_id
    assert {p["key"]: p["value"] for p in reply["run"]["data"]["params"]} == {
        "max_depth": "3", "eta": "0.25"}
    assert [d["name"] for d in reply["datasets"]] == ["churn-train"]
    assert reply["parent_run"]["run_id"] == registry.parent_id
    assert [c["run_id"] for c in reply["child_runs"]] == [registry.child_id]


@pytest.mark.slipway_only  # Slipway's own /api/v1 endpoint
def test_lineage_errors(server, registry):
    failed(run_cli(server, "models", "lineage", registry.name), "NAME/VERSION")
    failed(run_cli(server, "models", "lineage", f"{registry.name}/9"), registry.name, "9")
    failed(run_cli(server, "models", "lineage", f"{registry.name}@gone"), "gone")
    missing = odd_name("cli-missing")
    failed(run_cli(server, "models", "lineage", f"{missing}@prod"), missing)


# ------------------------------------------------------------------ models card


def card_url(server, name: str, version: str) -> str:
    return f"{server.url}/api/v1/models/{urllib.parse.quote(name, safe='')}/versions/{version}/card"


@pytest.mark.slipway_only  # Slipway's own /api/v1 endpoint
def test_card_markdown(server, registry):
    out = ok(run_cli(server, "models", "card", f"{registry.name}@staging"))
    served = requests.get(card_url(server, registry.name, "2"),
                          headers={"Accept": "text/markdown"}, timeout=10)
    assert served.status_code == 200, served.text
    assert out.rstrip("\n") == served.text.rstrip("\n")
    assert registry.name in out and "max_depth" in out and "churn-train" in out


@pytest.mark.slipway_only  # Slipway's own /api/v1 endpoint
def test_card_json(server, registry):
    reply = ok_json(run_cli(server, "models", "card", f"{registry.name}/1", "--json"))
    served = requests.get(card_url(server, registry.name, "1"), params={"format": "json"},
                          timeout=10)
    assert reply == served.json()
    assert reply["name"] == registry.name
    assert reply["version"] == "1"


@pytest.mark.slipway_only  # Slipway's own /api/v1 endpoint
def test_card_errors(server, registry):
    failed(run_cli(server, "models", "card", f"{registry.name}/9"), registry.name, "9")
    missing = odd_name("cli-missing")
    failed(run_cli(server, "models", "card", f"{missing}/1"), missing)


# ------------------------------------------------------------------ errors


def test_show_unknown_model_or_version(server, registry):
    missing = odd_name("cli-missing")
    failed(run_cli(server, "models", "show", missing), missing)
    failed(run_cli(server, "models", "show", f"{missing}@prod"), missing)
    failed(run_cli(server, "models", "show", f"{registry.name}/99"), registry.name, "99")
    failed(run_cli(server, "models", "show", f"{registry.name}@nosuch"), "nosuch")


def test_unreachable_server(server):
    dead = f"http://127.0.0.1:{free_port()}"
    failed(run_cli(server, "models", "ls", uri=dead), dead, "could not reach")
