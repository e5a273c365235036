"""No secret ever leaves the process: not in a response body or header, not in a log line, not in
/metrics, not from ``python -m statuspage env check``.

Every secret setting (and RENDER_API_KEY, which only envtools reads) carries a sentinel of its own
(``tests/helpers/sentinels.py``; ``tests/unit/test_secrets.py`` checks that none is missing).
The app runs with its background jobs on a real socket against a database of the test's own
(trust authentication: any password connects), is driven through every endpoint and every error
path, with the database up and then down, and everything it said is searched for each sentinel.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from flask import Flask, current_app

from statuspage.cli import env as envtools
from statuspage.demo import seed
from statuspage.demo.pgserver import EmbeddedPostgres
from statuspage.formatting import utcnow

from ..helpers import ROOT
from ..helpers.app import public_gets
from ..helpers.http import LiveServer, Reply, http
from ..helpers.sentinels import (
    DB_PASSWORD,
    ENGINE_PASSWORD,
    HISTORY_PASSWORD,
    OPS_TOKEN,
    RENDER_API_KEY,
    SENTINELS,
    WEBHOOK_TOKEN,
    secret_environment,
)
from ..helpers.wait import wait_until


def connecting_view() -> str:
    """Test-only: a view that fails inside the database driver, holding the DSN."""
    settings = current_app.extensions["statuspage"].settings
    with psycopg.connect(settings.database_url, connect_timeout=1):
        raise RuntimeError("connected, then failed")


def raising_view() -> str:
    raise ValueError("a view failed")


def requests_for(app: Flask) -> list[tuple[str, str, dict[str, str]]]:
    """Every endpoint, every error path, and input the page does not expect."""
    bearer = {"Authorization": f"Bearer {OPS_TOKEN}"}
    made = [("GET", path, {}) for path in public_gets(app)]
    made += [(method, path, headers) for method, path, headers in [
        ("GET", "/metrics", {}), ("GET", "/openapi.json", {}), ("GET", "/static/style.css", {}),
        ("GET", "/static/page.js", {}),
        ("GET", "/ops", {}), ("GET", "/ops.json", {"Authorization": "Bearer not-the-token-000000"}),
        ("GET", "/ops", bearer), ("GET", "/ops.json", bearer), ("PUT", "/ops.json", bearer),
        ("GET", "/ops.json", {"Authorization": "Bearer " + "x" * 3000}),
        ("GET", "/nope", {}), ("GET", "/nope.json", {}), ("GET", "/fragments/nope", {}),
        ("GET", "/badge/nope.svg", {}), ("GET", "/static/../statuspage/config.py", {}),
        ("POST", "/", {}), ("POST", "/status.json", {}), ("DELETE", "/performance/landing", {}),
        ("PROPFIND", "/", {}), ("OPTIONS", "/status.json", {}), ("HEAD", "/", {}),
        ("GET", "/test-only/raise", {}), ("GET", "/test-only/raise.json", {}), ("GET", "/test-only/connect", {}),
        ("GET", "/performance/landing?window=%00%ff&debug=1&x=" + "y" * 1500, {}),
        ("GET", "/%ff%00/..%2f..%2fetc/passwd", {}), ("GET", "/" + "a" * 4000, {}),
        ("GET", "/status.json", {"If-None-Match": '"garbage", W/"x", *'}),
        ("GET", "/", {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "Host": "evil.example"}),
    ]]
    return made


def drive(server: LiveServer) -> list[tuple[str, Reply]]:
    replies = []
    for method, path, headers in requests_for(server.app):
        reply = http(method, server.url + path, headers=headers)
        replies.append((f"{method} {path[:80]}", reply))
    return replies


def debug_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    """Every logger at DEBUG (restored by caplog afterwards), werkzeug's access log included."""
    caplog.set_level(logging.DEBUG)
    for name in [*logging.root.manager.loggerDict, "werkzeug", "psycopg", "psycopg.pool", "apscheduler"]:
        caplog.set_level(logging.DEBUG, logger=name)


def test_no_secret_in_any_response_header_log_line_or_metric(private_pg: EmbeddedPostgres,
                                                             make_app: Callable[..., Flask],
                                                             serve: Callable[[Flask], LiveServer],
                                                             caplog: pytest.LogCaptureFixture,
                                                             capfd: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    now = utcnow()
    with psycopg.connect(private_pg.dsn, autocommit=True) as conn:
        seed.create_schema(conn)
        seed.insert(conn, seed.history(60, 40, now - timedelta(minutes=1)))
    secrets = secret_environment(private_pg.port)
    for name, value in {**secrets, "RENDER_API_KEY": RENDER_API_KEY}.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    app = make_app(dsn=secrets.pop("DATABASE_URL"), LOG_LEVEL="DEBUG", TRUSTED_PROXY_HOPS="1",
                   NOTIFY_MIN_INCIDENT_S="0.5", NOTIFY_TIMEOUT_S="0.5", **secrets)
    debug_everywhere(caplog)
    app.add_url_rule("/test-only/raise", "test_raise", raising_view)
    app.add_url_rule("/test-only/raise.json", "test_raise_json", raising_view)
    app.add_url_rule("/test-only/connect", "test_connect", connecting_view)
    server = serve(app)

    wait_until(lambda: server.get("/readyz").status == 200, timeout=20, what="first snapshot")
    # The engine is unreachable from the start: an incident the history leader records and
    # notifies the (unreachable) webhook of.
    wait_until(lambda: server.get("/history.json").status == 200 and server.get("/history.json").json()["incidents"],
               timeout=20, what="an incident in the history")
    wait_until(lambda: "notify:" in caplog.text, timeout=20, what="a webhook delivery attempt")
    replies = drive(server)

    private_pg.stop()
    wait_until(lambda: server.get("/readyz").status == 503, timeout=20, what="the database seen down")
    wait_until(lambda: server.get("/ops.json", {"Authorization": f"Bearer {OPS_TOKEN}"}).json()["snapshot"][
        "last_refresh_error"], timeout=20, what="a failed refresh")
    replies += drive(server)
    out, err = capfd.readouterr()

    # The test did reach every kind of answer, and the logs hold what they should.
    assert {200, 304, 401, 404, 405, 500, 503} <= {reply.status for _, reply in replies} | {
        http("GET", server.url + "/status.json", {"If-None-Match": server.get("/status.json").headers["etag"]}).status}
    assert "Traceback" in caplog.text and "OperationalError" in caplog.text
    assert "ValueError: a view failed" in caplog.text
    assert any(r.name == "werkzeug" and '"GET /status.json HTTP/1.1" 200' in r.getMessage() for r in caplog.records)
    metrics = server.get("/metrics").text
    assert "statuspage_refreshes_total" in metrics

    logs = caplog.text + "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    for secret in SENTINELS:
        for label, reply in replies:
            assert secret not in reply.body.decode("latin-1"), (label, secret)
            assert secret not in repr(reply.headers), (label, secret)
        assert secret not in logs, secret
        assert secret not in out + err, secret
        assert secret not in metrics, secret


def test_env_check_never_prints_a_secret(tmp_path: Path) -> None:
    declared = envtools.declared_variables(envtools.BLUEPRINT)
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    base |= {key: entry["value"] for key, entry in declared.items() if "value" in entry}
    good = base | secret_environment(5432) | {"RENDER_API_KEY": RENDER_API_KEY}
    bad = good | {
        "DATABASE_URL": f"mysql://statuspage:{DB_PASSWORD}@db.internal/engine",
        "HISTORY_DATABASE_URL": f"postgresql://statuspage:{HISTORY_PASSWORD}@/engine",  # no host
        "ENGINE_METRICS_URL": f"ftp://metrics:{ENGINE_PASSWORD}@engine.internal/metrics",
        "NOTIFY_WEBHOOK_URLS": f"https://hooks.example/ok,gopher://hooks.example/{WEBHOOK_TOKEN}",
        "OPS_TOKEN": f"{OPS_TOKEN} with spaces",
    }
    for environ, expected in ((good, 0), (bad, 1)):
        result = subprocess.run([sys.executable, "-m", "statuspage", "env", "check"], env=environ, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == expected, result.stderr
        for secret in SENTINELS:
            assert secret not in result.stdout + result.stderr, (expected, secret)
    assert len(result.stderr.splitlines()) >= 6  # one line per bad variable, and the summary
