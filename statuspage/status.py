"""Health decisions as pure functions of observations and ``now``: component states, debounce,
overall status and the meaning of each health endpoint. No I/O here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from .formatting import ago, utc_iso
from .vocabulary import DEGRADED, DOWN, MAINTENANCE, OPERATIONAL, UNKNOWN, Overall


@dataclass(frozen=True)
class Observation:
    """One probe result: the state it points to, and what may be said about it."""

    state: str
    detail: str  # public-safe
    operator_detail: str = ""  # error text, hosts: never public
    latency_ms: float | None = None


@dataclass(frozen=True)
class Component:
    name: str
    state: str = UNKNOWN
    since: datetime | None = None
    checked_at: datetime | None = None
    latency_ms: float | None = None
    detail: str = "not checked yet"
    operator_detail: str = ""
    pending_state: str | None = None  # a different result seen, not yet confirmed
    pending_count: int = 0

    def to_public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "state": self.state,
            "since": utc_iso(self.since) if self.since else None,
            "checked_at": utc_iso(self.checked_at) if self.checked_at else None,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "detail": self.detail,
        }


def advance(current: Component, obs: Observation, now: datetime, confirm: int) -> Component:
    """Apply one observation. A new state takes effect after ``confirm`` agreeing results in a row,
    except the very first result, which is taken at once (no one should wait to learn the state)."""
    measured = dataclasses.replace(current, checked_at=now, latency_ms=obs.latency_ms)
    if obs.state == current.state:
        return dataclasses.replace(measured, detail=obs.detail, operator_detail=obs.operator_detail,
                                   pending_state=None, pending_count=0)
    count = current.pending_count + 1 if current.pending_state == obs.state else 1
    if current.checked_at is None or count >= confirm:
        return dataclasses.replace(measured, state=obs.state, since=now, detail=obs.detail,
                                   operator_detail=obs.operator_detail, pending_state=None, pending_count=0)
    return dataclasses.replace(measured, pending_state=obs.state, pending_count=count)


# --- what each probe result means ---


@dataclass(frozen=True)
class Scrape:
    """The engine's metrics endpoint, as the probe found it."""

    ok: bool  # answered 200 with parseable Prometheus text
    latency_ms: float
    error: str = ""  # operator detail when not ok
    db_connected: float | None = None
    last_tick: float | None = None  # Unix seconds


def metrics_observation(scrape: Scrape | None) -> Observation:
    if scrape is None:
        return Observation(UNKNOWN, "ENGINE_METRICS_URL is not configured")
    if not scrape.ok:
        return Observation(DOWN, "engine metrics endpoint is not answering correctly",
                           scrape.error, scrape.latency_ms)
    return Observation(OPERATIONAL, "engine metrics endpoint answering", latency_ms=scrape.latency_ms)


def engine_observation(scrape: Scrape | None, now: datetime, stale_after_s: float,
                       last_trade_at: datetime | None) -> Observation:
    context = f"; last trade {ago((now - last_trade_at).total_seconds())}" if last_trade_at else ""
    if scrape is None:
        return Observation(UNKNOWN, "ENGINE_METRICS_URL is not configured" + context)
    if not scrape.ok:
        return Observation(DOWN, "engine is not reachable" + context, scrape.error, scrape.latency_ms)
    problems = []
    if scrape.db_connected != 1:
        problems.append("engine reports no database connection" if scrape.db_connected == 0
                        else "engine does not report its database connection")
    if scrape.last_tick is None:
        problems.append("engine does not report its last tick")
        tick = ""
    else:
        age = now.timestamp() - scrape.last_tick
        tick = f"last tick {ago(age)}"
        if age > stale_after_s:
            problems.append(f"main loop stalled, {tick}")
    if problems:
        return Observation(DEGRADED, "; ".join(problems) + context, latency_ms=scrape.latency_ms)
    return Observation(OPERATIONAL, tick + context, latency_ms=scrape.latency_ms)


def database_observation(latency_ms: float | None, error: str, slow_ms: float) -> Observation:
    if latency_ms is None:
        return Observation(DOWN, "database is not reachable", error)
    if latency_ms > slow_ms:
        return Observation(DEGRADED, f"database is slow ({latency_ms:.0f} ms round trip)", latency_ms=latency_ms)
    return Observation(OPERATIONAL, f"round trip {latency_ms:.0f} ms", latency_ms=latency_ms)


def snapshot_observation(as_of: datetime | None, now: datetime, stale_after_s: float,
                         last_error: str = "") -> Observation:
    if as_of is None:
        return Observation(DOWN, "waiting for the first data", last_error)
    age = (now - as_of).total_seconds()
    if age > stale_after_s:
        return Observation(DEGRADED, f"serving the last good data, read {ago(age)}", last_error)
    return Observation(OPERATIONAL, f"data read {ago(age)}")


def overall(states: dict[str, str]) -> Overall:
    """The banner. Unknown components, and those under maintenance, are left out of the outage rules.

    - major outage: no numbers can be shown (snapshot down), or every known component is down;
    - partial outage: some component is down;
    - degraded: some component is degraded;
    - maintenance: some component is under maintenance, and nothing above applies;
    - operational: otherwise.
    """
    known = {name: state for name, state in states.items() if state not in (UNKNOWN, MAINTENANCE)}
    if known.get("snapshot") == DOWN or (known and all(s == DOWN for s in known.values())):
        return Overall.MAJOR_OUTAGE
    if DOWN in known.values():
        return Overall.PARTIAL_OUTAGE
    if DEGRADED in known.values():
        return Overall.DEGRADED
    if MAINTENANCE in states.values():
        return Overall.MAINTENANCE
    return Overall.OPERATIONAL


def worst(*levels: Overall) -> Overall:
    """The worst of several banner levels: the components' and each open incident's impact."""
    return max(levels, key=lambda level: level.rank, default=Overall.OPERATIONAL)


def jobs_alive(last_runs: dict[str, datetime | None], intervals: dict[str, float], now: datetime,
               started_at: datetime) -> dict[str, bool]:
    """Each background job ran within three of its intervals (counting from start-up)."""
    result = {}
    for job, interval in intervals.items():
        last = last_runs.get(job) or started_at
        result[job] = (now - last).total_seconds() <= 3 * interval
    return result
