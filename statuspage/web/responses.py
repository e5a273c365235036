"""Response bytes built once per change of what they show, then served from memory with an ETag.

A request is a dictionary lookup and a comparison: no database work, no template rendering. Slots
are named by the code, never by request input, so the cache cannot grow with what visitors send.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from flask import Response, request
from werkzeug.http import parse_etags


class Rendered(NamedTuple):
    body: bytes
    etag: str  # strong validator, unquoted


def etag_of(body: bytes) -> str:
    """The strong validator of ``body``: equal bytes, equal tag."""
    return hashlib.blake2b(body, digest_size=12).hexdigest()


class ResponseCache:
    """One slot per output name, rebuilt when its key (the versions it depends on) changes."""

    def __init__(self) -> None:
        self._slots: dict[str, tuple[Hashable, Rendered]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, key: Hashable, build: Callable[[], bytes]) -> Rendered:
        slot = self._slots.get(name)
        if slot is not None and slot[0] == key:
            return slot[1]
        with self._lock:  # build each version once even when many requests arrive together
            slot = self._slots.get(name)
            if slot is not None and slot[0] == key:
                return slot[1]
            body = build()
            rendered = Rendered(body, etag_of(body))
            self._slots[name] = (key, rendered)
            return rendered

    def __len__(self) -> int:
        return len(self._slots)


def send(rendered: Rendered, mimetype: str, status: int = 200, max_age: int = 5) -> Response:
    """Cached bytes with their ETag; 304 without a body while the client's copy is current."""
    # Headers written as plain strings and If-None-Match compared here: werkzeug's cache_control
    # object and make_conditional (Date, Range) cost more than the rest of the request together,
    # and would keep the page below the framework's floor (bench/RESULTS.md).
    headers = {"ETag": f'"{rendered.etag}"', "Cache-Control": f"public, max-age={max_age}"}
    if status == 200 and client_has(rendered.etag):
        return Response(status=304, headers=headers)
    return Response(rendered.body, status=status, mimetype=mimetype, headers=headers)


def client_has(etag: str) -> bool:
    """If-None-Match names ``etag`` or ``*``, by weak comparison as RFC 9110 has it for GET and HEAD."""
    header = request.environ.get("HTTP_IF_NONE_MATCH")
    return bool(header) and parse_etags(header).contains_weak(etag)


def no_store_json(payload: Any, status: int = 200) -> Response:
    """JSON that no cache may keep: health answers, errors."""
    body = json.dumps(payload, separators=(",", ":"))
    response = Response(body, status=status, mimetype="application/json")
    response.cache_control.no_store = True
    return response
