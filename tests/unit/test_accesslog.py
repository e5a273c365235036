"""gunicorn.conf.py's access log: JsonAccessLogger writes, field for field, the line gunicorn's own
logger makes of access_log_format (valid JSON whatever the path holds), buffered and flushed
within ACCESS_FLUSH_S (tests/integration/test_accesslog.py: a worker that exits writes what it
still holds)."""

from __future__ import annotations

import io
import json
import os
import re
import runpy
from datetime import timedelta
from typing import Any

import pytest
from gunicorn.config import Config

from ..helpers import ROOT
from ..helpers.wait import wait_until

PATHS = ["/performance/landing", '/x","status":"999"\\\ny', "/caf\u00e9/\u2603", "/\x00\x1f\x7f", "/" + "a" * 3000]
# gunicorn.conf.py makes these directories unless they are named: the test names its own.
NAMED_DIRS = ("PROMETHEUS_MULTIPROC_DIR", "STATUSPAGE_SNAPSHOT_DIR")


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Named for the time the file is read only: apps built later in this process must not take the
    # multiprocess path of the metrics.
    named = {name: os.environ.get(name) for name in NAMED_DIRS}
    for name in NAMED_DIRS:
        os.environ[name] = str(tmp_path_factory.mktemp(name.lower()))
    try:
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        for name, value in named.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


class Resp:
    def __init__(self, status: str, sent: int | None) -> None:
        self.status, self.sent = status, sent
        self.headers = [("Content-Type", "application/json"), ("ETag", '"abc"')]


def logger(conf: dict[str, Any]) -> tuple[Any, io.StringIO]:
    """The logger gunicorn builds from gunicorn.conf.py, writing to a string (one at a time: every
    gunicorn logger shares the "gunicorn.access" logger of the logging module)."""
    cfg = Config()
    for name in ("accesslog", "access_log_format", "errorlog"):
        cfg.set(name, conf[name])
    log = conf["JsonAccessLogger"](cfg)
    stream = io.StringIO()
    # gunicorn's own handler only (pytest may have added its capturing ones to the logging module's loggers)
    log.access_log.handlers = [h for h in log.access_log.handlers if getattr(h, "_gunicorn", False)]
    [handler] = log.access_log.handlers
    handler.stream = stream
    return log, stream


def test_each_line_is_the_one_gunicorns_own_logger_makes_and_valid_json(conf: dict[str, Any]) -> None:
    log, out = logger(conf)
    cases = [(path, method, Resp(status, sent), timedelta(microseconds=micros))
             for path, method, status, sent, micros in [
                 (PATHS[0], "GET", "200 OK", 3359, 1234), (PATHS[1], "GET", "404 NOT FOUND", 22, 999),
                 (PATHS[2], "HEAD", "304 NOT MODIFIED", 0, 2_001_500),
                 (PATHS[3], "POST", "405 METHOD NOT ALLOWED", None, 0),
                 (PATHS[4], "GET", "414 URI TOO LONG", 17, 5)]]
    for path, method, resp, took in cases:
        environ = {"REMOTE_ADDR": "203.0.113.7", "REQUEST_METHOD": method, "PATH_INFO": path,
                   "RAW_URI": path + "?token=s3cret", "QUERY_STRING": "token=s3cret", "SERVER_PROTOCOL": "HTTP/1.1",
                   "HTTP_AUTHORIZATION": "Bearer s3cret"}
        req = [("AUTHORIZATION", "Bearer s3cret"), ("USER-AGENT", "test")]
        log.access(resp, req, environ, took)  # ours, buffered
        log.flush_access()
        log._direct = False  # gunicorn's own path (atoms, logging module) with the same format
        log.access(resp, req, environ, took)
        log._direct = True
    lines = out.getvalue().splitlines()
    mine, gunicorns = lines[0::2], lines[1::2]
    assert len(mine) == len(gunicorns) == len(cases)
    for line, expected, (path, method, resp, took) in zip(mine, gunicorns, cases, strict=True):
        # The same text, byte for byte, but for the clock (the two may straddle a second).
        assert line.replace(_stamp(line), "") == expected.replace(_stamp(expected), "")
        assert re.fullmatch(r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", _stamp(line))
        entry = json.loads(line)
        assert (entry["path"], entry["method"], entry["status"]) == (path, method, resp.status[:3])
        assert entry["duration_ms"] == str(took // timedelta(milliseconds=1))
        assert entry["bytes"] == (str(resp.sent) if resp.sent is not None else "-")
    assert "s3cret" not in out.getvalue()


def _stamp(line: str) -> str:
    return json.loads(line)["time"]


def test_lines_wait_in_the_buffer_at_most_until_the_next_flush(conf: dict[str, Any]) -> None:
    log, out = logger(conf)
    environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_PROTOCOL": "HTTP/1.1"}
    # No write per request: a line waits in the buffer...
    log.access(Resp("200 OK", 10), [], environ, timedelta(0))
    assert out.getvalue() == ""
    # ...until the buffer is full, when it is written at once, in order,
    long_path = "/" + "b" * 1000
    while out.getvalue() == "":
        log.access(Resp("200 OK", 10), [], {**environ, "PATH_INFO": long_path}, timedelta(0))
    written = [json.loads(line)["path"] for line in out.getvalue().splitlines()]
    assert written == ["/"] + [long_path] * (conf["ACCESS_BUFFER_LINES"] - 1)
    # ...or until the worker's flushing thread comes by.
    log.access(Resp("200 OK", 10), [], {**environ, "PATH_INFO": "/last"}, timedelta(0))
    log.start_flushing()
    wait_until(lambda: out.getvalue().endswith('"duration_ms": "0"}\n') and "/last" in out.getvalue(),
               timeout=conf["ACCESS_FLUSH_S"] * 20, what="the flushing thread writing the last line")
