"""What every answer tells a browser, what a failed request reveals, and what gunicorn refuses.

Headers and errors are read from the app served on a real socket (or its test client where only
the app is involved); proxy trust and request limits from gunicorn itself, started for real.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest
from flask import Flask

from statuspage.formatting import utcnow
from statuspage.web.security import CONTENT_SECURITY_POLICY

from ..helpers.app import run_jobs
from ..helpers.dom import parse
from ..helpers.gunicorn import Gunicorn
from ..helpers.http import LiveServer, csp_directives, http
from ..helpers.trades import add_trade
from ..helpers.wait import wait_until

# One of every kind of answer the app gives: pages, fragments, JSON, feeds, badges, static files,
# metrics, and its errors.
REQUESTS = [
    ("GET", "/"), ("GET", "/fragments/windows"), ("GET", "/performance/landing"), ("GET", "/status.json"),
    ("GET", "/livez"), ("GET", "/readyz"), ("GET", "/healthz"), ("GET", "/openapi.json"), ("GET", "/history.json"),
    ("GET", "/history.atom"), ("GET", "/badge/overall.svg"), ("GET", "/metrics"), ("GET", "/static/style.css"),
    ("GET", "/nope"), ("GET", "/nope.json"), ("POST", "/"), ("DELETE", "/status.json"), ("GET", "/ops"),
    ("GET", "/ops.json"),
]
TOKEN = "ops-token-for-the-tests-0123456789"


def raising_view() -> str:
    raise RuntimeError("internal detail: host=db.internal token=abc")


# --- headers ---


def test_every_response_carries_a_strict_csp_and_the_security_headers(writer: psycopg.Connection,
                                                                       make_app: Callable[..., Flask],
                                                                       serve: Callable[[Flask], LiveServer]) -> None:
    add_trade(writer, 1, utcnow() - timedelta(hours=1), "5")
    server = serve(make_app(OPS_TOKEN=TOKEN))
    wait_until(lambda: server.get("/readyz").status == 200, what="first snapshot")
    statuses = set()
    for method, path in REQUESTS:
        reply = http(method, server.url + path)
        statuses.add(reply.status)
        policy = csp_directives(reply.headers["content-security-policy"])
        assert policy["default-src"] == ["'self'"], path
        for directive in ("frame-ancestors", "base-uri", "form-action", "object-src"):
            assert policy[directive] == ["'none'"], (path, directive)
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} & {
            value for values in policy.values() for value in values}, path
        assert reply.headers["x-content-type-options"] == "nosniff", path
        assert reply.headers["referrer-policy"] == "no-referrer", path
        assert reply.headers["x-frame-options"] == "DENY", path
        assert "strict-transport-security" not in reply.headers, path  # plain HTTP, no proxy trusted
    assert {200, 401, 404, 405} <= statuses


@pytest.mark.parametrize(("hops", "forwarded_proto", "hsts"), [
    (0, None, False),
    (0, "https", False),  # nobody is trusted: a visitor's own header changes nothing
    (1, None, False),
    (1, "http", False),
    (1, "https", True),  # Render's proxy says the visitor came over HTTPS
    (1, "https, http", False),  # the visitor's forged "https", then the proxy's "http": the proxy wins
    (1, "http, https", True),
])
def test_hsts_is_sent_only_when_the_trusted_proxy_saw_https(make_app: Callable[..., Flask], hops: int,
                                                             forwarded_proto: str | None, hsts: bool) -> None:
    client = make_app(start_background=False, TRUSTED_PROXY_HOPS=str(hops)).test_client()
    headers = {"X-Forwarded-Proto": forwarded_proto} if forwarded_proto else {}
    response = client.get("/livez", headers=headers)
    assert ("Strict-Transport-Security" in response.headers) is hsts
    if hsts:
        assert response.headers["Strict-Transport-Security"] == "max-age=63072000"


# --- errors ---


@pytest.fixture
def failing_app(make_app: Callable[..., Flask]) -> Flask:
    """The real app with a test-only view that raises, on an HTML path and an API path."""
    app = make_app(start_background=False)
    app.add_url_rule("/test-only/raise", "test_raise", raising_view)
    app.add_url_rule("/test-only/raise.json", "test_raise_json", raising_view)
    return app


@pytest.mark.parametrize(("method", "path", "status", "phrase"), [
    ("GET", "/no/such/page", 404, "Not Found"),
    ("GET", "/fragments/nope", 404, "Not Found"),
    ("GET", "/static/nope.js", 404, "Not Found"),
    ("POST", "/", 405, "Method Not Allowed"),
    ("GET", "/test-only/raise", 500, "Internal Server Error"),
])
def test_an_error_page_is_short_and_says_nothing_of_the_failure(failing_app: Flask, caplog: pytest.LogCaptureFixture,
                                                               method: str, path: str, status: int,
                                                               phrase: str) -> None:
    response = failing_app.test_client().open(path, method=method)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    page = parse(response.data)
    assert page.find("h1").text == f"{status} {phrase}"
    assert page.find("a").attrs["href"] == "/"
    for leak in ("Traceback", "RuntimeError", "internal detail", "db.internal", "werkzeug", "File \""):
        assert leak not in response.text
    assert len(response.data) < 4096


@pytest.mark.parametrize(("method", "path", "status", "error"), [
    ("GET", "/performance/nope", 404, "not found"),
    ("GET", "/nope.json", 404, "not found"),
    ("POST", "/status.json", 405, "method not allowed"),
    ("PUT", "/performance/landing", 405, "method not allowed"),
    ("DELETE", "/healthz", 405, "method not allowed"),
    ("POST", "/openapi.json", 405, "method not allowed"),
    ("GET", "/test-only/raise.json", 500, "internal server error"),
])
def test_an_api_error_is_a_json_phrase_and_nothing_more(failing_app: Flask, method: str, path: str, status: int,
                                                        error: str) -> None:
    response = failing_app.test_client().open(path, method=method)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json() == {"error": error}
    assert response.headers["Cache-Control"] == "no-store"
    if status == 405:
        assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD"}


def test_an_exception_in_a_view_is_logged_with_its_traceback(failing_app: Flask,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert failing_app.test_client().get("/test-only/raise").status_code == 500
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.getMessage() == "Exception on /test-only/raise [GET]"
    assert "RuntimeError: internal detail" in caplog.text and "Traceback" in caplog.text


def test_debug_mode_stays_off_whatever_the_environment_says(monkeypatch: pytest.MonkeyPatch,
                                                           make_app: Callable[..., Flask]) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.setenv("FLASK_ENV", "development")
    app = make_app(start_background=False)
    app.add_url_rule("/test-only/raise", "test_raise", raising_view)
    assert app.debug is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is False
    # Even switched on afterwards, an exception is answered by the app, never handed to a debugger.
    app.debug = True
    response = app.test_client().get("/test-only/raise")
    assert response.status_code == 500
    assert "Traceback" not in response.text and "internal detail" not in response.text


# --- input the page does not expect ---


def test_unknown_query_parameters_are_ignored(writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    now = utcnow()
    add_trade(writer, 1, now - timedelta(days=2), "12.34", fees="0.5")
    app = make_app(start_background=False)
    run_jobs(app, now)
    client = app.test_client()
    junk = "?window=1d&limit=-1&format=xml&__debugger__=yes&cmd=ls&pin=1&x=%00%ff&x=2&" + "q" * 500 + "=1"
    for path in ("/", "/fragments/windows", "/fragments/banner", "/performance/landing", "/status.json", "/readyz",
                 "/openapi.json", "/badge/overall.svg"):
        plain, noisy = client.get(path), client.get(path + junk)
        assert (noisy.status_code, noisy.data) == (plain.status_code, plain.data), path
        assert noisy.headers.get("ETag") == plain.headers.get("ETag"), path


# --- gunicorn: proxy trust and request limits ---


def _gunicorn_up(start: Callable[..., Gunicorn], pg_dsn: str, **env: str) -> Gunicorn:
    server = start(DATABASE_URL=pg_dsn, **env)
    wait_until(lambda: server.proc.poll() is None and "Booting worker" in server.log()
               and _answers(server), what="gunicorn answering")
    return server


def _answers(server: Gunicorn) -> bool:
    try:
        return http("GET", server.url + "/livez").status in (200, 503)
    except OSError:
        return False


def test_gunicorn_refuses_oversized_request_lines_and_headers(pg_dsn: str, writer: psycopg.Connection,
                                                              start_gunicorn: Callable[..., Gunicorn]) -> None:
    server = _gunicorn_up(start_gunicorn, pg_dsn)
    assert http("GET", server.url + "/livez?" + "a" * 1500).status in (200, 503)  # within limit_request_line
    assert http("GET", server.url + "/livez?" + "a" * 10_000).status == 414
    assert http("GET", server.url + "/livez", headers={"X-Big": "a" * 10_000}).status == 431
    many = {f"X-Header-{i}": "x" for i in range(60)}  # limit_request_fields is 50
    assert http("GET", server.url + "/livez", headers=many).status == 431
    # Refused by gunicorn before the app: the reply says only what the limit was.
    reply = http("GET", server.url + "/livez?" + "secret-looking-" * 700)
    assert reply.status == 414 and b"secret-looking" not in reply.body


@pytest.mark.parametrize(("hops", "hsts"), [("0", False), ("1", True)])
def test_gunicorn_leaves_the_https_decision_to_trusted_proxy_hops(pg_dsn: str, writer: psycopg.Connection,
                                                                 start_gunicorn: Callable[..., Gunicorn],
                                                                 hops: str, hsts: bool) -> None:
    # gunicorn would believe X-Forwarded-Proto from 127.0.0.1 by itself (forwarded_allow_ips);
    # gunicorn.conf.py turns that off so TRUSTED_PROXY_HOPS alone decides.
    server = _gunicorn_up(start_gunicorn, pg_dsn, TRUSTED_PROXY_HOPS=hops)
    reply = http("GET", server.url + "/livez", headers={"X-Forwarded-Proto": "https"})
    assert ("strict-transport-security" in reply.headers) is hsts
    assert reply.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
