"""One read of the engine per deployment: the leader publishes, every other process serves.

The history leader (db/leader.py) is the only process that reads the engine's trades while the
history database is reachable. Each snapshot it read, validated, rendered and put past the guard is
written to ``statuspage.published_snapshot`` in the page's own schema, in one statement and only
while the leader's session holds the advisory lock (sql/published_write.sql). Every other process of
every instance asks for the newest row above the version it serves (one probe of the primary key),
checks it again (``snapshot.violations``, the track record's among them, then the render check) and
serves it: the same snapshot, so the same bytes and ETag everywhere. What the guard holds back is
published too, as the leader's last good snapshot with its ``Hold``, so every process shows the
same "held" numbers with the same reason.

The body is ``codec.dump`` of a ``Publication``: the whole snapshot, its track record with every
trade's duration but the middle ones dropped (``TrackRecord.published``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from . import codec, deadline
from .db import sql
from .db.leader import LEADER_LOCK
from .guard import Hold
from .snapshot import SetAside, Snapshot

KEEP = 5  # rows kept: the newest and a few before it, for an operator to compare
FORMAT = 1


@dataclass(frozen=True)
class Publication:
    """What every process serves: the snapshot (None while the guard holds back the first read), the
    guard's hold if any, and the rows set aside in the leader's latest read."""

    read_at: datetime  # when the leader read the engine
    snapshot: Snapshot | None
    held: Hold | None = None
    excluded: dict[str, SetAside] = field(default_factory=dict)


def of(read_at: datetime, snap: Snapshot | None, held: Hold | None, excluded: dict[str, SetAside]) -> Publication:
    """What a leader that serves ``snap`` publishes (its track record slimmed)."""
    return Publication(read_at, snap.slim() if snap is not None else None, held, excluded)


def encode(pub: Publication) -> str:
    return json.dumps({"format": FORMAT, "publication": codec.dump(pub)}, separators=(",", ":"), allow_nan=False)


def decode(text: str) -> Publication:
    """The publication ``encode`` wrote; ValueError on anything else."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"format {data.get('format') if isinstance(data, dict) else data!r}, expected {FORMAT}")
    return codec.load(Publication, data.get("publication"))  # a missing one is refused, as null


def write(conn: psycopg.Connection, pub: Publication, by: str, call_s: float | None) -> int | None:
    """Publish through the leader's session; the new version, or None when this session does not
    hold the lock (then nothing was written)."""
    params = {"key": LEADER_LOCK, "read_at": pub.read_at,
              "as_of": pub.snapshot.as_of if pub.snapshot is not None else None,
              "body": encode(pub), "by": by, "keep": KEEP}
    with deadline.guard(conn, "snapshot publish", call_s):
        row = conn.execute(sql("published_write"), params).fetchone()
    return None if row is None else int(row[0])


class Reader:
    """This process's session for the published snapshots (history database): one indexed query
    per refresh, each call cut at its deadline; a lost session is replaced at the next call."""

    def __init__(self, dsn: str, connect_kwargs: dict[str, Any], call_s: float | None) -> None:
        self._dsn = dsn
        self._kwargs = {**connect_kwargs, "autocommit": True, "application_name": "statuspage-published"}
        self._call_s = call_s
        self._conn: psycopg.Connection | None = None

    def newest(self, after: int) -> tuple[int, str] | None:
        """(version, body) of the newest row unless its version is ``after`` (one below it is new too:
        the history database restored from an older backup); None when there is none.
        Raises psycopg.Error when the history database cannot be read."""
        reused = self._conn is not None and not self._conn.closed
        try:
            return self._newest(after)
        except psycopg.OperationalError:
            self.close()
            if not reused:
                raise
        # a session kept from before a restart of the history database: once more, on a new one
        try:
            return self._newest(after)
        except psycopg.Error:
            self.close()
            raise

    def _newest(self, after: int) -> tuple[int, str] | None:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, **self._kwargs)
        with deadline.guard(self._conn, "published snapshot read", self._call_s):
            row = self._conn.execute(sql("published_read"), {"after": after}).fetchone()
        return None if row is None or row[1] is None else (int(row[0]), row[1])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
