"""What caches in front of the page are told: every answer the same for every visitor says how long
browsers and shared caches may keep it, within the age at which the page would flag its numbers
stale; nothing per-visitor, per-operator or about health ever does; and two instances holding the
same data serve the same bytes under the same ETag, a hash of those bytes, so a cache revalidating
against any of them gets its 304."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from flask import Flask

from statuspage.jobs.scheduler import history_job

from ..helpers.app import PAGE_JOBS, public_gets, run_jobs
from ..helpers.frontends import gunicorn, request
from ..helpers.opsdata import BEARER, TOKEN
from ..helpers.trades import add_trade, utc
from ..helpers.wait import wait_until

T = utc(2026, 4, 30, 12, 0)
# With the defaults (REFRESH_INTERVAL_S 60, STALE_AFTER_S 180) a cache may keep a copy 120 s in all.
DEFAULTS = {"REFRESH_INTERVAL_S": "60", "STALE_AFTER_S": "180"}
LIVE = "public, max-age=5, s-maxage=5, stale-while-revalidate=5, stale-if-error=115"
FRAGMENT = "public, max-age=0, s-maxage=5, stale-while-revalidate=5, stale-if-error=115"
SLOW = "public, max-age=60, s-maxage=60, stale-while-revalidate=60, stale-if-error=60"
API = "public, max-age=30, s-maxage=30, stale-while-revalidate=30, stale-if-error=90"
DOCUMENT = "public, max-age=300, s-maxage=300, stale-while-revalidate=300, stale-if-error=86400"
STATIC = "public, max-age=0, s-maxage=60, stale-while-revalidate=60, stale-if-error=86400"
HEALTH = ("/livez", "/readyz", "/healthz", "/metrics")
STATIC_FILES = ("/static/style.css", "/static/page.js", "/static/favicon.svg", "/static/htmx-2.0.11.min.js")
# Never kept, with and without the operator's token: health, metrics, the operator view, errors.
NEVER = [*HEALTH, "/ops", "/ops.json", "/ops/login", "/nope", "/performance/nope", "/api/v2/nope.json",
         "/static/nope.css", "/badge/nope.svg", "/?range=nope", "/fragments/equity?range=nope"]
# The same bytes from any instance: answers made of the data and the moment it was read only.
SAME_EVERYWHERE = ["/performance/landing", "/performance/track-record.json", "/performance/equity.json",
                   "/performance/daily.csv", "/badge/overall.svg", "/badge/database.svg", "/badge/engine.svg",
                   "/openapi.json", *STATIC_FILES]


def expected_cache_control(path: str) -> str | None:
    """The Cache-Control of a public GET path with the defaults; None for those never kept."""
    if path in HEALTH:
        return None
    if path.startswith("/fragments/"):
        return FRAGMENT
    if path.startswith("/api/v2/"):
        return API
    if path.startswith("/badge/") or path.startswith("/history."):
        return SLOW
    if path == "/openapi.json":
        return DOCUMENT
    if path.startswith("/static/"):
        return STATIC
    return LIVE  # the page, landing, status.json, the track record's JSON and CSV


def blake2b_tag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def ready_app(make_app: Callable[..., Flask], **env: str) -> Flask:
    """An app whose jobs ran once at T, as every process of a deployment does on the same grid."""
    app = make_app(start_background=False, **{**DEFAULTS, **env})
    run_jobs(app, T, (*PAGE_JOBS, history_job), pool_ready=True)
    return app


def no_store(reply_headers: dict[str, str] | object, path: str) -> None:
    value = reply_headers["Cache-Control"]  # type: ignore[index]
    directives = {d.strip() for d in value.split(",")}
    assert "no-store" in directives, (path, value)
    assert not any(d.startswith(("public", "s-maxage", "max-age", "stale-")) for d in directives), (path, value)


@pytest.fixture
def seeded(writer: psycopg.Connection) -> None:
    add_trade(writer, 1, utc(2026, 4, 29), "12.50", fees="0.25")
    add_trade(writer, 2, utc(2026, 4, 30, 9), "-3.10")


def test_every_public_answer_says_how_long_browsers_and_shared_caches_may_keep_it(make_app, seeded) -> None:
    app = ready_app(make_app, OPS_TOKEN=TOKEN)
    client = app.test_client()
    paths = [*public_gets(app), "/?range=1y", "/fragments/equity?range=all", *STATIC_FILES]
    assert "/api/v2/summary.json" in paths and "/performance/daily.csv" in paths  # every route, by itself
    for path in paths:
        reply = client.get(path)
        expected = expected_cache_control(path.split("?")[0])
        if expected is None:
            no_store(reply.headers, path)
            continue
        assert reply.status_code == 200, path
        assert reply.headers["Cache-Control"] == expected, path
        assert reply.headers["ETag"] == blake2b_tag(reply.data), path
        # A 304 repeats them, so that a cache renews its copy for as long again.
        again = client.get(path, headers={"If-None-Match": reply.headers["ETag"]})
        assert again.status_code == 304, path
        assert again.headers["Cache-Control"] == expected and again.headers["ETag"] == reply.headers["ETag"], path


def test_health_metrics_errors_and_the_operator_view_may_never_be_kept(make_app, seeded) -> None:
    client = ready_app(make_app, OPS_TOKEN=TOKEN).test_client()
    for path in NEVER:
        for headers in ({}, BEARER):
            reply = client.get(path, headers=headers)
            assert reply.status_code != 200 or path in HEALTH or path.startswith("/ops"), path
            no_store(reply.headers, path)
    # The operators' API: refused or accepted, never kept.
    for headers in ({}, BEARER):
        no_store(client.post("/api/ops/incidents", json={}, headers=headers).headers, "/api/ops/incidents")


def test_two_instances_with_the_same_data_serve_the_same_bytes_under_the_same_etag(make_app, seeded) -> None:
    first, second = ready_app(make_app).test_client(), ready_app(make_app).test_client()
    for path in SAME_EVERYWHERE:
        one, other = first.get(path), second.get(path)
        assert one.status_code == other.status_code == 200, path
        assert one.data == other.data, path
        assert one.headers["ETag"] == other.headers["ETag"] == blake2b_tag(one.data), path
        # A cache that fetched from one instance revalidates against the other: 304.
        assert second.get(path, headers={"If-None-Match": one.headers["ETag"]}).status_code == 304, path


def test_two_gunicorn_instances_serve_the_landing_under_one_etag(tmp_path: Path, pg_dsn: str, seeded) -> None:
    """Four processes (two instances of two workers) reading on the wall clock's grid: one body, one ETag."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (gunicorn(tmp_path / "a", pg_dsn, REFRESH_INTERVAL_S="2") as one,
          gunicorn(tmp_path / "b", pg_dsn, REFRESH_INTERVAL_S="2") as other):
        def one_answer() -> set[tuple[int, bytes, str]] | None:
            seen = {(r.status, r.body, r.headers.get("etag", "")) for server in (one, other) for _ in range(8)
                    for r in [request(server.url, "/performance/landing")]}
            return seen if len(seen) == 1 else None

        [(status, body, etag)] = wait_until(one_answer, timeout=20, what="every process serving the same landing")
        assert status == 200 and etag == blake2b_tag(body)
