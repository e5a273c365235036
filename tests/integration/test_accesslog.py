"""A gunicorn worker that exits writes the access lines it still holds (gunicorn.conf.py's
JsonAccessLogger buffers them for up to ACCESS_FLUSH_S; tests/unit/test_accesslog.py has the line
and the buffer)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

from ..helpers.frontends import gunicorn, request


def test_a_worker_that_exits_writes_the_lines_it_still_holds(tmp_path: Path, pg_dsn: str, writer: Any) -> None:
    with gunicorn(tmp_path, pg_dsn) as app:
        for i in range(5):
            assert request(app.url, f"/last-words-{i}").status == 404
        app.proc.send_signal(signal.SIGTERM)  # at once: well inside one flush interval of the last request
        app.proc.wait(timeout=30)
        time.sleep(0.1)
        paths = [json.loads(line)["path"] for line in app.out.read_text().splitlines()]
        # Each worker writes its own lines, in its own order.
        assert sorted(p for p in paths if p.startswith("/last-words-")) == [f"/last-words-{i}" for i in range(5)]
