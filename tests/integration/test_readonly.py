"""The pool that reads the engine's trades cannot write: the server refuses, whatever the SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest
from flask import Flask
from psycopg.errors import ReadOnlySqlTransaction

from statuspage.formatting import utcnow

from ..helpers.trades import add_trade

WRITES = {
    "insert": "INSERT INTO closed_trades (id, symbol, side, qty, entry_price, exit_price, pnl, fees, opened_at,"
              " closed_at) VALUES (2, 'BTC-USD', 'long', 1, 1, 1, 1000000, 0, now(), now())",
    "update": "UPDATE closed_trades SET pnl = 1000000",
    "create": "CREATE TABLE page_was_here (id int)",
}


@pytest.mark.parametrize("statement", WRITES.values(), ids=WRITES.keys())
@pytest.mark.parametrize("explicit_transaction", [False, True], ids=["autocommit", "in-transaction"])
def test_the_engine_pool_is_refused_every_write(writer: psycopg.Connection, make_app: Callable[..., Flask],
                                                statement: str, explicit_transaction: bool) -> None:
    add_trade(writer, 1, utcnow() - timedelta(hours=1), "12.50")
    pool = make_app(start_background=False).extensions["statuspage"].pool
    with pool.connection(timeout=10) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        with pytest.raises(ReadOnlySqlTransaction):
            if explicit_transaction:
                with conn.transaction():
                    conn.execute(statement)
            else:
                conn.execute(statement)
    # Nothing changed, seen through the engine's own connection.
    assert writer.execute("SELECT id, pnl::text FROM closed_trades").fetchall() == [(1, "12.50000000")]
    assert writer.execute("SELECT to_regclass('page_was_here')").fetchone() == (None,)
