"""Incident notifications to webhooks, exactly once across workers and instances.

Only the history leader writes the outbox (``enqueue``, in the history job) and only the leader
sends (``Notifier.deliver_due``, in a job of its own so a slow receiver delays nothing else). A row
is claimed under a lease before its send and settled after it: a leader that dies mid-send leaves
the row to the next leader once the lease runs out; a delivered row is never claimed again.
Receivers see an ``Idempotency-Key`` per message, which also covers the one case no outbox can: a
sender that dies after the receiver answered and before the row was settled.

When the outbox itself cannot be reached (the history database is down, often with the database
being reported), ``DirectAlerts`` lets every process send an incident's "opened" message itself,
once, under the key the outbox will use for it later (``message_key``), so receivers can drop the
repeats and the outbox does not send it again.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

from . import deadline
from .budgets import NOTIFY_BATCH
from .db import sql
from .formatting import duration, utc_iso
from .history import Incident
from .vocabulary import component_name

log = logging.getLogger(__name__)

SLACK_HOSTS = {"hooks.slack.com"}
DISCORD_HOSTS = {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
MAX_BACKOFF_S = 300.0
BATCH = NOTIFY_BATCH  # rows per run, part of the run's hard deadline (statuspage.budgets)


def message_key(alert_key: str, event: str) -> str:
    """The Idempotency-Key of an incident's message, the same in every process and in the outbox:
    "statuspage-database-20260430T120015Z-opened"."""
    return f"statuspage-{alert_key}-{event.removeprefix('incident.')}"


def receiver_id(url: str) -> str:
    """How the outbox names a receiver: its URL carries a token and never goes to the database."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/…``: enough to tell receivers apart, nothing of the token."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def message_text(message: dict[str, Any]) -> str:
    """The one-line form chat webhooks get."""
    link = f" {message['page_url']}" if message.get("page_url") else ""
    if message.get("source") == "operator":
        return operator_text(message) + link
    name = component_name(message["component"])
    if message["event"] == "incident.test":
        return f"[test] statuspage test message: notifications reach this channel.{link}"
    if message["event"] == "incident.opened":
        detail = f": {message['detail']}" if message.get("detail") else ""
        return (f"[{message['to'].upper()}] {name} is {message['to']} (was {message['from']}) "
                f"since {message['at']}{detail}.{link}")
    return f"[RESOLVED] {name} is operational again after {duration(message['duration_s'] or 0)}.{link}"


def operator_text(message: dict[str, Any]) -> str:
    """An operator's incident update or a maintenance window's start or end, in one line."""
    names = ", ".join(component_name(c) for c in message["components"])
    if message["event"] == "maintenance.started":
        return (f"[MAINTENANCE] {message['title']} ({names}) started, until {message['scheduled_until']}"
                + (f": {message['message']}" if message["message"] else "."))
    if message["event"] == "maintenance.completed":
        return f"[MAINTENANCE] {message['title']} ({names}) completed."
    tag = "RESOLVED" if message["event"] == "incident.resolved" else message["impact"].upper()
    return f"[{tag}] {message['title']} ({names}), {message['status']}: {message['message']}"


def request_body(url: str, message: dict[str, Any]) -> bytes:
    """Slack and Discord incoming webhooks get their own format; everyone else the JSON event."""
    host = urlsplit(url).hostname or ""
    if host in SLACK_HOSTS:
        return json.dumps({"text": message_text(message)}).encode()
    if host in DISCORD_HOSTS:
        return json.dumps({"content": message_text(message)}).encode()
    return json.dumps(message, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Attempt:
    outcome: str  # delivered, retry or failed
    detail: str  # for the operator: status code or error, never the URL


def post(url: str, body: bytes, timeout_s: float, key: str) -> Attempt:
    """One request, over within ``timeout_s`` in all: a receiver that trickles its answer is cut."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "statuspage-notify/1", "Idempotency-Key": key})
    with deadline.within(timeout_s, "webhook request") as scope:
        try:
            with deadline.urlopen(request, timeout_s) as response:
                response.read(65536)
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            # 429 and 5xx may pass; any other 4xx says this message will never be accepted
            final = 400 <= exc.code < 500 and exc.code != 429
            return Attempt("failed" if final else "retry", f"HTTP {exc.code}")
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if scope.fired:
                return Attempt("retry", f"no complete answer within {timeout_s:g} s")
            reason = getattr(exc, "reason", exc)
            return Attempt("retry", f"{type(reason).__name__}: {reason}"[:200])
    if scope.fired:  # the answer was cut short: not known to be delivered
        return Attempt("retry", f"no complete answer within {timeout_s:g} s")
    return Attempt("delivered", f"HTTP {status}")


def backoff_s(attempts: int, rng: random.Random) -> float:
    """Exponential from 2 s, capped at 5 min, with jitter so receivers are not hit in step."""
    return min(MAX_BACKOFF_S, 2.0 * 2 ** (attempts - 1)) * rng.uniform(0.5, 1.0)


def enqueue(conn: psycopg.Connection, urls: list[str], now: datetime, min_incident_s: float,
            retry_for_s: float, hold_s: float = 0) -> int:
    """Write outbox rows for incident events not yet queued; returns how many were added. The
    "opened" message of an incident written more than ``hold_s`` late waits ``hold_s`` (0: none)."""
    if not urls:
        return 0
    cur = conn.execute(sql("notify_enqueue"), {"now": now, "min_s": min_incident_s, "retry_s": retry_for_s,
                                               "receivers": [receiver_id(u) for u in urls], "hold_s": hold_s})
    return cur.rowcount


def failed_deliveries(conn: psycopg.Connection, urls: list[str], limit: int = 10) -> list[dict[str, Any]]:
    """The latest deliveries given up on, newest first, receivers shown without their tokens."""
    by_id = {receiver_id(url): url for url in urls}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql("notify_failures"), {"limit": limit}).fetchall()
    for row in rows:
        url = by_id.get(row.pop("receiver"))
        row["receiver"] = redact_url(url) if url else "(no longer configured)"
    return rows


class Notifier:
    """The sending side, with a database connection of its own."""

    def __init__(self, dsn: str, connect_kwargs: dict[str, Any], urls: list[str], page_url: str | None,
                 timeout_s: float, me: str, call_s: float | None = None) -> None:
        self._dsn, self._kwargs = dsn, {**connect_kwargs, "autocommit": True}
        self.call_s = call_s  # client-side deadline of each outbox statement (a frozen server)
        self.urls = {receiver_id(url): url for url in urls}
        self.page_url, self.timeout_s, self.me = page_url, timeout_s, me
        self.conn: psycopg.Connection | None = None
        self._rng = random.Random()

    def _connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self._dsn, **self._kwargs)
        return self.conn

    def deliver_due(self, now: datetime) -> dict[str, int]:
        """Send what is due, one row at a time; returns counts by outcome."""
        counts = {"delivered": 0, "retry": 0, "failed": 0}
        if not self.urls:
            return counts
        conn = self._connection()
        receivers = list(self.urls)
        with deadline.guard(conn, "notify outbox", self.call_s):
            conn.execute(sql("notify_orphans"), {"receivers": receivers})
        for _ in range(BATCH):
            with deadline.guard(conn, "notify outbox", self.call_s), conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(sql("notify_claim"), {"me": self.me, "now": now, "receivers": receivers,
                                                         "lease_s": self.timeout_s + 10}).fetchone()
            if row is None:
                break
            url = self.urls[row["receiver"]]
            message = {**row["payload"], "page_url": self.page_url}
            # Incidents since migration 0004 carry their identity; a direct alert used the same key.
            key = message_key(row["alert_key"], row["event"]) if row["alert_key"] else f"statuspage-{row['id']}"
            attempt = post(url, request_body(url, message), self.timeout_s, key=key)
            status, next_at = "pending", now
            if attempt.outcome == "delivered":
                status = "delivered"
            elif attempt.outcome == "failed" or now >= row["give_up_at"]:
                status = "failed"
            else:
                next_at = now + timedelta(seconds=backoff_s(row["attempts"], self._rng))
            outcome = "retry" if status == "pending" else status
            counts[outcome] += 1
            with deadline.guard(conn, "notify outbox", self.call_s):
                conn.execute(sql("notify_settle"), {"id": row["id"], "me": self.me, "status": status,
                                                     "next_attempt_at": next_at, "error": "" if status == "delivered"
                                                     else attempt.detail, "now": now})
            level = logging.INFO if status == "delivered" else logging.WARNING
            log.log(level, "notify: %s #%s to %s: %s (%s, attempt %s)", row["event"], row["id"],
                    redact_url(url), outcome, attempt.detail, row["attempts"])
        return counts

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def direct_candidates(incidents: Sequence[Incident], now: datetime, min_incident_s: float,
                      retry_for_s: float) -> list[Incident]:
    """Incidents whose "opened" message is due and was not delivered through the outbox: ongoing,
    past the flap threshold, within the retry window, with an identity (written or not)."""
    return [i for i in incidents
            if i.resolved_at is None and not i.notified and i.alert_key
            and min_incident_s <= (now - i.opened_at).total_seconds() <= retry_for_s]


@dataclass
class _Direct:
    first_at: datetime
    attempts: int = 0  # -1 after a final 4xx
    next_at: datetime | None = None
    delivered_at: datetime | None = None


class DirectAlerts:
    """Alerts this process sends itself while the outbox cannot be reached.

    At most one delivery per (incident, receiver) from each process, retried with the outbox's
    backoff until delivered or the retry window ends, under ``message_key``: every process derives
    the same key, and so does the outbox once it is back. What was delivered is remembered until
    the outbox rows of those incidents have been marked delivered (``settle``)."""

    def __init__(self, urls: list[str], page_url: str | None, timeout_s: float, min_incident_s: float,
                 retry_for_s: float) -> None:
        self.urls = {receiver_id(url): url for url in urls}
        self.page_url, self.timeout_s = page_url, timeout_s
        self.min_incident_s, self.retry_for_s = min_incident_s, retry_for_s
        self._sends: dict[tuple[str, str], _Direct] = {}  # (alert_key, receiver) -> its attempts
        self._lock = threading.Lock()
        self._rng = random.Random()

    def send_due(self, incidents: Sequence[Incident], now: datetime) -> dict[str, int]:
        counts = {"delivered": 0, "retry": 0, "failed": 0}
        for incident in direct_candidates(incidents, now, self.min_incident_s, self.retry_for_s):
            message = {"event": "incident.opened", "component": incident.component, "from": incident.from_state,
                       "to": incident.worst_state, "at": utc_iso(incident.opened_at), "duration_s": None,
                       "detail": incident.detail, "page_url": self.page_url}
            key = message_key(incident.alert_key, "incident.opened")
            for receiver, url in self.urls.items():
                with self._lock:
                    send = self._sends.setdefault((incident.alert_key, receiver), _Direct(now))
                if send.delivered_at or (send.next_at and now < send.next_at) or send.attempts < 0:
                    continue
                attempt = post(url, request_body(url, message), self.timeout_s, key=key)
                send.attempts += 1
                if attempt.outcome == "delivered":
                    send.delivered_at = now
                elif attempt.outcome == "failed":
                    send.attempts = -1  # a 4xx: this receiver will never take it
                else:
                    send.next_at = now + timedelta(seconds=backoff_s(send.attempts, self._rng))
                counts[attempt.outcome] += 1
                level = logging.INFO if attempt.outcome == "delivered" else logging.WARNING
                log.log(level, "notify: outbox unreachable, sent %s of %s directly to %s: %s (%s)",
                        "incident.opened", incident.alert_key, redact_url(url), attempt.outcome, attempt.detail)
        return counts

    def delivered(self) -> list[tuple[str, str]]:
        """(alert_key, receiver) of every direct delivery not yet settled in the outbox."""
        with self._lock:
            return [pair for pair, send in self._sends.items() if send.delivered_at]

    def settle(self, conn: psycopg.Connection, now: datetime) -> int:
        """Mark the outbox rows of what this process delivered directly as delivered; forget what
        has an outbox row now, and anything older than the retry window. Returns how many it matched."""
        pairs = self.delivered()
        marked: set[tuple[str, str]] = set()
        if pairs:
            rows = conn.execute(sql("notify_sent_directly"), {
                "keys": [k for k, _ in pairs], "receivers": [r for _, r in pairs], "now": now}).fetchall()
            marked = {(row[0], row[1]) for row in rows}
        horizon = now - timedelta(seconds=self.retry_for_s)
        with self._lock:
            for pair, send in list(self._sends.items()):
                if pair in marked or send.first_at < horizon:
                    del self._sends[pair]
        return len(marked)


def send_test(urls: list[str], page_url: str | None, timeout_s: float,
              now: datetime) -> list[tuple[str, Attempt]]:
    """``python -m statuspage notify test``: one marked test message to each receiver, no outbox."""
    message = {"event": "incident.test", "component": "statuspage", "from": None, "to": None,
               "at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "duration_s": None, "test": True,
               "detail": "test message from python -m statuspage notify test; no incident", "page_url": page_url}
    key = f"statuspage-test-{int(now.timestamp())}"
    return [(redact_url(url), post(url, request_body(url, message), timeout_s, key)) for url in urls]
