"""The soak of bench/soak.py as a test: 64 connections for about two minutes through a database
restart, a frozen database, an emptied trades table and rows no number may count.

Slow (about 2.5 minutes) and so not in the default run (pytest.ini: ``-m "not slow"``); run it with
``pytest -m slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import seed_soak_database, soak
from statuspage.demo.pgserver import EmbeddedPostgres


@pytest.mark.slow
def test_page_serves_the_right_numbers_through_restart_freeze_emptied_table_and_bad_rows_and_recovers(
        private_pg: EmbeddedPostgres, tmp_path: Path) -> None:
    expected = seed_soak_database(private_pg.dsn)
    result = soak(private_pg, tmp_path, expected)
    print(result.summary())
    assert result.problems() == [], result.summary()
    assert [p.name for p in result.phases] == ["stop", "freeze", "empty", "bad rows"]
    assert len(result.bodies) >= 4  # numbers read before, between and after the faults were checked
