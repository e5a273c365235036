"""The page in a real headless Chromium (Debian's package, driven by Playwright).

Short intervals, a database of the test's own that the test stops, a simulated engine on a real
socket, and the page served with the server's own strict Content-Security-Policy header
(statuspage.web.security): every violation is recorded by a listener the browser installs before any
page script, and shows up as a console error too. The browser, tabs and checks are
tests/helpers/browser.py's; screenshots go to test-artifacts/ (ignored by git).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest
from flask import Flask

from statuspage.demo import seed
from statuspage.demo.pgserver import EmbeddedPostgres
from statuspage.demo.simengine import SimEngine
from statuspage.formatting import utcnow

from ..helpers.browser import ARTIFACTS, FAST_PAGE, STALE_AFTER_S, WAIT_MS, Tab
from ..helpers.http import LiveServer
from ..helpers.trades import add_trade
from ..helpers.wait import wait_until

pytestmark = pytest.mark.browser

# Sum of unexpected layout shifts since the observer was installed (a PerformanceObserver).
SHIFT_OBSERVER_JS = """() => {
  window.__shift = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__shift += entry.value;
  }).observe({type: "layout-shift"});
}"""




def trades_7d(tab: Tab) -> int:
    return int(tab.text("#window-7d [data-field=trades]").replace(",", ""))


def test_page_updates_in_place_and_shows_a_database_outage(private_pg: EmbeddedPostgres,
                                                           make_app: Callable[..., Flask],
                                                           serve: Callable[[Flask], LiveServer],
                                                           tabs: Callable[..., Tab]) -> None:
    from playwright.sync_api import expect

    now = utcnow()
    with psycopg.connect(private_pg.dsn, autocommit=True) as conn:
        seed.create_schema(conn)
        seed.insert(conn, seed.history(240, 75, now - timedelta(minutes=5)))
    with SimEngine() as engine:
        app = make_app(dsn=private_pg.dsn, ENGINE_METRICS_URL=engine.url, **FAST_PAGE)
        server = serve(app)
        wait_until(lambda: server.get("/readyz").status == 200, timeout=20, what="first snapshot and database probe")
        wait_until(lambda: server.get("/status.json").json()["status"] == "operational", timeout=20,
                   what="every component operational")

        tab = tabs(server, viewport={"width": 1280, "height": 900}, color_scheme="light")
        page = tab.page
        expect(page.locator("#banner .banner__headline")).to_have_text("All systems operational")
        before = trades_7d(tab)
        page.evaluate("() => { document.documentElement.dataset.loadedOnce = 'yes'; }")
        page.evaluate(SHIFT_OBSERVER_JS)

        # a trade closes: the count changes in place, without a reload and without moving the layout
        with psycopg.connect(private_pg.dsn, autocommit=True) as conn:
            add_trade(conn, 100_000, utcnow(), "42.00", fees="0.84")
        expect(page.locator("#window-7d [data-field=trades]")).to_have_text(f"{before + 1:,}", timeout=WAIT_MS)
        assert page.evaluate("() => document.documentElement.dataset.loadedOnce") == "yes"
        assert page.evaluate("() => window.__shift") < 0.01
        wait_until(lambda: 304 in tab.fragment_statuses, timeout=10, what="an unchanged poll answered 304")
        expect(page.locator("#windows .window")).to_have_count(3)
        expect(page.locator("#connection-lost")).to_be_hidden()

        tab.screenshot("page-light.png")
        assert tab.contrast_failures() == []
        dark = tabs(server, viewport={"width": 1280, "height": 900}, color_scheme="dark")
        dark.screenshot("page-dark.png")
        assert dark.contrast_failures() == []
        phone = tabs(server, viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True,
                     has_touch=True)
        phone.screenshot("page-mobile-375.png")
        assert phone.contrast_failures() == []
        assert phone.page.evaluate("() => document.documentElement.scrollWidth") <= 375

        # the database goes away: its badge turns down, then the numbers are declared stale
        private_pg.stop()
        database = page.locator("#component-database")
        expect(database).to_have_attribute("data-state", "down", timeout=WAIT_MS)
        expect(database.locator(".badge")).to_have_text("Down")
        expect(page.locator("#stale-banner")).to_be_visible(timeout=(STALE_AFTER_S + 10) * 1000)
        expect(page.locator("#freshness .tag--stale")).to_have_text("Stale")
        expect(page.locator("#banner .banner__headline")).not_to_have_text("All systems operational")
        assert trades_7d(tab) == before + 1  # the last good numbers stay on screen
        expect(page.locator("#connection-lost")).to_be_hidden()  # the page itself still answers
        tab.screenshot("page-database-down.png")
        assert tab.contrast_failures() == []
        dark.page.reload()
        expect(dark.page.locator("#stale-banner")).to_be_visible()
        dark.screenshot("page-database-down-dark.png")
        assert dark.contrast_failures() == []

    for each in (tab, dark, phone):
        assert each.console_errors == [] and each.page_errors == []
        assert each.csp_violations() == []


def test_failed_poll_keeps_the_page_and_says_connection_lost_until_the_next_success(
        writer: psycopg.Connection, make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer],
        tabs: Callable[..., Tab]) -> None:
    from playwright.sync_api import expect

    add_trade(writer, 1, utcnow() - timedelta(hours=2), "12.5")
    server = serve(make_app(**FAST_PAGE))
    wait_until(lambda: server.get("/readyz").status == 200, timeout=20, what="first snapshot")
    tab = tabs(server, viewport={"width": 1280, "height": 900})
    ARTIFACTS.mkdir(exist_ok=True)
    page = tab.page
    notice = page.locator("#connection-lost")
    expect(page.locator("#window-7d [data-field=trades]")).to_have_text("1")
    expect(notice).to_be_hidden()

    tab.context.route("**/fragments/**", lambda route: route.abort("connectionrefused"))
    expect(notice).to_be_visible(timeout=WAIT_MS)
    expect(notice).to_have_text("Connection lost, retrying…")
    expect(page.locator("#window-7d [data-field=trades]")).to_have_text("1")  # nothing went blank
    expect(page.locator("#components tbody tr")).to_have_count(4)
    age = page.locator("#freshness .age")
    offline_age = age.inner_text()
    expect(age).not_to_have_text(offline_age, timeout=5_000)  # the age keeps counting without the server
    tab.page.screenshot(path=str(ARTIFACTS / "page-connection-lost.png"))

    tab.context.unroute("**/fragments/**")
    expect(notice).to_be_hidden(timeout=WAIT_MS)
    assert tab.page_errors == [] and tab.csp_violations() == []
    # the refused polls are reported by the browser and by htmx; nothing else may be
    expected = ("Failed to load resource: net::ERR_CONNECTION_REFUSED", "htmx:afterRequest", "htmx:sendError")
    assert tab.console_errors, "the refused polls should have been reported"
    assert [e for e in tab.console_errors if not e.startswith(expected)] == []


def test_an_incident_timeline_and_a_maintenance_badge_show_without_errors_and_operator_html_stays_text(
        ops_db: psycopg.Connection, make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer],
        tabs: Callable[..., Tab]) -> None:
    """Issue 13: what operators write reaches an open page by its own polling; their HTML is text."""
    from playwright.sync_api import expect

    from statuspage import operators

    writer = ops_db  # the operator tables empty before and after: what this test writes is not left behind
    add_trade(writer, 1, utcnow() - timedelta(hours=2), "12.5")
    server = serve(make_app(**FAST_PAGE))
    wait_until(lambda: server.get("/readyz").status == 200, timeout=20, what="first snapshot")
    tab = tabs(server, viewport={"width": 1280, "height": 900}, color_scheme="light")
    page = tab.page
    expect(page.locator("#component-engine")).to_have_attribute("data-state", "unknown")

    author = operators.Author("cli", "browser-test")
    hostile = ('<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>\n'
               "Status: https://example.com/incident?id=1&x=2")
    now = utcnow()
    incident_id = operators.open_incident(writer, operators.NewIncident(
        "Engine flat", "major", ("engine",), "investigating", hostile), now, author)
    operators.update_incident(writer, incident_id, operators.NewUpdate("identified", "Cause found."), now, author)
    operators.schedule(writer, operators.new_window({"title": "Engine deploy", "components": ["engine"],
                                                     "minutes": 30}, now), now, author)

    card = page.locator(f"#open-notice-{incident_id}")
    expect(card).to_be_visible(timeout=WAIT_MS)  # no reload: the board region's poll brought it
    expect(card.locator(".timeline__status")).to_have_text(["Identified", "Investigating"])
    message = card.locator(".timeline__item").nth(1).locator(".message")
    expect(message).to_contain_text('<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>')
    assert message.locator("img, script").count() == 0
    link = message.locator("a")
    expect(link).to_have_attribute("href", "https://example.com/incident?id=1&x=2")
    expect(link).to_have_attribute("rel", "nofollow noopener noreferrer")
    assert page.evaluate("() => window.__xss") is None

    engine = page.locator("#component-engine")
    expect(engine).to_have_attribute("data-state", "maintenance", timeout=WAIT_MS)
    expect(engine.locator(".badge")).to_have_text("Maintenance")
    expect(page.locator(".maintenance-now__title")).to_have_text("Maintenance in progress: Engine deploy")
    expect(page.locator("#banner .banner__headline")).to_have_text("Partial outage")  # the incident's impact
    tab.screenshot("page-operators.png")
    assert tab.contrast_failures() == []
    dark = tabs(server, viewport={"width": 1280, "height": 900}, color_scheme="dark")
    expect(dark.page.locator(f"#open-notice-{incident_id}")).to_be_visible()
    dark.screenshot("page-operators-dark.png")
    assert dark.contrast_failures() == []
    for each in (tab, dark):
        assert each.console_errors == [] and each.page_errors == [] and each.csp_violations() == []
