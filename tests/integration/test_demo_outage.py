"""The demo's postgres=stop switch shows the original incident's pattern: the simulated engine loses
its database like a real engine would (engine_db_connected 0, the engine badge degraded while its
metrics endpoint answers), the page's own database badge goes down, the alert is sent during the
outage, and everything comes back with the database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

from statuspage.demo.pgserver import free_port
from statuspage.jobs.probes import parse_engine_metrics

from ..helpers import ROOT
from ..helpers.app import default_sigint
from ..helpers.http import get
from ..helpers.wait import wait_until


def test_stopping_the_demo_database_takes_the_engine_database_connection_with_it(tmp_path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "statuspage", "demo", "--port", str(port)], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=default_sigint,
                                env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",
                                                                                     "NOTIFY_WEBHOOK_URLS")})
    base = f"http://127.0.0.1:{port}"

    def component(name: str) -> dict:
        reply = get(base + "/status.json")
        return next(c for c in reply.json()["components"] if c["name"] == name) if reply.status == 200 else {}

    try:
        wait_until(lambda: base in log.read_text(), timeout=60, what="the demo's URL printed")
        engine = re.search(r"simulated engine: (http://127\.0\.0\.1:\d+)/control", log.read_text()).group(1)

        def gauges() -> dict[str, float]:
            return parse_engine_metrics(get(engine + "/metrics").text)

        wait_until(lambda: component("engine").get("state") == "operational", timeout=30, what="engine operational")
        assert gauges()["db_connected"] == 1

        assert "postgres=stopped" in get(engine + "/control?postgres=stop").text
        # the engine notices on its next loop iteration, as a real one whose queries fail
        wait_until(lambda: gauges()["db_connected"] == 0, timeout=10, what="engine_db_connected 0")
        assert time.time() - gauges()["last_tick"] < 5  # its loop keeps ticking: a lost database, not a stall
        wait_until(lambda: component("engine").get("state") == "degraded", timeout=40, what="engine degraded")
        assert component("engine")["detail"].startswith("engine reports no database connection")
        assert component("metrics")["state"] == "operational"
        wait_until(lambda: component("database").get("state") == "down", timeout=40, what="database down")

        # history and outbox share the demo's database: the alert goes out directly, during the outage
        def alerted() -> bool:
            return any(body["event"] == "incident.opened" and body["component"] == "database"
                       for body in _notifications(log.read_text()))

        wait_until(alerted, timeout=60, what="the database alert while PostgreSQL is stopped")
        assert "postgres=stopped" in get(engine + "/control?postgres=status").text  # still stopped when it came

        assert "postgres=running" in get(engine + "/control?postgres=start").text
        wait_until(lambda: gauges()["db_connected"] == 1, timeout=15, what="engine_db_connected 1 again")
        wait_until(lambda: component("engine").get("state") == "operational", timeout=40,
                   what="engine operational again")
        wait_until(lambda: component("database").get("state") == "operational", timeout=40,
                   what="database operational again")

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert "Traceback" not in log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _notifications(text: str) -> list[dict]:
    prefix = "statuspage demo: notification received: "
    return [json.loads(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix)]
