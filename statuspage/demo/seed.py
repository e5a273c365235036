"""Realistic closed trades for the demo, the tests and the benchmark (never for production)."""

from __future__ import annotations

import random
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg

from ..db import sql

SYMBOLS = {"BTC-USD": 64000.0, "ETH-USD": 3200.0, "SOL-USD": 150.0, "AVAX-USD": 35.0}
_Q8 = Decimal("0.00000001")


@dataclass(frozen=True)
class Trade:
    id: int
    symbol: str
    side: str
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    pnl: Decimal
    fees: Decimal
    opened_at: datetime
    closed_at: datetime


def make_trade(rng: random.Random, trade_id: int, closed_at: datetime, edge: float = 0.0006) -> Trade:
    """One trade closed at ``closed_at``; ``edge`` is the mean return, negative in a losing spell."""
    symbol = rng.choice(list(SYMBOLS))
    side = rng.choice(("long", "short"))
    entry = SYMBOLS[symbol] * rng.uniform(0.8, 1.2)
    notional = rng.uniform(200, 2500)
    qty = notional / entry
    move = rng.gauss(edge, 0.012)
    exit_ = entry * (1 + move if side == "long" else 1 - move)
    fees = notional * 0.0004 * 2
    gross = (exit_ - entry) * qty if side == "long" else (entry - exit_) * qty
    return Trade(
        id=trade_id, symbol=symbol, side=side,
        qty=Decimal(f"{qty:.8f}"), entry_price=Decimal(f"{entry:.4f}"), exit_price=Decimal(f"{exit_:.4f}"),
        pnl=Decimal(gross - fees).quantize(_Q8), fees=Decimal(fees).quantize(_Q8),
        opened_at=closed_at - timedelta(minutes=rng.uniform(5, 720)), closed_at=closed_at,
    )


def history(n: int, days: float, now: datetime, seed: int = 7) -> list[Trade]:
    """``n`` trades spread over the ``days`` before ``now``, with two losing spells (drawdowns)."""
    rng = random.Random(seed)
    span = days * 86400
    offsets = sorted(rng.uniform(0, span) for _ in range(n))
    trades = []
    for i, offset in enumerate(offsets, start=1):
        fraction = offset / span
        losing = 0.35 < fraction < 0.45 or 0.80 < fraction < 0.86
        closed_at = now - timedelta(seconds=span - offset + 1)
        trades.append(make_trade(rng, i, closed_at, edge=-0.004 if losing else 0.0012))
    return trades


def create_schema(conn: psycopg.Connection) -> None:
    conn.execute(sql("engine_schema"))


def insert(conn: psycopg.Connection, trades: list[Trade]) -> None:
    with conn.cursor() as cur, cur.copy(
        "COPY closed_trades (id, symbol, side, qty, entry_price, exit_price, pnl, fees, opened_at, closed_at) "
        "FROM STDIN"
    ) as copy:
        for trade in trades:
            copy.write_row(astuple(trade))
