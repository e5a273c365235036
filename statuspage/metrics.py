"""Prometheus series of one app: landing numbers (from the snapshot only), refreshes, components.

Each app gets its own registry so tests can build many apps in one process. Under gunicorn the
values go to PROMETHEUS_MULTIPROC_DIR and the modes below say how workers combine: counters and
histograms sum; a gauge is reported once, not per pid nor summed: the most recent value of the
running workers, or for the refresh time their latest. The ``live`` modes drop a worker's gauges
when gunicorn reaps it (child_exit in gunicorn.conf.py), so a recycled worker leaves nothing behind.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .snapshot import EXCLUSION_REASONS, WINDOWS, SetAside, Snapshot
from .vocabulary import STATES

# held: read and valid, but a large drop of the all-time count that the guard held back;
# published: a process that does not lead served a new publication of the leader's
REFRESH_OUTCOMES = ("ok", "error", "rejected", "held", "reading", "published")
SNAPSHOT_SOURCES = ("published", "engine")
HISTORY_CHECKS = ("statistics", "scan", "verified_same", "verified_changed")  # snapshot.SealedCache.checks


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.landing_trades = Gauge(
            "statuspage_landing_trades", "Closed trades in the window, from the last good snapshot.",
            ["window"], registry=registry, multiprocess_mode="livemostrecent")
        self.landing_pnl = Gauge(
            "statuspage_landing_pnl_usd", "Realized PnL in USD in the window, from the last good snapshot.",
            ["window"], registry=registry, multiprocess_mode="livemostrecent")
        self.db_connected = Gauge(
            "statuspage_db_connected", "1 when the page's last database round trip succeeded, else 0.",
            registry=registry, multiprocess_mode="livemostrecent")
        self.last_refresh = Gauge(
            "statuspage_last_successful_refresh_timestamp_seconds",
            "Unix time of the last snapshot that passed validation.",
            registry=registry, multiprocess_mode="livemax")
        self.refreshes = Counter(
            "statuspage_refreshes", "Snapshot refreshes by outcome (ok, error, rejected, held, reading).",
            ["outcome"], registry=registry)
        self.snapshot_held = Gauge(
            "statuspage_snapshot_held",
            "1 while the last good numbers are served because the guard held a large drop of the all-time "
            "trade count back (python -m statuspage snapshot accept), else 0.",
            registry=registry, multiprocess_mode="livemax")
        self.excluded_rows = Gauge(
            "statuspage_snapshot_excluded_rows",
            "Trades set aside as invalid in the latest read, by reason: left out of every number.",
            ["reason"], registry=registry, multiprocess_mode="livemostrecent")
        self.component_state = Gauge(
            "statuspage_component_state", "1 for the component's current state, 0 for the others.",
            ["component", "state"], registry=registry, multiprocess_mode="livemostrecent")
        self.probe_duration = Histogram(
            "statuspage_probe_duration_seconds", "Duration of each component probe.",
            ["probe"], registry=registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.tracker_drift = Gauge(
            "statuspage_tracker_drift_trades",
            "Tracker file trade count minus the database's (operator diagnostics only).",
            registry=registry, multiprocess_mode="livemostrecent")
        self.history_leader = Gauge(
            "statuspage_history_leader", "1 in the one process that writes history, else 0.",
            registry=registry, multiprocess_mode="livesum")
        self.track_odd_trades = Gauge(
            "statuspage_track_odd_trades",
            "Trades the track record counts with a field it cannot use (kind: closed_before_opened, no_volume,"
            " blank_symbol), from the last good snapshot.",
            ["kind"], registry=registry, multiprocess_mode="livemostrecent")
        self.history_checks = Counter(
            "statuspage_history_checks",
            "How refreshes confirmed the kept history before the daily range: statistics (the table's "
            "counters and newest rows, no scan), scan (the counters showed a possible change), "
            "verified_same or verified_changed (VERIFY_INTERVAL_S: a scan whatever they showed).",
            ["how"], registry=registry)
        self.snapshot_source = Gauge(
            "statuspage_snapshot_source",
            "1 for where the served snapshot comes from: published (the history leader's: one engine read "
            "per deployment) or engine (this process read it: it is the leader, or the history database is "
            "out of reach), else 0.",
            ["source"], registry=registry, multiprocess_mode="livesum")
        self.notifications = Counter(
            "statuspage_notifications", "Webhook delivery attempts by outcome (delivered, retry, failed).",
            ["outcome"], registry=registry)
        # Make every labelled series visible from the start, so an alert on a missing series is not needed.
        for outcome in REFRESH_OUTCOMES:
            self.refreshes.labels(outcome)
        for outcome in ("delivered", "retry", "failed"):
            self.notifications.labels(outcome)
        for how in HISTORY_CHECKS:
            self.history_checks.labels(how)
        self.record_source("")
        self.db_connected.set(0)
        self.snapshot_held.set(0)
        self.record_excluded({})

    def record_snapshot(self, snap: Snapshot) -> None:
        for name in WINDOWS:
            self.landing_trades.labels(name).set(snap.windows[name].trades)
            self.landing_pnl.labels(name).set(float(snap.windows[name].pnl))
        self.last_refresh.set(snap.as_of.timestamp())
        if snap.track is not None:
            for kind, count in snap.track.total.odd.to_public().items():
                self.track_odd_trades.labels(kind).set(count)
        self.record_excluded(snap.excluded)

    def record_excluded(self, excluded: dict[str, SetAside]) -> None:
        for reason in EXCLUSION_REASONS:
            self.excluded_rows.labels(reason).set(excluded[reason].trades if reason in excluded else 0)

    def record_source(self, source: str) -> None:
        for candidate in SNAPSHOT_SOURCES:
            self.snapshot_source.labels(candidate).set(1 if candidate == source else 0)

    def record_hold(self, held: bool) -> None:
        self.snapshot_held.set(1 if held else 0)

    def record_component(self, component: str, state: str) -> None:
        for candidate in STATES:
            self.component_state.labels(component, candidate).set(1 if candidate == state else 0)
