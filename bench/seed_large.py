"""A large engine table in one statement, for the 10-million-trade figures:
``python -m bench.seed_large <dsn> [--trades N] [--days D]``.

``statuspage.demo.seed`` builds realistic trades row by row in Python (minutes per million); this
writes ``N`` trades spread evenly over the ``D`` days before now with ``generate_series``, ids in
closed_at order, about 55 % winners, both sides, five symbols, then ``VACUUM ANALYZE`` as autovacuum
leaves a table that stopped growing, and the page's own schema beside it. Prints the seconds it took.
"""

from __future__ import annotations

import argparse
import time

import psycopg

from statuspage.db import migrate
from statuspage.demo import seed

INSERT = """
INSERT INTO closed_trades (id, symbol, side, qty, entry_price, exit_price, pnl, fees, opened_at, closed_at)
SELECT i,
       (ARRAY['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD', 'ADA-USD'])[1 + i %% 5],
       CASE WHEN i %% 3 = 0 THEN 'short' ELSE 'long' END,
       0.5, 100, 101,
       round(((hashint - 0.45) * 40)::numeric, 2),
       0.05,
       closed - make_interval(secs => 60 + i %% 3600),
       closed
FROM (
    SELECT i, now() - make_interval(secs => %(span_s)s * (1 - i::float8 / %(trades)s)) AS closed,
           ((i * 2654435761) %% 1000) / 1000.0 AS hashint
    FROM generate_series(1, %(trades)s) AS i
) AS g
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dsn")
    parser.add_argument("--trades", type=int, default=10_000_000)
    parser.add_argument("--days", type=float, default=1095)
    args = parser.parse_args()
    started = time.monotonic()
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        seed.create_schema(conn)
        conn.execute(INSERT, {"trades": args.trades, "span_s": args.days * 86400})
        conn.execute("VACUUM ANALYZE closed_trades")
        migrate.migrate(conn)  # the page's own schema beside it, as in the demo (its guard's memory)
    print(f"{time.monotonic() - started:.1f}")


if __name__ == "__main__":
    main()
