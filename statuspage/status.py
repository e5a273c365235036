"""Health decisions as pure functions of observations and ``now``: component states, debounce,
overall status and the meaning of each health endpoint. No I/O here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

from .budgets import LIVENESS_SLACK_S
from .formatting import ago, stamp, utc_iso
from .vocabulary import DEGRADED, DOWN, MAINTENANCE, OPERATIONAL, UNKNOWN, Overall


@dataclass(frozen=True)
class Observation:
    """One probe result: the state it points to, and what may be said about it."""

    state: str
    detail: str  # public-safe
    operator_detail: str = ""  # error text, hosts: never public
    latency_ms: float | None = None
    # What history stores (state changes, incidents, notifications): ``detail`` with absolute times
    # instead of relative ages, which would be frozen there ("last trade 10 s ago" for ever).
    record: str = ""

    @property
    def recorded(self) -> str:
        return self.record or self.detail


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
    record: str = ""  # the detail as history stores it: no relative ages (Observation.record)

    @property
    def recorded(self) -> str:
        return self.record or self.detail

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
                                   record=obs.record, pending_state=None, pending_count=0)
    count = current.pending_count + 1 if current.pending_state == obs.state else 1
    if current.checked_at is None or count >= confirm:
        return dataclasses.replace(measured, state=obs.state, since=now, detail=obs.detail,
                                   operator_detail=obs.operator_detail, record=obs.record,
                                   pending_state=None, pending_count=0)
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
    # Each text twice: with ages for the live component table, with times for history (record).
    context = f"; last trade {ago((now - last_trade_at).total_seconds())}" if last_trade_at else ""
    kept = f"; last trade {stamp(last_trade_at)}" if last_trade_at else ""
    if scrape is None:
        return Observation(UNKNOWN, "ENGINE_METRICS_URL is not configured" + context,
                           record="ENGINE_METRICS_URL is not configured" + kept)
    if not scrape.ok:
        return Observation(DOWN, "engine is not reachable" + context, scrape.error, scrape.latency_ms,
                           record="engine is not reachable" + kept)
    problems, recorded = [], []
    if scrape.db_connected != 1:
        problems.append("engine reports no database connection" if scrape.db_connected == 0
                        else "engine does not report its database connection")
        recorded.append(problems[-1])
    if scrape.last_tick is None:
        problems.append("engine does not report its last tick")
        recorded.append(problems[-1])
        tick = tick_kept = ""
    else:
        age = now.timestamp() - scrape.last_tick
        tick = f"last tick {ago(age)}"
        tick_kept = f"last tick {stamp(datetime.fromtimestamp(scrape.last_tick, UTC))}"
        if age > stale_after_s:
            problems.append(f"main loop stalled, {tick}")
            recorded.append(f"main loop stalled, {tick_kept}")
    if problems:
        return Observation(DEGRADED, "; ".join(problems) + context, latency_ms=scrape.latency_ms,
                           record="; ".join(recorded) + kept)
    return Observation(OPERATIONAL, tick + context, latency_ms=scrape.latency_ms, record=tick_kept + kept)


def database_observation(latency_ms: float | None, error: str, slow_ms: float) -> Observation:
    if latency_ms is None:
        return Observation(DOWN, "database is not reachable", error)
    if latency_ms > slow_ms:
        return Observation(DEGRADED, f"database is slow ({latency_ms:.0f} ms round trip)", latency_ms=latency_ms)
    return Observation(OPERATIONAL, f"round trip {latency_ms:.0f} ms", latency_ms=latency_ms)


def snapshot_observation(as_of: datetime | None, now: datetime, stale_after_s: float,
                         last_error: str = "", *, held: str = "", rejected: bool = False,
                         excluded: int = 0) -> Observation:
    """``held``: the guard's public reason, when it holds the latest read back; ``rejected``: the
    latest read failed its invariants or could not be rendered; ``excluded``: trades the latest
    good read set aside as invalid. Each degrades the snapshot, and says why in public words."""
    if as_of is None:
        return Observation(DOWN, held or "waiting for the first data", last_error)
    age = (now - as_of).total_seconds()
    problems, recorded = [], []  # live words with ages; the same with times, for history
    if held:
        problems.append(held)
    elif rejected:
        problems.append("the latest data failed the page's checks and was not published")
    recorded[:] = problems
    if held or rejected:
        problems.append(f"the numbers shown were read {ago(age)}")
        recorded.append(f"the numbers shown were read {stamp(as_of)}")
    elif age > stale_after_s:
        problems.append(f"serving the last good data, read {ago(age)}")
        recorded.append(f"serving the last good data, read {stamp(as_of)}")
    if excluded:
        problems.append(f"{excluded} trade{'s' if excluded > 1 else ''} set aside as invalid; see the operator view")
        recorded.append(problems[-1])
    if problems:
        return Observation(DEGRADED, "; ".join(problems), last_error, record="; ".join(recorded))
    return Observation(OPERATIONAL, f"data read {ago(age)}", record=f"data read {stamp(as_of)}")


# A rejected refresh may be a passing race; two in a row mean the numbers are not current.
REJECTED_NOT_READY = 2


def snapshot_current(held: bool, rejected_in_row: int) -> bool:
    """Readiness: the served numbers are the database's, not ones held back or outlived by rejects."""
    return not held and rejected_in_row < REJECTED_NOT_READY


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


@dataclass(frozen=True)
class JobRun:
    """A background job's latest run."""

    started: datetime
    ended: datetime | None = None  # None while it runs


def jobs_alive(latest: dict[str, JobRun], intervals: dict[str, float], deadlines: dict[str, float],
               now: datetime, started_at: datetime, slack_s: float = LIVENESS_SLACK_S) -> dict[str, bool]:
    """Whether each background job is still being run, from its latest run.

    - During a run: alive until its hard deadline (``budgets.job_deadlines``) plus ``slack_s``
      after the run started. Every call a job makes ends by a client-side deadline, so a run that is
      slow because a dependency is slow, locked, down or frozen ends inside it, failed or not: a job
      that fails is alive.
    - Between runs: alive until one interval plus ``slack_s`` after the last run ended (before the
      first run: after start-up). The scheduler starts a job at most one interval after its last run
      ended: a run that outlasts its interval makes it skip the missed starts, not queue them.

    ``slack_s`` covers what no setting bounds: a scheduler waking late on a loaded machine and a
    job's in-memory work. Not alive: a job stuck past its deadline, or one no longer scheduled.
    """
    result = {}
    for job, interval in intervals.items():
        run = latest.get(job)
        if run is not None and run.ended is None:
            result[job] = (now - run.started).total_seconds() <= deadlines[job] + slack_s
        else:
            result[job] = (now - (run.ended if run else started_at)).total_seconds() <= interval + slack_s
    return result
