"""Everything Flask-facing: blueprints, templates' filters and globals, error pages, headers.

Views read the process's memory (``state``) and serve bytes cached in ``responses``; they never
query the database.
"""

from __future__ import annotations

import os

from flask import Flask, request
from prometheus_client import CollectorRegistry

from ..config import Settings
from ..formatting import FILTERS
from ..vocabulary import TEMPLATE_GLOBALS
from . import api_v2, errors, openapi, ops, ops_api, ops_forms, security, track, views
from .htmx import HTMX_CONFIG
from .responses import ResponseCache

# flask_http_request_* label each request with its method as sent: every invented method ("FOO1",
# "FOO2", ...) would add series that live as long as the process (and files in PROMETHEUS_MULTIPROC_DIR).
COUNTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


def skip_unknown_methods() -> None:
    """before_request: a request with any other method still gets its 405, but is not counted.
    prometheus_flask_exporter skips a request marked ``prom_do_not_track`` (what its own
    do_not_track() decorator sets)."""
    if request.method not in COUNTED_METHODS:
        request.prom_do_not_track = True  # type: ignore[attr-defined]


def _bind_metrics(app: Flask, registry: CollectorRegistry) -> None:
    app.before_request(skip_unknown_methods)
    # Under gunicorn (PROMETHEUS_MULTIPROC_DIR set by gunicorn.conf.py) /metrics aggregates workers.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        # A registry of its own: the exporter attaches a collector of every worker's files to it,
        # which clashes with the series already registered in the app's registry. /metrics reads
        # those files, so the app's series are exported all the same.
        GunicornInternalPrometheusMetrics(app, registry=CollectorRegistry(), group_by="endpoint")
    else:
        from prometheus_flask_exporter import PrometheusMetrics

        PrometheusMetrics(app, registry=registry, group_by="endpoint")


def init_app(app: Flask, settings: Settings, registry: CollectorRegistry) -> None:
    env = app.jinja_env
    env.filters.update(FILTERS)
    env.globals.update(TEMPLATE_GLOBALS, htmx_config=HTMX_CONFIG)
    env.trim_blocks = env.lstrip_blocks = True  # block tags leave no blank lines in the HTML
    app.extensions["statuspage.responses"] = ResponseCache()
    app.register_blueprint(views.bp)
    runtime = app.extensions["statuspage"]
    # The refresh job renders each candidate snapshot before publishing it (see views.render_check).
    runtime.render_check = lambda snap, at: views.render_check(app, runtime, snap, at)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(api_v2.bp)
    track.init_app(app)
    ops.init_app(app, settings)  # only with OPS_TOKEN set
    ops_api.init_app(app, settings)  # likewise
    ops_forms.init_app(app, settings)  # its routes come with ops's blueprint; here its session cookie
    errors.init_app(app)
    security.init_app(app, settings)
    _bind_metrics(app, registry)
