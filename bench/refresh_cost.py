"""The cost of one snapshot refresh, measured in a process of its own:
``python -m bench.refresh_cost <dsn> [--cold N] [--steady N] [--hour N] [--midnight N] [--summary]`` prints one
JSON object (or, with ``--summary``, a markdown table of the medians).

A refresh reads the landing numbers and the track record in one transaction; each run also says
how much of its database time was the track record's statements (``track_*.sql``).

Each run is ``refresh_once`` exactly as the scheduler calls it, through the production pool:
wall time, this process's CPU time (``time.process_time``) and the database's execution time
of every statement it sent (``pg_stat_statements``, reset before each run). A cold run starts
with an empty SealedCache (the first refresh after start-up: one full pass over the history);
steady runs reuse it (every later refresh: the kept history confirmed from the table's statistics,
statuspage/db/changes.py); verify runs reuse it with a verification due (the scan of the kept
history every VERIFY_INTERVAL_S, which every refresh made before the statistics were used: the
old steady refresh, side by side); hour runs reuse it with the hourly parts dropped (the first
refresh of every hour: today's whole hours and the rest of the days where the windows begin read
again); a midnight run starts from a cache read a day earlier (the
first refresh after the daily range has moved on). A history too long for one refresh's deadline
is read in pieces first (db/chunks.py), outside the measured runs.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from statuspage.config import load_settings
from statuspage.db import SQL_DIR, make_pool
from statuspage.db.chunks import ReadInProgress
from statuspage.snapshot import SealedCache, refresh_once

# Statements of this database since the last reset, the monitoring queries themselves left out.
_STATEMENTS = """
SELECT query, calls, total_exec_time FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%pg_stat_statements%'
"""


def _marker(path: Path) -> str:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("--")]
    return re.split(r"[0-9']", lines[0].strip().rstrip(";"), maxsplit=1)[0]


def _sql_names() -> dict[str, str]:
    """A marker of each SQL file, to name what pg_stat_statements reports: the start of its first
    statement line, up to its first literal (which pg_stat_statements may show as ``$n``). The track
    record's segment statement starts with track_trades.sql (statuspage.track.statement); its
    markers come first, being the most specific."""
    names = {_marker(SQL_DIR / "track_trades.sql"): "track_segment",
             _marker(SQL_DIR / "track_chunk.sql"): "track_chunk"}
    for path in [*SQL_DIR.glob("landing_*.sql"), SQL_DIR / "last_trade.sql"]:  # what a refresh sends
        names[_marker(path)] = path.stem
    return names


def _name(query: str, names: dict[str, str]) -> str:
    return next((name for first, name in names.items() if first in query), query.split()[0].lower())


def _warm(pool: ConnectionPool, now: datetime, sealed: SealedCache) -> None:
    """Every piece of a long history read into ``sealed``, as refresh_job's refreshes read them."""
    while True:
        try:
            refresh_once(pool, now, 60, sealed)
            return
        except ReadInProgress:
            continue


def measure(dsn: str, cold: int, steady: int, midnight: int, verify: int = 0,
            hour: int = 0) -> dict[str, list[dict[str, object]]]:
    settings = load_settings({"DATABASE_URL": dsn})
    pool = make_pool(settings)
    pool.wait(timeout=30)
    names = _sql_names()
    runs: dict[str, list[dict[str, object]]] = {"cold": [], "steady": [], "verify": [], "hour": [], "midnight": []}
    with psycopg.connect(dsn, autocommit=True) as admin:
        sealed = SealedCache()
        pairs = min(steady, verify)  # steady and verify runs alternate: each pair under the same load
        kept = ["steady", "verify"] * pairs + ["steady"] * (steady - pairs) + ["verify"] * (verify - pairs)
        kept += ["hour"] * hour
        for kind in ["cold"] * cold + kept + ["midnight"] * midnight:
            now = datetime.now(UTC)
            if kind == "cold":
                sealed = SealedCache()
            elif kind == "midnight":
                sealed = SealedCache()
                # the cache as yesterday's refreshes left it (read_snapshot: its numbers, which
                # count today's trades as future ones, are not the point, only its cache is)
                _warm(pool, now - timedelta(days=1), sealed)
            elif sealed.segment is None:
                _warm(pool, now, sealed)
            if kind == "verify":
                sealed.verify_after = now
            if kind == "hour":
                sealed.pieces.drop()
                sealed.track.pieces.drop()
            admin.execute("SELECT pg_stat_statements_reset()")
            passes, track_reads = sealed.reads, sealed.track.reads
            wall, cpu = time.perf_counter(), time.process_time()
            _warm(pool, now, sealed)  # one refresh, or every piece of a cold read too long for one
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            queries: dict[str, float] = {}
            for query, _calls, ms in admin.execute(_STATEMENTS).fetchall():
                key = _name(query, names)
                queries[key] = queries.get(key, 0.0) + ms
            track_ms = sum(ms for name, ms in queries.items() if name.startswith("track_"))
            runs[kind].append({"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "db_ms": sum(queries.values()),
                               "track_db_ms": track_ms, "queries": queries, "full_passes": sealed.reads - passes,
                               "track_cold_reads": sealed.track.reads - track_reads})
    pool.close()
    return runs


def summary(runs: dict[str, list[dict[str, object]]]) -> str:
    """Medians per kind of refresh, landing and track record apart, as a markdown table."""
    def med(kind: str, key: str) -> float:
        return statistics.median(float(r[key]) for r in runs[kind])  # type: ignore[arg-type]

    lines = ["| refresh | runs | database + CPU | database: landing | database: track record | CPU | wall |",
             "|---|---|---|---|---|---|---|"]
    for kind, label in (("steady", "every refresh"), ("hour", "first of each hour"),
                        ("verify", "a verification (every refresh before)"),
                        ("midnight", "first after midnight"), ("cold", "first after start-up")):
        if runs[kind]:
            total = statistics.median(float(r["db_ms"]) + float(r["cpu_ms"]) for r in runs[kind])  # type: ignore[arg-type]
            landing, track = med(kind, "db_ms") - med(kind, "track_db_ms"), med(kind, "track_db_ms")
            lines.append(f"| {label} | {len(runs[kind])} | {total:.0f} ms | {landing:.0f} ms | {track:.0f} ms | "
                         f"{med(kind, 'cpu_ms'):.1f} ms | {med(kind, 'wall_ms'):.0f} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--steady", type=int, default=9)
    parser.add_argument("--midnight", type=int, default=3)
    parser.add_argument("--hour", type=int, default=0, help="refreshes with the hourly parts read again")
    parser.add_argument("--verify", type=int, default=0,
                        help="refreshes with a verification due, alternating with steady ones")
    parser.add_argument("--summary", action="store_true", help="print a markdown table of the medians instead")
    args = parser.parse_args()
    runs = measure(args.dsn, args.cold, args.steady, args.midnight, args.verify, args.hour)
    print(summary(runs) if args.summary else json.dumps(runs))


if __name__ == "__main__":
    main()
