"""The README's first command: the demo comes up with moving numbers, and Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import psutil

from statuspage.demo.pgserver import free_port

from ..helpers import ROOT
from ..helpers.app import default_sigint
from ..helpers.http import get
from ..helpers.wait import wait_until


def postmasters(port: int) -> set[int]:
    """The postmaster listening on ``port``: other test sessions on the machine run their own."""
    return {p.pid for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "postgres" and "-D" in (cmdline := p.info["cmdline"] or [])
            and str(port) in cmdline[cmdline.index("-p") + 1:cmdline.index("-p") + 2] if "-p" in cmdline}


def test_demo_serves_moving_numbers_and_stops_cleanly(tmp_path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "statuspage", "demo", "--port", str(port), "--trade-every",
                                 "0.5"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=default_sigint,
                                env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"})
    try:
        wait_until(lambda: f"http://127.0.0.1:{port}/" in log.read_text(), timeout=60, what="the URL printed")
        base = f"http://127.0.0.1:{port}"
        first = wait_until(lambda: (r := get(base + "/performance/landing")).status == 200 and r.json(),
                           timeout=30, what="first numbers")
        assert first["windows"]["all"]["trades"] >= 450  # the seeded history, 90 days of it
        assert len({d["day"] for d in first["daily"] if d["trades"]}) > 15
        moved = wait_until(lambda: (n := get(base + "/performance/landing").json())["windows"]["all"]["trades"]
                           > first["windows"]["all"]["trades"] and n, timeout=30, what="numbers moving")
        assert moved["as_of"] > first["as_of"]
        assert get(base + "/").status == 200
        engine = re.search(r"simulated engine: (http://127\.0\.0\.1:\d+)/control", log.read_text()).group(1)
        assert get(engine + "/metrics").status == 200

        # The page logs the database it reads (host and port, never a password).
        pg_port = int(re.search(r"database: host=127\.0\.0\.1 port=(\d+)", log.read_text()).group(1))
        started = postmasters(pg_port)
        assert started, "the demo runs its own PostgreSQL"
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert proc.wait(timeout=20) == 0
        time.sleep(0.5)
        assert not (started & postmasters(pg_port)), "PostgreSQL left running"
        assert "stopping PostgreSQL" in log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
