"""Leader election: one process of the whole deployment holds a PostgreSQL advisory lock on a
dedicated session, and every leader-only write (history, the notification outbox) goes through that
session. A write can therefore succeed only while its writer still holds the lock: when the leader
dies or loses its connection the lock goes with its session, and the next process to try takes over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import psycopg

from .. import deadline

log = logging.getLogger(__name__)

LEADER_LOCK = 0x5354_4154_5553  # pg_try_advisory_lock key: "STATUS"


def identity() -> str:
    """Who writes: host and pid, recorded beside every row a leader writes."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Leader:
    """Holds (or tries to take) the history lock on a connection of its own."""

    def __init__(self, dsn: str, connect_kwargs: dict[str, Any], call_s: float | None = None) -> None:
        self._dsn = dsn
        self.me = identity()
        self._kwargs = {**connect_kwargs, "autocommit": True, "application_name": f"statuspage-history {self.me}"}
        self.conn: psycopg.Connection | None = None
        self.is_leader = False
        self.call_s = call_s  # client-side deadline of each call on the session (a frozen server)
        # The history job and the refresh job (which publishes the snapshot through this session)
        # both call ensure(): one at a time, so they never open two sessions or race on the lock.
        self._ensuring = threading.Lock()

    def ensure(self, reconnect: bool = True) -> bool:
        """Check the session (a dead one loses the lock with it), reconnect (unless told not to),
        try the lock."""
        with self._ensuring:
            return self._ensure(reconnect)

    def _ensure(self, reconnect: bool) -> bool:
        if self.conn is not None:
            try:
                with deadline.guard(self.conn, "history session check", self.call_s):
                    self.conn.execute("SELECT 1")
            except psycopg.Error:
                self._drop("history connection lost")
        if self.conn is None:
            if not reconnect:
                return False
            try:
                self.conn = psycopg.connect(self._dsn, **self._kwargs)
            except psycopg.Error as exc:
                log.warning("history: cannot connect: %s", type(exc).__name__)
                return False
        if not self.is_leader:
            try:
                with deadline.guard(self.conn, "history lock", self.call_s):
                    self.is_leader = bool(self.conn.execute("SELECT pg_try_advisory_lock(%s)",
                                                            (LEADER_LOCK,)).fetchone()[0])
            except psycopg.Error:
                self._drop("history connection lost")
                return False
            if self.is_leader:
                log.info("history: this process (%s) is now the leader", self.me)
        return self.is_leader

    def _drop(self, why: str) -> None:
        if self.is_leader:
            log.warning("history: %s; leadership released", why)
        self.is_leader = False
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def close(self) -> None:
        self._drop("shutting down")
