"""The page's colour tokens (static/style.css) meet WCAG AA in both colour schemes."""

from __future__ import annotations

import re

import pytest

from ..helpers import ROOT


def _tokens(css: str, start: int) -> dict[str, str]:
    block = css[start:css.index("}", start)]
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))


def _contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


TEXT_PAIRS = [  # (text colour, background it is set on)
    ("text", "bg"), ("text", "surface"), ("muted", "bg"), ("muted", "surface"), ("link", "bg"),
    ("text", "ok-bg"), ("text", "warn-bg"), ("text", "partial-bg"), ("text", "down-bg"), ("text", "waiting-bg"),
    ("ok", "ok-bg"), ("warn", "warn-bg"), ("down", "down-bg"), ("unknown", "unknown-bg"),
    ("pos", "surface"), ("neg", "surface"), ("toast-text", "toast-bg"),
]
GRAPHIC_PAIRS = [  # icons: shape on its background, mark on its shape (WCAG 1.4.11: 3:1)
    ("partial", "partial-bg"), ("waiting", "waiting-bg"), ("mark", "ok"), ("mark", "warn"), ("mark", "down"),
    ("mark", "partial"), ("mark", "waiting"), ("chart-line", "surface"), ("pos", "surface"), ("neg", "surface"),
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_colour_tokens_meet_wcag_aa_in_both_schemes(scheme: str) -> None:
    css = (ROOT / "static" / "style.css").read_text()
    tokens = _tokens(css, css.index(":root {"))
    if scheme == "dark":
        tokens |= _tokens(css, css.index("@media (prefers-color-scheme: dark)"))
    low_text = [(f, b, round(_contrast(tokens[f], tokens[b]), 2)) for f, b in TEXT_PAIRS
                if _contrast(tokens[f], tokens[b]) < 4.5]
    low_graphics = [(f, b, round(_contrast(tokens[f], tokens[b]), 2)) for f, b in GRAPHIC_PAIRS
                    if _contrast(tokens[f], tokens[b]) < 3]
    assert low_text == [] and low_graphics == []
