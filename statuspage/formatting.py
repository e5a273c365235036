"""Time and text, in one pure module: the clock, UTC stamps, ages, durations, money, percentages
and the uptime words. Every layer uses these; the web layer registers them as Jinja filters.

The page's formatters answer "—" for a missing value, so a template never prints "None".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from .history import DayBar

NONE = "—"
MINUS = "\u2212"  # a real minus sign: same width as "+", read as "minus"
_CENT = Decimal("0.01")


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_iso(moment: datetime) -> str:
    """"2024-05-01T14:30:05Z": the machine-readable time of every JSON answer."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(value: Decimal) -> str:
    """The public JSON's money: two fraction digits, half away from zero like PostgreSQL's round(),
    never "-0.00". NaN and Infinity raise: no snapshot holding one can be rendered, so none is
    published."""
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {value}")
    with localcontext() as ctx:  # enough digits for any finite amount, not the default 28
        ctx.prec = max(28, value.adjusted() + 4)
        rounded = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    return str(abs(rounded) if rounded == 0 else rounded)


def ago(seconds: float) -> str:
    """Short public age: "12 s ago", "4 min ago", "3 h ago", "2 d ago"."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def duration(seconds: int) -> str:
    """"45 s", "12 min", "3 h 5 min", "2 d 4 h": rounded to the nearest unit shown, halves up
    (119 s is "2 min", 89 s "1 min"), never cut down. The one wording of a duration on the page, in
    the feed and in notifications."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = (seconds + 30) // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod((seconds + 1800) // 3600, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def observed(minutes: int) -> str:
    """"7 min", "3 h 5 min", "45 d 3 h": how much of a window was observed."""
    return duration(minutes * 60)


# Coverage is "partial" only when more is missing than the minute being written and the one before
# it, which a reader may see before the leader has written them.
COVERAGE_SLACK_MIN = 2


def partial(coverage: tuple[int, int]) -> bool:
    """(observed minutes, minutes of the window): observed less than the window, beyond the slack."""
    return coverage[0] < coverage[1] - COVERAGE_SLACK_MIN


def uptime_text(uptime: float | None) -> str:
    """"99.95 %", "100 %", or "no data"; never rounds an outage up to 100 %."""
    if uptime is None:
        return "no data"
    if uptime == 1:
        return "100 %"
    return f"{min(uptime * 100, 99.99):.2f} %"


def bar_kind(bar: DayBar, maintenance_minutes: int = 0) -> str:
    """How a day's bar is drawn: none (no data), ok, degraded (available but marked), partial, down;
    maintenance for a day that had some and was otherwise fine (its minutes count neither way)."""
    uptime = bar.uptime
    if uptime is None:
        return "maintenance" if maintenance_minutes else "none"
    if uptime < 0.95:
        return "down"
    if uptime < 0.999:
        return "partial"
    kind = "degraded" if bar.minutes.degraded or bar.incidents else "ok"
    return "maintenance" if maintenance_minutes and kind == "ok" else kind


def bar_tip(bar: DayBar, maintenance_minutes: int = 0) -> str:
    """What hover or focus shows: "2026-04-30: 99.93 % up, 1 min down, 1 incident", and how much of
    the day was observed when not all of it: "2026-04-30: 83.33 % up (6 min observed), ..."."""
    if bar.uptime is None:
        if maintenance_minutes:
            return f"{bar.day.isoformat()}: {maintenance_minutes} min maintenance"
        return f"{bar.day.isoformat()}: no data"
    head = f"{bar.day.isoformat()}: {uptime_text(bar.uptime)} up"
    seen = bar.minutes.known + maintenance_minutes  # a maintenance minute was observed, as maintenance
    if partial((seen, bar.window_minutes)):
        head += f" ({observed(seen)} observed)"
    parts = [head]
    if bar.minutes.down:
        parts.append(f"{bar.minutes.down} min down")
    if bar.minutes.degraded:
        parts.append(f"{bar.minutes.degraded} min degraded" +
                     ("" if bar.degraded_available else " (not trading: counted as down)"))
    if maintenance_minutes:
        parts.append(f"{maintenance_minutes} min maintenance")
    if bar.incidents:
        parts.append(f"{bar.incidents} incident" + ("s" if bar.incidents > 1 else ""))
    return ", ".join(parts)


def _decimal(value: str | Decimal | float) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def sign(value: str | Decimal | float | None) -> str:
    """"pos", "neg" or "zero": the class a signed amount gets next to its sign and arrow."""
    if value is None:
        return "zero"
    number = _decimal(value)
    return "pos" if number > 0 else "neg" if number < 0 else "zero"


def amount(value: str | Decimal | float | None, places: int = 2) -> str:
    """Grouped thousands, fixed places, and a real minus sign (U+2212) on losses: "1,234.50"."""
    if value is None:
        return NONE
    number = _decimal(value)
    text = f"{abs(number):,.{places}f}"
    return f"{MINUS}{text}" if number < 0 and text.strip("0.,") else text


def signed(value: str | Decimal | float | None, places: int = 2) -> str:
    """Like ``amount`` with an explicit "+" on gains: "+1,234.50"; zero has no sign: "0.00"."""
    if value is None:
        return NONE
    text = amount(value, places)
    return f"+{text}" if _decimal(value) > 0 and text.strip("0.,") else text


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal: 0.5833 -> "58.3%"."""
    return NONE if value is None else f"{value * 100:.1f}%"


def ratio(value: float | None) -> str:
    return NONE if value is None else f"{value:,.2f}"


def clock(moment: datetime | None) -> str:
    """"14:30:05 UTC"."""
    return NONE if moment is None else moment.astimezone(UTC).strftime("%H:%M:%S UTC")


def stamp(moment: datetime | None) -> str:
    """"2024-05-01 14:30:05 UTC"."""
    return NONE if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def age(moment: datetime | None, now: datetime) -> str:
    """"12 s ago", the same words the page's script keeps up to date."""
    return NONE if moment is None else ago((now - moment).total_seconds())


def iso(moment: datetime | None) -> str:
    """Machine-readable UTC for ``<time datetime>``: "2024-05-01T14:30:05Z"."""
    return "" if moment is None else utc_iso(moment)


# http(s) only: a "javascript:" or "data:" link in an operator's text stays text. Trailing
# punctuation belongs to the sentence, not the address.
_URL = re.compile(r"https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]]")


def message_html(text: str | None) -> Markup:
    """An operator's plain text as HTML: every character escaped (markup shows as text), http(s)
    addresses made links that tell the target nothing and give it no handle on the page. Line
    breaks are kept by the stylesheet (white-space: pre-line on .message)."""
    if not text:
        return Markup("")
    parts, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0)
        parts.append(escape(text[last:match.start()]))
        parts.append(Markup('<a href="{0}" rel="nofollow noopener noreferrer">{0}</a>').format(url))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


FILTERS = {"sign": sign, "amount": amount, "signed": signed, "percent": percent, "ratio": ratio,
           "clock": clock, "stamp": stamp, "age": age, "iso": iso, "uptime": uptime_text, "bar_kind": bar_kind,
           "bar_tip": bar_tip, "duration": duration, "observed": observed, "partial": partial,
           "message_html": message_html}
