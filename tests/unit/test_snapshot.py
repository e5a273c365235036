"""The snapshot's arithmetic without a database: money, invariants, composing segments, and the
plain recomputation the property tests trust."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from statuspage.formatting import money
from statuspage.snapshot import DayPoint, Snapshot, WindowStats, violations

from ..helpers import recompute
from ..helpers.recompute import max_drawdown
from ..helpers.trades import utc

T = utc(2026, 4, 30, 14, 30)


def test_money_rounds_half_away_from_zero_and_never_shows_minus_zero() -> None:
    assert [money(Decimal(v)) for v in ("0.005", "-0.005", "-0.004", "2.675", "-277", "0")] == \
        ["0.01", "-0.01", "0.00", "2.68", "-277.00", "0.00"]


def _window(trades: int, wins: int, losses: int, pnl: str = "0") -> WindowStats:
    z = Decimal(0)
    return WindowStats(trades, wins, losses, Decimal(pnl), z, None, None, z, z, z)


def _snapshot(windows: dict[str, WindowStats], cums: list[int]) -> Snapshot:
    days = [T.date() - timedelta(days=29 - i) for i in range(30)]
    daily = tuple(DayPoint(d, 0, Decimal(0), c, Decimal(0)) for d, c in zip(days, cums, strict=True))
    return Snapshot(T, windows, daily, None)


def test_invariants_catch_each_kind_of_inconsistency() -> None:
    ok = {"7d": _window(1, 1, 0, "5"), "30d": _window(2, 1, 1), "all": _window(3, 1, 1)}
    assert violations(_snapshot(ok, [3] * 30)) == []
    empty_with_pnl = {**ok, "7d": _window(0, 0, 0, "-277")}
    assert violations(_snapshot(empty_with_pnl, [3] * 30)) == ["7d: no trades but pnl -277, fees 0, wins 0"]
    too_many = {**ok, "30d": _window(2, 2, 1)}
    assert violations(_snapshot(too_many, [3] * 30)) == ["30d: wins 2 + losses 1 > trades 2"]
    not_nested = {**ok, "30d": _window(4, 1, 1)}
    assert violations(_snapshot(not_nested, [3] * 30)) == ["window trades not nested: 7d 1, 30d 4, all 3"]
    assert violations(_snapshot(ok, [3] * 29 + [2])) == ["daily cum_trades decreases",
                                                        "last daily cum_trades 2 != all-time trades 3"]
    decimal_counts = _snapshot(ok, [Decimal(3)] * 30)  # what the query returns without its casts
    assert violations(decimal_counts) == ["daily counts are Decimal, not integers"]


def test_segments_compose_like_one_run() -> None:
    runs = [["5", "-3", "2"], ["-10", "4"], [], ["7", "-1", "-6", "2"]]

    def segment(pnls: list[str]) -> WindowStats:
        values = [Decimal(p) for p in pnls]
        cum, cums = Decimal(0), [Decimal(0)]
        for v in values:
            cum += v
            cums.append(cum)
        return WindowStats(
            trades=len(values), wins=sum(v > 0 for v in values), losses=sum(v < 0 for v in values),
            pnl=sum(values, Decimal(0)), fees=Decimal(0), best_trade=max(values, default=None),
            worst_trade=min(values, default=None), gross_profit=sum((v for v in values if v > 0), Decimal(0)),
            gross_loss=sum((v for v in values if v < 0), Decimal(0)), max_drawdown=max_drawdown(values),
            peak=max(cums), trough=min(cums))

    composed = segment(runs[0])
    for run in runs[1:]:
        composed = composed.then(segment(run))
    assert composed == segment([p for run in runs for p in run])


def test_the_recomputation_rounds_half_away_from_zero() -> None:
    values = ("0.005", "-0.005", "2.675", "-2.675", "0.00499999", "-0.004", "0")
    assert [recompute.money(Decimal(v)) for v in values] == ["0.01", "-0.01", "2.68", "-2.68", "0.00", "0.00", "0.00"]
