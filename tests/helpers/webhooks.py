"""A webhook receiver on 127.0.0.1 that answers as a test scripts it."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A webhook receiver; ``script`` says how to answer each request in turn (then 200). Every
    request is kept in ``received``: its body, the answer, its Idempotency-Key and when it came."""

    def __init__(self, script: list[str] | None = None) -> None:
        self.script = list(script or [])
        self.received: list[dict] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()  # several senders (processes) may post at once
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    action = receiver.script.pop(0) if receiver.script else "200"
                    receiver.received.append({"body": json.loads(body), "raw": body, "answer": action,
                                              "key": self.headers["Idempotency-Key"], "at": datetime.now(UTC)})
                if action == "hang":
                    receiver.stop.wait(10)  # bounded: the test ends it
                    return
                self.send_response(int(action))
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/s3cr3t-hook-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self, event: str | None = None) -> list[dict]:
        with self._lock:
            return [r["body"] for r in self.received if r["answer"] == "200"
                    and (event is None or r["body"]["event"] == event)]

    def messages(self, component: str, event: str) -> list[dict]:
        """Every request about ``component`` and ``event``, as kept (body, answer, key, time)."""
        with self._lock:
            return [r for r in self.received if r["body"]["component"] == component and r["body"]["event"] == event]

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
