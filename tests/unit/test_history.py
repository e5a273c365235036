"""History's arithmetic without a database: uptime of a period, days marked by incidents."""

from __future__ import annotations

from datetime import date

import pytest

from statuspage import history
from statuspage.vocabulary import DEGRADED, DOWN, OPERATIONAL

from ..helpers.trades import utc


def test_uptime_counts_down_as_unavailable_degraded_as_available_and_no_data_as_nothing() -> None:
    now = utc(2026, 4, 30, 23, 0)
    m = history.Minutes
    rollups = {
        ("engine", date(2026, 4, 30)): m(operational=1380, down=60),    # 23 h up, 1 h down
        ("engine", date(2026, 4, 29)): m(operational=1000, degraded=440),
        ("engine", date(2026, 4, 20)): m(down=1440),
        ("engine", date(2026, 3, 15)): m(operational=1440),              # inside 90d, outside 30d
    }
    last_day = {"engine": m(operational=1380, down=60)}
    h = history.summarize(["engine", "database"], rollups, last_day, [], utc(2026, 3, 15), now)
    up = h.uptime["engine"]
    assert up["24h"] == pytest.approx(1380 / 1440)
    # the engine's degraded minutes count as down: an engine that cannot trade is not available
    assert up["7d"] == pytest.approx((1380 + 1000) / (1440 * 2))
    assert up["30d"] == pytest.approx((1380 + 1000) / (1440 * 3))
    assert up["90d"] == pytest.approx((1380 + 1000 + 1440) / (1440 * 4))
    # any other component's degraded minutes count as available
    same = history.summarize(["database"], {("database", d): v for (_, d), v in rollups.items()}, {}, [], None, now)
    assert same.uptime["database"]["7d"] == pytest.approx((1380 + 1000 + 440) / (1440 * 2))
    bars = h.bars["engine"]
    assert len(bars) == 90 and bars[-1].day == date(2026, 4, 30) and bars[0].day == date(2026, 1, 31)
    assert bars[-1].uptime == pytest.approx(1380 / 1440)
    assert [b.uptime for b in bars if b.day == date(2026, 4, 20)] == [0.0]
    assert bars[0].uptime is None  # before history began: no data, not 100 %
    assert h.uptime["database"] == {"24h": None, "7d": None, "30d": None, "90d": None}
    public = h.to_public()["components"]["engine"]
    assert public["uptime_percent"]["24h"] == pytest.approx(95.833, abs=0.001)
    assert public["days"][0] == {"day": "2026-01-31", "uptime_percent": None, "degraded_minutes": 0,
                                 "down_minutes": 0, "coverage_minutes": 0, "incidents": 0}


def test_incidents_mark_every_day_they_touch() -> None:
    now = utc(2026, 4, 30, 12, 0)
    inc = history.Incident(1, "engine", OPERATIONAL, DOWN, utc(2026, 4, 27, 23, 0), utc(2026, 4, 29, 0, 30), "x")
    open_now = history.Incident(2, "engine", OPERATIONAL, DEGRADED, utc(2026, 4, 30, 11, 0), None, "y")
    h = history.summarize(["engine"], {}, {}, [open_now, inc], None, now)
    marked = {b.day.isoformat(): b.incidents for b in h.bars["engine"] if b.incidents}
    assert marked == {"2026-04-27": 1, "2026-04-28": 1, "2026-04-29": 1, "2026-04-30": 1}
    assert open_now.duration_s(now) == 3600
