"""Slipway on a real PostgreSQL (issue 16): what works today.

`slipway db upgrade --store postgresql://...` creates the schema and a second
run finds it up to date; `slipway server --store postgresql://... --data-dir
DIR` serves from it. (SLIPWAY_ITEST_STORE=postgresql runs the other test files
against PostgreSQL too: see CONTRIBUTING.md.)
"""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import slipway_binary

pytestmark = pytest.mark.slipway_only


def run_slipway(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(slipway_binary()), *args], capture_output=True, text=True,
                          timeout=timeout)


def newest_schema_version(postgres, uri: str) -> int:
    database = uri.rsplit("/", 1)[1]
    return int(postgres.psql("SELECT max(version) FROM schema_migrations", database).strip())


def test_db_upgrade_creates_the_schema_then_finds_it_up_to_date(postgres, postgres_db):
    first = run_slipway("db", "upgrade", "--store", postgres_db)
    assert first.returncode == 0, first.stderr
    match = re.fullmatch(
        r"postgresql slipway@127\.0\.0\.1:\d+/(\S+): schema upgraded from version 0 to (\d+)\n",
        first.stdout)
    assert match, first.stdout
    database, version = match.group(1), int(match.group(2))
    assert postgres_db.endswith("/" + database)
    assert version == newest_schema_version(postgres, postgres_db)
    # The tables the stores use are there, with PostgreSQL's types.
    columns = postgres.psql(
        "SELECT column_name || ':' || data_type FROM information_schema.columns "
        "WHERE table_name = 'metrics' ORDER BY ordinal_position", database).splitlines()
    assert columns[:6] == ["run_pk:bigint", "key:text", "step:bigint", "timestamp:bigint",
                           "value:double precision", "is_nan:boolean"]
    tables = set(postgres.psql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database).split())
    assert {"experiments", "runs", "registered_models", "model_versions", "audit_log", "users",
            "data_versions", "deployments", "traces", "schema_migrations"} <= tables

    again = run_slipway("db", "upgrade", "--store", postgres_db)
    assert again.returncode == 0, again.stderr
    assert again.stdout.endswith(f": schema version {version}, up to date\n"), again.stdout
    assert again.stderr == "", again.stderr  # no NOTICE from PostgreSQL on the terminal
    rows = postgres.psql("SELECT count(*) FROM schema_migrations", database).strip()
    assert int(rows) == version


def test_db_upgrade_on_sqlite_reports_the_same_versions(tmp_path, postgres, postgres_db):
    path = tmp_path / "meta" / "slipway.db"
    first = run_slipway("db", "upgrade", "--store", f"sqlite:///{path}")
    assert first.returncode == 0, first.stderr
    assert path.exists()
    version = int(re.search(r"from version 0 to (\d+)$", first.stdout.strip()).group(1))
    on_postgres = run_slipway("db", "upgrade", "--store", postgres_db)
    assert on_postgres.stdout.strip().endswith(f"from version 0 to {version}")


def test_unreachable_postgres_is_a_clear_error_without_the_password():
    result = run_slipway("db", "upgrade", "--store",
                         "postgresql://ml:sekrit@127.0.0.1:1/slipway?connect_timeout=2")
    assert result.returncode == 1
    assert "cannot connect to PostgreSQL (postgresql ml@127.0.0.1:1/slipway)" in result.stderr
    assert "sekrit" not in result.stderr + result.stdout


def test_server_on_postgres_keeps_what_it_acknowledged_across_a_kill(server_factory, postgres,
                                                                   postgres_db):
    """A server on PostgreSQL: the real mlflow client's writes are there after
    a kill -9 and a restart on the same database, and in PostgreSQL's tables."""
    import mlflow
    from mlflow import MlflowClient

    srv = server_factory()
    srv.store_uri = postgres_db
    srv.start()
    client = MlflowClient(srv.url)
    experiment_id = client.create_experiment("on-postgres")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "alpha", "0.5")
    for step in range(20):
        client.log_metric(run.info.run_id, "loss", 1.0 / (step + 1), step=step)
    client.set_terminated(run.info.run_id)
    srv.kill()
    srv.start()
    client = MlflowClient(srv.url)
    got = client.get_run(run.info.run_id)
    assert got.data.params == {"alpha": "0.5"}
    assert got.data.metrics == {"loss": 1.0 / 20}
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == list(range(20))
    found = client.search_runs([experiment_id], "metrics.loss < 0.1 and params.alpha = '0.5'")
    assert [r.info.run_id for r in found] == [run.info.run_id]
    database = postgres_db.rsplit("/", 1)[1]
    assert postgres.psql("SELECT count(*) FROM metrics", database).strip() == "20"
    assert mlflow.__version__  # the client the tests pin drove it


def test_server_without_data_dir_says_what_to_give(postgres_db):
    result = run_slipway("server", "--port", "0", "--store", postgres_db, timeout=30)
    assert result.returncode != 0
    assert "is a PostgreSQL store, not a SQLite file: give --data-dir" in result.stderr, (
        result.stderr)
