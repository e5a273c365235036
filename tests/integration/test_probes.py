"""The engine scrape over real HTTP on 127.0.0.1, against the simulated engine."""

from __future__ import annotations

import base64
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from statuspage.demo.simengine import SimEngine
from statuspage.jobs.probes import scrape_engine


def test_scrape_reads_the_two_gauges_and_ignores_the_rest(engine: SimEngine) -> None:
    scrape = scrape_engine(engine.url, 2)
    assert scrape.ok and scrape.db_connected == 1
    assert scrape.last_tick == pytest.approx(engine.last_tick)
    engine.db_connected = False
    assert scrape_engine(engine.url, 2).db_connected == 0


@pytest.mark.parametrize(("mode", "error"), [("error", "HTTP 500"), ("garbage", "unparseable metrics")])
def test_a_bad_answer_is_a_failed_scrape_with_an_operator_reason(engine: SimEngine, mode: str, error: str) -> None:
    engine.mode = mode
    scrape = scrape_engine(engine.url, 2)
    assert not scrape.ok and error in scrape.error


def test_a_hung_endpoint_times_out_within_the_probe_timeout(engine: SimEngine) -> None:
    engine.mode = "hang"
    started = time.monotonic()
    scrape = scrape_engine(engine.url, 0.5)
    elapsed = time.monotonic() - started
    assert not scrape.ok and "timed out" in scrape.error
    assert elapsed < 5  # bounded by the timeout (0.5 s), with room for a loaded machine


def test_a_trickling_endpoint_cannot_hold_the_probe_past_its_deadline() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            while not stop.wait(0.1):  # a byte every 100 ms: never idle long enough for a socket timeout
                try:
                    conn.sendall(b"#")
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        scrape = scrape_engine(f"http://127.0.0.1:{listener.getsockname()[1]}/metrics", 0.5)
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)
    assert not scrape.ok and "within the probe timeout" in scrape.error


def test_nothing_listening_is_a_failed_scrape() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    scrape = scrape_engine(f"http://127.0.0.1:{port}/metrics", 1)
    assert not scrape.ok and "ConnectionRefusedError" in scrape.error


def test_credentials_in_the_url_go_as_basic_auth_and_never_into_messages() -> None:
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(500)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        scrape = scrape_engine(f"http://scraper:pa%40ss-SENTINEL@127.0.0.1:{server.server_port}/metrics", 2)
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["Basic " + base64.b64encode(b"scraper:pa@ss-SENTINEL").decode()]
    assert not scrape.ok and "HTTP 500" in scrape.error and "SENTINEL" not in scrape.error
