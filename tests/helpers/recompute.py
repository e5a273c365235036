"""The landing numbers recomputed in plain Python, written from the definitions in docs/numbers.md: what the
snapshot's SQL and arithmetic are checked against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from statuspage.snapshot import DAILY_DAYS


@dataclass(frozen=True)
class Trade:
    id: int
    closed_at: datetime
    pnl: Decimal
    fees: Decimal


def money(value: Decimal) -> str:
    """Two digits, half away from zero: round the magnitude half up, then put the sign back."""
    cents = int((abs(value) * 100).to_integral_value(rounding=ROUND_HALF_UP))
    return f"{'-' if value < 0 and cents else ''}{cents // 100}.{cents % 100:02d}"


def max_drawdown(pnls: list[Decimal]) -> Decimal:
    """The deepest fall from a running peak of the cumulative pnl; the peak starts at 0."""
    peak = cum = worst = Decimal(0)
    for pnl in pnls:
        cum += pnl
        peak = max(peak, cum)
        worst = max(worst, peak - cum)
    return worst


def window(trades: list[Trade]) -> dict[str, Any]:
    pnls = [t.pnl for t in trades]  # trades come in (closed_at, id) order
    wins, losses = sum(p > 0 for p in pnls), sum(p < 0 for p in pnls)
    gross_profit, gross_loss = sum(p for p in pnls if p > 0), sum(p for p in pnls if p < 0)
    return {
        "trades": len(trades), "wins": wins, "losses": losses,
        "win_rate": wins / len(trades) if trades else None,
        "pnl": money(sum(pnls, Decimal(0))), "fees": money(sum((t.fees for t in trades), Decimal(0))),
        "best_trade": money(max(pnls)) if pnls else None, "worst_trade": money(min(pnls)) if pnls else None,
        "profit_factor": float(gross_profit / -gross_loss) if losses else None,
        "max_drawdown": money(max_drawdown(pnls)),
    }


def expected_public(trades: list[Trade], now: datetime) -> dict[str, Any]:
    ordered = sorted(trades, key=lambda t: (t.closed_at, t.id))
    today = now.astimezone(UTC).date()
    days = [today - timedelta(days=DAILY_DAYS - 1 - i) for i in range(DAILY_DAYS)]

    def day_of(t: Trade) -> date:
        return t.closed_at.astimezone(UTC).date()

    return {
        "as_of": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "stale": False, "currency": "USD",
        "windows": {
            "7d": window([t for t in ordered if t.closed_at > now - timedelta(days=7)]),
            "30d": window([t for t in ordered if t.closed_at > now - timedelta(days=30)]),
            "all": window(ordered),
        },
        "daily": [{
            "day": day.isoformat(),
            "trades": sum(day_of(t) == day for t in ordered),
            "pnl": money(sum((t.pnl for t in ordered if day_of(t) == day), Decimal(0))),
            "cum_trades": sum(day_of(t) <= day for t in ordered),
            "cum_pnl": money(sum((t.pnl for t in ordered if day_of(t) <= day), Decimal(0))),
        } for day in days],
    }
