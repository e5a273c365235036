"""A stand-in for the trading engine's metrics endpoint, for the demo and the tests.

It speaks real Prometheus text over real HTTP on 127.0.0.1, and can be switched into each fault
the page must recognise: database connection lost, main loop stalled, garbage, HTTP 500, hang.

Given its database (``db_dsn``, as the demo does), it holds a connection like the real engine and
checks it on every main-loop iteration: when the database goes away ``engine_db_connected`` turns 0
on its own, and 1 again once a reconnect succeeds. The loop itself keeps ticking meanwhile, as an
engine that catches its database errors and retries does: a lost database and a stalled loop are
two different faults, each with its own switch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import psycopg
from prometheus_client import CollectorRegistry, Gauge, generate_latest

MODES = ("ok", "garbage", "error", "hang")


class SimEngine:
    def __init__(self, port: int = 0, controls: dict[str, Callable[[str], str]] | None = None,
                 db_dsn: str | None = None) -> None:
        # controls: more switches for /control, e.g. the demo's postgres=stop|start
        self.controls = controls or {}
        self.db_connected = True  # the db=on|off switch
        self.db_dsn = db_dsn
        self.db_reachable = True  # the last check of its own database connection (always, without db_dsn)
        self._conn: psycopg.Connection | None = None
        self.ticking = True
        self.mode = "ok"
        self.last_tick = time.time()
        self._registry = CollectorRegistry()
        self._db = Gauge("engine_db_connected", "1 while the main loop holds a working database connection",
                         registry=self._registry)
        self._tick = Gauge("engine_last_tick_timestamp_seconds", "Unix time of the last main-loop iteration",
                           registry=self._registry)
        Gauge("engine_open_positions", "Something the page ignores", registry=self._registry).set(3)
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    @property
    def connected(self) -> bool:
        """What it reports as engine_db_connected: switched on, and its database answering."""
        return self.db_connected and self.db_reachable

    def check_database(self) -> None:
        """A round trip on its own connection; a broken one is dropped and reopened next time."""
        if self.db_dsn is None:
            return
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.db_dsn, autocommit=True, connect_timeout=2,
                                             application_name="simengine")
            self._conn.execute("SELECT 1")
            self.db_reachable = True
        except psycopg.Error:
            self.db_reachable = False
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def tick(self) -> None:
        """One main-loop iteration: check the database, then advance the tick unless stalled."""
        self.check_database()
        if self.ticking:
            self.last_tick = time.time()

    def exposition(self) -> bytes:
        self._db.set(1 if self.connected else 0)
        self._tick.set(self.last_tick)
        return generate_latest(self._registry)

    def control(self, query: dict[str, list[str]]) -> str:
        if "db" in query:
            self.db_connected = query["db"][0] == "on"
        if "tick" in query:
            self.ticking = query["tick"][0] == "run"
        if "mode" in query and query["mode"][0] in MODES:
            self.mode = query["mode"][0]
        extra = "".join(f" {name}={control(query[name][0])}" for name, control in self.controls.items()
                        if name in query)
        return (f"db={'on' if self.db_connected else 'off'} tick={'run' if self.ticking else 'stop'} "
                f"mode={self.mode}{extra}\n")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test and demo output clean
                pass

            def _reply(self, status: int, body: bytes, ctype: str = "text/plain; version=0.0.4") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/control":
                    self._reply(200, engine.control(parse_qs(parts.query)).encode(), "text/plain")
                elif parts.path != "/metrics":
                    self._reply(404, b"not found\n")
                elif engine.mode == "hang":
                    engine._stop.wait(60)  # accept, never answer (bounded so threads end)
                elif engine.mode == "error":
                    self._reply(500, b"internal error\n")
                elif engine.mode == "garbage":
                    self._reply(200, b"<html>this is not {prometheus text\n")
                else:
                    self._reply(200, engine.exposition())

            do_POST = do_GET

        return Handler

    def start(self, tick_every_s: float = 1.0) -> SimEngine:
        def loop() -> None:
            while not self._stop.wait(tick_every_s):
                self.tick()

        self._threads = [threading.Thread(target=self._server.serve_forever, daemon=True),
                         threading.Thread(target=loop, daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads[1:]:  # the loop: it may be using the connection
            thread.join(timeout=5)
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> SimEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
