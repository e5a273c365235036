"""Everything Flask-facing: blueprints, templates' filters and globals, error pages, headers.

Views read the process's memory (``state``) and serve bytes cached in ``responses``; they never
query the database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import NullSession, SessionInterface, SessionMixin
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics

from ..config import Settings
from ..formatting import FILTERS
from ..vocabulary import TEMPLATE_GLOBALS
from . import api_v2, errors, openapi, ops, ops_api, ops_forms, security, static, track, views
from .caching import policy
from .htmx import HTMX_CONFIG
from .requestmetrics import RequestMetrics
from .responses import ResponseCache


def _bind_metrics(app: Flask, registry: CollectorRegistry) -> None:
    """/metrics through prometheus-flask-exporter; the request series recorded by requestmetrics
    (the exporter's defaults, cheaper), so export_defaults is off."""
    # Under gunicorn (PROMETHEUS_MULTIPROC_DIR set by gunicorn.conf.py) /metrics aggregates workers.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        # A registry of its own: the exporter attaches a collector of every worker's files to it,
        # which clashes with the series already registered in the app's registry. /metrics reads
        # those files, so the app's series are exported all the same.
        exporter: PrometheusMetrics = GunicornInternalPrometheusMetrics(
            app, registry=CollectorRegistry(), group_by="endpoint", export_defaults=False)
    else:
        exporter = PrometheusMetrics(app, registry=registry, group_by="endpoint", export_defaults=False)
    RequestMetrics(exporter).init_app(app)


# At most this many functions' answers kept (the app registers a few dozen views and hooks; a
# function made per request, as after_this_request takes, would otherwise grow the dictionary).
_SYNC_KEPT = 256


def _decide_sync_once(app: Flask) -> None:
    """Flask asks, for the view and each hook of every request, whether the function is a coroutine
    (inspect.iscoroutinefunction: about a microsecond a call, several per request); the answer never
    changes, so it is kept per function."""
    decided: dict[Callable[..., Any], Callable[..., Any]] = {}
    decide = app.ensure_sync

    def ensure_sync(func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return decided[func]
        except KeyError:
            answer = decide(func)
            if len(decided) < _SYNC_KEPT:
                decided[func] = answer
            return answer

    app.ensure_sync = ensure_sync  # type: ignore[method-assign]


class NoSessions(SessionInterface):
    """The public page keeps no sessions: no cookie is read or written. Flask would otherwise build a
    NullSession for every request (no SECRET_KEY); one, shared, does (it refuses every write). With
    OPS_TOKEN set, the operator forms replace it with their own (ops_forms.OperatorSessions)."""

    null = NullSession()

    def open_session(self, app: Flask, request: Request) -> NullSession:
        return self.null

    def make_null_session(self, app: Flask) -> NullSession:
        return self.null

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def init_app(app: Flask, settings: Settings, registry: CollectorRegistry) -> None:
    app.session_interface = NoSessions()
    env = app.jinja_env
    env.filters.update(FILTERS)
    env.globals.update(TEMPLATE_GLOBALS, htmx_config=HTMX_CONFIG)
    env.trim_blocks = env.lstrip_blocks = True  # block tags leave no blank lines in the HTML
    app.extensions["statuspage.responses"] = ResponseCache()
    runtime = app.extensions["statuspage"]
    app.extensions["statuspage.cache_policy"] = policy(settings.refresh_interval_s, settings.stale_after_s)
    app.extensions["statuspage.served"] = views.Served(runtime, app.extensions["statuspage.responses"],
                                                       app.extensions["statuspage.cache_policy"])
    app.register_blueprint(views.bp)
    # The refresh job renders each candidate snapshot before publishing it (see views.render_check).
    runtime.render_check = lambda snap, at: views.render_check(app, runtime, snap, at)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(api_v2.bp)
    track.init_app(app)
    static.init_app(app)
    ops.init_app(app, settings)  # only with OPS_TOKEN set
    ops_api.init_app(app, settings)  # likewise
    ops_forms.init_app(app, settings)  # its routes come with ops's blueprint; here its session cookie
    errors.init_app(app)
    security.init_app(app, settings)
    _bind_metrics(app, registry)
    _decide_sync_once(app)
