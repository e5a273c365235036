"""Rows that cannot be counted are set aside, counted and shown to operators; the rest is published.

NaN and infinite amounts (the engine's numeric columns allow them), amounts no trade can have, and
trades dated in the future, written by a real engine connection into the real table. Expected
numbers are a plain recomputation in Python over the good rows the test wrote.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
import pytest
from flask import Flask

from statuspage.db import FUTURE_TOLERANCE
from statuspage.formatting import utcnow
from statuspage.jobs.scheduler import probe_local_job, refresh_job
from statuspage.snapshot import EXCLUSION_REASONS, SealedCache, refresh_once
from statuspage.state import Runtime
from statuspage.web.views import render_check

from ..helpers import ROOT
from ..helpers.dom import parse
from ..helpers.http import LiveServer
from ..helpers.trades import utc

TOKEN = "ops-token-0123456789-abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
T = utc(2026, 4, 30, 14, 30)


def insert(conn: psycopg.Connection, trade_id: int, closed_at: datetime | str, pnl: str, fees: str = "0") -> None:
    """A trade as the engine writes it; amounts as text so that 'NaN' and 'Infinity' get through."""
    conn.execute(
        "INSERT INTO closed_trades (id, symbol, side, qty, entry_price, exit_price, pnl, fees, opened_at, closed_at)"
        " VALUES (%s, 'BTC-USD', 'long', 1, 100, 101, %s::numeric, %s::numeric, %s::timestamptz, %s::timestamptz)",
        (trade_id, pnl, fees, closed_at if isinstance(closed_at, str) else closed_at - timedelta(hours=1), closed_at))


def unconstrained(conn: psycopg.Connection) -> None:
    """An engine whose amounts are plain ``numeric``: it can store Infinity and any size (PG 14+)."""
    conn.execute("ALTER TABLE closed_trades ALTER COLUMN pnl TYPE numeric, ALTER COLUMN fees TYPE numeric")


def money(value: Decimal) -> str:
    cents = int((abs(value) * 100).to_integral_value(rounding=ROUND_HALF_UP))
    return f"{'-' if value < 0 and cents else ''}{cents // 100}.{cents % 100:02d}"


def expected_window(rows: list[tuple[int, datetime, Decimal, Decimal]]) -> dict[str, Any]:
    """The README's definitions, over (id, closed_at, pnl, fees) rows in any order."""
    ordered = sorted(rows, key=lambda r: (r[1], r[0]))
    pnls = [r[2] for r in ordered]
    cumulative = peak = drawdown = Decimal(0)
    for pnl in pnls:
        cumulative += pnl
        peak = max(peak, cumulative)
        drawdown = max(drawdown, peak - cumulative)
    wins, losses = sum(p > 0 for p in pnls), sum(p < 0 for p in pnls)
    gross_loss = -sum((p for p in pnls if p < 0), Decimal(0))
    return {"trades": len(pnls), "wins": wins, "losses": losses, "win_rate": wins / len(pnls) if pnls else None,
            "pnl": money(sum(pnls, Decimal(0))), "fees": money(sum((r[3] for r in ordered), Decimal(0))),
            "best_trade": money(max(pnls)) if pnls else None, "worst_trade": money(min(pnls)) if pnls else None,
            "profit_factor": float(sum((p for p in pnls if p > 0), Decimal(0)) / gross_loss) if losses else None,
            "max_drawdown": money(drawdown)}


def runtime(app: Flask) -> Runtime:
    return app.extensions["statuspage"]


def snapshot_component(client: Any) -> dict[str, Any]:
    return next(c for c in client.get("/status.json").get_json()["components"] if c["name"] == "snapshot")


# Good trades on both sides of every window edge and of the daily range: (id, age in days, pnl, fees).
GOOD = [(1, 0.5, "12.50", "0.25"), (2, 3, "-4.125", "0.10"), (3, 10, "7", "0.50"), (4, 45, "-30", "1"),
        (5, 400, "100.005", "2")]


def write_good(conn: psycopg.Connection, now: datetime) -> list[tuple[int, datetime, Decimal, Decimal]]:
    rows = [(i, now - timedelta(days=age), Decimal(pnl), Decimal(fees)) for i, age, pnl, fees in GOOD]
    for i, closed_at, pnl, fees in rows:
        insert(conn, i, closed_at, str(pnl), str(fees))
    return rows


def test_non_finite_and_impossible_amounts_are_set_aside_and_the_rest_is_published(
        writer: psycopg.Connection, make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> None:
    unconstrained(writer)
    now = utcnow()
    good = write_good(writer, now)
    bad = {  # id: (age in days, pnl, fees, reason)
        101: (1, "5", "NaN", "fees_not_finite"), 102: (50, "5", "Infinity", "fees_not_finite"),
        103: (2, "NaN", "0", "pnl_not_finite"), 104: (80, "-Infinity", "0", "pnl_not_finite"),
        105: (4, "1e30", "0", "pnl_out_of_range"), 106: (200, "1", "2e12", "fees_out_of_range"),
    }
    for trade_id, (age, pnl, fees, _) in bad.items():
        insert(writer, trade_id, now - timedelta(days=age), pnl, fees)
    insert(writer, 107, "-infinity", "3")
    insert(writer, 108, "infinity", "3")
    app = make_app(start_background=False, OPS_TOKEN=TOKEN)
    rt = runtime(app)
    refresh_job(rt, now)
    server = serve(app)

    landing = server.get("/performance/landing")
    assert landing.status == 200
    assert not re.search(r"NaN|Infinity", landing.text)
    windows = landing.json()["windows"]
    for name, days in (("7d", 7), ("30d", 30)):
        assert windows[name] == expected_window([r for r in good if r[1] > now - timedelta(days=days)]), name
    assert windows["all"] == expected_window(good)
    assert landing.json()["daily"][-1]["cum_trades"] == len(good)
    page = server.get("/")
    assert page.status == 200 and "NaN" not in page.text and "Infinity" not in page.text
    assert parse(page.body).field("all", "trades") == "5"
    assert rt.state.snapshot.last_trade_at == good[0][1]  # not the infinite one

    snapshot = next(c for c in server.get("/status.json").json()["components"] if c["name"] == "snapshot")
    assert snapshot["state"] == "degraded"
    assert snapshot["detail"] == "8 trades set aside as invalid; see the operator view"
    ops = server.get("/ops.json", headers=BEARER).json()
    expected = {"fees_not_finite": {"trades": 2, "first_id": 101, "last_id": 102},
                "pnl_not_finite": {"trades": 2, "first_id": 103, "last_id": 104},
                "pnl_out_of_range": {"trades": 1, "first_id": 105, "last_id": 105},
                "fees_out_of_range": {"trades": 1, "first_id": 106, "last_id": 106},
                "closed_at_not_finite": {"trades": 2, "first_id": 107, "last_id": 108}}
    assert ops["snapshot"]["excluded"] == expected
    ops_page = parse(server.get("/ops", headers=BEARER).body)
    assert "pnl_not_finite: 2 (ids 103 to 104)" in ops_page.by_id("ops-excluded").text
    metrics = server.get("/metrics").text
    for reason in EXCLUSION_REASONS:
        count = expected.get(reason, {"trades": 0})["trades"]
        assert f'statuspage_snapshot_excluded_rows{{reason="{reason}"}} {float(count)}' in metrics
    assert 'statuspage_refreshes_total{outcome="ok"} 1.0' in metrics


def test_a_future_dated_trade_is_set_aside_until_it_is_due_and_then_counted(
        writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    good = write_good(writer, T)
    insert(writer, 200, T + timedelta(days=2), "40", "0.5")  # the engine's clock two days ahead
    insert(writer, 201, T + FUTURE_TOLERANCE - timedelta(seconds=2), "1")  # a little skew: counts now
    app = make_app(start_background=False)
    rt = runtime(app)
    client = app.test_client()

    refresh_job(rt, T)
    public = client.get("/performance/landing").get_json()
    skewed = (201, T, Decimal(1), Decimal(0))  # counted as closed now, on today's bar
    assert public["windows"]["all"] == expected_window([*good, skewed])
    today = [r for r in [*good, skewed] if r[1].date() == T.date()]
    assert public["daily"][-1] == {"day": "2026-04-30", "trades": len(today),
                                   "pnl": money(sum((r[2] for r in today), Decimal(0))), "cum_trades": 6,
                                   "cum_pnl": money(sum((r[2] for r in [*good, skewed]), Decimal(0)))}
    assert {k: v.trades for k, v in rt.state.excluded.items()} == {"future_closed_at": 1}
    assert snapshot_component(client)["detail"] == "1 trade set aside as invalid; see the operator view"

    refresh_job(rt, T + timedelta(days=1, hours=12))  # not yet due; the range moved on a day
    assert rt.state.snapshot.windows["all"].trades == 6

    due = T + timedelta(days=2, seconds=1)
    refresh_job(rt, due)
    public = client.get("/performance/landing").get_json()
    rows = [*good, skewed, (200, T + timedelta(days=2), Decimal(40), Decimal("0.5"))]
    for name, days in (("7d", 7), ("30d", 30)):
        assert public["windows"][name] == expected_window([r for r in rows if r[1] > due - timedelta(days=days)])
    assert public["windows"]["all"] == expected_window(rows)
    assert rt.state.excluded == {}
    probe_local_job(rt, due)
    assert snapshot_component(client)["state"] == "operational"
    # the page's cached long history gives what a fresh read gives
    assert rt.state.snapshot.windows == refresh_once(rt.pool, due, 5, SealedCache()).windows


def test_a_trade_dated_far_ahead_counts_correctly_once_it_is_older_than_the_daily_range(
        writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    good = write_good(writer, T)
    ahead = T + timedelta(days=3)
    insert(writer, 300, ahead, "-55", "1")
    app = make_app(start_background=False)
    rt = runtime(app)
    for days in (0, 1, 3, 20, 40):  # due after three days; before the daily range after about thirty more
        now = T + timedelta(days=days, minutes=1)
        refresh_job(rt, now)
        rows = [*good, *([(300, ahead, Decimal(-55), Decimal(1))] if ahead <= now else [])]
        assert rt.state.snapshot.windows["all"] == refresh_once(rt.pool, now, 5, SealedCache()).windows["all"]
        assert app.test_client().get("/performance/landing").get_json()["windows"]["all"] == expected_window(rows)


def test_every_reason_the_sql_gives_is_known_to_the_metrics() -> None:
    text = (ROOT / "statuspage" / "sql" / "trade_fault.sql").read_text()
    assert tuple(re.findall(r"THEN '(\w+)'", text) + re.findall(r"ELSE '(\w+)'", text)) == EXCLUSION_REASONS


# --- rendering before publishing ---


def _with_window(app: Flask, name: str, **changes: Any) -> Any:
    snap = runtime(app).state.snapshot
    windows = {**snap.windows, name: dataclasses.replace(snap.windows[name], **changes)}
    return dataclasses.replace(snap, windows=windows)


def test_a_snapshot_that_cannot_be_rendered_is_never_published(writer: psycopg.Connection,
                                                               make_app: Callable[..., Flask]) -> None:
    write_good(writer, T)
    app = make_app(start_background=False)
    rt = runtime(app)
    refresh_job(rt, T)
    # What a NaN in fees used to become: "fees":"NaN" in the JSON and a 500 on every page view.
    for value in (Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValueError):
            render_check(app, rt, _with_window(app, "all", fees=value), T)
    # A huge but finite amount renders, in full
    huge = _with_window(app, "all", pnl=Decimal("1e30"), best_trade=Decimal("1e30"))
    render_check(app, rt, huge, T)
    assert huge.windows["all"].to_public()["pnl"] == "1000000000000000000000000000000.00"

    # Through the refresh: the engine's column turns integer; the read passes its invariants but
    # its sums are not money. Rejected, counted, the snapshot degraded, ready no more the second time.
    writer.execute("ALTER TABLE closed_trades ALTER COLUMN pnl TYPE integer")
    client = app.test_client()
    before = client.get("/performance/landing").get_json()
    refresh_job(rt, T + timedelta(seconds=1))
    assert client.get("/performance/landing").get_json() == before
    assert "rendering failed" in rt.state.last_refresh_error
    component = snapshot_component(client)
    assert component["state"] == "degraded"
    assert component["detail"].startswith("the latest data failed the page's checks and was not published")
    assert "rendering" not in component["detail"]  # the reason is operator detail
    assert client.get("/readyz").get_json()["checks"]["snapshot_current"] is True  # once may be a race
    refresh_job(rt, T + timedelta(seconds=2))
    assert client.get("/readyz").get_json()["checks"]["snapshot_current"] is False
    assert 'statuspage_refreshes_total{outcome="rejected"} 2.0' in client.get("/metrics").text


def test_the_largest_amounts_the_engine_can_store_are_published_and_fit(writer: psycopg.Connection,
                                                                      make_app: Callable[..., Flask]) -> None:
    amounts = ["999999999999.99999999", "999999999999.99999999", "999999999999.99"]  # numeric(20, 8)'s limit
    for i, pnl in enumerate(amounts, start=1):
        insert(writer, i, T - timedelta(days=i * 20), pnl, "999999999999")
    app = make_app(start_background=False)
    refresh_job(runtime(app), T)
    client = app.test_client()
    public = client.get("/performance/landing").get_json()
    total = sum((Decimal(a) for a in amounts), Decimal(0))
    assert public["windows"]["all"]["pnl"] == money(total) == "2999999999999.99"
    assert public["windows"]["all"]["fees"] == "2999999999997.00"
    assert runtime(app).state.excluded == {}
    page = client.get("/")
    assert page.status_code == 200
    assert parse(page.data).field("all", "pnl") == "+2,999,999,999,999.99 USD"



def test_a_bad_row_written_into_old_history_is_counted_at_once_and_forgotten_once_deleted(
        writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    good = write_good(writer, T)
    app = make_app(start_background=False)
    rt = runtime(app)
    refresh_job(rt, T)
    reads = rt.state.sealed.reads
    insert(writer, 400, T - timedelta(days=200), "NaN")  # back-dated, before the daily range
    refresh_job(rt, T + timedelta(minutes=1))
    assert {k: (v.trades, v.first_id) for k, v in rt.state.excluded.items()} == {"pnl_not_finite": (1, 400)}
    assert rt.state.snapshot.windows["all"] == refresh_once(rt.pool, T, 5, SealedCache()).windows["all"]
    assert app.test_client().get("/performance/landing").get_json()["windows"]["all"] == expected_window(good)
    writer.execute("DELETE FROM closed_trades WHERE id = 400")  # the operator's fix
    refresh_job(rt, T + timedelta(minutes=2))
    assert rt.state.excluded == {}
    probe_local_job(rt, T + timedelta(minutes=2))
    assert snapshot_component(app.test_client())["state"] == "operational"
    assert rt.state.sealed.reads == reads + 2  # read whole each time the rows before the range changed
