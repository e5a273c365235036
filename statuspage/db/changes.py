"""Whether the history before a midnight changed, told by PostgreSQL's own statistics and the newest
rows instead of a scan of that history: before the daily range (the segment kept whole), and before
today (the range's whole days, each kept as a segment: ``snapshot._recent``).

The landing numbers keep the segment of every trade before the daily range's first midnight
(``snapshot.SealedCache``). Checking every refresh that it still holds used to take one order-free
scan of those rows (``landing_earlier.sql``): 0.7 to 1.1 s at 10 million trades, growing with the
history. A ``ChangeWatch`` answers from what does not grow: the table's identity and write counters
(``landing_changes.sql``, read before the snapshot's transaction) and the rows with an id above the
highest one seen (``landing_new.sql``, by the primary key). When they show a possible change, the
scan decides, as before; when the scan finds a change, the segment is read again.

Seen at the next refresh:
  - a trade added with an id above every id seen, whatever its closed_at;
  - the table replaced (another oid), truncated, refilled or rewritten (another file);
  - a statistics reset (a counter went down, or the database's reset time moved);
  - anything at all on a standby, whose counters do not count the primary's writes: there every
    refresh scans, as before.
Seen once the writing session has reported its counters (PostgreSQL flushes a session's statistics
at most once a second: at once when it goes idle a second after its last report, otherwise within
10 s of going idle, at the latest 60 s): an update or a delete of any row.
Seen only at the next verification (``VERIFY_INTERVAL_S``: the scan, whatever the counters say) or
the next UTC midnight's full read: a trade inserted with an id below the highest already seen and
closed before the daily range, and a change lost to a reset of this table's counters alone when
they had never counted an update or a delete. A correction that keeps the count and both sums
(two trades exchanging part of their pnl) escapes the scan too: the next midnight's full read, or
a restart, picks it up (docs/numbers.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import Cursor

from . import sql

log = logging.getLogger(__name__)
BEFORE_EVERY_ID = -(2**63)  # bigint's lowest: on an empty table every later row is new


@dataclass(frozen=True)
class TableStats:
    """``landing_changes.sql``: the table's oid and file, its write counters, the database's last
    statistics reset, and whether the server is a standby."""

    relid: int
    filenode: int
    inserted: int
    updated: int
    deleted: int
    reset_at: datetime | None
    standby: bool


def read_stats(conn: psycopg.Connection[Any]) -> TableStats | None:
    """The statistics now, on an autocommit connection outside any transaction: every write they
    count was committed before the snapshot the caller takes next. None without the table, or when
    this role may not read them (every role may, by default): then every refresh scans, as before."""
    try:
        row = conn.execute(sql("landing_changes")).fetchone()
    except psycopg.OperationalError:
        raise  # the connection itself failed: the refresh fails, as it would at its next statement
    except psycopg.Error as exc:
        log.warning("refresh: the table's statistics cannot be read, scanning instead: %s: %s",
                    type(exc).__name__, str(exc).strip())
        return None
    if row is None:
        return None
    return TableStats(**row) if isinstance(row, dict) else TableStats(*row)


@dataclass
class ChangeWatch:
    """The statistics and the highest id the kept history was last confirmed with."""

    base: TableStats | None = None
    last_id: int = BEFORE_EVERY_ID

    def confirm(self, cur: Cursor[dict[str, Any]], stats: TableStats | None) -> None:
        """The kept history was read or scanned in this transaction: watch from here."""
        self.base = stats
        last = cur.execute(sql("landing_last_id")).fetchone()
        self.last_id = BEFORE_EVERY_ID if last is None or last["last_id"] is None else last["last_id"]

    def change(self, cur: Cursor[dict[str, Any]], stats: TableStats | None, until: datetime) -> str | None:
        """Why the history before ``until`` may have changed since it was confirmed, or None when the
        statistics and the new rows show it did not (the watch then moves on to them)."""
        base = self.base
        if base is None or stats is None:
            return "no statistics to compare with"
        if stats.standby:
            return "a standby's statistics do not count the primary's writes"
        if (stats.relid, stats.filenode) != (base.relid, base.filenode):
            return "the table was replaced, truncated or rewritten"
        if stats.reset_at != base.reset_at or any(now < then for now, then in (
                (stats.inserted, base.inserted), (stats.updated, base.updated), (stats.deleted, base.deleted))):
            return "the table's statistics were reset"
        if (stats.updated, stats.deleted) != (base.updated, base.deleted):
            return "rows were updated or deleted"
        new = cur.execute(sql("landing_new"), {"last_id": self.last_id}).fetchone()
        if new is not None and new["first_closed_at"] is not None and new["first_closed_at"] < until:
            return "a trade closed before the daily range was added"
        self.base = stats
        if new is not None and new["last_id"] is not None:
            self.last_id = new["last_id"]
        return None
