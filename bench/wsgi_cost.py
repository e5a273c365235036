"""What one request costs the app itself, without the server, the kernel or the load generator:
``python -m bench.wsgi_cost <dsn>`` prints the best of 15 timings of 1,000 WSGI calls of the landing
endpoint, the page and the floor at each one's size, in microseconds of this process's CPU, as JSON.

The app is the production one (``create_app``, with gunicorn's multiprocess metrics), its state
filled by one run of each background job; the floor route is added beside it. Other load on the
machine lengthens some timings, and the best of fifteen is the one it did not touch.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any

os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="statuspage-bench-metrics-")  # as under gunicorn

from bench.floor import add_floor
from statuspage import create_app
from statuspage.config import load_settings
from statuspage.jobs.scheduler import history_job, probe_database_job, probe_engine_job, probe_local_job, refresh_job


def call(app: Any, path: str) -> bytes:
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000",
    }
    return b"".join(app(environ, lambda status, headers, exc_info=None: None))


def measure(dsn: str, repeats: int = 15, calls: int = 1000) -> dict[str, float]:
    app = create_app(load_settings({"DATABASE_URL": dsn, "LOG_LEVEL": "WARNING"}), start_background=False)
    add_floor(app)
    runtime = app.extensions["statuspage"]
    try:
        runtime.pool.wait(timeout=30)
        for job in (refresh_job, probe_database_job, probe_engine_job, probe_local_job, history_job):
            job(runtime)
        paths = {"landing": "/performance/landing", "page": "/"}
        paths |= {f"floor_{name}": f"/bench/floor/{len(call(app, path))}" for name, path in paths.items()}
        best = dict.fromkeys(paths, float("inf"))
        for _ in range(repeats):
            for name, path in paths.items():  # interleaved, so that a burst of other load hits every path alike
                started = time.process_time()
                for _ in range(calls):
                    call(app, path)
                best[name] = min(best[name], (time.process_time() - started) / calls * 1e6)
        return best
    finally:
        runtime.close()


if __name__ == "__main__":
    try:
        print(json.dumps(measure(sys.argv[1])))
    finally:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
