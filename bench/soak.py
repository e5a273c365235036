"""Soak through a database restart: ``python bench/soak.py`` (``pytest -m slow`` runs it as a test).

The production app under gunicorn (``gunicorn -c gunicorn.conf.py wsgi:app``, two workers) on an
embedded PostgreSQL; 64 keep-alive connections for 60 s against the landing endpoint, the page
and its polled fragments (with If-None-Match, as htmx polls them), while the database is stopped
for 15 s and started again. Passes when, once the first snapshot exists: no 5xx from any of them,
every landing JSON satisfies the snapshot invariants, /status.json reports the database down
during the outage, and the page recovers by itself (database operational, numbers read after the
restart) before the end. Prints the counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPConnection, HTTPException
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.servers import start_gunicorn  # noqa: E402
from statuspage.db import migrate  # noqa: E402
from statuspage.demo import seed  # noqa: E402
from statuspage.demo.pgserver import EmbeddedPostgres  # noqa: E402

LANDING = "/performance/landing"
PATHS = (LANDING, "/fragments/windows", "/fragments/components", "/")
# Short intervals so that a 15 s outage is seen and left within the run; everything else production.
SETTINGS = {"REFRESH_INTERVAL_S": "5", "STALE_AFTER_S": "20", "PROBE_INTERVAL_S": "1", "PROBE_TIMEOUT_S": "0.5",
            "PROBE_CONFIRM": "2", "DB_CONNECT_TIMEOUT_S": "1", "POLL_INTERVAL_S": "5"}


def landing_violations(doc: dict[str, Any]) -> list[str]:
    """The snapshot invariants, checked from the public JSON alone."""
    problems = []
    windows = doc.get("windows", {})
    if sorted(windows) != ["30d", "7d", "all"]:
        return [f"windows {sorted(windows)}"]
    for name, w in windows.items():
        if w["wins"] + w["losses"] > w["trades"]:
            problems.append(f"{name}: wins {w['wins']} + losses {w['losses']} > trades {w['trades']}")
        if w["trades"] == 0 and (w["pnl"], w["fees"], w["wins"]) != ("0.00", "0.00", 0):
            problems.append(f"{name}: no trades but pnl {w['pnl']}, fees {w['fees']}, wins {w['wins']}")
    t7, t30, tall = (windows[name]["trades"] for name in ("7d", "30d", "all"))
    if not t7 <= t30 <= tall:
        problems.append(f"trades not nested: {t7}, {t30}, {tall}")
    cums = [day["cum_trades"] for day in doc.get("daily", [])]
    if len(cums) != 30:
        problems.append(f"daily has {len(cums)} days")
    if any(b < a for a, b in pairwise(cums)):
        problems.append("cum_trades decreases")
    if cums and cums[-1] != tall:
        problems.append(f"last cum_trades {cums[-1]} != all-time trades {tall}")
    return problems


@dataclass
class SoakResult:
    duration_s: float
    outage: tuple[float, float]  # seconds from the start of the load: database stopped, started
    responses: Counter[tuple[str, int]] = field(default_factory=Counter)
    client_errors: Counter[str] = field(default_factory=Counter)  # connections refused, reset, timed out
    bodies_checked: int = 0  # distinct landing JSON bodies checked against the invariants
    violations: list[str] = field(default_factory=list)
    database: list[tuple[float, str]] = field(default_factory=list)  # /status.json over time
    latest_as_of: str = ""  # newest landing as_of seen
    restarted_at: str = ""  # when the database was started again (UTC)

    def server_errors(self) -> int:
        return sum(n for (_, status), n in self.responses.items() if status >= 500)

    def down_during_outage(self) -> bool:
        stop, start = self.outage
        return any(state == "down" and stop <= t <= start + 5 for t, state in self.database)

    def recovered(self) -> bool:
        tail = [state for t, state in self.database if t > self.outage[1]][-10:]
        return len(tail) == 10 and set(tail) == {"operational"} and self.latest_as_of > self.restarted_at

    def problems(self) -> list[str]:
        found = []
        if self.server_errors():
            found.append(f"{self.server_errors()} responses with 5xx")
        if self.violations:
            found.append(f"{len(self.violations)} invariant violations, first: {self.violations[0]}")
        if self.client_errors:
            found.append(f"client errors: {dict(self.client_errors)}")
        if not self.down_during_outage():
            found.append("/status.json never reported the database down during the outage")
        if not self.recovered():
            found.append("the page did not recover: database not operational again, or no numbers read after "
                         f"the restart (newest as_of {self.latest_as_of}, restart {self.restarted_at})")
        return found

    def summary(self) -> str:
        lines = [f"soak: {self.duration_s:.0f} s, database stopped at {self.outage[0]:.1f} s and started at "
                 f"{self.outage[1]:.1f} s"]
        for path in PATHS:
            counts = {status: n for (p, status), n in sorted(self.responses.items()) if p == path}
            lines.append(f"  {path:<24} " + ", ".join(f"{status}: {n}" for status, n in counts.items()))
        lines.append(f"  total {sum(self.responses.values())} responses, {self.server_errors()} with 5xx, "
                     f"client errors {dict(self.client_errors) or 0}")
        lines.append(f"  landing bodies checked {self.bodies_checked}, invariant violations {len(self.violations)}")
        changes = [(t, s) for i, (t, s) in enumerate(self.database) if i == 0 or self.database[i - 1][1] != s]
        lines.append("  database on /status.json: " + ", ".join(f"{s} at {t:.1f} s" for t, s in changes))
        lines.append(f"  newest as_of {self.latest_as_of} (database restarted {self.restarted_at})")
        lines.append("  PASS" if not self.problems() else "  FAIL: " + "; ".join(self.problems()))
        return "\n".join(lines)


class Load:
    """``connections`` threads, each one keep-alive connection cycling through PATHS until stopped."""

    def __init__(self, url: str, connections: int, result: SoakResult) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.result = result
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._checked: set[bytes] = set()
        self.threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(connections)]

    def _client(self, offset: int) -> None:
        conn, etags, i = None, {}, offset
        while not self.stop.is_set():
            path = PATHS[i % len(PATHS)]
            i += 1
            try:
                conn = conn or HTTPConnection(*self.address, timeout=10)
                headers = {"If-None-Match": etags[path]} if path.startswith("/fragments/") and path in etags else {}
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, HTTPException) as exc:
                with self._lock:
                    self.result.client_errors[type(exc).__name__] += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
                continue
            if response.getheader("ETag"):
                etags[path] = response.getheader("ETag")
            with self._lock:
                self.result.responses[(path, response.status)] += 1
            if path == LANDING and response.status == 200:
                self._check(body)
        if conn is not None:
            conn.close()

    def _check(self, body: bytes) -> None:
        digest = hashlib.blake2b(body, digest_size=16).digest()
        with self._lock:
            if digest in self._checked:
                return
            self._checked.add(digest)
        doc = json.loads(body)
        problems = landing_violations(doc)
        with self._lock:
            self.result.bodies_checked += 1
            self.result.violations += problems
            self.result.latest_as_of = max(self.result.latest_as_of, doc["as_of"])


def _watch_status(url: str, result: SoakResult, began: float, stop: threading.Event) -> None:
    """The database component as /status.json reports it, four times a second."""
    host, port = url.removeprefix("http://").split(":")
    while not stop.is_set():
        conn = HTTPConnection(host, int(port), timeout=5)
        try:
            conn.request("GET", "/status.json")
            doc = json.loads(conn.getresponse().read())
            state = next(c["state"] for c in doc["components"] if c["name"] == "database")
            result.database.append((time.monotonic() - began, state))
        except (OSError, HTTPException, ValueError, StopIteration):
            pass
        finally:
            conn.close()
        stop.wait(0.25)


def seed_soak_database(dsn: str, trades: int = 5000) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        seed.create_schema(conn)
        seed.insert(conn, seed.history(trades, 90, datetime.now(UTC)))
        migrate.migrate(conn)


def soak(pg: EmbeddedPostgres, log_dir: Path, duration: float = 60, outage_at: float = 15,
         outage_for: float = 15, connections: int = 64) -> SoakResult:
    """Run the soak against ``pg`` (running, seeded); gunicorn is started and stopped here."""
    server = start_gunicorn("wsgi:app", log_dir, "soak", DATABASE_URL=pg.dsn, **SETTINGS)
    result = SoakResult(duration_s=duration, outage=(outage_at, outage_at + outage_for))
    try:
        server.wait_for(LANDING)
        server.wait_all_workers(LANDING)  # the first snapshot exists everywhere: from here no 5xx
        load, stop_watch = Load(server.url, connections, result), threading.Event()
        began = time.monotonic()
        watcher = threading.Thread(target=_watch_status, args=(server.url, result, began, stop_watch), daemon=True)
        for thread in [*load.threads, watcher]:
            thread.start()
        time.sleep(max(0.0, began + outage_at - time.monotonic()))
        stopped = time.monotonic() - began
        pg.stop()
        time.sleep(max(0.0, began + outage_at + outage_for - time.monotonic()))
        pg.start()
        result.restarted_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        result.outage = (stopped, time.monotonic() - began)
        time.sleep(max(0.0, began + duration - time.monotonic()))
        load.stop.set()
        stop_watch.set()
        for thread in [*load.threads, watcher]:
            thread.join(timeout=15)
    finally:
        server.stop()
        if not pg.is_running():
            pg.start()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="statuspage soak through a database restart")
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--outage-at", type=float, default=15)
    parser.add_argument("--outage-for", type=float, default=15)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    log_dir = ROOT / "bench" / "out"
    log_dir.mkdir(exist_ok=True)
    with EmbeddedPostgres(base_dir=tempfile.gettempdir()) as pg:
        seed_soak_database(pg.dsn)
        result = soak(pg, log_dir, args.duration, args.outage_at, args.outage_for, args.connections)
    print(result.summary())
    sys.exit(1 if result.problems() else 0)


if __name__ == "__main__":
    main()
