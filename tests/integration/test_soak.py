"""The soak of bench/soak.py as a test: 60 s at 64 connections through a 15 s database outage.

Slow (about 75 s) and so not in the default run (pytest.ini: ``-m "not slow"``); run it with
``pytest -m slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import seed_soak_database, soak
from statuspage.demo.pgserver import EmbeddedPostgres


@pytest.mark.slow
def test_landing_and_page_serve_valid_numbers_through_a_database_restart_and_recover(
        private_pg: EmbeddedPostgres, tmp_path: Path) -> None:
    seed_soak_database(private_pg.dsn)
    result = soak(private_pg, tmp_path)
    print(result.summary())
    assert result.problems() == [], result.summary()
    assert result.bodies_checked >= 2  # numbers read before the outage, and again after it
