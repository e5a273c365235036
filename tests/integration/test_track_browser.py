"""The track record in a real headless Chromium (Debian's package, driven by Playwright), with the
page's strict Content-Security-Policy: the monthly returns table, the equity chart's range switch
(through htmx, then as a plain link with JavaScript off), the underwater chart under it, and a
seven-figure PnL that still fits its card at 1280 px; in light, dark and at phone widths, with no
console error, CSP violation or contrast failure. Screenshots go to test-artifacts/.

The browser, tabs and checks are tests/helpers/browser.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from flask import Flask

from statuspage.demo import seed
from statuspage.formatting import utcnow

from ..helpers.browser import FAST_PAGE, WAIT_MS, Tab
from ..helpers.http import LiveServer
from ..helpers.track_expected import Trade, insert
from ..helpers.wait import wait_until

pytestmark = pytest.mark.browser

# Every element whose content must stay inside its box: its right edge within its card's.
FITS_JS = """(selector) => [...document.querySelectorAll(selector)].map((el) => {
  const card = el.closest(".card").getBoundingClientRect(), box = el.getBoundingClientRect();
  return {text: el.textContent.trim(), inside: box.right <= card.right - 8 && box.left >= card.left,
          clipped: el.scrollWidth > el.clientWidth + 1};
}).filter((r) => !r.inside || r.clipped)"""


@pytest.fixture
def server(writer: psycopg.Connection, make_app: Callable[..., Flask],
           serve: Callable[[Flask], LiveServer]) -> LiveServer:
    """Fourteen months of trades, then a day that made 2,470,107.17 USD: seven figures in every card."""
    now = utcnow()
    seed.insert(writer, seed.history(1_500, 420, now - timedelta(hours=2)))
    insert(writer, [Trade(100_000, now - timedelta(hours=1), Decimal("2470107.17"), Decimal("12.5"))])
    server = serve(make_app(**FAST_PAGE))
    wait_until(lambda: server.get("/readyz").status == 200, timeout=30, what="first snapshot")
    return server


def test_track_record_in_light_dark_and_on_phones(server: LiveServer, tabs: Callable[..., Tab]) -> None:
    from playwright.sync_api import expect

    tab = tabs(server, viewport={"width": 1280, "height": 900}, color_scheme="light")
    page = tab.page
    expect(page.locator("#monthly-returns tbody tr")).to_have_count(2)  # this year and last
    expect(page.locator("#window-all .window__pnl-figure")).to_contain_text("2,4")
    # the seven-figure PnL fits its card, and so does every figure of the track record
    assert page.evaluate(FITS_JS, ".window__pnl-figure, .stat dd, .chart__last") == []
    assert page.evaluate(FITS_JS, "#track .scroll") == []
    months = page.locator("#monthly-returns .scroll")
    assert months.evaluate("(el) => el.scrollWidth <= el.clientWidth")  # fourteen columns fit at 1280 px
    expect(page.locator("#equity .underwater__plot")).to_be_visible()
    plot, under = (page.locator(sel).bounding_box() for sel in ("#equity .equity__plot", "#equity .underwater__plot"))
    assert plot and under and (plot["x"], plot["width"]) == (under["x"], under["width"])  # one time axis
    assert under["y"] > plot["y"] + plot["height"]

    # the range switch, through htmx: the region swaps in place, and its polls keep the range
    page.evaluate("() => { document.documentElement.dataset.loadedOnce = 'yes'; }")
    with page.expect_response(lambda r: "/fragments/equity?range=90d" in r.url):
        page.locator("#range-90d").click()
    expect(page.locator("#range-90d")).to_have_attribute("aria-current", "true")
    expect(page.locator("#range-all")).not_to_have_attribute("aria-current", "true")
    expect(page.locator("#equity .chart__span")).to_contain_text("last 90 days")
    assert page.evaluate("() => document.documentElement.dataset.loadedOnce") == "yes"  # no reload
    with page.expect_response(lambda r: "/fragments/equity?range=90d" in r.url and r.request.headers.get(
            "if-none-match") is not None, timeout=WAIT_MS) as polled:
        pass  # the region's own poll, with its ETag
    assert polled.value.status in (200, 304)
    expect(page.locator("#range-90d")).to_have_attribute("aria-current", "true")
    tab.screenshot("track-light.png")
    assert tab.contrast_failures() == []

    dark = tabs(server, viewport={"width": 1280, "height": 900}, color_scheme="dark")
    expect(dark.page.locator("#monthly-returns")).to_be_visible()
    dark.screenshot("track-dark.png")
    assert dark.contrast_failures() == []

    phones = []
    for width in (320, 375):
        phone = tabs(server, viewport={"width": width, "height": 800}, device_scale_factor=2, is_mobile=True,
                     has_touch=True)
        expect(phone.page.locator("#equity .underwater__plot")).to_be_visible()
        assert phone.page.evaluate("() => document.documentElement.scrollWidth") <= width  # tables scroll inside
        assert phone.page.evaluate(FITS_JS, ".window__pnl-figure, .chart__last") == []
        phone.screenshot(f"track-phone-{width}.png")
        assert phone.contrast_failures() == []
        phones.append(phone)

    for each in (tab, dark, *phones):
        assert each.console_errors == [] and each.page_errors == []
        assert each.csp_violations() == []


def test_the_range_switch_is_a_plain_link_without_javascript(server: LiveServer, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        expect(page.locator("#range-all")).to_have_attribute("aria-current", "true")
        page.locator("#range-1y").click()
        page.wait_for_url("**/?range=1y#equity")
        expect(page.locator("#range-1y")).to_have_attribute("aria-current", "true")
        expect(page.locator("#equity .chart__span")).to_contain_text("last 1 year")
    finally:
        context.close()
