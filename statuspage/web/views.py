"""HTTP endpoints. Each reads the in-memory state, never the database, and serves cached bytes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from ..formatting import utc_iso, utcnow
from ..jobs.scheduler import job_intervals
from ..state import Runtime
from ..status import jobs_alive
from ..vocabulary import BADGE_COLOURS, COMPONENTS, DEGRADED, OPERATIONAL
from . import chart
from .equity_chart import DEFAULT_RANGE, UnknownRange, parse_range
from .feeds import atom, text_width
from .responses import ResponseCache, etag_of, send
from .responses import no_store_json as _json
from .track import track_context

bp = Blueprint("public", __name__)


# The page's polled pieces: templates/_<name>.html, each included by index.html and served alone.
FRAGMENTS = ("banner", "windows", "components", "history", "track", "equity")

WAITING = "no snapshot yet: the page has not completed its first read of the database"


def _rt() -> Runtime:
    return current_app.extensions["statuspage"]


def _cache() -> ResponseCache:
    return current_app.extensions["statuspage.responses"]


def _views_key(rt: Runtime, now: datetime) -> tuple[int, int, bool, int]:
    """What the page, its fragments and status.json depend on."""
    state = rt.state
    return (state.snapshot_version, state.components_version, state.is_stale(now, rt.settings.stale_after_s),
            state.history_version)


def page_context(rt: Runtime, now: datetime, chart_range: str = DEFAULT_RANGE) -> dict[str, Any]:
    state, snap = rt.state, rt.state.snapshot
    stale = state.is_stale(now, rt.settings.stale_after_s)
    return {
        "overall": state.overall(),
        "components": list(state.components.values()),
        "snapshot": snap.to_public(stale=stale) if snap else None,
        "as_of": snap.as_of if snap else None,
        "chart": chart.cumulative_pnl([(p.day, p.cum_pnl) for p in snap.daily]) if snap and snap.daily else None,
        "stale": stale,
        "history": state.history,
        "now": now,
        "poll_interval_s": rt.settings.poll_interval_s,
        **track_context(snap, chart_range),
    }


def _bad_range(exc: UnknownRange) -> Response:
    response = Response(f"{exc}\n", status=400, mimetype="text/plain")
    response.cache_control.no_store = True
    return response


def _render_page(rt: Runtime, now: datetime, chart_range: str = DEFAULT_RANGE) -> bytes:
    context = page_context(rt, now, chart_range)
    # Each region starts with the ETag of exactly the bytes it holds, so its first poll can be a 304.
    etags = {name: etag_of(render_template(f"_{name}.html", **context).encode()) for name in FRAGMENTS}
    return render_template("index.html", etags=etags, **context).encode()


@bp.get("/")
def index() -> Response:
    rt, now = _rt(), utcnow()
    try:
        chart_range = parse_range(request.args.get("range"))  # the equity chart's, for plain links
    except UnknownRange as exc:
        return _bad_range(exc)
    return send(_cache().get(f"page:{chart_range}", _views_key(rt, now), lambda: _render_page(rt, now, chart_range)),
                "text/html")


@bp.get("/fragments/<name>")
def fragment(name: str) -> Response:
    """One region of the page for the htmx poll; 304 without a body while the client's copy is current."""
    if name not in FRAGMENTS:
        abort(404)
    rt, now = _rt(), utcnow()
    try:
        chart_range = parse_range(request.args.get("range")) if name == "equity" else DEFAULT_RANGE
    except UnknownRange as exc:
        return _bad_range(exc)
    slot = f"fragment:{name}:{chart_range}" if name == "equity" else f"fragment:{name}"
    rendered = _cache().get(slot, _views_key(rt, now),
                            lambda: render_template(f"_{name}.html", **page_context(rt, now, chart_range)).encode())
    return send(rendered, "text/html", max_age=0)


@bp.get("/performance/landing")
def landing() -> Response:
    rt, now = _rt(), utcnow()
    snap = rt.state.snapshot
    if snap is None:
        return _json({"error": WAITING}, 503)
    stale = rt.state.is_stale(now, rt.settings.stale_after_s)
    rendered = _cache().get("landing", (rt.state.snapshot_version, stale),
                            lambda: json.dumps(snap.to_public(stale=stale), separators=(",", ":")).encode())
    return send(rendered, "application/json")


@bp.get("/status.json")
def status_json() -> Response:
    rt, now = _rt(), utcnow()

    def build() -> bytes:
        snap = rt.state.snapshot
        payload = {
            "status": rt.state.overall(),
            "components": [c.to_public() for c in rt.state.components.values()],
            "snapshot": {"as_of": utc_iso(snap.as_of) if snap else None,
                         "stale": rt.state.is_stale(now, rt.settings.stale_after_s)},
        }
        return json.dumps(payload, separators=(",", ":")).encode()

    return send(_cache().get("status", _views_key(rt, now), build), "application/json")


def _liveness(rt: Runtime, now: datetime) -> dict[str, bool]:
    return jobs_alive(rt.state.job_runs, job_intervals(rt), now, rt.state.started_at)


@bp.get("/livez")
def livez() -> Response:
    """The process serves and its background jobs run. No dependency is checked."""
    rt, now = _rt(), utcnow()
    jobs = _liveness(rt, now)
    ok = all(jobs.values())
    return _json({"status": "ok" if ok else "failing", "jobs": jobs}, 200 if ok else 503)


@bp.get("/readyz")
def readyz() -> Response:
    """Ready to serve correct numbers: database reachable, snapshot present and fresh."""
    rt, now = _rt(), utcnow()
    state = rt.state
    checks = {
        "database": state.components["database"].state in (OPERATIONAL, DEGRADED),
        "snapshot_present": state.snapshot is not None,
        "snapshot_fresh": state.snapshot is not None and not state.is_stale(now, rt.settings.stale_after_s),
    }
    ok = all(checks.values())
    return _json({"status": "ready" if ok else "not ready", "checks": checks}, 200 if ok else 503)


@bp.get("/healthz")
def healthz() -> Response:
    """What the platform probes: 503 until the first good snapshot (a broken deploy never goes
    live), then liveness only, so a dependency outage is reported on the page, not answered by
    restarting it."""
    rt, now = _rt(), utcnow()
    if rt.state.snapshot is None:
        return _json({"status": "starting", "detail": WAITING}, 503)
    jobs = _liveness(rt, now)
    if not all(jobs.values()):
        return _json({"status": "failing", "jobs": jobs}, 503)
    status = "ok" if rt.state.overall() == "operational" else "degraded"
    return _json({"status": status, "overall": rt.state.overall()}, 200)


@bp.get("/history.json")
def history_json() -> Response:
    """Uptime per component and day, and incidents newest first, as of the last history read."""
    rt = _rt()
    history = rt.state.history
    if history is None:
        return _json({"error": "no history yet: the page has not read its history table"}, 503)
    rendered = _cache().get("history.json", rt.state.history_version,
                            lambda: json.dumps(history.to_public(), separators=(",", ":")).encode())
    return send(rendered, "application/json", max_age=60)


@bp.get("/history.atom")
def history_atom() -> Response:
    rt, root = _rt(), request.url_root
    page_url, feed_url = url_for("public.index", _external=True), url_for("public.history_atom", _external=True)
    rendered = _cache().get(f"history.atom:{root}", rt.state.history_version,
                            lambda: atom(rt.state.history, page_url, feed_url, utcnow()))
    return send(rendered, "application/atom+xml", max_age=60)


@bp.get("/badge/<name>.svg")
def badge(name: str) -> Response:
    """A small embeddable badge: overall status, or one component's state."""
    rt = _rt()
    if name == "overall":
        label, state = "status", rt.state.overall()
    elif name in COMPONENTS:
        label, state = name, rt.state.components[name].state
    else:
        abort(404)

    def build() -> bytes:
        return render_template("badge.svg", label=label, state=state, lw=text_width(label), rw=text_width(state),
                               colour=BADGE_COLOURS[state]).encode()

    return send(_cache().get(f"badge:{name}", state, build), "image/svg+xml", max_age=60)
