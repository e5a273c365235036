"""The throughput part of the benchmark: the production app under gunicorn beside its floors and
behind nginx, loaded with wrk, side by side in one run (``python bench/run.py --only throughput``).

For each server configuration (gunicorn workers, wrk connections) it starts, at once:

- the app exactly as in production (``gunicorn -c gunicorn.conf.py``, JSON access log, request
  metrics), from ``bench/wsgi_bench.py``: ``wsgi.py`` plus the old in-app floor route
  (bench/floor.py), which answers constant bytes from inside the app, behind all its hooks;
- the bare floor (bench/bare.py under bench/gunicorn_bare.conf.py): a Flask app with no hooks
  answering the app's own bytes and headers (captured from it), same worker class and threads, no
  access log: what Flask under gunicorn can do with these bytes;
- deploy/nginx/statuspage.conf in front of the app twice, over TLS: as shipped (caching) and with
  its cache switched off (the cost of the proxy and TLS alone), started by tests/helpers/frontends.py's
  launcher.

Each target runs in turn, round after round (every other round in reverse), so that each meets the
same spells of other load on the machine as the ones it is compared with.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from bench import bare, report, wrk
from bench.servers import Gunicorn, start_gunicorn
from tests.helpers.frontends import NGINX, Nginx, nginx, self_signed

LANDING, PAGE = "/performance/landing", "/"
PER_ADDRESS = 1024


@dataclass(frozen=True)
class Target:
    url: str
    path: str
    server: Gunicorn  # whose workers' CPU and access log the run is charged to
    conditional: bool = False  # send the ETag the app gave just before: a poll answered 304


def measured(target: Target, tool: str, connections: int, duration: int,
             database: Callable[[], float]) -> wrk.WrkResult:
    """One wrk run, with the statuses gunicorn logged (none for the floor, which logs nothing), the
    CPU time its workers spent and the time the database spent executing statements meanwhile."""
    headers = {"If-None-Match": report.fetch(target.server.url + target.path)[1]} if target.conditional else None
    offset, cpu, db_ms = target.server.log_offset(), target.server.workers_cpu_s(), database()
    result = wrk.run(tool, target.url + target.path, connections, duration, headers)
    cpu, db_ms = target.server.workers_cpu_s() - cpu, database() - db_ms
    return replace(result, statuses=target.server.statuses_since(offset), server_cpu_s=cpu, database_ms=db_ms)


@contextlib.contextmanager
def servers(served: str, out: Path, workers: int) -> Iterator[dict[str, Target | int | Gunicorn]]:
    """Everything one configuration loads, started and ready; stopped after."""
    with contextlib.ExitStack() as stack:
        app = start_gunicorn("bench.wsgi_bench:app", out, f"app-{workers}w", DATABASE_URL=served,
                             WEB_CONCURRENCY=str(workers))
        stack.callback(app.stop)
        app.wait_for(LANDING, timeout=120, every=0.1)
        app.wait_all_workers(LANDING)
        app.wait_all_workers("/history.json")  # the page at its full size: with the history's bars
        same_etag = app.wait_same_etag(LANDING, timeout=70)  # REFRESH_INTERVAL_S is 60
        responses = out / f"bare-{workers}w.json"
        sizes = bare.capture(app.url, [LANDING, PAGE], responses)
        floor = start_gunicorn("bench.bare:app", out, f"bare-{workers}w", config="bench/gunicorn_bare.conf.py",
                               WEB_CONCURRENCY=str(workers), BENCH_BARE_RESPONSES=str(responses))
        stack.callback(floor.stop)
        floor.wait_for(LANDING)
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="statuspage-bench-nginx-")))
        certificate = self_signed(scratch)
        # wrk is one client address standing for many visitors: the per-address limit (32 requests in
        # progress) would answer 429 to the rest of its connections.
        port = int(app.url.rsplit(":", 1)[1])
        cached: Nginx = stack.enter_context(nginx(scratch, port, certificate, per_address=PER_ADDRESS))
        plain: Nginx = stack.enter_context(nginx(scratch, port, certificate, cache=False, name="nginx-plain",
                                                 per_address=PER_ADDRESS))
        yield {
            "bare_landing": Target(floor.url, LANDING, floor),
            "floor_landing": Target(app.url, f"/bench/floor/{sizes[LANDING]}", app),
            "landing": Target(app.url, LANDING, app),
            "landing_304": Target(app.url, LANDING, app, conditional=True),
            "proxied_landing": Target(plain.https_url, LANDING, app),
            "cached_landing": Target(cached.https_url, LANDING, app),
            "bare_page": Target(floor.url, PAGE, floor),
            "floor_page": Target(app.url, f"/bench/floor/{sizes[PAGE]}", app),
            "page": Target(app.url, PAGE, app),
            "proxied_page": Target(plain.https_url, PAGE, app),
            "cached_page": Target(cached.https_url, PAGE, app),
            "app": app, "landing_bytes": sizes[LANDING], "page_bytes": sizes[PAGE], "same_etag": same_etag,
        }


def run(served: str, out: Path, tool: str, configs: list[tuple[int, int]], duration: int, rounds: int,
        database: Callable[[], float]) -> dict[str, object]:
    """Every target of every configuration; facts for report.throughput_section."""
    facts: dict[str, object] = {"configs": configs, "duration": duration, "rounds": rounds}
    for workers, connections in configs:
        key = f"{workers}x{connections}"
        with servers(served, out, workers) as started:
            targets = {name: t for name, t in started.items() if isinstance(t, Target)}
            app = started["app"]
            assert isinstance(app, Gunicorn)
            wrk.run(tool, app.url + LANDING, connections, 2)  # warm-up: connections, caches
            runs: dict[str, list[wrk.WrkResult]] = {name: [] for name in targets}
            for r in range(rounds):
                for name, target in list(targets.items())[:: 1 if r % 2 == 0 else -1]:
                    runs[name].append(measured(target, tool, connections, duration, database))
            facts[key] = {
                "runs": {name: wrk.Rounds(results) for name, results in runs.items()},
                "body_bytes": (started["landing_bytes"], started["page_bytes"]),
                "same_etag": started["same_etag"],
                "rss_mb": app.worker_rss_mb(),
            }
            for name, rounds_of in facts[key]["runs"].items():  # type: ignore[index]
                print(f"  {key:>5} {name:>16} {rounds_of.rps:8.0f} req/s", flush=True)
    return facts


def nginx_version() -> str:
    found = subprocess.run([NGINX or "nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return found.removeprefix("nginx version: ").removeprefix("nginx/") or "unknown"
