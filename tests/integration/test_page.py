"""The public page and its fragments, as a visitor reads them.

States come from real trades in the real PostgreSQL and the real jobs (``refresh_job``, the
probes) run with an explicit ``now``, or from ``AppState.observe`` for component states a local
test cannot cause. Assertions read the parsed HTML, not template internals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from flask import Flask, template_rendered

from statuspage.demo.pgserver import free_port
from statuspage.formatting import utcnow
from statuspage.jobs.scheduler import probe_database_job, probe_engine_job, probe_local_job, refresh_job
from statuspage.state import Runtime
from statuspage.status import Observation
from statuspage.web.views import FRAGMENTS

from .conftest import add_trade
from .dom import Node, parse
from .helpers import LiveServer

MINUS = "\u2212"


# --- fixtures and drivers ---


@pytest.fixture
def app(writer: psycopg.Connection, make_app: Callable[..., Flask]) -> Flask:
    """The real app on the test database, background jobs off: the test runs them with its own ``now``."""
    return make_app(start_background=False)


def runtime(app: Flask) -> Runtime:
    return app.extensions["statuspage"]


def run_jobs(app: Flask, now: datetime) -> None:
    rt = runtime(app)
    refresh_job(rt, now)
    probe_database_job(rt, now)
    probe_engine_job(rt, now)
    probe_local_job(rt, now)


def page(app: Flask) -> Node:
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return parse(response.data)


def unreachable_dsn() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"


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


# --- component badges and the overall banner ---


@pytest.mark.parametrize(("state", "label", "shape"), [
    ("operational", "Operational", "circle"),
    ("degraded", "Degraded", "path"),
    ("down", "Down", "path"),
    ("unknown", "Unknown", "circle"),
])
def test_each_badge_state_is_said_in_words_shape_and_colour(app: Flask, state: str, label: str, shape: str) -> None:
    rt = runtime(app)
    now = utcnow()
    rt.state.observe("engine", Observation(state, f"public words for {state}"), now - timedelta(minutes=3), confirm=1)

    row = page(app).by_id("component-engine")

    assert row.attrs["data-state"] == state
    badge = row.find(cls="badge")
    assert badge.text == label
    assert f"badge--{state}" in badge.classes  # colour
    icon = badge.find("svg")
    assert f"icon--{state}" in icon.classes and icon.attrs["aria-hidden"] == "true"
    assert icon.children[0].tag == shape
    assert row.find(cls="component__detail").text == f"public words for {state}"


def test_badge_shapes_differ_between_states(app: Flask) -> None:
    rt = runtime(app)
    now = utcnow()
    states = dict(zip(("engine", "metrics", "database", "snapshot"), ("operational", "degraded", "down", "unknown"),
                      strict=True))
    for name, state in states.items():
        rt.state.observe(name, Observation(state, "x"), now, confirm=1)

    doc = page(app)

    def outline(name: str) -> tuple[str, str | None, str | None]:
        shape = doc.by_id(f"component-{name}").find("svg").children[0]
        return shape.tag, shape.attrs.get("class"), shape.attrs.get("d")

    assert len({outline(name) for name in states}) == 4


def test_components_say_how_long_they_have_been_in_their_state(writer: psycopg.Connection, app: Flask) -> None:
    rt = runtime(app)
    since = utcnow() - timedelta(minutes=7)
    rt.state.observe("database", Observation("degraded", "database is slow (400 ms round trip)"), since, confirm=1)

    row = page(app).by_id("component-database")

    age = row.find("time")
    assert age.text == "7 min ago"
    assert age.attrs["datetime"] == age.attrs["data-since"] == f"{since:%Y-%m-%dT%H:%M:%S}Z"
    assert age.attrs["aria-live"] == "off"  # ticks every second inside a live region
    assert row.find(cls="component__name").text == "Database"


@pytest.mark.parametrize(("states", "headline", "level"), [
    ({"database": "operational", "snapshot": "operational"}, "All systems operational", "ok"),
    ({"database": "degraded", "snapshot": "operational"}, "Degraded performance", "warn"),
    ({"engine": "down", "database": "operational", "snapshot": "operational"}, "Partial outage", "partial"),
    ({"database": "down", "snapshot": "down"}, "Major outage", "down"),
])
def test_banner_gives_the_overall_status(writer: psycopg.Connection, app: Flask, states: dict[str, str],
                                         headline: str, level: str) -> None:
    rt = runtime(app)
    now = utcnow()
    run_jobs(app, now)
    for name, state in states.items():
        rt.state.observe(name, Observation(state, "x"), now, confirm=1)

    banner = page(app).by_id("banner").find(cls="banner")

    assert banner.find(cls="banner__headline").text == headline
    assert f"banner--{level}" in banner.classes
    for state in states.values():
        if state != "operational":
            assert f": {state}" in banner.find(cls="banner__detail").text


# --- fragments, caching, polling ---


def test_each_fragment_is_exactly_the_markup_of_its_region_in_the_page(writer: psycopg.Connection,
                                                                       app: Flask) -> None:
    add_trade(writer, 1, utcnow() - timedelta(days=1), "9.99")
    run_jobs(app, utcnow())
    client = app.test_client()

    html = client.get("/").data

    doc = parse(html)
    for name in FRAGMENTS:
        fragment = client.get(f"/fragments/{name}")
        assert fragment.status_code == 200 and fragment.mimetype == "text/html"
        assert fragment.data in html
        assert doc.by_id(name).attrs["data-etag"] == f'"{fragment.headers["ETag"].strip(chr(34))}"'


def test_regions_poll_their_fragment_every_poll_interval(make_app: Callable[..., Flask],
                                                         writer: psycopg.Connection) -> None:
    app = make_app(start_background=False, POLL_INTERVAL_S="7.5")

    doc = page(app)

    for name in FRAGMENTS:
        region = doc.by_id(name)
        assert region.attrs["hx-get"] == f"/fragments/{name}"
        assert region.attrs["hx-trigger"] == "every 7500ms"
        assert region.attrs["aria-live"] == "polite"
    assert "every 7.5 s" in doc.find("footer").text


def test_unchanged_fragment_is_answered_304_without_a_body(writer: psycopg.Connection, app: Flask,
                                                            serve: Callable[[Flask], LiveServer]) -> None:
    add_trade(writer, 1, utcnow() - timedelta(days=1), "3")
    run_jobs(app, utcnow())
    server = serve(app)

    for path in [f"/fragments/{name}" for name in FRAGMENTS] + ["/"]:
        first = server.get(path)
        assert first.status == 200 and first.headers["etag"]
        assert "max-age" in first.headers["cache-control"]
        again = server.get(path, {"If-None-Match": first.headers["etag"]})
        assert again.status == 304, path
        assert again.body == b""
        assert again.headers["etag"] == first.headers["etag"]


def test_a_change_gives_a_new_fragment_and_a_new_etag(writer: psycopg.Connection, app: Flask,
                                                      serve: Callable[[Flask], LiveServer]) -> None:
    now = utcnow()
    add_trade(writer, 1, now - timedelta(days=1), "3")
    run_jobs(app, now)
    server = serve(app)
    before = server.get("/fragments/windows")

    add_trade(writer, 2, now - timedelta(hours=1), "4")
    refresh_job(runtime(app), utcnow())
    after = server.get("/fragments/windows", {"If-None-Match": before.headers["etag"]})

    assert after.status == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert parse(after.body).field("7d", "trades") == "2"


def test_unknown_fragment_is_not_found(app: Flask) -> None:
    client = app.test_client()
    for name in ("nope", "macros", "_macros", "index", "base", "chart"):
        assert client.get(f"/fragments/{name}").status_code == 404
    assert client.get("/fragments/../index.html").status_code == 404


def test_polls_cost_no_template_rendering_until_something_changes(writer: psycopg.Connection,
                                                                  app: Flask) -> None:
    run_jobs(app, utcnow())
    client = app.test_client()
    rendered: list[str] = []

    def record(sender: Flask, template: object, context: dict[str, object], **extra: object) -> None:
        rendered.append(getattr(template, "name", "?"))

    client.get("/")
    for name in FRAGMENTS:
        client.get(f"/fragments/{name}")
    with template_rendered.connected_to(record, app):
        for _ in range(5):
            client.get("/")
            for name in FRAGMENTS:
                client.get(f"/fragments/{name}")
        assert rendered == []
        add_trade(writer, 1, utcnow(), "1")
        refresh_job(runtime(app), utcnow())
        client.get("/fragments/windows")
        assert rendered == ["_windows.html"]


# --- ready for a strict Content-Security-Policy ---


def test_page_has_no_inline_script_style_or_handlers(writer: psycopg.Connection, app: Flask) -> None:
    add_trade(writer, 1, utcnow() - timedelta(days=1), "-3")
    run_jobs(app, utcnow())
    client = app.test_client()
    bodies = {"/": client.get("/").data} | {name: client.get(f"/fragments/{name}").data for name in FRAGMENTS}

    for where, body in bodies.items():
        doc = parse(body)
        assert doc.find("style") is None, where
        for node in doc.iter():
            assert "style" not in node.attrs, (where, node.tag)
            assert not [a for a in node.attrs if a.startswith("on")], (where, node.tag)
            assert not [a for a in node.attrs if a.startswith(("hx-on", "hx-vars", "hx-vals"))], (where, node.tag)
            for value in node.attrs.values():
                assert not (value or "").strip().lower().startswith("javascript:"), where
        for script in doc.find_all("script"):
            assert script.attrs.get("src") and not script.text, where

    scripts = [s.attrs["src"] for s in parse(bodies["/"]).find_all("script")]
    assert scripts == ["/static/htmx-2.0.11.min.js", "/static/page.js"]
    for src in scripts:
        with client.get(src) as response:
            assert response.status_code == 200


def test_htmx_is_configured_for_csp_and_keeps_content_on_304(app: Flask) -> None:
    meta = page(app).find("meta", name="htmx-config")
    config = json.loads(meta.attrs["content"])

    assert config["includeIndicatorStyles"] is False
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    handling = config["responseHandling"]
    first_match = next(rule for rule in handling if re.fullmatch(rule["code"], "304"))
    assert first_match["swap"] is False
    assert next(rule for rule in handling if re.fullmatch(rule["code"], "200"))["swap"] is True


# --- colour ---


def _tokens(css: str, start: int) -> dict[str, str]:
    block = css[start:css.index("}", start)]
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))


def _contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


TEXT_PAIRS = [  # (text colour, background it is set on)
    ("text", "bg"), ("text", "surface"), ("muted", "bg"), ("muted", "surface"), ("link", "bg"),
    ("text", "ok-bg"), ("text", "warn-bg"), ("text", "partial-bg"), ("text", "down-bg"), ("text", "waiting-bg"),
    ("ok", "ok-bg"), ("warn", "warn-bg"), ("down", "down-bg"), ("unknown", "unknown-bg"),
    ("pos", "surface"), ("neg", "surface"), ("toast-text", "toast-bg"),
]
GRAPHIC_PAIRS = [  # icons: shape on its background, mark on its shape (WCAG 1.4.11: 3:1)
    ("partial", "partial-bg"), ("waiting", "waiting-bg"), ("mark", "ok"), ("mark", "warn"), ("mark", "down"),
    ("mark", "partial"), ("mark", "waiting"), ("chart-line", "surface"), ("pos", "surface"), ("neg", "surface"),
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_colour_tokens_meet_wcag_aa_in_both_schemes(scheme: str) -> None:
    css = (Path(__file__).resolve().parent.parent / "static" / "style.css").read_text()
    tokens = _tokens(css, css.index(":root {"))
    if scheme == "dark":
        tokens |= _tokens(css, css.index("@media (prefers-color-scheme: dark)"))
    low_text = [(f, b, round(_contrast(tokens[f], tokens[b]), 2)) for f, b in TEXT_PAIRS
                if _contrast(tokens[f], tokens[b]) < 4.5]
    low_graphics = [(f, b, round(_contrast(tokens[f], tokens[b]), 2)) for f, b in GRAPHIC_PAIRS
                    if _contrast(tokens[f], tokens[b]) < 3]
    assert low_text == [] and low_graphics == []
