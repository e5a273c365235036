"""deploy/nginx/statuspage.conf in front of a real gunicorn: slow clients wait in nginx, never in
gunicorn's threads; one hop of forwarding headers, as TRUSTED_PROXY_HOPS=1 believes them; the app's
security headers reach the visitor unchanged. nginx is required: without it these tests fail."""

from __future__ import annotations

import selectors
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import psycopg
import pytest

from statuspage.web.security import HEADERS, HSTS

from ..helpers.frontends import SERVER_NAME, Gunicorn, Nginx, gunicorn, nginx, request, self_signed
from ..helpers.trades import add_trade, utc
from ..helpers.wait import wait_until

SLOW_CLIENTS = 200
HEADER_TIMEOUT_S = 10  # client_header_timeout in deploy/nginx/statuspage.conf
VISITS = 96  # normal requests made while the slow clients are connected, 8 at a time
DEADLINE_S = 5  # the most one of them may take; a visitor stalled behind slow clients waits far longer
PAGES = ("/", "/performance/landing", "/status.json", "/fragments/windows")


@dataclass
class SlowClient:
    sock: socket.socket
    opened: float
    closed: float | None = None


def open_slow_clients(host: str, port: int, n: int, context: ssl.SSLContext | None) -> list[SlowClient]:
    """``n`` connections that start a request and then send its header one byte at a time."""
    clients = []
    for _ in range(n):
        sock: socket.socket = socket.create_connection((host, port), timeout=5)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=SERVER_NAME)
        sock.sendall(f"GET /slow-client HTTP/1.1\r\nHost: {SERVER_NAME}\r\nX-Slow: ".encode())
        sock.setblocking(False)
        clients.append(SlowClient(sock, time.monotonic()))
    return clients


def drip(clients: list[SlowClient], stop: threading.Event) -> None:
    """One more header byte a second on every open connection; notes when the server closes one."""
    with selectors.DefaultSelector() as selector:
        for client in clients:
            selector.register(client.sock, selectors.EVENT_READ, client)
        while not stop.is_set() and any(c.closed is None for c in clients):
            for key, _ in selector.select(timeout=0):
                client = key.data
                try:
                    client.sock.recv(4096)  # end of stream, or an answer: either way it is over
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue  # TLS bookkeeping (a session ticket), no data: still open
                except OSError:
                    pass
                client.closed = time.monotonic()
                selector.unregister(client.sock)
            for client in clients:
                if client.closed is None:
                    try:
                        client.sock.send(b"a")
                    except (ssl.SSLWantWriteError, BlockingIOError):
                        pass
                    except OSError:
                        client.closed = time.monotonic()
                        selector.unregister(client.sock)
            stop.wait(1.0)


def visit(url: str, context: ssl.SSLContext | None, n: int) -> list[tuple[int | str, float]]:
    """``n`` ordinary requests, 8 at a time, each on a fresh connection: (status or error, seconds)."""
    def one(i: int) -> tuple[int | str, float]:
        started = time.monotonic()
        try:
            status: int | str = request(url, PAGES[i % len(PAGES)], {"Host": SERVER_NAME}, context=context,
                                        timeout=DEADLINE_S).status
        except OSError as exc:
            status = type(exc).__name__
        return status, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(n)))


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str, writer: psycopg.Connection) -> Iterator[tuple[Gunicorn, Nginx]]:
    """gunicorn on loopback behind nginx, as the README's deployment has it."""
    add_trade(writer, 1, utc(2026, 4, 1), "12.50")
    with (gunicorn(tmp_path, pg_dsn, loopback_only=True, TRUSTED_PROXY_HOPS="1") as app,
          nginx(tmp_path, app.port, self_signed(tmp_path)) as front):
        yield app, front


def test_200_slow_header_clients_through_nginx_do_not_stop_other_visitors(stack) -> None:
    app, front = stack
    host, port = front.https_url.split("://")[1].split(":")
    clients = open_slow_clients(host, int(port), SLOW_CLIENTS, front.context)
    stop = threading.Event()
    dripper = threading.Thread(target=drip, args=(clients, stop), daemon=True)
    dripper.start()
    try:
        time.sleep(2)  # every slow client has sent more bytes since its request began
        results = visit(front.https_url, front.context, VISITS)
        visits_done = time.monotonic()

        assert [status for status, _ in results] == [200] * VISITS
        latencies = sorted(seconds for _, seconds in results)
        assert latencies[-1] < DEADLINE_S
        # The visits were made while all 200 slow clients were still connected.
        assert all(c.closed is None for c in clients), "a slow client was cut off before the visits ended"
        print(f"\n{VISITS} visits with {SLOW_CLIENTS} slow clients open: median "
              f"{statistics.median(latencies) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")

        # nginx, not gunicorn, ends them: each at client_header_timeout after it connected.
        wait_until(lambda: all(c.closed is not None for c in clients), timeout=HEADER_TIMEOUT_S + 10,
                   what="nginx closing every slow client")
        held = sorted(c.closed - c.opened for c in clients if c.closed is not None)
        assert held[0] >= HEADER_TIMEOUT_S - 1 and held[-1] <= HEADER_TIMEOUT_S + 5, (held[0], held[-1])
        print(f"nginx closed the slow clients {held[0]:.1f} to {held[-1]:.1f} s after they connected")
        assert visits_done < min(c.closed for c in clients if c.closed is not None)
    finally:
        stop.set()
        dripper.join(timeout=5)
        for client in clients:
            client.sock.close()
    assert front.error_log().count("client timed out") >= SLOW_CLIENTS
    assert "/slow-client" not in app.out.read_text()  # gunicorn never saw a slow request


def test_the_app_security_headers_reach_the_visitor_and_hsts_over_https(stack) -> None:
    app, front = stack
    # As the README starts it, gunicorn listens on loopback only: nginx is the only way in.
    listening = {c.laddr.ip for c in psutil.Process(app.proc.pid).net_connections("tcp") if c.status == "LISTEN"}
    assert listening == {"127.0.0.1"}
    through = front.get("/", {"X-Forwarded-Proto": "http"})  # a visitor's own claim changes nothing
    direct = app.get("/")
    assert through.status == direct.status == 200
    for name, value in HEADERS.items():
        assert through.headers[name.lower()] == direct.headers[name.lower()] == value
    assert through.headers["strict-transport-security"] == HSTS  # nginx served HTTPS, and said so
    assert "strict-transport-security" not in direct.headers  # plain HTTP, no trusted proxy said otherwise
    assert through.headers["cache-control"] == direct.headers["cache-control"]
    assert "etag" in through.headers


def test_plain_http_redirects_to_the_configured_name_whatever_the_host(stack) -> None:
    _, front = stack
    reply = request(front.http_url, "/status.json?x=1", {"Host": "evil.example.net"})
    assert reply.status == 301
    assert reply.headers["location"] == f"https://{SERVER_NAME}/status.json?x=1"
    assert b"evil" not in reply.body


def test_a_request_body_over_the_limit_is_refused_by_nginx(stack) -> None:
    app, front = stack
    reply = front.get("/status.json", method="POST", body=b"x" * 4096)
    assert reply.status == 413
    assert '"method": "POST"' not in app.out.read_text()  # refused before gunicorn


class _Recorder(BaseHTTPRequestHandler):
    """Stands where gunicorn stands, to see exactly which headers nginx sends it."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_nginx_forwards_exactly_one_hop_and_nothing_a_visitor_made_up(tmp_path: Path) -> None:
    recorder = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    try:
        with nginx(tmp_path, recorder.server_address[1], self_signed(tmp_path)) as front:
            forged = {"Host": "evil.example.net", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http",
                      "X-Forwarded-Host": "evil.example.net", "X-Forwarded-Prefix": "/evil",
                      "Forwarded": "for=203.0.113.9;host=evil.example.net;proto=http", "SCRIPT_NAME": "/evil",
                      "X-Forwarded-Port": "1"}
            assert front.get("/status.json", forged).status == 200
    finally:
        recorder.shutdown()
        recorder.server_close()
    [headers] = _Recorder.seen
    assert headers["host"] == SERVER_NAME
    assert headers["x-forwarded-for"] == "127.0.0.1"  # the peer nginx saw; ProxyFix(x_for=1) takes the last
    assert headers["x-forwarded-proto"] == "https"
    for name in ("x-forwarded-host", "x-forwarded-prefix", "forwarded", "script_name", "x-forwarded-port"):
        assert name not in headers, name
    assert "evil" not in repr(headers) and "203.0.113.9" not in repr(headers)
