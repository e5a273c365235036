"""The cost of one snapshot refresh, measured in a process of its own:
``python -m bench.refresh_cost <dsn> [--cold N] [--steady N] [--midnight N]`` prints one JSON object.

Each run is ``refresh_once`` exactly as the scheduler calls it, through the production pool:
wall time, this process's CPU time (``time.process_time``) and the database's execution time
of every statement it sent (``pg_stat_statements``, reset before each run). A cold run starts
with an empty SealedCache (the first refresh after start-up: one full pass over the history);
steady runs reuse it (every later refresh); a midnight run starts from a cache read a day
earlier (the first refresh after the daily range has moved on).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import UTC, datetime, timedelta

import psycopg

from statuspage.config import load_settings
from statuspage.db import SQL_DIR, make_pool
from statuspage.snapshot import SealedCache, read_snapshot, refresh_once

# Statements of this database since the last reset, the monitoring queries themselves left out.
_STATEMENTS = """
SELECT query, calls, total_exec_time FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%pg_stat_statements%'
"""


def _sql_names() -> dict[str, str]:
    """A marker of each SQL file, to name what pg_stat_statements reports: the start of its first
    statement line, up to its first literal (which pg_stat_statements may show as ``$n``)."""
    names = {}
    for path in [*SQL_DIR.glob("landing_*.sql"), SQL_DIR / "last_trade.sql"]:  # what a refresh sends
        lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("--")]
        names[re.split(r"[0-9']", lines[0].strip().rstrip(";"), maxsplit=1)[0]] = path.stem
    return names


def _name(query: str, names: dict[str, str]) -> str:
    return next((name for first, name in names.items() if first in query), query.split()[0].lower())


def measure(dsn: str, cold: int, steady: int, midnight: int) -> dict[str, list[dict[str, object]]]:
    settings = load_settings({"DATABASE_URL": dsn})
    pool = make_pool(settings)
    pool.wait(timeout=30)
    names = _sql_names()
    runs: dict[str, list[dict[str, object]]] = {"cold": [], "steady": [], "midnight": []}
    with psycopg.connect(dsn, autocommit=True) as admin:
        sealed = SealedCache()
        for kind in ["cold"] * cold + ["steady"] * steady + ["midnight"] * midnight:
            now = datetime.now(UTC)
            if kind == "cold":
                sealed = SealedCache()
            elif kind == "midnight":
                sealed = SealedCache()
                # the cache as yesterday's refreshes left it (read_snapshot: its numbers, which
                # count today's trades as future ones, are not the point, only its cache is)
                read_snapshot(pool, now - timedelta(days=1), 60, sealed)
            admin.execute("SELECT pg_stat_statements_reset()")
            passes = sealed.reads
            wall, cpu = time.perf_counter(), time.process_time()
            refresh_once(pool, now, 60, sealed)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            queries: dict[str, float] = {}
            for query, _calls, ms in admin.execute(_STATEMENTS).fetchall():
                key = _name(query, names)
                queries[key] = queries.get(key, 0.0) + ms
            runs[kind].append({"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "db_ms": sum(queries.values()),
                               "queries": queries, "full_passes": sealed.reads - passes})
    pool.close()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--steady", type=int, default=9)
    parser.add_argument("--midnight", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.dsn, args.cold, args.steady, args.midnight)))


if __name__ == "__main__":
    main()
