"""The app under test: short intervals, background jobs run by hand with a given ``now``, the page
as a visitor reads it, every public GET, and the app in a process of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from flask import Flask
from psycopg_pool import ConnectionPool

from statuspage.config import Settings, load_settings
from statuspage.db import make_pool
from statuspage.demo.pgserver import free_port
from statuspage.jobs.scheduler import probe_database_job, probe_engine_job, probe_local_job, refresh_job
from statuspage.state import Runtime
from statuspage.vocabulary import COMPONENTS
from statuspage.web.views import FRAGMENTS

from . import ROOT
from .dom import Node, parse

# Short intervals everywhere in tests; each test overrides what it exercises.
FAST = {"REFRESH_INTERVAL_S": "1", "STALE_AFTER_S": "30", "PROBE_INTERVAL_S": "1", "PROBE_TIMEOUT_S": "0.5",
        "POLL_INTERVAL_S": "1", "DB_CONNECT_TIMEOUT_S": "2"}

# What the page needs to show everything but history: the snapshot and every component.
PAGE_JOBS: tuple[Callable[[Runtime, datetime | None], None], ...] = (
    refresh_job, probe_database_job, probe_engine_job, probe_local_job)


def settings_for(dsn: str, **env: str) -> Settings:
    return load_settings({"DATABASE_URL": dsn, **FAST, **env})


@contextlib.contextmanager
def page_pool(dsn: str) -> Iterator[ConnectionPool]:
    """The page's own read-only pool on ``dsn``, as the page builds it, open and ready; closed after."""
    pool = make_pool(settings_for(dsn))
    pool.wait(timeout=10)
    try:
        yield pool
    finally:
        pool.close()


def runtime(app: Flask) -> Runtime:
    return app.extensions["statuspage"]


def run_jobs(app: Flask, now: datetime, jobs: Sequence[Callable[[Runtime, datetime | None], None]] = PAGE_JOBS,
             *, pool_ready: bool = False) -> Runtime:
    """Run background jobs once each, in order, at ``now``, as the scheduler would; with
    ``pool_ready`` first wait (bounded) for the pool's first connection."""
    rt = runtime(app)
    if pool_ready:
        rt.pool.wait(timeout=10)
    for job in jobs:
        job(rt, now)
    return rt


def page(app: Flask) -> Node:
    """``GET /`` through the test client, parsed."""
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return parse(response.data)


def unreachable_dsn() -> str:
    """A database URL nothing listens on."""
    return f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"


def public_gets(app: Flask) -> list[str]:
    """Every public GET path of the app, arguments filled in: a new route is covered by itself."""
    fillers = {"public.fragment": [{"name": n} for n in FRAGMENTS],
               "public.badge": [{"name": n} for n in ("overall", *COMPONENTS)]}
    paths = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint.startswith("ops.") or rule.endpoint == "static":
                continue
            assert not rule.arguments or rule.endpoint in fillers, f"no arguments known for {rule.rule}"
            for values in fillers.get(rule.endpoint, [{}]):
                paths.append(rule.build(values)[1])
    return paths


def app_process(dsn: str, engine_url: str, **env: str) -> subprocess.Popen:
    """``create_app()`` with its background jobs in a process of its own (its own process group, for
    ``os.killpg``), short intervals, every state change taken at once; ``env`` on top."""
    code = "from statuspage import create_app; import time; create_app(); time.sleep(120)"
    environ = {**os.environ, "DATABASE_URL": dsn, "ENGINE_METRICS_URL": engine_url, "PROBE_INTERVAL_S": "1",
               "PROBE_TIMEOUT_S": "0.5", "REFRESH_INTERVAL_S": "1", "STALE_AFTER_S": "30", "PROBE_CONFIRM": "1",
               **env}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=environ, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def default_sigint() -> None:
    """``preexec_fn`` of a process a test stops with SIGINT, as Ctrl-C does: a suite started in the
    background by a shell without job control ignores SIGINT, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
