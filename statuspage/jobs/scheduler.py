"""Background work: the snapshot refresh and the probes, each a plain function of (runtime, now)
that tests call directly, and a thin APScheduler shell that runs them on their intervals."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import psycopg
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .. import board, history, notify
from ..formatting import utcnow
from ..snapshot import SnapshotRejected, refresh_once
from ..state import Runtime
from ..status import database_observation, engine_observation, metrics_observation, snapshot_observation
from ..vocabulary import COMPONENTS
from . import probes

log = logging.getLogger(__name__)


def refresh_job(rt: Runtime, now: datetime | None = None) -> None:
    """Read, validate and publish a snapshot; on any failure keep serving the last good one."""
    now = now or utcnow()
    state, metrics = rt.state, rt.state.metrics
    try:
        snap = refresh_once(rt.pool, now, rt.settings.db_connect_timeout_s, state.sealed)
    except SnapshotRejected as exc:
        metrics.refreshes.labels("rejected").inc()
        metrics.db_connected.set(1)
        state.last_refresh_error = f"snapshot rejected: {exc}"
        log.error("refresh: snapshot rejected, keeping the last good one: %s", exc)
    except Exception as exc:
        metrics.refreshes.labels("error").inc()
        metrics.db_connected.set(0)
        state.last_refresh_error = f"{type(exc).__name__}: {exc}".strip()
        log.error("refresh failed, keeping the last good snapshot: %s", state.last_refresh_error)
    else:
        state.publish(snap)
        metrics.refreshes.labels("ok").inc()
        metrics.db_connected.set(1)
    state.ran("refresh", now)
    check_snapshot(rt, now)


def check_snapshot(rt: Runtime, now: datetime) -> None:
    snap = rt.state.snapshot
    obs = snapshot_observation(snap.as_of if snap else None, now, rt.settings.stale_after_s,
                               rt.state.last_refresh_error)
    # Local and deterministic: nothing to debounce.
    rt.state.observe("snapshot", obs, now, confirm=1)


def probe_database_job(rt: Runtime, now: datetime | None = None) -> None:
    now = now or utcnow()
    latency_ms, error = probes.ping_database(rt.pool, rt.settings.probe_timeout_s)
    rt.state.metrics.probe_duration.labels("database").observe((latency_ms or 0) / 1000)
    rt.state.metrics.db_connected.set(0 if latency_ms is None else 1)
    obs = database_observation(latency_ms, error, rt.settings.db_slow_ms)
    rt.state.observe("database", obs, now, rt.settings.probe_confirm)
    rt.state.ran("probe_database", now)


def probe_engine_job(rt: Runtime, now: datetime | None = None) -> None:
    now = now or utcnow()
    url = rt.settings.engine_metrics_url
    scrape = probes.scrape_engine(url, rt.settings.probe_timeout_s) if url else None
    if scrape is not None:
        rt.state.metrics.probe_duration.labels("engine").observe(scrape.latency_ms / 1000)
    snap = rt.state.snapshot
    last_trade = snap.last_trade_at if snap else None
    confirm = rt.settings.probe_confirm
    rt.state.observe("metrics", metrics_observation(scrape), now, confirm)
    rt.state.observe("engine", engine_observation(scrape, now, rt.settings.engine_stale_after_s, last_trade),
                     now, confirm)
    rt.state.ran("probe_engine", now)


def probe_local_job(rt: Runtime, now: datetime | None = None) -> None:
    """Snapshot freshness, and tracker drift when a tracker file is configured."""
    now = now or utcnow()
    if "refresh" in rt.state.job_runs:
        # Before the first refresh has run the snapshot is not late, just not checked yet: it
        # stays unknown rather than recording an outage at every start-up.
        check_snapshot(rt, now)
    path = rt.settings.tracker_json_path
    snap = rt.state.snapshot
    if path and snap is not None:
        db_trades = snap.windows["all"].trades
        try:
            drift = probes.tracker_trades(path) - db_trades
        except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            rt.state.tracker_drift = f"tracker file {path} unreadable: {type(exc).__name__}: {exc}"
            log.warning("tracker drift: %s", rt.state.tracker_drift)
        else:
            rt.state.metrics.tracker_drift.set(drift)
            rt.state.tracker_drift = f"tracker file has {drift + db_trades} trades, database {db_trades} ({drift:+d})"
    rt.state.ran("probe_local", now)


def history_job(rt: Runtime, now: datetime | None = None) -> None:
    """The leader records state changes, incidents and samples (components as shown: maintenance
    windows applied) and what happened to maintenance windows; every process reads the summary and
    the operators' board."""
    now = now or utcnow()
    leader, state = rt.leader, rt.state
    try:
        is_leader = leader.ensure()
        if leader.conn is not None:
            # Read before recording: a window that began since the last run already covers its
            # components, so an outage it causes is recorded as maintenance, never as an incident.
            state.publish_board(board.read(leader.conn, now))
        if is_leader:
            s = rt.settings
            board.record(leader.conn, state.board, now, leader.me, timedelta(seconds=s.notify_retry_for_s))
            history.record(leader.conn, state.shown_components(), now, leader.me)
            history.prune(leader.conn, now)
            notify.enqueue(leader.conn, s.notify_webhook_urls or [], now, s.notify_min_incident_s,
                           s.notify_retry_for_s)
            board.enqueue(leader.conn, s.notify_webhook_urls or [], now, s.notify_retry_for_s)
        if leader.conn is not None:
            state.publish_history(history.read(leader.conn, list(COMPONENTS), now))
            state.notify_failures = notify.failed_deliveries(leader.conn, rt.settings.notify_webhook_urls or [])
        state.history_error = ""
    except psycopg.Error as exc:
        error = f"{type(exc).__name__}: {exc}".strip()
        if error != state.history_error:  # once per distinct failure, not every run
            log.warning("history: %s", error)
        state.history_error = error
    state.metrics.history_leader.set(1 if leader.is_leader else 0)
    state.ran("history", now)


def notify_job(rt: Runtime, now: datetime | None = None) -> None:
    """The leader sends what the outbox holds; a receiver that hangs delays only this job."""
    now = now or utcnow()
    try:
        if rt.leader.is_leader:
            for outcome, count in rt.notifier.deliver_due(now).items():
                if count:
                    rt.state.metrics.notifications.labels(outcome).inc(count)
    except psycopg.Error as exc:
        log.warning("notify: %s", type(exc).__name__)
        rt.notifier.close()  # reconnect on the next run
    rt.state.ran("notify", now)


def job_intervals(rt: Runtime) -> dict[str, float]:
    s = rt.settings
    return {"refresh": s.refresh_interval_s, "probe_database": s.probe_interval_s,
            "probe_engine": s.probe_interval_s, "probe_local": s.probe_interval_s,
            "history": s.probe_interval_s, "notify": min(s.probe_interval_s, 5.0)}


class WallClockInterval(IntervalTrigger):
    """Every ``seconds`` on the wall clock's grid (whole multiples since the epoch), whatever the last
    run: every process reads its snapshot in the same second, so the same data gives the same bytes
    and ETag in every worker and instance, and a poll that lands on another worker still gets its 304."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds=seconds, start_date=datetime(1970, 1, 1, tzinfo=UTC), timezone=UTC)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # Strictly after ``now``: a run that fell exactly on the grid must not be due again at once.
        return super().get_next_fire_time(None, now + timedelta(microseconds=1))


def start(rt: Runtime) -> BackgroundScheduler:
    """One scheduler per process; every job runs once right away, never two at a time."""
    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=8)},  # a thread for every job: none waits
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    jobs = {"refresh": refresh_job, "probe_database": probe_database_job,
            "probe_engine": probe_engine_job, "probe_local": probe_local_job, "history": history_job,
            "notify": notify_job}
    for job_id, interval in job_intervals(rt).items():
        trigger = WallClockInterval(interval) if job_id == "refresh" else IntervalTrigger(seconds=interval,
                                                                                           timezone=UTC)
        scheduler.add_job(jobs[job_id], trigger, args=[rt], id=job_id, next_run_time=utcnow())
    scheduler.start()
    # One line per process: under gunicorn, the proof that each worker runs one and the master none.
    log.info("scheduler started in pid %d: %s", os.getpid(),
             ", ".join(f"{j} every {i:g}s" for j, i in job_intervals(rt).items()))
    return scheduler
