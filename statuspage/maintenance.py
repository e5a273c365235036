"""Maintenance windows: when each happens and what state it is in, as pure functions of the window
and ``now``.

A window is one-off (a start and an end) or recurring (a cron expression, a duration and an IANA
time zone). The occurrences of a recurring window come from APScheduler's own ``CronTrigger``: no
cron parsing here beyond refusing numeric weekdays (below). A cancelled window ends at the moment it
was cancelled: an occurrence in progress stops there and later ones never happen.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

# Every loop over occurrences stops here: a window firing every minute has 10,080 occurrences in the
# 7 days the page looks ahead, and nobody needs more than the next few.
MAX_OCCURRENCES = 500
SCHEDULED, IN_PROGRESS, COMPLETED, CANCELLED = "scheduled", "in_progress", "completed", "cancelled"


@dataclass(frozen=True)
class Window:
    id: int
    title: str
    message: str
    components: tuple[str, ...]
    created_at: datetime
    starts_at: datetime | None = None  # one-off
    ends_at: datetime | None = None
    cron: str | None = None  # recurring
    duration_s: int | None = None
    timezone: str | None = None
    cancelled_at: datetime | None = None

    @property
    def recurring(self) -> bool:
        return self.cron is not None


@dataclass(frozen=True)
class Occurrence:
    window: Window
    start: datetime  # UTC
    end: datetime  # UTC; the cancellation when it came first

    def covers(self, now: datetime) -> bool:
        return self.start <= now < self.end


def zone(name: str) -> ZoneInfo:
    """An IANA time zone, or ValueError naming the problem."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {name!r} does not exist (use an IANA name such as Europe/London or UTC)") from None


def trigger(cron: str, timezone: str) -> CronTrigger:
    """APScheduler's trigger for a five-field crontab expression, or ValueError naming the problem."""
    tz = zone(timezone)
    fields = cron.split()
    # APScheduler 3 counts weekdays from Monday = 0 where crontab counts from Sunday = 0 (its
    # from_crontab docstring): a number there would silently move the window by a day.
    if len(fields) == 5 and any(ch.isdigit() for ch in fields[4]):
        raise ValueError(f"cron expression {cron!r}: write the day of week as names (mon-fri, sun), "
                         "not numbers, which mean different days in different cron dialects")
    try:
        return CronTrigger.from_crontab(cron, timezone=tz)
    except ValueError as exc:
        raise ValueError(f"cron expression {cron!r} is not valid: {exc}") from None


def check_recurring(cron: str, duration_s: int, timezone: str, now: datetime) -> None:
    """Refuse a recurring window that never fires or whose occurrences would overlap."""
    fires = _fire_times(trigger(cron, timezone), now, limit=20)
    if not fires:
        raise ValueError(f"cron expression {cron!r} never fires")
    for earlier, later in itertools.pairwise(fires):
        if (later - earlier).total_seconds() < duration_s:
            gap = int((later - earlier).total_seconds() // 60)
            raise ValueError(f"cron expression {cron!r} fires every {gap} min, less than the duration: "
                             "occurrences would overlap")


def _fire_times(cron: CronTrigger, since: datetime, until: datetime | None = None,
                limit: int = MAX_OCCURRENCES) -> list[datetime]:
    """Fire times at or after ``since`` (and before ``until``), in UTC, at most ``limit``."""
    fires: list[datetime] = []
    cursor = since
    while len(fires) < limit:
        fire = cron.get_next_fire_time(None, cursor)
        if fire is None:
            break
        fire = fire.astimezone(UTC)
        if until is not None and fire >= until:
            break
        fires.append(fire)
        cursor = fire + timedelta(seconds=1)  # cron has whole minutes: the next one is later
    return fires


def occurrences(window: Window, since: datetime, until: datetime, limit: int = MAX_OCCURRENCES) -> list[Occurrence]:
    """The window's occurrences that overlap [since, until), oldest first, at most about ``limit``."""
    if window.recurring:
        assert window.duration_s is not None and window.timezone is not None and window.cron is not None
        length = timedelta(seconds=window.duration_s)
        # Absolute durations: 45 minutes from 01:30 on a daylight-saving night are 45 real minutes.
        spans = [(start, start + length) for start in
                 _fire_times(trigger(window.cron, window.timezone), since - length, until, limit)]
    else:
        assert window.starts_at is not None and window.ends_at is not None
        spans = [(window.starts_at, window.ends_at)]
    found = []
    for start, end in spans:
        if window.cancelled_at is not None:
            if start >= window.cancelled_at:
                break
            end = min(end, window.cancelled_at)
        if end > since and start < until:
            found.append(Occurrence(window, start, end))
    return found


def current(window: Window, now: datetime) -> Occurrence | None:
    """The occurrence in progress at ``now``, if any."""
    for occurrence in occurrences(window, now, now + timedelta(seconds=1), limit=3):
        if occurrence.covers(now):
            return occurrence
    return None


def following(window: Window, now: datetime, horizon: timedelta) -> Occurrence | None:
    """The next occurrence that starts after ``now`` and within ``horizon``."""
    for occurrence in occurrences(window, now, now + horizon, limit=3):
        if occurrence.start > now:
            return occurrence
    return None


def state(window: Window, now: datetime) -> str:
    """scheduled, in_progress, completed or cancelled, at ``now``."""
    if current(window, now) is not None:
        return IN_PROGRESS
    if window.cancelled_at is not None and window.cancelled_at <= now:
        # A one-off window stopped while it ran has happened (early); anything else was called off.
        started = window.starts_at is not None and window.starts_at < window.cancelled_at
        return COMPLETED if started and not window.recurring else CANCELLED
    if window.recurring:
        assert window.cron is not None and window.timezone is not None
        return SCHEDULED if _fire_times(trigger(window.cron, window.timezone), now, limit=1) else COMPLETED
    assert window.starts_at is not None
    return SCHEDULED if window.starts_at > now else COMPLETED


def describe(window: Window) -> str:
    """When, in words: "2026-05-01 02:00 to 02:45 UTC" or "0 2 * * sun, 45 min, Europe/London"."""
    if window.recurring:
        return f"{window.cron}, {int(window.duration_s or 0) // 60} min, {window.timezone}"
    assert window.starts_at is not None and window.ends_at is not None
    start, end = window.starts_at.astimezone(UTC), window.ends_at.astimezone(UTC)
    until = f"{end:%H:%M}" if start.date() == end.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M} to {until} UTC"
