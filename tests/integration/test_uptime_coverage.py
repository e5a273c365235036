"""Uptime says how much it observed, and never more: coverage per window and day against a plain
recomputation from the same samples, written and read through the real history tables; when
history began; and a degraded engine (it cannot trade) counted as unavailable."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from statuspage import history
from statuspage.vocabulary import DEGRADED, DOWN, OPERATIONAL, UNKNOWN

from ..helpers.dom import parse
from ..helpers.trades import utc

NAMES = ["engine", "metrics", "database", "snapshot"]


def write(conn: psycopg.Connection, samples: dict[str, list[tuple[datetime, str]]], now: datetime) -> None:
    """Through the leader's own write path: samples, then the rollups of every day they touch."""
    by_minute: dict[datetime, dict[str, str]] = {}
    for name, rows in samples.items():
        for minute, state in rows:
            by_minute.setdefault(minute, {})[name] = state
    history.record(conn, {}, now, "test", samples=by_minute)


def test_seven_minutes_of_history_say_so_in_every_window(hist, make_app, writer) -> None:
    """The reported case: history that began at 23:04 showed one figure for 24 h to 90 d and a
    "began" of midnight. Now each window says it saw six minutes, and began is 23:04."""
    now = utc(2026, 4, 30, 23, 10, 30)
    minutes = [utc(2026, 4, 30, 23, 4) + timedelta(minutes=i) for i in range(6)]
    states = [OPERATIONAL] * 3 + [DOWN] + [OPERATIONAL] * 2
    write(hist, {name: list(zip(minutes, states, strict=True)) for name in NAMES}, now)

    app = make_app(start_background=False)
    rt = app.extensions["statuspage"]
    rt.state.publish_history(history.read(hist, NAMES, now))
    body = app.test_client().get("/history.json").get_json()
    assert body["began"] == "2026-04-30T23:04:00Z"
    database = body["components"]["database"]
    assert database["uptime_percent"] == {w: pytest.approx(83.333, abs=0.001) for w in ("24h", "7d", "30d", "90d")}
    assert database["coverage_minutes"] == {"24h": 6, "7d": 6, "30d": 6, "90d": 6}
    today = 23 * 60 + 10 + 1  # minutes begun since midnight, up to 23:10:30
    assert database["window_minutes"] == {"24h": 1440, "7d": 6 * 1440 + today, "30d": 29 * 1440 + today,
                                          "90d": 89 * 1440 + today}
    assert database["days"][-1]["coverage_minutes"] == 6 and database["days"][-2]["coverage_minutes"] == 0

    doc = parse(app.test_client().get("/").get_data(as_text=True))
    shown = [dd.text.strip() for dd in doc.by_id("history-database").find_all("dd")]
    assert shown == ["83.33 % (6 min observed)"] * 4
    tip = doc.by_id("history-database").find_all("li", cls="bar")[-1].attrs["data-tip"]
    assert tip == "2026-04-30: 83.33 % up (6 min observed), 1 min down"


def expected(rows: list[tuple[datetime, str]], name: str, now: datetime, window: str) -> tuple[float | None, int, int]:
    """(uptime, minutes observed, minutes in the window so far), computed plainly from the samples."""
    if window == "24h":
        start, span = now - timedelta(hours=24), 1440

        def inside(minute: datetime) -> bool:
            return start < minute <= now
    else:
        days = int(window.removesuffix("d"))
        start = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), UTC)
        span = int((now - start).total_seconds() // 60) + 1

        def inside(minute: datetime) -> bool:
            return start <= minute <= now
    known = [state for minute, state in rows if inside(minute) and state != UNKNOWN]
    up = [s for s in known if s == OPERATIONAL or (s == DEGRADED and name != "engine")]
    return (len(up) / len(known) if known else None), len(known), span


def test_uptime_and_coverage_match_a_plain_recomputation(hist) -> None:
    rng = random.Random(16)
    now = utc(2026, 4, 30, 9, 41, 17)
    samples: dict[str, list[tuple[datetime, str]]] = {}
    for name in NAMES:
        rows, minute = [], utc(2026, 4, 22, 20, 0)
        while minute <= now:
            if rng.random() < 0.02:  # the page was not running for a while: no samples at all
                minute += timedelta(minutes=rng.randint(30, 600))
                continue
            rows.append((minute, rng.choices([OPERATIONAL, DEGRADED, DOWN, UNKNOWN], [90, 5, 3, 2])[0]))
            minute += timedelta(minutes=1)
        samples[name] = [(m, s) for m, s in rows if m <= now]
    write(hist, samples, now)

    h = history.read(hist, NAMES, now)
    public = h.to_public()
    for name in NAMES:
        for window in ("24h", "7d", "30d", "90d"):
            uptime, seen, span = expected(samples[name], name, now, window)
            assert h.coverage[name][window] == (seen, span), (name, window)
            assert h.uptime[name][window] == (pytest.approx(uptime) if uptime is not None else None), (name, window)
            assert public["components"][name]["coverage_minutes"][window] == seen
        for bar in h.bars[name]:
            day_rows = [s for m, s in samples[name] if m.date() == bar.day]
            assert bar.minutes.known == sum(1 for s in day_rows if s != UNKNOWN), (name, bar.day)
    assert h.began == samples["engine"][0][0]
    # not a trivial case: gaps leave windows partly observed, and the windows disagree
    assert all(history.partial(h.coverage[name]["30d"]) for name in NAMES)
    assert len({h.uptime["engine"][window] for window in ("24h", "7d", "30d")}) == 3


def test_a_degraded_engine_counts_as_down_and_its_bar_says_why(hist, make_app, writer) -> None:
    """Engine and database each degraded for 30 of 60 minutes: the engine could not trade (50 %,
    a down-coloured bar); the database was slow but served (100 %, a marked bar)."""
    now = utc(2026, 4, 30, 13, 0, 30)
    minutes = [utc(2026, 4, 30, 12, 0) + timedelta(minutes=i) for i in range(60)]
    half = [OPERATIONAL] * 30 + [DEGRADED] * 30
    write(hist, {"engine": list(zip(minutes, half, strict=True)),
                 "database": list(zip(minutes, half, strict=True))}, now)
    app = make_app(start_background=False)
    app.extensions["statuspage"].state.publish_history(history.read(hist, NAMES, now))

    body = app.test_client().get("/history.json").get_json()["components"]
    assert body["engine"]["uptime_percent"]["24h"] == 50.0
    assert body["database"]["uptime_percent"]["24h"] == 100.0
    doc = parse(app.test_client().get("/").get_data(as_text=True))
    engine_bar = doc.by_id("history-engine").find_all("li", cls="bar")[-1]
    database_bar = doc.by_id("history-database").find_all("li", cls="bar")[-1]
    assert "bar--down" in engine_bar.classes
    assert "30 min degraded (not trading: counted as down)" in engine_bar.attrs["data-tip"]
    assert "bar--degraded" in database_bar.classes
    assert database_bar.attrs["data-tip"].endswith("30 min degraded")
