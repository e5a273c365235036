"""The operators' JSON API for deploy pipelines and scripts, under ``/api/ops/``: the same writes as the
CLI and the operator forms (``statuspage.operators``), with ``Authorization: Bearer <OPS_TOKEN>``.

Same rules as the operator view (``web/ops.py``): registered only when OPS_TOKEN is set (404 for
everything otherwise), 401 without the token, compared in constant time, and a refused token is
logged without the token. Bad input is 400 with ``{"error": …}`` naming the problem, an unknown
incident or window 404, a write that the record forbids (an update to a resolved incident) 409;
nothing is written then. Writes go to the history database on a connection of their own, and every
process shows them within PROBE_INTERVAL_S (its history job reads them). Never cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from .. import db, operators
from ..config import Settings
from ..formatting import utc_iso, utcnow
from ..state import Runtime
from .ops import REALM, authorized
from .responses import no_store_json

bp = Blueprint("ops_api", __name__, url_prefix="/api/ops")
log = logging.getLogger(__name__)


# Far above any valid write (5,000 characters of message), far below what would cost memory.
MAX_BODY_BYTES = 64 * 1024


def init_app(app: Flask, settings: Settings) -> None:
    if settings.ops_token:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES  # 413 for a bigger body, read no further
        app.register_blueprint(bp)


def _rt() -> Runtime:
    return current_app.extensions["statuspage"]


@bp.before_request
def _require_token() -> None:
    token = _rt().settings.ops_token
    if not token or not authorized(request.headers.get("Authorization", ""), token):
        # Who knocked, never what they sent: a near-miss token is still most of the token.
        log.warning("ops api: refused %s %s from %s: missing or wrong bearer token", request.method, request.path,
                    request.remote_addr)
        raise Unauthorized(www_authenticate=WWWAuthenticate("bearer", {"realm": REALM}))


def author() -> operators.Author:
    """Who wrote through the API: the client's address, as the trusted proxies report it."""
    return operators.Author("api", request.remote_addr or "unknown")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise operators.Invalid("the request body must be a JSON object (Content-Type: application/json)")
    return body


@bp.errorhandler(operators.OperatorError)
def _refused(exc: operators.OperatorError) -> Response:
    return no_store_json({"error": str(exc)}, exc.status)


def write(action: Callable[[psycopg.Connection], tuple[dict[str, Any], int]]) -> Response:
    """Run one write on a connection of its own. Input is validated before (nothing is opened for a
    bad request); a refusal inside (404, 409) rolls the write back."""
    rt = _rt()
    try:
        with operators.connect(rt.settings.history_dsn, db.connect_kwargs(rt.settings, read_only=False)) as conn:
            payload, status = action(conn)
    except psycopg.Error as exc:
        log.error("ops api: %s %s: history database: %s", request.method, request.path, type(exc).__name__)
        return no_store_json({"error": "the history database cannot be written to now; nothing was written"}, 503)
    return no_store_json(payload, status)


@bp.post("/incidents")
def open_incident() -> Response:
    new, now = operators.new_incident(_body()), utcnow()

    def action(conn: psycopg.Connection) -> tuple[dict[str, Any], int]:
        incident_id = operators.open_incident(conn, new, now, author())
        return {"id": incident_id, "status": new.status, "opened_at": utc_iso(now)}, 201

    return write(action)


@bp.post("/incidents/<int:incident_id>/updates")
def update_incident(incident_id: int) -> Response:
    new, now = operators.new_update(_body()), utcnow()

    def action(conn: psycopg.Connection) -> tuple[dict[str, Any], int]:
        update_id = operators.update_incident(conn, incident_id, new, now, author())
        return {"id": update_id, "incident_id": incident_id, "status": new.status, "at": utc_iso(now)}, 201

    return write(action)


@bp.post("/incidents/<int:incident_id>/postmortem")
def postmortem(incident_id: int) -> Response:
    message, now = operators.postmortem_text(_body()), utcnow()

    def action(conn: psycopg.Connection) -> tuple[dict[str, Any], int]:
        operators.add_postmortem(conn, incident_id, message, now, author())
        return {"incident_id": incident_id, "at": utc_iso(now)}, 200

    return write(action)


@bp.post("/maintenances")
def schedule() -> Response:
    """One call for a deploy pipeline: {"title", "components", "minutes"} is maintenance from now."""
    now = utcnow()
    new = operators.new_window(_body(), now)

    def action(conn: psycopg.Connection) -> tuple[dict[str, Any], int]:
        window_id = operators.schedule(conn, new, now, author())
        when = ({"scheduled_for": utc_iso(new.starts_at), "scheduled_until": utc_iso(new.ends_at)}
                if new.starts_at and new.ends_at else {"cron": new.cron, "duration_s": new.duration_s,
                                                       "timezone": new.timezone})
        return {"id": window_id, **when}, 201

    return write(action)


@bp.post("/maintenances/<int:window_id>/cancel")
def cancel(window_id: int) -> Response:
    now = utcnow()
    return write(lambda conn: ({"id": window_id, "state": operators.cancel(conn, window_id, now, author())}, 200))


@bp.put("/announcement")
def announce() -> Response:
    now = utcnow()
    message, until = operators.new_announcement(_body(), now)

    def action(conn: psycopg.Connection) -> tuple[dict[str, Any], int]:
        operators.announce(conn, message, until, now, author())
        return {"message": message, "until": utc_iso(until) if until else None, "at": utc_iso(now)}, 200

    return write(action)


@bp.delete("/announcement")
def clear_announcement() -> Response:
    now = utcnow()
    return write(lambda conn: ({"cleared": operators.clear_announcement(conn, now, author())}, 200))
