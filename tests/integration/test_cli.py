"""``python -m statuspage db migrate`` as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

from statuspage.db import migrate

from ..helpers import ROOT


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HISTORY_DATABASE_URL")}
    return subprocess.run([sys.executable, "-m", "statuspage", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def test_db_migrate_creates_the_schema_once_and_then_does_nothing(private_pg) -> None:
    with psycopg.connect(private_pg.dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA statuspage CASCADE")  # the fixture migrated it; start from nothing
    versions = [path.stem for path in migrate.pending_files()]
    first = run("db", "migrate", DATABASE_URL=private_pg.dsn)
    assert first.returncode == 0, first.stderr
    assert f"applied {', '.join(versions)};" in first.stdout
    assert versions[:5] == ["0001_history", "0002_notifications", "0003_snapshot_guard", "0004_history_truth",
                            "0005_operators"]
    second = run("db", "migrate", DATABASE_URL=private_pg.dsn)
    assert second.returncode == 0 and f"applied nothing; schema at {versions[-1]}" in second.stdout
    with psycopg.connect(private_pg.dsn) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'statuspage'")}
    assert tables >= {"schema_migrations", "state_changes", "samples", "daily_rollups", "incidents",
                      "notifications", "snapshot_guard", "snapshot_accepts", "operator_incidents"}


def test_db_migrate_uses_the_history_url_when_set(private_pg) -> None:
    with psycopg.connect(private_pg.dsn, autocommit=True) as conn:
        conn.execute("CREATE DATABASE history")
    history_dsn = private_pg.dsn.rsplit("/", 1)[0] + "/history"
    result = run("db", "migrate", DATABASE_URL=private_pg.dsn, HISTORY_DATABASE_URL=history_dsn)
    assert result.returncode == 0, result.stderr
    assert "dbname=history" in result.stdout
    with psycopg.connect(history_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM statuspage.schema_migrations").fetchone()[0] == len(
            migrate.pending_files())


def test_db_migrate_without_database_url_names_it() -> None:
    result = run("db", "migrate")
    assert result.returncode == 1
    assert result.stderr.startswith("statuspage: DATABASE_URL is not set")
