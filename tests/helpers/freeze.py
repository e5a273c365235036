"""A PostgreSQL cluster frozen by SIGSTOP: every process stopped, so the kernel still accepts
connections and acknowledges packets while nothing answers (a hung host, a paused VM)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psutil
import psycopg

from statuspage.demo import seed
from statuspage.demo.pgserver import EmbeddedPostgres

from .trades import add_trade


@contextlib.contextmanager
def frozen(pg: EmbeddedPostgres) -> Iterator[list[psutil.Process]]:
    """SIGSTOP the postmaster, then every process under it; SIGCONT all of them on the way out."""
    postmaster = psutil.Process(int((pg.pgdata / "postmaster.pid").read_text().split()[0]))
    stopped = [postmaster]
    try:
        postmaster.send_signal(signal.SIGSTOP)  # first: a stopped postmaster forks no new backend
        for child in postmaster.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                child.send_signal(signal.SIGSTOP)
                stopped.append(child)
        yield stopped
    finally:
        for process in stopped:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)


def prepare(pg: EmbeddedPostgres, trades: int = 3) -> None:
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        seed.create_schema(conn)
        now = datetime.now(UTC)
        for i in range(1, trades + 1):
            add_trade(conn, i, now - timedelta(hours=i), "10")
