"""The scheduler's shell: when the jobs run, as arithmetic on the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from statuspage.jobs.scheduler import WallClockInterval


def test_the_refresh_runs_on_the_wall_clock_grid_whatever_its_last_run() -> None:
    trigger = WallClockInterval(60)
    now = datetime(2026, 4, 30, 14, 30, 17, 250_000, tzinfo=UTC)
    # two workers whose last runs differ (booted apart, one restarted) run next at the same instant
    for previous in (None, now - timedelta(seconds=0.25), now - timedelta(seconds=43.9), now - timedelta(hours=5)):
        assert trigger.get_next_fire_time(previous, now) == datetime(2026, 4, 30, 14, 31, tzinfo=UTC)
    on_the_grid = datetime(2026, 4, 30, 14, 31, tzinfo=UTC)
    assert trigger.get_next_fire_time(on_the_grid, on_the_grid) == on_the_grid + timedelta(minutes=1)
