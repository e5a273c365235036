"""How numbers and times read on the page: pure functions, registered as Jinja filters by views.

Every formatter answers "—" for a missing value, so a template never prints "None".
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from .feeds import duration
from .history import bar_kind, bar_tip, observed, partial, uptime_text
from .snapshot import utc_iso
from .status import ago

NONE = "—"
MINUS = "\u2212"  # a real minus sign: same width as "+", read as "minus"


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


FILTERS = {"sign": sign, "amount": amount, "signed": signed, "percent": percent, "ratio": ratio,
           "clock": clock, "stamp": stamp, "age": age, "iso": iso, "uptime": uptime_text, "bar_kind": bar_kind,
           "bar_tip": bar_tip, "duration": duration, "observed": observed, "partial": partial}
