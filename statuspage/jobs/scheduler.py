"""Background work: the snapshot refresh and the probes, each a plain function of (runtime, now)
that tests call directly, and a thin APScheduler shell that runs them on their intervals."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .. import board, budgets, deadline, handoff, history, notify, published
from ..db.chunks import ReadInProgress
from ..formatting import utc_iso, utcnow
from ..snapshot import Snapshot, SnapshotRejected, refresh_once, violations
from ..state import Runtime
from ..status import database_observation, engine_observation, jobs_alive, metrics_observation, snapshot_observation
from ..vocabulary import COMPONENTS
from . import probes

log = logging.getLogger(__name__)


def refresh_job(rt: Runtime, now: datetime | None = None) -> None:
    """One read of the engine per deployment (statuspage/published.py): the history leader reads,
    validates, renders and publishes, unless the guard holds it back; every other process serves
    the newest published snapshot after checking it again. A process reads the engine itself when
    it leads, when the history database cannot be reached or read, or when what it holds is refused.
    On any failure the last good snapshot stays. A long history is read in pieces over several reads
    (db/chunks.py): while that read moves on, the next read follows at once, as a run of its own."""
    started = now or utcnow()
    leading = _leading(rt)
    # The history database is read only while the leadership check reached it: a frozen or lost one
    # costs each refresh nothing more (the history job reconnects, every PROBE_INTERVAL_S).
    reachable = rt.leader.conn is not None and not rt.leader.conn.closed
    if not leading and rt.reader is not None and reachable and pickup(rt, now):
        rt.state.ran("refresh", started)
        check_snapshot(rt, now or utcnow())
        return
    if not leading and not reachable:
        rt.state.publish_error = "the history database is out of reach: reading the engine here"
    if leading and rt.state.snapshot is None and rt.reader is not None:
        # A new leader (the old one gone, or a new deploy) serves the last publication while its own
        # first read, minutes at ten million trades, goes on.
        pickup(rt, now, wait=False)
    before: ReadInProgress | None = None
    while (stopped := _refresh(rt, now, leading)) is not None and now is None:
        if before is not None and stopped.read == before.read and stopped.rows_read <= before.rows_read:
            break  # the same read began again (the history it keys on changed): at the next interval
        if rt.scheduler is not None and not rt.scheduler.running:
            break  # shutting down: not minutes more of reading that nobody will serve
        before = stopped
        rt.state.job_continues("refresh", utcnow())


def _leading(rt: Runtime) -> bool:
    """Whether this process holds the history lock, taking it if it is free. Only the history job
    (every PROBE_INTERVAL_S) reconnects after a loss, and the first refresh, so a cold start needs
    no history run first; the check ends within DB_CONNECT_TIMEOUT_S (a frozen history database)."""
    try:
        with deadline.within(rt.settings.db_connect_timeout_s, "leadership check"):
            return rt.leader.ensure(reconnect="refresh" not in rt.state.job_runs)
    except psycopg.Error:
        return False


def pickup(rt: Runtime, now: datetime | None, *, wait: bool = True) -> bool:
    """Serve the newest published snapshot. False when this process must read the engine itself:
    the history database cannot be read, or what it holds is refused. One indexed query per refresh,
    ``pickup_delay_s`` after the tick so the leader has published this tick's read; at start-up, while
    nothing is published yet, again every quarter second for at most ``refresh_s`` (the leader's
    first read). Until the leader's first publication a process serves nothing of its own. Without
    ``wait``, one query at once."""
    state = rt.state
    scheduled = now is None and wait  # a run by hand (tests) passes its own ``now`` and never sleeps
    if scheduled and state.published_version:
        time.sleep(budgets.pickup_delay_s(rt.settings))
    waited_until = time.monotonic() + budgets.refresh_s(rt.settings)
    known = max(state.published_version, state.refused_version)
    try:
        while (found := rt.reader.newest(known)) is None and scheduled \
                and not known and time.monotonic() < waited_until:
            time.sleep(0.25)
    except psycopg.Error as exc:
        state.publish_error = f"published snapshot unreadable: {type(exc).__name__}: {exc}".strip()
        log.warning("refresh: %s; reading the engine here", state.publish_error)
        return False
    if found is None:
        if state.refused_version > state.published_version:
            return False  # the newest is still the one refused (publish_error says so): its own read
        state.publish_error = "" if state.published_version else "nothing published yet: the leader's first read"
        return True
    version, body = found
    try:
        pub = published.decode(body)
        if pub.snapshot is not None:
            problems = violations(pub.snapshot)
            if problems:
                raise SnapshotRejected(problems)
            render_or_reject(rt, pub.snapshot, pub.snapshot.as_of)
    except (SnapshotRejected, ValueError) as exc:
        state.refused_version = version
        state.publish_error = f"published version {version} refused: {exc}"
        log.error("refresh: %s; reading the engine here until a newer one", state.publish_error)
        return False
    state.published_version, state.published_read_at, state.publish_error = version, pub.read_at, ""
    state.serve(pub.snapshot, pub.held, pub.excluded)
    state.metrics.refreshes.labels("published").inc()
    if pub.held is None:
        state.last_refresh_error = ""
        if pub.snapshot is not None:
            rt.guard.remember(pub.snapshot.windows["all"].trades, pub.snapshot.as_of)
    return True


def publish_snapshot(rt: Runtime, read_at: datetime) -> None:
    """Write what this leader now serves (its snapshot and hold) for every other process."""
    state, leader = rt.state, rt.leader
    if leader.conn is None:
        return
    pub = published.of(read_at, state.snapshot, state.held, state.excluded)
    try:
        version = published.write(leader.conn, pub, leader.me, leader.call_s)
    except psycopg.Error as exc:
        state.publish_error = f"publish failed: {type(exc).__name__}: {exc}".strip()
        log.warning("refresh: %s", state.publish_error)
        return
    if version is None:
        state.publish_error = "publish refused: this session no longer holds the leader's lock"
        log.warning("refresh: %s", state.publish_error)
        leader.is_leader = False
        return
    state.published_version, state.published_read_at, state.publish_error = version, read_at, ""


def _refresh(rt: Runtime, now: datetime | None, leading: bool) -> ReadInProgress | None:
    """One read of the engine, published for every other process when ``leading``; where it
    stopped when it stopped part-way through a long read, else None."""
    # The snapshot's time is taken once a connection is in hand, not before a pool wait of up to
    # DB_CONNECT_TIMEOUT_S: as_of is when the data was read (a fixed ``now`` is used as is).
    clock = (lambda: now) if now else utcnow
    started = now or utcnow()
    state, metrics = rt.state, rt.state.metrics
    progress: ReadInProgress | None = None
    try:
        # waiting for a connection, its check and the transaction all end by this deadline
        with deadline.within(budgets.refresh_s(rt.settings), "snapshot refresh"):
            snap = refresh_once(rt.pool, clock, rt.settings.db_connect_timeout_s, state.sealed)
        render_or_reject(rt, snap, snap.as_of)
    except ReadInProgress as exc:
        metrics.refreshes.labels("reading").inc()
        metrics.db_connected.set(1)
        state.last_refresh_error = str(exc)
        progress = exc
        log.info("refresh: %s", exc)
    except SnapshotRejected as exc:
        metrics.refreshes.labels("rejected").inc()
        metrics.db_connected.set(1)
        state.rejected_in_row += 1
        state.last_refresh_error = f"snapshot rejected: {exc}"
        log.error("refresh: snapshot rejected, keeping the last good one: %s", exc)
    except Exception as exc:
        metrics.refreshes.labels("error").inc()
        metrics.db_connected.set(0)
        state.last_refresh_error = f"{type(exc).__name__}: {exc}".strip()
        log.error("refresh failed, keeping the last good snapshot: %s", state.last_refresh_error)
    else:
        metrics.db_connected.set(1)
        hold = rt.guard.review(snap.windows["all"].trades, snap.as_of)
        if hold is not None:
            state.hold(hold, snap.excluded)
            metrics.refreshes.labels("held").inc()
        else:
            state.publish(snap)
            rt.guard.published(snap.windows["all"].trades, snap.as_of)
            if rt.handoff_dir is not None:
                handoff.save(rt.handoff_dir, snap)
            metrics.refreshes.labels("ok").inc()
        state.set_source("engine")
        if leading:
            publish_snapshot(rt, snap.as_of)
    if state.last_refresh_error and rt.handoff_dir is not None and state.snapshot is None:
        # This read failed and this process has nothing to show: a sibling's, rather than a 503 beside
        # siblings that answer. Not when it has numbers of its own: those stay until its next read.
        adopt_sibling_snapshot(rt)
    for how, times in state.sealed.checks.items():
        metrics.history_checks.labels(how).inc(times)
    state.sealed.checks.clear()
    state.ran("refresh", started)
    check_snapshot(rt, clock())
    return progress


def adopt_sibling_snapshot(rt: Runtime) -> None:
    """Serve the newest valid snapshot another process of this instance read, when it is newer than
    this process's own (or this process has none)."""
    found = handoff.newest(rt.handoff_dir) if rt.handoff_dir is not None else None
    mine = rt.state.snapshot
    if found is not None and (mine is None or found.as_of > mine.as_of):
        rt.state.publish(found, adopted=True)
        rt.guard.remember(found.windows["all"].trades, found.as_of)
        log.info("snapshot: serving a sibling process's read of %s", utc_iso(found.as_of))


def render_or_reject(rt: Runtime, snap: Snapshot, now: datetime) -> None:
    """A snapshot is published only if what it would be served as can be built: the landing JSON
    (no NaN or Infinity) and the page with every fragment. A failure is a rejection like a broken
    invariant: the last good snapshot stays."""
    if rt.render_check is None:
        return
    try:
        rt.render_check(snap, now)
    except Exception as exc:
        rt.state.sealed.forget()
        raise SnapshotRejected([f"rendering failed: {type(exc).__name__}: {exc}".strip()]) from exc


def check_snapshot(rt: Runtime, now: datetime) -> None:
    state, snap = rt.state, rt.state.snapshot
    held = state.held.detail(snap is not None) if state.held else ""
    excluded = sum(each.trades for each in state.excluded.values())
    obs = snapshot_observation(snap.as_of if snap else None, now, rt.settings.stale_after_s,
                               state.last_refresh_error, held=held, rejected=state.rejected_in_row > 0,
                               excluded=excluded)
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
    """The leader writes what it saw: the transitions and minutes it kept in memory, with their
    true times (all of them after an outage of the history database), as visitors see them
    (maintenance windows applied), what happened to maintenance windows, then the outbox. Every
    process reads the history and the operators' board, and shows the history with what it has not
    written merged in, so an outage that takes the history database down with it is on the page
    while it lasts."""
    now = now or utcnow()
    leader, state, s = rt.leader, rt.state, rt.settings
    # Cut off until now: other processes may have alerted directly meanwhile; the "opened" messages
    # of incidents written late wait two intervals, so they can mark theirs as sent first.
    hold_s = 2 * s.probe_interval_s if state.history_reachable is False else 0
    state.backlog.sample(now, {name: c.state for name, c in state.components.items()})
    try:
        # Every call on the leader's session is cut at its deadline; a cut session loses the lock
        # with it, as a dead one does, and the next run reconnects.
        with deadline.within(budgets.history_s(s), "history run"):
            is_leader = leader.ensure()
            if leader.conn is not None:
                # Read before recording: a window that began since the last run already covers its
                # components, so an outage it causes is recorded as maintenance, never as an incident.
                with deadline.guard(leader.conn, "board read", leader.call_s):
                    state.publish_board(board.read(leader.conn, now))
            if is_leader:
                transitions, samples = state.backlog.pending()
                shown_transitions, shown_samples = board.mask(state.board, transitions, samples)
                with deadline.guard(leader.conn, "history write", leader.call_s):
                    board.record(leader.conn, state.board, now, leader.me, timedelta(seconds=s.notify_retry_for_s))
                    history.record(leader.conn, state.shown_components(), now, leader.me, shown_transitions,
                                   shown_samples, s.probe_interval_s)
                    state.backlog.written(transitions, samples)
                    history.prune(leader.conn, now)
                    notify.enqueue(leader.conn, s.notify_webhook_urls or [], now, s.notify_min_incident_s,
                                   s.notify_retry_for_s, hold_s)
                    board.enqueue(leader.conn, s.notify_webhook_urls or [], now, s.notify_retry_for_s)
            elif leader.conn is not None:
                # Another process holds the lock: that live leader records what it sees itself.
                state.backlog.clear()
            if leader.conn is not None and not leader.conn.closed:
                with deadline.guard(leader.conn, "history read", leader.call_s):
                    rt.direct.settle(leader.conn, now)  # what this process alerted directly: not again
                    state.recorded = history.fetch(leader.conn, now)
                    state.notify_failures = notify.failed_deliveries(leader.conn, s.notify_webhook_urls or [])
            state.history_reachable = leader.conn is not None and not leader.conn.closed
        state.history_error = ""
    except psycopg.Error as exc:
        state.history_reachable = False
        error = f"{type(exc).__name__}: {exc}".strip()
        if error != state.history_error:  # once per distinct failure, not every run
            log.warning("history: %s", error)
        state.history_error = error
    transitions, samples = board.mask(state.board, *state.backlog.pending())
    state.publish_history(history.view(list(COMPONENTS), state.recorded, transitions, samples, now,
                                       s.probe_interval_s))
    state.metrics.history_leader.set(1 if leader.is_leader else 0)
    state.ran("history", now)


def notify_job(rt: Runtime, now: datetime | None = None) -> None:
    """The leader sends what the outbox holds; a receiver that hangs delays only this job. While the
    history database (and so the outbox) is unreachable, every process alerts directly instead."""
    now = now or utcnow()
    try:
        if rt.leader.is_leader:
            with deadline.within(budgets.notify_s(rt.settings), "notify run"):
                counts = rt.notifier.deliver_due(now)
            for outcome, count in counts.items():
                if count:
                    rt.state.metrics.notifications.labels(outcome).inc(count)
    except psycopg.Error as exc:
        log.warning("notify: %s", type(exc).__name__)
        rt.notifier.close()  # reconnect on the next run
    shown = rt.state.history
    if rt.state.history_reachable is False and shown is not None:
        for outcome, count in rt.direct.send_due(shown.incidents, now).items():
            if count:
                rt.state.metrics.notifications.labels(outcome).inc(count)
    rt.state.ran("notify", now)


def liveness(rt: Runtime, now: datetime) -> dict[str, bool]:
    """Each job's liveness (``status.jobs_alive``) against its interval and hard deadline."""
    state = rt.state
    return jobs_alive(state.job_latest, job_intervals(rt), budgets.job_deadlines(rt.settings), now, state.started_at)


def _timed(rt: Runtime, job_id: str, job: Callable[[Runtime], None]) -> Callable[[], None]:
    """The job, recording when each run starts and ends: a run that fails has run all the same."""

    @functools.wraps(job)
    def run() -> None:
        rt.state.job_start(job_id, utcnow())
        try:
            job(rt)
        finally:
            rt.state.job_end(job_id, utcnow())

    return run


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
        # Refresh and probes on the wall-clock grid: every process reads the same data in the same
        # second, and sees a component change at the same tick, which is what lets processes agree
        # on an incident's identity without talking to each other (history.alert_key).
        trigger = (IntervalTrigger(seconds=interval, timezone=UTC) if job_id == "notify"
                   else WallClockInterval(interval))
        scheduler.add_job(_timed(rt, job_id, jobs[job_id]), trigger, id=job_id, next_run_time=utcnow())
    scheduler.start()
    # One line per process: under gunicorn, the proof that each worker runs one and the master none.
    log.info("scheduler started in pid %d: %s", os.getpid(),
             ", ".join(f"{j} every {i:g}s" for j, i in job_intervals(rt).items()))
    return scheduler
