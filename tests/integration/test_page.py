"""The public page as a visitor reads it: each window's figures, the chart, the freshness line, and
the stale, waiting and outage states.

States come from real trades in the real PostgreSQL and the real jobs (``refresh_job``, the
probes) run with an explicit ``now``, or from ``AppState.observe`` for component states a local
test cannot cause. Assertions read the parsed HTML, not template internals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import psycopg
from flask import Flask

from statuspage.demo.pgserver import free_port
from statuspage.formatting import utcnow
from statuspage.jobs.scheduler import probe_local_job
from statuspage.status import Observation
from statuspage.web.views import FRAGMENTS

from ..helpers.app import page, run_jobs, runtime, unreachable_dsn
from ..helpers.trades import add_trade

MINUS = "\u2212"


# --- normal state ---


def test_page_shows_each_window_with_its_figures(writer: psycopg.Connection, app: Flask) -> None:
    now = utcnow()
    add_trade(writer, 1, now - timedelta(days=3), "100", fees="2")
    add_trade(writer, 2, now - timedelta(days=2), "-40", fees="1.5")
    add_trade(writer, 3, now - timedelta(days=1), "10", fees="0.5")
    add_trade(writer, 4, now - timedelta(days=20), "50", fees="1")
    add_trade(writer, 5, now - timedelta(days=60), "1234.5", fees="3")
    run_jobs(app, now)

    doc = page(app)

    assert doc.field("7d", "trades") == "3"
    assert doc.field("7d", "pnl") == "+70.00 USD"
    assert doc.field("7d", "win_rate") == "66.7%"
    assert doc.field("7d", "profit_factor") == "2.75"
    assert doc.field("7d", "max_drawdown") == "40.00 USD"
    assert doc.field("7d", "fees") == "4.00 USD"
    assert doc.field("30d", "trades") == "4"
    assert doc.field("30d", "pnl") == "+120.00 USD"
    assert doc.field("all", "trades") == "5"
    assert doc.field("all", "pnl") == "+1,354.50 USD"
    assert [h.text for h in doc.find_all("h3", cls="window__title")] == [
        "7D last 7 days", "30D last 30 days", "All time since the first trade"]


def test_normal_page_has_no_stale_banner_and_says_operational(writer: psycopg.Connection, app: Flask) -> None:
    now = utcnow()
    add_trade(writer, 1, now - timedelta(hours=1), "5")
    run_jobs(app, now)

    doc = page(app)

    assert doc.find(id="stale-banner") is None
    assert "Stale" not in doc.by_id("freshness").text
    assert doc.by_id("banner").find(cls="banner__headline").text == "All systems operational"
    assert doc.find(id="waiting") is None


def test_freshness_line_gives_the_time_the_database_was_read(writer: psycopg.Connection, app: Flask) -> None:
    now = utcnow()
    read_at = now - timedelta(seconds=20)  # older than the page, younger than STALE_AFTER_S (30)
    run_jobs(app, read_at)

    freshness = page(app).by_id("freshness")

    assert freshness.text == f"Data as of {read_at:%H:%M:%S} UTC (20 s ago)"
    stamps = freshness.find_all("time")
    assert {t.attrs["datetime"] for t in stamps} == {f"{read_at:%Y-%m-%dT%H:%M:%S}Z"}
    assert stamps[1].attrs["data-since"] == f"{read_at:%Y-%m-%dT%H:%M:%S}Z"  # kept current by page.js


def test_negative_pnl_reads_as_a_loss_by_sign_arrow_and_colour(writer: psycopg.Connection, app: Flask) -> None:
    now = utcnow()
    add_trade(writer, 1, now - timedelta(days=1), "-1200.25", fees="4")
    add_trade(writer, 2, now - timedelta(days=2), "-34.75", fees="1")
    run_jobs(app, now)

    doc = page(app)

    figure = doc.by_id("window-7d").find(data_field="pnl")
    assert figure.text == f"{MINUS}1,235.00 USD"
    amount = figure.find(cls="amount")
    assert "amount--neg" in amount.classes
    assert amount.find("svg", cls="arrow") is not None
    assert doc.field("7d", "win_rate") == "0.0%"
    assert doc.field("7d", "profit_factor") == "0.00"
    assert "amount--neg" in doc.by_id("chart").find(cls="chart__last").find(cls="amount").classes


def test_positive_and_zero_pnl_have_their_own_treatment(writer: psycopg.Connection, app: Flask) -> None:
    now = utcnow()
    add_trade(writer, 1, now - timedelta(days=40), "25")
    run_jobs(app, now)

    doc = page(app)

    all_time = doc.by_id("window-all").find(data_field="pnl").find(cls="amount")
    assert "amount--pos" in all_time.classes and all_time.text == "+25.00"
    week = doc.by_id("window-7d").find(data_field="pnl").find(cls="amount")
    assert "amount--zero" in week.classes and week.text == "0.00"
    assert week.find("svg") is None


def test_missing_values_show_a_dash(writer: psycopg.Connection, app: Flask) -> None:
    now = utcnow()
    add_trade(writer, 1, now - timedelta(days=40), "25")  # outside 7D and 30D: no trades there
    add_trade(writer, 2, now - timedelta(days=45), "5")  # and all-time has no losses
    run_jobs(app, now)

    doc = page(app)

    for window in ("7d", "30d"):
        assert doc.field(window, "trades") == "0"
        assert doc.field(window, "win_rate") == "—"
        assert doc.field(window, "profit_factor") == "—"
    assert doc.field("all", "win_rate") == "100.0%"
    assert doc.field("all", "profit_factor") == "—"
    assert "None" not in doc.by_id("windows").text


def test_chart_is_inline_svg_with_a_title_and_description(writer: psycopg.Connection, app: Flask) -> None:
    now = utcnow()
    add_trade(writer, 1, now - timedelta(days=10), "80")
    add_trade(writer, 2, now - timedelta(days=5), "-30")
    run_jobs(app, now)

    chart = page(app).by_id("chart")

    svg = chart.find("svg", cls="chart__plot")
    assert svg.attrs["role"] == "img"
    assert svg.attrs["aria-labelledby"] == "chart-title chart-desc"
    today, first = now.date(), now.date() - timedelta(days=29)
    assert svg.find("title").text == f"Cumulative PnL, {first} to {today} (UTC days)"
    desc = svg.find("desc").text
    assert f"+50.00 USD on {today}" in desc and "highest +80.00 USD" in desc
    line = svg.find("path", cls="chart__line")
    assert len(re.findall(r"[ML]", line.attrs["d"])) == 30
    assert chart.find(cls="chart__last").text == "+50.00 USD"


# --- stale and waiting ---


def test_stale_snapshot_shows_the_stale_banner_and_keeps_the_numbers(writer: psycopg.Connection,
                                                                     app: Flask) -> None:
    now = utcnow()
    add_trade(writer, 1, now - timedelta(days=1), "12")
    read_at = now - timedelta(minutes=5)  # STALE_AFTER_S is 30 in tests
    run_jobs(app, read_at)
    probe_local_job(runtime(app), now)  # the freshness check that runs now finds the snapshot old

    doc = page(app)

    stale = doc.by_id("stale-banner")
    assert stale.text.startswith("Stale data.")
    assert "5 min ago" in stale.text and f"{read_at:%Y-%m-%d %H:%M:%S} UTC" in stale.text
    assert "Stale" in doc.by_id("freshness").find(cls="tag").text
    assert doc.field("7d", "trades") == "1"
    assert doc.by_id("component-snapshot").attrs["data-state"] == "degraded"


def test_before_the_first_snapshot_the_page_is_waiting_for_first_data(app: Flask) -> None:
    doc = page(app)

    assert doc.by_id("waiting").text.startswith("Waiting for first data")
    assert doc.find(id="window-7d") is None and doc.find(id="chart") is None
    assert doc.find(id="freshness") is None
    assert doc.by_id("banner").find(cls="banner__headline").text == "Starting up: waiting for first data"


def test_database_down_from_the_start_is_a_major_outage_without_numbers(make_app: Callable[..., Flask]) -> None:
    app = make_app(dsn=unreachable_dsn(), start_background=False, DB_CONNECT_TIMEOUT_S="1", PROBE_CONFIRM="1")
    run_jobs(app, utcnow())

    doc = page(app)

    assert doc.by_id("banner").find(cls="banner__headline").text == "Major outage"
    assert doc.by_id("waiting").text.startswith("Waiting for first data")
    database = doc.by_id("component-database")
    assert database.attrs["data-state"] == "down"
    assert database.find(cls="badge").text == "Down"
    assert database.find(cls="component__detail").text == "database is not reachable"
    snapshot = doc.by_id("component-snapshot")
    assert snapshot.find(cls="component__detail").text == "waiting for the first data"


def test_operator_detail_never_reaches_the_page(make_app: Callable[..., Flask]) -> None:
    port = free_port()
    app = make_app(dsn=f"postgresql://postgres@127.0.0.1:{port}/postgres", start_background=False,
                   DB_CONNECT_TIMEOUT_S="1")
    run_jobs(app, utcnow())
    rt = runtime(app)
    assert rt.state.components["database"].operator_detail  # there is something to leak
    rt.state.observe("engine", Observation("down", "engine is not reachable", "ConnectionRefused secret-host-42"),
                     utcnow(), confirm=1)

    client = app.test_client()
    bodies = [client.get("/").data] + [client.get(f"/fragments/{name}").data for name in FRAGMENTS]

    for body in bodies:
        text = body.decode()
        assert "secret-host-42" not in text
        assert str(port) not in text
        assert rt.state.components["database"].operator_detail not in text
        assert rt.state.last_refresh_error not in text
