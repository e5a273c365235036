"""The OpenAPI 3.1 document (statuspage/openapi.json) is served and the live app keeps to it.

Schemathesis generates requests for every operation from the document, sends them to the app on a
real socket, and checks each answer: no 5xx, a documented status code, content type, headers and a
body that matches the schema. Bounded (few examples per operation, no deadline) so it stays short.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import schemathesis
from flask import Flask
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.schemas import OpenApiSchema

from statuspage.formatting import utcnow
from statuspage.web.openapi import DOCUMENT

from ..helpers.app import unreachable_dsn
from ..helpers.http import LiveServer
from ..helpers.trades import add_trade
from ..helpers.wait import wait_until

# Public paths that are not API: the page, its htmx fragments, its static files, and Prometheus's own format.
NOT_API = {"/", "/fragments/{name}", "/static/{filename}", "/metrics", "/openapi.json"}


@pytest.fixture
def live(writer: psycopg.Connection, make_app: Callable[..., Flask],
         serve: Callable[[Flask], LiveServer]) -> LiveServer:
    """The app with trades on both sides of every window edge, past its first snapshot."""
    now = utcnow()
    for trade_id, (age, pnl) in enumerate([(timedelta(hours=1), "10.005"), (timedelta(days=3), "-4.125"),
                                           (timedelta(days=10), "0"), (timedelta(days=45), "-1.5")], start=1):
        add_trade(writer, trade_id, now - age, pnl, fees="0.25")
    # With OPS_TOKEN set the /api/ops operations exist, and answer the fuzzer (which has no token) 401.
    server = serve(make_app(OPS_TOKEN="x" * 32))
    wait_until(lambda: server.get("/readyz").status == 200, timeout=20, what="first snapshot")
    return server


@pytest.fixture
def api(live: LiveServer) -> OpenApiSchema:
    return schemathesis.openapi.from_url(live.url + "/openapi.json")


def test_the_document_is_openapi_3_1_and_describes_every_public_endpoint(make_app: Callable[..., Flask]) -> None:
    document = json.loads(DOCUMENT.read_text())
    assert document["openapi"].startswith("3.1.")
    app = make_app(start_background=False, OPS_TOKEN="x" * 32)
    # The app's routes in OpenAPI's spelling: "<name>" becomes "{name}".
    public = {(method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)) for rule in app.url_map.iter_rules()
              if not rule.endpoint.startswith("ops.") for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == {(method, path) for method, path in public if path not in NOT_API}
    for path in ("/ops", "/ops.json"):
        assert any(rule.rule == path for rule in app.url_map.iter_rules())  # exists, and is not documented


def test_the_document_is_served_as_json_with_a_validator(live: LiveServer) -> None:
    reply = live.get("/openapi.json")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    assert reply.json() == json.loads(DOCUMENT.read_text())
    assert live.get("/openapi.json", {"If-None-Match": reply.headers["etag"]}).status == 304


def test_schemathesis_finds_every_answer_of_the_live_app_true_to_the_document(live: LiveServer,
                                                                             tmp_path: Path) -> None:
    """Schemathesis's own runner with every check and phase (examples, coverage, fuzzing, negative
    data, unsupported methods), a few examples per operation.

    Run as ``schemathesis run`` in a subprocess, not through its pytest plugin: 4.32's plugin reads
    ``request.node._nodeid``, which pytest 9 no longer has. Out of process, pytest's
    warnings-as-errors cannot reach it either.
    """
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", live.url + "/openapi.json",
         "--checks", "all", "--max-examples", "15", "--generation-database", "none", "--no-color",
         "--request-timeout", "5", "--workers", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    operations = sum(len(item) for item in json.loads(DOCUMENT.read_text())["paths"].values())
    assert f"Operations:       {operations} selected / {operations} total" in result.stdout, result.stdout
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", result.stdout).groups())
    assert generated == passed >= 30, result.stdout


def test_the_answers_before_the_first_snapshot_match_the_document(make_app: Callable[..., Flask],
                                                                  serve: Callable[[Flask], LiveServer]) -> None:
    # A database nothing listens on: no snapshot, database down; 503s with their own bodies.
    server = serve(make_app(dsn=unreachable_dsn()))
    wait_until(lambda: server.get("/status.json").json()["components"][2]["state"] == "down", timeout=20,
               what="the database probe")
    api = schemathesis.openapi.from_url(server.url + "/openapi.json")
    expected = {"/performance/landing": 503, "/status.json": 200, "/livez": 200, "/readyz": 503, "/healthz": 503}
    for path, status in expected.items():
        # Every check but "no 5xx": these 503s are the documented answer of a page without data.
        response = api[path]["GET"].Case().call_and_validate(excluded_checks=[not_a_server_error])
        assert response.status_code == status, path


def test_a_304_matches_the_document(live: LiveServer, api: OpenApiSchema) -> None:
    for path in ("/performance/landing", "/status.json"):
        etag = live.get(path).headers["etag"]
        response = api[path]["GET"].Case(headers={"If-None-Match": etag}).call_and_validate()
        assert response.status_code == 304, path
