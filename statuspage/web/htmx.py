"""htmx's settings, shared by every page that loads it (public page, error page, operator view)."""

from __future__ import annotations

import json

# For a strict Content-Security-Policy, and 304 meaning "keep what you have": htmx 2 swaps every
# 2xx/3xx by default (src/htmx.js, config.responseHandling), so a bodiless 304 would otherwise
# blank the region.
HTMX_CONFIG = json.dumps({
    "includeIndicatorStyles": False,  # it would inject a <style> element
    "allowEval": False,
    "allowScriptTags": False,
    "historyEnabled": False,
    "selfRequestsOnly": True,
    "timeout": 10000,
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "304", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "[45]..", "swap": False, "error": True},
        {"code": "...", "swap": False},
    ],
}, separators=(",", ":"))
