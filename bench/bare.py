"""The honest floor: a bare Flask app answering the production app's own bytes (body and headers,
captured from it by the benchmark) with none of its hooks: no request metrics, no security-header
hook, no error handlers, no proxy fix. ``gunicorn -c bench/gunicorn_bare.conf.py bench.bare:app``
runs it with the production server's worker class and threads and no access log: what Flask under
gunicorn can do at best with these bytes. Never deployed.

BENCH_BARE_RESPONSES names a JSON file ``{path: {"body": base64, "headers": [[name, value], ...]}}``
(written by ``capture``); each path answers its body and headers, nothing else.
"""

from __future__ import annotations

import base64
import json
import os
from http.client import HTTPConnection
from pathlib import Path

from flask import Flask, Response

RESPONSES = "BENCH_BARE_RESPONSES"
# What the server writes itself (or what describes one connection, not the answer).
SERVER_HEADERS = frozenset({"date", "server", "content-length", "connection", "keep-alive", "transfer-encoding"})


def capture(url: str, paths: list[str], to: Path) -> dict[str, int]:
    """GET each path from the running app at ``url`` and write what the bare app needs to answer the
    same bytes into ``to``; returns each body's size."""
    captured, sizes = {}, {}
    host, port = url.removeprefix("http://").split(":")
    for path in paths:
        conn = HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status}")
            headers = [[k, v] for k, v in response.getheaders() if k.lower() not in SERVER_HEADERS]
        finally:
            conn.close()
        captured[path] = {"body": base64.b64encode(body).decode(), "headers": headers}
        sizes[path] = len(body)
    to.write_text(json.dumps(captured))
    return sizes


def create(responses: dict[str, tuple[bytes, list[tuple[str, str]]]]) -> Flask:
    app = Flask(__name__)
    for path, (body, headers) in responses.items():
        def view(body: bytes = body, headers: list[tuple[str, str]] = headers) -> Response:
            return Response(body, headers=headers)

        app.add_url_rule(path, f"bare:{path}", view)
    return app


def load(path: Path) -> dict[str, tuple[bytes, list[tuple[str, str]]]]:
    raw = json.loads(path.read_text())
    return {p: (base64.b64decode(r["body"]), [(k, v) for k, v in r["headers"]]) for p, r in raw.items()}


app = create(load(Path(os.environ[RESPONSES]))) if os.environ.get(RESPONSES) else None
