"""The engine database's work with one instance of one worker and with three instances of two
workers, side by side in one run: ``python -m bench.deployment_load <dsn> [--seconds S] [--refresh R]``
prints one JSON object.

Each deployment is real gunicorn as in production (``gunicorn -c gunicorn.conf.py wsgi:app``), every
instance its own master, all on the one database ``<dsn>`` (engine and page schema, as with no
``HISTORY_DATABASE_URL``). Once every instance serves the same landing bytes, ``pg_stat_statements``
is reset and, ``S`` seconds later, read: the statements that read the engine's table (its calls and
execution time) and the page's reads of the published snapshot. Then, with the larger deployment
still running, one more instance is started and timed from its spawn to serving the same bytes
(a published snapshot exists). Workers' RSS is read with psutil, their peak from /proc (VmHWM).
Needs ``pg_stat_statements`` (the embedded server preloads it); seed first with
``python -m bench.seed_large <dsn>``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from .servers import Gunicorn, _get, start_gunicorn

LANDING = "/performance/landing"


def statements(conn: psycopg.Connection) -> dict[str, dict[str, float]]:
    """Calls and execution ms of the engine-table reads and of the published-snapshot reads since the reset."""
    rows = conn.execute("""
        SELECT CASE WHEN query ILIKE '%%statuspage.published_snapshot%%' THEN 'published'
                    WHEN query ILIKE '%%closed_trades%%' OR query ILIKE '%%pg_stat_all_tables%%' THEN 'engine'
                    ELSE 'other' END AS kind,
               sum(calls)::bigint, sum(total_exec_time)
        FROM pg_stat_statements
        WHERE query NOT ILIKE '%%pg_stat_statements%%'
        GROUP BY 1""").fetchall()
    return {kind: {"calls": int(calls), "exec_ms": round(float(ms), 1)} for kind, calls, ms in rows}


def same_bytes(servers: list[Gunicorn], timeout: float) -> bool:
    """Until every worker of every instance answers the landing with one ETag (40 fresh connections each)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = {_get(s.url, LANDING) for s in servers for _ in range(40)}
        if len(seen) == 1 and next(iter(seen)) is not None and next(iter(seen))[0] == 200:
            return True
        time.sleep(0.5)
    return False


def wait_own_publication(conn: psycopg.Connection, began: Any, timeout: float) -> float:
    """Seconds until a publication written after ``began`` (the database's clock) exists."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if conn.execute("SELECT max(written_at) > %s FROM statuspage.published_snapshot", (began,)).fetchone()[0]:
            return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"no publication of this deployment's leader within {timeout} s")


def in_process(dsn: str, env: dict[str, str]) -> dict[str, Any]:
    """A new process's part of that, without the interpreter's and gunicorn's start: the app built
    by the real factory, then its first refresh (it does not lead: the pickup, with its checks and
    render), timed here; and the publication's size."""
    from statuspage import create_app
    from statuspage.config import load_settings
    from statuspage.jobs.scheduler import refresh_job

    started = time.monotonic()
    app = create_app(load_settings({"DATABASE_URL": dsn, **env}), start_background=False)
    built = time.monotonic()
    rt = app.extensions["statuspage"]
    refresh_job(rt)
    served = time.monotonic()
    try:
        assert rt.state.source == "published" and rt.state.snapshot is not None, rt.state.publish_error
        with psycopg.connect(dsn) as conn:
            size = conn.execute("SELECT octet_length(body) FROM statuspage.published_snapshot "
                                "ORDER BY version DESC LIMIT 1").fetchone()[0]
        return {"create_app_s": round(built - started, 3), "first_refresh_s": round(served - built, 3),
                "publication_bytes": size}
    finally:
        rt.close()


def deployment(dsn: str, instances: int, workers: int, seconds: float, env: dict[str, str], logs: Path,
               conn: psycopg.Connection, late_instance: bool) -> dict[str, Any]:
    servers: list[Gunicorn] = []
    began = conn.execute("SELECT now()").fetchone()[0]
    with contextlib.ExitStack() as stack:
        for i in range(instances):
            server = start_gunicorn("wsgi:app", logs, f"{instances}x{workers}-{i}", DATABASE_URL=dsn,
                                    WEB_CONCURRENCY=str(workers), **env)
            stack.callback(server.stop)
            servers.append(server)
        first = min(s.wait_for(LANDING, timeout=600, every=0.2) for s in servers)
        # the deployment's own leader has read the engine and published: the steady state from here
        # (before that, every process may serve an earlier deployment's publication)
        own = wait_own_publication(conn, began, timeout=900)
        if not same_bytes(servers, timeout=120):
            raise RuntimeError("the instances never served the same landing bytes")
        conn.execute("SELECT pg_stat_statements_reset()")
        time.sleep(seconds)
        load = statements(conn)
        result: dict[str, Any] = {
            "first_numbers_s": round(first, 2),  # an earlier deployment's publication counts
            "own_first_publication_s": round(own, 1),
            "statements": load,
            "engine_exec_ms_per_min": round(load.get("engine", {}).get("exec_ms", 0.0) * 60 / seconds, 1),
            "engine_calls_per_min": round(load.get("engine", {}).get("calls", 0) * 60 / seconds, 1),
            "worker_rss_mb": [round(mb) for s in servers for mb in s.worker_rss_mb()],
            "worker_peak_rss_mb": [round(mb) for s in servers for mb in s.worker_peak_rss_mb()],
        }
        if late_instance:
            late = start_gunicorn("wsgi:app", logs, "late", DATABASE_URL=dsn, WEB_CONCURRENCY="1", **env)
            stack.callback(late.stop)
            served_at = late.wait_for(LANDING, timeout=60, every=0.01)
            reference = _get(servers[0].url, LANDING)
            result["late_instance"] = {"spawn_to_first_200_s": round(served_at, 2),
                                       "same_etag_as_the_others": _get(late.url, LANDING) == reference,
                                       "worker_rss_mb": [round(mb) for mb in late.worker_rss_mb()]}
            result["in_process"] = in_process(dsn, env)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dsn")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--refresh", type=float, default=5, help="REFRESH_INTERVAL_S of every instance")
    args = parser.parse_args()
    env = {"REFRESH_INTERVAL_S": f"{args.refresh:g}", "STALE_AFTER_S": f"{max(30.0, 3 * args.refresh):g}",
           "LOG_LEVEL": "WARNING"}
    with psycopg.connect(args.dsn, autocommit=True) as conn, tempfile.TemporaryDirectory() as logs:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        trades = conn.execute("SELECT count(*) FROM closed_trades").fetchone()[0]
        single = deployment(args.dsn, 1, 1, args.seconds, env, Path(logs), conn, late_instance=False)
        wide = deployment(args.dsn, 3, 2, args.seconds, env, Path(logs), conn, late_instance=True)
    print(json.dumps({
        "trades": trades, "seconds": args.seconds, "refresh_interval_s": args.refresh,
        "1x1": single, "3x2": wide,
        "engine_exec_ratio_3x2_to_1x1": round(wide["engine_exec_ms_per_min"] / single["engine_exec_ms_per_min"], 2)
        if single["engine_exec_ms_per_min"] else None,
        "engine_calls_ratio_3x2_to_1x1": round(wide["engine_calls_per_min"] / single["engine_calls_per_min"], 2)
        if single["engine_calls_per_min"] else None,
    }, indent=1))


if __name__ == "__main__":
    main()
