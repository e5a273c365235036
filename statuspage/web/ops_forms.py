"""The operator forms: people write to the page from the operator view (/ops) with the same write path
as the CLI and the JSON API (``statuspage.operators``).

A person signs in once with OPS_TOKEN at /ops/login; the answer is a session cookie (HttpOnly,
SameSite=Strict, Secure over HTTPS, path /ops so the public pages never receive it), signed with a key
derived from the token: changing OPS_TOKEN signs everyone out. Every form, the login form included,
carries a CSRF token bound to the session and is refused without it. A write answers 303 back to
/ops with what was done; a refusal re-renders /ops with the one-line reason (400, 404 or 409) and
writes nothing. Registered below the operator view's blueprint, so its guard (``ops._require_token``)
runs first; only with OPS_TOKEN set.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
)
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.exceptions import BadRequest

from .. import board as boards
from .. import db, operators
from ..config import Settings
from ..formatting import utcnow
from ..state import Runtime
from ..vocabulary import COMPONENTS, IMPACTS, INCIDENT_STATUSES
from . import ops

bp = Blueprint("forms", __name__, url_prefix="/ops")
log = logging.getLogger(__name__)

COOKIE = "statuspage_ops"


class OperatorSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, Secure exactly when the request came over HTTPS (as the
    trusted proxies say: TRUSTED_PROXY_HOPS), so a plain-HTTP demo can still sign in."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        # Only where the cookie belongs, and only when it changed: a public answer never sets one.
        return request.path.startswith("/ops") and session.modified


def init_app(app: Flask, settings: Settings) -> None:
    if not settings.ops_token:
        return
    app.secret_key = hmac.new(settings.ops_token.encode(), b"statuspage operator session", hashlib.sha256).digest()
    app.session_interface = OperatorSessions()
    app.config.update(SESSION_COOKIE_NAME=COOKIE, SESSION_COOKIE_PATH="/ops", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_REFRESH_EACH_REQUEST=False,
                      PERMANENT_SESSION_LIFETIME=timedelta(seconds=ops.SESSION_MAX_AGE_S))


def _rt() -> Runtime:
    return current_app.extensions["statuspage"]


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    if not isinstance(session.get("csrf"), str):
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.before_request
def _check_csrf() -> None:
    if request.method != "POST":
        return
    expected, given = session.get("csrf"), request.form.get("csrf", "")
    if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning("operator forms: refused %s from %s: missing or wrong CSRF token", request.path,
                    request.remote_addr)
        raise BadRequest()


def forms_context(now: datetime, error: str | None) -> dict[str, Any]:
    """What ops.html needs for the forms: nothing unless a person is signed in."""
    if not ops.signed_in(now):
        return {"forms": None}
    state = _rt().state
    board = state.board
    return {"forms": {
        "csrf": csrf_token(), "error": error, "done": get_flashed_messages(),
        "components": COMPONENTS, "impacts": IMPACTS, "statuses": INCIDENT_STATUSES,
        "open_incidents": boards.page_incidents(state.history, board, now)["open"],
        "windows": [(w, board.window_state(w)) for w in board.windows] if board else [],
        "announcement": board.announcement if board else None,
    }}


def _private(response: Response) -> Response:
    response.cache_control.no_store = True
    response.cache_control.private = True
    response.headers["Content-Security-Policy"] = ops.OPS_CONTENT_SECURITY_POLICY
    return response


def _login_page(status: int = 200, error: str = "") -> Response:
    return _private(Response(render_template("ops_login.html", csrf=csrf_token(), error=error), status=status,
                             mimetype="text/html"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    if request.method == "GET":
        return _login_page()
    token = _rt().settings.ops_token or ""
    if not ops.authorized(f"Bearer {request.form.get('token', '')}", token):
        log.warning("operator forms: failed sign-in from %s", request.remote_addr)
        return _login_page(401, "That is not the operator token.")
    session.clear()  # a new session: nothing from before the sign-in survives it
    session.permanent = True
    session["ops_since"] = int(utcnow().timestamp())
    csrf_token()
    log.info("operator forms: signed in from %s", request.remote_addr)
    return _private(redirect("/ops", code=303))


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return _private(redirect("/ops/login", code=303))


def _raw() -> dict[str, Any]:
    """The form as the write path's raw input: empty fields absent, components as a list."""
    raw: dict[str, Any] = {k: v for k, v in request.form.items() if k not in ("csrf", "components") and v != ""}
    if "components" in request.form:
        raw["components"] = request.form.getlist("components")
    return raw


Write = Callable[..., str]  # (conn, now, author, **the rule's values) -> what was done, in words


def _write(done: Callable[[psycopg.Connection, datetime, operators.Author], str]) -> Response:
    """Validate and write; 303 to /ops with what was done, or /ops again with the refusal."""
    rt, now = _rt(), utcnow()
    author = operators.Author("form", request.remote_addr or "unknown")
    try:
        with operators.connect(rt.settings.history_dsn, db.connect_kwargs(rt.settings, read_only=False)) as conn:
            message = done(conn, now, author)
    except operators.OperatorError as exc:
        return ops.render_ops_page(exc.status, str(exc))
    except psycopg.Error as exc:
        log.error("operator forms: %s: history database: %s", request.path, type(exc).__name__)
        return ops.render_ops_page(503, "The history database cannot be written to now; nothing was written.")
    flash(message)
    return _private(redirect("/ops", code=303))


def _form(rule: str) -> Callable[[Write], Write]:
    """Register ``write`` as the form posted to ``rule``: every form goes through ``_write``, so each
    one only says what it writes and what to tell the operator."""

    def register(write: Write) -> Write:
        def view(**values: Any) -> Response:
            return _write(lambda conn, now, author: write(conn, now, author, **values))

        bp.add_url_rule(rule, write.__name__, view, methods=["POST"])
        return write

    return register


def _id(raw: Any) -> int:
    if not isinstance(raw, str) or not raw.isdigit():
        raise operators.Invalid("choose an incident by its id")
    return int(raw)


def _incident_form() -> tuple[int, dict[str, Any]]:
    """The incident a form names, and the rest of the form."""
    raw = _raw()
    return _id(raw.pop("incident", None)), raw


@_form("/incidents")
def open_incident(conn: psycopg.Connection, now: datetime, author: operators.Author) -> str:
    new = operators.new_incident(_raw())
    return f"Incident {operators.open_incident(conn, new, now, author)} opened."


@_form("/incidents/update")
def update_incident(conn: psycopg.Connection, now: datetime, author: operators.Author) -> str:
    incident_id, raw = _incident_form()
    new = operators.new_update(raw)
    operators.update_incident(conn, incident_id, new, now, author)
    return f"Incident {incident_id}: {new.status}."


@_form("/incidents/postmortem")
def postmortem(conn: psycopg.Connection, now: datetime, author: operators.Author) -> str:
    incident_id, raw = _incident_form()
    operators.add_postmortem(conn, incident_id, operators.postmortem_text(raw), now, author)
    return f"Incident {incident_id}: postmortem attached."


@_form("/maintenances")
def schedule(conn: psycopg.Connection, now: datetime, author: operators.Author) -> str:
    raw = _raw()
    if "minutes" in raw:
        minutes = raw["minutes"]
        raw["minutes"] = int(minutes) if minutes.isdigit() else minutes
    new = operators.new_window(raw, now)
    return f"Maintenance {operators.schedule(conn, new, now, author)} scheduled."


@_form("/maintenances/<int:window_id>/cancel")
def cancel(conn: psycopg.Connection, now: datetime, author: operators.Author, window_id: int) -> str:
    return f"Maintenance {window_id}: {operators.cancel(conn, window_id, now, author)}."


@_form("/announcement")
def announce(conn: psycopg.Connection, now: datetime, author: operators.Author) -> str:
    message, until = operators.new_announcement(_raw(), now)
    operators.announce(conn, message, until, now, author)
    return "Announcement set."


@_form("/announcement/clear")
def clear_announcement(conn: psycopg.Connection, now: datetime, author: operators.Author) -> str:
    return "Announcement cleared." if operators.clear_announcement(conn, now, author) else "No announcement."


ops.bp.register_blueprint(bp)  # below the operator view: its guard runs first
