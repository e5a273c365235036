"""``python -m statuspage demo``: the whole page on one machine with nothing but pip packages.

An embedded PostgreSQL with a seeded history, a simulated engine, a writer that keeps closing
trades, and the same app the production entry point builds.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
from werkzeug.serving import make_server

from .. import create_app
from ..config import load_settings
from ..db import migrate
from . import seed
from .pgserver import EmbeddedPostgres
from .simengine import SimEngine

log = logging.getLogger("statuspage.demo")

DEMO_SETTINGS = {"REFRESH_INTERVAL_S": "5", "STALE_AFTER_S": "30", "PROBE_INTERVAL_S": "5",
                 "PROBE_TIMEOUT_S": "2", "POLL_INTERVAL_S": "5", "ENGINE_STALE_AFTER_S": "20",
                 "NOTIFY_MIN_INCIDENT_S": "10"}


class _PrintingReceiver:
    """A webhook receiver on 127.0.0.1 that prints what it is told, so the demo shows notifications."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                print(f"statuspage demo: notification received: {json.dumps(body)}", flush=True)
                self.send_response(204)
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/demo-receiver"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _writer(dsn: str, engine: SimEngine, every_s: float, stop: threading.Event, first_id: int) -> None:
    """The engine's side: close a trade every few seconds while it has its database (switched on
    and answering: with the demo's PostgreSQL stopped it has none, as a real engine would not)."""
    rng, trade_id = random.Random(), first_id
    while not stop.wait(every_s):
        if not engine.connected:
            continue
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                trade_id += 1
                seed.insert(conn, [seed.make_trade(rng, trade_id, datetime.now(UTC))])
        except psycopg.Error as exc:
            log.warning("demo writer: %s", exc)


def _switch(pg: EmbeddedPostgres, action: str) -> str:
    """The demo's own fault switch (postgres=stop|start): the database goes away under the page."""
    if action == "stop" and pg.is_running():
        pg.stop()
    elif action == "start" and not pg.is_running():
        pg.start()
    return "running" if pg.is_running() else "stopped"


def run(port: int, trade_every_s: float, trades: int = 450, days: int = 90) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    with EmbeddedPostgres() as pg, SimEngine(controls={"postgres": lambda action: _switch(pg, action)},
                                             db_dsn=pg.dsn) as engine:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            seed.create_schema(conn)
            seed.insert(conn, seed.history(trades, days, datetime.now(UTC)))
            migrate.migrate(conn)
        receiver = _PrintingReceiver()
        hooks = ",".join(filter(None, [os.environ.get("NOTIFY_WEBHOOK_URLS", ""), receiver.url]))
        env = {**os.environ, **DEMO_SETTINGS, "DATABASE_URL": pg.dsn, "ENGINE_METRICS_URL": engine.url,
               "NOTIFY_WEBHOOK_URLS": hooks}
        app = create_app(load_settings(env))
        server = make_server("127.0.0.1", port, app, threaded=True)
        writer = threading.Thread(target=_writer, args=(pg.dsn, engine, trade_every_s, stop, trades), daemon=True)
        writer.start()
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
        base = f"http://127.0.0.1:{server.server_port}"
        print(f"\nstatuspage demo: {base}/  (Ctrl-C to stop)", flush=True)
        print(f"  simulated engine: http://127.0.0.1:{engine.port}/control?db=off  (db=on, tick=stop|run, "
              "mode=ok|garbage|error|hang, postgres=stop|start)", flush=True)
        print("  notifications: printed here (a local webhook receiver); incidents shorter than "
              f"{DEMO_SETTINGS['NOTIFY_MIN_INCIDENT_S']} s send nothing\n", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            server.server_close()
            app.extensions["statuspage"].close()
            receiver.close()
            print("statuspage demo: stopping PostgreSQL", flush=True)
