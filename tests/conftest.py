"""A real PostgreSQL for the whole session (embedded, or TEST_DATABASE_URL), clean data per test."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from flask import Flask

from statuspage import create_app, migrate, seed
from statuspage.config import Settings, load_settings
from statuspage.pgserver import EmbeddedPostgres

from .helpers import LiveServer

# Short intervals everywhere in tests; each test overrides what it exercises.
FAST = {"REFRESH_INTERVAL_S": "1", "STALE_AFTER_S": "30", "PROBE_INTERVAL_S": "1", "PROBE_TIMEOUT_S": "0.5",
        "POLL_INTERVAL_S": "1", "DB_CONNECT_TIMEOUT_S": "2"}


def _migrate(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate.migrate(conn)


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    if os.environ.get("TEST_DATABASE_URL"):
        _migrate(os.environ["TEST_DATABASE_URL"])
        yield os.environ["TEST_DATABASE_URL"]
        return
    with EmbeddedPostgres() as server:
        _migrate(server.dsn)
        yield server.dsn


@pytest.fixture
def writer(pg_dsn: str) -> Iterator[psycopg.Connection]:
    """A read-write connection standing in for the engine; the table starts empty in every test."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS closed_trades")
        seed.create_schema(conn)
        conn.execute("TRUNCATE statuspage.state_changes, statuspage.samples, statuspage.daily_rollups, "
                     "statuspage.incidents, statuspage.notifications")
        # the guard's memory: a mark left by another test would hold this test's numbers back
        conn.execute("TRUNCATE statuspage.snapshot_guard, statuspage.snapshot_accepts")
        yield conn


def add_trade(conn: psycopg.Connection, trade_id: int, closed_at: datetime, pnl: str | Decimal,
              fees: str | Decimal = "0", symbol: str = "BTC-USD", side: str = "long") -> None:
    conn.execute(
        "INSERT INTO closed_trades (id, symbol, side, qty, entry_price, exit_price, pnl, fees, opened_at, closed_at)"
        " VALUES (%s, %s, %s, 1, 100, 101, %s, %s, %s, %s)",
        (trade_id, symbol, side, Decimal(pnl), Decimal(fees), closed_at, closed_at),
    )


def settings_for(dsn: str, **env: str) -> Settings:
    return load_settings({"DATABASE_URL": dsn, **FAST, **env})


@pytest.fixture
def make_app(pg_dsn: str) -> Iterator[Callable[..., Flask]]:
    """Build apps through the real factory; every runtime is closed after the test."""
    apps: list[Flask] = []

    def build(dsn: str | None = None, start_background: bool = True, **env: str) -> Flask:
        app = create_app(settings_for(dsn or pg_dsn, **env), start_background=start_background)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["statuspage"].close()


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], LiveServer]]:
    servers: list[LiveServer] = []

    def start(app: Flask) -> LiveServer:
        servers.append(LiveServer(app))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def private_pg() -> Iterator[EmbeddedPostgres]:
    """A cluster of the test's own, for tests that stop and start the database."""
    server = EmbeddedPostgres()
    server.start()
    _migrate(server.dsn)
    yield server
    server.destroy()


@pytest.fixture(autouse=True)
def _quiet_pool_logs() -> None:
    # psycopg_pool logs every failed reconnect at WARNING; fault tests cause many on purpose
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
