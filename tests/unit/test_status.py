"""Health decisions, as pure functions of observations and a given time."""

from __future__ import annotations

from datetime import timedelta

from statuspage.formatting import ago
from statuspage.status import (
    Component,
    Observation,
    Scrape,
    advance,
    database_observation,
    engine_observation,
    metrics_observation,
    overall,
    snapshot_observation,
)
from statuspage.vocabulary import DEGRADED, DOWN, OPERATIONAL, UNKNOWN

from ..helpers.trades import utc

NOW = utc(2026, 4, 30, 14, 30)


def test_first_result_is_taken_at_once_then_changes_need_confirmation() -> None:
    c = Component("database", since=NOW)
    c = advance(c, Observation(OPERATIONAL, "round trip 2 ms"), NOW, confirm=2)
    assert (c.state, c.since) == (OPERATIONAL, NOW)
    t1, t2, t3 = (NOW + timedelta(seconds=15 * i) for i in (1, 2, 3))
    c = advance(c, Observation(DOWN, "database is not reachable"), t1, confirm=2)
    assert c.state == OPERATIONAL and c.checked_at == t1  # one bad probe is not an outage
    c = advance(c, Observation(DOWN, "database is not reachable"), t2, confirm=2)
    assert (c.state, c.since, c.detail) == (DOWN, t2, "database is not reachable")
    c = advance(c, Observation(OPERATIONAL, "ok"), t3, confirm=2)
    assert c.state == DOWN


def test_alternating_results_never_flap() -> None:
    c = advance(Component("engine", since=NOW), Observation(OPERATIONAL, "ok"), NOW, confirm=2)
    for i in range(1, 10):
        state = DEGRADED if i % 2 else OPERATIONAL
        c = advance(c, Observation(state, state), NOW + timedelta(seconds=i), confirm=2)
        assert c.state == OPERATIONAL and c.since == NOW


def test_metrics_badge_follows_the_scrape() -> None:
    assert metrics_observation(None).state == UNKNOWN
    assert metrics_observation(Scrape(ok=False, latency_ms=3000, error="timed out")).state == DOWN
    assert metrics_observation(Scrape(ok=False, latency_ms=1, error="HTTP 500")).operator_detail == "HTTP 500"
    assert metrics_observation(Scrape(ok=True, latency_ms=4, db_connected=0, last_tick=0)).state == OPERATIONAL


def test_engine_is_degraded_when_alive_but_disconnected_or_stalled() -> None:
    fresh = NOW.timestamp() - 10
    ok = engine_observation(Scrape(True, 5, db_connected=1, last_tick=fresh), NOW, 120, NOW - timedelta(minutes=3))
    assert ok.state == OPERATIONAL and ok.detail == "last tick 10 s ago; last trade 3 min ago"
    # the incident's exact state: the metrics thread answers, the main loop has no database
    no_db = engine_observation(Scrape(True, 5, db_connected=0, last_tick=fresh), NOW, 120, None)
    assert (no_db.state, no_db.detail) == (DEGRADED, "engine reports no database connection")
    stale = engine_observation(Scrape(True, 5, db_connected=1, last_tick=NOW.timestamp() - 240), NOW, 120, None)
    assert (stale.state, stale.detail) == (DEGRADED, "main loop stalled, last tick 4 min ago")
    missing = engine_observation(Scrape(True, 5), NOW, 120, None)
    assert missing.state == DEGRADED
    assert engine_observation(Scrape(False, 5, error="refused"), NOW, 120, None).state == DOWN
    assert engine_observation(None, NOW, 120, None).state == UNKNOWN


def test_database_badge_by_round_trip() -> None:
    assert database_observation(12.0, "", 250).state == OPERATIONAL
    assert database_observation(400.0, "", 250).state == DEGRADED
    down = database_observation(None, "OperationalError: connection refused to 10.0.0.5", 250)
    assert down.state == DOWN and "10.0.0.5" not in down.detail and "10.0.0.5" in down.operator_detail


def test_snapshot_badge_by_age() -> None:
    assert snapshot_observation(None, NOW, 180).state == DOWN
    assert snapshot_observation(NOW - timedelta(seconds=179), NOW, 180).state == OPERATIONAL
    old = snapshot_observation(NOW - timedelta(seconds=300), NOW, 180)
    assert (old.state, old.detail) == (DEGRADED, "serving the last good data, read 5 min ago")


def test_overall_rule() -> None:
    all_ok = {"engine": OPERATIONAL, "metrics": OPERATIONAL, "database": OPERATIONAL, "snapshot": OPERATIONAL}
    assert overall(all_ok) == "operational"
    assert overall({**all_ok, "engine": UNKNOWN, "metrics": UNKNOWN}) == "operational"
    assert overall({**all_ok, "engine": DEGRADED}) == "degraded"
    assert overall({**all_ok, "database": DOWN, "snapshot": DEGRADED}) == "partial outage"
    assert overall({**all_ok, "snapshot": DOWN}) == "major outage"
    assert overall({"engine": DOWN, "metrics": DOWN, "database": DOWN, "snapshot": DEGRADED}) == "partial outage"
    assert overall({"engine": UNKNOWN, "metrics": UNKNOWN, "database": DOWN, "snapshot": DOWN}) == "major outage"


def test_ages_read_naturally() -> None:
    assert [ago(s) for s in (0, 12, 119, 240, 7199, 10800, 200000)] == \
        ["0 s ago", "12 s ago", "119 s ago", "4 min ago", "119 min ago", "3 h ago", "2 d ago"]
