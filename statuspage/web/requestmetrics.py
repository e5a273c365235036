"""Request metrics: ``flask_http_request_*`` exactly as prometheus-flask-exporter defines them (names,
help, labels, buckets, what is counted), recorded at a fraction of its cost.

The exporter's own hooks look up each series by keyword labels on every request (argument checks,
string conversions, a lock) through three Flask hooks and several ``hasattr`` probes of the request
proxy: about a third of what the app itself spent on a request (bench/PROFILE.md). Here one
after_request hook records the same series through children cached per (method, endpoint,
status), timed from where the WSGI call enters the app. The cache is bounded: methods HTTP does not
define are never counted, endpoints are the app's routes (or none), statuses what the app answers.
The exporter still serves /metrics (aggregating every worker's files under gunicorn) and its
``flask_exporter_info``.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from flask import Flask, Response, got_request_exception, request
from prometheus_client import Counter, Histogram
from prometheus_flask_exporter import PrometheusMetrics

# flask_http_request_* label each request with its method as sent: every invented method ("FOO1",
# "FOO2", ...) would add series that live as long as the process (and files in PROMETHEUS_MULTIPROC_DIR).
COUNTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})

_STARTED = "statuspage.request_started"  # in the WSGI environ: perf_counter() when the request began
# Marks on the request object, as the exporter names them: /metrics carries its do_not_track mark.
_NOT_TRACKED = ("prom_do_not_track", "prom_exclude_all")
_REPORTED = "prom_reported"


class RequestMetrics:
    """The exporter's default series, with its semantics: the duration of every tracked request by
    method, endpoint and status, their count by method and status, and requests that ended in an
    exception by method (status 500)."""

    def __init__(self, exporter: PrometheusMetrics) -> None:
        registry = exporter.registry
        exporter.info("flask_exporter_info", "Information about the Prometheus Flask exporter",
                      version=exporter.version)
        self.duration = Histogram("flask_http_request_duration_seconds", "Flask HTTP request duration in seconds",
                                  ("method", "endpoint", "status"), registry=registry)
        self.total = Counter("flask_http_request_total", "Total number of HTTP requests", ("method", "status"),
                             registry=registry)
        self.exceptions = Counter("flask_http_request_exceptions_total",
                                  "Total number of HTTP requests which resulted in an exception",
                                  ("method", "status"), registry=registry)
        self._children: dict[tuple[str, str | None, int], tuple[Any, Any]] = {}

    def _record(self, method: str, endpoint: str | None, status: int, started: float | None) -> None:
        key = (method, endpoint, status)
        children = self._children.get(key)
        if children is None:  # first time for this key: the only label lookups it will ever need
            children = (self.duration.labels(method, str(endpoint), str(status)),
                        self.total.labels(method, str(status)))
            self._children[key] = children
        if started is not None:
            children[0].observe(max(perf_counter() - started, 0.0))
        children[1].inc()

    def after(self, response: Response) -> Response:
        """after_request: one record per request, of the answer it got (errors included)."""
        req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup, not one per use
        marks = req.__dict__
        # A method HTTP does not define gets its 405 but is not counted; /metrics marks itself.
        if (_REPORTED in marks or req.method not in COUNTED_METHODS or _NOT_TRACKED[0] in marks
                or _NOT_TRACKED[1] in marks):
            return response
        marks[_REPORTED] = True  # an error in a later hook runs this again for its 500: counted once
        self._record(req.method, req.endpoint, response.status_code, req.environ.get(_STARTED))
        return response

    def exception(self, sender: Flask, exception: BaseException, **_: Any) -> None:
        """got_request_exception: as the exporter, an exception that escaped the views is counted by
        method (status 500); the 500 answered for it is recorded by ``after`` like any answer."""
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.method in COUNTED_METHODS and not any(mark in req.__dict__ for mark in _NOT_TRACKED):
            self.exceptions.labels(req.method, "500").inc()

    def init_app(self, app: Flask) -> None:
        # The clock starts where the WSGI call enters the app, before Flask builds the request: a
        # wrapper costs less than a before_request hook, and teardown_request (a hook on every
        # request) is replaced by the signal, sent only for an exception.
        inner = app.wsgi_app

        def timed(environ: dict[str, Any], start_response: Any) -> Any:
            environ[_STARTED] = perf_counter()
            return inner(environ, start_response)

        app.wsgi_app = timed  # type: ignore[method-assign]
        app.after_request(self.after)
        got_request_exception.connect(self.exception, app, weak=False)
