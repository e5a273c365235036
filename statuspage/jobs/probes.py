"""The I/O half of health: scrape the engine's metrics, time a database round trip, read the
tracker file for drift. Each returns plain data; ``status`` decides what it means."""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.error
import urllib.request
from http.client import HTTPResponse
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

from .. import db
from .. import deadline as watchdog  # "deadline" is a local name below
from ..status import Scrape

MAX_SCRAPE_BYTES = 4 * 1024 * 1024
ENGINE_GAUGES = {"engine_db_connected": "db_connected", "engine_last_tick_timestamp_seconds": "last_tick"}


def _read_within(response: HTTPResponse, deadline: float) -> bytes:
    """Read the body, giving up at ``deadline``: a server that trickles bytes cannot hold us."""
    chunks, size = [], 0
    while chunk := response.read1(65536):  # read1: whatever has arrived, so the deadline is checked
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_SCRAPE_BYTES:
            raise ValueError(f"response larger than {MAX_SCRAPE_BYTES} bytes")
        if time.monotonic() > deadline:
            raise TimeoutError("response not complete within the probe timeout")
    return b"".join(chunks)


def parse_engine_metrics(body: str) -> dict[str, float]:
    """The two gauges the page reads; raises ValueError on text that is not Prometheus format."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name in ENGINE_GAUGES:
                found[ENGINE_GAUGES[sample.name]] = float(sample.value)
    return found


def _without_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``http://user:pass@engine:9100/metrics`` becomes the bare URL plus a Basic Authorization
    header: urllib would not send them, and the URL appears in operator messages."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
    return urlunsplit(parts._replace(netloc=netloc)), {"Authorization": f"Basic {token}"}


def scrape_engine(url: str, timeout_s: float) -> Scrape:
    started = time.monotonic()
    deadline = started + timeout_s

    def failed(error: str) -> Scrape:
        return Scrape(ok=False, latency_ms=(time.monotonic() - started) * 1000, error=error)

    url, headers = _without_credentials(url)
    request = urllib.request.Request(url, headers={"Accept": "text/plain", **headers})
    # The socket is shut at the deadline whatever phase the request is in (connect, headers, body):
    # the socket timeout alone only bounds each read, and a server can trickle its headers.
    with watchdog.within(timeout_s, "engine scrape") as scope:
        try:
            with watchdog.urlopen(request, timeout_s) as response:
                if response.status != 200:
                    return failed(f"HTTP {response.status} from {url}")
                body = _read_within(response, deadline)
        except urllib.error.HTTPError as exc:
            return failed(f"HTTP {exc.code} from {url}")
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            if scope.fired:
                return failed(f"TimeoutError: timed out, no complete response within the probe timeout ({url})")
            reason = getattr(exc, "reason", exc)
            return failed(f"{type(reason).__name__}: {reason} ({url})")
    if scope.fired:  # cut at the deadline: what arrived may look complete and is not
        return failed(f"TimeoutError: timed out, no complete response within the probe timeout ({url})")
    latency_ms = (time.monotonic() - started) * 1000
    try:
        values = parse_engine_metrics(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return Scrape(ok=False, latency_ms=latency_ms, error=f"unparseable metrics from {url}: {exc}")
    return Scrape(ok=True, latency_ms=latency_ms, **values)


def ping_database(pool: ConnectionPool, timeout_s: float) -> tuple[float | None, str]:
    """(round trip in ms, "") or (None, operator detail)."""
    try:
        return db.ping(pool, timeout_s), ""
    except Exception as exc:  # any failure is the same verdict: down
        return None, f"{type(exc).__name__}: {exc}".strip()


def tracker_trades(path: str) -> int:
    """Trade count in the engine's tracker file: a list of trades, or an object holding one."""
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict):
        for key in ("trades", "closed_trades"):
            if isinstance(data.get(key), list):
                return len(data[key])
        for key in ("total_trades", "trade_count"):
            if isinstance(data.get(key), int):
                return data[key]
    if isinstance(data, list):
        return len(data)
    raise ValueError("no trade list or count found")
