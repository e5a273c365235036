"""HTTP over real sockets and an app served on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.serving import make_server


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def http(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None,
         timeout: float = 10) -> Reply:
    parts = urlsplit(url)
    conn = HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> Reply:
    return http("GET", url, headers, timeout=timeout)


class LiveServer:
    """An app served by a real HTTP server on 127.0.0.1 in a background thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return get(self.url + path, headers)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def csp_directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as ``{directive: [values]}``."""
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed
