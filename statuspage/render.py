"""Response bytes built once per change of what they show, then served from memory with an ETag.

A request is a dictionary lookup and a comparison: no database work, no template rendering.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable
from typing import NamedTuple


class Rendered(NamedTuple):
    body: bytes
    etag: str  # strong validator, unquoted


def etag_of(body: bytes) -> str:
    """The strong validator of ``body``: equal bytes, equal tag."""
    return hashlib.blake2b(body, digest_size=12).hexdigest()


class RenderCache:
    """One slot per output name, rebuilt when its key (the versions it depends on) changes."""

    def __init__(self) -> None:
        self._slots: dict[str, tuple[Hashable, Rendered]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Slots held: one per output name, never one per request."""
        return len(self._slots)

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
