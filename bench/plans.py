"""The query plans of one refresh, and the index they rely on, as the database reports them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from statuspage.db import sql
from statuspage.snapshot import query_params

# What a refresh sends, in order, with the parameters it sends them with; the segment before the
# daily range read whole only at start-up, and for one day after each midnight; one day's segment
# for today and the two days where the 7- and 30-day windows begin, every refresh.
REFRESH_QUERIES = ("landing_earlier", "landing_daily", "last_trade")


def explain(dsn: str) -> dict[str, str]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of each query (the second run: caches warm), and the indexes."""
    params = query_params(datetime.now(UTC))
    params.update(earlier_trades=0, earlier_pnl=0)  # the daily query's inputs from the sealed segment
    queries = {name: (name, params) for name in REFRESH_QUERIES}
    queries["landing_sealed (the whole history before the range as one piece)"] = (
        "landing_sealed", {**params, "scan_from": "-infinity", "scan_to": params["until"]})
    queries["landing_sealed (one day's piece)"] = (
        "landing_sealed", {**params, "scan_from": params["until"] - timedelta(days=1), "scan_to": params["until"]})
    found: dict[str, str] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for title, (name, args) in queries.items():
            for _ in range(2):
                rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql(name), args).fetchall()
            found[title] = "\n".join(row[0] for row in rows)
        found["indexes"] = "\n".join(
            row[0] for row in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'closed_trades' "
                                           "ORDER BY indexname").fetchall())
    return found
