"""The page's regions as htmx fragments: the same markup as the page, polled every poll interval,
answered 304 while nothing changed and rendered again only when something did; and markup ready
for a strict Content-Security-Policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta

import psycopg
from flask import Flask, template_rendered

from statuspage.formatting import utcnow
from statuspage.jobs.scheduler import refresh_job
from statuspage.web.views import FRAGMENTS

from ..helpers.app import page, run_jobs, runtime
from ..helpers.dom import parse
from ..helpers.http import LiveServer
from ..helpers.trades import add_trade

# --- fragments, caching, polling ---


def test_each_fragment_is_exactly_the_markup_of_its_region_in_the_page(writer: psycopg.Connection,
                                                                       app: Flask) -> None:
    add_trade(writer, 1, utcnow() - timedelta(days=1), "9.99")
    run_jobs(app, utcnow())
    client = app.test_client()

    html = client.get("/").data

    doc = parse(html)
    for name in FRAGMENTS:
        fragment = client.get(f"/fragments/{name}")
        assert fragment.status_code == 200 and fragment.mimetype == "text/html"
        assert fragment.data in html
        assert doc.by_id(name).attrs["data-etag"] == f'"{fragment.headers["ETag"].strip(chr(34))}"'


def test_regions_poll_their_fragment_every_poll_interval(make_app: Callable[..., Flask],
                                                         writer: psycopg.Connection) -> None:
    app = make_app(start_background=False, POLL_INTERVAL_S="7.5")

    doc = page(app)

    for name in FRAGMENTS:
        region = doc.by_id(name)
        assert region.attrs["hx-get"] == f"/fragments/{name}"
        assert region.attrs["hx-trigger"] == "every 7500ms"
        assert region.attrs["aria-live"] == "polite"
    assert "every 7.5 s" in doc.find("footer").text


def test_unchanged_fragment_is_answered_304_without_a_body(writer: psycopg.Connection, app: Flask,
                                                            serve: Callable[[Flask], LiveServer]) -> None:
    add_trade(writer, 1, utcnow() - timedelta(days=1), "3")
    run_jobs(app, utcnow())
    server = serve(app)

    for path in [f"/fragments/{name}" for name in FRAGMENTS] + ["/"]:
        first = server.get(path)
        assert first.status == 200 and first.headers["etag"]
        assert "max-age" in first.headers["cache-control"]
        again = server.get(path, {"If-None-Match": first.headers["etag"]})
        assert again.status == 304, path
        assert again.body == b""
        assert again.headers["etag"] == first.headers["etag"]


def test_a_change_gives_a_new_fragment_and_a_new_etag(writer: psycopg.Connection, app: Flask,
                                                      serve: Callable[[Flask], LiveServer]) -> None:
    now = utcnow()
    add_trade(writer, 1, now - timedelta(days=1), "3")
    run_jobs(app, now)
    server = serve(app)
    before = server.get("/fragments/windows")

    add_trade(writer, 2, now - timedelta(hours=1), "4")
    refresh_job(runtime(app), utcnow())
    after = server.get("/fragments/windows", {"If-None-Match": before.headers["etag"]})

    assert after.status == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert parse(after.body).field("7d", "trades") == "2"


def test_unknown_fragment_is_not_found(app: Flask) -> None:
    client = app.test_client()
    for name in ("nope", "macros", "_macros", "index", "base", "chart"):
        assert client.get(f"/fragments/{name}").status_code == 404
    assert client.get("/fragments/../index.html").status_code == 404


def test_polls_cost_no_template_rendering_until_something_changes(writer: psycopg.Connection,
                                                                  app: Flask) -> None:
    run_jobs(app, utcnow())
    client = app.test_client()
    rendered: list[str] = []

    def record(sender: Flask, template: object, context: dict[str, object], **extra: object) -> None:
        rendered.append(getattr(template, "name", "?"))

    client.get("/")
    for name in FRAGMENTS:
        client.get(f"/fragments/{name}")
    with template_rendered.connected_to(record, app):
        for _ in range(5):
            client.get("/")
            for name in FRAGMENTS:
                client.get(f"/fragments/{name}")
        assert rendered == []
        add_trade(writer, 1, utcnow(), "1")
        refresh_job(runtime(app), utcnow())
        client.get("/fragments/windows")
        assert rendered == ["_windows.html"]


# --- ready for a strict Content-Security-Policy ---


def test_page_has_no_inline_script_style_or_handlers(writer: psycopg.Connection, app: Flask) -> None:
    add_trade(writer, 1, utcnow() - timedelta(days=1), "-3")
    run_jobs(app, utcnow())
    client = app.test_client()
    bodies = {"/": client.get("/").data} | {name: client.get(f"/fragments/{name}").data for name in FRAGMENTS}

    for where, body in bodies.items():
        doc = parse(body)
        assert doc.find("style") is None, where
        for node in doc.iter():
            assert "style" not in node.attrs, (where, node.tag)
            assert not [a for a in node.attrs if a.startswith("on")], (where, node.tag)
            assert not [a for a in node.attrs if a.startswith(("hx-on", "hx-vars", "hx-vals"))], (where, node.tag)
            for value in node.attrs.values():
                assert not (value or "").strip().lower().startswith("javascript:"), where
        for script in doc.find_all("script"):
            assert script.attrs.get("src") and not script.text, where

    scripts = [s.attrs["src"] for s in parse(bodies["/"]).find_all("script")]
    assert scripts == ["/static/htmx-2.0.11.min.js", "/static/page.js"]
    for src in scripts:
        with client.get(src) as response:
            assert response.status_code == 200


def test_htmx_is_configured_for_csp_and_keeps_content_on_304(app: Flask) -> None:
    meta = page(app).find("meta", name="htmx-config")
    config = json.loads(meta.attrs["content"])

    assert config["includeIndicatorStyles"] is False
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    handling = config["responseHandling"]
    first_match = next(rule for rule in handling if re.fullmatch(rule["code"], "304"))
    assert first_match["swap"] is False
    assert next(rule for rule in handling if re.fullmatch(rule["code"], "200"))["swap"] is True
