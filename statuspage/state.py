"""What one process knows: the last good snapshot, the component table, when each job last ran.

Background jobs write it, requests only read it. Every change bumps a version so the renderer
knows when its cached bytes are out of date.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from psycopg_pool import ConnectionPool

from . import board as boards
from .config import Settings
from .db.leader import Leader
from .history import History
from .metrics import Metrics
from .notify import Notifier
from .snapshot import SealedCache, Snapshot, is_stale
from .status import Component, Observation, advance, overall, worst
from .vocabulary import COMPONENTS, MAINTENANCE, Overall

log = logging.getLogger(__name__)


@dataclass
class AppState:
    started_at: datetime
    metrics: Metrics
    snapshot: Snapshot | None = None
    snapshot_version: int = 0
    last_refresh_error: str = ""  # operator detail of the last failed refresh
    tracker_drift: str = ""  # operator detail: tracker file vs database
    components: dict[str, Component] = field(default_factory=dict)
    components_version: int = 0
    job_runs: dict[str, datetime] = field(default_factory=dict)
    sealed: SealedCache = field(default_factory=SealedCache)  # the snapshot's long-history part
    history: History | None = None
    history_version: int = 0
    history_error: str = ""  # operator detail of the last failed history run
    notify_failures: list[dict[str, Any]] = field(default_factory=list)  # operator view: deliveries given up on
    board: boards.Board | None = None  # what operators wrote, as of the last history run
    board_version: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.components = {name: Component(name, since=self.started_at) for name in COMPONENTS}

    def publish(self, snap: Snapshot) -> None:
        with self._lock:
            self.snapshot = snap
            self.snapshot_version += 1
            self.last_refresh_error = ""
        self.metrics.record_snapshot(snap)

    def observe(self, name: str, obs: Observation, now: datetime, confirm: int) -> Component:
        with self._lock:
            before = self.components[name]
            after = advance(before, obs, now, confirm)
            self.components[name] = after
            if after.state != before.state:
                log.info("component %s: %s -> %s (%s)", name, before.state, after.state, after.detail)
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
    scheduler: BaseScheduler | None = None

    def close(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            # wait: a job still running would otherwise reconnect after the close below
            self.scheduler.shutdown(wait=True)
        self.notifier.close()
        self.leader.close()
        self.pool.close(timeout=2)


def _public_history(history: History) -> dict[str, object]:
    """What the page shows of a history read, without the read time itself."""
    public = history.to_public()
    public.pop("read_at")
    for incident in public["incidents"]:
        if incident["resolved_at"] is None:
            incident.pop("duration_s")  # grows every second while open; shown as "ongoing"
    return public
