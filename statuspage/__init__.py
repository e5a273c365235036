"""statuspage: the public performance and status page of the trading engine."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask
from prometheus_client import CollectorRegistry

from . import db, scheduler
from .config import Settings, load_settings
from .history import Leader
from .metrics import Metrics
from .notify import DirectAlerts, Notifier
from .render import RenderCache
from .state import AppState, Runtime

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def _setup_logging(level: str) -> None:
    root = logging.getLogger("statuspage")
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run is noise
    if not logging.getLogger().handlers and not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)


def _bind_metrics(app: Flask, registry: CollectorRegistry) -> None:
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


def create_app(settings: Settings | None = None, *, start_background: bool = True) -> Flask:
    """Build the app. Raises ConfigError before touching anything when a setting is bad."""
    settings = settings or load_settings()
    _setup_logging(settings.log_level)
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(DEBUG=False, TESTING=False, JSON_SORT_KEYS=False)

    metrics = Metrics(CollectorRegistry(auto_describe=True))
    now = scheduler.utcnow()
    history_kwargs = db.connect_kwargs(settings, read_only=False)
    leader = Leader(settings.history_dsn, history_kwargs)
    notifier = Notifier(settings.history_dsn, history_kwargs, settings.notify_webhook_urls or [], settings.public_url,
                        settings.notify_timeout_s, leader.me)
    direct = DirectAlerts(settings.notify_webhook_urls or [], settings.public_url, settings.notify_timeout_s,
                          settings.notify_min_incident_s, settings.notify_retry_for_s)
    runtime = Runtime(settings=settings, pool=db.make_pool(settings), state=AppState(started_at=now, metrics=metrics),
                      leader=leader, notifier=notifier, direct=direct)
    app.extensions["statuspage"] = runtime
    app.extensions["statuspage.render"] = RenderCache()

    from . import errors, openapi, ops, security
    from .views import bp

    app.register_blueprint(bp)
    app.register_blueprint(openapi.bp)
    ops.init_app(app, settings)  # only with OPS_TOKEN set
    errors.init_app(app)
    security.init_app(app, settings)
    _bind_metrics(app, metrics.registry)
    if start_background:
        runtime.scheduler = scheduler.start(runtime)
    return app
