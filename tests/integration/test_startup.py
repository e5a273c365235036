"""Start-up without DATABASE_URL, as a process: the one-line message, and no connection anywhere
(the incident began with a lost DATABASE_URL and a silent localhost)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

from ..helpers import ROOT


def test_start_without_database_url_exits_with_the_message_and_connects_nowhere() -> None:
    # A listener where libpq's own defaults would point (PGHOST/PGPORT): it must see no connection.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    accepted = []

    def accept() -> None:
        for _ in range(50):  # bounded: about 10 s
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(PGHOST="127.0.0.1", PGPORT=str(listener.getsockname()[1]))
    try:
        proc = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=30)
    finally:
        listener.close()
        thread.join(timeout=15)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "statuspage: DATABASE_URL is not set: set DATABASE_URL to the engine database, "
        "e.g. postgresql://user:password@host:5432/dbname"
    ]
    assert accepted == []
