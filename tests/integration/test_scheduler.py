"""The background jobs of a real runtime: the first refresh at start-up, then the wall-clock grid."""

from __future__ import annotations

from statuspage.jobs.scheduler import WallClockInterval, probe_local_job, refresh_job
from statuspage.vocabulary import OPERATIONAL, UNKNOWN

from ..helpers.trades import utc
from ..helpers.wait import wait_until

NOW = utc(2026, 4, 30, 14, 30)


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


def test_snapshot_is_unknown_until_the_first_refresh_has_run(writer, make_app) -> None:
    rt = make_app(start_background=False).extensions["statuspage"]
    probe_local_job(rt, NOW)
    assert rt.state.components["snapshot"].state == UNKNOWN  # a start-up is not an outage
    rt.pool.wait(timeout=10)
    refresh_job(rt, NOW)
    assert rt.state.components["snapshot"].state == OPERATIONAL
