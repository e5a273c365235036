"""The operator view: what the public page leaves out (error text, the database host, tracker drift,
probe internals, background job runs) at ``GET /ops`` and ``GET /ops.json``, for a request with
``Authorization: Bearer <OPS_TOKEN>``.

Registered only when OPS_TOKEN is set; without it /ops is as unknown as any other path (404 for
every method). Like every view it reads this process's memory, never the database: under gunicorn
each worker answers for itself, and says which (``pid``). Never cached anywhere.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Blueprint, Flask, Response, current_app, render_template, request, session
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from ..budgets import LIVENESS_SLACK_S, job_deadlines
from ..config import SETTINGS, Settings, redact_dsn
from ..formatting import utc_iso, utcnow
from ..jobs.scheduler import job_intervals, liveness
from ..state import Runtime
from ..status import JobRun
from .security import CONTENT_SECURITY_POLICY

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)

REALM = "statuspage operator view"
REDACTED = "<redacted>"
# Shorter fragments of a secret are not scrubbed from the text shown: they would match ordinary words.
MIN_SCRUBBED = 4


def init_app(app: Flask, settings: Settings) -> None:
    if settings.ops_token:
        app.register_blueprint(bp)


def _rt() -> Runtime:
    return current_app.extensions["statuspage"]


def authorized(header: str, token: str) -> bool:
    """``header`` is ``Bearer <token>``, compared in constant time: timing tells nothing of the token
    but, at most, its length."""
    scheme, _, given = header.partition(" ")
    # compare_digest on bytes: it refuses non-ASCII str, and a header may hold anything
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


# The operator forms (web/ops_forms.py) sign a person in with the token once; their session then
# stands for it on /ops and the forms. The login form itself is the one way in without either.
LOGIN_ENDPOINT = "ops.forms.login"
SESSION_MAX_AGE_S = 8 * 3600
# The operator pages post their forms to themselves; the public page keeps form-action 'none'.
OPS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("form-action 'none'", "form-action 'self'")


def signed_in(now: datetime) -> bool:
    """A session from the login form, younger than SESSION_MAX_AGE_S (its cookie is signed with a
    key derived from OPS_TOKEN: a new token signs everyone out)."""
    since = session.get("ops_since")
    return isinstance(since, int | float) and 0 <= now.timestamp() - since < SESSION_MAX_AGE_S


@bp.before_request
def _require_token() -> None:
    token = _rt().settings.ops_token
    if token and request.endpoint == LOGIN_ENDPOINT:
        return
    if not token or not (authorized(request.headers.get("Authorization", ""), token) or signed_in(utcnow())):
        # Who knocked, never what they sent: a near-miss token is still most of the token.
        log.warning("operator view: refused %s %s from %s: no valid bearer token or session", request.method,
                    request.path, request.remote_addr)
        raise Unauthorized(www_authenticate=WWWAuthenticate("bearer", {"realm": REALM}))


def _shown(secret: str) -> str:
    """How a secret may appear: a URL as its scheme, host and port (a webhook's path is its
    token); anything else not at all."""
    try:
        parts = urlsplit(secret)
        host, port = parts.hostname, parts.port
    except ValueError:
        return REDACTED
    if not (parts.scheme and host):
        return REDACTED
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}" + (f"/{REDACTED}" if parts.path.strip("/") or parts.query else "")


def secret_replacements(settings: Settings) -> list[tuple[str, str]]:
    """(text, what to show instead) for every secret setting's value and the password inside each
    URL, longest first so a whole URL is replaced before its parts."""
    found: dict[str, str] = {}
    for setting in SETTINGS:
        value = getattr(settings, setting.field, None) if setting.secret else None
        for each in value if isinstance(value, list) else [value] if value else []:
            found.update(_replacements(each))
    return sorted(((k, v) for k, v in found.items() if len(k) >= MIN_SCRUBBED), key=lambda kv: -len(kv[0]))


def _replacements(value: str) -> dict[str, str]:
    found = {value: _shown(value)}
    try:
        password = urlsplit(value).password
    except ValueError:
        password = None
    if password:
        found[password] = found[unquote(password)] = REDACTED
    return found


def scrub(value: Any, replacements: list[tuple[str, str]]) -> Any:
    """``value`` with every secret replaced: error text may quote a URL with its credentials."""
    if isinstance(value, str):
        for secret, shown in replacements:
            value = value.replace(secret, shown)
        return value
    if isinstance(value, dict):
        return {key: scrub(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, replacements) for item in value]
    return value


def _iso(moment: datetime | None) -> str | None:
    return utc_iso(moment) if moment else None


def operator_view(rt: Runtime, now: datetime) -> dict[str, Any]:
    """Everything the operator view shows, as plain data; secrets scrubbed."""
    state, settings = rt.state, rt.settings
    snap = state.snapshot
    intervals = job_intervals(rt)
    alive, deadlines = liveness(rt, now), job_deadlines(settings)
    view = {
        "now": utc_iso(now),
        "pid": os.getpid(),
        "started_at": utc_iso(state.started_at),
        "database": redact_dsn(settings.database_url),
        "status": state.overall(),
        "snapshot": {"as_of": _iso(snap.as_of) if snap else None,
                     "stale": state.is_stale(now, settings.stale_after_s),
                     "last_refresh_error": state.last_refresh_error or None,
                     "rejected_in_row": state.rejected_in_row,
                     # published: the history leader's read (one per deployment); engine: read here,
                     # as the leader or because the history database cannot be read
                     "source": state.source or None,
                     "leader": rt.leader.is_leader,
                     "published_version": state.published_version or None,
                     "published_read_at": _iso(state.published_read_at),
                     "publish_error": state.publish_error or None,
                     "held": None if state.held is None else {
                         "reference": state.held.reference, "found": state.held.found,
                         "since": utc_iso(state.held.since), "detail": state.held.detail(snap is not None)},
                     # rows of the latest good read left out of every number, by reason
                     "excluded": {reason: {"trades": each.trades, "first_id": each.first_id,
                                           "last_id": each.last_id} for reason, each in state.excluded.items()}},
        "guard": _guard(rt),
        "tracker_drift": state.tracker_drift or None,
        # valid trades with a field the track record cannot use (docs/numbers.md, "Track record")
        "track_odd_trades": snap.track.total.odd.to_public() if snap and snap.track else None,
        "history_error": state.history_error or None,
        # kept in memory until written (an outage of the history database), and lost to its bound
        "history_unwritten": len(state.backlog), "history_dropped": state.backlog.dropped,
        "components": [{
            "name": c.name, "state": c.state, "since": _iso(c.since), "checked_at": _iso(c.checked_at),
            "latency_ms": None if c.latency_ms is None else round(c.latency_ms, 1),
            "detail": c.detail, "operator_detail": c.operator_detail or None,
            "pending_state": c.pending_state, "pending_count": c.pending_count,
        } for c in state.components.values()],
        "failed_notifications": [{
            "id": f["id"], "event": f["event"], "receiver": f["receiver"], "attempts": f["attempts"],
            "last_error": f["last_error"], "created_at": _iso(f["created_at"]),
        } for f in state.notify_failures],
        "jobs": [{"name": job, "interval_s": interval, "last_run": _iso(state.job_runs.get(job)),
                  **_run_times(state.job_latest.get(job)),
                  "hard_deadline_s": round(deadlines[job] + LIVENESS_SLACK_S, 3),
                  "alive": alive[job]} for job, interval in intervals.items()],
    }
    return scrub(view, secret_replacements(settings))


def _run_times(run: JobRun | None) -> dict[str, str | None]:
    """When the job's latest run started and ended (``None`` while it runs)."""
    return {"last_started": _iso(run.started) if run else None, "last_ended": _iso(run.ended) if run else None}


def _guard(rt: Runtime) -> dict[str, Any]:
    guard = rt.guard

    def mark(m: Any) -> dict[str, Any] | None:
        return None if m is None else {"count": m.count, "at": utc_iso(m.at), "accepted_at": _iso(m.accepted_at)}

    return {"reference": guard.reference(), "process": mark(guard.memory), "stored": mark(guard.stored),
            "drop_percent": guard.max_percent, "drop_trades": guard.max_trades,
            "store_error": guard.store_error or None}


def _private(response: Response) -> Response:
    response.cache_control.no_store = True
    response.cache_control.private = True
    response.headers["Content-Security-Policy"] = OPS_CONTENT_SECURITY_POLICY
    return response


def render_ops_page(status: int = 200, error: str | None = None) -> Response:
    """The operator view, with the operators' forms for a signed-in person (and ``error``, the
    one-line refusal of the form just sent)."""
    from .ops_forms import forms_context  # it registers below this blueprint

    now = utcnow()
    view = operator_view(_rt(), now)
    page = render_template("ops.html", view=view, **forms_context(now, error))
    return _private(Response(page, status=status, mimetype="text/html"))


@bp.get("/ops")
def ops_page() -> Response:
    return render_ops_page()


@bp.get("/ops.json")
def ops_json() -> Response:
    view = operator_view(_rt(), utcnow())
    return _private(Response(json.dumps(view, separators=(",", ":")), mimetype="application/json"))
