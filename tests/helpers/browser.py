"""A real headless Chromium (Debian's package, driven by Playwright) on the page served with its
strict Content-Security-Policy: the browser's settings, one tab recording what the console says and
every CSP violation, and the checks the browser tests share (contrast). The ``browser`` and ``tabs``
fixtures (tests/conftest.py) start them; screenshots go to test-artifacts/ (ignored by git)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from statuspage.web.security import CONTENT_SECURITY_POLICY

from . import ROOT
from .http import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"
# Installed by the browser before the page's own scripts; CSP does not apply to it.
CSP_LISTENER_JS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""
WAIT_MS = 15_000
STALE_AFTER_S = 4
FAST_PAGE = {"POLL_INTERVAL_S": "1", "REFRESH_INTERVAL_S": "1", "PROBE_INTERVAL_S": "1", "PROBE_TIMEOUT_S": "0.5",
             "STALE_AFTER_S": str(STALE_AFTER_S), "DB_CONNECT_TIMEOUT_S": "1", "PROBE_CONFIRM": "2"}

# Every text node's colour against the background it is painted on (alpha layers composited),
# held to WCAG AA: 4.5:1, or 3:1 for large text.
CONTRAST_JS = """() => {
  const rgba = (c) => {
    const p = c.match(/[\\d.]+/g).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = (c) => [c.r, c.g, c.b]
    .map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const over = (top, base) => ({r: top.r * top.a + base.r * (1 - top.a), g: top.g * top.a + base.g * (1 - top.a),
                                b: top.b * top.a + base.b * (1 - top.a)});
  const backdrop = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    return layers.reverse().reduce((base, layer) => over(layer, base), {r: 255, g: 255, b: 255});
  };
  const failures = [];
  for (const el of document.querySelectorAll("body *")) {
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    if (el.closest("[hidden], svg, .visually-hidden")) continue;
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden" || el.getClientRects().length === 0) continue;
    const fg = lum(rgba(style.color)), bg = lum(backdrop(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    if (ratio < need) failures.push(`${el.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)} < ${need}`);
  }
  return failures;
}"""



def chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    reason = (f"Chromium not found at {CHROMIUM}: install Debian's chromium package "
              "(apt-get install chromium) to run the browser tests")
    if os.environ.get("STATUSPAGE_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (STATUSPAGE_REQUIRE_BROWSER=1: the browser test is mandatory here)")
    pytest.skip(reason)


class Tab:
    """One browser context and page on the served app, recording what the console says."""

    def __init__(self, browser: Any, server: LiveServer, **context_options: Any) -> None:
        self.context = browser.new_context(**context_options)
        self.context.set_default_timeout(WAIT_MS)
        self.context.add_init_script(CSP_LISTENER_JS)
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.fragment_statuses: list[int] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.page.on("response", lambda r: "/fragments/" in r.url and self.fragment_statuses.append(r.status))
        document = self.page.goto(server.url + "/")
        assert document is not None and document.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        self.page.wait_for_function("() => window.htmx !== undefined && htmx.version.startsWith('2.')")

    def csp_violations(self) -> list[str]:
        return self.page.evaluate("() => window.__cspViolations")

    def text(self, selector: str) -> str:
        return self.page.locator(selector).inner_text()

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def contrast_failures(self) -> list[str]:
        return self.page.evaluate(CONTRAST_JS)

    def close(self) -> None:
        self.context.close()
