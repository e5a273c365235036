"""The read-only connection pool and the SQL files it runs."""

from __future__ import annotations

import functools
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg_pool import ConnectionPool

from .. import budgets, deadline
from ..config import Settings, redact_dsn

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent.parent / "sql"  # beside the modules that run them


# A trade dated up to this far after the snapshot time still counts (closing on that day): the
# engine's clock may run a little ahead, and a trade committed while the refresh waited for its
# connection may carry a time after the refresh's ``now``. Anything later is set aside until due.
FUTURE_TOLERANCE = timedelta(seconds=10)


def valid_until(as_of: datetime) -> datetime:
    """trade_valid.sql's %(valid_until)s: ``as_of`` plus the tolerance, but never past the next UTC
    midnight: a trade on a day the snapshot's daily series does not have yet waits until it is due."""
    midnight = datetime.combine(as_of.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
    return min(as_of + FUTURE_TOLERANCE, midnight)


@functools.cache
def sql(name: str) -> str:
    """The text of ``statuspage/sql/<name>.sql``; read once. ``{{other}}`` in it stands for the text
    of ``other.sql`` in parentheses: one definition shared by several queries (``trade_fault``).
    Left unexpanded it would be a syntax error, never a query that silently means something else."""
    text = (SQL_DIR / f"{name}.sql").read_text()
    return re.sub(r"\{\{(\w+)\}\}", lambda m: f"(\n{sql(m.group(1)).strip()}\n)", text)


def connect_kwargs(settings: Settings, *, read_only: bool = True) -> dict[str, Any]:
    # Enforced by the server, per session: a page bug cannot write to the engine's tables.
    # TimeZone UTC: "t - interval '7 days'" counts calendar days in the session's zone, so a server
    # or role defaulting to a zone with daylight saving would move the window edges by an hour
    # around each change (found by tests/integration/test_properties.py).
    options = f"-c statement_timeout={settings.db_statement_timeout_ms} -c TimeZone=UTC"
    if read_only:
        options += " -c default_transaction_read_only=on"
    return {
        "connect_timeout": max(1, round(settings.db_connect_timeout_s)),
        "options": options,
        "application_name": "statuspage",
        "autocommit": True,
        # No server-side prepared statements: a plan prepared before the engine changed a column's
        # type fails every later run on that session ("cached plan must not change result type"),
        # and the page sends a few statements a minute, too few for preparing to save anything.
        "prepare_threshold": None,
    }


def make_pool(settings: Settings) -> ConnectionPool:
    """Open the pool without waiting for the database: boot must not hang on an outage."""
    log.info("database: %s", redact_dsn(settings.database_url))
    pool = deadline.GuardedPool(
        settings.database_url,
        kwargs=connect_kwargs(settings),
        min_size=1,
        max_size=settings.db_pool_max_size,
        open=False,
        # A connection that died with a database restart is dropped on checkout, not handed out;
        # the check and every use of a connection end by a client-side deadline (a frozen server).
        check_s=budgets.check_s(settings),
        call_s=budgets.statement_s(settings),
        timeout=settings.db_connect_timeout_s,
        # psycopg_pool retries a lost connection with a doubling delay (1, 2, 4 … 64 s), so after a
        # long outage it could wait a minute after the database is back. Giving up a retry series
        # after one probe interval bounds that: the next checkout (the probe's, every interval)
        # starts a new series with an attempt at once.
        reconnect_timeout=settings.probe_interval_s,
        name="statuspage",
    )
    pool.open(wait=False)
    return pool


def ping(pool: ConnectionPool, timeout_s: float) -> float:
    """One ``SELECT 1`` round trip through the pool, in milliseconds; the wait for a connection, its
    check and the query all end within ``timeout_s``, however the server behaves."""
    started = time.perf_counter()
    with deadline.within(timeout_s, "database round trip"), pool.connection(timeout=timeout_s) as conn:
        conn.execute(sql("ping"))
    return (time.perf_counter() - started) * 1000.0

