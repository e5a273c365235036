"""HTTP endpoints. Each reads the in-memory state, never the database, and serves cached bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request

from .. import board as boards
from ..formatting import utc_iso, utcnow
from ..guard import Hold
from ..jobs.scheduler import liveness
from ..snapshot import Snapshot
from ..state import Runtime
from ..status import snapshot_current
from ..vocabulary import BADGE_COLOURS, COMPONENTS, DEGRADED, OPERATIONAL
from . import chart
from .caching import CachePolicy
from .equity_chart import DEFAULT_RANGE, UnknownRange, parse_range
from .feeds import FeedLinks, atom, text_width
from .responses import ResponseCache, etag_of, send
from .responses import no_store_json as _json
from .track import track_context

bp = Blueprint("public", __name__)


# The page's polled pieces: templates/_<name>.html, each included by index.html and served alone.
FRAGMENTS = ("banner", "board", "windows", "components", "history", "track", "equity")

WAITING = "no snapshot yet: the page has not completed its first read of the database"


class Served(NamedTuple):
    """What the cached views need, found with one lookup of the app per request (each lookup through
    Flask's current_app proxy costs about a microsecond)."""

    rt: Runtime
    cache: ResponseCache
    policy: CachePolicy


def _served() -> Served:
    return current_app.extensions["statuspage.served"]


def _rt() -> Runtime:
    return current_app.extensions["statuspage"]


def _views_key(rt: Runtime, now: datetime) -> tuple[int, int, bool, int, int]:
    """What the page, its fragments and status.json depend on."""
    state = rt.state
    return (state.snapshot_version, state.components_version, state.is_stale(now, rt.settings.stale_after_s),
            state.history_version, state.board_version)


def landing_body(snap: Snapshot, stale: bool, held: Hold | None) -> bytes:
    """The landing JSON: the snapshot, and whether the guard holds the database's latest numbers
    back (then these are the last good ones). allow_nan=False: NaN or Infinity never reach it."""
    public = {**snap.to_public(stale=stale), "held": held is not None,
              "held_reason": held.detail(True) if held else None}
    return json.dumps(public, separators=(",", ":"), allow_nan=False).encode()


def page_context(rt: Runtime, now: datetime, candidate: Snapshot | None = None,
                 chart_range: str = DEFAULT_RANGE) -> dict[str, Any]:
    """What the page's templates show; of ``candidate`` instead of the served snapshot when given."""
    state = rt.state
    snap = candidate or state.snapshot
    stale = False if candidate else state.is_stale(now, rt.settings.stale_after_s)
    held = None if candidate else state.held
    return {
        "overall": state.overall(),
        "components": list(state.shown_components().values()),
        "snapshot": snap.to_public(stale=stale) if snap else None,
        "as_of": snap.as_of if snap else None,
        "chart": chart.cumulative_pnl([(p.day, p.cum_pnl) for p in snap.daily]) if snap and snap.daily else None,
        "stale": stale,
        "held": held.detail(snap is not None) if held else None,
        "history": state.history,
        "board": state.board,
        "incidents": boards.page_incidents(state.history, state.board, now),
        "maintenance_minutes": state.board.maintenance_minutes if state.board else {},
        "now": now,
        "poll_interval_s": rt.settings.poll_interval_s,
        **track_context(snap, chart_range),
    }


def render_check(app: Flask, rt: Runtime, candidate: Snapshot, now: datetime) -> None:
    """Build everything ``candidate`` would be served as, and throw it away; raises if any of it
    cannot be built. Runs in the refresh job, before publishing (scheduler.render_or_reject)."""
    landing_body(candidate, False, None)

    def render(name: str, **context: Any) -> str:
        # render_template without its signals: a check in the background is not a page served
        app.update_template_context(context)
        return app.jinja_env.get_template(name).render(context)

    with app.test_request_context("/"):  # url_for in the templates needs a request
        _render_page(rt, now, candidate, render)


def _range_arg() -> str | None:
    """``range`` from the query string. Without a query string, which is nearly every request, there
    is none, and werkzeug is not asked: request.args parses the empty string into a MultiDict whose
    get() raises and catches a KeyError (about 2 µs, bench/PROFILE.md)."""
    if not request.environ.get("QUERY_STRING"):
        return None
    return request.args.get("range")


def _bad_range(exc: UnknownRange) -> Response:
    response = Response(f"{exc}\n", status=400, mimetype="text/plain")
    response.cache_control.no_store = True
    return response


def _render_page(rt: Runtime, now: datetime, candidate: Snapshot | None = None,
                 render: Callable[..., str] = render_template, chart_range: str = DEFAULT_RANGE) -> bytes:
    context = page_context(rt, now, candidate, chart_range)
    # Each region starts with the ETag of exactly the bytes it holds, so its first poll can be a 304.
    etags = {name: etag_of(render(f"_{name}.html", **context).encode()) for name in FRAGMENTS}
    return render("index.html", etags=etags, **context).encode()


@bp.get("/")
def index() -> Response:
    (rt, cache, policy), now = _served(), utcnow()
    try:
        chart_range = parse_range(_range_arg())  # the equity chart's, for plain links
    except UnknownRange as exc:
        return _bad_range(exc)
    rendered = cache.get(f"page:{chart_range}", _views_key(rt, now),
                         lambda: _render_page(rt, now, chart_range=chart_range))
    return send(rendered, "text/html", policy.live)


@bp.get("/fragments/<name>")
def fragment(name: str) -> Response:
    """One region of the page for the htmx poll; 304 without a body while the client's copy is current."""
    if name not in FRAGMENTS:
        abort(404)
    (rt, cache, policy), now = _served(), utcnow()
    try:
        chart_range = parse_range(_range_arg()) if name == "equity" else DEFAULT_RANGE
    except UnknownRange as exc:
        return _bad_range(exc)
    slot = f"fragment:{name}:{chart_range}" if name == "equity" else f"fragment:{name}"
    rendered = cache.get(slot, _views_key(rt, now), lambda: render_template(
        f"_{name}.html", **page_context(rt, now, chart_range=chart_range)).encode())
    return send(rendered, "text/html", policy.fragment)


@bp.get("/performance/landing")
def landing() -> Response:
    (rt, cache, policy), now = _served(), utcnow()
    version = rt.state.snapshot_version  # before the content it covers (statuspage/state.py)
    snap, held = rt.state.snapshot, rt.state.held
    if snap is None:
        return _json({"error": held.detail(False) if held else WAITING}, 503)
    stale = rt.state.is_stale(now, rt.settings.stale_after_s)
    rendered = cache.get("landing", (version, stale), lambda: landing_body(snap, stale, held))
    return send(rendered, "application/json", policy.live)


@bp.get("/status.json")
def status_json() -> Response:
    (rt, cache, policy), now = _served(), utcnow()

    def build() -> bytes:
        snap = rt.state.snapshot
        payload = {
            "status": rt.state.overall(),
            "components": [c.to_public() for c in rt.state.shown_components().values()],
            "snapshot": {"as_of": utc_iso(snap.as_of) if snap else None,
                         "stale": rt.state.is_stale(now, rt.settings.stale_after_s),
                         "held": rt.state.held is not None},
            **boards.status_public(rt.state.history, rt.state.board, now),
        }
        return json.dumps(payload, separators=(",", ":")).encode()

    return send(cache.get("status", _views_key(rt, now), build), "application/json", policy.live)


def _liveness(rt: Runtime, now: datetime) -> dict[str, bool]:
    return liveness(rt, now)


@bp.get("/livez")
def livez() -> Response:
    """The process serves and its background jobs run. No dependency is checked."""
    rt, now = _rt(), utcnow()
    jobs = _liveness(rt, now)
    ok = all(jobs.values())
    return _json({"status": "ok" if ok else "failing", "jobs": jobs}, 200 if ok else 503)


@bp.get("/readyz")
def readyz() -> Response:
    """Ready to serve correct numbers: database reachable, snapshot present, fresh and current (not
    held back by the guard, not outlived by rejected reads)."""
    rt, now = _rt(), utcnow()
    state = rt.state
    checks = {
        "database": state.components["database"].state in (OPERATIONAL, DEGRADED),
        "snapshot_present": state.snapshot is not None,
        "snapshot_fresh": state.snapshot is not None and not state.is_stale(now, rt.settings.stale_after_s),
        "snapshot_current": snapshot_current(state.held is not None, state.rejected_in_row),
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
        held = rt.state.held
        return _json({"status": "starting", "detail": held.detail(False) if held else WAITING}, 503)
    jobs = _liveness(rt, now)
    if not all(jobs.values()):
        return _json({"status": "failing", "jobs": jobs}, 503)
    status = "ok" if rt.state.overall() == "operational" else "degraded"
    return _json({"status": status, "overall": rt.state.overall()}, 200)


@bp.get("/history.json")
def history_json() -> Response:
    """Uptime per component and day, and incidents newest first, as of the last history read."""
    rt, cache, policy = _served()
    key = (rt.state.history_version, rt.state.board_version)  # before the content (statuspage/state.py)
    history, board = rt.state.history, rt.state.board
    if history is None:
        return _json({"error": "no history yet: the page has not read its history table"}, 503)
    rendered = cache.get("history.json", key,
                         lambda: json.dumps(boards.history_public(history, board), separators=(",", ":")).encode())
    return send(rendered, "application/json", policy.slow)


@bp.get("/history.atom")
def history_atom() -> Response:
    # Links from PUBLIC_URL or relative, never from the request: a Host header written into a
    # publicly cached feed would be served to everyone, and one cache entry per Host would grow forever.
    rt, cache, policy = _served()
    links = FeedLinks.of(rt.settings.public_url)
    rendered = cache.get("history.atom", (rt.state.history_version, rt.state.board_version),
                         lambda: atom(rt.state.history, links, utcnow(), rt.state.board))
    return send(rendered, "application/atom+xml", policy.slow)


@bp.get("/badge/<name>.svg")
def badge(name: str) -> Response:
    """A small embeddable badge: overall status, or one component's state."""
    rt, cache, policy = _served()
    if name == "overall":
        label, state = "status", rt.state.overall()
    elif name in COMPONENTS:
        label, state = name, rt.state.shown_components()[name].state
    else:
        abort(404)

    def build() -> bytes:
        return render_template("badge.svg", label=label, state=state, lw=text_width(label), rw=text_width(state),
                               colour=BADGE_COLOURS[state]).encode()

    return send(cache.get(f"badge:{name}", state, build), "image/svg+xml", policy.slow)
