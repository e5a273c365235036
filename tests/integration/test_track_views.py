"""The track record over HTTP, as a client and a visitor see it: the JSON and CSV endpoints against
the plain recomputation, their ETags and 304s, their answers before the first snapshot, the page's
sections, the equity chart's range switch (htmx and plain links) and its reduction of long
histories."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest
import schemathesis
from flask import Flask
from schemathesis.checks import not_a_server_error

from statuspage.demo.pgserver import free_port
from statuspage.formatting import utc_iso, utcnow
from statuspage.jobs.scheduler import refresh_job
from statuspage.state import Runtime
from statuspage.track import EquityDay
from statuspage.web.equity_chart import BUCKETS, RANGES, bucket_of, equity_chart, reduce_extremes

from ..helpers.dom import parse
from ..helpers.http import LiveServer
from ..helpers.track_expected import Trade, expected_csv, expected_equity, expected_track, insert
from ..helpers.wait import wait_until

TRACK, EQUITY, CSV = "/performance/track-record.json", "/performance/equity.json", "/performance/daily.csv"


def runtime(app: Flask) -> Runtime:
    return app.extensions["statuspage"]


def some_trades() -> list[Trade]:
    now = utcnow()
    return [Trade(i, now - timedelta(days=i * 2.5, hours=i), Decimal((i * 37) % 200 - 90) / 4,
                  Decimal("0.25"), ("BTC-USD", "ETH-USD", "")[i % 3], ("long", "short")[i % 2])
            for i in range(1, 120)]


@pytest.fixture
def served(writer: psycopg.Connection, make_app: Callable[..., Flask],
           serve: Callable[[Flask], LiveServer]) -> tuple[LiveServer, list[Trade]]:
    trades = some_trades()
    insert(writer, trades)
    app = make_app(start_background=False)
    refresh_job(runtime(app))
    return serve(app), trades


def test_track_record_json_is_the_plain_recomputation_at_the_landing_snapshot(
        served: tuple[LiveServer, list[Trade]]) -> None:
    server, trades = served
    snap = runtime(server.app).state.snapshot
    assert snap is not None
    reply = server.get(TRACK)
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["as_of"] == server.get("/performance/landing").json()["as_of"] == utc_iso(snap.as_of)
    assert body == expected_track(trades, snap.as_of)
    assert body["drawdowns"][0]["depth"] == server.get("/performance/landing").json()["windows"]["all"]["max_drawdown"]


def test_equity_json_and_daily_csv_have_every_day_since_the_first_trade(
        served: tuple[LiveServer, list[Trade]]) -> None:
    server, trades = served
    snap = runtime(server.app).state.snapshot
    assert snap is not None
    equity = server.get(EQUITY).json()
    assert equity["as_of"] == utc_iso(snap.as_of) and equity["currency"] == "USD" and equity["stale"] is False
    assert equity["days"] == expected_equity(trades, snap.as_of)

    reply = server.get(CSV)
    assert reply.status == 200 and reply.headers["content-type"] == "text/csv; charset=utf-8"
    assert reply.headers["content-disposition"] == (
        f'attachment; filename="track-record-daily-{snap.as_of.date().isoformat()}.csv"')
    assert reply.text == expected_csv(trades, snap.as_of)
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert rows[0]["day"] == min(t.closed_at for t in trades).date().isoformat()
    assert [r["day"] for r in rows] == [d["day"] for d in equity["days"]]


@pytest.mark.parametrize("path", [TRACK, EQUITY, CSV])
def test_unchanged_answers_are_304_and_a_new_trade_changes_the_tag(
        served: tuple[LiveServer, list[Trade]], writer: psycopg.Connection, path: str) -> None:
    server, _ = served
    first = server.get(path)
    assert first.status == 200 and re.fullmatch(r'"[0-9a-f]{24}"', first.headers["etag"])
    again = server.get(path, {"If-None-Match": first.headers["etag"]})
    assert again.status == 304 and again.body == b"" and again.headers["etag"] == first.headers["etag"]

    insert(writer, [Trade(10_000, utcnow(), Decimal("3.5"))])
    refresh_job(runtime(server.app))
    after = server.get(path, {"If-None-Match": first.headers["etag"]})
    assert after.status == 200 and after.headers["etag"] != first.headers["etag"]


def test_before_the_first_snapshot_each_endpoint_says_so_as_documented(make_app: Callable[..., Flask],
                                                                       serve: Callable[[Flask], LiveServer]) -> None:
    server = serve(make_app(dsn=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"))
    wait_until(lambda: "refresh" in runtime(server.app).state.job_runs, timeout=20, what="a failed first refresh")
    api = schemathesis.openapi.from_url(server.url + "/openapi.json")
    for path in (TRACK, EQUITY, CSV):
        reply = server.get(path)
        assert reply.status == 503 and reply.json() == {
            "error": "no track record yet: the page has not completed its first read of the database"}
        response = api[path]["GET"].Case().call_and_validate(excluded_checks=[not_a_server_error])
        assert response.status_code == 503


# --- the page ---


def test_the_page_shows_the_track_record(served: tuple[LiveServer, list[Trade]]) -> None:
    server, trades = served
    snap = runtime(server.app).state.snapshot
    assert snap is not None
    doc = parse(server.get("/").body)
    expected = expected_track(trades, snap.as_of)
    month = expected["months"][-2]
    cell = doc.find("td", **{"data-month": month["month"]})
    assert cell is not None and cell.text == (f"+{month['pnl']}" if Decimal(month["pnl"]) > 0 else
                                              month["pnl"].replace("-", "\u2212"))
    year = doc.by_id(f"year-{snap.as_of.year}")
    assert len(year.find_all("td")) == 13  # twelve months and the total
    assert len(doc.by_id("drawdowns").find("tbody").find_all("tr")) == len(expected["drawdowns"])
    assert "no symbol" in doc.by_id("by-symbol").text  # the trades with an empty symbol
    assert [th.text for th in doc.by_id("by-side").find("tbody").find_all("th")] == [
        r["side"].capitalize() for r in expected["by_side"]]
    stats = doc.by_id("statistics")
    assert stats.find("td", **{"data-stat": "expectancy-all"}).text.replace("\u2212", "-").lstrip("+") == (
        expected["stats"]["all"]["expectancy"])
    assert doc.by_id("equity-chart").find("svg", cls="underwater__plot") is not None


def test_the_range_switch_works_with_plain_links_and_with_htmx(served: tuple[LiveServer, list[Trade]]) -> None:
    server, _ = served
    doc = parse(server.get("/").body)
    links = doc.by_id("equity").find_all("a", cls="range__link")
    assert [a.text for a in links] == [label for label, _ in RANGES.values()]
    for a, key in zip(links, RANGES, strict=True):
        assert a.attrs["href"] == f"/?range={key}#equity"  # without JavaScript: the page with that range
        assert a.attrs["hx-get"] == f"/fragments/equity?range={key}" and a.attrs["hx-target"] == "#equity"
    assert [a.attrs.get("aria-current") for a in links] == [None, None, None, "true"]  # all by default
    region = doc.by_id("equity")
    assert region.attrs["hx-include"] == "#equity-range"  # each poll keeps the chosen range
    assert doc.by_id("equity-range").attrs["value"] == "all"

    for key in RANGES:
        page = server.get(f"/?range={key}")
        fragment = server.get(f"/fragments/equity?range={key}")
        assert page.status == fragment.status == 200
        assert fragment.body in page.body  # the swapped region is the one the plain link shows
        current = parse(fragment.body).find("a", **{"aria-current": "true"})
        assert current is not None and current.attrs["id"] == f"range-{key}"
        assert parse(page.body).by_id("equity").attrs["data-etag"] == fragment.headers["etag"]
        assert server.get(f"/fragments/equity?range={key}", {"If-None-Match": fragment.headers["etag"]}).status == 304


@pytest.mark.parametrize("path", ["/?range=5y", "/fragments/equity?range=", "/fragments/equity?range=ALL"])
def test_an_unknown_range_gets_one_clear_line(served: tuple[LiveServer, list[Trade]], path: str) -> None:
    server, _ = served
    reply = server.get(path)
    assert reply.status == 400 and reply.headers["content-type"].startswith("text/plain")
    assert reply.text == "range must be one of 30d, 90d, 1y, all\n"


def test_the_range_chooses_the_days_drawn(served: tuple[LiveServer, list[Trade]]) -> None:
    server, _ = served
    track = runtime(server.app).state.snapshot.track
    today = track.as_of.date()
    for key, (_, span) in RANGES.items():
        chart = equity_chart(track.equity, key, today)
        first = track.equity[0].day if span is None else max(track.equity[0].day, today - timedelta(days=span - 1))
        assert (chart.first_day, chart.last_day, chart.days) == (first, today, (today - first).days + 1)


# --- reducing a long history for drawing ---


def walk(days: int) -> list[EquityDay]:
    out, cum, best = [], Decimal(0), Decimal(0)
    for i in range(days):
        pnl = Decimal((i * 7919) % 201 - 100) + (Decimal(500) if i % 97 == 0 else 0)
        cum += pnl
        best = max(best, cum)
        out.append(EquityDay(date(2020, 1, 1) + timedelta(days=i), 1, pnl, Decimal(0), i + 1, cum, cum - best))
    return out


@pytest.mark.parametrize("days", [1, 2, 299, 300, 301, 1_000, 3_653])
def test_the_reduction_keeps_each_buckets_peak_and_trough(days: int) -> None:
    equity = walk(days)
    cums, drawdowns = [d.cum_pnl for d in equity], [d.drawdown for d in equity]
    kept = reduce_extremes([cums, drawdowns])
    assert kept == sorted(set(kept)) and kept[0] == 0 and kept[-1] == days - 1
    if days <= 2 * BUCKETS:
        assert kept == list(range(days))  # short histories are drawn whole
        return
    assert len(kept) <= 4 * BUCKETS
    buckets: dict[int, list[int]] = {}
    for i in range(days):
        buckets.setdefault(bucket_of(i, days), []).append(i)
    assert len(buckets) == BUCKETS
    for members in buckets.values():
        drawn = [i for i in kept if i in members]
        for values in (cums, drawdowns):
            assert max(values[i] for i in drawn) == max(values[i] for i in members)
            assert min(values[i] for i in drawn) == min(values[i] for i in members)


def test_both_charts_draw_the_same_days_at_the_same_x() -> None:
    equity = walk(1_000)
    chart = equity_chart(equity, "all", equity[-1].day)
    assert chart is not None and chart.drawn <= 4 * BUCKETS < chart.days

    def xs(path: str) -> list[str]:
        return re.findall(r"[ML](-?[\d.]+),", path)

    assert xs(chart.equity.line) == xs(chart.underwater.line) and len(xs(chart.equity.line)) == chart.drawn
    assert chart.equity.high == max(d.cum_pnl for d in equity) and chart.equity.low == min(d.cum_pnl for d in equity)
    assert chart.underwater.low == min(d.drawdown for d in equity)  # the deepest day is drawn


def test_odd_rows_are_counted_in_the_operator_view_and_a_metric(writer: psycopg.Connection,
                                                                make_app: Callable[..., Flask],
                                                                serve: Callable[[Flask], LiveServer]) -> None:
    now = utcnow()
    insert(writer, [
        Trade(1, now - timedelta(days=3), Decimal("4"), opened_at=now - timedelta(days=2)),  # closed before opened
        Trade(2, now - timedelta(days=2), Decimal("-1"), qty=Decimal(0)),
        Trade(3, now - timedelta(days=1), Decimal("2"), qty=Decimal(-3), symbol=""),
        Trade(4, now - timedelta(hours=1), Decimal("1")),
    ])
    token = "o" * 32
    app = make_app(start_background=False, OPS_TOKEN=token)
    refresh_job(runtime(app))
    server = serve(app)

    ops = server.get("/ops.json", {"Authorization": f"Bearer {token}"}).json()
    assert ops["track_odd_trades"] == {"closed_before_opened": 1, "no_volume": 2, "blank_symbol": 1}
    page = parse(server.get("/ops", {"Authorization": f"Bearer {token}"}).body)
    assert page.by_id("ops-track-odd").text.startswith("1 closed before opened")
    metrics = server.get("/metrics").text
    for kind, count in (("closed_before_opened", 1), ("no_volume", 2), ("blank_symbol", 1)):
        assert f'statuspage_track_odd_trades{{kind="{kind}"}} {count:.1f}' in metrics
    # and the public answers still count all four
    assert server.get(TRACK).json()["stats"]["all"]["trades"] == 4
