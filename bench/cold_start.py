"""How long a new process takes to serve its first numbers, and what a refresh costs after that:
``python -m bench.cold_start <dsn> [--steady N]`` prints one JSON object.

The app is built by the real factory (its pool, its deadlines, its settings' defaults) with the
scheduler off, and ``refresh_job`` is called as the scheduler calls it: a history too long for one
refresh is read in pieces (statuspage/db/chunks.py), the job going on with the next piece at once,
so one call ends when the first snapshot is published (or the read stopped making progress).
Seed a large table first with ``python -m bench.seed_large``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

from statuspage import create_app
from statuspage.config import load_settings
from statuspage.jobs.scheduler import refresh_job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dsn")
    parser.add_argument("--steady", type=int, default=3)
    args = parser.parse_args()
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
        "first_numbers_s": round(first_s, 1),
        "published": snap is not None,
        "trades": snap.windows["all"].trades if snap else None,
        "refreshes_reading": metrics.refreshes.labels("reading")._value.get(),
        "last_error": rt.state.last_refresh_error,
        "steady_refresh_s": [round(s, 3) for s in steady],
        "steady_median_s": round(statistics.median(steady), 3) if steady else None,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))
    rt.close()


if __name__ == "__main__":
    main()
