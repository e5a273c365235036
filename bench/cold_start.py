"""How long a new process takes to serve its first numbers, and what a refresh costs after that:
``python -m bench.cold_start <dsn> [--steady N] [--floor]`` prints one JSON object.

The app is built by the real factory (its pool, its deadlines, its settings' defaults) with the
scheduler off, and ``refresh_job`` is called as the scheduler calls it: a history too long for one
refresh is read in pieces (statuspage/db/chunks.py), the job going on with the next piece at once,
so one call ends when the first snapshot is published (or the read stopped making progress).
Seed a large table first with ``python -m bench.seed_large``.

``--floor`` first times, each alone and as one statement without a timeout, what any exact first
read must ask of the database at the least (``bench/sql/floor_*.sql``): the all-time totals, the
daily totals, the one ordered pass of the cumulative pnl that the max drawdown needs, and the
median duration. Their sum is the floor a cold start cannot go under on this database, however the
page composes them.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import psutil
import psycopg

from statuspage import create_app
from statuspage.config import load_settings
from statuspage.jobs.scheduler import refresh_job

FLOOR = ("totals", "days", "path", "median")


def floor(dsn: str) -> dict[str, float]:
    """Seconds each floor statement takes, run alone (the best of two: the table's pages cached)."""
    out = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        for name in FLOOR:
            text = (Path(__file__).parent / "sql" / f"floor_{name}.sql").read_text()
            runs = []
            for _ in range(2):
                started = time.monotonic()
                conn.execute(text).fetchall()
                runs.append(time.monotonic() - started)
            out[name] = round(min(runs), 2)
    out["sum"] = round(sum(out.values()), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dsn")
    parser.add_argument("--steady", type=int, default=3)
    parser.add_argument("--floor", action="store_true", help="time the floor statements first")
    args = parser.parse_args()
    floor_s = floor(args.dsn) if args.floor else None
    app = create_app(load_settings({"DATABASE_URL": args.dsn}), start_background=False)
    rt = app.extensions["statuspage"]
    rt.pool.wait(timeout=30)
    metrics = rt.state.metrics
    started = time.monotonic()
    refresh_job(rt)
    first_s = time.monotonic() - started
    snap = rt.state.snapshot
    steady = []
    for _ in range(args.steady):
        t = time.monotonic()
        refresh_job(rt)
        steady.append(time.monotonic() - t)
    print(json.dumps({
        "floor_s": floor_s,
        "first_numbers_s": round(first_s, 1),
        "published": snap is not None,
        "trades": snap.windows["all"].trades if snap else None,
        "refreshes_reading": metrics.refreshes.labels("reading")._value.get(),
        "last_error": rt.state.last_refresh_error,
        "steady_refresh_s": [round(s, 3) for s in steady],
        "steady_median_s": round(statistics.median(steady), 3) if steady else None,
        "rss_mb": round(psutil.Process().memory_info().rss / 2**20),  # after the first numbers and steady refreshes
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))
    rt.close()


if __name__ == "__main__":
    main()
