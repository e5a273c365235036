"""A steady refresh confirms the kept history from PostgreSQL's statistics and the newest rows, not
a scan of it (statuspage/db/changes.py), and every kind of change still ends with the published
numbers equal to a plain recomputation: at the next refresh, or, for the one kind the statistics
cannot show, at the next verification (VERIFY_INTERVAL_S). Each fault is made by the engine's own
session (tests/helpers/trades.py: it reports its statistics at once, as a real one does within
seconds), and each count of checks is read from the page's /metrics as an operator reads it."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from statuspage.demo import seed
from statuspage.demo.pgserver import EmbeddedPostgres
from statuspage.jobs.scheduler import refresh_job
from statuspage.state import Runtime

from ..helpers.app import runtime
from ..helpers.history_faults import (
    UNTIL,
    T,
    assert_published,
    corrected,
    deleted,
    history,
    late_trade,
    replace,
    statistics_reset,
    table_statistics_reset,
    truncated_and_refilled,
)
from ..helpers.track_expected import Trade, insert
from ..helpers.trades import EngineSession


def checks(app: Flask) -> dict[str, float]:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return {s.labels["how"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "statuspage_history_checks_total"}


def steady_app(writer: psycopg.Connection, make_app: Callable[..., Flask], trades: list[Trade],
               **env: str) -> tuple[Flask, Runtime]:
    """An app (scheduler off) that has read ``trades`` and confirmed them once from the statistics."""
    insert(writer, trades)
    app = make_app(start_background=False, **env)
    rt = runtime(app)
    refresh_job(rt, T)
    refresh_job(rt, T + timedelta(seconds=1))
    assert_published(rt, trades, T + timedelta(seconds=1))
    assert checks(app) == {"statistics": 1, "scan": 0, "verified_same": 0, "verified_changed": 0}
    return app, rt


@pytest.mark.parametrize("fault", [late_trade, corrected, deleted, truncated_and_refilled, statistics_reset,
                                   table_statistics_reset])
def test_a_change_before_the_daily_range_is_seen_at_the_next_refresh(
        writer: psycopg.Connection, make_app: Callable[..., Flask],
        fault: Callable[[psycopg.Connection, list[Trade]], list[Trade]]) -> None:
    app, rt = steady_app(writer, make_app, history(300))
    now = T + timedelta(seconds=2)
    expected = fault(writer, history(300))
    refresh_job(rt, now)
    assert_published(rt, expected, now)
    assert checks(app)["scan"] == 1  # the statistics showed a possible change: the scan decided


def test_new_trades_and_an_id_that_jumps_are_read_by_index_without_a_scan(
        writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    trades = history(300)
    app, rt = steady_app(writer, make_app, trades)
    newest = max(t.id for t in trades)
    added = [Trade(newest + 1, T - timedelta(minutes=20), Decimal("12.5")),
             Trade(newest + 1_000_000_000, T - timedelta(minutes=10), Decimal("-3.75"))]  # the sequence jumped
    insert(writer, added)
    refresh_job(rt, T + timedelta(seconds=2))
    assert_published(rt, [*trades, *added], T + timedelta(seconds=2))
    insert(writer, [Trade(newest + 1_000_000_001, T - timedelta(minutes=5), Decimal("1"))])
    refresh_job(rt, T + timedelta(seconds=3))
    assert checks(app) == {"statistics": 3, "scan": 0, "verified_same": 0, "verified_changed": 0}
    assert rt.state.snapshot.windows["all"].trades == 303


def hidden_change(writer: psycopg.Connection,
                  make_app: Callable[..., Flask]) -> tuple[Flask, Runtime, list[Trade], Trade]:
    """A steady app (VERIFY_INTERVAL_S 600), then a trade inserted with an id below every id seen and
    closed before the daily range: an insert, so no update or delete counter moves, and not above
    the highest id. docs/numbers.md says the verification sees it."""
    trades = history(300)
    app, rt = steady_app(writer, make_app, trades, VERIFY_INTERVAL_S="600")
    hidden = Trade(-7, T - timedelta(days=100), Decimal("-321.09"), Decimal("0.5"))
    insert(writer, [hidden])
    return app, rt, trades, hidden


def test_what_the_statistics_cannot_show_is_published_at_the_next_verification(
        writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    app, rt, trades, hidden = hidden_change(writer, make_app)
    refresh_job(rt, T + timedelta(seconds=2))
    assert_published(rt, trades, T + timedelta(seconds=2))  # not yet: the documented delay
    assert checks(app)["statistics"] == 2

    due = T + timedelta(seconds=600)  # within one VERIFY_INTERVAL_S of the first read, whatever its phase
    refresh_job(rt, due)
    assert_published(rt, [*trades, hidden], due)
    assert checks(app) == {"statistics": 2, "scan": 0, "verified_same": 0, "verified_changed": 1}

    # the next verification finds nothing new, and the one after it comes within the interval again
    refresh_job(rt, due + timedelta(seconds=600))
    assert checks(app)["verified_same"] == 1
    assert_published(rt, [*trades, hidden], due + timedelta(seconds=600))


def test_a_change_a_verification_finds_in_a_long_history_is_read_whole_before_anything_is_published(
        writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    # The history read again in pieces, one per refresh (as at 10 million trades): until the last
    # piece, the snapshot from before the verification stays served, never the old history anew.
    app, rt, trades, hidden = hidden_change(writer, make_app)
    rt.state.sealed.chunk_rows = rt.state.sealed.track.chunk_rows = 40
    rt.state.sealed.reserve_s = rt.state.sealed.track.reserve_s = math.inf  # every refresh stops after a piece
    due = T + timedelta(seconds=600)
    for step in range(40):
        refresh_job(rt, due + timedelta(seconds=step))
        if rt.state.snapshot.as_of != T + timedelta(seconds=1):
            break
        assert not rt.state.last_refresh_error.startswith("snapshot rejected"), rt.state.last_refresh_error
    assert step > 1  # it took several refreshes
    assert_published(rt, [*trades, hidden], due + timedelta(seconds=step))
    assert checks(app)["verified_changed"] == 1


def test_a_role_that_may_not_read_the_statistics_scans_every_refresh_and_publishes_right(
        private_pg: EmbeddedPostgres, make_app: Callable[..., Flask]) -> None:
    # Every role may read them by default; a server that revokes it must not lose the numbers. The
    # page's own schema on the same server, through the superuser: a fresh guard mark.
    trades = history(120)
    with EngineSession.connect(private_pg.dsn, autocommit=True) as engine:
        seed.create_schema(engine)
        insert(engine, trades)
        engine.execute("CREATE ROLE page_reader LOGIN")
        engine.execute("GRANT SELECT ON closed_trades TO page_reader")
        engine.execute("REVOKE SELECT ON pg_catalog.pg_stat_all_tables FROM PUBLIC")
    reader_dsn = private_pg.dsn.replace("postgres@", "page_reader@", 1)
    app = make_app(reader_dsn, start_background=False, HISTORY_DATABASE_URL=private_pg.dsn)
    rt = runtime(app)
    for second in range(3):
        refresh_job(rt, T + timedelta(seconds=second))
        assert_published(rt, trades, T + timedelta(seconds=second))
    assert checks(app) == {"statistics": 0, "scan": 2, "verified_same": 0, "verified_changed": 0}


def recent(trades: list[Trade]) -> Trade:
    """A trade of a whole day inside the daily range, not today's: one of the days a refresh keeps."""
    return next(t for t in sorted(trades, key=lambda t: t.id)
                if UNTIL + timedelta(days=2) <= t.closed_at < T - timedelta(days=2))


def recent_corrected(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    old = recent(trades)
    writer.execute("UPDATE closed_trades SET pnl = pnl - 55.55 WHERE id = %s", (old.id,))
    return replace(trades, old.id, pnl=old.pnl - Decimal("55.55"))


def recent_fees_corrected(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    old = recent(trades)
    writer.execute("UPDATE closed_trades SET fees = fees + 3 WHERE id = %s", (old.id,))
    return replace(trades, old.id, fees=old.fees + 3)


def recent_deleted(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    old = recent(trades)
    writer.execute("DELETE FROM closed_trades WHERE id = %s", (old.id,))
    return [t for t in trades if t.id != old.id]


def recent_late(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    late = Trade(max(t.id for t in trades) + 1, T - timedelta(days=6, hours=3), Decimal("99.5"), Decimal("0.5"))
    insert(writer, [late])
    return [*trades, late]


def recent_nan(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    old = recent(trades)
    writer.execute("UPDATE closed_trades SET pnl = 'NaN' WHERE id = %s", (old.id,))
    return [t for t in trades if t.id != old.id]  # set aside: in no number


@pytest.mark.parametrize("fault", [recent_corrected, recent_fees_corrected, recent_deleted, recent_late, recent_nan])
def test_a_change_to_a_kept_day_of_the_daily_range_is_seen_at_the_next_refresh(
        writer: psycopg.Connection, stat_statements: psycopg.Connection, make_app: Callable[..., Flask],
        fault: Callable[[psycopg.Connection, list[Trade]], list[Trade]]) -> None:
    _, rt = steady_app(writer, make_app, history(300))
    stat_statements.execute("SELECT pg_stat_statements_reset()")
    refresh_job(rt, T + timedelta(seconds=2))
    # a steady refresh keeps every whole day and hour: it reads the current hour and the two hours
    # where the windows begin, and not even the daily totals of the range
    assert (segments(stat_statements), calls(stat_statements, "generate_series")) == (3, 0)
    expected = fault(writer, history(300))
    stat_statements.execute("SELECT pg_stat_statements_reset()")
    refresh_job(rt, T + timedelta(seconds=3))
    assert_published(rt, expected, T + timedelta(seconds=3))
    # the statistics showed a change: the range's daily totals, the one day that changed again, and
    # what was kept of the last day and hours (today's whole hours, the rest of the windows' first days)
    assert (segments(stat_statements), calls(stat_statements, "generate_series")) == (1 + 3 + 3, 1)


def calls(stats: psycopg.Connection, marker: str) -> int:
    """Calls of the statements whose text holds ``marker`` since the last reset."""
    return stats.execute("SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements WHERE query ILIKE %s",
                         (f"%{marker}%",)).fetchone()[0]


def segments(stats: psycopg.Connection) -> int:
    """Calls of landing_sealed.sql (one segment each) since the last reset."""
    return calls(stats, "max(run - cum)")
