"""The page's component rows and overall banner: each state in words, shape and colour.

Component states are set through ``AppState.observe`` (states a local test cannot cause), the
snapshot from real trades and the real jobs with an explicit ``now``.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from flask import Flask

from statuspage.formatting import utcnow
from statuspage.status import Observation

from ..helpers.app import page, run_jobs, runtime


@pytest.mark.parametrize(("state", "label", "shape"), [
    ("operational", "Operational", "circle"),
    ("degraded", "Degraded", "path"),
    ("down", "Down", "path"),
    ("unknown", "Unknown", "circle"),
])
def test_each_badge_state_is_said_in_words_shape_and_colour(app: Flask, state: str, label: str, shape: str) -> None:
    rt = runtime(app)
    now = utcnow()
    rt.state.observe("engine", Observation(state, f"public words for {state}"), now - timedelta(minutes=3), confirm=1)

    row = page(app).by_id("component-engine")

    assert row.attrs["data-state"] == state
    badge = row.find(cls="badge")
    assert badge.text == label
    assert f"badge--{state}" in badge.classes  # colour
    icon = badge.find("svg")
    assert f"icon--{state}" in icon.classes and icon.attrs["aria-hidden"] == "true"
    assert icon.children[0].tag == shape
    assert row.find(cls="component__detail").text == f"public words for {state}"


def test_badge_shapes_differ_between_states(app: Flask) -> None:
    rt = runtime(app)
    now = utcnow()
    states = dict(zip(("engine", "metrics", "database", "snapshot"), ("operational", "degraded", "down", "unknown"),
                      strict=True))
    for name, state in states.items():
        rt.state.observe(name, Observation(state, "x"), now, confirm=1)

    doc = page(app)

    def outline(name: str) -> tuple[str, str | None, str | None]:
        shape = doc.by_id(f"component-{name}").find("svg").children[0]
        return shape.tag, shape.attrs.get("class"), shape.attrs.get("d")

    assert len({outline(name) for name in states}) == 4


def test_components_say_how_long_they_have_been_in_their_state(writer: psycopg.Connection, app: Flask) -> None:
    rt = runtime(app)
    since = utcnow() - timedelta(minutes=7)
    rt.state.observe("database", Observation("degraded", "database is slow (400 ms round trip)"), since, confirm=1)

    row = page(app).by_id("component-database")

    age = row.find("time")
    assert age.text == "7 min ago"
    assert age.attrs["datetime"] == age.attrs["data-since"] == f"{since:%Y-%m-%dT%H:%M:%S}Z"
    assert age.attrs["aria-live"] == "off"  # ticks every second inside a live region
    assert row.find(cls="component__name").text == "Database"


@pytest.mark.parametrize(("states", "headline", "level"), [
    ({"database": "operational", "snapshot": "operational"}, "All systems operational", "ok"),
    ({"database": "degraded", "snapshot": "operational"}, "Degraded performance", "warn"),
    ({"engine": "down", "database": "operational", "snapshot": "operational"}, "Partial outage", "partial"),
    ({"database": "down", "snapshot": "down"}, "Major outage", "down"),
])
def test_banner_gives_the_overall_status(writer: psycopg.Connection, app: Flask, states: dict[str, str],
                                         headline: str, level: str) -> None:
    rt = runtime(app)
    now = utcnow()
    run_jobs(app, now)
    for name, state in states.items():
        rt.state.observe(name, Observation(state, "x"), now, confirm=1)

    banner = page(app).by_id("banner").find(cls="banner")

    assert banner.find(cls="banner__headline").text == headline
    assert f"banner--{level}" in banner.classes
    for state in states.values():
        if state != "operational":
            assert f": {state}" in banner.find(cls="banner__detail").text
