"""``python -m statuspage env snapshot / diff --render-service``: Render's API, through a stand-in on a
real socket that pages its answers and checks the key."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ..helpers.envtools import DSN, SENTINEL, good_environ, run, take_snapshot

API_KEY = "rnd_stand-in-key-8d1e"
PAGE_SIZE = 2  # the stand-in's page, whatever limit is asked for, so pagination is exercised


class RenderStandIn(ThreadingHTTPServer):
    services: dict[str, dict[str, str]]
    requests: list[dict[str, Any]]


class _RenderHandler(BaseHTTPRequestHandler):
    server: RenderStandIn

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        self.server.requests.append({"path": url.path, "query": query, "accept": self.headers["Accept"]})
        if self.headers["Authorization"] != f"Bearer {API_KEY}":
            return self._send(401, {"id": "unauthorized",
                                    "message": "Authorization information is missing or invalid."})
        match = re.fullmatch(r"/v1/services/([^/]+)/env-vars", url.path)
        if not match or match[1] not in self.server.services:
            return self._send(404, {"id": "not_found", "message": "Unable to find the requested resource."})
        items = list(self.server.services[match[1]].items())
        start = int(query.get("cursor", "0"))  # the cursor is the position after the item
        page = items[start:start + PAGE_SIZE]
        self._send(200, [{"envVar": {"key": key, "value": value}, "cursor": str(start + offset + 1)}
                         for offset, (key, value) in enumerate(page)])

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output to the assertions


@pytest.fixture
def render_api(request: pytest.FixtureRequest) -> Iterator[RenderStandIn]:
    server = RenderStandIn(("127.0.0.1", 0), _RenderHandler)
    server.services, server.requests = {}, []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    request.addfinalizer(stop)
    yield server


def api_environ(server: RenderStandIn, key: str = API_KEY) -> dict[str, str]:
    host, port = server.server_address[:2]
    return {"RENDER_API_URL": f"http://{host}:{port}/v1", "RENDER_API_KEY": key}


SERVICE_VARS = {"DATABASE_URL": DSN, "ENGINE_METRICS_URL": "http://engine.internal:9100/metrics",
                "WEB_CONCURRENCY": "2"}


def test_snapshot_from_render_captures_every_variable_across_pages(render_api: RenderStandIn, tmp_path: Path) -> None:
    render_api.services["srv-abc"] = dict(SERVICE_VARS)
    path = tmp_path / "render.json"

    code, out, err = run(["snapshot", "--out", str(path), "--render-service", "srv-abc"], api_environ(render_api))

    assert (code, err) == (0, "")
    snapshot = json.loads(path.read_text())
    assert snapshot["source"] == "render:srv-abc"
    assert snapshot["variables"] == {
        name: {"sha256": hashlib.sha256(value.encode()).hexdigest()} for name, value in SERVICE_VARS.items()
    }
    # two pages (2 + 1), then the empty page that ends the list
    assert [r["query"].get("cursor") for r in render_api.requests] == [None, "2", "3"]
    assert all(r["query"]["limit"] == "100" and r["accept"] == "application/json" for r in render_api.requests)
    assert SENTINEL not in out


def test_diff_against_render_fails_when_database_url_was_removed(render_api: RenderStandIn, tmp_path: Path) -> None:
    render_api.services["srv-abc"] = dict(SERVICE_VARS)
    environ = api_environ(render_api)
    snapshot = take_snapshot(tmp_path, environ, "--render-service", "srv-abc")
    del render_api.services["srv-abc"]["DATABASE_URL"]

    code, out, err = run(["diff", str(snapshot), "--render-service", "srv-abc"], environ)

    assert code == 1
    assert out.splitlines()[0] == "removed: DATABASE_URL"
    assert "DATABASE_URL" in err
    assert SENTINEL not in out + err


def test_render_refusing_the_key_exits_2_without_printing_it(render_api: RenderStandIn, tmp_path: Path) -> None:
    render_api.services["srv-abc"] = dict(SERVICE_VARS)
    wrong_key = "rnd_wrong-key-55aa"
    path = tmp_path / "x.json"

    code, out, err = run(["snapshot", "--out", str(path), "--render-service", "srv-abc"],
                         api_environ(render_api, key=wrong_key))

    assert code == 2
    assert len(err.splitlines()) == 1
    assert "401" in err
    assert wrong_key not in out + err
    assert not path.exists()


def test_render_unknown_service_exits_2(render_api: RenderStandIn, tmp_path: Path) -> None:
    snapshot = take_snapshot(tmp_path, good_environ())
    code, _, err = run(["diff", str(snapshot), "--render-service", "srv-nope"], api_environ(render_api))
    assert code == 2
    assert "404" in err
