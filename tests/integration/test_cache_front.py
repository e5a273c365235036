"""deploy/nginx/statuspage.conf as a cache in front of a real gunicorn: it keeps what the app marks
public, for as long as the app's Cache-Control says, revalidates with the ETag, serves a stale copy
only within stale-if-error, fetches a missing entry once however many ask, keys entries by path
alone (and the page's chart range), and never keeps or serves from its cache the operator view or
its API, health, metrics, errors or a request with credentials. nginx is required: without it these
tests fail."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psycopg
import pytest

from statuspage.web.responses import etag_of

from ..helpers.frontends import Nginx, gunicorn, nginx, self_signed
from ..helpers.gunicorn import Gunicorn
from ..helpers.http import Reply
from ..helpers.opsdata import TOKEN
from ..helpers.trades import add_trade, utc
from ..helpers.wait import wait_until

FLUSH_S = 0.25  # ACCESS_FLUSH_S in gunicorn.conf.py: how late an access line may reach the log
# REFRESH_INTERVAL_S 1 and STALE_AFTER_S 9: a cache may keep a copy 8 s in all (web/caching.py),
# the live answers 5 s fresh, then 3 s more while revalidating or while the page fails.
SETTINGS = {"REFRESH_INTERVAL_S": "1", "STALE_AFTER_S": "9", "OPS_TOKEN": TOKEN}
LIVE = "public, max-age=5, s-maxage=5, stale-while-revalidate=3, stale-if-error=3"
CACHEABLE = ["/", "/performance/landing", "/status.json", "/fragments/windows", "/fragments/banner",
             "/badge/overall.svg", "/badge/database.svg", "/history.json", "/history.atom", "/openapi.json",
             "/static/style.css", "/static/page.js", "/performance/track-record.json", "/performance/daily.csv",
             "/api/v2/summary.json"]
NEVER = [("/livez", {}), ("/readyz", {}), ("/healthz", {}), ("/metrics", {}), ("/nope", {}),
         ("/performance/nope", {}), ("/ops", {"Authorization": f"Bearer {TOKEN}"}),
         ("/ops.json", {"Authorization": f"Bearer {TOKEN}"}), ("/ops.json", {}), ("/ops/login", {}),
         ("/api/ops/incidents", {"Authorization": f"Bearer {TOKEN}"}), ("/api/v2/nope.json", {}),
         ("/performance/landing", {"Authorization": "Bearer anything"}),
         ("/performance/landing", {"Cookie": "statuspage_ops=anything"})]


def served(app: Gunicorn, path: str) -> list[dict[str, str]]:
    """The requests gunicorn answered for ``path``, from its access log."""
    lines = app.out.read_text().split("\n")[:-1]  # a line being written is left for the next read
    return [entry for entry in map(json.loads, lines) if entry["path"] == path]


def settled(app: Gunicorn, path: str) -> list[dict[str, str]]:
    """As ``served``, once every line of what was sent so far has reached the log."""
    time.sleep(FLUSH_S * 3)
    return served(app, path)


Stack = Callable[..., AbstractContextManager[tuple[Gunicorn, Nginx]]]


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str, writer: psycopg.Connection) -> Stack:
    """gunicorn on loopback behind the caching nginx, as the README's deployment has it."""
    add_trade(writer, 1, utc(2026, 4, 1), "12.50")

    @contextmanager
    def start(**env: str) -> Iterator[tuple[Gunicorn, Nginx]]:
        with (gunicorn(tmp_path, pg_dsn, loopback_only=True, TRUSTED_PROXY_HOPS="1", **{**SETTINGS, **env}) as app,
              nginx(tmp_path, app.port, self_signed(tmp_path)) as front):
            wait_until(lambda: app.get("/history.json").status == 200, what="history read in every worker")
            yield app, front

    return start


def test_what_the_app_marks_public_is_fetched_once_and_then_served_by_nginx(stack: Stack) -> None:
    with stack() as (app, front):
        before = {path: len(settled(app, path)) for path in CACHEABLE}  # the launcher's own readiness checks
        # A cold entry asked for by 16 visitors at once: one request reaches gunicorn (the cache lock).
        with ThreadPoolExecutor(max_workers=16) as pool:
            first = list(pool.map(lambda _: front.get("/performance/landing"), range(16)))
        assert {r.status for r in first} == {200}
        assert len({r.headers["etag"] for r in first}) == 1
        for path in (p for p in CACHEABLE if p != "/performance/landing"):
            reply = front.get(path)
            assert reply.status == 200, path
            assert reply.headers["x-cache-status"] == "MISS", path
        replies: dict[str, list[Reply]] = {path: [front.get(path) for _ in range(5)] for path in CACHEABLE}
        # The copy served is the app's answer, with its validator and its caching headers; a visitor's
        # own validator is answered by nginx too (within the landing's 5 s).
        landing = replies["/performance/landing"][-1]
        assert landing.headers["etag"] == f'"{etag_of(landing.body)}"'
        assert landing.headers["cache-control"] == LIVE
        again = front.get("/performance/landing", {"If-None-Match": landing.headers["etag"]})
        assert again.status == 304 and again.body == b""
        for path in CACHEABLE:
            assert [r.headers["x-cache-status"] for r in replies[path][1:]] == ["HIT"] * 4, path
        served_now = {path: len(settled(app, path)) - before[path] for path in CACHEABLE}
        assert served_now == dict.fromkeys(CACHEABLE, 1)  # every later answer came from nginx


def test_health_metrics_the_operator_view_errors_and_credentials_always_reach_the_app(stack: Stack) -> None:
    with stack() as (app, front):
        for path, headers in NEVER:
            before = len(settled(app, path))
            for _ in range(3):
                reply = front.get(path, headers)
                assert reply.headers.get("x-cache-status") in ("BYPASS", "MISS", None), (path, reply.headers)
                if path != "/performance/landing":  # a public answer, kept by nobody only because of who asked
                    assert "no-store" in reply.headers["cache-control"], path  # the app says so too
            assert len(settled(app, path)) - before == 3, (path, headers)
        # Nothing of theirs was stored: no entry holds an operator's, health or metrics answer.
        stored = b"".join(p.read_bytes() for p in (front.prefix / "cache").rglob("*") if p.is_file())
        for marker in (b"KEY: /ops", b"KEY: /api/ops", b"KEY: /livez", b"KEY: /readyz", b"KEY: /healthz",
                       b"KEY: /metrics", b"KEY: /nope", b"KEY: /api/v2/nope", b"operator_detail"):
            assert marker not in stored, marker


def test_hosts_query_strings_and_headers_add_no_entries(stack: Stack) -> None:
    with stack() as (app, front):
        before = len(settled(app, "/status.json"))
        assert front.get("/status.json").headers["x-cache-status"] == "MISS"
        for i in range(40):
            reply = front.get(f"/status.json?v={i}", {"Host": f"h{i}.example.net", "X-Forwarded-Host": f"h{i}",
                                                      "Accept-Language": f"x-{i}"})
            assert reply.status == 200 and reply.headers["x-cache-status"] == "HIT"
        assert len(settled(app, "/status.json")) - before == 1
        entries = [p for p in (front.prefix / "cache").rglob("*") if p.is_file()]
        assert len(entries) == 1


def test_an_expired_entry_is_revalidated_with_its_etag(stack: Stack) -> None:
    # The badge's bytes stay the same while its state does: s-maxage 8 (the whole budget), then a
    # conditional request that gunicorn answers 304.
    with stack() as (app, front):
        before = len(settled(app, "/badge/overall.svg"))
        first = front.get("/badge/overall.svg")
        assert first.headers["x-cache-status"] == "MISS"
        assert "s-maxage=8," in first.headers["cache-control"]
        time.sleep(9)
        later = front.get("/badge/overall.svg")
        assert later.status == 200 and later.body == first.body
        assert later.headers["x-cache-status"] == "REVALIDATED"
        assert [e["status"] for e in settled(app, "/badge/overall.svg")[before:]] == ["200", "304"]


def test_a_stale_copy_stands_in_for_a_failing_app_only_within_stale_if_error(stack: Stack) -> None:
    with stack() as (app, front):
        first = front.get("/performance/landing")
        # nginx stored the copy before this, on a clock of whole seconds: 6.5 s after it is past
        # s-maxage (5) whatever the rounding, and inside stale-if-error (3)
        fetched = time.monotonic()
        assert first.headers["x-cache-status"] == "MISS"
        app.proc.send_signal(signal.SIGTERM)  # gunicorn gone: nginx's upstream refuses connections
        app.proc.wait(timeout=30)
        time.sleep(max(0.0, fetched + 6.5 - time.monotonic()))
        stale = front.get("/performance/landing")
        assert stale.status == 200 and stale.body == first.body
        assert stale.headers["x-cache-status"] == "STALE"
        time.sleep(max(0.0, fetched + 10 - time.monotonic()))  # past 5 + 3: the copy is too old to serve
        assert front.get("/performance/landing").status == 502


def test_the_charts_range_is_the_one_query_parameter_that_makes_an_entry(stack: Stack) -> None:
    with stack() as (app, front):
        before = len(settled(app, "/"))
        assert front.get("/?range=1y").headers["x-cache-status"] == "MISS"
        assert front.get("/?range=1y&utm_source=x").headers["x-cache-status"] == "HIT"
        assert front.get("/?range=all").headers["x-cache-status"] == "MISS"
        assert front.get("/").headers["x-cache-status"] == "MISS"
        assert front.get("/?v=1").headers["x-cache-status"] == "HIT"
        equity = front.get("/fragments/equity?range=1y")
        assert equity.status == 200 and equity.headers["x-cache-status"] == "MISS"
        assert front.get("/fragments/equity?range=1y").headers["x-cache-status"] == "HIT"
        # An unknown range is the app's 400, marked no-store: asked again, it reaches the app again.
        for _ in range(2):
            refused = front.get("/?range=nope")
            assert refused.status == 400 and refused.headers["x-cache-status"] == "MISS"
        assert len(settled(app, "/")) - before == 5
