"""A PostgreSQL cluster frozen by SIGSTOP: every process stopped, so the kernel still accepts
connections and acknowledges packets while nothing answers (a hung host, a paused VM)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from bench.faults import frozen  # one home: the soak and the tests freeze PostgreSQL alike
from statuspage.demo import seed
from statuspage.demo.pgserver import EmbeddedPostgres

from .trades import add_trade


def prepare(pg: EmbeddedPostgres, trades: int = 3) -> None:
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        seed.create_schema(conn)
        now = datetime.now(UTC)
        for i in range(1, trades + 1):
            add_trade(conn, i, now - timedelta(hours=i), "10")


__all__ = ["frozen", "prepare"]
