"""A snapshot's as_of is when its data was read: a refresh that waited for a pooled connection (as
it does through a database outage) never reports data older than it is, so its age never runs
backwards on the page."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from statuspage.formatting import utc_iso, utcnow
from statuspage.jobs.scheduler import refresh_job

from ..helpers.trades import add_trade


def test_as_of_is_taken_after_the_wait_for_a_connection(writer, make_app) -> None:
    add_trade(writer, 1, utcnow() - timedelta(hours=1), "5.00")
    app = make_app(start_background=False, DB_POOL_MAX_SIZE="1", DB_CONNECT_TIMEOUT_S="10")
    rt = app.extensions["statuspage"]
    rt.pool.wait(timeout=10)
    refresh_job(rt)
    first = rt.state.snapshot.as_of

    held, released = threading.Event(), {}

    def hold_the_only_connection() -> None:
        with rt.pool.connection():
            held.set()
            time.sleep(1.5)
            released["at"] = utcnow()

    holder = threading.Thread(target=hold_the_only_connection)
    holder.start()
    assert held.wait(timeout=10)
    started = utcnow()
    refresh_job(rt)  # waits about 1.5 s for the connection, then reads
    holder.join(timeout=10)

    as_of = rt.state.snapshot.as_of
    assert as_of >= released["at"] >= started + timedelta(seconds=1.4)  # not the moment the wait began
    assert first < started <= as_of  # and so the age of what is shown never went backwards
    assert rt.state.components["snapshot"].detail == "data read 0 s ago"
    landing = app.test_client().get("/performance/landing").get_json()
    assert landing["as_of"] == utc_iso(as_of)
