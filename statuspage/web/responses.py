"""Response bytes built once per change of what they show, then served from memory with an ETag.

A request is a dictionary lookup and a comparison: no database work, no template rendering. Slots
are named by the code, never by request input, so the cache cannot grow with what visitors send.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from flask import Response, request
from werkzeug.datastructures import Headers
from werkzeug.http import parse_etags
from werkzeug.utils import get_content_type

from . import security


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


def send(rendered: Rendered, mimetype: str, cache_control: str, status: int = 200) -> Response:
    """Cached bytes with their ETag, their Cache-Control and the security headers; 304 without a
    body while the client's copy is current."""
    # Every header given as one plain list, so werkzeug sets nothing itself, and as a
    # SecuredResponse, which security.add_headers leaves as it is: werkzeug's cache_control object
    # and make_conditional (Date, Range), or six setdefault() scans of the headers, cost more than
    # the rest of the app's work on a request together (bench/PROFILE.md).
    content_type, policy, *secured = _checked(mimetype, cache_control)
    headers = Headers()
    # Handed over as werkzeug's own list: Headers(list) checks every name and value again on every
    # request (about 3.5 µs of a request's 50 in the app, bench/PROFILE.md). Every value was checked
    # once already (_checked) but the ETag, a hex digest.
    headers._list = [content_type, ("ETag", f'"{rendered.etag}"'), policy, *secured]
    if status == 200 and client_has(rendered.etag):
        return security.SecuredResponse(status=304, headers=headers)
    return security.SecuredResponse(rendered.body, status=status, headers=headers)


@functools.cache
def _checked(mimetype: str, cache_control: str) -> tuple[tuple[str, str], ...]:
    """The headers of ``send`` but the ETag, checked by werkzeug once per pair the code passes (a
    handful: mimetypes and cache policies are the code's, never the request's)."""
    content_type = get_content_type(mimetype, "utf-8")  # with "; charset=utf-8" where werkzeug would add it
    checked = Headers([("Content-Type", content_type), ("Cache-Control", cache_control), *security.HEADER_LIST])
    return tuple(checked.items())


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
