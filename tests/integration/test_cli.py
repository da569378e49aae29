"""The tracking commands of the `slipway` CLI against a real server.

Data is logged with the real `mlflow` client; then `slipway experiments ls`, `runs ls`,
`runs show` and `runs compare` run as subprocesses and what they print is checked against
what was logged.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd
import pytest

from conftest import _point_mlflow_at, free_port, unique


def run_cli(server, *args: str, env: dict | None = None,
            uri: str | None = "") -> subprocess.CompletedProcess:
    """Runs `slipway ARGS --tracking-uri URI` (the server's URL unless `uri` is given or None)."""
    command = [str(server.binary), *args]
    if uri is not None:
        command += ["--tracking-uri", uri or server.url]
    clean_env = {k: v for k, v in os.environ.items()
                 if k not in ("SLIPWAY_TRACKING_URI", "MLFLOW_TRACKING_URI")}
    return subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env={**clean_env, **(env or {})})


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result.stdout


def ok_json(result: subprocess.CompletedProcess):
    return json.loads(ok(result))


def rows(text: str) -> list[list[str]]:
    """A printed table as lists of cells; columns are separated by two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def section(text: str, title: str) -> str:
    """The lines of `runs show` output from the line starting with `title` to the next blank."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return "\n".join(lines[start + 1:end])


@dataclass
class Tracked:
    experiment_id: str
    experiment_name: str
    deleted_experiment_name: str
    run_ids: list[str]  # run-0, run-1, run-2
    many_experiment_id: str
    many_run_ids: set[str]


# Per run: params, the acc history (latest = last step), loss.
RUNS = [
    ({"lr": "0.1", "optimizer": "sgd", "epochs": "10"}, [0.5, 0.75], 0.25),
    ({"lr": "0.01", "optimizer": "adam", "epochs": "10"}, [0.5, 0.625, 0.875], 0.125),
    ({"lr": "0.001", "optimizer": "adam", "epochs": "10"}, [0.625], 0.375),
]
MANY_RUNS = 130


@pytest.fixture(scope="module")
def tracked(server):
    import mlflow

    with pytest.MonkeyPatch.context() as monkeypatch:
        client = _point_mlflow_at(server, monkeypatch)
        name = unique("cli-exp")
        experiment_id = client.create_experiment(name)
        run_ids = []
        for i, (params, acc, loss) in enumerate(RUNS):
            with mlflow.start_run(experiment_id=experiment_id, run_name=f"run-{i}") as run:
                mlflow.log_params(params)
                for step, value in enumerate(acc):
                    mlflow.log_metric("acc", value, step=step)
                mlflow.log_metric("loss", loss)
                mlflow.set_tag("team", "vision")
                if i == 1:
                    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
                    mlflow.log_input(mlflow.data.from_pandas(frame, name="cli-train"),
                                     context="training")
                    mlflow.log_text("hello", "notes/readme.txt")
                    mlflow.log_dict({"depth": 3}, "config.json")
                run_ids.append(run.info.run_id)

        deleted_name = unique("cli-deleted")
        client.delete_experiment(client.create_experiment(deleted_name))

        many_id = client.create_experiment(unique("cli-many"))
        many_run_ids = {client.create_run(many_id).info.run_id for _ in range(MANY_RUNS)}

        while mlflow.active_run() is not None:
            mlflow.end_run()
        import mlflow.tracking.fluent as fluent

        fluent._active_experiment_id = None
        yield Tracked(experiment_id, name, deleted_name, run_ids, many_id, many_run_ids)


# ------------------------------------------------------------------ experiments ls


def test_experiments_ls_json_by_lifecycle(server, tracked):
    def names(*flags):
        reply = ok_json(run_cli(server, "experiments", "ls", "--json", *flags))
        return {e["name"]: e for e in reply["experiments"]}

    active = names()
    assert tracked.experiment_name in active
    assert tracked.deleted_experiment_name not in active
    exp = active[tracked.experiment_name]
    assert str(exp["experiment_id"]) == tracked.experiment_id
    assert exp["lifecycle_stage"] == "active"

    deleted = names("--deleted")
    assert deleted[tracked.deleted_experiment_name]["lifecycle_stage"] == "deleted"
    assert tracked.experiment_name not in deleted

    everything = names("--all")
    assert {tracked.experiment_name, tracked.deleted_experiment_name} <= everything.keys()


def test_experiments_ls_table(server, tracked, mlflow_client):
    experiment = mlflow_client.get_experiment(tracked.experiment_id)
    table = rows(ok(run_cli(server, "experiments", "ls")))
    assert table[0] == ["ID", "NAME", "LIFECYCLE", "ARTIFACT LOCATION", "CREATED"]
    row = next(r for r in table[1:] if r[1] == tracked.experiment_name)
    assert row == [tracked.experiment_id, tracked.experiment_name, "active",
                   experiment.artifact_location, iso(experiment.creation_time)]


def test_experiments_all_and_deleted_are_exclusive(server, tracked):
    result = run_cli(server, "experiments", "ls", "--all", "--deleted")
    assert result.returncode != 0
    assert "excludes" in result.stderr


# ------------------------------------------------------------------ runs ls


def test_runs_ls_shows_latest_metrics(server, tracked, mlflow_client):
    table = rows(ok(run_cli(server, "runs", "ls", "--experiment", tracked.experiment_name)))
    header = table[0]
    assert header[:5] == ["RUN ID", "NAME", "STATUS", "STARTED", "DURATION"]
    assert header[5:] == ["acc", "loss"]
    by_id = {r[0]: r for r in table[1:]}
    assert by_id.keys() == set(tracked.run_ids)
    for i, run_id in enumerate(tracked.run_ids):
        info = mlflow_client.get_run(run_id).info
        _, acc, loss = RUNS[i]
        row = by_id[run_id]
        assert row[1:4] == [f"run-{i}", "FINISHED", iso(info.start_time)]
        assert re.fullmatch(r"\d+ms|\d+\.\ds|\d+m \d\ds", row[4]), row
        assert [float(v) for v in row[5:]] == [acc[-1], loss]


def test_runs_ls_by_experiment_id_as_json(server, tracked):
    reply = ok_json(run_cli(server, "runs", "ls", "-e", tracked.experiment_id, "--json"))
    runs = {r["info"]["run_id"]: r for r in reply["runs"]}
    assert runs.keys() == set(tracked.run_ids)
    run = runs[tracked.run_ids[1]]
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == RUNS[1][0]
    assert {m["key"]: m["value"] for m in run["data"]["metrics"]} == {"acc": 0.875, "loss": 0.125}


def run_ids_listed(server, tracked, *args):
    table = rows(ok(run_cli(server, "runs", "ls", "-e", tracked.experiment_name, *args)))
    return [r[0] for r in table[1:]]


def test_runs_ls_order_by(server, tracked):
    r0, r1, r2 = tracked.run_ids
    assert run_ids_listed(server, tracked, "--order-by", "metrics.acc DESC") == [r1, r0, r2]
    assert run_ids_listed(server, tracked, "--order-by", "metrics.acc ASC") == [r2, r0, r1]
    assert run_ids_listed(server, tracked, "--order-by", "params.lr") == [r2, r1, r0]
    two_terms = ["--order-by", "params.optimizer ASC", "--order-by", "metrics.loss DESC"]
    assert run_ids_listed(server, tracked, *two_terms) == [r2, r1, r0]


def test_runs_ls_puts_ordered_metric_first(server, tracked):
    out = ok(run_cli(server, "runs", "ls", "-e", tracked.experiment_name,
                     "--order-by", "metrics.loss DESC"))
    assert rows(out)[0][5:] == ["loss", "acc"]


def test_runs_ls_filter(server, tracked):
    r0, r1, r2 = tracked.run_ids
    adam = run_ids_listed(server, tracked, "--filter", "params.optimizer = 'adam'")
    assert sorted(adam) == sorted([r1, r2])
    good = run_ids_listed(server, tracked, "--filter", "metrics.acc > 0.7")
    assert sorted(good) == sorted([r0, r1])
    assert run_ids_listed(server, tracked, "--filter", "tags.team = 'nobody'") == []


def test_runs_ls_pages_through_results(server, tracked):
    def listed(*args):
        reply = ok_json(run_cli(server, "runs", "ls", "-e", tracked.many_experiment_id,
                                "--json", *args))
        ids = [r["info"]["run_id"] for r in reply["runs"]]
        assert len(ids) == len(set(ids)), "a run was listed twice"
        assert set(ids) <= tracked.many_run_ids
        return ids

    assert len(listed()) == 100
    assert len(listed("--max", "120")) == 120
    assert set(listed("--max", "1000")) == tracked.many_run_ids


def test_runs_ls_unknown_experiment(server, tracked):
    name = unique("no-such-experiment")
    result = run_cli(server, "runs", "ls", "--experiment", name)
    assert result.returncode == 1
    assert result.stderr.startswith("error:")
    assert name in result.stderr
    assert result.stdout == ""


# ------------------------------------------------------------------ runs show


def test_runs_show(server, tracked, mlflow_client):
    run_id = tracked.run_ids[1]
    info = mlflow_client.get_run(run_id).info
    out = ok(run_cli(server, "runs", "show", run_id))

    summary = {r[0]: r[-1] for r in rows(out.split("\n\n")[0])}
    assert summary["Run ID"] == run_id
    assert summary["Name"] == "run-1"
    assert summary["Experiment"] == f"{tracked.experiment_id} ({tracked.experiment_name})"
    assert summary["Status"] == "FINISHED"
    assert summary["Started"] == iso(info.start_time)
    assert summary["Ended"] == iso(info.end_time)

    assert rows(section(out, "Params")) == [["KEY", "VALUE"], ["epochs", "10"], ["lr", "0.01"],
                                             ["optimizer", "adam"]]
    metrics = rows(section(out, "Metrics"))
    assert metrics[0] == ["KEY", "VALUE", "STEP", "TIMESTAMP"]
    assert [m[:3] for m in metrics[1:]] == [["acc", "0.875", "2"], ["loss", "0.125", "0"]]

    tags = rows(section(out, "Tags"))
    assert tags == [["KEY", "VALUE"], ["team", "vision"]]
    all_tags = dict(rows(section(ok(run_cli(server, "runs", "show", run_id, "--all-tags")),
                                 "Tags"))[1:])
    assert all_tags["team"] == "vision"
    assert all_tags["mlflow.runName"] == "run-1"

    datasets = rows(section(out, "Datasets"))
    assert datasets[1][0] == "cli-train"
    assert datasets[1][2] == "training"

    artifacts = rows(section(out, "Artifacts"))
    assert [a[0] for a in artifacts[1:]] == ["config.json", "notes/", "notes/readme.txt"]
    assert dict(a for a in artifacts[1:] if len(a) == 2)["notes/readme.txt"] == "5 B"


def test_runs_show_json(server, tracked):
    run_id = tracked.run_ids[0]
    reply = ok_json(run_cli(server, "runs", "show", run_id, "--json"))
    run = reply["run"]
    assert run["info"]["run_id"] == run_id
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == RUNS[0][0]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["team"] == "vision"
    assert tags["mlflow.runName"] == "run-0"
    assert reply["artifacts"]["files"] == []


def test_runs_show_unknown_run(server, tracked):
    missing = "0123456789abcdef0123456789abcdef"
    result = run_cli(server, "runs", "show", missing)
    assert result.returncode == 1
    assert result.stderr.startswith("error:")
    assert missing in result.stderr
    assert result.stdout == ""


# ------------------------------------------------------------------ runs compare


def test_runs_compare(server, tracked):
    r0, r1, r2 = tracked.run_ids
    out = ok(run_cli(server, "runs", "compare", r1, r0, r2))
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines[0].split() == [r1[:8], r0[:8], r2[:8]]
    table = {}
    for line in lines[1:]:
        if line.startswith("* "):
            if "differ" in line:
                continue
            table[line[1:].split()[0]] = ("*", line[1:].split()[1:])
        else:
            table[line.split()[0]] = ("", line.split()[1:])
    assert table["name"] == ("", ["run-1", "run-0", "run-2"])
    assert table["status"] == ("", ["FINISHED"] * 3)
    assert table["params.epochs"] == ("", ["10", "10", "10"])
    assert table["params.lr"] == ("*", ["0.01", "0.1", "0.001"])
    assert table["params.optimizer"] == ("*", ["adam", "sgd", "adam"])
    assert table["metrics.acc"] == ("", ["0.875", "0.75", "0.625"])
    assert table["metrics.loss"] == ("", ["0.125", "0.25", "0.375"])


def test_runs_compare_json(server, tracked):
    r0, r1, _ = tracked.run_ids
    reply = ok_json(run_cli(server, "runs", "compare", r0, r1, "--json"))
    assert [r["info"]["run_id"] for r in reply["runs"]] == [r0, r1]


def test_runs_compare_needs_two_runs(server, tracked):
    result = run_cli(server, "runs", "compare", tracked.run_ids[0])
    assert result.returncode != 0
    assert result.stdout == ""


def test_runs_compare_unknown_run(server, tracked):
    missing = "fedcba9876543210fedcba9876543210"
    result = run_cli(server, "runs", "compare", tracked.run_ids[0], missing)
    assert result.returncode == 1
    assert result.stderr.startswith("error:")
    assert missing in result.stderr


# ------------------------------------------------------------------ tracking URI


def test_unreachable_server(server):
    dead = f"http://127.0.0.1:{free_port()}"
    result = run_cli(server, "experiments", "ls", uri=dead)
    assert result.returncode == 1
    assert result.stderr.startswith("error:")
    assert dead in result.stderr
    assert "could not reach" in result.stderr
    assert result.stdout == ""


def test_unsupported_uri(server):
    result = run_cli(server, "experiments", "ls", uri="file:///tmp/mlruns")
    assert result.returncode == 1
    assert "file:///tmp/mlruns" in result.stderr


def test_tracking_uri_from_environment(server, tracked):
    dead = f"http://127.0.0.1:{free_port()}"

    def names(env, uri=None):
        result = run_cli(server, "experiments", "ls", "--json", env=env, uri=uri)
        return result, (json.loads(result.stdout)["experiments"] if result.returncode == 0 else [])

    result, experiments = names({"MLFLOW_TRACKING_URI": server.url})
    assert tracked.experiment_name in {e["name"] for e in experiments}, result.stderr

    # SLIPWAY_TRACKING_URI wins over MLFLOW_TRACKING_URI, and --tracking-uri over both.
    result, _ = names({"SLIPWAY_TRACKING_URI": dead, "MLFLOW_TRACKING_URI": server.url})
    assert result.returncode == 1 and dead in result.stderr
    result, experiments = names({"SLIPWAY_TRACKING_URI": dead}, uri=server.url)
    assert tracked.experiment_name in {e["name"] for e in experiments}, result.stderr
