"""The soak's own judge (bench/soak.py): every invariant of a landing JSON it checks."""

from __future__ import annotations

from bench.soak import landing_violations


def test_the_soak_checks_every_invariant_of_the_landing_json() -> None:
    daily = [{"cum_trades": n} for n in [1] * 29 + [3]]
    good = {"windows": {"7d": {"trades": 1, "wins": 1, "losses": 0, "pnl": "2.00", "fees": "0.10"},
                        "30d": {"trades": 2, "wins": 1, "losses": 1, "pnl": "1.00", "fees": "0.20"},
                        "all": {"trades": 3, "wins": 2, "losses": 1, "pnl": "4.00", "fees": "0.30"}},
            "daily": daily}
    assert landing_violations(good) == []
    bad = {"windows": {"7d": {"trades": 0, "wins": 0, "losses": 0, "pnl": "1.00", "fees": "0.00"},
                       "30d": {"trades": 4, "wins": 3, "losses": 2, "pnl": "1.00", "fees": "0.20"},
                       "all": {"trades": 3, "wins": 2, "losses": 1, "pnl": "4.00", "fees": "0.30"}},
           "daily": [{"cum_trades": n} for n in [2] * 28 + [1, 2]]}
    assert landing_violations(bad) == [
        "7d: no trades but pnl 1.00, fees 0.00, wins 0",
        "30d: wins 3 + losses 2 > trades 4",
        "trades not nested: 0, 4, 3",
        "cum_trades decreases",
        "last cum_trades 2 != all-time trades 3",
    ]
