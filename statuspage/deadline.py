"""Client-side deadlines that really end blocked I/O: a database call, its connection, an HTTP request.

``statement_timeout`` is enforced by the server, so a server that is frozen (SIGSTOP, a hung host or
VM) never fires it; TCP keepalive and ``tcp_user_timeout`` do not fire either, because the kernel
still acknowledges every packet. psycopg's ``cancel_safe()`` opens a new connection to the same
frozen postmaster and times out without unblocking the query (measured, psycopg 3.3). What does end
it is shutting the connection's socket down from another thread: the blocked read returns
end-of-file at once, libpq reports "server closed the connection", and psycopg marks the connection
BAD, so a pool discards it. This module does that, from one watchdog thread per process:

- ``within(seconds, what)``: a deadline for everything the current thread does inside the block
  (nested blocks keep the earlier end);
- ``guard(conn)``: watch a psycopg connection until the block ends, at the scope's end or after
  ``seconds``, whichever comes first; a call it cut raises ``DeadlineExceeded``;
- ``GuardedPool``: a psycopg_pool pool whose waits, checkout checks and lent connections all end
  by the current deadline;
- ``urlopen``: urllib's, with the request's socket watched until the scope ends (a server that
  trickles its headers or body cannot hold a job past its deadline).

Outside every scope, and without ``seconds``, nothing is watched: that is library use (tests,
benchmarks); every background job runs inside one.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import os
import socket
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool


class DeadlineExceeded(psycopg.OperationalError):
    """A call was cut at its client-side deadline; its connection is closed. A psycopg error, so
    every ``except psycopg.Error`` treats it as the failed database call it is."""


def _message(what: str, seconds: float) -> str:
    return f"{what}: no answer within {seconds:.3g} s; connection closed"


@dataclass(eq=False)
class _Armed:
    at: float  # monotonic time the socket is shut down
    fd: int | None  # our own duplicate of the socket; None once disarmed or fired
    fired: bool = False


class _Watchdog:
    """One thread, a heap of deadlines. Each watched socket is a duplicate descriptor taken when it
    is armed, so a descriptor number the owner closed and the kernel reused is never touched."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Armed]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, at: float) -> _Armed:
        armed = _Armed(at, os.dup(fd))
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="statuspage-deadlines", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (at, next(self._seq), armed))
            self._cond.notify()
        return armed

    def disarm(self, armed: _Armed) -> None:
        with self._cond:
            fd, armed.fd = armed.fd, None
        if fd is not None:
            os.close(fd)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = monotonic()
                while self._heap and (self._heap[0][2].fd is None or self._heap[0][0] <= now):
                    armed = heapq.heappop(self._heap)[2]
                    if armed.fd is not None:
                        self._fire(armed)
                self._cond.wait(self._heap[0][0] - now if self._heap else None)

    @staticmethod
    def _fire(armed: _Armed) -> None:
        # Called with the lock held: shutdown() and close() never block.
        fd, armed.fd, armed.fired = armed.fd, None, True
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already shut or reset by the peer: the blocked call ends either way
        finally:
            sock.close()


_watchdog = _Watchdog()


def _after_fork() -> None:
    # A child has no watchdog thread; it starts its own on first use.
    global _watchdog
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_after_fork)


@dataclass(eq=False)
class Scope:
    what: str
    seconds: float
    end: float  # monotonic
    cut: str = ""  # what a guarded call inside was cut with, first: "<what>: no answer within …"
    armed: list[_Armed] = field(default_factory=list)  # sockets of HTTP requests made inside

    @property
    def fired(self) -> bool:
        """Something inside was cut at its deadline."""
        return bool(self.cut) or any(armed.fired for armed in self.armed)

    def remaining(self) -> float:
        return max(0.0, self.end - monotonic())


_local = threading.local()


def current() -> Scope | None:
    return getattr(_local, "scope", None)


def remaining() -> float | None:
    """Seconds left in the current scope; None outside every scope."""
    scope = current()
    return None if scope is None else scope.remaining()


@contextmanager
def within(seconds: float, what: str) -> Iterator[Scope]:
    """A deadline for the block. A psycopg error it ends with, after something inside was cut (a
    pool turns a cut checkout check into a PoolTimeout), is raised as ``DeadlineExceeded`` saying
    which call was cut first."""
    outer = current()
    end = monotonic() + seconds
    scope = Scope(what, seconds, end if outer is None else min(end, outer.end))
    _local.scope = scope
    try:
        yield scope
    except psycopg.Error as exc:
        if scope.fired and not isinstance(exc, DeadlineExceeded):
            cut = scope.cut or _message(what, seconds)
            raise DeadlineExceeded(cut if cut.startswith(f"{what}:") else f"{what}: {cut}") from exc
        raise
    finally:
        _local.scope = outer
        for armed in scope.armed:  # sockets armed by urlopen: watched until the scope ends
            _watchdog.disarm(armed)
        if outer is not None and scope.fired:
            outer.cut = outer.cut or scope.cut or _message(what, seconds)


def _end(seconds: float | None) -> float | None:
    scope = current()
    ends = [t for t in (scope.end if scope else None, None if seconds is None else monotonic() + seconds)
            if t is not None]
    return min(ends) if ends else None


@contextmanager
def guard(conn: psycopg.Connection[Any], what: str | None = None, seconds: float | None = None) -> Iterator[None]:
    """End ``conn`` if the block has not finished by the current scope's end, or ``seconds`` from
    now, whichever is first. A deadline already passed refuses to start the call and leaves the
    connection alone. ``what`` names the call in the error; by default, the scope's name."""
    scope = current()
    what = what or (scope.what if scope else "database call")
    end = _end(seconds)
    if end is None or conn.closed:
        yield  # nothing to watch; a closed connection fails the call at once by itself
        return
    limit = end - monotonic()
    if limit <= 0:
        raise DeadlineExceeded(_message(what, seconds if seconds is not None else scope.seconds if scope else 0))
    armed = _watchdog.arm(conn.pgconn.socket, end)
    try:
        yield
    except psycopg.Error as exc:
        if armed.fired and not isinstance(exc, DeadlineExceeded):
            raise DeadlineExceeded(_message(what, limit)) from exc
        raise
    finally:
        _watchdog.disarm(armed)
        if armed.fired:
            # Cut just as the call returned: the socket is shut all the same, so the connection
            # must not be used again.
            conn.close()
            if scope is not None and not scope.cut:
                scope.cut = _message(what, limit)


class GuardedPool(ConnectionPool):
    """A pool whose every use ends by a deadline.

    - checkout waits at most the current scope's remaining time;
    - the checkout check (an empty query) is cut after ``check_s``: a connection that cannot answer
      that quickly is broken, and a frozen server must not hold the caller;
    - the connection lent is watched until it comes back, ``call_s`` at most.
    """

    def __init__(self, conninfo: str, *, check_s: float, call_s: float, **kwargs: Any) -> None:
        self.check_s, self.call_s = check_s, call_s
        super().__init__(conninfo, check=self._bounded_check, **kwargs)

    def _bounded_check(self, conn: psycopg.Connection[Any]) -> None:
        with guard(conn, "connection check", seconds=self.check_s):
            ConnectionPool.check_connection(conn)

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        wait = self.timeout if timeout is None else timeout
        left = remaining()
        with super().connection(timeout=wait if left is None else min(wait, left)) as conn, \
                guard(conn, seconds=self.call_s):
            yield conn


# --- HTTP: the request's socket is armed as soon as it exists, until the scope ends ---


def _arm_in_scope(fd: int) -> None:
    scope = current()
    if scope is not None:
        scope.armed.append(_watchdog.arm(fd, scope.end))


@functools.cache
def _watched(connection_class: type) -> type:
    class Watched(connection_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            create = self._create_connection  # before TLS: the handshake is watched too

            def create_and_watch(*c_args: Any, **c_kwargs: Any) -> socket.socket:
                sock = create(*c_args, **c_kwargs)
                _arm_in_scope(sock.fileno())
                return sock

            self._create_connection = create_and_watch

    return Watched


class _HTTPHandler(urllib.request.HTTPHandler):
    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        return super().do_open(_watched(http_class), req, **kwargs)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        return super().do_open(_watched(http_class), req, **kwargs)


_opener = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler)


def urlopen(request: urllib.request.Request, timeout_s: float) -> Any:
    """``urllib.request.urlopen`` whose socket is shut down when the current scope ends. Check
    ``scope.fired`` after reading: a body cut by the deadline may simply look short."""
    return _opener.open(request, timeout=timeout_s)
