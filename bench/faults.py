"""The faults the soak puts the page through, on a real embedded PostgreSQL: stopped, frozen by
SIGSTOP, its trades table swapped for an empty one, rows no number may count inserted."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psutil
import psycopg

from statuspage.demo.pgserver import EmbeddedPostgres

SQL_DIR = Path(__file__).resolve().parent / "sql"


def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


@contextlib.contextmanager
def stopped(pg: EmbeddedPostgres) -> Iterator[None]:
    """A clean shutdown (connections closed, new ones refused), started again on the way out."""
    pg.stop()
    try:
        yield
    finally:
        pg.start()


@contextlib.contextmanager
def frozen(pg: EmbeddedPostgres) -> Iterator[list[psutil.Process]]:
    """Every PostgreSQL process SIGSTOPped: the kernel still accepts connections and acknowledges
    packets while nothing answers (a hung host, a paused VM); SIGCONT on the way out. The postmaster
    first, so that it forks no new backend while its children are stopped."""
    postmaster = psutil.Process(int((pg.pgdata / "postmaster.pid").read_text().split()[0]))
    paused = [postmaster]
    try:
        postmaster.send_signal(signal.SIGSTOP)
        for child in postmaster.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                child.send_signal(signal.SIGSTOP)
                paused.append(child)
        yield paused
    finally:
        for process in paused:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def emptied(dsn: str) -> Iterator[None]:
    """``closed_trades`` replaced by an empty copy (same columns, indexes, defaults), then the real
    table put back: an operator rebuilding the table, not a correction. Each swap is one transaction."""
    with psycopg.connect(dsn) as conn:
        conn.execute(_sql("soak_empty_table"))
    try:
        yield
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute(_sql("soak_restore_table"))


def insert_bad_rows(dsn: str, nan_id: int, future_id: int, now: datetime) -> None:
    """One trade with NaN fees closed an hour ago, one closed two days after ``now``."""
    with psycopg.connect(dsn) as conn:
        conn.execute(_sql("soak_bad_rows"), {"nan_id": nan_id, "future_id": future_id, "now": now})
