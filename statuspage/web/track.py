"""The track record's endpoints: ``/performance/track-record.json``, ``/performance/equity.json`` and
``/performance/daily.csv``, from the same snapshot as the landing numbers, as cached bytes with
ETags; and what the page's track record regions are rendered from."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Blueprint, Flask, Response, current_app

from ..formatting import NONE, duration, money, utcnow
from ..snapshot import Snapshot
from ..state import Runtime
from ..track import EQUITY_COLUMNS, TrackRecord
from .caching import CachePolicy
from .equity_chart import RANGES, equity_chart
from .responses import ResponseCache, send
from .responses import no_store_json as _json

bp = Blueprint("track", __name__)

WAITING = "no track record yet: the page has not completed its first read of the database"
BAD_RANGE_STATUS = 400
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Breakdown tables longer than this show their first and last rows (best and worst) and say how
# many are left out; the JSON has them all.
BREAKDOWN_ROWS = 20


def _rt() -> Runtime:
    return current_app.extensions["statuspage"]


def _cache() -> ResponseCache:
    return current_app.extensions["statuspage.responses"]


def _policy() -> CachePolicy:
    return current_app.extensions["statuspage.cache_policy"]


def _current() -> tuple[TrackRecord | None, int, bool]:
    rt, now = _rt(), utcnow()
    version = rt.state.snapshot_version  # before the content it covers (statuspage/state.py)
    snap = rt.state.snapshot
    track = snap.track if snap is not None else None
    return track, version, rt.state.is_stale(now, rt.settings.stale_after_s)


def _compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _track_json(name: str, public: Callable[[TrackRecord, bool], Any]) -> Response:
    """``public(track, stale)`` as compact JSON, rendered once per snapshot and staleness; 503 before
    the first read."""
    track, version, stale = _current()
    if track is None:
        return _json({"error": WAITING}, 503)
    rendered = _cache().get(name, (version, stale), lambda: _compact(public(track, stale)))
    return send(rendered, "application/json", _policy().live)


@bp.get("/performance/track-record.json")
def track_record() -> Response:
    return _track_json("track-record", lambda track, stale: track.to_public(stale=stale))


@bp.get("/performance/equity.json")
def equity_json() -> Response:
    return _track_json("equity", lambda track, stale: track.equity_public(stale=stale))


def daily_csv_bytes(track: TrackRecord) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(EQUITY_COLUMNS)
    for day in track.equity:
        row = day.to_public()
        writer.writerow([row[column] for column in EQUITY_COLUMNS])
    return out.getvalue().encode()


@bp.get("/performance/daily.csv")
def daily_csv() -> Response:
    track, version, _ = _current()
    if track is None:
        return _json({"error": WAITING}, 503)
    response = send(_cache().get("daily.csv", version, lambda: daily_csv_bytes(track)), "text/csv", _policy().live)
    name = f"track-record-daily-{track.as_of.astimezone(UTC).date().isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- the page ---


def _month_grid(track: TrackRecord) -> list[dict[str, Any]]:
    """Years, newest first, each with its twelve months (None before the first trade's month and
    after the current one) and its total."""
    by_month = dict(track.months)
    return [{"year": year, "months": [by_month.get(date(year, month, 1)) for month in range(1, 13)], "total": total}
            for year, total in reversed(track.years)]


@dataclass(frozen=True)
class MonthScale:
    """How the monthly table writes amounts so that fourteen columns fit a 1280 px page: cents
    while every amount (months and year totals) is under a thousand, whole dollars under a
    hundred thousand, thousands with one decimal beyond. The exact amount is in each cell's title."""

    divisor: Decimal
    places: int
    unit: str

    def shown(self, value: Decimal) -> Decimal:
        """``value`` as the cell writes it, rounded half away from zero like the JSON's money (the
        colour follows what is written: a loss that rounds to 0.0 thousand is not drawn red)."""
        return (value / self.divisor).quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)


def month_scale(track: TrackRecord) -> MonthScale:
    largest = max((abs(t.pnl) for _, t in (*track.months, *track.years)), default=Decimal(0))
    if largest >= 100_000:
        return MonthScale(Decimal(1000), 1, "thousands of USD")
    return MonthScale(Decimal(1), 0 if largest >= 1000 else 2, "USD")


def _breakdown_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
    if len(rows) <= BREAKDOWN_ROWS:
        return rows, 0, []
    half = BREAKDOWN_ROWS // 2
    return rows[:half], len(rows) - 2 * half, rows[-half:]


def track_context(snap: Snapshot | None, chart_range: str) -> dict[str, Any]:
    """What ``_track.html`` and ``_equity.html`` are rendered from."""
    track = snap.track if snap is not None else None
    if track is None:
        return {"track": None, "equity_chart": None, "chart_range": chart_range, "ranges": RANGES}
    public = track.to_public(stale=False)
    return {
        "track": track,
        "track_public": public,
        "month_grid": _month_grid(track),
        "month_names": MONTH_NAMES,
        "month_scale": month_scale(track),
        "by_symbol": _breakdown_rows(public["by_symbol"]),
        "equity_chart": equity_chart(track.equity, chart_range, track.as_of.astimezone(UTC).date()),
        "chart_range": chart_range,
        "ranges": RANGES,
    }


def held(seconds: float | None) -> str:
    """A holding time for the page: "3 h 5 min", "45 s"; "—" when there is none."""
    return NONE if seconds is None else duration(round(seconds))


def cents(value: Decimal) -> Decimal:
    """Rounded to the cent half away from zero, as the JSON's money: what the page writes of an
    exact amount (Python's own formatting would round half to even)."""
    return Decimal(money(value))


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(held=held, cents=cents)
    app.register_blueprint(bp)
