"""Trades as the engine writes them, and the moments they close at."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg


def add_trade(conn: psycopg.Connection, trade_id: int, closed_at: datetime, pnl: str | Decimal,
              fees: str | Decimal = "0", symbol: str = "BTC-USD", side: str = "long") -> None:
    conn.execute(
        "INSERT INTO closed_trades (id, symbol, side, qty, entry_price, exit_price, pnl, fees, opened_at, closed_at)"
        " VALUES (%s, %s, %s, 1, 100, 101, %s, %s, %s, %s)",
        (trade_id, symbol, side, Decimal(pnl), Decimal(fees), closed_at, closed_at),
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class EngineSession(psycopg.Connection):
    """The engine's session as the tests drive it: after each statement it reports its table
    statistics at once, as a real session does when it idles a second after its last report
    (PostgreSQL flushes them at most once a second). The page's change check reads those counters
    (statuspage/db/changes.py); a test that changes a row and refreshes at once sees what a page
    sees a few seconds later."""

    def execute(self, *args: Any, **kwargs: Any) -> psycopg.Cursor[Any]:
        cur = super().execute(*args, **kwargs)
        super().execute("SELECT pg_stat_force_next_flush()")
        return cur
