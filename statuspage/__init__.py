"""statuspage: the public performance and status page of the trading engine."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from prometheus_client import CollectorRegistry

from . import budgets, db, handoff, published, web
from .config import Settings, load_settings
from .db.leader import Leader
from .formatting import utcnow
from .guard import Guard, MarkStore
from .jobs import scheduler
from .metrics import Metrics
from .notify import DirectAlerts, Notifier
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


def create_app(settings: Settings | None = None, *, start_background: bool = True) -> Flask:
    """Build the app. Raises ConfigError before touching anything when a setting is bad."""
    settings = settings or load_settings()
    _setup_logging(settings.log_level)
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(DEBUG=False, TESTING=False, JSON_SORT_KEYS=False)
    # werkzeug answers "//status.json" with a redirect to an absolute URL built from the Host header
    # (a forged Host in a cacheable 308); without merging, such a path is simply not found.
    app.url_map.merge_slashes = False

    metrics = Metrics(CollectorRegistry(auto_describe=True))
    now = utcnow()
    history_kwargs = db.connect_kwargs(settings, read_only=False)
    call_s = budgets.statement_s(settings)  # each call on their own sessions ends by this (a frozen server)
    leader = Leader(settings.history_dsn, history_kwargs, call_s)
    notifier = Notifier(settings.history_dsn, history_kwargs, settings.notify_webhook_urls or [], settings.public_url,
                        settings.notify_timeout_s, leader.me, call_s)
    direct = DirectAlerts(settings.notify_webhook_urls or [], settings.public_url, settings.notify_timeout_s,
                          settings.notify_min_incident_s, settings.notify_retry_for_s)
    guard = Guard(MarkStore(settings.history_dsn, history_kwargs, settings.db_connect_timeout_s),
                  settings.guard_drop_percent, settings.guard_drop_trades)
    runtime = Runtime(settings=settings, pool=db.make_pool(settings), state=AppState(started_at=now, metrics=metrics),
                      leader=leader, notifier=notifier, guard=guard, direct=direct)
    # a long history is read in pieces, leaving each refresh this much for the rest of its read
    runtime.state.sealed.reserve_s = runtime.state.sealed.track.reserve_s = budgets.read_reserve_s(settings)
    runtime.state.sealed.verify_every_s = settings.verify_interval_s
    # every process serves the leader's published snapshot: one engine read per deployment
    runtime.reader = published.Reader(settings.history_dsn, history_kwargs, call_s)
    runtime.handoff_dir = handoff.directory()
    if runtime.handoff_dir is not None:
        scheduler.adopt_sibling_snapshot(runtime)  # a replaced worker serves what its siblings serve
    app.extensions["statuspage"] = runtime
    web.init_app(app, settings, metrics.registry)
    if start_background:
        runtime.scheduler = scheduler.start(runtime)
    return app
