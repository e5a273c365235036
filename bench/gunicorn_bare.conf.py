"""gunicorn for the honest floor (bench/bare.py): ``gunicorn -c bench/gunicorn_bare.conf.py bench.bare:app``.

Every server setting that shapes what a request costs is read from the production gunicorn.conf.py
itself (worker class, threads, keep-alive, request limits), so the two cannot drift apart; the
workers come from WEB_CONCURRENCY and the port from PORT as there. What is left out is the
production path's own work: no access log, no logger class, no hooks.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

# gunicorn.conf.py makes a metrics directory unless one is named; the floor has no metrics: name a
# path that is never written to, only for the time the file is read.
_NAMED = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _NAMED or os.devnull
_PRODUCTION = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
if _NAMED is None:
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = _PRODUCTION["worker_class"]
threads = _PRODUCTION["threads"]
keepalive = _PRODUCTION["keepalive"]
timeout = _PRODUCTION["timeout"]
preload_app = _PRODUCTION["preload_app"]
control_socket_disable = _PRODUCTION["control_socket_disable"]
max_requests = _PRODUCTION["max_requests"]
limit_request_line = _PRODUCTION["limit_request_line"]
limit_request_fields = _PRODUCTION["limit_request_fields"]
limit_request_field_size = _PRODUCTION["limit_request_field_size"]
secure_scheme_headers = _PRODUCTION["secure_scheme_headers"]
forwarder_headers = _PRODUCTION["forwarder_headers"]
errorlog = "-"
accesslog = None  # the floor: gunicorn writes no access log at all
