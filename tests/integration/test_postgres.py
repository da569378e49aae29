"""Slipway on a real PostgreSQL (issue 16): what works today.

`slipway db upgrade --store postgresql://...` creates the schema, a second run
finds it up to date, and `slipway server --store postgresql://...` refuses to
start, naming the stores not yet ported, rather than half work. The server's
tracking flow on PostgreSQL comes when every store it needs is ported.
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


def test_server_refuses_postgres_naming_the_stores_not_yet_ported(tmp_path, postgres_db):
    result = run_slipway("server", "--port", "0", "--data-dir", str(tmp_path), "--store",
                         postgres_db, timeout=30)
    assert result.returncode != 0
    assert "cannot serve yet: these stores are not ported to PostgreSQL: deployments" in (
        result.stderr), result.stderr
    # Without --data-dir, the same refusal (not a complaint about the URI's form).
    bare = run_slipway("server", "--port", "0", "--store", postgres_db, timeout=30)
    assert bare.returncode != 0
    assert "not ported to PostgreSQL" in bare.stderr, bare.stderr
