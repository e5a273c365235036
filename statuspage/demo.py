"""``python -m statuspage demo``: the whole page on one machine with nothing but pip packages.

An embedded PostgreSQL with a seeded history, a simulated engine, a writer that keeps closing
trades, and the same app the production entry point builds.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
from datetime import UTC, datetime

import psycopg
from werkzeug.serving import make_server

from . import create_app, seed
from .config import load_settings
from .pgserver import EmbeddedPostgres
from .simengine import SimEngine

log = logging.getLogger("statuspage.demo")

DEMO_SETTINGS = {"REFRESH_INTERVAL_S": "5", "STALE_AFTER_S": "30", "PROBE_INTERVAL_S": "5",
                 "PROBE_TIMEOUT_S": "2", "POLL_INTERVAL_S": "5", "ENGINE_STALE_AFTER_S": "20"}


def _writer(dsn: str, engine: SimEngine, every_s: float, stop: threading.Event, first_id: int) -> None:
    """The engine's side: close a trade every few seconds while its database connection is on."""
    rng, trade_id = random.Random(), first_id
    while not stop.wait(every_s):
        if not engine.db_connected:
            continue
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                trade_id += 1
                seed.insert(conn, [seed.make_trade(rng, trade_id, datetime.now(UTC))])
        except psycopg.Error as exc:
            log.warning("demo writer: %s", exc)


def run(port: int, trade_every_s: float, trades: int = 450, days: int = 90) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    with EmbeddedPostgres() as pg, SimEngine() as engine:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            seed.create_schema(conn)
            seed.insert(conn, seed.history(trades, days, datetime.now(UTC)))
        env = {**os.environ, **DEMO_SETTINGS, "DATABASE_URL": pg.dsn, "ENGINE_METRICS_URL": engine.url}
        app = create_app(load_settings(env))
        server = make_server("127.0.0.1", port, app, threaded=True)
        writer = threading.Thread(target=_writer, args=(pg.dsn, engine, trade_every_s, stop, trades), daemon=True)
        writer.start()
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
        base = f"http://127.0.0.1:{server.server_port}"
        print(f"\nstatuspage demo: {base}/  (Ctrl-C to stop)", flush=True)
        print(f"  simulated engine: http://127.0.0.1:{engine.port}/control?db=off  (db=on, tick=stop|run, "
              "mode=ok|garbage|error|hang)\n", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            server.server_close()
            app.extensions["statuspage"].close()
            print("statuspage demo: stopping PostgreSQL", flush=True)
