"""The framework's floor: a route answering constant bytes of a given size from a dictionary, the
least a Flask view can do behind the app's hooks (metrics, security headers). Added to the real app
by the benchmark only (bench/wsgi_bench.py, bench/worker_cost.py), never by the app itself."""

from __future__ import annotations

import functools

from flask import Flask, Response

PATH = "/bench/floor/{size}"


@functools.cache
def _body(size: int) -> bytes:
    return b"x" * size


def floor(size: int) -> Response:
    return Response(_body(size), mimetype="text/plain")


def add_floor(app: Flask) -> None:
    app.add_url_rule("/bench/floor/<int:size>", "bench_floor", floor)
