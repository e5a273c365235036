"""Fixtures only (helpers live in ``tests/helpers/``): a real PostgreSQL for the whole session
(embedded, or TEST_DATABASE_URL) with clean data per test, the app through its real factory, a real
HTTP server, clusters of a test's own, the simulated engine, gunicorn as in production."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from psycopg_pool import ConnectionPool

from statuspage import create_app
from statuspage.db import migrate
from statuspage.demo import seed
from statuspage.demo.pgserver import EmbeddedPostgres
from statuspage.demo.simengine import SimEngine

from .helpers import gunicorn, opsdata
from .helpers.app import page_pool, settings_for
from .helpers.browser import CHROMIUM, CHROMIUM_ARGS, Tab, chromium_or_skip
from .helpers.http import LiveServer
from .helpers.trades import EngineSession
from .helpers.webhooks import Receiver


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
    with EngineSession.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS closed_trades")
        seed.create_schema(conn)
        conn.execute("TRUNCATE statuspage.state_changes, statuspage.samples, statuspage.daily_rollups, "
                     "statuspage.incidents, statuspage.notifications")
        # the guard's memory: a mark left by another test would hold this test's numbers back
        conn.execute("TRUNCATE statuspage.snapshot_guard, statuspage.snapshot_accepts")
        # the leader's publication of another test would be served by this test's apps
        conn.execute("TRUNCATE statuspage.published_snapshot")
        yield conn


@pytest.fixture
def hist(pg_dsn: str) -> Iterator[psycopg.Connection]:
    """A read-write connection with a freshly migrated, empty statuspage schema."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS statuspage CASCADE")
        migrate.migrate(conn)
        yield conn


@pytest.fixture
def pool(pg_dsn: str) -> Iterator[ConnectionPool]:
    """The page's own read-only pool on the test database, as the page builds it."""
    with page_pool(pg_dsn) as pool:
        yield pool


@pytest.fixture
def stat_statements(pg_dsn: str, writer: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """A connection to read pg_stat_statements (preloaded by the session's embedded PostgreSQL) in
    the test database; the test is skipped on a TEST_DATABASE_URL server without it."""
    try:
        writer.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        writer.execute("SELECT count(*) FROM pg_stat_statements").fetchone()
    except psycopg.Error as exc:  # a TEST_DATABASE_URL server without the preloaded library
        pytest.skip(f"pg_stat_statements is not available: {type(exc).__name__}: {exc}".strip())
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


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
def app(writer: psycopg.Connection, make_app: Callable[..., Flask]) -> Flask:
    """The real app on the test database, background jobs off: the test runs them with its own ``now``."""
    return make_app(start_background=False)


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


@pytest.fixture
def engine() -> Iterator[SimEngine]:
    """The simulated engine's metrics endpoint on 127.0.0.1."""
    with SimEngine() as engine:
        yield engine


@pytest.fixture
def start_gunicorn(tmp_path: Path) -> Iterator[Callable[..., gunicorn.Gunicorn]]:
    """Start ``gunicorn -c gunicorn.conf.py wsgi:app`` in its own process group; whatever still runs
    at the end is stopped, and the group killed if it does not stop."""
    started: list[gunicorn.Gunicorn] = []

    def start(**env: str | None) -> gunicorn.Gunicorn:
        started.append(gunicorn.start(tmp_path, f"gunicorn-{len(started)}", **env))
        return started[-1]

    yield start
    for server in started:
        server.stop()  # SIGTERM, as the platform stops it (it removes its metrics directory)
        # shown by pytest only when the test failed: what the workers said, for a failure seen once in CI
        print(f"--- last lines of {server.err.name} ---", *server.log().splitlines()[-60:], sep="\n")


@pytest.fixture(autouse=True)
def _quiet_pool_logs() -> None:
    # psycopg_pool logs every failed reconnect at WARNING; fault tests cause many on purpose
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)


@pytest.fixture
def ops_db(writer: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """``writer`` with the operator tables empty, and emptied again after the test: an incident or a
    window left behind would change every other test's page."""
    opsdata.truncate(writer)
    yield writer
    opsdata.truncate(writer)


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(script: list[str] | None = None) -> Receiver:
        made.append(Receiver(script))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, once per test module; skipped (or failed, with STATUSPAGE_REQUIRE_BROWSER=1) without it."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                                              timeout=60_000)
        yield chromium
        chromium.close()


@pytest.fixture
def tabs(browser: Any) -> Iterator[Callable[..., Tab]]:
    opened: list[Tab] = []

    def open_tab(server: LiveServer, **options: Any) -> Tab:
        opened.append(Tab(browser, server, **options))
        return opened[-1]

    yield open_tab
    for tab in opened:
        tab.close()
