"""Gunicorn settings and server hooks: ``gunicorn -c gunicorn.conf.py wsgi:app``.

The master process only validates, forks and supervises: it builds no app, holds no database
connection and runs no thread. Each worker imports ``wsgi`` after the fork and so builds its own
pool and its own scheduler; /metrics on the same port aggregates every worker through
PROMETHEUS_MULTIPROC_DIR.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

# prometheus_client picks its storage when first imported, and statuspage imports it: the shared
# directory must be in the environment before the imports below, and workers inherit it.
_METRICS_DIR_PREFIX = "statuspage-metrics-"
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=_METRICS_DIR_PREFIX)
_METRICS_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
# Beside it, per instance too: where workers hand each other their last good snapshot
# (statuspage/handoff.py), so a replaced worker that cannot connect serves what its siblings serve.
_SNAPSHOT_DIR_PREFIX = "statuspage-snapshots-"
if not os.environ.get("STATUSPAGE_SNAPSHOT_DIR"):
    os.environ["STATUSPAGE_SNAPSHOT_DIR"] = tempfile.mkdtemp(prefix=_SNAPSHOT_DIR_PREFIX)
_SNAPSHOT_DIR = Path(os.environ["STATUSPAGE_SNAPSHOT_DIR"])

from gunicorn import glogging  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402

from statuspage.config import ConfigError, load_settings, port_number, positive_int  # noqa: E402

_PROBLEMS: list[str] = []  # reported by on_starting, before anything binds or forks


def _env(name: str, parse: Callable[[str], Any], default: str) -> Any:
    """A variable of gunicorn's own, parsed by statuspage.config's parsers; a bad one is noted."""
    raw = os.environ.get(name, "").strip() or default
    try:
        return parse(raw)
    except ValueError as exc:
        _PROBLEMS.append(f"{name} {exc}, got {raw!r}")  # neither is a secret
        return parse(default)


# --- server ---

bind = f"0.0.0.0:{_env('PORT', port_number, '8000')}"  # Render routes to $PORT on all interfaces
workers = _env("WEB_CONCURRENCY", positive_int, "2")
# Threads so that keep-alive works (the sync worker ignores it) and a slow client does not hold a
# whole worker; a request only copies pre-rendered bytes, so four threads are plenty.
worker_class = "gthread"
threads = 4
# Never build the app in the master: a pool opened or a scheduler thread started before fork()
# would be shared by, or silently missing from, every worker. Each worker imports wsgi itself.
preload_app = False
# gunicorn's control socket is an asyncio thread in the master and a Unix socket at a fixed path
# in $HOME; the page does not use gunicornc, and the master stays single-threaded.
control_socket_disable = True
# Not recycled on a request count: a new worker serves 503 until its first refresh.
max_requests = 0
# Whether a request came over HTTPS is the app's decision, from TRUSTED_PROXY_HOPS (statuspage.web.security):
# gunicorn would otherwise believe X-Forwarded-Proto from any peer in forwarded_allow_ips
# (127.0.0.1 by default), whatever the page's setting says.
secure_scheme_headers: dict[str, str] = {}
# Nor a SCRIPT_NAME header (gunicorn believes one from forwarded_allow_ips by default): it would move
# every link of the cached page under a prefix of the sender's choosing, for every visitor.
forwarder_headers = ""  # none: gunicorn wants a comma-separated string

# --- timeouts ---

# A request copies bytes from memory: 30 s without a heartbeat means the worker is stuck.
timeout = 30
# SIGTERM: workers finish in-flight requests, then close their scheduler and pool (worker_exit).
# 20 s is well inside Render's shutdown delay (30 s by default) before it sends SIGKILL.
graceful_timeout = 20
# Longer than the proxy's idle timeout (60 s is the usual load-balancer default), so the proxy,
# not gunicorn, closes idle upstream connections and never reuses one gunicorn just closed.
keepalive = 75

# --- request limits: the page has short paths, no cookies, no request bodies ---

limit_request_line = 2048
limit_request_fields = 50
limit_request_field_size = 8190

# --- logs: errors to stderr, one JSON object per request to stdout ---

errorlog = "-"
accesslog = "-"
# The path without its query string, no header of any kind (no cookies, no auth, no user agent).
# Written by JsonAccessLogger below, which keeps to exactly this shape; gunicorn itself would format
# it through its atoms and the logging module.
access_log_format = json.dumps({
    "time": "%(t)s", "pid": "%(p)s", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s",
    "protocol": "%(H)s", "status": "%(s)s", "bytes": "%(b)s", "duration_ms": "%(M)s",
})

# JSON's own escaping of a string, quotes included (what json.dumps runs for a str): a path with a
# quote, backslash, newline or any non-ASCII character cannot break the line or forge a field.
_quote = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


# How late an access line may reach the log, and how many lines it may hold before that (JsonAccessLogger).
ACCESS_FLUSH_S = 0.25
ACCESS_BUFFER_LINES = 256


class _JsonAtoms(glogging.SafeAtoms):
    """gunicorn's atoms with every string JSON-escaped, for the logging module's path (see below)."""

    def __init__(self, atoms: dict[str, Any]) -> None:
        dict.__init__(self, {key: json.dumps(value)[1:-1] if isinstance(value, str) else value
                             for key, value in atoms.items()})


class JsonAccessLogger(glogging.Logger):
    """gunicorn's logger with a cheaper access log: the line above built with one string format and
    added to a buffer of this worker's, which one write empties into the access log's stream every
    ACCESS_FLUSH_S (from a thread of the worker), when it holds ACCESS_BUFFER_LINES, and when the
    worker exits or reopens its logs.

    gunicorn's own path builds a dictionary of every atom and request header, wraps it, formats it
    through the logging module, and writes each line with a system call of its own (the stream is
    unbuffered under PYTHONUNBUFFERED, which Python images commonly set): together about a quarter of
    what a request cost (bench/PROFILE.md). The line is the same, field for field; the clock's text
    is made once a second and the pid's once a process. The price of the buffer: a line reaches the
    log up to ACCESS_FLUSH_S late, and a worker killed outright (SIGKILL, after `timeout`) loses the
    lines of its last ACCESS_FLUSH_S."""

    atoms_wrapper_class = _JsonAtoms

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # Anything but plain streams (syslog, a logging config of the operator's) goes the usual way.
        handlers = self.access_log.handlers
        self._direct = bool(handlers) and all(isinstance(h, logging.StreamHandler) for h in handlers)
        self._clock: tuple[int, str] = (-1, "")
        self._pid = ""
        # Appended by the request threads, emptied by whoever flushes: deque's append and popleft
        # are atomic, so a request takes no lock (a lock held when the GIL changes hands would stall
        # the worker's other threads behind it).
        self._pending: collections.deque[str] = collections.deque()
        self._flushing = threading.Lock()  # one flush at a time, so lines keep their order

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        if not self._direct:
            super().access(resp, req, environ, request_time)
            return
        second, stamp = self._clock
        if second != int(time.time()):
            second = int(time.time())
            stamp = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))  # gunicorn's %(t)s
            self._clock = (second, stamp)
        if not self._pid:  # set in the worker, after the fork; the master logs no requests
            self._pid = f"<{os.getpid()}>"
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else str(resp.status)
        sent = getattr(resp, "sent", None)
        line = (f'{{"time": "{stamp}", "pid": "{self._pid}", '
                f'"remote": {_quote(environ.get("REMOTE_ADDR", "-"))}, '
                f'"method": {_quote(environ.get("REQUEST_METHOD") or "-")}, '
                f'"path": {_quote(environ.get("PATH_INFO") or "-")}, '
                f'"protocol": {_quote(environ.get("SERVER_PROTOCOL") or "-")}, "status": {_quote(status)}, '
                f'"bytes": "{sent if sent is not None else "-"}", '
                f'"duration_ms": "{request_time.seconds * 1000 + request_time.microseconds // 1000}"}}\n')
        self._pending.append(line)
        if len(self._pending) >= ACCESS_BUFFER_LINES:
            self.flush_access()

    def flush_access(self) -> None:
        """Write what the buffer holds, in one write per stream, in the order it was logged."""
        with self._flushing:
            pending, lines = self._pending, []
            while pending:
                lines.append(pending.popleft())
            if not lines:
                return
            text = "".join(lines)
            for handler in self.access_log.handlers:
                handler.acquire()  # the stream's own lock: one writer at a time
                try:
                    handler.stream.write(text)
                    handler.stream.flush()
                except Exception:
                    self.error(traceback.format_exc())
                finally:
                    handler.release()

    def reopen_files(self) -> None:
        self.flush_access()  # into the file being rotated away, before it is closed
        super().reopen_files()

    def start_flushing(self) -> None:
        """In the worker: flush the access log every ACCESS_FLUSH_S from a daemon thread."""
        def run() -> None:
            while True:
                time.sleep(ACCESS_FLUSH_S)
                try:
                    self.flush_access()
                except Exception:  # a closed or full stream must not end the flushing
                    self.error(traceback.format_exc())

        threading.Thread(target=run, name="access-log-flush", daemon=True).start()


logger_class = JsonAccessLogger


# --- hooks ---


def on_starting(server: Any) -> None:
    """In the master, before binding or forking: a bad setting ends start-up here, once, with one
    line per problem, instead of every worker failing to boot and being restarted."""
    problems = list(_PROBLEMS)
    try:
        load_settings()
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        for problem in problems:
            print(f"statuspage: {problem}", file=sys.stderr, flush=True)
        _remove_own_dirs()
        sys.exit(1)
    # Counters of a previous run would otherwise be summed into this one.
    _METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for leftover in _METRICS_DIR.glob("*.db"):
        leftover.unlink()
    # A new instance starts from its own first read, never from a previous run's numbers.
    _SNAPSHOT_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    for leftover in _SNAPSHOT_DIR.glob("snapshot-*.json"):
        leftover.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """In the master: drop the live gauges of a worker that exited, so no series of a dead pid
    lingers. Counters and histograms keep its counts in the totals, as they should."""
    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """In the worker, once its app is loaded: the access log's flushing thread (JsonAccessLogger)."""
    if isinstance(worker.log, JsonAccessLogger):
        worker.log.start_flushing()


def worker_exit(server: Any, worker: Any) -> None:
    """In the worker, after its last request: stop the scheduler, close the pool, flush the access log."""
    if isinstance(worker.log, JsonAccessLogger):
        worker.log.flush_access()
    app = getattr(worker, "wsgi", None)  # absent when the app failed to load
    runtime = getattr(app, "extensions", {}).get("statuspage")
    if runtime is not None:
        runtime.close()
        server.log.info("worker %s: scheduler stopped, database pool closed", worker.pid)


def on_exit(server: Any) -> None:
    _remove_own_dirs()


def _remove_own_dirs() -> None:
    # Only temporary directories this file created; one an operator named is left alone.
    for directory, prefix in ((_METRICS_DIR, _METRICS_DIR_PREFIX), (_SNAPSHOT_DIR, _SNAPSHOT_DIR_PREFIX)):
        if directory.name.startswith(prefix) and directory.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(directory, ignore_errors=True)
