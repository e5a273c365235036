"""What a visitor sends never becomes what others are served: a forged Host (or any forwarding
header) appears in no answer, the Atom feed's links come from PUBLIC_URL or are relative, and no
cache or metric grows with the hosts, query strings, paths or methods requests carry."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

import psycopg
import pytest
from flask import Flask

from statuspage.jobs.scheduler import history_job, probe_database_job, refresh_job
from statuspage.status import Observation
from statuspage.vocabulary import DOWN, OPERATIONAL

from ..helpers.frontends import gunicorn, request
from ..helpers.http import LiveServer, Reply
from ..helpers.trades import add_trade, utc

ATOM = "{http://www.w3.org/2005/Atom}"
T = utc(2026, 4, 30, 12, 0)
TOKEN = "ops-token-for-host-header-tests"
# Every header a proxy or framework has been known to build URLs from, each naming an attacker's host.
FORGED = {"Host": "evil-host.example", "X-Forwarded-Host": "evil-xfh.example", "X-Forwarded-Server": "evil-xfs.example",
          "Forwarded": "for=192.0.2.1;host=evil-fwd.example;proto=https", "X-Forwarded-Prefix": "/evil-prefix",
          "X-Original-URL": "/evil-url", "X-Rewrite-URL": "/evil-url", "X-Forwarded-Proto": "https"}
# Every kind of answer: cached pages, fragments, JSON, feed, badges, static files, health, metrics,
# the operator view, not found, method not allowed, and paths with doubled slashes (which werkzeug
# would answer with a redirect to an absolute URL built from the Host).
PATHS = ["/", "/fragments/banner", "/fragments/windows", "/fragments/components", "/fragments/history",
         "/performance/landing", "/status.json", "/history.json", "/history.atom", "/badge/overall.svg",
         "/badge/database.svg", "/openapi.json", "/livez", "/readyz", "/healthz", "/metrics", "/static/style.css",
         "/ops", "/ops.json", "/nope", "/fragments/nope", "/badge/nope.svg", "//status.json", "/badge//overall.svg",
         "/static//style.css", "/fragments//banner", "/history.atom/", "//", "/api/v2/summary.json",
         "/api/v2/incidents.json", "/api/v2/scheduled-maintenances.json", "/performance/track-record.json"]
CACHED = ["/", "/fragments/banner", "/fragments/windows", "/fragments/components", "/fragments/history",
          "/performance/landing", "/status.json", "/history.json", "/history.atom", "/badge/overall.svg",
          "/badge/engine.svg", "/badge/metrics.svg", "/badge/database.svg", "/badge/snapshot.svg",
          "/api/v2/summary.json", "/api/v2/status.json", "/api/v2/incidents.json"]


def incident_app(make_app, **env: str) -> Flask:
    """An app whose own jobs recorded one incident: database down from T+5 min to T+12 min."""
    app = make_app(start_background=False, OPS_TOKEN=TOKEN, TRUSTED_PROXY_HOPS="1", **env)
    rt = app.extensions["statuspage"]
    rt.pool.wait(timeout=10)
    refresh_job(rt, T)
    probe_database_job(rt, T)
    history_job(rt, T)
    for minutes, state in ((5, DOWN), (12, OPERATIONAL)):
        rt.state.observe("database", Observation(state, f"database {state}"), T + timedelta(minutes=minutes), 1)
        history_job(rt, T + timedelta(minutes=minutes))
    return app


def leaked(reply: Reply) -> list[str]:
    """Where the word "evil" appears in an answer: its body, a header's name or value."""
    found = ["body"] if b"evil" in reply.body.lower() else []
    return found + [f"{k}: {v}" for k, v in reply.headers.items() if "evil" in f"{k}{v}".lower()]


def ask(url: str, path: str, headers: dict[str, str], method: str = "GET") -> Reply:
    extra = {"Authorization": f"Bearer {TOKEN}"} if path.startswith("/ops") else {}
    return request(url, path, {**headers, **extra}, method=method)


@pytest.fixture
def served(writer, make_app, serve) -> LiveServer:
    add_trade(writer, 1, T - timedelta(days=2), "10.00")
    return serve(incident_app(make_app))


def test_a_forged_host_appears_in_no_answer(served) -> None:
    for method in ("GET", "HEAD", "OPTIONS", "POST"):
        for path in PATHS:
            reply = ask(served.url, path, FORGED, method)
            assert not leaked(reply), (method, path, reply.status, leaked(reply))
            assert "location" not in reply.headers, (method, path, reply.headers["location"])


def test_doubled_slashes_are_not_found_rather_than_redirected(served) -> None:
    for path in ("/badge//overall.svg", "/fragments//banner", "/static//style.css"):
        reply = ask(served.url, path, {"Host": "evil-host.example"})
        assert reply.status == 404 and "location" not in reply.headers, path


def _series(metrics: str) -> set[str]:
    """The identity of every sample (name and labels), without its value."""
    return {line.rsplit(" ", 1)[0] for line in metrics.splitlines() if line and not line.startswith("#")}


def test_distinct_hosts_queries_paths_and_methods_leave_the_caches_and_metrics_as_they_were(served) -> None:
    cache = served.app.extensions["statuspage.responses"]
    for path in CACHED:  # every cached answer built once, and one of each error counted once
        assert ask(served.url, path, {}).status == 200, path
    for path in ("/nope", "/fragments/nope", "/badge/nope.svg", "/static/nope.css"):  # 404 under each endpoint
        assert ask(served.url, path, {}).status == 404
    assert ask(served.url, "/status.json", {}, "POST").status == 405
    slots = len(cache)
    etags = {path: ask(served.url, path, {}).headers["etag"] for path in CACHED}
    series = _series(ask(served.url, "/metrics", {}).text)
    assert slots >= len(CACHED)

    n = 40
    for i in range(n):
        host = {"Host": f"h{i}.example", "X-Forwarded-Host": f"x{i}.example"}
        for path in CACHED:
            reply = ask(served.url, f"{path}?v={i}&utm_source=s{i}", host)
            assert reply.status == 200 and reply.headers["etag"] == etags[path], path  # the same bytes for all
        for path in (f"/p{i}", f"/fragments/f{i}", f"/badge/b{i}.svg", f"/static/s{i}.css", f"/x/{i}/{'y' * i}"):
            assert ask(served.url, path, host).status == 404, path
        assert ask(served.url, "/status.json", host, f"M{i}").status == 405

    assert len(cache) == slots
    assert _series(ask(served.url, "/metrics", {}).text) == series
    total = re.search(r'^flask_http_request_total\{method="GET",status="404"\} (\S+)$',
                      ask(served.url, "/metrics", {}).text, re.M)
    assert total and float(total.group(1)) == 4 + 5 * n  # counted, under labels that already existed


def _feed(reply: Reply) -> ET.Element:
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/atom+xml")
    return ET.fromstring(reply.body)


def _incident_ids(dsn: str) -> list[str]:
    """Each incident's stable name, as stored: its alert key (the same in every process), else its id."""
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute(
            "SELECT coalesce(alert_key, id::text) FROM statuspage.incidents ORDER BY opened_at DESC")]


def test_without_public_url_the_feed_has_relative_links_and_tag_ids(served, pg_dsn) -> None:
    evil, plain = ask(served.url, "/history.atom", {"Host": "evil-host.example"}), ask(served.url, "/history.atom", {})
    assert evil.body == plain.body  # one feed, whoever asks
    feed = _feed(plain)
    assert feed.find(f"{ATOM}id").text == "tag:statuspage,2026:history.atom"
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "history.atom"
    assert feed.find(f"{ATOM}link[@rel='alternate']").get("href") == "./"
    [incident] = _incident_ids(pg_dsn)
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}id").text == f"tag:statuspage,2026:incident-{incident}"
    assert entry.find(f"{ATOM}link").get("href") == "./"
    # A reader resolves them against where it fetched the feed: the page, and the feed itself.
    fetched_from = f"{served.url}/history.atom"
    page = request(served.url, urljoin(fetched_from, "./").removeprefix(served.url), {})
    assert urljoin(fetched_from, "./") == f"{served.url}/" and page.status == 200
    assert b"<html" in page.body.lower()
    assert urljoin(fetched_from, "history.atom") == fetched_from


@pytest.mark.parametrize(("public_url", "feed_url"), [
    ("https://status.example.com", "https://status.example.com/history.atom"),
    ("https://example.com/status/", "https://example.com/status/history.atom"),
])
def test_with_public_url_every_link_and_id_is_under_it(writer, make_app, serve, pg_dsn, public_url,
                                                         feed_url) -> None:
    server = serve(incident_app(make_app, PUBLIC_URL=public_url))
    feed = _feed(ask(server.url, "/history.atom", FORGED))
    assert feed.find(f"{ATOM}id").text == feed_url
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == feed_url
    assert feed.find(f"{ATOM}link[@rel='alternate']").get("href") == public_url
    [incident] = _incident_ids(pg_dsn)
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}id").text == f"{feed_url}#incident-{incident}"
    assert entry.find(f"{ATOM}link").get("href") == public_url


def test_under_gunicorn_a_forged_host_or_script_name_reaches_no_visitor(tmp_path: Path, pg_dsn, writer) -> None:
    """gunicorn maps a SCRIPT_NAME header from a trusted peer (loopback, by default) onto the WSGI
    environ, which would move every link of the cached page; gunicorn.conf.py trusts none."""
    add_trade(writer, 1, T, "1.00")
    with gunicorn(tmp_path, pg_dsn, TRUSTED_PROXY_HOPS="1") as server:
        poisoned = server.get("/evil-prefix/", {"SCRIPT_NAME": "/evil-prefix", **FORGED})
        assert poisoned.status == 404 and not leaked(poisoned)
        for path in PATHS:
            reply = server.get(path, FORGED)
            assert not leaked(reply), (path, reply.status, leaked(reply))
            assert "location" not in reply.headers, (path, reply.headers["location"])
        page = server.get("/")  # what the next visitor gets
        assert page.status == 200 and b"evil" not in page.body and b'hx-get="/fragments/banner"' in page.body
