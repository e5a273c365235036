"""Shared by the tests of the operators' side (issue 13): clean operator tables, what was written,
and the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

from . import ROOT

TOKEN = "ops-token-0123456789-abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
OPERATOR_TABLES = ("operator_incidents", "incident_updates", "postmortems", "maintenance_events", "maintenances",
                   "maintenance_minutes", "announcement", "operator_log")


def truncate(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE " + ", ".join(f"statuspage.{t}" for t in OPERATOR_TABLES))


def rows(conn: psycopg.Connection) -> dict[str, int]:
    """Rows in every table an operator write may touch, the outbox included."""
    return {t: conn.execute(f"SELECT count(*) FROM statuspage.{t}").fetchone()[0]
            for t in (*OPERATOR_TABLES, "notifications")}


def cli(dsn: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m statuspage …`` as an operator runs it, against ``dsn``."""
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HISTORY_DATABASE_URL")}
    return subprocess.run([sys.executable, "-m", "statuspage", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**environ, "DATABASE_URL": dsn, **env})
