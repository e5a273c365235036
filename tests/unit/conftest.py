"""The fast suite: no database, no server, no subprocess; ``python -m pytest tests/unit`` runs alone in seconds.

A unit test that asks for a fixture that starts PostgreSQL or a server (directly or through
another fixture) fails before that fixture is set up, so the quick loop never starts one.
"""

from __future__ import annotations

import pytest

# Fixtures of tests/conftest.py that start PostgreSQL or a server; writer, make_app and app reach
# them through pg_dsn.
NOT_IN_UNIT_TESTS = ("pg_dsn", "private_pg", "serve", "engine", "start_gunicorn")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    needed = [name for name in NOT_IN_UNIT_TESTS if name in getattr(item, "fixturenames", ())]
    if needed:
        pytest.fail(f"{item.nodeid} needs {', '.join(needed)}: a unit test uses no database and no server; "
                    "move it to tests/integration/", pytrace=False)
