"""The scheduler's shell: when the jobs run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from statuspage.jobs.scheduler import WallClockInterval

from .helpers import wait_until


def test_the_refresh_runs_on_the_wall_clock_grid_whatever_its_last_run() -> None:
    trigger = WallClockInterval(60)
    now = datetime(2026, 4, 30, 14, 30, 17, 250_000, tzinfo=UTC)
    # two workers whose last runs differ (booted apart, one restarted) run next at the same instant
    for previous in (None, now - timedelta(seconds=0.25), now - timedelta(seconds=43.9), now - timedelta(hours=5)):
        assert trigger.get_next_fire_time(previous, now) == datetime(2026, 4, 30, 14, 31, tzinfo=UTC)
    on_the_grid = datetime(2026, 4, 30, 14, 31, tzinfo=UTC)
    assert trigger.get_next_fire_time(on_the_grid, on_the_grid) == on_the_grid + timedelta(minutes=1)


def test_the_app_refreshes_at_once_then_on_the_grid(writer, make_app) -> None:
    app = make_app(REFRESH_INTERVAL_S="2")
    rt = app.extensions["statuspage"]
    assert isinstance(rt.scheduler.get_job("refresh").trigger, WallClockInterval)
    try:
        wait_until(lambda: rt.state.snapshot is not None, what="the first refresh, at start-up")
        next_run = wait_until(lambda: rt.scheduler.get_job("refresh").next_run_time, what="the next refresh scheduled")
    finally:
        rt.scheduler.shutdown(wait=True)  # no job left running to take the history lock after the test
    assert next_run.microsecond == 0 and next_run.second % 2 == 0  # every later one on an even second
