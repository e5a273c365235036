"""What one request costs a gunicorn worker, without the network, the poller, the load generator or
the rest of the machine: ``python -m bench.worker_cost <dsn>`` prints, as JSON, microseconds of this
process's CPU per request (the best of 15 timings of 1,000 requests each), at two depths:

- ``wsgi``: the WSGI call alone, the app as Flask runs it;
- ``worker``: the whole request as a gthread worker handles it, on a socket pair: gunicorn parses
  the request, calls the app, writes the answer and the access log line (to a file, as in the
  benchmark), and the test side sends the request and reads the answer back (the same bytes for
  every row, so it adds the same to each).

for three servers: the production app (``create_app``, multiprocess metrics, gunicorn.conf.py),
its in-app floor route (bench/floor.py) and the bare floor (bench/bare.py answering the app's own
bytes under bench/gunicorn_bare.conf.py, which has no access log). The app's state is filled by one
run of each background job. Other load on the machine lengthens some timings; the best of fifteen
is the one it touched least, and the rows are timed in turn so that a burst hits them alike.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="statuspage-bench-metrics-")  # as under gunicorn

from gunicorn.app.base import Application
from gunicorn.workers.gthread import TConn, ThreadWorker

from bench import bare
from bench.floor import add_floor
from statuspage import create_app
from statuspage.config import load_settings
from statuspage.jobs.scheduler import (
    history_job,
    probe_database_job,
    probe_engine_job,
    probe_local_job,
    refresh_job,
)

ROOT = Path(__file__).resolve().parent.parent
PATHS = {"landing": "/performance/landing", "page": "/"}


def call(app: Any, path: str, start_response: Callable[..., Any] = lambda *args: None) -> bytes:
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000",
    }
    return b"".join(app(environ, start_response))


class _Config(Application):
    """gunicorn's own reading of a configuration file, without a command line or an app to load."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__()

    def init(self, parser: Any, opts: Any, args: Any) -> None:
        return None

    def load_config(self) -> None:
        self.load_config_from_file(str(self.path))

    def load(self) -> Any:
        raise NotImplementedError


class Worker:
    """A gthread worker of ``config`` serving ``app`` on one keep-alive connection of a socket pair."""

    def __init__(self, config: Path, app: Any) -> None:
        cfg = _Config(config).cfg
        self.worker = ThreadWorker(0, os.getpid(), [], None, cfg.timeout, cfg, cfg.logger_class(cfg))
        self.worker.wsgi = app
        ours, self.client = socket.socketpair()
        self.conn = TConn(cfg, ours, ("127.0.0.1", 50000), ("127.0.0.1", 8000))
        self.conn.init()

    def request(self, path: str) -> None:
        self.client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: bench\r\n\r\n".encode())
        self.worker.handle_request(next(self.conn.parser), self.conn)
        self.client.setblocking(False)
        try:
            while self.client.recv(1 << 20):
                pass
        except BlockingIOError:
            pass
        self.client.setblocking(True)


def best_of(timings: dict[str, Callable[[], None]], repeats: int, calls: int) -> dict[str, float]:
    best = dict.fromkeys(timings, float("inf"))
    for _ in range(repeats):
        for name, one in timings.items():  # in turn, so that a burst of other load hits every row alike
            started = time.process_time()
            for _ in range(calls):
                one()
            best[name] = min(best[name], (time.process_time() - started) / calls * 1e6)
    return best


def measure(dsn: str, log: Path, repeats: int = 15, calls: int = 1000) -> dict[str, float]:
    app = create_app(load_settings({"DATABASE_URL": dsn, "LOG_LEVEL": "WARNING"}), start_background=False)
    add_floor(app)
    runtime = app.extensions["statuspage"]
    try:
        runtime.pool.wait(timeout=30)
        for job in (refresh_job, probe_database_job, probe_engine_job, probe_local_job, history_job):
            job(runtime)
        answers: dict[str, tuple[bytes, list[tuple[str, str]]]] = {}
        for path in PATHS.values():
            seen: list[list[tuple[str, str]]] = []
            body = call(app, path, lambda status, headers, exc_info=None, seen=seen: seen.append(headers))
            answers[path] = (body, [(k, v) for k, v in seen[0] if k.lower() not in bare.SERVER_HEADERS])
        floor_app = bare.create(answers)
        # The access log's stream is the one gunicorn's logger finds at set-up: a file, as in bench/run.py.
        sys.stdout = log.open("w")
        production = Worker(ROOT / "gunicorn.conf.py", app)
        floor_worker = Worker(ROOT / "bench" / "gunicorn_bare.conf.py", floor_app)
        timings: dict[str, Callable[[], None]] = {}
        for name, path in PATHS.items():
            in_app_floor = f"/bench/floor/{len(answers[path][0])}"
            timings |= {
                f"wsgi:bare_{name}": lambda path=path: call(floor_app, path),  # type: ignore[misc]
                f"wsgi:{name}": lambda path=path: call(app, path),  # type: ignore[misc]
                f"wsgi:floor_{name}": lambda path=in_app_floor: call(app, path),  # type: ignore[misc]
                f"worker:bare_{name}": lambda path=path: floor_worker.request(path),  # type: ignore[misc]
                f"worker:{name}": lambda path=path: production.request(path),  # type: ignore[misc]
                f"worker:floor_{name}": lambda path=in_app_floor: production.request(path),  # type: ignore[misc]
            }
        return best_of(timings, repeats, calls)
    finally:
        sys.stdout = sys.__stdout__
        runtime.close()


if __name__ == "__main__":
    try:
        with tempfile.TemporaryDirectory() as scratch:
            print(json.dumps(measure(sys.argv[1], Path(scratch) / "access.log")))
    finally:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
