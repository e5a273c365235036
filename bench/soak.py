"""Soak through the faults the page must survive: ``python bench/soak.py`` (``pytest -m slow`` runs
it as a test).

The production app under gunicorn (``gunicorn -c gunicorn.conf.py wsgi:app``, two workers) on an
embedded PostgreSQL seeded with 5,000 trades; 64 keep-alive connections against the landing
endpoint, the track record, the page and its polled fragments (with If-None-Match, as htmx polls
them), while the database goes through four phases, one after the other:

1. ``stop``: PostgreSQL stopped for 15 s and started again;
2. ``freeze``: every PostgreSQL process SIGSTOPped for 15 s, then SIGCONT;
3. ``empty``: the trades table swapped for an empty copy for 15 s, then swapped back (no
   ``snapshot accept``: the held numbers are the right ones, and the real table returns);
4. ``bad rows``: a trade with NaN fees and one dated two days ahead inserted, left to the end.

Each fault but the last is followed by 15 s to recover. Passes when, once the first snapshot exists:
no 5xx and no refused connection; every landing JSON keeps the snapshot invariants and its all-time
numbers equal the seeded trades' (computed here in Python): never 0, nothing from the bad rows;
no NaN or Infinity in any JSON or page; /healthz 200 throughout; /status.json's overall, polled on
keep-alive connections (one worker each), changes only while a fault or its recovery is under way;
and each phase's own promise (see ``phase_problems``). Prints each phase's figures.
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
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from http.client import HTTPConnection, HTTPException
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import faults  # noqa: E402
from bench.servers import start_gunicorn  # noqa: E402
from statuspage.db import migrate  # noqa: E402
from statuspage.demo import seed  # noqa: E402
from statuspage.demo.pgserver import EmbeddedPostgres  # noqa: E402

LANDING = "/performance/landing"
TRACK = "/performance/track-record.json"
PATHS = (LANDING, TRACK, "/fragments/windows", "/fragments/components", "/")
# Short intervals so that each 15 s fault is seen and left within the run; everything else production.
SETTINGS = {"REFRESH_INTERVAL_S": "5", "STALE_AFTER_S": "20", "PROBE_INTERVAL_S": "1", "PROBE_TIMEOUT_S": "0.5",
            "PROBE_CONFIRM": "2", "DB_CONNECT_TIMEOUT_S": "1", "POLL_INTERVAL_S": "5"}
_INTERVAL, _TIMEOUT, _CONFIRM = (float(SETTINGS[k]) for k in ("PROBE_INTERVAL_S", "PROBE_TIMEOUT_S", "PROBE_CONFIRM"))
# The machine is shared (2 cores, the load generator on them too): background jobs wake late.
MARGIN_S = 5.0
# README "Health": a frozen database is reported down within PROBE_TIMEOUT_S + PROBE_CONFIRM probes.
DOWN_WITHIN_S = _TIMEOUT + _CONFIRM * _INTERVAL + MARGIN_S
# Once it answers, a probe succeeds within two intervals, then PROBE_CONFIRM - 1 more agree.
UP_WITHIN_S = (2 + _CONFIRM - 1) * _INTERVAL + MARGIN_S
# Numbers read after the fault: the next refresh once the database is back.
FRESH_WITHIN_S = UP_WITHIN_S + float(SETTINGS["REFRESH_INTERVAL_S"])
ALL_KEYS = ("trades", "wins", "losses", "pnl", "fees")
BASELINE = "baseline"


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


def money(value: Decimal) -> str:
    """README "Endpoints": two fraction digits, half away from zero, never -0.00."""
    cents = int((abs(value) * 100).to_integral_value(rounding=ROUND_HALF_UP))
    return f"{'-' if value < 0 and cents else ''}{cents // 100}.{cents % 100:02d}"


def expected_all(trades: list[seed.Trade]) -> dict[str, Any]:
    """The all-time window of these trades, recomputed in plain Python (not the page's SQL)."""
    pnls = [t.pnl for t in trades]
    return {"trades": len(trades), "wins": sum(p > 0 for p in pnls), "losses": sum(p < 0 for p in pnls),
            "pnl": money(sum(pnls, Decimal(0))), "fees": money(sum((t.fees for t in trades), Decimal(0)))}


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} in JSON")


def parse_json(body: bytes) -> Any:
    """JSON as a strict client reads it: NaN and Infinity (Python's extension) are errors."""
    return json.loads(body, parse_constant=_no_constants)


@dataclass(frozen=True)
class Phase:
    name: str
    begin: float  # seconds from the start of the load: the fault applied
    end: float  # the fault removed (the bad rows stay: the end of the load)
    begin_utc: str
    end_utc: str


@dataclass(frozen=True)
class Body:
    """A distinct landing JSON, when first seen."""

    t: float
    as_of: str
    held: bool


@dataclass(frozen=True)
class Status:
    """One /status.json, on a fresh connection (either worker)."""

    t: float
    overall: str
    database: str
    snapshot_detail: str


@dataclass
class SoakResult:
    duration_s: float
    expected: dict[str, Any]  # the all-time window every landing JSON must show
    phases: list[Phase] = field(default_factory=list)
    current: str = BASELINE  # the phase under way (what new responses are counted under)
    responses: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (phase, path, status)
    client_errors: Counter[str] = field(default_factory=Counter)  # connections refused, reset, timed out
    bodies: list[Body] = field(default_factory=list)
    checked: int = 0  # distinct JSON bodies and pages checked
    violations: list[str] = field(default_factory=list)
    status: list[Status] = field(default_factory=list)
    healthz: Counter[tuple[str, int]] = field(default_factory=Counter)  # (phase, status)
    pinned: list[tuple[float, int, str]] = field(default_factory=list)  # (t, connection, overall)

    def server_errors(self) -> int:
        return sum(n for (_, _, status), n in self.responses.items() if status >= 500)

    def next_begin(self, phase: Phase) -> float:
        later = [p.begin for p in self.phases if p.begin > phase.begin]
        return min(later, default=self.duration_s)

    def uncaused_flips(self) -> list[tuple[float, str, str]]:
        """Changes of overall between consecutive polls on one connection (one worker) outside
        every fault and its recovery (FRESH_WITHIN_S after it ends)."""
        windows = [(p.begin, p.end + FRESH_WITHIN_S) for p in self.phases]
        last: dict[int, str] = {}
        flips = []
        for t, conn, overall in self.pinned:
            if conn in last and last[conn] != overall and not any(lo <= t <= hi for lo, hi in windows):
                flips.append((t, last[conn], overall))
            last[conn] = overall
        return flips

    def problems(self) -> list[str]:
        found = []
        if self.server_errors():
            by_path = _tally((path, n) for (_, path, status), n in self.responses.items() if status >= 500)
            found.append(f"{self.server_errors()} responses with 5xx: {dict(by_path)}")
        if self.client_errors:
            found.append(f"client errors: {dict(self.client_errors)}")
        if self.violations:
            found.append(f"{len(self.violations)} violations, first: {self.violations[0]}")
        unhealthy = sum(n for (_, status), n in self.healthz.items() if status != 200)
        if unhealthy or not self.healthz:
            found.append(f"/healthz answered other than 200 {unhealthy} times")
        if flips := self.uncaused_flips():
            found.append(f"overall changed without a fault under way: {flips[:3]}")
        if len({c for _, c, _ in self.pinned}) > 6:
            found.append("the pinned /status.json connections kept dropping")
        for phase in self.phases:
            found += [f"{phase.name}: {p}" for p in phase_problems(self, phase)]
        if [p.name for p in self.phases] != ["stop", "freeze", "empty", "bad rows"]:
            found.append(f"phases run: {[p.name for p in self.phases]}")
        return found

    def summary(self) -> str:
        lines = [f"soak: {self.duration_s:.0f} s at {sum(self.responses.values())} responses; phases "
                 + ", ".join(f"{p.name} {p.begin:.1f}-{p.end:.1f} s" for p in self.phases)]
        for label in [BASELINE, *(p.name for p in self.phases)]:
            counts = _tally((status, n) for (ph, _, status), n in self.responses.items() if ph == label)
            health = _tally((status, n) for (ph, status), n in self.healthz.items() if ph == label)
            lines.append(f"  {label:<9} responses " + ", ".join(f"{s}: {n}" for s, n in sorted(counts.items()))
                         + "; /healthz " + ", ".join(f"{s}: {n}" for s, n in sorted(health.items())))
        for path in PATHS:
            counts = _tally((status, n) for (_, p, status), n in self.responses.items() if p == path)
            lines.append(f"  {path:<32} " + ", ".join(f"{s}: {n}" for s, n in sorted(counts.items())))
        lines.append(f"  {self.server_errors()} with 5xx, client errors {dict(self.client_errors) or 0}; "
                     f"{self.checked} distinct bodies checked, {len(self.violations)} violations; "
                     f"all-time expected {self.expected['trades']} trades, pnl {self.expected['pnl']}")
        lines += [f"  {line}" for p in self.phases for line in phase_figures(self, p)]
        connections = len({c for _, c, _ in self.pinned})
        lines.append(f"  overall on {connections} pinned connections: {len(self.pinned)} polls, "
                     f"{len(self.uncaused_flips())} changes without a cause (windows end {FRESH_WITHIN_S:.0f} s "
                     "after each fault)")
        changes = [(s.t, s.database) for a, s in pairwise(self.status) if a.database != s.database]
        lines.append("  database on /status.json: " + ", ".join(f"{d} at {t:.1f} s" for t, d in changes))
        problems = self.problems()
        lines.append("  PASS" if not problems else "  FAIL: " + "; ".join(problems))
        return "\n".join(lines)


def _tally(pairs: Iterable[tuple[Any, int]]) -> Counter[Any]:
    total: Counter[Any] = Counter()
    for key, n in pairs:
        total[key] += n
    return total


def first_down(result: SoakResult, phase: Phase) -> float | None:
    """Seconds from the fault to the first /status.json reporting the database down."""
    return next((s.t - phase.begin for s in result.status
                 if s.database == "down" and phase.begin <= s.t <= phase.end + MARGIN_S), None)


def settled(result: SoakResult, phase: Phase, good: Callable[[Status], bool]) -> float | None:
    """Seconds from the end of the fault to the first /status.json after which every one (either
    worker) until the next phase is ``good``; None if the last ones are not, or too few were polled."""
    window = [s for s in result.status if phase.end <= s.t < result.next_begin(phase)]
    bad = [s.t for s in window if not good(s)]
    tail = [s for s in window if not bad or s.t > bad[-1]]
    if len(tail) < 5:
        return None
    return max(0.0, tail[0].t - phase.end) if bad else 0.0


def published_after(result: SoakResult, phase: Phase, since_utc: str, since: float) -> float | None:
    """Seconds from ``since`` to the first landing JSON not held and read after ``since_utc``."""
    return next((b.t - since for b in result.bodies
                 if not b.held and b.as_of > since_utc and b.t < result.next_begin(phase)), None)


def _late(value: float | None, bound: float) -> bool:
    return value is None or value > bound


def phase_problems(result: SoakResult, phase: Phase) -> list[str]:
    """What each phase promised (issue 16), beyond what every phase checks."""
    found = []
    if phase.name in ("stop", "freeze"):
        down = first_down(result, phase)
        if _late(down, DOWN_WITHIN_S):
            found.append(f"database not reported down within {DOWN_WITHIN_S} s (after {down})")
        up = settled(result, phase, lambda s: s.database == "operational")
        if _late(up, UP_WITHIN_S):
            found.append(f"database not operational on every worker within {UP_WITHIN_S} s (after {up})")
        fresh = published_after(result, phase, phase.end_utc, phase.end)
        if _late(fresh, FRESH_WITHIN_S):
            found.append(f"no numbers read after the fault within {FRESH_WITHIN_S} s (after {fresh})")
    elif phase.name == "empty":
        held = [b for b in result.bodies if b.held and phase.begin <= b.t <= phase.end + MARGIN_S]
        if not held:
            found.append("the landing JSON never said held")
        reason = f"fell from {result.expected['trades']} to 0"
        if not any(reason in s.snapshot_detail for s in result.status if phase.begin <= s.t <= phase.end + MARGIN_S):
            found.append(f"the snapshot component never said '{reason}'")
        back = published_after(result, phase, phase.end_utc, phase.end)
        if _late(back, FRESH_WITHIN_S):
            found.append(f"numbers not published again within {FRESH_WITHIN_S} s of the swap back (after {back})")
    elif phase.name == "bad rows":
        refused = {(path, s): n for (ph, path, s), n in result.responses.items() if ph == phase.name
                   and s not in (200, 304)}
        if refused:
            found.append(f"answers other than 200/304: {refused}")
        said = [s for s in result.status if phase.begin <= s.t and "2 trades set aside" in s.snapshot_detail]
        if not said or "2 trades set aside" not in result.status[-1].snapshot_detail:
            found.append("the snapshot component did not say (until the end) that 2 trades were set aside")
        if published_after(result, phase, phase.begin_utc, phase.begin) is None:
            found.append("no numbers read after the bad rows were published")
    return found


def phase_figures(result: SoakResult, phase: Phase) -> list[str]:
    def s(value: float | None) -> str:
        return "never" if value is None else f"{value:.1f} s"

    if phase.name in ("stop", "freeze"):
        return [f"{phase.name}: database down after {s(first_down(result, phase))} (bound {DOWN_WITHIN_S} s), "
                f"operational everywhere {s(settled(result, phase, lambda x: x.database == 'operational'))} "
                f"after the end (bound {UP_WITHIN_S} s), numbers read after it published "
                f"{s(published_after(result, phase, phase.end_utc, phase.end))} after the end "
                f"(bound {FRESH_WITHIN_S} s)"]
    if phase.name == "empty":
        held = [b for b in result.bodies if b.held]
        return [f"empty: {len(held)} distinct held landing JSONs, first {s(held[0].t - phase.begin if held else None)}"
                f" after the swap; published again {s(published_after(result, phase, phase.end_utc, phase.end))}"
                " after the swap back"]
    said = next((x.t - phase.begin for x in result.status
                 if x.t >= phase.begin and "2 trades set aside" in x.snapshot_detail), None)
    return [f"bad rows: 'set aside' on /status.json {s(said)} after the insert; numbers read after it "
            f"published {s(published_after(result, phase, phase.begin_utc, phase.begin))} after it"]


class Load:
    """``connections`` threads, each one keep-alive connection cycling through PATHS until stopped."""

    def __init__(self, url: str, connections: int, result: SoakResult, began: float) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.result = result
        self.began = began
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
                self.result.responses[(self.result.current, path, response.status)] += 1
            if response.status == 200:
                self._check(path, body)
        if conn is not None:
            conn.close()

    def _check(self, path: str, body: bytes) -> None:
        """Each distinct body once: no NaN anywhere; the landing's invariants and all-time numbers;
        the track record's all-time count."""
        seen = time.monotonic() - self.began
        digest = hashlib.blake2b(path.encode() + body, digest_size=16).digest()
        with self._lock:
            if digest in self._checked:
                return
            self._checked.add(digest)
        problems, record = [], None
        if path in (LANDING, TRACK):
            try:
                doc = parse_json(body)
            except ValueError as exc:
                doc, problems = None, [f"{path}: {exc}"]
            if doc is not None and path == LANDING:
                problems += landing_violations(doc)
                shown = {k: doc["windows"]["all"][k] for k in ALL_KEYS}
                if shown != self.result.expected:
                    problems.append(f"all-time {shown} (held {doc['held']}), expected {self.result.expected}")
                record = Body(seen, doc["as_of"], doc["held"])
            elif doc is not None and doc["stats"]["all"]["trades"] != self.result.expected["trades"]:
                problems.append(f"track record all-time trades {doc['stats']['all']['trades']}")
        elif b"NaN" in body or b"Infinity" in body:
            problems.append(f"{path}: NaN or Infinity in the page")
        with self._lock:
            self.result.checked += 1
            self.result.violations += problems
            if record is not None:
                self.result.bodies.append(record)


def _watch(url: str, result: SoakResult, began: float, stop: threading.Event, pinned_count: int = 2) -> None:
    """Four times a second: /healthz and /status.json on fresh connections (either worker), and
    /status.json's overall on ``pinned_count`` keep-alive connections (one worker each, until one
    drops: the next is numbered anew)."""
    host, port = url.removeprefix("http://").split(":")
    pinned: list[HTTPConnection | None] = [None] * pinned_count
    numbers, opened = [0] * pinned_count, 0
    while not stop.is_set():
        for path in ("/healthz", "/status.json"):
            conn = HTTPConnection(host, int(port), timeout=10)
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                t = time.monotonic() - began
                if path == "/healthz":
                    result.healthz[(result.current, response.status)] += 1
                    continue
                doc = parse_json(body)
                states = {c["name"]: c for c in doc["components"]}
                result.status.append(Status(t, doc["status"], states["database"]["state"],
                                            states["snapshot"].get("detail") or ""))
            except ValueError as exc:
                result.violations.append(f"/status.json: {exc}")
            except (OSError, HTTPException, KeyError):
                pass
            finally:
                conn.close()
        for i, held in enumerate(pinned):
            try:
                if held is None:
                    opened += 1
                    held, numbers[i] = HTTPConnection(host, int(port), timeout=10), opened
                    pinned[i] = held
                held.request("GET", "/status.json")
                doc = parse_json(held.getresponse().read())
                result.pinned.append((time.monotonic() - began, numbers[i], doc["status"]))
            except (OSError, HTTPException, ValueError):
                if held is not None:
                    held.close()
                pinned[i] = None
        stop.wait(0.25)
    for held in pinned:
        if held is not None:
            held.close()


def seed_soak_database(dsn: str, trades: int = 5000) -> dict[str, Any]:
    """Seed the trades and the page's schema; the all-time window the page must show."""
    history = seed.history(trades, 90, datetime.now(UTC))
    with psycopg.connect(dsn, autocommit=True) as conn:
        seed.create_schema(conn)
        seed.insert(conn, history)
        migrate.migrate(conn)
    return expected_all(history)


def _utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soak(pg: EmbeddedPostgres, log_dir: Path, expected: dict[str, Any], fault_for: float = 15,
         settle: float = 15, baseline: float = 8, bad_for: float = 20, connections: int = 64) -> SoakResult:
    """Run the soak against ``pg`` (running, seeded with ``expected``'s trades, ids 1 to N);
    gunicorn is started and stopped here. Load for baseline + 3 * (fault_for + settle) + bad_for s."""
    duration = baseline + 3 * (fault_for + settle) + bad_for
    server = start_gunicorn("wsgi:app", log_dir, "soak", DATABASE_URL=pg.dsn, **SETTINGS)
    result = SoakResult(duration_s=duration, expected=expected)
    faults_in_order: list[tuple[str, Callable[[], AbstractContextManager[Any]]]] = [
        ("stop", lambda: faults.stopped(pg)),
        ("freeze", lambda: faults.frozen(pg)),
        ("empty", lambda: faults.emptied(pg.dsn)),
    ]
    try:
        server.wait_for(LANDING)
        server.wait_all_workers(LANDING)  # the first snapshot exists everywhere: from here no 5xx
        began = time.monotonic()
        load, stop_watch = Load(server.url, connections, result, began), threading.Event()
        watcher = threading.Thread(target=_watch, args=(server.url, result, began, stop_watch), daemon=True)
        for thread in [*load.threads, watcher]:
            thread.start()

        def until(offset: float) -> None:
            time.sleep(max(0.0, began + offset - time.monotonic()))

        def run(name: str, fault: Callable[[], AbstractContextManager[Any]], at: float, hold: float) -> None:
            until(at)
            result.current = name
            begin, begin_utc = time.monotonic() - began, _utc()
            with fault():
                until(at + hold)
            result.phases.append(Phase(name, begin, time.monotonic() - began, begin_utc, _utc()))

        at = baseline
        for name, fault in faults_in_order:
            run(name, fault, at, fault_for)
            at += fault_for + settle
        trades = expected["trades"]
        run("bad rows", lambda: _inserted(pg.dsn, trades), at, 0)
        until(duration)
        result.phases[-1] = Phase("bad rows", result.phases[-1].begin, duration, result.phases[-1].begin_utc, _utc())
        load.stop.set()
        stop_watch.set()
        for thread in [*load.threads, watcher]:
            thread.join(timeout=15)
    finally:
        server.stop()
        if not pg.is_running():
            pg.start()
    return result


def _inserted(dsn: str, trades: int) -> AbstractContextManager[None]:
    """The bad rows, inserted at once and left in place."""
    faults.insert_bad_rows(dsn, trades + 1, trades + 2, datetime.now(UTC))
    return nullcontext()


def main() -> None:
    parser = argparse.ArgumentParser(description="statuspage soak through a database restart, a frozen database, "
                                     "an emptied trades table and rows no number may count")
    parser.add_argument("--fault-for", type=float, default=15, help="seconds each fault lasts")
    parser.add_argument("--settle", type=float, default=15, help="seconds to recover after each")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    log_dir = ROOT / "bench" / "out"
    log_dir.mkdir(exist_ok=True)
    with EmbeddedPostgres(base_dir=tempfile.gettempdir()) as pg:
        expected = seed_soak_database(pg.dsn)
        result = soak(pg, log_dir, expected, args.fault_for, args.settle, connections=args.connections)
    print(result.summary())
    sys.exit(1 if result.problems() else 0)


if __name__ == "__main__":
    main()
