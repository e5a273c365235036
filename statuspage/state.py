"""What one process knows: the last good snapshot, the component table, when each job last ran.

Background jobs write it, requests only read it. Every change bumps a version so the renderer
knows when its cached bytes are out of date. Requests read without the lock, so the order is the
protocol: a writer changes everything a version covers first and bumps the version last; a reader
takes the version first and the content after. A reader that sees a new version then sees its
content; one that sees the old version with new content only caches bytes the next request
rebuilds. The other way round, bytes of the old content would be cached under the new version and
served until the next change (seen: a worker serving "held": false for good).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from psycopg_pool import ConnectionPool

from . import board as boards
from .backlog import Backlog
from .config import Settings
from .db.leader import Leader
from .guard import Guard, Hold
from .history import History, Recorded
from .metrics import Metrics
from .notify import DirectAlerts, Notifier
from .published import Reader
from .snapshot import SealedCache, SetAside, Snapshot, is_stale
from .status import Component, JobRun, Observation, advance, overall, worst
from .vocabulary import COMPONENTS, MAINTENANCE, Overall

log = logging.getLogger(__name__)


@dataclass
class AppState:
    started_at: datetime
    metrics: Metrics
    snapshot: Snapshot | None = None
    snapshot_version: int = 0
    last_refresh_error: str = ""  # operator detail of the last failed refresh
    held: Hold | None = None  # the latest read is held back by the guard; the last good one is served
    rejected_in_row: int = 0  # refreshes rejected (invariants, rendering) since the last good one
    excluded: dict[str, SetAside] = field(default_factory=dict)  # rows set aside in the latest good read
    tracker_drift: str = ""  # operator detail: tracker file vs database
    components: dict[str, Component] = field(default_factory=dict)
    components_version: int = 0
    job_runs: dict[str, datetime] = field(default_factory=dict)
    job_latest: dict[str, JobRun] = field(default_factory=dict)  # each job's latest run, for liveness
    sealed: SealedCache = field(default_factory=SealedCache)  # the snapshot's long-history part
    history: History | None = None  # what the page shows: ``recorded`` with ``backlog`` merged in
    history_version: int = 0
    history_error: str = ""  # operator detail of the last failed history run
    notify_failures: list[dict[str, Any]] = field(default_factory=list)  # operator view: deliveries given up on
    recorded: Recorded | None = None  # the last read of the history tables
    backlog: Backlog = field(default_factory=Backlog)  # seen by this process, not written yet
    history_reachable: bool | None = None  # None until the first history run; False: direct alerts
    board: boards.Board | None = None  # what operators wrote, as of the last history run
    board_version: int = 0
    # Where the served snapshot comes from: "published" (the leader's, statuspage/published.py) or
    # "engine" (this process read it: it is the leader, or the fallback); "" before the first.
    source: str = ""
    published_version: int = 0  # the newest published version this process has written or served
    refused_version: int = 0  # the newest it refused: not fetched again, its own read meanwhile
    published_read_at: datetime | None = None  # when the leader read it
    publish_error: str = ""  # operator detail: why the published snapshot was not used or written
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.components = {name: Component(name, since=self.started_at) for name in COMPONENTS}

    def publish(self, snap: Snapshot, *, adopted: bool = False) -> None:
        """Serve ``snap`` from now on; ``adopted``: a sibling's read (statuspage/handoff.py), which
        says nothing about this process's own last refresh, so its error stays."""
        with self._lock:
            self.snapshot = snap
            if not adopted:
                self.last_refresh_error = ""
            self.held = None
            self.rejected_in_row = 0
            self.excluded = snap.excluded
            self.snapshot_version += 1  # last: see the module's docstring
        self.metrics.record_snapshot(snap)
        self.metrics.record_hold(False)

    def serve(self, snap: Snapshot | None, held: Hold | None, excluded: dict[str, SetAside]) -> None:
        """Serve what the leader published: its snapshot, and its hold if its guard holds back (the
        hold first: never a moment of the leader's last good numbers served as not held)."""
        if held is None:
            if snap is not None:
                self.publish(snap)
        else:
            self.hold(held, excluded)
            if snap is not None and snap != self.snapshot:
                with self._lock:
                    self.snapshot = snap
                    self.snapshot_version += 1  # last: see the module's docstring
                self.metrics.record_snapshot(snap)
                self.metrics.record_excluded(excluded)
        self.set_source("published")

    def set_source(self, source: str) -> None:
        self.source = source
        self.metrics.record_source(source)

    def hold(self, hold: Hold, excluded: dict[str, SetAside]) -> None:
        """The guard held a candidate back (its rows set aside: ``excluded``): keep serving the last
        good snapshot, flagged."""
        with self._lock:
            before = self.held
            if before is not None and before.reference == hold.reference:
                hold = Hold(hold.reference, hold.found, before.since)  # the same hold goes on
            self.held = hold
            self.rejected_in_row = 0
            self.excluded = excluded
            self.last_refresh_error = f"held back: {hold.detail(self.snapshot is not None)}"
            if hold != before:
                self.snapshot_version += 1  # the landing JSON and the page say so; last, as above
        if hold != before:
            log.error("refresh: %s", hold.detail(self.snapshot is not None))
        self.metrics.record_excluded(excluded)
        self.metrics.record_hold(True)

    def observe(self, name: str, obs: Observation, now: datetime, confirm: int) -> Component:
        with self._lock:
            before = self.components[name]
            after = advance(before, obs, now, confirm)
            self.components[name] = after
            if after.state != before.state:
                log.info("component %s: %s -> %s (%s)", name, before.state, after.state, after.detail)
                # kept until written: its true time survives an outage of the history database
                self.backlog.change(name, before.state, after.state, after.since or now, after.recorded)
            if (after.state, after.detail, after.since) != (before.state, before.detail, before.since):
                self.components_version += 1
        self.metrics.record_component(name, self._shown_state(name, after.state))
        return after

    def _shown_state(self, name: str, state: str) -> str:
        # Alert rules read the component's series: under maintenance they must not see down.
        board = self.board
        return MAINTENANCE if board is not None and name in board.maintenance else state

    def publish_board(self, board: boards.Board) -> None:
        before = self.board
        self.board = board
        if before is None or before.to_public() != board.to_public():
            self.board_version += 1
        if before is None or set(before.maintenance) != set(board.maintenance):
            for name, c in self.components.items():
                self.metrics.record_component(name, self._shown_state(name, c.state))

    def shown_components(self) -> dict[str, Component]:
        """The components as visitors see them: maintenance windows applied (``board.shown``)."""
        return boards.shown(self.components, self.board)

    def publish_history(self, history: History) -> None:
        changed = self.history is None or _public_history(self.history) != _public_history(history)
        self.history = history
        if changed:
            self.history_version += 1

    def ran(self, job: str, now: datetime) -> None:
        self.job_runs[job] = now

    def job_start(self, job: str, at: datetime) -> None:
        self.job_latest[job] = JobRun(started=at)

    def job_continues(self, job: str, at: datetime) -> None:
        """The running job goes on with a new bounded piece of work, its deadline counted from ``at``
        (a long read in pieces). Nothing changes for a job not recorded as running (a direct call)."""
        run = self.job_latest.get(job)
        if run is not None and run.ended is None:
            self.job_latest[job] = JobRun(started=at)

    def job_end(self, job: str, at: datetime) -> None:
        self.job_latest[job] = JobRun(started=self.job_latest[job].started, ended=at)

    def is_stale(self, now: datetime, stale_after_s: float) -> bool:
        snap = self.snapshot
        return snap is not None and is_stale(snap.as_of, now, stale_after_s)

    def overall(self) -> Overall:
        """The banner: the worst of the components as shown and the open operator incidents' impact."""
        level = overall({name: c.state for name, c in self.shown_components().items()})
        return worst(level, self.board.level()) if self.board is not None else level


@dataclass
class Runtime:
    """Everything one app instance owns; closed once on shutdown."""

    settings: Settings
    pool: ConnectionPool
    state: AppState
    leader: Leader
    notifier: Notifier
    guard: Guard
    direct: DirectAlerts
    scheduler: BaseScheduler | None = None
    reader: Reader | None = None  # the leader's published snapshots (history database); None: own reads
    handoff_dir: Path | None = None  # where this instance's processes share snapshots (statuspage/handoff.py)
    # Renders what a candidate snapshot would be served as (views.render_check); raises if it cannot.
    render_check: Callable[[Snapshot, datetime], None] | None = None

    def close(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            # wait: a job still running would otherwise reconnect after the close below
            self.scheduler.shutdown(wait=True)
        self.guard.close()
        self.notifier.close()
        self.leader.close()
        if self.reader is not None:
            self.reader.close()
        self.pool.close(timeout=2)


def _public_history(history: History) -> dict[str, object]:
    """What the page shows of a history read, without the read time itself."""
    public = history.to_public()
    public.pop("read_at")
    for incident in public["incidents"]:
        if incident["resolved_at"] is None:
            incident.pop("duration_s")  # grows every second while open; shown as "ongoing"
    return public
