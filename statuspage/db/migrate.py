"""``python -m statuspage db migrate``: the page's own schema, from versioned SQL files.

Files in ``statuspage/migrations`` named ``NNNN_name.sql`` are applied in order, each in its own
transaction together with its row in ``statuspage.schema_migrations``; applied ones are skipped, so
running it twice changes nothing. An advisory lock keeps two deploys from migrating at once.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from . import sql

MIGRATIONS = Path(__file__).parent.parent / "migrations"
SCHEMA = "statuspage"
_MIGRATION_LOCK = 0x5747_4D49  # pg_advisory_xact_lock key: "migrate"

log = logging.getLogger(__name__)


class MigrationError(Exception):
    """The role cannot migrate; the message is one line saying what it lacks and what to run."""


def _ensure_schema(conn: psycopg.Connection) -> None:
    """Create the schema only when it is missing; use one the role was given as it is."""
    with conn.cursor(row_factory=dict_row) as cur:
        access = cur.execute(sql("migrate_schema_access"), {"schema": SCHEMA}).fetchone()
    assert access is not None
    role = access["role"]
    if access["schema_exists"]:
        if not access["may_create_in_schema"]:
            raise MigrationError(f"schema {SCHEMA} exists but role {role} may not create tables in it: "
                                 f"ALTER SCHEMA {SCHEMA} OWNER TO {role} (see docs/health.md, History)")
        return
    if not access["may_create_schema"]:
        raise MigrationError(f"schema {SCHEMA} does not exist and role {role} may not create it: "
                             f"CREATE SCHEMA {SCHEMA} AUTHORIZATION {role} (see docs/health.md, History)")
    conn.execute(f"CREATE SCHEMA {SCHEMA}")


def pending_files() -> list[Path]:
    return sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply what is missing; return the versions applied now."""
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        _ensure_schema(conn)
        conn.execute(f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations (
                             version text PRIMARY KEY,
                             applied_at timestamptz NOT NULL DEFAULT now())""")
    for path in pending_files():
        version = path.stem
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            done = conn.execute(f"SELECT 1 FROM {SCHEMA}.schema_migrations WHERE version = %s", (version,)).fetchone()
            if done:
                continue
            conn.execute(path.read_text())
            conn.execute(f"INSERT INTO {SCHEMA}.schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
            log.info("migration applied: %s", version)
    return applied_now


def applied(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(f"SELECT version FROM {SCHEMA}.schema_migrations ORDER BY version").fetchall()
    return [row[0] for row in rows]
