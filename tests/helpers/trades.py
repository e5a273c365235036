"""Trades as the engine writes them, and the moments they close at."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

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
