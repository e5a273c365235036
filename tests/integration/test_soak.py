"""The soak of bench/soak.py as a test: 60 s at 64 connections through a 15 s database outage.

Slow (about 75 s) and so not in the default run (pytest.ini: ``-m "not slow"``); run it with
``pytest -m slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import landing_violations, seed_soak_database, soak
from statuspage.demo.pgserver import EmbeddedPostgres


@pytest.mark.slow
def test_landing_and_page_serve_valid_numbers_through_a_database_restart_and_recover(
        private_pg: EmbeddedPostgres, tmp_path: Path) -> None:
    seed_soak_database(private_pg.dsn)
    result = soak(private_pg, tmp_path)
    print(result.summary())
    assert result.problems() == [], result.summary()
    assert result.bodies_checked >= 2  # numbers read before the outage, and again after it


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
